"""The merge ops against NumPy's broadcasting written out (np.broadcast_to on each input, right-aligned
per-sample shapes), their backward against float64 central differences, the tie rule of
maximum/minimum against a per-element fold, and dtypes."""
import functools

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.nn import merge
from minicnn.utils.gradcheck import numerical_gradient, relative_error

NUMPY = {"add": np.add, "subtract": np.subtract, "multiply": np.multiply, "maximum": np.maximum,
         "minimum": np.minimum}
OPS = sorted(merge.ELEMENTWISE)


@st.composite
def merge_configs(draw, op=None):
    """(op, N, per-sample shapes): each shape a suffix of a common one, some axes set to 1."""
    op = op or draw(st.sampled_from(OPS))
    n = 2 if op == "subtract" else draw(st.integers(2, 4))
    full = draw(st.lists(st.integers(1, 3), min_size=0, max_size=3))
    shapes = []
    for _ in range(n):
        rank = draw(st.integers(0, len(full)))
        suffix = full[len(full) - rank:]
        shapes.append(tuple(1 if draw(st.booleans()) else d for d in suffix))
    return op, draw(st.integers(1, 2)), shapes


def inputs(N, shapes, seed, dtype=np.float64):
    """Distinct values of magnitude in (0, 2] (no ties for maximum/minimum, at least 2 / size apart)."""
    rng = np.random.default_rng(seed)
    sizes = [N * int(np.prod(s)) for s in shapes]
    T = sum(sizes)
    values = rng.permutation(np.arange(1, T + 1)) * (2 / T) * rng.choice([-1, 1], T)
    parts = np.split(values, np.cumsum(sizes)[:-1])
    return [p.reshape(N, *s).astype(dtype) for p, s in zip(parts, shapes)]


def reference(op, xs):
    """Each input broadcast to the common shape by NumPy (per-sample shapes right-aligned), then combined."""
    N = xs[0].shape[0]
    out = np.broadcast_shapes(*[x.shape[1:] for x in xs])
    full = [np.broadcast_to(x.reshape(N, *(1,) * (len(out) - x.ndim + 1), *x.shape[1:]), (N, *out)) for x in xs]
    if op == "average":
        return sum(full) / len(full)
    return functools.reduce(NUMPY[op], full)


@given(merge_configs())
def test_forward_matches_numpy_broadcasting(cfg):
    op, N, shapes = cfg
    xs = inputs(N, shapes, 0)
    y, _ = merge.ELEMENTWISE[op][0](xs)
    np.testing.assert_allclose(y, reference(op, xs), rtol=1e-14)


@given(merge_configs())
def test_backward_matches_central_differences(cfg):
    op, N, shapes = cfg
    forward, backward = merge.ELEMENTWISE[op]
    xs = inputs(N, shapes, 1)
    y, cache = forward(xs)
    R = np.random.default_rng(2).standard_normal(y.shape)
    dxs = backward(R, cache)
    for x, dx in zip(xs, dxs):
        assert dx.shape == x.shape
        numeric = numerical_gradient(lambda: float((forward(xs)[0] * R).sum()), x)
        assert relative_error(dx, numeric) < 1e-8, (op, shapes)


def test_a_shorter_input_gets_its_axes_after_the_batch_axis():
    a, b = np.arange(3.0).reshape(1, 3), np.ones((1, 2, 3))  # NumPy alone would pair 1 with 2
    y, cache = merge.add_forward([a, b])
    np.testing.assert_array_equal(y, [[[1, 2, 3], [1, 2, 3]]])
    da, db = merge.add_backward(np.ones_like(y), cache)
    np.testing.assert_array_equal(da, [[2, 2, 2]])
    assert db.shape == b.shape


def fold_weights(values, wins):
    """The share of the gradient each value gets, folding left with torch's tie rule (halves)."""
    w, m = [1.0], values[0]
    for v in values[1:]:
        if wins(m, v):
            w.append(0.0)
        elif m == v:
            w = [u / 2 for u in w] + [0.5]
        else:
            w, m = [0.0] * len(w) + [1.0], v
    return w


@given(st.sampled_from(["maximum", "minimum"]), st.integers(2, 4), st.integers(0, 10 ** 6))
def test_ties_split_in_halves_pair_by_pair_as_keras_on_torch(op, n, seed):
    rng = np.random.default_rng(seed)
    xs = [rng.integers(-1, 2, (3, 4)).astype(np.float64) for _ in range(n)]  # many ties
    forward, backward = merge.ELEMENTWISE[op]
    y, cache = forward(xs)
    dy = rng.standard_normal(y.shape)
    dxs = backward(dy, cache)
    wins = (lambda a, b: a > b) if op == "maximum" else (lambda a, b: a < b)
    for i, j in np.ndindex(3, 4):
        w = fold_weights([x[i, j] for x in xs], wins)
        np.testing.assert_allclose([dx[i, j] for dx in dxs], np.multiply(w, dy[i, j]), rtol=1e-15)


@pytest.mark.parametrize("op", ["maximum", "minimum"])
def test_three_tied_inputs_get_what_keras_3_on_torch_gave(op):
    one = np.ones((1, 2), np.float32)  # measured: keras 3.15.1, torch 2.13.0
    forward, backward = merge.ELEMENTWISE[op]
    y, cache = forward([one, one, one])
    assert [float(dx[0, 0]) for dx in backward(np.ones_like(y), cache)] == [0.25, 0.25, 0.5]


@given(st.integers(1, 3), st.integers(1, 3), st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.data())
def test_concatenate_matches_numpy_and_splits_the_gradient(N, n, shape, data):
    R = len(shape) + 1
    axis = data.draw(st.sampled_from([a for a in range(-R, R) if a % R != 0]))
    sizes = data.draw(st.lists(st.integers(1, 3), min_size=n + 1, max_size=n + 1))
    xs = []
    for s in sizes:
        full = [N, *shape]
        full[axis] = s
        xs.append(np.random.default_rng(s).standard_normal(full))
    y, cache = merge.concatenate_forward(xs, axis)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis))
    R_ = np.random.default_rng(3).standard_normal(y.shape)
    for x, dx in zip(xs, merge.concatenate_backward(R_, cache)):
        numeric = numerical_gradient(lambda: float((merge.concatenate_forward(xs, axis)[0] * R_).sum()), x)
        assert relative_error(dx, numeric) < 1e-8


@pytest.mark.parametrize("op", OPS)
def test_float32_stays_float32_both_ways(op):
    forward, backward = merge.ELEMENTWISE[op]
    xs = inputs(2, [(3,), (4, 3)] if op == "subtract" else [(3,), (4, 3), (4, 1)], 4, np.float32)
    y, cache = forward(xs)
    assert y.dtype == np.float32
    assert all(dx.dtype == np.float32 for dx in backward(np.ones_like(y), cache))
    y, cache = merge.concatenate_forward(xs[:1] * 2, -1)
    assert y.dtype == np.float32 and all(d.dtype == np.float32 for d in merge.concatenate_backward(y, cache))


def test_add_passes_dy_itself_to_each_unbroadcast_input():
    xs = [np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 1))]
    y, cache = merge.add_forward(xs)
    dy = np.ones_like(y)
    dxs = merge.add_backward(dy, cache)
    assert dxs[0] is dy and dxs[1] is dy and dxs[2].shape == (2, 1)


def test_forward_does_not_write_to_its_inputs():
    xs = inputs(2, [(3,), (3,), (3,), (3,)], 5)
    before = [x.copy() for x in xs]
    for op in sorted(set(OPS) - {"subtract"}):
        merge.ELEMENTWISE[op][0](xs)
    for x, b in zip(xs, before):
        np.testing.assert_array_equal(x, b)


def test_subtract_takes_exactly_two():
    with pytest.raises(ValueError, match="exactly 2"):
        merge.subtract_forward([np.ones((1, 2))] * 3)
