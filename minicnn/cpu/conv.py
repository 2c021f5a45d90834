"""The CPU's convolution: :mod:`minicnn.nn.conv` tuned for two cores and their caches.

The same arithmetic as the plain op, organised for the machine (each piece measured; see
benchmarks/RESULTS.md):

- the batch goes in chunks of a few samples whose patch matrix stays in cache from the copy that
  builds it to the product that reads it, chunks spread over the worker threads (cpu.threads);
- the patches are one copy of a strided window view into a reused buffer (cpu.workspace), built
  transposed when a kernel row holds few floats;
- the bias rides in the product (a ones column in the patches; db is dW's last row);
- ReLU, and a following "valid" max pool, run on each chunk's output while it is in cache;
- the input gradient of a stride-1 convolution is one product of the flipped kernel over the
  padded output gradient's patches, not col2im's KH*KW scatter-adds.

Tested against the plain op in tests/cpu/test_conv.py.
"""
from typing import NamedTuple

import numpy as np

from minicnn.cpu import pooling
from minicnn.cpu.threads import run_chunks, split, sum_in_order
from minicnn.cpu.workspace import for_thread, scratch
from minicnn.nn.activations import relu_backward
from minicnn.nn.conv import col2im, conv_geometry
from minicnn.nn.geometry import pad_nhwc


# Patches whose rows hold fewer floats than this per kernel row (KW*C: 3 for MNIST's first layer)
# are built transposed: copying 3-float runs costs 9x more than copying whole image rows.
TRANSPOSE_BELOW = 16


def patch_matrix(x, KH, KW, strides, pads, out_hw, ws=None, ones_column=False, name="cols"):
    """The patch matrix A (N*OH*OW, KH*KW*C [+ 1]) of x (N, H, W, C). ``ones_column`` appends ones, so
    ``A @ [[W2], [b]]`` adds the bias and ``A.T @ dY`` gives db as dW's last row, with no pass of their own.
    For few channels (``KW*C < TRANSPOSE_BELOW``) the buffer is (K, M), a contiguous plane per kernel
    offset and channel, and A its transpose: a view BLAS reads as it is, at the same cost."""
    N, H, W, C = x.shape
    sh, sw = strides
    OH, OW = out_hw
    (pt, pb), (pl, pr) = pads
    if pt or pb or pl or pr:
        x = zero_padded(x, pads, ws, name + "_pad")
    K, M = KH * KW * C, N * OH * OW
    Kb = K + 1 if ones_column else K
    if KW * C < TRANSPOSE_BELOW:
        buf = scratch(ws, name + "_t", (Kb, N, OH, OW), x.dtype)
        for kh in range(KH):
            for kw in range(KW):
                k = (kh * KW + kw) * C
                plane = x[:, kh:kh + sh * (OH - 1) + 1:sh, kw:kw + sw * (OW - 1) + 1:sw]
                np.copyto(buf[k:k + C], plane.transpose(3, 0, 1, 2))
        if ones_column:
            buf[K] = 1
        return buf.reshape(Kb, M).T
    cols = scratch(ws, name, (M, Kb), x.dtype)
    # One copy of the strided window view: the only pass over the patch data. Rows are Kb long,
    # so the view of the first K columns as (N, OH, OW, KH, KW, C) is built from strides.
    s = cols.itemsize
    target = strided(cols, (N, OH, OW, KH, KW, C),
                     (OH * OW * Kb * s, OW * Kb * s, Kb * s, KW * C * s, C * s, s))
    np.copyto(target, window_view(x, KH, KW, sh, sw, OH, OW))
    if ones_column:
        cols[:, K] = 1
    return cols


# Samples per chunk: the patch matrix of one chunk (about CHUNK_BYTES) stays in cache from
# the copy that builds it to the matrix product that reads it.
CHUNK_BYTES = 2 << 20


def chunk_size(N, per_sample_bytes):
    """How many samples to process at once: a cache-sized chunk, and at least ``threads.PARTS`` chunks
    (never the worker count: the chunks decide the rounding)."""
    return max(1, min(N, CHUNK_BYTES // max(1, per_sample_bytes), split(N)))


class ConvCache(NamedTuple):
    """What :func:`conv2d_backward` needs from the forward."""
    x: object            # the input (N, H, W, C)
    y: object            # the output the ReLU mask comes from (pooled when pool), or None
    Wk: object
    has_bias: bool
    strides: tuple
    padding: str
    pads: tuple
    out_hw: tuple        # the convolution's (OH, OW), before any pooling
    step: int            # samples per chunk
    pool: object         # (pool_size, pool_strides, argmax) when a max pool was fused, else None


def conv2d_forward(x, Wk, b, strides=(1, 1), padding="valid", relu=False, ws=None, pool=None,
                   training=True):
    """y = conv(x, Wk) + b, optionally followed by ReLU and a max pool, chunk by chunk over the batch.

    x (N, H, W, C), Wk (KH, KW, C, F), b (F,) or None. ``relu``: max(., 0) in place while each chunk's
    output is in cache. ``ws``: a Workspace of reused buffers. ``pool``: ``(pool_size, pool_strides)`` of a
    "valid" max pool applied to each chunk's output in cache (the full-size output is never stored; ReLU
    runs on the pooled values). ``training`` False: no cache (None returned), no argmax kept.
    Returns y (N, OH, OW, F) (pooled: (N, OH', OW', F)) and the cache :func:`conv2d_backward` needs.
    """
    N, H, W, C = x.shape
    KH, KW, _, F = Wk.shape
    (OH, OW), pads = conv_geometry(x.shape, KH, KW, strides, padding)
    W2 = Wk.reshape(KH * KW * C, F)
    if b is not None:
        W2 = np.concatenate([W2, b.reshape(1, F)])
    step = chunk_size(N, OH * OW * KH * KW * C * x.itemsize)
    if pool is not None:
        pool_size, pool_strides = pool
        (PH, PW), _ = pooling.pool_geometry((N, OH, OW, F), pool_size, pool_strides, "valid")
        y = np.empty((N, PH, PW, F), dtype=x.dtype)
        arg = np.empty(y.shape, dtype=pooling.argmax_dtype(pool_size)) if training else None
    else:
        y = np.empty((N, OH, OW, F), dtype=x.dtype)

    def chunk(lo, hi, t):
        wst = for_thread(ws, t)
        cols = patch_matrix(x[lo:hi], KH, KW, strides, pads, (OH, OW), wst, b is not None)
        out = y[lo:hi] if pool is None else scratch(wst, "conv_out", (hi - lo, OH, OW, F), x.dtype)
        yc = out.reshape(-1, F)
        np.matmul(cols, W2, out=yc)
        if pool is not None:
            pooling.maxpool_into(out, y[lo:hi], None if arg is None else arg[lo:hi], pool_size, pool_strides,
                                 ((0, 0), (0, 0)))
            yc = y[lo:hi]
        if relu:
            np.maximum(yc, 0, out=yc)
    run_chunks(chunk, N, step)
    if not training:
        return y, None
    # Keep x, not the patches: rebuilding a chunk's patches in backward is one cheap copy,
    # keeping all of them would cost KH*KW times the input's memory.
    cache = ConvCache(x, y if relu else None, Wk, b is not None, strides, padding, pads, (OH, OW), step,
                      None if pool is None else (pool_size, pool_strides, arg))
    return y, cache


def conv2d_backward(dy, cache, need_dx=True, ws=None, relu_applied=False, input_relu=False):
    """Gradients of :func:`conv2d_forward`.

    Args:
        dy: (N, OH, OW, F) gradient of the output (of the pooled output when a pool was fused).
        need_dx: False skips the input gradient (the first layer of a model needs none).
        relu_applied: dy is already the gradient before the fused ReLU (the next step applied it).
        input_relu: x is a ReLU's output: return dx * (x > 0), the gradient at that ReLU's input,
            while each chunk of dx is in cache.
    Returns:
        dx (N, H, W, C) or None, dW (KH, KW, C, F), db (F,) or None.
    """
    x, y, Wk, has_bias, strides, padding, pads, (OH, OW), step, pool = cache
    KH, KW, C, F = Wk.shape
    K = KH * KW * C
    dx = np.empty(x.shape, dtype=dy.dtype) if need_dx else None
    mask_output = y is not None and not relu_applied
    Wflip = Wk[::-1, ::-1].transpose(0, 1, 3, 2).copy() if need_dx and strides == (1, 1) else None

    def chunk(lo, hi, t):
        """This chunk's dW contribution ((K [+ 1], F), db as the last row); writes dx[lo:hi]."""
        wst = for_thread(ws, t)
        dz = dy[lo:hi]
        if mask_output:
            dz = _relu_grad(dz, y[lo:hi], wst, "dz")
        if pool is not None:
            dz = _unpool(dz, pool[0], pool[1], pool[2][lo:hi], (OH, OW), wst)
        dz2 = dz.reshape(-1, F)
        cols = patch_matrix(x[lo:hi], KH, KW, strides, pads, (OH, OW), wst, has_bias)
        dW_c = cols.T @ dz2
        if need_dx:
            dxc = dx[lo:hi]
            if strides == (1, 1):
                _input_grad_stride1(dz, Wflip, pads, wst, out=dxc)
            else:
                dxc[...] = col2im(dz2 @ Wk.reshape(K, F).T, dxc.shape, KH, KW, strides, padding)
            if input_relu:
                _relu_grad(dxc, x[lo:hi], wst, "dx", out=dxc)
        return dW_c
    # Summed in chunk order: the same result whatever the number of threads.
    dW = sum_in_order(run_chunks(chunk, N=dy.shape[0], step=step))
    db = dW[K].copy() if has_bias else None
    return dx, dW[:K].reshape(KH, KW, C, F), db


def _unpool(dy, pool_size, pool_strides, arg, out_hw, ws):
    """The conv output's gradient (n, OH, OW, F) from its max pool's dy and argmax (n, OH', OW', F)."""
    n, F = dy.shape[0], dy.shape[3]
    dz = scratch(ws, "dz_unpooled", (n, *out_hw, F), dy.dtype)
    if not pooling.tiles_exactly(out_hw, dy.shape[1:3], pool_size, pool_strides):
        dz.fill(0)
    pooling.maxpool_grad_into(dy, arg, dz, pool_size, pool_strides)
    return dz


def _relu_grad(dy, y, ws, name, out=None):
    """relu_backward into ``ws``'s buffers (or ``out``)."""
    if out is None:
        out = scratch(ws, name + "_relu", dy.shape, dy.dtype)
    return relu_backward(dy, y, out=out, mask=scratch(ws, name + "_mask", dy.shape, bool))


def zero_padded(x, pads, ws, name):
    """x (N, H, W, C) padded with zeros by ``pads``, in a buffer of ``ws`` (a new array without).

    The zero border is written once, at allocation; after that only the interior is copied. The
    name carries the geometry, so a buffer only ever serves one (smaller chunks use its start)."""
    if ws is None:
        return pad_nhwc(x, pads)
    (pt, pb), (pl, pr) = pads
    N, H, W, C = x.shape
    shape = (N, H + pt + pb, W + pl + pr, C)
    out = ws.get(f"{name}{shape[1:]}{pads}", shape, x.dtype, fill=0)
    out[:, pt:pt + H, pl:pl + W] = x
    return out


def _input_grad_stride1(dz, Wflip, pads, ws, out):
    """dx of a stride-1 convolution, as a convolution of padded dz with the flipped kernel,
    written into ``out`` (N, H, W, C).

    One patch copy and one GEMM with a long inner dimension (KH*KW*F) instead of a GEMM
    with inner dimension F followed by KH*KW strided scatter-adds (col2im).

    Args:
        Wflip: (KH, KW, F, C) with Wflip[kh, kw, f, c] = Wk[KH-1-kh, KW-1-kw, c, f].
    """
    N, H, W, C = out.shape
    KH, KW, F, _ = Wflip.shape
    _, OH, OW, _ = dz.shape
    (pt, _), (pl, _) = pads
    before_h, before_w = KH - 1 - pt, KW - 1 - pl
    after_h, after_w = H + KH - 1 - OH - before_h, W + KW - 1 - OW - before_w
    dzp = zero_padded(dz, ((before_h, after_h), (before_w, after_w)), ws, "dz_pad")
    cols = scratch(ws, "dz_cols", (N * H * W, KH * KW * F), dz.dtype)
    np.copyto(cols.reshape(N, H, W, KH, KW, F), window_view(dzp, KH, KW, 1, 1, H, W))
    np.matmul(cols, Wflip.reshape(KH * KW * F, C), out=out.reshape(N * H * W, C))


def window_view(xpad, KH, KW, sh, sw, OH, OW):
    """A strided view (N, OH, OW, KH, KW, C) of the windows of a padded x (N, Hp, Wp, C); no copy."""
    N, _, _, C = xpad.shape
    sN, sH, sW, sC = xpad.strides
    view = strided(xpad, (N, OH, OW, KH, KW, C), (sN, sH * sh, sW * sw, sH, sW, sC))
    view.flags.writeable = False  # windows overlap: writing through them would be a bug
    return view


def strided(a, shape, strides):
    """A view of a's memory with the given shape and strides (bytes). An ndarray on the buffer costs
    1 us against as_strided's 6: a step makes hundreds, holding the GIL the workers share."""
    if a.flags.c_contiguous:
        return np.ndarray(shape, a.dtype, a, 0, strides)
    return np.lib.stride_tricks.as_strided(a, shape=shape, strides=strides)
