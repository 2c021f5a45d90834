"""Keras 3's elementwise NumPy-like ops (``keras.ops.add``, ``exp``, ``where``...), each with its
backward for the tape (:mod:`minicnn.tape`). Reductions are in :mod:`minicnn.ops.reductions`,
products in :mod:`minicnn.ops.products`.

Each op takes arrays (NumPy or CuPy), Tensors, Variables or Python numbers; it computes with the
namespace of its inputs and hands the result to :func:`minicnn.tape.result` with a backward that
maps the output's gradient ``dy`` to one gradient per input. On plain arrays with no tape open
it returns a plain array, so a metric written in ops costs nothing more than NumPy.

A Python number takes the dtype of the array beside it (a float32 tensor times 2.0 stays float32).
"""
import numbers

import numpy as np

from minicnn import backend
from minicnn.backend import get_array_module
from minicnn.nn.erf import erf as _erf
from minicnn.tape import constant_result, result, unwrap


def _xp(*xs):
    """CuPy if any of ``xs`` is a CuPy array (a Python or NumPy scalar beside it follows it), else NumPy."""
    return get_array_module(*[unwrap(x) for x in xs])


def _arrays(*xs):
    """The arrays of ``xs`` and their namespace. A number (Python's or NumPy's, such as
    ``np.sqrt(2.0)``) takes the dtype of the first array beside it where that array is float, or
    where both are integers, as Keras's weak typing does (a float32 tensor times a float64 scalar stays
    float32); with no array beside it, a Python float is float32 (Keras's floatx) and a NumPy scalar
    keeps its dtype. Nested lists become arrays (float32 for floats)."""
    arrays = [unwrap(x) for x in xs]
    xp = _xp(*arrays)
    array = next((a for a in arrays if hasattr(a, "shape") and not isinstance(a, np.generic)), None)
    scalar = next((a for a in arrays if isinstance(a, np.generic)), None)
    out = []
    for a in arrays:
        generic = isinstance(a, np.generic)
        if isinstance(a, numbers.Number) and not isinstance(a, bool) and (array is not None or not generic):
            floating = isinstance(a, (float, np.floating))
            like = array if array is not None or generic else scalar
            if like is not None and (like.dtype.kind == "f" or not floating and like.dtype.kind in "iu"):
                dtype = like.dtype
            else:
                dtype = backend.floatx() if floating else None
            a = xp.asarray(a, dtype=dtype)
        elif not hasattr(a, "shape"):
            a = xp.asarray(a)
            if a.dtype == np.float64:
                a = a.astype(backend.floatx())
        elif xp is not np and isinstance(a, np.ndarray):
            a = xp.asarray(a)  # a host constant beside device arrays (a loss's target): uploaded
        out.append(a)
    return out, xp


def _floats(*xs):
    """:func:`_arrays`, integers and booleans made float32 (Keras's floatx): what ops with a
    fractional result (divide, sqrt, exp, log, mean...) take, as Keras's do."""
    arrays, xp = _arrays(*xs)
    return [a if a.dtype.kind in "fc" else a.astype(backend.floatx()) for a in arrays], xp


def unbroadcast(g, shape):
    """``g`` summed over the axes broadcasting added or stretched to reach it from ``shape``."""
    shape = tuple(shape)
    if g.shape == shape:
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes).reshape(shape) if axes else g.reshape(shape)


# -- arithmetic -------------------------------------------------------------------------------------

def add(x1, x2):
    """``x1 + x2``, broadcasting."""
    (a, b), _ = _arrays(x1, x2)
    return result(a + b, (x1, x2), lambda dy: (unbroadcast(dy, a.shape), unbroadcast(dy, b.shape)))


def subtract(x1, x2):
    """``x1 - x2``, broadcasting."""
    (a, b), _ = _arrays(x1, x2)
    return result(a - b, (x1, x2), lambda dy: (unbroadcast(dy, a.shape), unbroadcast(-dy, b.shape)))


def multiply(x1, x2):
    """``x1 * x2``, broadcasting."""
    (a, b), _ = _arrays(x1, x2)
    return result(a * b, (x1, x2), lambda dy: (unbroadcast(dy * b, a.shape), unbroadcast(dy * a, b.shape)))


def divide(x1, x2):
    """``x1 / x2``, broadcasting."""
    (a, b), _ = _floats(x1, x2)
    y = a / b
    return result(y, (x1, x2), lambda dy: (unbroadcast(dy / b, a.shape), unbroadcast(-dy * y / b, b.shape)))


true_divide = divide


def floor_divide(x1, x2):
    """``x1 // x2``; piecewise constant, so no gradient."""
    (a, b), xp = _arrays(x1, x2)
    return constant_result(xp.floor_divide(a, b), (x1, x2))


def mod(x1, x2):
    """``x1 % x2`` (the sign of ``x2``, as NumPy's); the gradient is 1 for x1, -floor(x1/x2) for x2."""
    (a, b), xp = _arrays(x1, x2)
    return result(xp.mod(a, b), (x1, x2),
                  lambda dy: (unbroadcast(dy, a.shape), unbroadcast(-dy * xp.floor_divide(a, b), b.shape)))


def power(x1, x2):
    """``x1 ** x2``; the exponent's gradient is y * log(x1), taken where x1 > 0 (0 elsewhere)."""
    (a, b), xp = _arrays(x1, x2)
    y = a ** b

    def backward(dy):
        da = unbroadcast(dy * b * a ** (b - 1), a.shape)
        return da, unbroadcast(dy * y * xp.log(xp.where(a > 0, a, 1)), b.shape)
    return result(y, (x1, x2), backward)


def negative(x):
    """``-x``."""
    (a,), _ = _arrays(x)
    return result(-a, (x,), lambda dy: (-dy,))


def abs(x):
    """``|x|``; the gradient at 0 is 0."""
    (a,), xp = _arrays(x)
    return result(xp.abs(a), (x,), lambda dy: (dy * xp.sign(a),))


absolute = abs


def sign(x):
    """-1, 0 or 1; no gradient."""
    (a,), xp = _arrays(x)
    return constant_result(xp.sign(a), (x,))


def square(x):
    """``x * x``."""
    (a,), _ = _arrays(x)
    return result(a * a, (x,), lambda dy: (dy * 2 * a,))


def sqrt(x):
    """The square root."""
    (a,), xp = _floats(x)
    y = xp.sqrt(a)
    return result(y, (x,), lambda dy: (dy / (2 * y),))


def rsqrt(x):
    """``1 / sqrt(x)``."""
    (a,), xp = _floats(x)
    y = 1 / xp.sqrt(a)
    return result(y, (x,), lambda dy: (-0.5 * dy * y / a,))


def reciprocal(x):
    """``1 / x``."""
    (a,), _ = _floats(x)
    y = 1 / a
    return result(y, (x,), lambda dy: (-dy * y * y,))


def exp(x):
    """``e ** x``."""
    (a,), xp = _floats(x)
    y = xp.exp(a)
    return result(y, (x,), lambda dy: (dy * y,))


def expm1(x):
    """``exp(x) - 1``, exact near 0."""
    (a,), xp = _floats(x)
    y = xp.expm1(a)
    return result(y, (x,), lambda dy: (dy * (y + 1),))


def log(x):
    """The natural logarithm."""
    (a,), xp = _floats(x)
    return result(xp.log(a), (x,), lambda dy: (dy / a,))


def log1p(x):
    """``log(1 + x)``, exact near 0."""
    (a,), xp = _floats(x)
    return result(xp.log1p(a), (x,), lambda dy: (dy / (1 + a),))


def sin(x):
    (a,), xp = _arrays(x)
    return result(xp.sin(a), (x,), lambda dy: (dy * xp.cos(a),))


def cos(x):
    (a,), xp = _floats(x)
    return result(xp.cos(a), (x,), lambda dy: (-dy * xp.sin(a),))


def erf(x):
    """The error function (:mod:`minicnn.nn.erf`, no SciPy); its derivative is 2/sqrt(pi) exp(-x**2)."""
    (a,), xp = _floats(x)
    return result(_erf(a), (x,), lambda dy: (dy * (2 / np.sqrt(np.pi)) * xp.exp(-a * a),))


def clip(x, x_min, x_max):
    """``x`` limited to [x_min, x_max]; the gradient passes where x is inside (bounds included)."""
    (a, lo, hi), xp = _arrays(x, -np.inf if x_min is None else x_min, np.inf if x_max is None else x_max)
    y = xp.clip(a, lo, hi)
    return result(y, (x,), lambda dy: (dy * ((a >= lo) & (a <= hi)),))


def maximum(x1, x2):
    """The elementwise larger, broadcasting; at a tie the gradient goes to ``x1``."""
    (a, b), xp = _floats(x1, x2)
    first = a >= b
    return result(xp.maximum(a, b), (x1, x2),
                  lambda dy: (unbroadcast(dy * first, a.shape), unbroadcast(dy * ~first, b.shape)))


def minimum(x1, x2):
    """The elementwise smaller, broadcasting; at a tie the gradient goes to ``x1``."""
    (a, b), xp = _arrays(x1, x2)
    first = a <= b
    return result(xp.minimum(a, b), (x1, x2),
                  lambda dy: (unbroadcast(dy * first, a.shape), unbroadcast(dy * ~first, b.shape)))


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2`` (all three broadcast); each side's gradient is
    the output's where it was picked. With the condition alone: a tuple of its nonzero indexes.

    Raises:
        ValueError: when only one of ``x1``, ``x2`` is given.
    """
    if (x1 is None) != (x2 is None):
        raise ValueError("ops.where takes both x1 and x2, or neither (then it gives the condition's nonzero indexes).")
    (c,), _ = _arrays(condition)
    c = c.astype(bool, copy=False)
    if x1 is None:
        return tuple(constant_result(i, (condition,)) for i in c.nonzero())
    (a, b), xp = _arrays(x1, x2)
    if get_array_module(c) is not xp:
        c = xp.asarray(c)  # a host mask beside device values: an upload
    y = xp.where(c, a, b)
    return result(y, (condition, x1, x2),
                  lambda dy: (None, unbroadcast(dy * c, a.shape), unbroadcast(dy * ~c, b.shape)))


# -- comparisons (no gradient) ------------------------------------------------------------------------

def _compare(name):
    def compare(x1, x2):
        (a, b), xp = _arrays(x1, x2)
        return constant_result(getattr(xp, name)(a, b), (x1, x2))
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (bool), broadcasting; no gradient."
    return compare


equal, not_equal = _compare("equal"), _compare("not_equal")
greater, greater_equal = _compare("greater"), _compare("greater_equal")
less, less_equal = _compare("less"), _compare("less_equal")
logical_and, logical_or = _compare("logical_and"), _compare("logical_or")


def logical_not(x):
    """Elementwise not (bool); no gradient."""
    (a,), xp = _arrays(x)
    return constant_result(xp.logical_not(a), (x,))
