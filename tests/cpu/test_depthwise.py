"""The CPU's tuned depthwise and separable convolutions against the plain ops, on configurations
hypothesis draws: strides, paddings, dilations and multipliers, in chunks of a few samples, with
the workspace's buffers reused, and without the input gradient."""
import numpy as np
from hypothesis import given, strategies as st

import minicnn.cpu.conv as fast_conv
import minicnn.cpu.depthwise as fast
from minicnn.cpu.workspace import Workspace
from minicnn.nn import depthwise as plain

from nn.test_depthwise import depthwise_configs


def assert_all_close(got, want):
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if w is not None:
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


def arrays(cfg, seed, extra=2):
    N, H, W, C, KH, KW, M, *_, bias = cfg
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N + extra, H, W, C)), rng.standard_normal((KH, KW, C, M)),
            rng.standard_normal(C * M) if bias else None, rng)


@given(depthwise_configs(), st.integers(1, 3), st.booleans())
def test_depthwise_matches_the_plain_op(cfg, chunk, need_dx):
    *_, strides, padding, dilation, _ = cfg
    x, Wk, b, rng = arrays(cfg, 0)
    y, cache = plain.depthwise_conv2d_forward(x, Wk, b, strides, padding, dilation)
    dy = rng.standard_normal(y.shape)
    want = plain.depthwise_conv2d_backward(dy, cache)
    saved = fast_conv.CHUNK_BYTES
    try:
        fast_conv.CHUNK_BYTES = chunk * (x[0].size + y[0].size) * 4 * Wk.shape[3]  # chunks of about `chunk` samples
        ws = Workspace()
        for _ in range(2):  # the second pass reuses the workspace's buffers
            got_y, fcache = fast.depthwise_conv2d_forward(x, Wk, b, strides, padding, dilation, ws=ws)
            np.testing.assert_allclose(got_y, y, rtol=1e-10, atol=1e-10)
            got = fast.depthwise_conv2d_backward(dy, fcache, need_dx=need_dx, ws=ws)
            assert_all_close(got, (want[0] if need_dx else None, *want[1:]))
    finally:
        fast_conv.CHUNK_BYTES = saved


@given(depthwise_configs(), st.integers(1, 4), st.booleans())
def test_separable_matches_the_plain_op(cfg, F, need_dx):
    *_, strides, padding, dilation, bias = cfg
    x, Wd, _, rng = arrays(cfg, 1)
    Wp = rng.standard_normal((1, 1, Wd.shape[2] * Wd.shape[3], F))
    b = rng.standard_normal(F) if bias else None
    y, cache = plain.separable_conv2d_forward(x, Wd, Wp, b, strides, padding, dilation)
    dy = rng.standard_normal(y.shape)
    want = plain.separable_conv2d_backward(dy, cache)
    ws = Workspace()
    got_y, fcache = fast.separable_conv2d_forward(x, Wd, Wp, b, strides, padding, dilation, ws=ws)
    np.testing.assert_allclose(got_y, y, rtol=1e-10, atol=1e-10)
    got = fast.separable_conv2d_backward(dy, fcache, need_dx=need_dx, ws=ws)
    assert_all_close(got, (want[0] if need_dx else None, *want[1:]))


def test_float32_in_float32_out_and_a_non_contiguous_input():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((3, 4, 6, 5)).astype(np.float32).transpose(0, 2, 1, 3)  # (3, 6, 4, 5), a view
    Wk = rng.standard_normal((3, 3, 5, 2)).astype(np.float32)
    y, cache = fast.depthwise_conv2d_forward(x, Wk, None, (2, 1), "same")
    dx, dW, _ = fast.depthwise_conv2d_backward(y, cache)
    want_y, plain_cache = plain.depthwise_conv2d_forward(x, Wk, None, (2, 1), "same")
    np.testing.assert_allclose(y, want_y, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(dx, plain.depthwise_conv2d_backward(want_y, plain_cache)[0], rtol=1e-4, atol=1e-4)
    assert {a.dtype for a in (y, dx, dW)} == {np.dtype(np.float32)}


@given(st.sampled_from(["relu", "linear", "tanh"]), st.booleans(), st.booleans(), st.integers(1, 2),
       st.sampled_from([(1, 1), (2, 2)]))
def test_steps_match_the_plain_layers(activation, separable, use_bias, multiplier, strides):
    from minicnn.cpu import steps
    from minicnn.layers import DepthwiseConv2D, SeparableConv2D
    common = dict(strides=strides, padding="same", depth_multiplier=multiplier, activation=activation,
                  use_bias=use_bias, dtype="float64", bias_initializer="random_normal")
    layer = SeparableConv2D(3, 3, **common) if separable else DepthwiseConv2D(3, **common)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((5, 6, 7, 2))
    layer.build(x.shape[1:])
    step = steps.STEPS[type(layer)](layer)
    assert type(step).takes(layer)
    y, cache = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    got_y, got_cache = step.forward(x, True)
    got_dx, got_grads = step.backward(dy.copy(), got_cache)
    assert_all_close((got_y, got_dx, *got_grads), (y, dx, *layer.trainable_gradients(grads)))


def test_a_model_trains_on_the_tuned_steps():
    from minicnn import Sequential
    from minicnn.cpu import steps
    from minicnn.layers import DepthwiseConv2D, Flatten, Dense, SeparableConv2D
    model = Sequential([SeparableConv2D(4, 3, padding="same", activation="relu", input_shape=(8, 8, 3)),
                        DepthwiseConv2D(3, strides=2, activation="relu"), Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    x = np.random.default_rng(4).standard_normal((6, 8, 8, 3)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[[0, 1] * 3]
    history = model.fit(x, y, epochs=3, batch_size=6, verbose=0)
    kinds = [type(s) for s in model._plan().steps]
    assert steps.FastSeparableConv2D in kinds and steps.FastDepthwiseConv2D in kinds
    assert history.history["loss"][-1] < history.history["loss"][0]
