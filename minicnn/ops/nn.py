"""Keras 3's neural-network ops (``keras.ops.relu``, ``softmax``, ``conv``, ``max_pool``...), on the
plain ops of :mod:`minicnn.nn` and their hand-written backwards: an op here is one record on the tape.

Images are (N, H, W, C), or (N, C, H, W) with ``data_format="channels_first"``; ``data_format``
None follows :func:`minicnn.backend.image_data_format`, as in Keras. Kernels are (KH, KW, C, F)
whatever the data format, as Keras's."""
from minicnn import backend
from minicnn.nn import activations as act
from minicnn.nn import conv as conv_ops
from minicnn.nn import conv_transpose as conv_transpose_ops
from minicnn.nn import depthwise as depthwise_ops
from minicnn.nn import pooling
from minicnn.nn.geometry import PADDINGS
from minicnn.ops.numpy import _arrays, add, clip, divide, log, multiply, negative, subtract
from minicnn.ops.reductions import sum
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
selu, softplus, softsign = _activation("selu"), _activation("softplus"), _activation("softsign")
silu = swish = _activation("silu")
hard_sigmoid, mish = _activation("hard_sigmoid"), _activation("mish")


def elu(x, alpha=1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    return _activation("elu", alpha=alpha)(x)


def hard_silu(x):
    """``x * hard_sigmoid(x)`` (Keras's ``hard_silu``, alias ``hard_swish``)."""
    return multiply(x, hard_sigmoid(x))


hard_swish = hard_silu


def leaky_relu(x, negative_slope=0.2):
    return _activation("leaky_relu", negative_slope=negative_slope)(x)


def gelu(x, approximate=True):
    """GELU; ``approximate`` (Keras 3's default True) uses the tanh form, else the exact erf one."""
    return _activation("gelu", approximate=approximate)(x)


def softmax(x, axis=-1):
    """``exp(x) / sum(exp(x))`` along ``axis``."""
    (a,), _ = _arrays(x)
    y = act.softmax_forward(a, axis=axis)
    return result(y, (x,), lambda dy: (act.softmax_backward(dy, y, axis=axis),))


def log_softmax(x, axis=-1):
    """``x - logsumexp(x)`` along ``axis``."""
    (a,), xp = _arrays(x)
    y = act.log_softmax(a, axis=axis)
    return result(y, (x,), lambda dy: (dy - xp.exp(y) * dy.sum(axis=axis, keepdims=True),))


def log_sigmoid(x):
    """``log(sigmoid(x)) = -softplus(-x)``, without overflow."""
    return subtract(0.0, softplus(subtract(0.0, x)))


def one_hot(x, num_classes, axis=-1, dtype=None, sparse=False):
    """Integer labels (...) as one-hot rows (..., num_classes) of ``dtype`` (float32), the class axis
    at ``axis``; a label outside [0, num_classes) gives a row of zeros. No gradient.

    Raises:
        ValueError: for ``sparse=True`` (minicnn's arrays are dense).
    """
    if sparse:
        raise ValueError("ops.one_hot: minicnn has no sparse tensors; pass sparse=False.")
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


def _format(data_format):
    data_format = backend.image_data_format() if data_format is None else data_format
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"ops: data_format must be 'channels_last' or 'channels_first', got {data_format!r}.")
    return data_format


def _nhwc(a, data_format, xp):
    if a.ndim != 4:
        raise ValueError(f"ops: only batches of 2-D images (rank 4, (N, H, W, C) or (N, C, H, W)) are supported, "
                         f"got an input of shape {tuple(a.shape)}.")
    return a if _format(data_format) == "channels_last" else xp.transpose(a, (0, 2, 3, 1))


def _back(y, data_format, xp):
    return y if _format(data_format) == "channels_last" else xp.transpose(y, (0, 3, 1, 2))


def _padding(padding):
    padding = padding.lower()
    if padding not in PADDINGS:
        raise ValueError(f"ops: padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def _convolution(plain, inputs, kernel, data_format, *geometry):
    """A convolution-like plain op (``plain``: its module's forward and backward) on ``inputs`` with
    ``kernel``, no bias, in the user's data format; one record with the op's own backward."""
    forward, backward_op = plain
    (x, w), xp = _arrays(inputs, kernel)
    y, cache = forward(_nhwc(x, data_format, xp), w, None, *geometry)

    def backward(dy):
        dx, dw, _ = backward_op(_nhwc(dy, data_format, xp), cache)
        return _back(dx, data_format, xp), dw
    return result(_back(y, data_format, xp), (inputs, kernel), backward)


def conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The 2-D convolution of ``inputs`` with ``kernel`` (KH, KW, C, F), no bias: im2col and one
    matrix product (:func:`minicnn.nn.conv.conv2d_forward`)."""
    return _convolution((conv_ops.conv2d_forward, conv_ops.conv2d_backward), inputs, kernel, data_format,
                        _pair(strides, "strides"), _padding(padding), _pair(dilation_rate, "dilation_rate"))


def depthwise_conv(inputs, kernel, strides=1, padding="valid", data_format=None, dilation_rate=1):
    """The depthwise 2-D convolution with ``kernel`` (KH, KW, C, M): output channel c*M + m."""
    return _convolution((depthwise_ops.depthwise_conv2d_forward, depthwise_ops.depthwise_conv2d_backward),
                        inputs, kernel, data_format, _pair(strides, "strides"), _padding(padding),
                        _pair(dilation_rate, "dilation_rate"))


def conv_transpose(inputs, kernel, strides=1, padding="valid", output_padding=None, data_format=None,
                   dilation_rate=1):
    """The transposed 2-D convolution with ``kernel`` (KH, KW, F, C), as Conv2DTranspose computes it."""
    return _convolution((conv_transpose_ops.conv2d_transpose_forward, conv_transpose_ops.conv2d_transpose_backward),
                        inputs, kernel, data_format, _pair(strides, "strides"), _padding(padding),
                        None if output_padding is None else _pair(output_padding, "output_padding"),
                        _pair(dilation_rate, "dilation_rate"))


def _pooling(forward, backward, inputs, pool_size, strides, padding, data_format):
    """A pooling plain op on ``inputs`` in the user's data format; one record with its own backward."""
    (x,), xp = _arrays(inputs)
    pool = _pair(pool_size, "pool_size")
    y, cache = forward(_nhwc(x, data_format, xp), pool, _pair(strides or pool, "strides"), _padding(padding))
    return result(_back(y, data_format, xp), (inputs,),
                  lambda dy: (_back(backward(_nhwc(dy, data_format, xp), cache), data_format, xp),))


def max_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The largest value of each ``pool_size`` window, ``strides`` apart (``pool_size`` by default)."""
    return _pooling(pooling.maxpool2d_forward, pooling.maxpool2d_backward, inputs, pool_size, strides, padding,
                    data_format)


def average_pool(inputs, pool_size, strides=None, padding="valid", data_format=None):
    """The mean of each ``pool_size`` window, ``strides`` apart; "same" padding averages only the
    values inside the image, as Keras does."""
    return _pooling(pooling.avgpool2d_forward, pooling.avgpool2d_backward, inputs, pool_size, strides, padding,
                    data_format)


# -- losses as ops ----------------------------------------------------------------------------------

def categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """Each row's crossentropy -sum(target * log(p)) along ``axis``: p the softmax of logits, or
    ``output`` divided by its sum (probabilities that need not sum to one), clipped to [1e-7, 1 - 1e-7]."""
    if from_logits:
        logp = log_softmax(output, axis=axis)
    else:
        logp = log(clip(divide(output, sum(output, axis=axis, keepdims=True)), EPSILON, 1 - EPSILON))
    return negative(sum(multiply(target, logp), axis=axis))


def sparse_categorical_crossentropy(target, output, from_logits=False, axis=-1):
    """:func:`categorical_crossentropy` with integer labels (..., or ..., 1) for the one-hot target."""
    (t, o), _ = _arrays(target, output)
    labels = t.astype("int64").reshape([n for i, n in enumerate(o.shape) if i != axis % o.ndim])
    return categorical_crossentropy(one_hot(labels, o.shape[axis], axis=axis, dtype=o.dtype), output,
                                    from_logits=from_logits, axis=axis)


def binary_crossentropy(target, output, from_logits=False):
    """Each element's binary crossentropy -(t log p + (1 - t) log(1 - p)) (no reduction); with logits
    z, softplus(z) - z t, which never overflows."""
    if from_logits:
        return subtract(softplus(output), multiply(target, output))
    p = clip(output, EPSILON, 1 - EPSILON)
    return negative(add(multiply(target, log(p)), multiply(subtract(1.0, target), log(subtract(1.0, p)))))


EPSILON = 1e-7  # Keras's backend.epsilon(), which keeps log away from 0
