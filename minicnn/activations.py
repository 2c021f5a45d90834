"""Keras's ``keras.activations`` on arrays: ``minicnn.activations.gelu(x)`` and the rest.

Each function takes a NumPy or CuPy array (or anything ``numpy.asarray`` takes, as float32) and
returns an array of the same shape and float dtype, computed by the plain ops of
:mod:`minicnn.nn.activations`. The same names, given as strings or as these functions, are the
``activation=`` of Dense, Conv2D and Activation.
"""
import numpy as np

from minicnn import backend
from minicnn.nn import activations as ops


def _array(x):
    if backend.is_cupy_array(x) or (isinstance(x, np.ndarray) and x.dtype.kind == "f"):
        return x
    return np.asarray(x, dtype=backend.floatx())


def relu(x, negative_slope=0.0, max_value=None, threshold=0.0):
    """max(x, 0); with Keras's options, x above ``threshold`` clipped to ``max_value``, and
    ``negative_slope * (x - threshold)`` below it."""
    return ops.relu_general_forward(_array(x), negative_slope, max_value, threshold)


def relu6(x):
    """min(max(x, 0), 6), as MobileNet caps its activations (the same as ``relu(x, max_value=6)``)."""
    return ops.relu6_forward(_array(x))


def leaky_relu(x, negative_slope=0.2):
    """x for x > 0, else ``negative_slope * x`` (Keras 3's default slope for the function: 0.2)."""
    return ops.leaky_relu_forward(_array(x), negative_slope)


def elu(x, alpha=1.0):
    """x for x > 0, else ``alpha * (exp(x) - 1)``."""
    return ops.elu_forward(_array(x), alpha)


def selu(x):
    """Scaled ELU: ``1.0507 * elu(x, alpha=1.6733)`` (Klambauer et al., 2017)."""
    return ops.selu_forward(_array(x))


def softplus(x):
    """log(1 + exp(x))."""
    return ops.softplus_forward(_array(x))


def softsign(x):
    """x / (1 + |x|)."""
    return ops.softsign_forward(_array(x))


def silu(x):
    """x * sigmoid(x); ``swish`` is the same function."""
    return ops.silu_forward(_array(x))


swish = silu


def gelu(x, approximate=False):
    """x * Phi(x), Phi the standard normal CDF (Keras 3's default); ``approximate=True`` gives
    the tanh approximation."""
    return ops.gelu_forward(_array(x), approximate)


def mish(x):
    """x * tanh(softplus(x)) (Misra, 2019)."""
    return ops.mish_forward(_array(x))


def hard_sigmoid(x):
    """Keras 3's ``relu6(x + 3) / 6`` (Keras 2's was ``clip(0.2 * x + 0.5, 0, 1)``)."""
    return ops.hard_sigmoid_forward(_array(x))


def exponential(x):
    """exp(x)."""
    return ops.exponential_forward(_array(x))


def sigmoid(x):
    """1 / (1 + exp(-x))."""
    return ops.sigmoid_forward(_array(x))


def tanh(x):
    return ops.tanh_forward(_array(x))


def softmax(x, axis=-1):
    """exp(x) / sum(exp(x)) along ``axis``."""
    return ops.softmax_forward(_array(x), axis)


def linear(x):
    """The identity."""
    return _array(x)


# Every name the layers accept, with its function here (a missing one fails at import).
_BY_NAME = {name: globals()[name] for name in ops.ACTIVATIONS}


def get(identifier):
    """The function for a name (``"gelu"``) or one of this module's functions; None is linear.

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for anything else.
    """
    if identifier is None:
        return linear
    if callable(identifier):
        serialize(identifier)
        return identifier
    ops.get(identifier)
    return _BY_NAME[identifier]


def serialize(activation):
    """The name of one of this module's functions (``silu`` for swish, as Keras 3).

    Raises:
        TypeError: for a function of your own, which minicnn cannot differentiate.
    """
    for name, fn in _BY_NAME.items():
        if fn is activation and name != "swish":
            return name
    raise TypeError(
        f"activation {activation!r} is not one of minicnn's; minicnn needs each activation's "
        f"derivative, so pass a name or a function of minicnn.activations: {sorted(_BY_NAME)}.")


def deserialize(name):
    """The function for a name (as :func:`get`)."""
    return get(name)
