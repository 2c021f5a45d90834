"""The CPU's tuned convolution against the plain op: chunks, reused buffers, the bias in the
product, ReLU and a max pool inside, the flipped-kernel input gradient, ReLU derivatives applied
before and after, and thread counts."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import minicnn.cpu.conv as fast
from minicnn.cpu import threads
from minicnn.cpu.workspace import Workspace
from minicnn.nn import conv as plain
from minicnn.nn import pooling as plain_pooling

from cpu.test_threads import alone_and_at_once, blas_set_by_the_main_thread, n_threads  # noqa: F401 (fixtures)
from nn.test_conv import conv_configs


def relu_grad(dy, y):
    return dy * (y > 0)


@given(conv_configs(), st.integers(1, 3), st.booleans(), st.booleans(), st.booleans())
def test_matches_the_plain_op(cfg, chunk, relu, relu_applied, input_relu):
    # Chunks of a few samples exercise the chunk boundaries and the workspace's reuse.
    N, H, W, C, KH, KW, F, strides, padding, bias = cfg
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N + 2, H, W, C))
    Wk = rng.standard_normal((KH, KW, C, F))
    b = rng.standard_normal(F) if bias else None
    z, cache = plain.conv2d_forward(x, Wk, b, strides, padding)
    want_y = np.maximum(z, 0) if relu else z
    dy = rng.standard_normal(z.shape)
    dz = relu_grad(dy, z) if relu and not relu_applied else dy
    dx, dW, db = plain.conv2d_backward(dz, cache)
    if input_relu:
        dx = relu_grad(dx, x)
    saved = fast.CHUNK_BYTES
    try:
        fast.CHUNK_BYTES = chunk * z[0].size * KH * KW * C * x.itemsize // F
        ws = Workspace()
        for _ in range(2):  # the second pass reuses the workspace's buffers
            y, fcache = fast.conv2d_forward(x, Wk, b, strides, padding, relu=relu, ws=ws)
            np.testing.assert_allclose(y, want_y, rtol=1e-10, atol=1e-10)
            got = fast.conv2d_backward(dy, fcache, ws=ws, relu_applied=relu_applied, input_relu=input_relu)
            for g, e in zip(got, (dx, dW, db)):
                assert (g is None) == (e is None)
                if e is not None:
                    np.testing.assert_allclose(g, e, rtol=1e-10, atol=1e-10)
    finally:
        fast.CHUNK_BYTES = saved
    assert fast.conv2d_backward(dy, fcache, need_dx=False)[0] is None


@pytest.mark.parametrize("relu", [True, False])
@pytest.mark.parametrize("pool, strides", [((2, 2), (2, 2)), ((2, 2), (1, 1)), ((3, 3), (2, 2)), ((2, 3), (2, 1))])
def test_fused_max_pool_matches_the_plain_conv_then_pool(relu, pool, strides, monkeypatch):
    # A 9x9 conv output: the last row and column are outside every 2x2 window.
    monkeypatch.setattr(fast, "CHUNK_BYTES", 16 << 10)
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 11, 11, 2))
    Wk, b = rng.standard_normal((3, 3, 2, 4)), rng.standard_normal(4)
    z, ccache = plain.conv2d_forward(x, Wk, b)
    p, pcache = plain_pooling.maxpool2d_forward(z, pool, strides)
    want = np.maximum(p, 0) if relu else p
    dy = rng.standard_normal(p.shape)
    dx, dW, db = plain.conv2d_backward(plain_pooling.maxpool2d_backward(relu_grad(dy, p) if relu else dy, pcache),
                                       ccache)
    y, cache = fast.conv2d_forward(x, Wk, b, relu=relu, ws=Workspace(), pool=(pool, strides))
    np.testing.assert_allclose(y, want, rtol=1e-12, atol=1e-12)
    for g, e in zip(fast.conv2d_backward(dy, cache, ws=Workspace()), (dx, dW, db)):
        np.testing.assert_allclose(g, e, rtol=1e-12, atol=1e-12)
    inference, none = fast.conv2d_forward(x, Wk, b, relu=relu, ws=Workspace(), pool=(pool, strides), training=False)
    assert none is None and np.array_equal(inference, y)


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(fast, "CHUNK_BYTES", 32 << 10)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((13, 9, 9, 3)).astype(np.float32)
    Wk = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    dy = rng.standard_normal((13, 9, 9, 4)).astype(np.float32)
    outs = []
    try:
        for n in (1, 2, 3):
            threads.set_num_threads(n)
            y, cache = fast.conv2d_forward(x, Wk, b, padding="same", relu=True, ws=Workspace())
            outs.append((y, *fast.conv2d_backward(dy, cache, ws=Workspace())))
    finally:
        threads.set_num_threads(threads.default_num_threads())
    for other in outs[1:]:
        for a, b_ in zip(outs[0], other):
            assert np.array_equal(a, b_)


def test_results_do_not_depend_on_threads_or_other_calls(n_threads, blas_set_by_the_main_thread):
    # The default chunks: a small batch is cut by its size, never by the worker count, and each
    # chunk's product (1,600 x 55 x 8) is large enough for a BLAS to cut among its threads.
    rng = np.random.default_rng(6)
    x = rng.standard_normal((32, 12, 12, 6), dtype=np.float32)
    Wk = rng.standard_normal((3, 3, 6, 8), dtype=np.float32)
    b = rng.standard_normal(8, dtype=np.float32)
    dy = rng.standard_normal((32, 5, 5, 8), dtype=np.float32)

    def call():
        with threads.cpu_threads():
            y, cache = fast.conv2d_forward(x, Wk, b, relu=True, ws=Workspace(), pool=((2, 2), (2, 2)))
            return (y, *fast.conv2d_backward(dy, cache, ws=Workspace()))
    first, *others = alone_and_at_once(call, n_threads)
    for other in others:
        for a, b_ in zip(first, other):
            assert np.array_equal(a, b_)


def test_zero_padded_buffers_keep_their_border_across_geometries():
    # One workspace, several geometries and chunk sizes in turn: every padded copy must equal
    # np.pad's, although each buffer's border is written only when it is allocated.
    ws = Workspace()
    rng = np.random.default_rng(8)
    for N, H, W, pads in [(3, 5, 5, ((1, 1), (1, 1))), (2, 5, 5, ((1, 1), (1, 1))),
                          (3, 5, 5, ((0, 2), (0, 2))), (4, 6, 4, ((1, 1), (1, 1))), (3, 5, 5, ((1, 1), (1, 1)))]:
        x = rng.standard_normal((N, H, W, 2))
        got = fast.zero_padded(x, pads, ws, "p")
        np.testing.assert_array_equal(got, np.pad(x, ((0, 0), *pads, (0, 0))))
