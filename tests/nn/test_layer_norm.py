"""Layer and group normalization ops against per-sample loops, and their backward against float64
central differences, on shapes, axes and groups that hypothesis draws."""
import itertools

import numpy as np
from hypothesis import given, strategies as st

from minicnn.nn.layer_norm import groupnorm_backward, groupnorm_forward, layernorm_backward, layernorm_forward
from minicnn.utils.gradcheck import numerical_gradient, relative_error

EPS = 1e-3


def layernorm_loops(x, gamma, beta, axes, eps):
    """Each sample, and each position of the axes not normalised, on its own: the normalised
    values picked out with explicit index tuples, their mean and variance by sums."""
    y = np.empty_like(x)
    kept = [a for a in range(1, x.ndim) if a not in axes]
    for n in range(x.shape[0]):
        for pos in itertools.product(*(range(x.shape[a]) for a in kept)):
            cells = [idx for idx in itertools.product(*(range(s) for s in x.shape))
                     if idx[0] == n and all(idx[a] == p for a, p in zip(kept, pos))]
            values = np.array([x[c] for c in cells])
            mean = sum(values) / len(values)
            var = sum((v - mean) ** 2 for v in values) / len(values)
            for c, v in zip(cells, values):
                y[c] = (v - mean) / np.sqrt(var + eps) * gamma[c[1:]] + beta[c[1:]]
    return y


def groupnorm_loops(x, gamma, beta, groups, axis, eps):
    """Each sample and each group of consecutive channels on its own."""
    y = np.empty_like(x)
    C = x.shape[axis]
    Cg = C // groups
    xm = np.moveaxis(x, axis, -1)
    ym = np.moveaxis(y, axis, -1)
    for n in range(x.shape[0]):
        for g in range(groups):
            block = xm[n, ..., g * Cg:(g + 1) * Cg]
            mean = block.sum() / block.size
            var = ((block - mean) ** 2).sum() / block.size
            ym[n, ..., g * Cg:(g + 1) * Cg] = ((block - mean) / np.sqrt(var + eps) * gamma[g * Cg:(g + 1) * Cg]
                                              + beta[g * Cg:(g + 1) * Cg])
    return y


@st.composite
def layer_configs(draw):
    shape = tuple(draw(st.lists(st.integers(1, 4), min_size=2, max_size=4)))
    ndim = len(shape)
    axes = tuple(sorted(draw(st.sets(st.integers(1, ndim - 1), min_size=1, max_size=ndim - 1))))
    return shape, axes, draw(st.booleans()), draw(st.booleans())


def broadcast_params(rng, shape, axes):
    pshape = [shape[a] if a in axes else 1 for a in range(len(shape))]
    return rng.standard_normal(pshape), rng.standard_normal(pshape)


@given(layer_configs())
def test_layernorm_forward_matches_loops(cfg):
    shape, axes, _, _ = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal(shape) * 3 + 1
    gamma, beta = broadcast_params(rng, shape, axes)
    y, _ = layernorm_forward(x, gamma, beta, axes, EPS)
    full = [np.broadcast_to(p, shape)[0] for p in (gamma, beta)]
    np.testing.assert_allclose(y, layernorm_loops(x, *full, axes, EPS), rtol=1e-10, atol=1e-12)


def check_op_gradients(forward, backward, x, params, seed):
    """Central differences of sum(forward(x, *params) * R) against backward, for x and each param."""
    R = np.random.default_rng(seed).standard_normal(forward(x, *params)[0].shape)
    _, cache = forward(x, *params)
    dx, *dparams = backward(R, cache)
    loss = lambda: float((forward(x, *params)[0] * R).sum())  # noqa: E731
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-6
    for p, dp in zip(params, dparams):
        if p is not None:
            assert dp.shape == p.shape
            assert relative_error(dp, numerical_gradient(loss, p)) < 1e-6


@given(layer_configs())
def test_layernorm_backward_matches_central_differences(cfg):
    shape, axes, scale, center = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal(shape) * 2 - 0.5
    gamma, beta = broadcast_params(rng, shape, axes)
    params = (gamma if scale else None, beta if center else None)
    check_op_gradients(lambda x, g, b: layernorm_forward(x, g, b, axes, EPS), layernorm_backward, x, params, 2)


@st.composite
def group_configs(draw):
    groups, per_group = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    spatial = draw(st.lists(st.integers(1, 3), min_size=0, max_size=2))
    position = draw(st.integers(0, len(spatial)))
    shape = [draw(st.integers(1, 3))] + spatial[:position] + [groups * per_group] + spatial[position:]
    return tuple(shape), groups, position + 1, draw(st.booleans()), draw(st.booleans())


@given(group_configs())
def test_groupnorm_forward_matches_loops(cfg):
    shape, groups, axis, _, _ = cfg
    rng = np.random.default_rng(3)
    x = rng.standard_normal(shape) * 2 + 0.5
    gamma, beta = rng.standard_normal((2, shape[axis]))
    y, _ = groupnorm_forward(x, gamma, beta, groups, axis, EPS)
    np.testing.assert_allclose(y, groupnorm_loops(x, gamma, beta, groups, axis, EPS), rtol=1e-10, atol=1e-12)


@given(group_configs())
def test_groupnorm_backward_matches_central_differences(cfg):
    shape, groups, axis, scale, center = cfg
    rng = np.random.default_rng(4)
    x = rng.standard_normal(shape) * 2 - 0.5
    gamma, beta = rng.standard_normal((2, shape[axis]))
    params = (gamma if scale else None, beta if center else None)
    check_op_gradients(lambda x, g, b: groupnorm_forward(x, g, b, groups, axis, EPS), groupnorm_backward, x,
                       params, 5)


def test_float32_stays_float32():
    x = np.random.default_rng(6).standard_normal((3, 4, 5, 8)).astype(np.float32)
    gamma, beta = np.ones(8, np.float32), np.zeros(8, np.float32)
    y, cache = groupnorm_forward(x, gamma, beta, 4, 3, EPS)
    dx, dg, db = groupnorm_backward(np.ones_like(y), cache)
    y2, cache2 = layernorm_forward(x, gamma, beta, (3,), EPS)
    dx2, dg2, db2 = layernorm_backward(np.ones_like(y2), cache2)
    assert {a.dtype for a in (y, dx, dg, db, y2, dx2, dg2, db2)} == {np.dtype(np.float32)}
