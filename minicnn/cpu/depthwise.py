"""The CPU's depthwise and separable convolutions: :mod:`minicnn.nn.depthwise` tuned for two cores.

The same arithmetic as the plain op, organised for the machine (measured in
benchmarks/bench_conv_layers.py):

- no patch matrix: each tap reads a strided view of the padded input, and one einsum per chunk
  sums the KH*KW taps of every output in one pass (the plain op's patches cost KH*KW copies);
- the padded input is laid out by column phase (padded column c at phase c % sw, position c // sw),
  so for any column stride sw the taps of one phase read whole contiguous rows: the einsum's
  innermost axis runs along an output row, OW*Q floats, with the kernel tiled along the row to
  match, instead of over the Q channels alone (2 to 4 times faster);
- dW: one einsum per tap over its view and dy; dx: the same tap sum with the flipped kernel over
  dy spread out by the strides (zeros between) and padded;
- the channels repeated M times (M = depth_multiplier) while the padded input is built, as the
  plain op does, so M = 1 is the only case;
- SeparableConv2D's 1x1 product runs on each chunk while the depthwise output is in cache;
- the batch in chunks of a few samples on the worker threads (cpu.threads), scratch in
  cpu.workspace.

Tested against the plain op in tests/cpu/test_depthwise.py.
"""
from typing import NamedTuple

import numpy as np

from minicnn.cpu.conv import chunk_size
from minicnn.cpu.threads import run_chunks, sum_in_order
from minicnn.cpu.workspace import for_thread, scratch
from minicnn.nn.conv import conv_geometry


class Geometry(NamedTuple):
    """What every chunk of one depthwise convolution shares."""
    KH: int
    KW: int
    M: int               # depth multiplier
    strides: tuple
    dilation: tuple
    pads: tuple          # ((pt, pb), (pl, pr))
    out_hw: tuple        # (OH, OW)
    step: int            # samples per chunk


def geometry(x_shape, Wk, strides, padding, dilation):
    N, H, W, C = x_shape
    KH, KW, _, M = Wk.shape
    out_hw, pads = conv_geometry(x_shape, KH, KW, strides, padding, dilation)
    (pt, pb), (pl, pr) = pads
    per_sample = ((H + pt + pb) * (W + pl + pr) + out_hw[0] * out_hw[1]) * C * M * 4
    return Geometry(KH, KW, M, strides, dilation, pads, out_hw, chunk_size(N, per_sample))


def phases(a, M, pads, sw, ws, name, gaps=(1, 1)):
    """The padded image a (n, H, W, C), its channels repeated M times, as a C-contiguous
    P (n, Hp, sw, Wq, C*M): padded column c is P[:, :, c % sw, c // sw]. Each column phase is then a
    contiguous run of whole rows, however large the column stride sw. ``gaps``: (gh, gw), the image
    spread with gh-1 and gw-1 zeros between its rows and columns first. The zeros are written once,
    when ``ws`` allocates the buffer (the same entries are overwritten every time)."""
    (pt, pb), (pl, pr) = pads
    gh, gw = gaps
    n, H, W, C = a.shape
    Hp, Wp = pt + (H - 1) * gh + 1 + pb, pl + (W - 1) * gw + 1 + pr
    shape = (n, Hp, sw, -(-Wp // sw), C, M)
    if ws is None:
        P = np.zeros(shape, a.dtype)
    else:
        P = ws.get(f"{name}{shape[1:]}{pads}{gaps}", shape, a.dtype, fill=0)
    rows = slice(pt, pt + (H - 1) * gh + 1, gh)
    for r in range(sw):  # the image columns w that land in phase r: (pl + w*gw) % sw == r
        w0 = next((w for w in range(min(W, sw)) if (pl + w * gw) % sw == r), None)
        if w0 is None:
            continue
        step = sw // np.gcd(gw, sw)  # image columns between two of phase r
        u0, du = (pl + w0 * gw) // sw, gw * step // sw
        count = len(range(w0, W, step))
        P[:, rows, r, u0:u0 + du * (count - 1) + 1:du] = a[:, :, w0::step, :, None]
    return P.reshape(n, Hp, sw, shape[3], C * M)


def row_kernels(Wq, KW, dw, sw, OW):
    """For each column phase r that has taps: (r, its taps js, Wq[:, js] tiled along an output row,
    (KH, len(js), OW*Q)), so that the kernel lines up with a whole row of OW*Q floats."""
    phases_taps = [(r, [j for j in range(KW) if (j * dw) % sw == r]) for r in range(sw)]
    return [(r, js, np.tile(Wq[:, js], (1, 1, OW))) for r, js in phases_taps if js]


def taps_sum(P, kernels, g, out_hw, sh, out, tmp=None):
    """out (n, OH, OW, Q) = sum over taps (i, j) of P at padded row oh*sh + i*dh, column
    ow*sw + j*dw, times the kernel's tap; P from :func:`phases` with sw phases, ``kernels`` from
    :func:`row_kernels`.

    One einsum per column phase, over the taps of that phase, whose innermost axis runs along a
    whole output row (OW*Q contiguous floats). Phases after the first are added through ``tmp``
    (n, OH, OW, Q)."""
    n, _, sw, _, Q = P.shape
    OH, OW = out_hw
    dh, dw = g.dilation
    sN, sH, sP, sU, sQ = P.strides
    for k, (r, js, kernel) in enumerate(kernels):
        # The taps of one phase are sw/g kernel columns apart, so dw/g phase columns (g = gcd(sw, dw)).
        u0, du = (js[0] * dw) // sw, dw // np.gcd(sw, dw)
        view = np.ndarray((n, OH, g.KH, len(js), OW * Q), P.dtype, P, r * sP + u0 * sU,
                          (sN, sH * sh, sH * dh, du * sU, sQ))
        np.einsum("nhijr,ijr->nhr", view, kernel, out=(tmp if k else out).reshape(n, OH, OW * Q))
        if k:
            out += tmp
    return out


def tap_view(P, i, j, g, out_hw, sh):
    """The (n, OH, OW*Q) view of P that tap (i, j) reads for the output rows (see :func:`taps_sum`)."""
    n, _, sw, _, Q = P.shape
    (OH, OW), (dh, dw) = out_hw, g.dilation
    sN, sH, sP, sU, sQ = P.strides
    r, u = (j * dw) % sw, (j * dw) // sw
    return np.ndarray((n, OH, OW * Q), P.dtype, P, i * dh * sH + r * sP + u * sU, (sN, sH * sh, sQ))


class DepthwiseCache(NamedTuple):
    """What :func:`depthwise_conv2d_backward` needs from the forward."""
    x: object
    Wk: object
    has_bias: bool
    geo: Geometry


def depthwise_chunks(x, Wk, geo, ws, y, then=None):
    """Write the depthwise convolution of x (N, H, W, C) by Wk (KH, KW, C, M) into y (N, OH, OW, C*M),
    chunk by chunk on the workers; ``then(lo, hi, t)`` runs on each chunk after it, in cache."""
    sh, sw = geo.strides
    kernels = row_kernels(Wk.reshape(geo.KH, geo.KW, -1), geo.KW, geo.dilation[1], sw, geo.out_hw[1])

    def chunk(lo, hi, t):
        wst = for_thread(ws, t)
        P = phases(x[lo:hi], geo.M, geo.pads, sw, wst, "x")
        tmp = scratch(wst, "phase_sum", y[lo:hi].shape, y.dtype) if len(kernels) > 1 else None
        taps_sum(P, kernels, geo, geo.out_hw, sh, y[lo:hi], tmp)
        return None if then is None else then(lo, hi, t)
    return run_chunks(chunk, x.shape[0], geo.step)


def depthwise_conv2d_forward(x, Wk, b, strides=(1, 1), padding="valid", dilation=(1, 1), ws=None):
    """y (N, OH, OW, C*M) = depthwise_conv(x (N, H, W, C), Wk (KH, KW, C, M)) + b (C*M,) or None,
    chunk by chunk; ``ws`` a Workspace of reused buffers. Returns y and the cache for the backward."""
    geo = geometry(x.shape, Wk, strides, padding, dilation)
    y = np.empty((x.shape[0], *geo.out_hw, Wk.shape[2] * geo.M), dtype=x.dtype)

    def add_bias(lo, hi, t):
        y[lo:hi] += b
    depthwise_chunks(x, Wk, geo, ws, y, None if b is None else add_bias)
    return y, DepthwiseCache(x, Wk, b is not None, geo)


def flipped_kernels(Wk, geo, W):
    """The row kernels (:func:`row_kernels`) of the input gradient: Wk (KH, KW, C, M) flipped, for
    rows of the input's width W."""
    KH, KW = geo.KH, geo.KW
    return row_kernels(Wk.reshape(KH, KW, -1)[::-1, ::-1], KW, geo.dilation[1], 1, W)


def depthwise_chunk_grads(x, dz, geo, flipped, ws, dx):
    """One chunk's dW (KH, KW, C, M) from x (n, H, W, C) and dz (n, OH, OW, C*M); writes dx
    (n, H, W, C) unless it is None, with ``flipped`` from :func:`flipped_kernels`."""
    n, H, W, C = x.shape
    KH, KW, M = geo.KH, geo.KW, geo.M
    (OH, OW), (sh, sw), (dh, dw), Q = geo.out_hw, geo.strides, geo.dilation, C * M
    dz = np.ascontiguousarray(dz)
    dz_rows = dz.reshape(n, OH, OW * Q)
    P = phases(x, M, geo.pads, sw, ws, "x")
    dW = np.empty((KH, KW, OW * Q), dz.dtype)
    for i in range(KH):  # a loop over taps only: each is one pass over its view and dz
        for j in range(KW):
            np.einsum("nhr,nhr->r", tap_view(P, i, j, geo, geo.out_hw, sh), dz_rows, out=dW[i, j])
    if dx is not None:
        # dx is the correlation of dz, spread by the strides (zeros between) and padded by the
        # flipped window's reach, with the flipped kernel: one stride-1 taps_sum over (H, W).
        (pt, _), (pl, _) = geo.pads
        EH, EW = (KH - 1) * dh + 1, (KW - 1) * dw + 1
        before_h, before_w = EH - 1 - pt, EW - 1 - pl
        after_h = H + EH - 1 - before_h - ((OH - 1) * sh + 1)
        after_w = W + EW - 1 - before_w - ((OW - 1) * sw + 1)
        Pdz = phases(dz, 1, ((before_h, after_h), (before_w, after_w)), 1, ws, "dz", gaps=(sh, sw))
        out = dx if M == 1 else scratch(ws, "dx_repeated", (n, H, W, Q), dx.dtype)
        taps_sum(Pdz, flipped, geo, (H, W), 1, out)
        if M > 1:  # sum the M repeats of each channel: M strided adds, each along whole rows
            repeats = out.reshape(n, H, W, C, M)
            np.add(repeats[..., 0], repeats[..., 1], out=dx)
            for m in range(2, M):
                dx += repeats[..., m]
    return dW.reshape(KH, KW, OW, Q).sum(axis=2).reshape(KH, KW, C, M)


def depthwise_conv2d_backward(dy, cache, need_dx=True, ws=None):
    """Gradients of :func:`depthwise_conv2d_forward` given dy (N, OH, OW, C*M).

    Returns:
        dx (N, H, W, C) or None (``need_dx`` False), dW (KH, KW, C, M), db (C*M,) or None.
    """
    x, Wk, has_bias, geo = cache
    dx = np.empty(x.shape, dtype=dy.dtype) if need_dx else None
    flipped = flipped_kernels(Wk, geo, x.shape[2]) if need_dx else None

    def chunk(lo, hi, t):
        dW = depthwise_chunk_grads(x[lo:hi], dy[lo:hi], geo, flipped, for_thread(ws, t),
                                   None if dx is None else dx[lo:hi])
        return dW, (dy[lo:hi].sum(axis=(0, 1, 2)) if has_bias else None)
    parts = run_chunks(chunk, x.shape[0], geo.step)
    # Summed in chunk order: the same result whatever the number of threads.
    dW = sum_in_order([p[0] for p in parts])
    return dx, dW, (sum_in_order([p[1] for p in parts]) if has_bias else None)


class SeparableCache(NamedTuple):
    """What :func:`separable_conv2d_backward` needs from the forward."""
    x: object
    z: object            # the depthwise output (N, OH, OW, C*M), which the 1x1 product read
    Wd: object
    Wp: object
    has_bias: bool
    geo: Geometry


def separable_conv2d_forward(x, Wd, Wp, b, strides=(1, 1), padding="valid", dilation=(1, 1), ws=None):
    """y (N, OH, OW, F): the depthwise convolution of x (N, H, W, C) by Wd (KH, KW, C, M), then the
    1x1 one by Wp (1, 1, C*M, F), plus b (F,) or None; the 1x1 product on each chunk while its
    depthwise output is in cache. Returns y and the cache for :func:`separable_conv2d_backward`."""
    geo = geometry(x.shape, Wd, strides, padding, dilation)
    N, (OH, OW) = x.shape[0], geo.out_hw
    Q, F = Wp.shape[2:]
    z = np.empty((N, OH, OW, Q), dtype=x.dtype)
    y = np.empty((N, OH, OW, F), dtype=x.dtype)
    W2 = Wp.reshape(Q, F)

    def pointwise(lo, hi, t):
        yc = y[lo:hi].reshape(-1, F)
        np.matmul(z[lo:hi].reshape(-1, Q), W2, out=yc)
        if b is not None:
            yc += b
    depthwise_chunks(x, Wd, geo, ws, z, pointwise)
    return y, SeparableCache(x, z, Wd, Wp, b is not None, geo)


def separable_conv2d_backward(dy, cache, need_dx=True, ws=None):
    """Gradients of :func:`separable_conv2d_forward` given dy (N, OH, OW, F).

    Returns:
        dx (N, H, W, C) or None, dWd (KH, KW, C, M), dWp (1, 1, C*M, F), db (F,) or None.
    """
    x, z, Wd, Wp, has_bias, geo = cache
    Q, F = Wp.shape[2:]
    W2 = Wp.reshape(Q, F)
    dx = np.empty(x.shape, dtype=dy.dtype) if need_dx else None
    flipped = flipped_kernels(Wd, geo, x.shape[2]) if need_dx else None

    def chunk(lo, hi, t):
        wst = for_thread(ws, t)
        dy2 = dy[lo:hi].reshape(-1, F)
        dWp = z[lo:hi].reshape(-1, Q).T @ dy2
        dz = scratch(wst, "dz", z[lo:hi].shape, dy.dtype)
        np.matmul(dy2, W2.T, out=dz.reshape(-1, Q))
        dWd = depthwise_chunk_grads(x[lo:hi], dz, geo, flipped, wst, None if dx is None else dx[lo:hi])
        return dWd, dWp, (dy2.sum(axis=0) if has_bias else None)
    parts = run_chunks(chunk, x.shape[0], geo.step)
    dWd, dWp = (sum_in_order([p[k] for p in parts]) for k in (0, 1))
    return dx, dWd, dWp.reshape(Wp.shape), (sum_in_order([p[2] for p in parts]) if has_bias else None)
