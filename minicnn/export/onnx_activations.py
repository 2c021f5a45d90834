"""minicnn's activations as ONNX nodes (opset 17), each the same function as
:mod:`minicnn.nn.activations`.

Each entry takes the graph, the input's name, a base for the node names and the axis (for
softmax, in the input's native form) and returns the output's name. Activations ONNX has as one
operator use it; the others are written from the operators their formula needs (gelu from Erf,
mish from Softplus and Tanh), since opset 17 has no Gelu or Mish.
"""
import math

from minicnn.nn.activations import SELU_ALPHA, SELU_SCALE


def _unary(op_type, **attrs):
    return lambda g, x, base, axis: g.op(op_type, [x], base, **attrs)


def _clip(low, high):
    return lambda g, x, base, axis: g.op("Clip", [x, g.const(low, "zero" if low == 0 else "clip_low"),
                                                  g.const(high, "clip_high")], base)


def _silu(g, x, base, axis):
    return g.op("Mul", [x, g.op("Sigmoid", [x], base)], base)


def _gelu(g, x, base, axis):
    """x * Phi(x) = x/2 * (1 + erf(x / sqrt(2))): minicnn's exact gelu (Keras 3's default)."""
    e = g.op("Erf", [g.op("Mul", [x, g.const(math.sqrt(0.5), "rsqrt2")], base)], base)
    half_x = g.op("Mul", [x, g.const(0.5, "half")], base)
    return g.op("Mul", [half_x, g.op("Add", [e, g.const(1.0, "one")], base)], base)


def _mish(g, x, base, axis):
    return g.op("Mul", [x, g.op("Tanh", [g.op("Softplus", [x], base)], base)], base)


def _softmax(g, x, base, axis):
    return g.op("Softmax", [x], base, axis=axis)


ACTIVATIONS = {
    "relu": _unary("Relu"),
    "relu6": _clip(0.0, 6.0),
    "sigmoid": _unary("Sigmoid"),
    "tanh": _unary("Tanh"),
    "softmax": _softmax,
    "elu": _unary("Elu", alpha=1.0),
    "selu": _unary("Selu", alpha=SELU_ALPHA, gamma=SELU_SCALE),
    "softplus": _unary("Softplus"),
    "softsign": _unary("Softsign"),
    "silu": _silu,
    "swish": _silu,
    "gelu": _gelu,
    "hard_sigmoid": _unary("HardSigmoid", alpha=1 / 6, beta=0.5),  # Keras 3's relu6(x + 3) / 6
    "exponential": _unary("Exp"),
    "leaky_relu": _unary("LeakyRelu", alpha=0.2),  # the function's default slope, as minicnn's
    "mish": _mish,
}


def activate(g, activation, v, base, axis=-1):
    """The :class:`~minicnn.export.onnx_graph.Value` ``activation(v)``, in v's native form;
    ``axis``: softmax's axis, as the user counts it.

    Raises:
        ValueError: for an activation minicnn has but this table lacks (a bug: every name of
            minicnn.nn.activations.ACTIVATIONS is here, which a test checks).
    """
    if activation in (None, "linear"):
        return v
    if activation not in ACTIVATIONS:
        raise ValueError(f"{base}: the activation {activation!r} has no ONNX form in minicnn.export.")
    return v.like(ACTIVATIONS[activation](g, v.name, base, v.axis(axis)))


def relu_general(g, v, base, negative_slope, max_value, threshold):
    """Keras's ReLU layer with its options, as minicnn computes it: x above ``threshold`` (clipped
    to [0, max_value] when given), ``-negative_slope * (threshold - x)`` below it."""
    x = v.name
    if negative_slope == 0 and threshold == 0:
        y = g.op("Relu", [x], base) if max_value is None else _clip(0.0, max_value)(g, x, base, None)
        return v.like(y)
    y = g.op("Where", [g.op("Greater", [x, g.const(threshold, "threshold")], base), x, g.const(0.0, "zero")], base)
    if max_value is not None:
        y = _clip(0.0, max_value)(g, y, base, None)
    if negative_slope != 0:
        below = g.op("Relu", [g.op("Sub", [g.const(threshold, "threshold"), x], base)], base)
        y = g.op("Sub", [y, g.op("Mul", [below, g.const(negative_slope, "negative_slope")], base)], base)
    return v.like(y)
