"""Dense, Flatten, Activation, Dropout and InputLayer: thin classes over minicnn.ops."""
import numbers
import math

from minicnn import initializers
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format
from minicnn.ops import activations
from minicnn.ops.dense import dense_backward, dense_forward
from minicnn.ops.dropout import dropout_backward, dropout_forward


class ActivationMixin:
    """An optional activation applied after a layer's linear part, with its backward.

    ``backward(dy, pre_activation_grad=True)`` means dy is already the gradient of the
    activation's *input*: the model uses it for the fused softmax + crossentropy gradient.
    """

    def _set_activation(self, activation):
        activations.get(activation)  # validates the name
        self.activation = activation or "linear"
        self._act_forward, self._act_backward = activations.get(self.activation)
        self._y = None

    def _activate(self, z, training):
        if self.activation == "linear":
            return z
        if self.activation == "relu":
            y = activations.relu_forward(z, out=z)  # z is this layer's own fresh output
        else:
            y = self._act_forward(z)
        if training:
            self._y = y
        return y

    def _deactivate(self, dy, pre_activation_grad):
        y, self._y = self._y, None
        if pre_activation_grad or self.activation == "linear":
            return dy
        return self._act_backward(dy, y)

    @property
    def ends_in_relu(self):
        """Whether this layer's output is a ReLU's (its backward then honours pre_activation_grad)."""
        return self.activation == "relu"


class InputLayer(Layer):
    """Declares the per-sample input shape of a Sequential model (``Input(shape=...)``); identity."""

    def __init__(self, shape=None, input_shape=None, **kwargs):
        super().__init__(input_shape=shape if shape is not None else input_shape, **kwargs)
        if self.declared_input_shape is None:
            raise ValueError(f"{self.name}: InputLayer needs shape=, e.g. Input(shape=(28, 28, 1)).")

    def forward(self, x, training=False):
        return x

    def backward(self, dy, pre_activation_grad=False):
        return dy

    def count_params(self):
        return 0


def Input(shape=None, name=None, **kwargs):
    """Keras 3's ``keras.Input(shape=...)`` as the first entry of a Sequential model."""
    return InputLayer(shape=shape, name=name, **kwargs)


class Dense(ActivationMixin, Layer):
    """y = activation(x @ kernel + bias) on flat inputs (N, D) -> (N, units).

    Keras 1 spellings: ``output_dim`` for ``units``, ``init`` for ``kernel_initializer``,
    ``bias`` for ``use_bias``.

    Raises:
        ValueError: for units < 1 or an input that is not flat (add Flatten() first).
    """

    def __init__(self, units=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", output_dim=None, init=None, bias=None, **kwargs):
        super().__init__(**kwargs)
        units = units if units is not None else output_dim
        if units is None:
            raise TypeError(f"{self.name}: Dense needs the number of units, e.g. Dense(128).")
        self.units = check_positive_int(units, "units", self.name)
        self._set_activation(activation)
        self.use_bias = bool(use_bias if bias is None else bias)
        self.kernel_initializer = initializers.get(init or kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.trainable_names = ("kernel", "bias") if self.use_bias else ("kernel",)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 1:
            raise ValueError(
                f"{self.name}: Dense expects flat inputs of shape (features,), but its input has "
                f"per-sample shape {tuple(input_shape)}. Add Flatten() before this Dense layer.")
        return (self.units,)

    def _create_params(self, input_shape):
        self.params["kernel"] = self._new_param(self.kernel_initializer, (input_shape[0], self.units))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.units,))

    def forward(self, x, training=False):
        z = dense_forward(x, self.params["kernel"], self.params.get("bias"))
        if training:
            self._x = x
        return self._activate(z, training)

    def backward(self, dy, pre_activation_grad=False):
        dz = self._deactivate(dy, pre_activation_grad)
        x, self._x = self._x, None
        dx, dW, db = dense_backward(dz, x, self.params["kernel"], self.use_bias, self.needs_input_grad)
        self.grads["kernel"] = dW
        if self.use_bias:
            self.grads["bias"] = db
        return dx

    def release(self):
        self._x = self._y = None

    def get_config(self):
        config = super().get_config()
        config.update(units=self.units, activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


class Flatten(Layer):
    """(N, d1, d2, ...) -> (N, d1*d2*...), in channels-last order, as Keras 2.2+ and 3.

    ``data_format`` defaults to the global image data format (as Keras); a ``channels_first``
    input is flattened as if it were channels-last, so the next Dense layer's weights are the
    same for a model in either format.
    """

    def __init__(self, data_format=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format, self.name)

    def compute_output_shape(self, input_shape):
        return (math.prod(input_shape),)

    def forward(self, x, training=False):
        self._in_shape = x.shape
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.transpose(0, *range(2, x.ndim), 1)
        return x.reshape(x.shape[0], -1)

    def backward(self, dy, pre_activation_grad=False):
        shape = self._in_shape
        if self.data_format == "channels_first" and len(shape) > 2:
            moved = (shape[0], *shape[2:], shape[1])
            return dy.reshape(moved).transpose(0, len(shape) - 1, *range(1, len(shape) - 1))
        return dy.reshape(shape)

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Activation(ActivationMixin, Layer):
    """Applies a named activation: relu, softmax, sigmoid, tanh or linear."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def forward(self, x, training=False):
        # relu works in place on its input; never overwrite the previous layer's output.
        z = x.copy() if self.activation == "relu" else x
        return self._activate(z, training)

    def backward(self, dy, pre_activation_grad=False):
        return self._deactivate(dy, pre_activation_grad)

    def release(self):
        self._y = None

    def get_config(self):
        config = super().get_config()
        config["activation"] = self.activation
        return config


class Dropout(Layer):
    """Inverted dropout: at training time zero inputs with probability ``rate`` and scale the
    rest by 1/(1-rate); the identity at inference. Keras 1 spelling: ``p`` for ``rate``.

    Raises:
        ValueError: for a rate outside [0, 1).
    """

    def __init__(self, rate=None, noise_shape=None, seed=None, p=None, **kwargs):
        super().__init__(**kwargs)
        rate = rate if rate is not None else p
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real):
            raise TypeError(f"{self.name}: Dropout rate must be a number in [0, 1), got {rate!r}.")
        if not 0 <= rate < 1:
            raise ValueError(f"{self.name}: Dropout rate must be in [0, 1), got {rate}.")
        if noise_shape is not None:
            raise ValueError(f"{self.name}: noise_shape is not supported; leave it None.")
        self.rate = float(rate)
        self._mask = None

    def forward(self, x, training=False):
        if not training or self.rate == 0:
            self._mask = None
            return x
        y, self._mask = dropout_forward(x, self.rate)
        return y

    def backward(self, dy, pre_activation_grad=False):
        mask, self._mask = self._mask, None
        return dy if mask is None else dropout_backward(dy, mask)

    def release(self):
        self._mask = None

    def get_config(self):
        config = super().get_config()
        config["rate"] = self.rate
        return config
