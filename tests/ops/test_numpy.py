"""keras.ops' elementwise arithmetic (minicnn/ops/numpy.py) against NumPy itself, and its gradients
on the tape against float64 central differences, on NumPy and the fake CuPy; shapes that broadcast
drawn by hypothesis."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minicnn import ops
from ops.checks import away_from_zero, check_op, distinct, positive


@st.composite
def broadcast_shapes(draw):
    """Two shapes that broadcast: suffixes of one shape of rank <= 3, some axes set to 1."""
    full = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    shapes = []
    for _ in range(2):
        rank = draw(st.integers(0, len(full)))
        shapes.append(tuple(1 if draw(st.booleans()) else d for d in full[len(full) - rank:]))
    return shapes


# op, NumPy's, how to draw (x1, x2)
BINARY = {
    "add": (np.add, lambda s1, s2: (away_from_zero(s1, 1), away_from_zero(s2, 2))),
    "subtract": (np.subtract, lambda s1, s2: (away_from_zero(s1, 1), away_from_zero(s2, 2))),
    "multiply": (np.multiply, lambda s1, s2: (away_from_zero(s1, 1), away_from_zero(s2, 2))),
    "divide": (np.divide, lambda s1, s2: (away_from_zero(s1, 1), away_from_zero(s2, 2, low=0.5))),
    "power": (np.power, lambda s1, s2: (positive(s1, 1), away_from_zero(s2, 2))),
    "maximum": (np.maximum, lambda s1, s2: _apart(s1, s2)),
    "minimum": (np.minimum, lambda s1, s2: _apart(s1, s2)),
    "mod": (np.mod, lambda s1, s2: (positive(s1, 1, 0.1, 0.9) + 3 * np.arange(int(np.prod(s1))).reshape(s1) % 2,
                                    np.full(s2, 1.0))),
}


def _apart(s1, s2):
    """Two inputs with no equal pair once broadcast (maximum's gradient has a kink at a tie)."""
    n1 = int(np.prod(s1))
    values = distinct((n1 + int(np.prod(s2)),), 3)
    return values[:n1].reshape(s1), values[n1:].reshape(s2)


@settings(max_examples=12)
@pytest.mark.parametrize("name", sorted(BINARY))
@given(shapes=broadcast_shapes())
def test_binary_ops_broadcast_as_numpy_and_their_gradients_sum_back(device, name, shapes):
    reference, draw = BINARY[name]
    a, b = draw(*shapes)
    check_op(device, getattr(ops, name), a, b, reference=reference)


@pytest.mark.parametrize("name", ["add", "subtract", "multiply", "divide", "power", "maximum", "minimum"])
def test_a_python_number_on_either_side(device, name):
    x = positive((2, 3), 0, 0.5, 1.5)
    fn, reference = getattr(ops, name), BINARY[name][0]
    check_op(device, lambda x: fn(x, 1.25), x, reference=lambda x: reference(x, 1.25))
    check_op(device, lambda x: fn(1.25, x), x, reference=lambda x: reference(1.25, x))


def _erf(x):
    return np.vectorize(math.erf)(x)


# op, NumPy's, its inputs
UNARY = {
    "negative": (np.negative, away_from_zero),
    "abs": (np.abs, away_from_zero),
    "absolute": (np.abs, away_from_zero),
    "square": (np.square, away_from_zero),
    "sqrt": (np.sqrt, positive),
    "rsqrt": (lambda x: 1 / np.sqrt(x), positive),
    "reciprocal": (np.reciprocal, away_from_zero),
    "exp": (np.exp, away_from_zero),
    "expm1": (np.expm1, away_from_zero),
    "log": (np.log, positive),
    "log1p": (np.log1p, positive),
    "sin": (np.sin, away_from_zero),
    "cos": (np.cos, away_from_zero),
    "tanh": (np.tanh, away_from_zero),
    "erf": (_erf, away_from_zero),
}


@settings(max_examples=4)
@pytest.mark.parametrize("name", sorted(UNARY))
@given(shape=st.lists(st.integers(1, 3), max_size=3).map(tuple))
def test_unary_ops_match_numpy_and_their_derivatives(device, name, shape):
    reference, draw = UNARY[name]
    check_op(device, getattr(ops, name), draw(shape, 4), reference=reference, rtol=1e-9)


@settings(max_examples=8)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple),
       bounds=st.sampled_from([(-0.5, 0.7), (-3.0, 0.1), (0.0, 3.0)]))
def test_clip_passes_the_gradient_only_inside_the_bounds(device, shape, bounds):
    lo, hi = bounds
    x = distinct(shape, 5) * 1.3 + 0.01  # never on a bound
    y = check_op(device, lambda x: ops.clip(x, lo, hi), x, reference=lambda x: np.clip(x, lo, hi))
    assert y.min() >= lo and y.max() <= hi


@settings(max_examples=10)
@given(shapes=broadcast_shapes(), cond_rank=st.integers(0, 2))
def test_where_picks_like_numpy_and_sends_each_side_its_share(device, shapes, cond_rank):
    s1, s2 = shapes
    out = np.broadcast_shapes(s1, s2)
    cond = np.random.default_rng(6).random(out[len(out) - min(cond_rank, len(out)):]) > 0.5
    a, b = away_from_zero(s1, 7), away_from_zero(s2, 8)
    check_op(device, lambda a, b: ops.where(cond, a, b), a, b, reference=lambda a, b: np.where(cond, a, b))


def test_where_with_a_condition_on_the_device_and_its_nonzero_form(device):
    cond = np.array([[True, False, True], [False, False, True]])
    with device.on():
        c = device.put(cond)
        with device.no_transfers():
            rows, cols = ops.where(c)
        np.testing.assert_array_equal(device.get(rows), np.nonzero(cond)[0])
        np.testing.assert_array_equal(device.get(cols), np.nonzero(cond)[1])
    check_op(device, lambda a, b: ops.where(a > 0, a, b), away_from_zero((2, 3), 1), away_from_zero((3,), 2),
             reference=lambda a, b: np.where(a > 0, a, b))


COMPARISONS = ["equal", "not_equal", "greater", "greater_equal", "less", "less_equal"]


@pytest.mark.parametrize("name", COMPARISONS + ["logical_and", "logical_or"])
def test_comparisons_give_numpys_booleans_and_no_gradient(device, name):
    a = np.array([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    b = np.array([0.0, 2.0, 0.5])
    expected = getattr(np, name)(a, b)
    with device.on():
        da, db = device.put(a), device.put(b)
        with device.no_transfers():
            from minicnn.tape import GradientTape
            with GradientTape() as tape:
                tape.watch([da, db])
                y = getattr(ops, name)(da, db)
                total = ops.sum(ops.multiply(ops.cast(y, "float64"), da))
            grads = tape.gradient(total, [da, db])
        assert device.get(y).dtype == bool
        np.testing.assert_array_equal(device.get(y), expected)
        assert grads[1] is None  # b reaches the target only through the comparison
        np.testing.assert_array_equal(device.get(grads[0]), expected.astype(np.float64))
    np.testing.assert_array_equal(getattr(ops, name)(a, 0.5), getattr(np, name)(a, 0.5))


def test_sign_floor_divide_and_logical_not_give_no_gradient(device):
    x = np.array([-1.5, 0.0, 2.5])
    with device.on():
        dx = device.put(x)
        from minicnn.tape import GradientTape
        with GradientTape() as tape:
            tape.watch(dx)
            outs = [ops.sign(dx), ops.floor_divide(dx, 2.0), ops.logical_not(ops.greater(dx, 0.0))]
            total = ops.sum(ops.add(ops.add(outs[0], outs[1]), ops.cast(outs[2], "float64")))
        assert tape.gradient(total, dx) is None
        np.testing.assert_array_equal(device.get(outs[0]), np.sign(x))
        np.testing.assert_array_equal(device.get(outs[1]), np.floor_divide(x, 2.0))
        np.testing.assert_array_equal(device.get(outs[2]), ~(x > 0))


@pytest.mark.parametrize("name", sorted(BINARY))
def test_float32_stays_float32_with_python_numbers(name):
    x = positive((2, 2), 0).astype(np.float32)
    assert getattr(ops, name)(x, 2.0).dtype == np.float32
    assert getattr(ops, name)(3, x).dtype == np.float32
    assert getattr(ops, name)(x, x).dtype == np.float32


@pytest.mark.parametrize("name", sorted(UNARY))
def test_unary_float32_stays_float32(name):
    y = getattr(ops, name)(positive((3,), 0).astype(np.float32))
    assert type(y) is np.ndarray and y.dtype == np.float32


def test_numbers_are_weak_beside_arrays_and_fractional_ops_make_integers_float32():
    """Keras's typing: a float32 tensor times np.sqrt(2.0) (a float64 NumPy scalar) stays float32; mean,
    divide, sqrt, exp and log of integers are float32 (floatx), not NumPy's float64."""
    x = np.ones((2, 3), np.float32)
    assert ops.multiply(x, np.sqrt(2.0)).dtype == np.float32
    assert ops.add(np.float64(1.0), x).dtype == np.float32
    assert ops.power(np.float64(2.0), 0.5).dtype == np.float64  # scalars alone keep NumPy's rules
    for fn in (ops.mean, ops.sqrt, ops.exp, ops.log1p, lambda a: ops.divide(a, 2)):
        assert fn(np.arange(1, 4)).dtype == np.float32
    assert ops.multiply(np.arange(3), 2).dtype == np.arange(3).dtype
