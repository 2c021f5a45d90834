"""ReLU, LeakyReLU and Softmax: activations with options, as layers over :mod:`minicnn.nn.activations`.

(``Activation("relu")`` and ``activation=`` on Dense and Conv2D take the plain names.)
"""
import numbers

from minicnn.layers.base import Layer
from minicnn.nn import activations


def _nonnegative_number(value, what, layer, allow_none=False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {what} must be a non-negative number, got {value!r}.")
    if not value >= 0:
        raise ValueError(f"{layer}: {what} must be a non-negative number, got {value}.")
    return float(value)


class ReLU(Layer):
    """Keras's ReLU layer: x above ``threshold``, clipped to ``max_value`` when given, and
    ``negative_slope * (x - threshold)`` below the threshold. The defaults give max(x, 0).

    Raises:
        ValueError/TypeError: for a negative or non-numeric max_value, negative_slope or threshold.
    """

    def __init__(self, max_value=None, negative_slope=0.0, threshold=0.0, **kwargs):
        super().__init__(**kwargs)
        self.max_value = _nonnegative_number(max_value, "max_value", self.name, allow_none=True)
        self.negative_slope = _nonnegative_number(negative_slope, "negative_slope", self.name)
        self.threshold = _nonnegative_number(threshold, "threshold", self.name)

    def _options(self):
        return self.negative_slope, self.max_value, self.threshold

    def forward(self, x, training=False):
        return activations.relu_general_forward(x, *self._options()), x

    def backward(self, dy, x):
        return activations.relu_general_backward(dy, x, *self._options()), {}

    def get_config(self):
        config = super().get_config()
        config.update(max_value=self.max_value, negative_slope=self.negative_slope, threshold=self.threshold)
        return config


class LeakyReLU(Layer):
    """x for x > 0, ``negative_slope * x`` otherwise; the slope defaults to 0.3, as Keras's layer
    (the ``leaky_relu`` function's is 0.2). Keras 2 spelling: ``alpha`` for negative_slope.

    Raises:
        ValueError/TypeError: for a negative or non-numeric slope, or both spellings at once.
    """

    def __init__(self, negative_slope=None, alpha=None, **kwargs):
        super().__init__(**kwargs)
        if negative_slope is not None and alpha is not None:
            raise TypeError(f"{self.name}: give negative_slope or Keras 2's alpha, not both.")
        slope = next((s for s in (negative_slope, alpha) if s is not None), 0.3)
        self.negative_slope = _nonnegative_number(slope, "negative_slope", self.name)

    def forward(self, x, training=False):
        y = activations.leaky_relu_forward(x, self.negative_slope)
        return y, y

    def backward(self, dy, y):
        return activations.leaky_relu_backward(dy, y, self.negative_slope), {}

    def get_config(self):
        config = super().get_config()
        config["negative_slope"] = self.negative_slope
        return config


class Softmax(Layer):
    """exp(x) / sum(exp(x)) along ``axis`` (default -1, the last; an int or a tuple of ints,
    counted with the batch axis as Keras does, which itself cannot be one of them).

    Unlike ``Dense(..., activation="softmax")``, a Softmax layer is not fused with a following
    crossentropy loss: its gradient goes through the softmax's Jacobian.

    Raises:
        TypeError: for an axis that is not an int or a tuple of ints.
        ValueError: (at build) for an axis out of range or the batch axis.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        axes = axis if isinstance(axis, (tuple, list)) else (axis,)
        if not axes or not all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in axes):
            raise TypeError(f"{self.name}: axis must be an int or a tuple of ints, got {axis!r}.")
        self.axis = tuple(int(a) for a in axis) if isinstance(axis, (tuple, list)) else int(axis)

    def compute_output_shape(self, input_shape):
        ndim = len(input_shape) + 1
        for a in self.axis if isinstance(self.axis, tuple) else (self.axis,):
            if not -ndim <= a < ndim or a % ndim == 0:
                raise ValueError(
                    f"{self.name}: axis {a} is not a per-sample axis of inputs of shape "
                    f"(batch, {', '.join(map(str, input_shape))}); use one of 1..{ndim - 1} or -1..-{ndim - 1}.")
        return tuple(input_shape)

    def forward(self, x, training=False):
        y = activations.softmax_forward(x, self.axis)
        return y, y

    def backward(self, dy, y):
        return activations.softmax_backward(dy, y, self.axis), {}

    def get_config(self):
        config = super().get_config()
        config["axis"] = list(self.axis) if isinstance(self.axis, tuple) else self.axis
        return config
