"""Naive loop implementations used as independent references by the tests.

They share no code with minicnn: output sizes and padding are recomputed here from
Keras/TensorFlow's documented rule.
"""
import numpy as np


def out_and_pad(n, k, s, padding):
    if padding == "same":
        out = (n + s - 1) // s
        total = max((out - 1) * s + k - n, 0)
        return out, total // 2
    return (n - k) // s + 1, 0


def conv2d(x, W, b, strides, padding, dilation=(1, 1)):
    """x (N,H,W,C), W (KH,KW,C,F) -> (N,OH,OW,F), by loops over output pixels and kernel taps;
    tap (kh, kw) of a dilated kernel reads kh*dh rows and kw*dw columns from the window's corner."""
    N, H, Wd, C = x.shape
    KH, KW, _, F = W.shape
    sh, sw = strides
    dh, dw = dilation
    OH, pt = out_and_pad(H, (KH - 1) * dh + 1, sh, padding)
    OW, pl = out_and_pad(Wd, (KW - 1) * dw + 1, sw, padding)
    y = np.zeros((N, OH, OW, F), dtype=np.float64)
    for oh in range(OH):
        for ow in range(OW):
            for kh in range(KH):
                for kw in range(KW):
                    h, w = oh * sh - pt + kh * dh, ow * sw - pl + kw * dw
                    if 0 <= h < H and 0 <= w < Wd:
                        y[:, oh, ow, :] += x[:, h, w, :] @ W[kh, kw]
    if b is not None:
        y += b
    return y


def pool2d(x, pool, strides, padding, kind):
    """Max or average pooling by loops; padded positions are ignored. Also returns, for max,
    the input gradient of sum(y * dy) for dy = ones (first maximum wins)."""
    N, H, Wd, C = x.shape
    PH, PW = pool
    sh, sw = strides
    OH, pt = out_and_pad(H, PH, sh, padding)
    OW, pl = out_and_pad(Wd, PW, sw, padding)
    y = np.zeros((N, OH, OW, C))
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    vals = []
                    for kh in range(PH):
                        for kw in range(PW):
                            h, w = oh * sh - pt + kh, ow * sw - pl + kw
                            if 0 <= h < H and 0 <= w < Wd:
                                vals.append(x[n, h, w, c])
                    y[n, oh, ow, c] = max(vals) if kind == "max" else sum(vals) / len(vals)
    return y


def maxpool2d_grad(x, dy, pool, strides, padding):
    """dx of max pooling: each dy goes to the first maximum of its window (row-major order)."""
    N, H, Wd, C = x.shape
    PH, PW = pool
    sh, sw = strides
    OH, pt = out_and_pad(H, PH, sh, padding)
    OW, pl = out_and_pad(Wd, PW, sw, padding)
    dx = np.zeros_like(x, dtype=np.float64)
    for n in range(N):
        for oh in range(OH):
            for ow in range(OW):
                for c in range(C):
                    best, at = -np.inf, None
                    for kh in range(PH):
                        for kw in range(PW):
                            h, w = oh * sh - pt + kh, ow * sw - pl + kw
                            if 0 <= h < H and 0 <= w < Wd and x[n, h, w, c] > best:
                                best, at = x[n, h, w, c], (h, w)
                    dx[n, at[0], at[1], c] += dy[n, oh, ow, c]
    return dx
