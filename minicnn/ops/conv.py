"""2-D convolution by im2col and one matrix product, channels-last (NHWC), with its backward.

This module is the whole idea of the framework: a convolution is a matrix product of the
input's patches with the reshaped kernel.

    patches  cols (N*OH*OW, KH*KW*C)   row (n*OH + oh)*OW + ow,  column (kh*KW + kw)*C + c
    kernel   W    (KH, KW, C, F)       reshaped to (KH*KW*C, F): the same column order
    output   y = cols @ W.reshape(KH*KW*C, F) + b          -> (N, OH, OW, F)

The backward is the same product read the other way: dW = cols.T @ dy, and the patch
gradients dy @ W.T summed back onto the pixels they came from (col2im) give dx.

On the GPU, im2col and col2im run as CUDA kernels (``kernels/conv.cu``); everything else is the
same code on CuPy arrays. The CPU's tuned version of this module is :mod:`minicnn.cpu.conv`.
Output sizes and padding (Keras's rules) are in :mod:`minicnn.ops.geometry`.
"""
from minicnn.backend import get_array_module, is_cupy_array
from minicnn.ops.geometry import PADDINGS, conv_output_length, conv_padding, pad_nhwc  # noqa: F401


def conv_geometry(x_shape, KH, KW, strides, padding):
    """The output size (OH, OW) and the pads ((pt, pb), (pl, pr)) of a window over x (N, H, W, C)."""
    _, H, W, _ = x_shape
    sh, sw = strides
    OH, OW = conv_output_length(H, KH, sh, padding), conv_output_length(W, KW, sw, padding)
    return (OH, OW), (conv_padding(H, KH, sh, padding), conv_padding(W, KW, sw, padding))


def im2col(x, KH, KW, strides, padding):
    """The patches of x (N, H, W, C) as one matrix cols (N*OH*OW, KH*KW*C)."""
    N, H, W, C = x.shape
    sh, sw = strides
    (OH, OW), pads = conv_geometry(x.shape, KH, KW, strides, padding)
    if is_cupy_array(x):
        from minicnn import cuda
        return cuda.im2col(x, KH, KW, sh, sw, pads[0][0], pads[1][0], OH, OW)
    xpad = pad_nhwc(x, pads)
    cols = get_array_module(x).empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    # A loop over kernel offsets only: each copies one strided plane of the padded input.
    for kh in range(KH):
        for kw in range(KW):
            cols[:, :, :, kh, kw] = xpad[:, kh:kh + sh * (OH - 1) + 1:sh, kw:kw + sw * (OW - 1) + 1:sw]
    return cols.reshape(N * OH * OW, KH * KW * C)


def col2im(dcols, x_shape, KH, KW, strides, padding):
    """The adjoint of :func:`im2col`: sum patch gradients dcols (N*OH*OW, KH*KW*C) into (N, H, W, C)."""
    N, H, W, C = x_shape
    sh, sw = strides
    (OH, OW), ((pt, pb), (pl, pr)) = conv_geometry(x_shape, KH, KW, strides, padding)
    if is_cupy_array(dcols):
        from minicnn import cuda
        return cuda.col2im(dcols, x_shape, KH, KW, sh, sw, pt, pl, OH, OW)
    dxpad = get_array_module(dcols).zeros((N, H + pt + pb, W + pl + pr, C), dtype=dcols.dtype)
    d6 = dcols.reshape(N, OH, OW, KH, KW, C)
    for kh in range(KH):
        for kw in range(KW):
            dxpad[:, kh:kh + sh * (OH - 1) + 1:sh, kw:kw + sw * (OW - 1) + 1:sw] += d6[:, :, :, kh, kw]
    return dxpad[:, pt:pt + H, pl:pl + W]


def conv2d_forward(x, Wk, b, strides=(1, 1), padding="valid"):
    """y = conv(x, Wk) + b.

    Args:
        x: (N, H, W, C) input; Wk: (KH, KW, C, F) kernel; b: (F,) bias or None.
    Returns:
        y (N, OH, OW, F) and the cache for :func:`conv2d_backward` (the input and the kernel:
        the patches are rebuilt there rather than kept, KH*KW times the input's size).
    """
    KH, KW, C, F = Wk.shape
    (OH, OW), _ = conv_geometry(x.shape, KH, KW, strides, padding)
    y = im2col(x, KH, KW, strides, padding) @ Wk.reshape(KH * KW * C, F)
    if b is not None:
        y += b
    return y.reshape(x.shape[0], OH, OW, F), (x, Wk, b is not None, strides, padding)


def conv2d_backward(dy, cache):
    """Gradients of :func:`conv2d_forward` given dy (N, OH, OW, F).

    Returns:
        dx (N, H, W, C), dW (KH, KW, C, F), db (F,) or None.
    """
    x, Wk, has_bias, strides, padding = cache
    KH, KW, C, F = Wk.shape
    dy2 = dy.reshape(-1, F)
    dW = im2col(x, KH, KW, strides, padding).T @ dy2
    dx = col2im(dy2 @ Wk.reshape(KH * KW * C, F).T, x.shape, KH, KW, strides, padding)
    return dx, dW.reshape(Wk.shape), (dy2.sum(axis=0) if has_bias else None)
