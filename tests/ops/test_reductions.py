"""keras.ops' reductions (minicnn/ops/reductions.py) against NumPy over axes, negative axes and
keepdims drawn by hypothesis, and their gradients on the tape against central differences, on
NumPy and the fake CuPy."""
import numpy as np
import pytest
from hypothesis import assume, given, settings, strategies as st

import minicnn
from minicnn import ops
from ops.checks import check_op, distinct, positive


@st.composite
def shapes_and_axes(draw, single=False):
    """A shape of rank 1-3 and an axis: None, an int (maybe negative) or a tuple of distinct ones."""
    shape = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
    n = len(shape)
    one = st.integers(-n, n - 1)
    if single:
        axis = draw(st.none() | one)
    else:
        axis = draw(st.none() | one | st.lists(one, min_size=1, max_size=n,
                                                unique_by=lambda a: a % n).map(tuple))
    return shape, axis, draw(st.booleans())


def _log_sum_exp(x, axis, keepdims):
    m = np.max(x, axis=axis, keepdims=True)
    y = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return y if keepdims else np.squeeze(y, axis=axis if axis is not None else tuple(range(x.ndim)))


REDUCTIONS = {
    "sum": np.sum, "mean": np.mean, "var": np.var, "std": np.std, "max": np.max, "min": np.min,
    "amax": np.amax, "amin": np.amin, "prod": np.prod, "logsumexp": _log_sum_exp,
}


@settings(max_examples=10)
@pytest.mark.parametrize("name", sorted(REDUCTIONS))
@given(cfg=shapes_and_axes())
def test_reductions_match_numpy_over_axes_with_and_without_keepdims(device, name, cfg):
    shape, axis, keepdims = cfg
    reduced = [shape[i] for i in range(len(shape))] if axis is None else \
        [shape[i] for i in (axis if isinstance(axis, tuple) else (axis,))]
    assume(name != "std" or np.prod(reduced) > 1)  # a std of 0 has no derivative
    x = distinct(shape, 1) + (3.0 if name == "prod" else 0.0)  # distinct: max's gradient has one winner
    reference = REDUCTIONS[name]
    check_op(device, lambda x: getattr(ops, name)(x, axis=axis, keepdims=keepdims), x,
             reference=lambda x: reference(x, axis=axis, keepdims=keepdims), rtol=1e-9)


def test_prod_differentiates_through_zeros(device):
    x = np.array([[0.0, 2.0, 3.0], [0.0, 0.0, 5.0], [1.5, 2.0, -1.0]])
    check_op(device, lambda x: ops.prod(x, axis=1), x, reference=lambda x: np.prod(x, axis=1))
    check_op(device, lambda x: ops.prod(x, axis=(0, 1)), x, reference=lambda x: np.prod(x, axis=(0, 1)))


def test_max_shares_the_gradient_among_ties():
    from minicnn.tape import GradientTape
    x = np.array([[1.0, 3.0, 3.0], [2.0, 0.0, 1.0]])
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.max(x, axis=1)
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[0, 0.5, 0.5], [1, 0, 0]])


@settings(max_examples=8)
@given(shape=st.lists(st.integers(1, 4), min_size=1, max_size=3).map(tuple), data=st.data())
def test_cumsum_and_cumprod_along_an_axis_or_flattened(device, shape, data):
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    x = positive(shape, 2)
    check_op(device, lambda x: ops.cumsum(x, axis=axis), x, reference=lambda x: np.cumsum(x, axis=axis))
    check_op(device, lambda x: ops.cumprod(x, axis=axis), x, reference=lambda x: np.cumprod(x, axis=axis))


@settings(max_examples=8)
@given(cfg=shapes_and_axes(single=True))
def test_argmax_argmin_give_numpys_indexes_with_keepdims(device, cfg):
    shape, axis, keepdims = cfg
    x = distinct(shape, 3)
    with device.on():
        dx = device.put(x)
        with device.no_transfers():
            got = [ops.argmax(dx, axis=axis, keepdims=keepdims), ops.argmin(dx, axis=axis, keepdims=keepdims)]
        for g, fn in zip(got, [np.argmax, np.argmin]):
            np.testing.assert_array_equal(device.get(g), fn(x, axis=axis, keepdims=keepdims))


@settings(max_examples=10)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), data=st.data())
def test_norm_vector_and_matrix_orders_against_numpy(device, shape, data):
    n = len(shape)
    axis = data.draw(st.none() | st.integers(-n, n - 1) | (st.just((0, -1)) if n >= 2 else st.none()))
    vector = isinstance(axis, int) or axis is None and n == 1
    matrix = isinstance(axis, tuple) or axis is None and n == 2
    ord_ = data.draw(st.sampled_from([None, 1, 2, np.inf, -np.inf, 3] if vector else
                                     ["fro", 1, -1, np.inf, -np.inf] if matrix else [None]))
    keepdims = data.draw(st.booleans())
    x = distinct(shape, 4) + 0.1

    def reference(x):
        if vector or matrix:
            return np.linalg.norm(x, ord=ord_, axis=axis, keepdims=keepdims)
        return np.sqrt(np.sum(x * x, keepdims=keepdims))  # any rank, no axis: the 2-norm of all values
    check_op(device, lambda x: ops.norm(x, ord=ord_, axis=axis, keepdims=keepdims), x, reference=reference,
             rtol=1e-9)


def test_average_with_weights(device):
    x, w = positive((3, 4), 5), positive((4,), 6)
    check_op(device, lambda x, w: ops.average(x, axis=1, weights=w), x, w,
             reference=lambda x, w: np.average(x, axis=1, weights=w))
    check_op(device, lambda x: ops.average(x), x, reference=lambda x: np.average(x))


@pytest.mark.parametrize("name", sorted(REDUCTIONS))
def test_float32_reductions_stay_float32_and_plain(name):
    y = getattr(ops, name)(positive((2, 3), 0).astype(np.float32), axis=1)
    assert type(y) is np.ndarray and y.dtype == np.float32


def test_reducing_everything_gives_a_0d_array_on_the_device(device):
    with device.on():
        x = device.put(np.arange(6.0).reshape(2, 3))
        with device.no_transfers():
            total = ops.sum(x)
        assert device.get(total).shape == () and float(device.get(total)) == 15.0


@pytest.mark.parametrize("name", ["sum", "mean", "max", "min", "var", "std", "prod", "logsumexp", "norm"])
def test_float32_gradients_stay_float32(name):
    """The training path keeps float32: a reduction's gradient too (max/min once came back float64,
    divided by an integer count of ties)."""
    x = positive((4, 3), 1).astype(np.float32)
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(getattr(ops, name)(x, axis=1))
    assert tape.gradient(y, x).dtype == np.float32
