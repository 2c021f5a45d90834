"""The CPU's transposed convolution: :mod:`minicnn.nn.conv_transpose` tuned for two cores and their caches.

The same arithmetic as the plain op (the adjoint of Conv2D: a product, then col2im), organised as
:mod:`minicnn.cpu.conv` organises Conv2D (measured in benchmarks/bench_conv_layers.py):

- the batch in chunks of a few samples on the worker threads, so the product's output (KH*KW
  times the input's size) is summed onto the pixels while it is in cache, into a reused buffer;
- with stride 1 the forward is one product of the flipped kernel over the padded input's
  patches (:func:`minicnn.cpu.conv._input_grad_stride1`), with no scatter-adds at all;
- the backward builds each chunk's patches of dy once, for both dx = cols @ W and dW = cols.T @ x.

Undilated only, as the tuned Conv2D. Tested against the plain op in tests/cpu/test_conv_transpose.py.
"""
from typing import NamedTuple

import numpy as np

from minicnn.cpu.conv import _input_grad_stride1, chunk_size, patch_matrix
from minicnn.cpu.threads import run_chunks, sum_in_order
from minicnn.cpu.workspace import for_thread, scratch
from minicnn.nn.conv_transpose import conv_transpose_geometry


class TransposeCache(NamedTuple):
    """What :func:`conv2d_transpose_backward` needs from the forward."""
    x: object            # the input (N, H, W, C)
    Wk: object           # (KH, KW, F, C)
    has_bias: bool
    strides: tuple
    pads: tuple          # the pads of the Conv2D this is the adjoint of
    step: int            # samples per chunk


def scatter_into(dcols, out, KH, KW, strides, pads, ws):
    """col2im of one chunk: dcols (n*H*W, KH*KW*F) summed into out (n, OH, OW, F) through a zeroed,
    padded buffer of ``ws``; each kernel offset adds one strided plane."""
    n, OH, OW, F = out.shape
    (sh, sw), ((pt, pb), (pl, pr)) = strides, pads
    buf = scratch(ws, "padded_out", (n, OH + pt + pb, OW + pl + pr, F), out.dtype)
    buf.fill(0)
    H = (OH + pt + pb - KH) // sh + 1
    W = (OW + pl + pr - KW) // sw + 1
    d6 = dcols.reshape(n, H, W, KH, KW, F)
    for kh in range(KH):
        for kw in range(KW):
            buf[:, kh:kh + sh * (H - 1) + 1:sh, kw:kw + sw * (W - 1) + 1:sw] += d6[:, :, :, kh, kw]
    out[...] = buf[:, pt:pt + OH, pl:pl + OW]


def conv2d_transpose_forward(x, Wk, b, strides=(1, 1), padding="valid", output_padding=None, ws=None):
    """y (N, OH, OW, F) = conv_transpose(x (N, H, W, C), Wk (KH, KW, F, C)) + b (F,) or None, chunk by
    chunk on the workers (undilated; sizes as :mod:`minicnn.nn.conv_transpose`). Returns y and the cache."""
    N, H, W, C = x.shape
    KH, KW, F, _ = Wk.shape
    (OH, OW), pads = conv_transpose_geometry(x.shape, KH, KW, strides, padding, output_padding)
    y = np.empty((N, OH, OW, F), dtype=x.dtype)
    step = chunk_size(N, H * W * KH * KW * F * x.itemsize)
    stride1 = strides == (1, 1)
    # Stride 1: the Conv2D input gradient of cpu.conv, one product over the flipped kernel.
    kernel = Wk[::-1, ::-1].transpose(0, 1, 3, 2).copy() if stride1 else Wk.reshape(KH * KW * F, C).T.copy()

    def chunk(lo, hi, t):
        wst = for_thread(ws, t)
        if stride1:
            _input_grad_stride1(x[lo:hi], kernel, pads, wst, out=y[lo:hi])
        else:
            dcols = scratch(wst, "dcols", ((hi - lo) * H * W, KH * KW * F), x.dtype)
            np.matmul(x[lo:hi].reshape(-1, C), kernel, out=dcols)
            scatter_into(dcols, y[lo:hi], KH, KW, strides, pads, wst)
        if b is not None:
            y[lo:hi] += b
    run_chunks(chunk, N, step)
    return y, TransposeCache(x, Wk, b is not None, strides, pads, step)


def conv2d_transpose_backward(dy, cache, need_dx=True, ws=None):
    """Gradients of :func:`conv2d_transpose_forward` given dy (N, OH, OW, F): each chunk's patches of
    dy, built once, give dx = cols @ W and the chunk's dW = cols.T @ x.

    Returns:
        dx (N, H, W, C) or None (``need_dx`` False), dW (KH, KW, F, C), db (F,) or None.
    """
    x, Wk, has_bias, strides, pads, step = cache
    N, H, W, C = x.shape
    KH, KW, F, _ = Wk.shape
    W2 = Wk.reshape(KH * KW * F, C)
    dx = np.empty(x.shape, dtype=dy.dtype) if need_dx else None

    def chunk(lo, hi, t):
        cols = patch_matrix(dy[lo:hi], KH, KW, strides, pads, (H, W), for_thread(ws, t))
        if need_dx:
            np.matmul(cols, W2, out=dx[lo:hi].reshape(-1, C))
        return cols.T @ x[lo:hi].reshape(-1, C), (dy[lo:hi].sum(axis=(0, 1, 2)) if has_bias else None)
    parts = run_chunks(chunk, N, step)
    # Summed in chunk order: the same result whatever the number of threads.
    dW = sum_in_order([p[0] for p in parts]).reshape(Wk.shape)
    return dx, dW, (sum_in_order([p[1] for p in parts]) if has_bias else None)
