"""Dense, Flatten, Activation, Dropout and InputLayer: thin classes over minicnn.nn."""
import numbers
import math

from minicnn import graph, initializers
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format
from minicnn.nn import activations
from minicnn.nn.dense import dense_backward, dense_forward
from minicnn.nn.dropout import dropout_backward, dropout_forward


class ActivationMixin:
    """A layer whose output is ``activation(linear(x))``: it defines ``linear_forward`` and
    ``linear_backward``, and this mixin wraps the activation around them.

    The two halves stay callable apart: a step of the plan whose next step already gives the
    gradient at the activation's input (softmax with crossentropy) calls ``backward_linear``.
    """

    has_linear_part = True

    def _set_activation(self, activation):
        if callable(activation):  # a function of minicnn.activations, Keras style
            from minicnn import activations as public_activations  # imported at first use, as minicnn does
            activation = public_activations.serialize(activation)
        self.activation = "linear" if activation is None else activation
        # What the backward takes besides dy: the output y, or the input z for the few
        # activations whose derivative y does not determine (gelu, silu).
        self._act_forward, self._act_backward, self._act_takes_input = activations.get(self.activation)

    def forward(self, x, training=False):
        z, cache = self.linear_forward(x)
        y, saved = self.activate(z)
        return y, (cache, saved)

    def backward(self, dy, cache):
        return self.linear_backward(self._act_backward(dy, cache[1]), cache[0])

    def backward_linear(self, dz, cache):
        """The backward from dz, the gradient at the activation's input (the activation skipped)."""
        return self.linear_backward(dz, cache[0])

    def activate(self, z):
        """y = activation(z) (ReLU overwrites the fresh z), and y or z: what ``_act_backward`` takes."""
        y = activations.relu_forward(z, out=z) if self.activation == "relu" else self._act_forward(z)
        return y, (z if self._act_takes_input else y)


class InputLayer(Layer):
    """A model's input: it holds the per-sample shape and makes the symbolic tensor that
    ``Input(shape=...)`` returns (Keras 3: ``batch_shape=(None, ...)`` also works); the identity."""

    def __init__(self, shape=None, input_shape=None, batch_shape=None, **kwargs):
        if batch_shape is not None:
            shape = tuple(batch_shape)[1:]
        super().__init__(input_shape=shape if shape is not None else input_shape, **kwargs)
        if self.declared_input_shape is None:
            raise ValueError(f"{self.name}: InputLayer needs shape=, e.g. Input(shape=(28, 28, 1)).")
        self.build(self.declared_input_shape)
        graph.Node(self, [], False, [self.declared_input_shape])

    def forward(self, x, training=False):
        return x, None

    def backward(self, dy, cache):
        return dy, {}

    def count_params(self):
        return 0

    def _leaf_layers(self):
        return []


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None):
    """Keras's ``keras.Input(shape=...)``: a symbolic tensor to call layers on, the start of a
    ``Model(inputs, outputs)`` (or the first entry of a Sequential). ``shape`` excludes the batch
    axis; ``batch_size`` is accepted and ignored (every batch size runs).

    Raises:
        ValueError: without a shape, or for sparse inputs or a ``tensor=`` (not supported).
    """
    if sparse or tensor is not None:
        raise ValueError("Input: sparse inputs and tensor= are not supported; give shape=(...) alone.")
    return InputLayer(shape=shape, batch_shape=batch_shape, name=name, dtype=dtype).output


class Dense(ActivationMixin, Layer):
    """y = activation(x @ kernel + bias): (N, D) -> (N, units); on inputs with more axes, (N, ..., D)
    -> (N, ..., units), the same product at every position, as Keras's Dense.

    Keras 1 spellings: ``output_dim`` for ``units``, ``init`` for ``kernel_initializer``,
    ``bias`` for ``use_bias``.

    Raises:
        ValueError: for units < 1.
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
        if len(input_shape) < 1:
            raise ValueError(f"{self.name}: Dense needs inputs with a feature axis, got per-sample shape "
                             f"{tuple(input_shape)}.")
        return (*input_shape[:-1], self.units)

    def _create_params(self, input_shape):
        self.params["kernel"] = self._new_param(self.kernel_initializer, (input_shape[-1], self.units))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.units,))

    def linear_forward(self, x):
        z, cache = dense_forward(x.reshape(-1, x.shape[-1]), self.params["kernel"], self.params.get("bias"))
        return z.reshape(*x.shape[:-1], self.units), (cache, x.shape)  # a view either way: no copy

    def linear_backward(self, dz, cache):
        cache, shape = cache
        dx, dW, db = dense_backward(dz.reshape(-1, self.units), cache)
        return dx.reshape(shape), ({"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW})

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
        shape = x.shape
        if self.data_format == "channels_first" and x.ndim > 2:
            x = x.transpose(0, *range(2, x.ndim), 1)
        return x.reshape(x.shape[0], -1), shape

    def backward(self, dy, shape):
        if self.data_format == "channels_first" and len(shape) > 2:
            moved = (shape[0], *shape[2:], shape[1])
            return dy.reshape(moved).transpose(0, len(shape) - 1, *range(1, len(shape) - 1)), {}
        return dy.reshape(shape), {}

    def get_config(self):
        config = super().get_config()
        config["data_format"] = self.data_format
        return config


class Activation(ActivationMixin, Layer):
    """Applies a named activation (any of :data:`minicnn.nn.activations.ACTIVATIONS`: relu,
    softmax, sigmoid, tanh, linear, elu, selu, softplus, softsign, silu/swish, gelu,
    hard_sigmoid, exponential, leaky_relu) or a function of :mod:`minicnn.activations`."""

    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self._set_activation(activation)

    def linear_forward(self, x):
        # ReLU works in place on the linear part's output; never overwrite the previous layer's.
        return (x.copy() if self.activation == "relu" else x), None

    def linear_backward(self, dz, cache):
        return dz, {}

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

    def forward(self, x, training=False):
        """``(y, mask)``; the identity and no mask at inference or with rate 0."""
        if not training or self.rate == 0:
            return x, None
        return dropout_forward(x, self.rate)

    def backward(self, dy, mask):
        return (dy if mask is None else dropout_backward(dy, mask)), {}

    def get_config(self):
        config = super().get_config()
        config["rate"] = self.rate
        return config
