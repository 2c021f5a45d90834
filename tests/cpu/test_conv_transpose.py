"""The CPU's tuned transposed convolution against the plain op, on configurations hypothesis draws
(undilated, as the tuned step takes them), in chunks of a few samples with the workspace reused,
and the tuned step against the plain layer."""
import numpy as np
from hypothesis import given, strategies as st

import minicnn.cpu.conv as fast_conv
import minicnn.cpu.conv_transpose as fast
from minicnn.cpu.workspace import Workspace
from minicnn.nn import conv_transpose as plain

from nn.test_conv_transpose import transpose_configs


def assert_all_close(got, want):
    for g, w in zip(got, want):
        assert (g is None) == (w is None)
        if w is not None:
            assert g.shape == w.shape
            np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-10)


@given(transpose_configs(), st.integers(1, 3), st.booleans())
def test_matches_the_plain_op(cfg, chunk, need_dx):
    N, H, W, C, KH, KW, F, strides, padding, output_padding, _, bias = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N + 2, H, W, C))
    Wk = rng.standard_normal((KH, KW, F, C))
    b = rng.standard_normal(F) if bias else None
    y, cache = plain.conv2d_transpose_forward(x, Wk, b, strides, padding, output_padding)
    dy = rng.standard_normal(y.shape)
    want = plain.conv2d_transpose_backward(dy, cache)
    saved = fast_conv.CHUNK_BYTES
    try:
        fast_conv.CHUNK_BYTES = chunk * H * W * KH * KW * F * x.itemsize  # chunks of `chunk` samples
        ws = Workspace()
        for _ in range(2):  # the second pass reuses the workspace's buffers
            got_y, fcache = fast.conv2d_transpose_forward(x, Wk, b, strides, padding, output_padding, ws=ws)
            np.testing.assert_allclose(got_y, y, rtol=1e-10, atol=1e-10)
            got = fast.conv2d_transpose_backward(dy, fcache, need_dx=need_dx, ws=ws)
            assert_all_close(got, (want[0] if need_dx else None, *want[1:]))
    finally:
        fast_conv.CHUNK_BYTES = saved


@given(st.sampled_from(["relu", "linear", "sigmoid"]), st.booleans(), st.sampled_from([(1, 1), (2, 2), (2, 1)]),
       st.sampled_from(["valid", "same"]))
def test_step_matches_the_plain_layer(activation, use_bias, strides, padding):
    from minicnn.cpu import steps
    from minicnn.layers import Conv2DTranspose
    layer = Conv2DTranspose(3, 3, strides=strides, padding=padding, activation=activation, use_bias=use_bias,
                            dtype="float64", bias_initializer="random_normal")
    rng = np.random.default_rng(1)
    x = rng.standard_normal((5, 4, 3, 2))
    layer.build(x.shape[1:])
    step = steps.STEPS[Conv2DTranspose](layer)
    assert type(step).takes(layer)
    y, cache = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    got_y, got_cache = step.forward(x, True)
    got_dx, got_grads = step.backward(dy.copy(), got_cache)
    assert_all_close((got_y, got_dx, *got_grads), (y, dx, *layer.trainable_gradients(grads)))


def test_dilated_or_channels_first_layers_keep_the_plain_path():
    from minicnn.cpu import steps
    from minicnn.layers import Conv2DTranspose
    assert not steps.STEPS[Conv2DTranspose].takes(Conv2DTranspose(2, 3, dilation_rate=2))
    assert not steps.STEPS[Conv2DTranspose].takes(Conv2DTranspose(2, 3, data_format="channels_first"))
