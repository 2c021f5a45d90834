"""Elementwise activations and softmax, each with its backward beside it.

Every ``*_forward(x)`` returns ``y`` (same shape as ``x``). Its ``*_backward(dy, saved)`` takes
what the derivative needs besides dy: for most activations the forward's *output* y, which the
next layer holds anyway; for the few whose derivative is not a function of y (silu/swish, gelu,
mish and the ReLU with Keras's options) the forward's *input* x. :data:`ACTIVATIONS` records which,
and a layer caches that one array (:class:`minicnn.layers.core.ActivationMixin`).
"""
import math

from minicnn.backend import get_array_module
from minicnn.nn.erf import erfc


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


def relu_general_forward(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Keras's ReLU with its options: x above ``threshold`` (then clipped to [0, max_value] when
    ``max_value`` is given), ``negative_slope * (x - threshold)`` below it."""
    if negative_slope == 0 and max_value is None and threshold == 0:  # the plain ReLU: one pass
        return relu_forward(x)
    xp = get_array_module(x)
    if negative_slope == 0 and threshold == 0:  # MobileNet's ReLU(6.): one pass too
        return xp.clip(x, 0, max_value)
    y = xp.where(x > threshold, x, 0).astype(x.dtype, copy=False)
    if max_value is not None:
        y = xp.clip(y, 0, max_value)
    if negative_slope != 0:
        y -= negative_slope * xp.maximum(threshold - x, 0)
    return y


def relu_general_backward(dy, x, negative_slope=0.0, max_value=None, threshold=0.0):
    """Takes the input x: with a threshold, y alone does not say which side of it x was."""
    if negative_slope == 0 and max_value is None and threshold == 0:
        return relu_backward(dy, x)  # x > 0 exactly where y > 0
    if negative_slope == 0 and threshold == 0:
        return dy * ((x > 0) & (x < max_value))
    passes = x > threshold
    if max_value is not None:
        passes &= (x > 0) & (x < max_value)
    return get_array_module(dy).where(x < threshold, negative_slope * dy, dy * passes)


def relu6_forward(x):
    """min(max(x, 0), 6): the ReLU capped at 6 (MobileNet's; Keras's ``relu6``)."""
    return get_array_module(x).clip(x, 0, 6)


def relu6_backward(dy, y):
    """dy where 0 < x < 6, read off y (0 and 6 exactly where x is at or past a cap)."""
    return dy * ((y > 0) & (y < 6))


def leaky_relu_forward(x, negative_slope=0.2):
    """x for x > 0, ``negative_slope * x`` otherwise (0.2: Keras 3's default for the function)."""
    return get_array_module(x).where(x > 0, x, negative_slope * x).astype(x.dtype, copy=False)


def leaky_relu_backward(dy, y, negative_slope=0.2):
    return get_array_module(dy).where(y > 0, dy, negative_slope * dy).astype(dy.dtype, copy=False)


def elu_forward(x, alpha=1.0):
    """x for x > 0, ``alpha * (exp(x) - 1)`` otherwise."""
    xp = get_array_module(x)
    # min(x, 0): the branch not taken must not overflow exp.
    return xp.where(x > 0, x, alpha * xp.expm1(xp.minimum(x, 0))).astype(x.dtype, copy=False)


def elu_backward(dy, y, alpha=1.0):
    """1 where y > 0, else alpha * exp(x) = y + alpha."""
    return dy * get_array_module(dy).where(y > 0, 1, y + alpha).astype(dy.dtype, copy=False)


SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu_forward(x):
    """``scale * elu(x, alpha)`` with the self-normalising constants of Klambauer et al. (2017)."""
    return SELU_SCALE * elu_forward(x, SELU_ALPHA)


def selu_backward(dy, y):
    return dy * get_array_module(dy).where(y > 0, SELU_SCALE, y + SELU_SCALE * SELU_ALPHA).astype(dy.dtype,
                                                                                                  copy=False)


def softplus_forward(x):
    """log(1 + exp(x)), as max(x, 0) + log1p(exp(-|x|)) so exp never overflows."""
    xp = get_array_module(x)
    return xp.maximum(x, 0) + xp.log1p(xp.exp(-xp.abs(x)))


def softplus_backward(dy, y):
    """sigmoid(x) = 1 - exp(-y), computed as -expm1(-y) to keep its digits where it is small."""
    return dy * -get_array_module(dy).expm1(-y)


def softsign_forward(x):
    """x / (1 + |x|)."""
    return x / (1 + get_array_module(x).abs(x))


def softsign_backward(dy, y):
    """1 / (1 + |x|)**2 = (1 - |y|)**2."""
    return dy * (1 - get_array_module(dy).abs(y)) ** 2


def sigmoid_forward(x):
    """1 / (1 + exp(-x)), written without overflow for large |x|."""
    xp = get_array_module(x)
    # exp(-|x|) never overflows; the two branches are the same function rearranged.
    e = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + e), e / (1 + e)).astype(x.dtype, copy=False)


def sigmoid_backward(dy, y):
    return dy * y * (1 - y)


def hard_sigmoid_forward(x):
    """Keras 3's hard sigmoid, relu6(x + 3) / 6: 0 below -3, 1 above 3, x/6 + 1/2 between.

    Keras 2 used 0.2 * x + 0.5 clipped to [0, 1] (0 below -2.5); Keras 3 changed it to this.
    """
    return get_array_module(x).clip(x / 6 + 0.5, 0, 1)


def hard_sigmoid_backward(dy, y):
    return dy * ((y > 0) & (y < 1)) / 6


def silu_forward(x):
    """x * sigmoid(x) (Keras's ``silu``, alias ``swish``)."""
    return x * sigmoid_forward(x)


def silu_backward(dy, x):
    """Takes the input x: s + x * s * (1 - s) with s = sigmoid(x)."""
    s = sigmoid_forward(x)
    return dy * s * (1 + x * (1 - s))


def mish_forward(x):
    """x * tanh(softplus(x)) (Misra, 2019; Keras's ``mish``)."""
    return x * get_array_module(x).tanh(softplus_forward(x))


def mish_backward(dy, x):
    """Takes the input x (mish is not monotonic, so y does not determine it):
    t + x * (1 - t**2) * sigmoid(x), with t = tanh(softplus(x))."""
    t = get_array_module(x).tanh(softplus_forward(x))
    return dy * (t + x * (1 - t * t) * sigmoid_forward(x))


GELU_TANH = math.sqrt(2 / math.pi)


def gelu_forward(x, approximate=False):
    """x * Phi(x), Phi the standard normal CDF = erfc(-x / sqrt(2)) / 2 (Keras 3's default,
    ``approximate=False``); with ``approximate=True``, the tanh form
    x/2 * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x**3)))."""
    if approximate:
        xp = get_array_module(x)
        return 0.5 * x * (1 + xp.tanh(GELU_TANH * (x + 0.044715 * x ** 3)))
    return 0.5 * x * erfc(x * -math.sqrt(0.5))


def gelu_backward(dy, x, approximate=False):
    """Takes the input x: Phi(x) + x * phi(x), phi the standard normal density (or the tanh form's)."""
    xp = get_array_module(x)
    if approximate:
        t = xp.tanh(GELU_TANH * (x + 0.044715 * x ** 3))
        return dy * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * GELU_TANH * (1 + 3 * 0.044715 * x * x))
    return dy * (0.5 * erfc(x * -math.sqrt(0.5)) + x * xp.exp(-0.5 * x * x) / math.sqrt(2 * math.pi))


def tanh_forward(x):
    return get_array_module(x).tanh(x)


def tanh_backward(dy, y):
    return dy * (1 - y * y)


def exponential_forward(x):
    return get_array_module(x).exp(x)


def exponential_backward(dy, y):
    return dy * y


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


# name: (forward, backward, whether the backward takes the input x rather than the output y).
ACTIVATIONS = {
    "linear": (linear_forward, linear_backward, False),
    "relu": (relu_forward, relu_backward, False),
    "sigmoid": (sigmoid_forward, sigmoid_backward, False),
    "tanh": (tanh_forward, tanh_backward, False),
    "softmax": (softmax_forward, softmax_backward, False),
    "elu": (elu_forward, elu_backward, False),
    "selu": (selu_forward, selu_backward, False),
    "softplus": (softplus_forward, softplus_backward, False),
    "softsign": (softsign_forward, softsign_backward, False),
    "silu": (silu_forward, silu_backward, True),
    "swish": (silu_forward, silu_backward, True),
    "gelu": (gelu_forward, gelu_backward, True),
    "hard_sigmoid": (hard_sigmoid_forward, hard_sigmoid_backward, False),
    "exponential": (exponential_forward, exponential_backward, False),
    "leaky_relu": (leaky_relu_forward, leaky_relu_backward, False),
    "relu6": (relu6_forward, relu6_backward, False),
    "mish": (mish_forward, mish_backward, True),
}


def get(name):
    """``(forward, backward, takes_input)`` of a named activation; None means linear.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for something that is neither a string nor None.
    """
    if name is None:
        name = "linear"
    if not isinstance(name, str):
        raise TypeError(f"activation must be a string name such as 'relu' (or a function of "
                        f"minicnn.activations, on a layer), got {name!r}.")
    if name not in ACTIVATIONS:
        raise ValueError(f"Unknown activation {name!r}; valid activations are {sorted(ACTIVATIONS)}.")
    return ACTIVATIONS[name]
