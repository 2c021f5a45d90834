"""The CPU's layer and group normalization (minicnn.cpu.layer_norm) and their steps against the plain
ops and layers, on shapes hypothesis draws, cut into many chunks and into one; the first step
without an input gradient; the planner picks the steps on the fast path."""
import contextlib

import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn
from minicnn import Sequential
from minicnn.cpu import layer_norm, steps
from minicnn.cpu.workspace import Workspace
from minicnn.layers import Conv2D, Flatten, GroupNormalization, LayerNormalization
from minicnn.nn import layer_norm as plain


@contextlib.contextmanager
def chunks_of(elements):
    """Chunks of about ``elements`` (64: many small chunks; 1 << 18: one chunk here)."""
    saved, layer_norm.CHUNK_ELEMENTS = layer_norm.CHUNK_ELEMENTS, elements
    try:
        yield
    finally:
        layer_norm.CHUNK_ELEMENTS = saved


def assert_close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-11)


@given(st.sampled_from([64, 1 << 18]), st.integers(1, 9), st.sampled_from([(5,), (3, 4), (2, 3, 4)]),
       st.integers(1, 3), st.booleans(), st.booleans(), st.booleans())
def test_layernorm_over_trailing_axes_matches_the_plain_op(chunk, N, shape, trailing, center, scale, need_dx):
    trailing = min(trailing, len(shape))
    rng = np.random.default_rng(0)
    x, dy = rng.standard_normal((N, *shape)) * 3 + 1, rng.standard_normal((N, *shape))
    axes = tuple(range(1 + len(shape) - trailing, 1 + len(shape)))
    pshape = [x.shape[a] if a in axes else 1 for a in range(x.ndim)]
    gamma, beta = rng.standard_normal(pshape) if scale else None, rng.standard_normal(pshape) if center else None
    y, cache = plain.layernorm_forward(x, gamma, beta, axes, 1e-3)
    dx, dgamma, dbeta = plain.layernorm_backward(dy, cache)
    D = int(np.prod(x.shape[axes[0]:]))
    flat = [None if p is None else p.reshape(-1) for p in (gamma, beta)]
    with chunks_of(chunk):
        got_y, got_cache = layer_norm.layernorm_forward(x, D, *flat, 1e-3, Workspace())
        got_dx, got_dgamma, got_dbeta = layer_norm.layernorm_backward(dy, got_cache, need_dx, Workspace())
    assert_close([got_y, got_dbeta], [y, dy.reshape(-1, D).sum(axis=0)])
    if scale:
        assert_close([got_dgamma], [dgamma.reshape(-1)])
    if need_dx:
        assert_close([got_dx], [dx])
    else:
        assert got_dx is None


@given(st.sampled_from([64, 1 << 18]), st.integers(1, 5), st.sampled_from([(3, 4), (2, 1), (5,), ()]),
       st.sampled_from([(1, 6), (2, 3), (6, 1)]), st.booleans(), st.booleans(), st.booleans(), st.booleans())
def test_groupnorm_matches_the_plain_op(chunk, N, spatial, groups_and_size, channels_last, center, scale, need_dx):
    G, Cg = groups_and_size
    C = G * Cg
    shape = (N, *spatial, C) if channels_last else (N, C, *spatial)
    rng = np.random.default_rng(1)
    x, dy = rng.standard_normal(shape) * 2 - 1, rng.standard_normal(shape)
    gamma, beta = rng.standard_normal(C) if scale else None, rng.standard_normal(C) if center else None
    axis = len(shape) - 1 if channels_last else 1
    y, cache = plain.groupnorm_forward(x, gamma, beta, G, axis, 1e-3)
    dx, dgamma, dbeta = plain.groupnorm_backward(dy, cache)
    with chunks_of(chunk):
        got_y, got_cache = layer_norm.groupnorm_forward(x, gamma, beta, G, 1e-3, channels_last, Workspace())
        got_dx, got_dgamma, got_dbeta = layer_norm.groupnorm_backward(dy, got_cache, need_dx, Workspace())
    assert_close([got_y, got_dbeta], [y, np.moveaxis(dy, axis, -1).reshape(-1, C).sum(axis=0)])
    if scale:
        assert_close([got_dgamma], [dgamma])
    if need_dx:
        assert_close([got_dx], [dx])
    else:
        assert got_dx is None


@pytest.mark.parametrize("make, shape, takes", [
    (lambda: LayerNormalization(), (4, 5, 6), True),
    (lambda: LayerNormalization(axis=[1, 2, 3], center=False), (4, 5, 6), True),
    (lambda: LayerNormalization(axis=[-2, -1], scale=False), (4, 5, 6), True),
    (lambda: LayerNormalization(axis=1), (4, 5, 6), False),
    (lambda: LayerNormalization(axis=[1, 3]), (4, 5, 6), False),
    (lambda: GroupNormalization(2), (4, 5, 6), True),
    (lambda: GroupNormalization(2, axis=1), (4, 5, 6), True),
    (lambda: GroupNormalization(5, axis=2), (4, 5, 6), False),
    (lambda: GroupNormalization(3), (6,), True),
])
def test_steps_match_the_plain_layers(make, shape, takes):
    layer = make()
    layer.dtype = np.dtype("float64")
    layer.build(shape)
    for w in layer.params.values():
        w[...] = np.random.default_rng(2).standard_normal(w.shape)
    step_cls = steps.STEPS[type(layer)]
    assert step_cls.takes(layer) == takes
    if not takes:
        return
    rng = np.random.default_rng(3)
    x, dy = rng.standard_normal((3, *shape)) + 0.5, rng.standard_normal((3, *shape))
    y, cache = layer.forward(x, training=True)
    dx, grads = layer.backward(dy, cache)
    step = step_cls(layer)
    got_y, got_cache = step.forward(x, True)
    got_dx, got_grads = step.backward(dy, got_cache)
    assert_close([got_y, got_dx, *got_grads], [y, dx, *layer.trainable_gradients(grads)])
    assert np.array_equal(step.forward(x, False)[0], got_y) and step.forward(x, False)[1] is None
    step.need_dx = False
    assert step.backward(dy, step.forward(x, True)[1])[0] is None


def test_the_fast_path_runs_them_and_trains_as_the_plain_path():
    def model():
        minicnn.utils.set_random_seed(4)
        m = Sequential([LayerNormalization(input_shape=(6, 6, 4)), Conv2D(4, 3), GroupNormalization(2),
                        Flatten(), LayerNormalization(axis=-1)])
        m.compile(optimizer="sgd", loss="mse")
        return m
    x = np.random.default_rng(5).standard_normal((8, 6, 6, 4)).astype(np.float32)
    y = np.random.default_rng(6).standard_normal((8, 64)).astype(np.float32)
    plain_model, fast_model = model(), model()
    minicnn.set_fast_path(False)
    try:
        plain_model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    finally:
        minicnn.set_fast_path(True)
    fast_model.fit(x, y, epochs=2, batch_size=4, verbose=0, shuffle=False)
    kinds = [type(s).__name__ for s in fast_model._plan().steps]
    assert kinds.count("FastLayerNormalization") == 2 and "FastGroupNormalization" in kinds
    for a, b in zip(plain_model.get_weights(), fast_model.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-4, atol=2e-5)
