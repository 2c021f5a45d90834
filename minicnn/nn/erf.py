"""The error function on arrays, without SciPy: what the exact GELU needs.

For z >= 0 the complementary error function is written as

    erfc(z) = exp(-z**2) * h / (z + K),    h = (z + K) * exp(z**2) * erfc(z),    K = 3.

As a function of t = (z - K) / (z + K), which maps the half-line onto [-1, 1), h is smooth and
of order one (it runs from K at z = 0 to 1/sqrt(pi) as z grows), so one short Chebyshev series
in t gives it to a few ulps: 22 terms for float64, 11 for float32 (the series is cut at its first
coefficient below the dtype's resolution). The coefficients are computed once, at import, from
the standard library's scalar ``math.erfc`` at the Chebyshev nodes (and from the continued
fraction of exp(z**2) erfc(z) where exp(z**2) would overflow or lose digits).

Near 0, erf is its Taylor series instead, so it keeps its relative accuracy there.

Accuracy against ``math.erf``/``math.erfc`` (tests/ops/test_erf.py): erf within 3 ulps in
float64 and a few in float32; erfc(z) within about z**2 + 12 ulps relative, the z**2 from
rounding z*z inside exp(-z*z) (float64: 1e-14 at z = 6, where erfc is 2e-17).
"""
import math

import numpy as np

from minicnn.backend import get_array_module

K = 3.0
NODES = 64


def _scaled_erfc(z):
    """exp(z**2) * erfc(z) for a float z >= 0, to double precision."""
    if z < 2:
        return math.exp(z * z) * math.erfc(z)
    # The continued fraction 1/sqrt(pi) / (z + (1/2)/(z + 1/(z + (3/2)/(z + ...)))), evaluated
    # from the bottom; 100 levels reach double precision for every z >= 2.
    f = z
    for n in range(100, 0, -1):
        f = z + (n / 2) / f
    return 1 / (math.sqrt(math.pi) * f)


def _chebyshev_coefficients():
    """c_n = 2/N sum_j h(z_j) cos(n theta_j) at the N Chebyshev nodes t_j = cos(theta_j)."""
    odd = 2 * np.arange(NODES) + 1  # theta_j = pi (2j + 1) / (2N)
    t = np.cos(np.pi * odd / (2 * NODES))
    z = K * (1 + t) / (1 - t)
    h = np.array([(zi + K) * _scaled_erfc(zi) for zi in z])
    # n * theta_j reduced modulo 2 pi in integers first: cos of a large rounded angle would
    # carry n times theta's rounding error into every coefficient.
    angles = np.outer(np.arange(NODES), odd) % (4 * NODES)
    c = (2 / NODES) * np.cos(np.pi * angles / (2 * NODES)) @ h
    c[0] /= 2
    return c


_COEFFICIENTS = _chebyshev_coefficients()


def _terms(dtype):
    """The series cut at its first coefficient below the dtype's resolution (h is of order one)."""
    n = int(np.argmax(np.abs(_COEFFICIENTS) < np.finfo(dtype).eps))
    return [float(c) for c in _COEFFICIENTS[:n]]


_TERMS = {np.dtype(np.float32): _terms(np.float32), np.dtype(np.float64): _terms(np.float64)}


def _erfc_nonnegative(z):
    """erfc(z) for an array z >= 0 (float32 or float64), by the series above (Clenshaw's recurrence)."""
    coefficients = _TERMS.get(z.dtype, _TERMS[np.dtype(np.float64)])
    t = 1 - 2 * K / (z + K)  # = (z - K) / (z + K), and 1 (not nan) at z = inf
    b1 = b2 = 0.0
    for c in coefficients[:0:-1]:
        b1, b2 = 2 * t * b1 - b2 + c, b1
    h = t * b1 - b2 + coefficients[0]
    return get_array_module(z).exp(-z * z) * h / (z + K)


def erfc(x):
    """1 - erf(x), elementwise, in x's float dtype; erfc(-x) = 2 - erfc(x)."""
    xp = get_array_module(x)
    e = _erfc_nonnegative(xp.abs(x))
    return xp.where(x >= 0, e, 2 - e)


# erf's Taylor series 2/sqrt(pi) * sum (-1)**n x**(2n+1) / (n! (2n+1)), enough terms for |x| < 1/2.
_TAYLOR = [2 / math.sqrt(math.pi) * (-1) ** n / (math.factorial(n) * (2 * n + 1)) for n in range(13)]


def erf(x):
    """The error function 2/sqrt(pi) * integral of exp(-t**2) from 0 to x, elementwise, in x's
    float dtype; odd, and exactly +-1 beyond |x| of about 6 (float64) or 4 (float32)."""
    xp = get_array_module(x)
    e = _erfc_nonnegative(xp.abs(x))
    # Near 0, 1 - erfc(x) would keep only erf's absolute accuracy: the Taylor series keeps its relative one.
    xs = xp.clip(x, -0.5, 0.5)  # the branch not taken stays finite (no inf * 0 warnings)
    x2, small = xs * xs, 0.0
    for c in _TAYLOR[::-1]:
        small = small * x2 + c
    return xp.where(xp.abs(x) < 0.5, small * xs, xp.where(x >= 0, 1 - e, e - 1))
