"""Elementwise activations and softmax, each with its backward beside it.

Every ``*_forward`` returns ``y`` (same shape as ``x``); every ``*_backward(dy, y)`` takes the
forward's *output*, which is all these derivatives need, so layers cache only ``y``.
"""
from minicnn.backend import get_array_module


def linear_forward(x):
    return x


def linear_backward(dy, y):
    return dy


def relu_forward(x, out=None):
    """max(x, 0); ``out=x`` makes it in place."""
    return get_array_module(x).maximum(x, 0, out=out)


def relu_backward(dy, y, out=None, mask=None):
    """dy where y > 0, else 0; ``out`` (may be dy) and ``mask`` (bool) are optional buffers to fill."""
    xp = get_array_module(dy)
    mask = xp.greater(y, 0, out=mask)
    return xp.multiply(dy, mask, out=out)


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), written without overflow for large |x|."""
    xp = get_array_module(x)
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dy, y):
    return dy * y * (1 - y)


def tanh_forward(x):
    return get_array_module(x).tanh(x)


def tanh_backward(dy, y):
    return dy * (1 - y * y)


def softmax_forward(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``, shifted by the max so exp never overflows."""
    xp = get_array_module(x)
    y = x - x.max(axis=axis, keepdims=True)
    xp.exp(y, out=y)
    y /= y.sum(axis=axis, keepdims=True)
    return y


def softmax_backward(dy, y, axis=-1):
    """The softmax Jacobian applied to dy: y * (dy - sum(dy * y))."""
    return y * (dy - (dy * y).sum(axis=axis, keepdims=True))


def log_softmax(x, axis=-1):
    """log(softmax(x)) computed as x - max - log(sum(exp(x - max))): finite for any finite x."""
    xp = get_array_module(x)
    z = x - x.max(axis=axis, keepdims=True)
    return z - xp.log(xp.exp(z).sum(axis=axis, keepdims=True))


ACTIVATIONS = {
    "linear": (linear_forward, linear_backward),
    "relu": (relu_forward, relu_backward),
    "sigmoid": (sigmoid_forward, sigmoid_backward),
    "tanh": (tanh_forward, tanh_backward),
    "softmax": (softmax_forward, softmax_backward),
}


def get(name):
    """``(forward, backward)`` of a named activation; None means linear.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for something that is neither a string nor None.
    """
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string name such as 'relu', got {name!r}.")
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; valid activations are {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]
