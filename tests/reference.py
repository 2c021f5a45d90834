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


def keras_transpose_pads(n, k, s, d, padding, output_padding):
    """(left, right) zero padding of the stride-dilated input, and the output length, of Keras 3's
    transposed convolution on one axis (keras/src/backend/common/backend_utils.py, the JAX rule)."""
    ek = (k - 1) * d + 1
    if padding == "valid":
        op = max(ek, s) - ek if output_padding is None else output_padding
        left, right = ek - 1, ek - 1 + op
    else:
        total = s + ek - 2 if output_padding is None else ek + ek % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, ek - 1)
        right = total - left
    return left, right, (n - 1) * s + 1 + left + right - ek + 1


def conv2d_transpose(x, W, b, strides, padding, output_padding=None, dilation=(1, 1)):
    """x (N,H,W,C), W (KH,KW,F,C) -> (N,OH,OW,F) as Keras defines it: insert s-1 zeros between the
    input's pixels, pad by (left, right), then slide the flipped, dilated kernel with stride 1."""
    N, H, Wd, C = x.shape
    KH, KW, F, _ = W.shape
    ops = (None, None) if output_padding is None else output_padding
    th, bh, OH = keras_transpose_pads(H, KH, strides[0], dilation[0], padding, ops[0])
    tw, bw, OW = keras_transpose_pads(Wd, KW, strides[1], dilation[1], padding, ops[1])
    z = np.zeros((N, (H - 1) * strides[0] + 1 + th + bh, (Wd - 1) * strides[1] + 1 + tw + bw, C))
    z[:, th:th + (H - 1) * strides[0] + 1:strides[0], tw:tw + (Wd - 1) * strides[1] + 1:strides[1]] = x
    y = np.zeros((N, OH, OW, F))
    for oh in range(OH):
        for ow in range(OW):
            for kh in range(KH):
                for kw in range(KW):
                    tap = W[KH - 1 - kh, KW - 1 - kw]  # (F, C), flipped
                    y[:, oh, ow] += z[:, oh + kh * dilation[0], ow + kw * dilation[1]] @ tap.T
    if b is not None:
        y += b
    return y


def depthwise_conv2d(x, W, b, strides, padding, dilation=(1, 1)):
    """x (N,H,W,C), W (KH,KW,C,M) -> (N,OH,OW,C*M) by loops over output pixels, taps, channels and
    multipliers; output channel c*M + m is channel c under kernel m."""
    N, H, Wd, C = x.shape
    KH, KW, _, M = W.shape
    OH, pt = out_and_pad(H, (KH - 1) * dilation[0] + 1, strides[0], padding)
    OW, pl = out_and_pad(Wd, (KW - 1) * dilation[1] + 1, strides[1], padding)
    y = np.zeros((N, OH, OW, C * M))
    for oh in range(OH):
        for ow in range(OW):
            for kh in range(KH):
                for kw in range(KW):
                    h, w = oh * strides[0] - pt + kh * dilation[0], ow * strides[1] - pl + kw * dilation[1]
                    if 0 <= h < H and 0 <= w < Wd:
                        for c in range(C):
                            for m in range(M):
                                y[:, oh, ow, c * M + m] += x[:, h, w, c] * W[kh, kw, c, m]
    if b is not None:
        y += b
    return y
