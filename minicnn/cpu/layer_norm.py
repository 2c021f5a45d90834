"""The CPU's layer and group normalization: :mod:`minicnn.nn.layer_norm` in chunks of rows or samples
on the worker threads, every pass of a chunk while it is in cache, sums as BLAS matrix-vector
products, and the backward's reductions folded into a few of them.

Layer normalization over the trailing axes views x as (M, D), one row per normalised block (the
plain op's mean over short rows of D = 64 channels is a slow NumPy reduction); group normalization
takes each sample as (S, C) with the channels last, or (C, S) with them first, and all its group
statistics from per-channel sums over S.
"""
import numpy as np

from minicnn.cpu.threads import run_chunks, sum_in_order
from minicnn.cpu.workspace import for_thread, scratch

# Elements per chunk (1 MB of float32 per array). Smaller chunks would stay in L2, but every NumPy
# call hands the GIL between the workers, and on 2 cores 4x more calls cost more than the cache
# saves (fwd + bwd of LayerNormalization on (64, 32, 32, 64): 24 ms with 1 << 16, 15 ms with 1 << 18).
CHUNK_ELEMENTS = 1 << 18


def _tiled(ws, name, v, rows):
    """v (D,) repeated on ``rows`` rows (filled once a call, read by every worker): a product with
    it is a plain elementwise one, about twice NumPy's speed of broadcasting a short row over many."""
    tile = scratch(ws, name, (rows, v.shape[0]), v.dtype)
    tile[...] = v
    return tile


def layernorm_forward(x, D, gamma, beta, eps, ws=None):
    """Layer normalization over the trailing ``D`` elements of each sample (x as (M, D)).

    Args:
        x: float array whose trailing axes hold D elements; gamma, beta: (D,) or None.
        ws: optional Workspace for the centred input the backward keeps (reused every step).
    Returns:
        y (x's shape) and the backward's cache: the centred x (M, D), 1/std (M,), gamma.
    """
    x2 = x.reshape(-1, D)
    M = x2.shape[0]
    step = max(1, min(CHUNK_ELEMENTS // D, -(-M // 2)))
    xc = scratch(ws, "centred", x2.shape, x2.dtype)
    y = np.empty_like(x2)
    inv_std = np.empty(M, dtype=x2.dtype)
    ones = np.ones(D, dtype=x2.dtype)
    G = None if gamma is None else _tiled(ws, "gamma", gamma, step)
    B = None if beta is None else _tiled(ws, "beta", beta, step)

    def chunk(lo, hi, t):
        X, XC, Y = x2[lo:hi], xc[lo:hi], y[lo:hi]
        np.subtract(X, (X @ ones / D)[:, None], out=XC)
        inv = 1 / np.sqrt(np.einsum("ij,ij->i", XC, XC) / D + eps)
        inv_std[lo:hi] = inv
        np.multiply(XC, inv[:, None], out=Y)
        if G is not None:
            Y *= G[:hi - lo]
        if B is not None:
            Y += B[:hi - lo]
    run_chunks(chunk, M, step)
    return y.reshape(x.shape), (xc, inv_std, gamma)


def layernorm_backward(dy, cache, need_dx=True, ws=None):
    """Gradients of :func:`layernorm_forward`: dx (dy's shape; None without ``need_dx``), dgamma and
    dbeta (D,).

    With g = dy * gamma and x_hat = xc / std, dx = (g - mean(g) - x_hat * mean(g * x_hat)) / std;
    both means are row products with gamma (of dy, and of dy * xc), so g is never formed for them.
    """
    xc, inv_std, gamma = cache
    M, D = xc.shape
    dy2 = dy.reshape(M, D)
    step = max(1, min(CHUNK_ELEMENTS // D, -(-M // 2)))
    weights = gamma if gamma is not None else np.ones(D, dtype=xc.dtype)
    dx = np.empty_like(dy2) if need_dx else None
    G = _tiled(ws, "gamma", weights, step) if need_dx else None

    def chunk(lo, hi, t):
        DY, XC, inv = dy2[lo:hi], xc[lo:hi], inv_std[lo:hi]
        P = scratch(for_thread(ws, t), "product", (step, D), xc.dtype)[:hi - lo]
        np.multiply(DY, XC, out=P)
        sums = (inv @ P, np.ones(hi - lo, dtype=xc.dtype) @ DY)  # this chunk's dgamma, dbeta
        if need_dx:
            r2 = (P @ weights) * inv ** 3 / D
            r3 = (DY @ weights) * inv / D
            DX = dx[lo:hi]
            np.multiply(DY, G[:hi - lo], out=DX)
            DX *= inv[:, None]
            np.multiply(XC, r2[:, None], out=P)
            DX -= P
            DX -= r3[:, None]
        return sums
    parts = run_chunks(chunk, M, step)
    dgamma, dbeta = (sum_in_order([p[i] for p in parts]) for i in (0, 1))
    return (None if dx is None else dx.reshape(dy.shape)), dgamma, dbeta


def _group_view(x, channels_last):
    """x as (N, S, C) or (N, C, S), and how per-(sample, channel) vectors (n, C) broadcast over it."""
    N, C = x.shape[0], x.shape[-1] if channels_last else x.shape[1]
    x3 = x.reshape(N, -1, C) if channels_last else x.reshape(N, C, -1)
    return x3, (lambda v: v[:, None, :]) if channels_last else (lambda v: v[:, :, None])


def _channel_sums(A, channels_last):
    """Sums over S of each sample and channel, (n, C), as batched matrix-vector products."""
    S = A.shape[1] if channels_last else A.shape[2]
    ones = np.ones(S, dtype=A.dtype)
    return ones @ A if channels_last else A @ ones


def _per_group(v, groups):
    """(n, C) -> (n, G): the sum over each group's channels."""
    return v.reshape(v.shape[0], groups, -1).sum(axis=2)


def _per_channel(v, C):
    """(n, G) -> (n, C): each group's value on each of its channels."""
    return np.repeat(v, C // v.shape[1], axis=1)


def groupnorm_forward(x, gamma, beta, groups, eps, channels_last=True, ws=None):
    """Group normalization of (N, ..., C) (``channels_last``) or (N, C, ...) images, in chunks of
    samples; gamma, beta: (C,) or None.

    Returns:
        y (x's shape) and the backward's cache: the centred x, 1/std per sample and group (N, G),
        gamma, and the layout.
    """
    x3, expand = _group_view(x, channels_last)
    N, C = x3.shape[0], x3.shape[2] if channels_last else x3.shape[1]
    count = x3[0].size // groups
    step = max(1, min(CHUNK_ELEMENTS // x3[0].size, -(-N // 2)))
    xc = scratch(ws, "centred", x3.shape, x3.dtype)
    y = np.empty_like(x3)
    inv_std = np.empty((N, groups), dtype=x3.dtype)

    def chunk(lo, hi, t):
        X, XC, Y = x3[lo:hi], xc[lo:hi], y[lo:hi]
        mean = _per_group(_channel_sums(X, channels_last), groups) / count
        np.subtract(X, expand(_per_channel(mean, C)), out=XC)
        np.multiply(XC, XC, out=Y)  # the squares, where this chunk's y goes next
        inv = 1 / np.sqrt(_per_group(_channel_sums(Y, channels_last), groups) / count + eps)
        inv_std[lo:hi] = inv
        scale = _per_channel(inv, C) if gamma is None else _per_channel(inv, C) * gamma
        np.multiply(XC, expand(scale), out=Y)
        if beta is not None:
            Y += beta if channels_last else beta[:, None]
    run_chunks(chunk, N, step)
    return y.reshape(x.shape), (xc, inv_std, gamma, channels_last)


def groupnorm_backward(dy, cache, need_dx=True, ws=None):
    """Gradients of :func:`groupnorm_forward`: dx (dy's shape; None without ``need_dx``), dgamma and
    dbeta (C,).

    Every reduction is a per-channel sum over S (of dy, and of dy * xc) combined on the (n, C)
    vectors: with A = sum(g) and B = sum(g * xc) over a group of ``count`` values,
    dx = dy * gamma / std - xc * B / (count std^3) - A / (count std).
    """
    xc, inv_std, gamma, channels_last = cache
    N, groups = inv_std.shape
    C = xc.shape[2] if channels_last else xc.shape[1]
    count = xc[0].size // groups
    _, expand = _group_view(xc, channels_last)
    dy3 = dy.reshape(xc.shape)
    step = max(1, min(CHUNK_ELEMENTS // xc[0].size, -(-N // 2)))
    weights = gamma if gamma is not None else np.ones(C, dtype=xc.dtype)
    dx = np.empty_like(dy3) if need_dx else None

    def chunk(lo, hi, t):
        DY, XC = dy3[lo:hi], xc[lo:hi]
        P = scratch(for_thread(ws, t), "product", (step,) + xc.shape[1:], xc.dtype)[:hi - lo]
        np.multiply(DY, XC, out=P)
        dy_sums, p_sums = _channel_sums(DY, channels_last), _channel_sums(P, channels_last)
        inv = inv_std[lo:hi]
        inv_c = _per_channel(inv, C)
        sums = ((p_sums * inv_c).sum(axis=0), dy_sums.sum(axis=0))  # this chunk's dgamma, dbeta
        if need_dx:
            A, B = _per_group(dy_sums * weights, groups), _per_group(p_sums * weights, groups)
            DX = dx[lo:hi]
            np.multiply(DY, expand(inv_c * weights), out=DX)
            np.multiply(XC, expand(_per_channel(B * inv ** 3 / count, C)), out=P)
            DX -= P
            DX -= expand(_per_channel(A * inv / count, C))
        return sums
    parts = run_chunks(chunk, N, step)
    dgamma, dbeta = (sum_in_order([p[i] for p in parts]) for i in (0, 1))
    return (None if dx is None else dx.reshape(dy.shape)), dgamma, dbeta
