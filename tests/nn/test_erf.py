"""erf and erfc on arrays against the standard library's math.erf/math.erfc and tabulated values."""
import math
import warnings

import numpy as np
import pytest

from minicnn.nn.erf import erf, erfc

# Values to 20 digits (computed with 30-digit arithmetic), independent of any double-precision libm.
KNOWN_ERF = {0.1: 0.1124629160182848922, 0.5: 0.52049987781304653768, 1.0: 0.84270079294971486934,
             2.0: 0.99532226501895273416, 3.5: 0.99999925690162765859}
KNOWN_ERFC = {3.0: 2.2090496998585441373e-05, 5.0: 1.5374597944280348502e-12, 10.0: 2.088487583762544757e-45}


def test_known_values():
    x = np.array(list(KNOWN_ERF))
    np.testing.assert_allclose(erf(x), list(KNOWN_ERF.values()), rtol=1e-15)
    np.testing.assert_allclose(erf(-x), [-v for v in KNOWN_ERF.values()], rtol=1e-15)
    np.testing.assert_allclose(erfc(np.array(list(KNOWN_ERFC))), list(KNOWN_ERFC.values()), rtol=3e-15)


def test_erf_float64_within_3_ulps_of_math_erf():
    x = np.concatenate([np.linspace(-7, 7, 20001), np.geomspace(1e-300, 0.6, 300), -np.geomspace(1e-300, 0.6, 300)])
    expected = np.array([math.erf(v) for v in x])
    got = erf(x)
    assert got.dtype == np.float64
    assert np.all(np.abs(got - expected) <= 3 * np.spacing(np.abs(expected)) + 1e-300)


def test_erfc_float64_relative_accuracy_in_the_tail():
    z = np.linspace(0, 26, 5001)
    expected = np.array([math.erfc(v) for v in z])
    rel = np.abs(erfc(z) / expected - 1)
    # The rounding of z*z inside exp(-z*z) costs about z**2 ulps; the series a few more.
    assert np.all(rel <= (z ** 2 + 12) * 2.3e-16), (z[rel.argmax()], rel.max())
    np.testing.assert_allclose(erfc(-z), 2 - expected, rtol=1e-15)


def test_float32_stays_float32_and_within_a_few_ulps():
    x = np.linspace(-5, 5, 4001, dtype=np.float32)
    expected = np.array([math.erf(float(v)) for v in x])
    got = erf(x)
    assert got.dtype == np.float32 and erfc(x).dtype == np.float32
    assert np.max(np.abs(got - expected)) < 3e-7


def test_infinities_nan_and_zero_without_warnings():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = erf(np.array([np.inf, -np.inf, 0.0, -0.0, np.nan]))
        tails = erfc(np.array([np.inf, -np.inf, 40.0]))
    np.testing.assert_array_equal(got[:4], [1, -1, 0, 0])
    assert np.signbit(got[3]) and np.isnan(got[4])
    np.testing.assert_array_equal(tails, [0, 2, 0])


@pytest.mark.parametrize("x", [0.3, 0.49999, 0.5, 0.50001, 1.7])
def test_branches_meet(x):
    # erf switches from its Taylor series to 1 - erfc at |x| = 1/2: both sides agree there.
    assert float(erf(np.array([x]))[0]) == pytest.approx(math.erf(x), rel=1e-15, abs=0)
