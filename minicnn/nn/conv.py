"""2-D convolution by im2col and one matrix product, channels-last (NHWC), with its backward.

This module is the whole idea of the framework: a convolution is a matrix product of the
input's patches with the reshaped kernel.

    patches  cols (N*OH*OW, KH*KW*C)   row (n*OH + oh)*OW + ow,  column (kh*KW + kw)*C + c
    kernel   W    (KH, KW, C, F)       reshaped to (KH*KW*C, F): the same column order
    output   y = cols @ W.reshape(KH*KW*C, F) + b          -> (N, OH, OW, F)

The backward is the same product read the other way: dW = cols.T @ dy, and the patch
gradients dy @ W.T summed back onto the pixels they came from (col2im) give dx.

A dilated convolution (dilation (dh, dw)) spreads its kernel: offset (kh, kw) reads the input
kh*dh rows and kw*dw columns from the window's corner, so the window spans (KH-1)*dh + 1 rows,
and output sizes and "same" padding follow that effective size (Keras's rule).

On the GPU, im2col and col2im run as CUDA kernels (``kernels/conv.cu``) when the convolution is
not dilated; the kernels have no dilation, so a dilated one runs the loops below on CuPy arrays.
Everything else is the same code on CuPy arrays. The CPU's tuned version of this module is :mod:`minicnn.cpu.conv`.
Output sizes and padding (Keras's rules) are in :mod:`minicnn.nn.geometry`.
"""
from minicnn import cuda
from minicnn.backend import get_array_module, is_cupy_array
from minicnn.nn.geometry import PADDINGS, conv_output_length, conv_padding, pad_nhwc  # noqa: F401


def conv_geometry(x_shape, KH, KW, strides, padding, dilation=(1, 1)):
    """The output size (OH, OW) and the pads ((pt, pb), (pl, pr)) of a window over x (N, H, W, C).

    ``padding`` is "valid", "same", or the pads themselves ((pt, pb), (pl, pr)), as the transposed
    convolution (:mod:`minicnn.nn.conv_transpose`) gives them."""
    _, H, W, _ = x_shape
    (sh, sw), (dh, dw) = strides, dilation
    EH, EW = (KH - 1) * dh + 1, (KW - 1) * dw + 1  # the dilated window's extent
    if not isinstance(padding, str):
        (pt, pb), (pl, pr) = padding
        return ((H + pt + pb - EH) // sh + 1, (W + pl + pr - EW) // sw + 1), ((pt, pb), (pl, pr))
    OH, OW = conv_output_length(H, EH, sh, padding), conv_output_length(W, EW, sw, padding)
    return (OH, OW), (conv_padding(H, EH, sh, padding), conv_padding(W, EW, sw, padding))


def im2col(x, KH, KW, strides, padding, dilation=(1, 1)):
    """The patches of x (N, H, W, C) as one matrix cols (N*OH*OW, KH*KW*C)."""
    N, H, W, C = x.shape
    (sh, sw), (dh, dw) = strides, dilation
    (OH, OW), pads = conv_geometry(x.shape, KH, KW, strides, padding, dilation)
    if is_cupy_array(x) and dilation == (1, 1):
        return cuda.im2col(x, KH, KW, sh, sw, pads[0][0], pads[1][0], OH, OW)
    xpad = pad_nhwc(x, pads)
    cols = get_array_module(x).empty((N, OH, OW, KH, KW, C), dtype=x.dtype)
    # A loop over kernel offsets only: each copies one strided plane of the padded input.
    for kh in range(KH):
        for kw in range(KW):
            i, j = kh * dh, kw * dw
            cols[:, :, :, kh, kw] = xpad[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw]
    return cols.reshape(N * OH * OW, KH * KW * C)


def col2im(dcols, x_shape, KH, KW, strides, padding, dilation=(1, 1)):
    """The adjoint of :func:`im2col`: sum patch gradients dcols (N*OH*OW, KH*KW*C) into (N, H, W, C)."""
    N, H, W, C = x_shape
    (sh, sw), (dh, dw) = strides, dilation
    (OH, OW), ((pt, pb), (pl, pr)) = conv_geometry(x_shape, KH, KW, strides, padding, dilation)
    if is_cupy_array(dcols) and dilation == (1, 1):
        return cuda.col2im(dcols, x_shape, KH, KW, sh, sw, pt, pl, OH, OW)
    dxpad = get_array_module(dcols).zeros((N, H + pt + pb, W + pl + pr, C), dtype=dcols.dtype)
    d6 = dcols.reshape(N, OH, OW, KH, KW, C)
    for kh in range(KH):
        for kw in range(KW):
            i, j = kh * dh, kw * dw
            dxpad[:, i:i + sh * (OH - 1) + 1:sh, j:j + sw * (OW - 1) + 1:sw] += d6[:, :, :, kh, kw]
    return dxpad[:, pt:pt + H, pl:pl + W]


def conv2d_forward(x, Wk, b, strides=(1, 1), padding="valid", dilation=(1, 1)):
    """y (N, OH, OW, F) = conv(x (N, H, W, C), Wk (KH, KW, C, F)) + b (F,) or None, with strides (sh, sw),
    "valid" or "same" padding and dilation (dh, dw); and the cache for :func:`conv2d_backward`: the input
    and the kernel (the patches are rebuilt there rather than kept, KH*KW times the input's size)."""
    KH, KW, C, F = Wk.shape
    (OH, OW), _ = conv_geometry(x.shape, KH, KW, strides, padding, dilation)
    y = im2col(x, KH, KW, strides, padding, dilation) @ Wk.reshape(KH * KW * C, F)
    if b is not None:
        y += b
    return y.reshape(x.shape[0], OH, OW, F), (x, Wk, b is not None, strides, padding, dilation)


def conv2d_backward(dy, cache):
    """Gradients of :func:`conv2d_forward` given dy (N, OH, OW, F).

    Returns:
        dx (N, H, W, C), dW (KH, KW, C, F), db (F,) or None.
    """
    x, Wk, has_bias, strides, padding, dilation = cache
    KH, KW, C, F = Wk.shape
    dy2 = dy.reshape(-1, F)
    dW = im2col(x, KH, KW, strides, padding, dilation).T @ dy2
    dx = col2im(dy2 @ Wk.reshape(KH * KW * C, F).T, x.shape, KH, KW, strides, padding, dilation)
    return dx, dW.reshape(Wk.shape), (dy2.sum(axis=0) if has_bias else None)
