"""Custom layers written as Keras's guides write them (``__init__(**kwargs)``, ``build`` with
``add_weight``, ``call`` with ``keras.ops``, ``get_config``), shared by the custom-layer tests, the
MPI job and the fake-CuPy tests. Written from the guides' descriptions, not copied."""
import minicnn as keras
from minicnn import ops
from minicnn.layers import Dense, Layer


class Linear(Layer):
    """Keras 3's spelling: ``add_weight(shape=..., initializer=..., name=...)``, super().build()."""

    def __init__(self, units=4, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.w = self.add_weight(shape=(input_shape[-1], self.units), initializer="random_normal", name="w")
        self.b = self.add_weight(shape=(self.units,), initializer="random_normal", name="b")
        super().build(input_shape)

    def call(self, inputs):
        return ops.matmul(inputs, self.w) + self.b

    def get_config(self):
        return {**super().get_config(), "units": self.units}


class Keras2Scale(Layer):
    """Keras 2's spelling: ``add_weight(name, shape, initializer=...)`` with the name first, and a
    ``call(inputs, training=None)`` that differs between training and inference."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)

    def build(self, input_shape):
        self.kernel = self.add_weight("kernel", (input_shape[-1],), initializer="ones", trainable=True)
        self.shift = self.add_weight(name="shift", shape=(input_shape[-1],), initializer="zeros")
        super().build(input_shape)

    def call(self, inputs, training=None):
        y = ops.tanh(inputs * self.kernel + self.shift)
        return y * 0.5 if training else y

    def compute_output_shape(self, input_shape):
        return input_shape


class Antirectifier(Layer):
    """keras.io's Antirectifier: centre, concatenate the positive and negative parts, mix back to
    the input's width. Its build does not call super().build()."""

    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        dim = input_shape[-1]
        self.kernel = self.add_weight(shape=(dim * 2, dim), initializer=self.initializer, name="kernel",
                                      trainable=True)

    def call(self, inputs):
        inputs -= ops.mean(inputs, axis=-1, keepdims=True)
        pos, neg = ops.relu(inputs), ops.relu(-inputs)
        return ops.matmul(ops.concatenate([pos, neg], axis=-1), self.kernel)

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}


class LayerScale(Layer):
    """ConvNeXt's LayerScale: a learnt per-channel scale, started small."""

    def __init__(self, init_values, projection_dim, **kwargs):
        super().__init__(**kwargs)
        self.init_values, self.projection_dim = init_values, projection_dim

    def build(self, input_shape):
        self.gamma = self.add_weight(shape=(self.projection_dim,),
                                     initializer=keras.initializers.Constant(self.init_values))

    def call(self, x):
        return x * self.gamma

    def get_config(self):
        return {**super().get_config(), "init_values": self.init_values, "projection_dim": self.projection_dim}


class Sampling(Layer):
    """A VAE's reparameterisation z = mean + exp(log_var / 2) * eps, adding the KL term with
    add_loss; ``eps`` is fixed by the test (a layer attribute), so the run can be computed by hand."""

    def __init__(self, eps=None, **kwargs):
        super().__init__(**kwargs)
        self.eps = eps

    def call(self, inputs):
        z_mean, z_log_var = inputs
        kl = -0.5 * ops.mean(ops.sum(1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var), axis=1))
        self.add_loss(kl)
        return z_mean + ops.exp(0.5 * z_log_var) * ops.convert_to_tensor(self.eps)

    def compute_output_shape(self, input_shape):  # eps has the batch's size: no call on a batch of zeros
        return input_shape[0]


class GatedDense(Layer):
    """A layer holding a sublayer (a Dense made in __init__): its weights are the layer's too."""

    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units
        self.dense = Dense(units, dtype=kwargs.get("dtype"))

    def build(self, input_shape):
        self.gate = self.add_weight(shape=(self.units,), initializer="ones", name="gate")

    def call(self, inputs):
        return ops.sigmoid(self.gate) * ops.relu(self.dense(inputs))

    def get_config(self):
        return {**super().get_config(), "units": self.units}
