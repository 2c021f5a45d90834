"""2-D depthwise convolution, channels-last (NHWC), with its backward.

Each input channel c is convolved with its own M = depth_multiplier kernels; output channel
c*M + m (Keras's order) is channel c under kernel m. That is a depthwise convolution with one
kernel per channel of the input with each channel repeated M times (channel c*M + m of the
repeated input is channel c), so the op repeats the channels and then needs M = 1 only.

The patches are those of Conv2D (:func:`minicnn.nn.conv.im2col`), read as (P, KH*KW, Q) with
P = N*OH*OW pixels and Q = C*M channels; instead of one matrix product over all KH*KW*Q patch
entries, each channel sums over its own KH*KW taps only:

    patches  cols (P, KH*KW, Q)
    kernel   Wk   (KH, KW, C, M)      read as (KH*KW, Q)
    output   y[p, q] = sum_k cols[p, k, q] * Wk[k, q] + b[q]          -> (N, OH, OW, Q)

The backward reads the same sum the other ways: dW[k, q] = sum_p cols[p, k, q] dy[p, q], and
dcols[p, k, q] = dy[p, q] Wk[k, q], summed onto the pixels by col2im (and over the M repeats of
each input channel). All are einsums or broadcasts over every channel at once, no loop per channel.
The CPU's tuned version, without the patch matrix, is :mod:`minicnn.cpu.depthwise`.
"""
from minicnn.backend import get_array_module
from minicnn.nn.conv import col2im, conv_geometry, im2col


def repeat_channels(x, M):
    """x (N, H, W, C) with each channel repeated M times: (N, H, W, C*M), channel c*M + m = channel c."""
    return x if M == 1 else get_array_module(x).repeat(x, M, axis=3)


def depthwise_conv2d_forward(x, Wk, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """y (N, OH, OW, C*M) = depthwise_conv(x (N, H, W, C), Wk (KH, KW, C, M)) + b (C*M,) or None.

    Strides (sh, sw), "valid" or "same" padding, dilation (dh, dw). Returns y and the cache for
    :func:`depthwise_conv2d_backward`: the input and the kernel (patches are rebuilt there).
    """
    N = x.shape[0]
    KH, KW, C, M = Wk.shape
    (OH, OW), _ = conv_geometry(x.shape, KH, KW, strides, padding, dilation)
    cols = im2col(repeat_channels(x, M), KH, KW, strides, padding, dilation).reshape(-1, KH * KW, C * M)
    y = get_array_module(x).einsum("pkq,kq->pq", cols, Wk.reshape(KH * KW, C * M)).reshape(N, OH, OW, C * M)
    if b is not None:
        y += b
    return y, (x, Wk, b is not None, strides, padding, dilation)


def depthwise_conv2d_backward(dy, cache):
    """Gradients of :func:`depthwise_conv2d_forward` given dy (N, OH, OW, C*M).

    Returns:
        dx (N, H, W, C), dW (KH, KW, C, M), db (C*M,) or None.
    """
    x, Wk, has_bias, strides, padding, dilation = cache
    KH, KW, C, M = Wk.shape
    N, H, W, _ = x.shape
    dy2 = dy.reshape(-1, C * M)
    W2 = Wk.reshape(KH * KW, C * M)
    xr = repeat_channels(x, M)
    cols = im2col(xr, KH, KW, strides, padding, dilation).reshape(-1, KH * KW, C * M)
    dW = get_array_module(dy).einsum("pkq,pq->kq", cols, dy2).reshape(Wk.shape)
    dcols = (dy2[:, None, :] * W2).reshape(-1, KH * KW * C * M)
    dx = col2im(dcols, xr.shape, KH, KW, strides, padding, dilation)
    if M > 1:
        dx = dx.reshape(N, H, W, C, M).sum(axis=4)
    return dx, dW, (dy2.sum(axis=0) if has_bias else None)


def separable_conv2d_forward(x, Wd, Wp, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """y (N, OH, OW, F): the depthwise convolution of x (N, H, W, C) by Wd (KH, KW, C, M), then the
    pointwise (1x1) one by Wp (1, 1, C*M, F), plus b (F,) or None (Keras's one bias, at the end).

    The pointwise step is one matrix product over the pixels: z (N*OH*OW, C*M) @ Wp (C*M, F).
    Returns y and the cache for :func:`separable_conv2d_backward`: the depthwise cache and z.
    """
    z, dw_cache = depthwise_conv2d_forward(x, Wd, None, strides, padding, dilation)
    N, OH, OW, CM = z.shape
    y = z.reshape(-1, CM) @ Wp.reshape(CM, -1)
    if b is not None:
        y += b
    return y.reshape(N, OH, OW, -1), (dw_cache, z, Wp, b is not None)


def separable_conv2d_backward(dy, cache):
    """Gradients of :func:`separable_conv2d_forward` given dy (N, OH, OW, F).

    Returns:
        dx (N, H, W, C), dWd (KH, KW, C, M), dWp (1, 1, C*M, F), db (F,) or None.
    """
    dw_cache, z, Wp, has_bias = cache
    CM, F = Wp.shape[2:]
    dy2 = dy.reshape(-1, F)
    dWp = (z.reshape(-1, CM).T @ dy2).reshape(Wp.shape)
    dz = (dy2 @ Wp.reshape(CM, F).T).reshape(z.shape)
    dx, dWd, _ = depthwise_conv2d_backward(dz, dw_cache)
    return dx, dWd, dWp, (dy2.sum(axis=0) if has_bias else None)
