"""Max and average pooling over the spatial axes of channels-last (NHWC) arrays, with backward.

Windows (PH, PW), strides (sh, sw) and ``"valid"``/``"same"`` padding follow the convolution's
rules (:mod:`minicnn.nn.geometry`). Padded positions never win a max and are not counted in an
average, as in Keras. Each function loops over the PH*PW offsets inside a window, never over
pixels: one strided plane of the input per offset.

Global pooling reduces each channel's whole H x W plane to one value.

On the GPU the four windowed functions run as CUDA kernels (``kernels/pooling.cu``); global
pooling is the same CuPy expressions as here. The CPU's tuned max pooling is :mod:`minicnn.cpu.pooling`.
"""
from minicnn import cuda
from minicnn.backend import get_array_module, is_cupy_array
from minicnn.nn.geometry import conv_output_length, conv_padding, pad_nhwc


def pool_geometry(x_shape, pool, strides, padding):
    """(OH, OW) and the pads ((pt, pb), (pl, pr)) of pooling x (N, H, W, C)."""
    _, H, W, _ = x_shape
    (PH, PW), (sh, sw) = pool, strides
    OH, OW = conv_output_length(H, PH, sh, padding), conv_output_length(W, PW, sw, padding)
    return (OH, OW), (conv_padding(H, PH, sh, padding), conv_padding(W, PW, sw, padding))


def window(xpad, kh, kw, strides, out_hw):
    """The (N, OH, OW, C) strided slice of a padded array at window offset (kh, kw)."""
    (sh, sw), (OH, OW) = strides, out_hw
    return xpad[:, kh:kh + sh * (OH - 1) + 1:sh, kw:kw + sw * (OW - 1) + 1:sw]


def maxpool2d_forward(x, pool=(2, 2), strides=None, padding="valid"):
    """y (N, OH, OW, C), the max of x (N, H, W, C) over each window, and the backward's cache: the
    argmax, the offset ``kh*PW + kw`` of each window's *first* maximum (N, OH, OW, C), and the geometry."""
    strides = strides or pool
    (OH, OW), pads = pool_geometry(x.shape, pool, strides, padding)
    (PH, PW), (sh, sw) = pool, strides
    if is_cupy_array(x):
        y, arg = cuda.maxpool_forward(x, PH, PW, sh, sw, pads[0][0], pads[1][0], OH, OW)
        return y, (arg, x.shape, pool, strides, pads)
    xp = get_array_module(x)
    xpad = pad_nhwc(x, pads, value=-xp.inf)
    y = window(xpad, 0, 0, strides, (OH, OW)).copy()
    arg = xp.zeros(y.shape, dtype=xp.int32)
    for k in range(1, PH * PW):
        v = window(xpad, k // PW, k % PW, strides, (OH, OW))
        # Strict '>' keeps the first maximum on ties, as Keras and PyTorch do (MNIST's flat backgrounds).
        better = v > y
        arg[better] = k
        y[better] = v[better]
    return y, (arg, x.shape, pool, strides, pads)


def maxpool2d_backward(dy, cache):
    """dx (N, H, W, C): each dy (N, OH, OW, C) element goes to its window's first maximum."""
    arg, x_shape, (PH, PW), (sh, sw), ((pt, pb), (pl, pr)) = cache
    N, H, W, C = x_shape
    if is_cupy_array(dy):
        return cuda.maxpool_backward(dy, arg, x_shape, PH, PW, sh, sw, pt, pl)
    dxpad = get_array_module(dy).zeros((N, H + pt + pb, W + pl + pr, C), dtype=dy.dtype)
    for k in range(PH * PW):
        # '+=' because overlapping windows (stride < pool) can send gradient to the same input.
        window(dxpad, k // PW, k % PW, (sh, sw), dy.shape[1:3])[...] += dy * (arg == k)
    return dxpad[:, pt:pt + H, pl:pl + W]


def avgpool2d_forward(x, pool=(2, 2), strides=None, padding="valid"):
    """y = mean of x over each window's non-padded elements.

    Args:
        x: (N, H, W, C).
    Returns:
        y (N, OH, OW, C) and the cache: the per-output element counts and the geometry.
    """
    strides = strides or pool
    (OH, OW), pads = pool_geometry(x.shape, pool, strides, padding)
    (PH, PW), (sh, sw) = pool, strides
    if is_cupy_array(x):
        y = cuda.avgpool_forward(x, PH, PW, sh, sw, pads[0][0], pads[1][0], OH, OW)
        return y, (None, x.shape, pool, strides, pads)
    xp = get_array_module(x)
    xpad = pad_nhwc(x, pads)
    ones = pad_nhwc(xp.ones((1, *x.shape[1:3], 1), dtype=x.dtype), pads)
    y = xp.zeros((x.shape[0], OH, OW, x.shape[3]), dtype=x.dtype)
    count = xp.zeros((1, OH, OW, 1), dtype=x.dtype)
    for k in range(PH * PW):
        y += window(xpad, k // PW, k % PW, strides, (OH, OW))
        count += window(ones, k // PW, k % PW, strides, (OH, OW))
    y /= count
    return y, (count, x.shape, pool, strides, pads)


def avgpool2d_backward(dy, cache):
    """dx (N, H, W, C): each dy (N, OH, OW, C) element spread evenly over its window's inputs."""
    count, x_shape, (PH, PW), (sh, sw), ((pt, pb), (pl, pr)) = cache
    N, H, W, C = x_shape
    if is_cupy_array(dy):
        return cuda.avgpool_backward(dy, x_shape, PH, PW, sh, sw, pt, pl)
    g = dy / count
    dxpad = get_array_module(dy).zeros((N, H + pt + pb, W + pl + pr, C), dtype=dy.dtype)
    for k in range(PH * PW):
        window(dxpad, k // PW, k % PW, (sh, sw), dy.shape[1:3])[...] += g
    return dxpad[:, pt:pt + H, pl:pl + W]


def global_avgpool2d_forward(x):
    """y (N, C), the mean of x (N, H, W, C) over H and W; the cache is x's shape."""
    return x.mean(axis=(1, 2)), x.shape


def global_avgpool2d_backward(dy, x_shape):
    """dx (N, H, W, C): each dy (N, C) element spread evenly over its channel's H*W inputs."""
    H, W = x_shape[1:3]
    # A fresh array, not a broadcast view: the layer before may write into its dx.
    return get_array_module(dy).broadcast_to((dy / (H * W))[:, None, None, :], x_shape).copy()


def global_maxpool2d_forward(x):
    """y (N, C), the max of x (N, H, W, C) over H and W, and the cache: the flat index h*W + w of
    each (n, c)'s *first* maximum (N, C), as MaxPooling2D routes its gradient (TensorFlow's and
    PyTorch's reduce-max split it between tied maxima instead), and x's shape."""
    N, H, W, C = x.shape
    flat = x.reshape(N, H * W, C)
    arg = flat.argmax(axis=1)
    return flat.max(axis=1), (arg, x.shape)


def global_maxpool2d_backward(dy, cache):
    """dx (N, H, W, C): each dy (N, C) element goes to its channel's first maximum."""
    arg, (N, H, W, C) = cache
    xp = get_array_module(dy)
    first = xp.arange(H * W)[None, :, None] == arg[:, None, :]
    return (first * dy[:, None, :]).reshape(N, H, W, C)
