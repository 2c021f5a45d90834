"""Keras 3's neural-network ops (``keras.ops.relu``, ``softmax``, ``conv``, ``max_pool``...), on the
plain ops of :mod:`minicnn.nn` and their hand-written backwards: an op here is one record on the tape.

Images are channels-last (N, H, W, C) unless ``data_format="channels_first"``; kernels are
(KH, KW, C, F), as Keras's."""
from minicnn import backend
from minicnn.nn import activations as act
from minicnn.nn import conv as conv_ops
from minicnn.nn import conv_transpose as conv_transpose_ops
from minicnn.nn import depthwise as depthwise_ops
from minicnn.nn import pooling
from minicnn.nn.geometry import PADDINGS
from minicnn.ops.numpy import _arrays, log, subtract, sum
from minicnn.tape import constant_result, result


def _activation(name, **kwargs):
    forward, backward, takes_input = act.ACTIVATIONS[name]

    def op(x):
        (a,), _ = _arrays(x)
        y = forward(a, **kwargs)
        return result(y, (x,), lambda dy: (backward(dy, a if takes_input else y, **kwargs),))
    op.__name__ = name
    op.__doc__ = f"The {name} activation, elementwise (:mod:`minicnn.nn.activations`)."
    return op


relu, relu6, sigmoid, tanh = _activation("relu"), _activation("relu6"), _activation("sigmoid"), _activation("tanh")
elu, selu, softplus, softsign = _activation("elu"), _activation("selu"), _activation("softplus"), _activation("softsign")
silu = swish = _activation("silu")
hard_sigmoid, mish = _activation("hard_sigmoid"), _activation("mish")


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", negative_slope=negative_slope)(x)


def gelu(x, approximate=True):
    """GELU; ``approximate`` (Keras 3's default True) uses the tanh form, else the exact erf one."""
    return _activation("gelu", approximate=approximate)(x)


def softmax(x, axis=-1):
    (a,), _ = _arrays(x)
    y = act.softmax_forward(a, axis=axis)
    return result(y, (x,), lambda dy: (act.softmax_backward(dy, y, axis=axis),))


def log_softmax(x, axis=-1):
    (a,), xp = _arrays(x)
    y = act.log_softmax(a, axis=axis)
    return result(y, (x,), lambda dy: (dy - xp.exp(y) * dy.sum(axis=axis, keepdims=True),))


def log_sigmoid(x):
    return subtract(0.0, softplus(subtract(0.0, x)))


def one_hot(x, num_classes, axis=-1, dtype=None):
    """Integer labels (...) as one-hot rows (..., num_classes) of ``dtype`` (float32); no gradient."""
    (a,), xp = _arrays(x)
    y = (xp.asarray(a)[..., None] == xp.arange(num_classes)).astype(dtype or backend.floatx())
    if axis not in (-1, y.ndim - 1):
        y = xp.moveaxis(y, -1, axis)
    return constant_result(y, (x,))


# -- convolutions and pooling ---------------------------------------------------------------------

def _pair(v, what):
    v = (v, v) if isinstance(v, int) else tuple(v)
    if len(v) != 2:
        raise ValueError(f"ops: {what} must be an int or a pair for 2-D images, got {v!r}.")
    return v


def _nhwc(a, data_format, xp):
    if a.ndim != 4:
        raise ValueError(f"ops: only 2-D images (N, H, W, C) are supported, got an input of shape {a.shape}.")
    return a if data_format in (None, "channels_last") else xp.transpose(a, (0, 2, 3, 1))


def _back(y, data_format, xp):
    return y if data_format in (None, "channels_last") else xp.transpose(y, (0, 3, 1, 2))


def _padding(padding):
    padding = padding.lower()
    if padding not in PADDINGS:
        raise ValueError(f"ops: padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The 2-D convolution of ``inputs`` with ``kernel`` (KH, KW, C, F), no bias: im2col and one
    matrix product (:func:`minicnn.nn.conv.conv2d_forward`)."""
    (x, w), xp = _arrays(inputs, kernel)
    y, cache = conv_ops.conv2d_forward(_nhwc(x, data_format, xp), w, None, _pair(strides, "strides"),
                                       _padding(padding), _pair(dilation_rate, "dilation_rate"))

    def backward(dy):
        dx, dw, _ = conv_ops.conv2d_backward(_nhwc(dy, data_format, xp), cache)
        return _back(dx, data_format, xp), dw
    return result(_back(y, data_format, xp), (inputs, kernel), backward)


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The depthwise 2-D convolution with ``kernel`` (KH, KW, C, M): output channel c*M + m."""
    (x, w), xp = _arrays(inputs, kernel)
    y, cache = depthwise_ops.depthwise_conv2d_forward(_nhwc(x, data_format, xp), w, None, _pair(strides, "strides"),
                                                      _padding(padding), _pair(dilation_rate, "dilation_rate"))

    def backward(dy):
        dx, dw, _ = depthwise_ops.depthwise_conv2d_backward(_nhwc(dy, data_format, xp), cache)
        return _back(dx, data_format, xp), dw
    return result(_back(y, data_format, xp), (inputs, kernel), backward)


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """The transposed 2-D convolution with ``kernel`` (KH, KW, F, C), as Conv2DTranspose computes it."""
    (x, w), xp = _arrays(inputs, kernel)
    y, cache = conv_transpose_ops.conv2d_transpose_forward(
        _nhwc(x, data_format, xp), w, None, _pair(strides, "strides"), _padding(padding),
        None if output_padding is None else _pair(output_padding, "output_padding"),
        _pair(dilation_rate, "dilation_rate"))

    def backward(dy):
        dx, dw, _ = conv_transpose_ops.conv2d_transpose_backward(_nhwc(dy, data_format, xp), cache)
        return _back(dx, data_format, xp), dw
    return result(_back(y, data_format, xp), (inputs, kernel), backward)


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    (x,), xp = _arrays(inputs)
    pool = _pair(pool_size, "pool_size")
    y, cache = pooling.maxpool2d_forward(_nhwc(x, data_format, xp), pool, _pair(strides or pool, "strides"),
                                         _padding(padding))
    return result(_back(y, data_format, xp), (inputs,),
                  lambda dy: (_back(pooling.maxpool2d_backward(_nhwc(dy, data_format, xp), cache), data_format, xp),))


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    (x,), xp = _arrays(inputs)
    pool = _pair(pool_size, "pool_size")
    y, cache = pooling.avgpool2d_forward(_nhwc(x, data_format, xp), pool, _pair(strides or pool, "strides"),
                                         _padding(padding))
    return result(_back(y, data_format, xp), (inputs,),
                  lambda dy: (_back(pooling.avgpool2d_backward(_nhwc(dy, data_format, xp), cache), data_format, xp),))


# -- losses as ops ----------------------------------------------------------------------------------

def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Each row's crossentropy between one-hot ``target`` and ``output`` (probabilities, or logits)."""
    from minicnn.ops.numpy import clip, multiply, negative
    logp = log_softmax(output, axis=axis) if from_logits else log(clip(output, 1e-7, 1 - 1e-7))
    return negative(sum(multiply(target, logp), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    (t,), _ = _arrays(target)
    (o,), _ = _arrays(output)
    return categorical_crossentropy(one_hot(t.astype("int64").reshape(t.shape[:o.ndim - 1]), o.shape[axis],
                                            dtype=o.dtype), output, from_logits=from_logits, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Each element's binary crossentropy (no reduction)."""
    from minicnn.ops.numpy import add, clip, multiply
    if from_logits:  # log(1 + exp(-|z|)) + max(z, 0) - z*t, stable for any z
        return subtract(add(softplus(output), 0.0), multiply(target, output))
    p = clip(output, 1e-7, 1 - 1e-7)
    return subtract(0.0, add(multiply(target, log(p)), multiply(subtract(1.0, target), log(subtract(1.0, p)))))

