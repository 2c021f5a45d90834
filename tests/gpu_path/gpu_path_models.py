"""Small models, data and optimizers shared by the GPU-path tests, and CPU/GPU twin models."""
import numpy as np

import minicnn
from minicnn import Sequential, optimizers
from minicnn.backend import to_numpy
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape, Softmax,
                            ZeroPadding2D)

SHAPE = (10, 10, 1)


def data(n=16, seed=0, classes=10):
    """x (n, 10, 10, 1) float32 in [0, 1) and one-hot y (n, classes)."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, *SHAPE), dtype=np.float32)
    return x, np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]


def tutorial(rate_1=0.0, rate_2=0.0):
    """The README's CNN, smaller: two 3x3 ReLU convolutions, max pooling, dropout, two dense layers."""
    return [Conv2D(4, (3, 3), activation="relu", input_shape=SHAPE), Conv2D(4, (3, 3), activation="relu"),
            MaxPooling2D(pool_size=(2, 2)), Dropout(rate_1), Flatten(), Dense(16, activation="relu"),
            Dropout(rate_2), Dense(10, activation="softmax")]


def batchnorm_variant():
    """BatchNormalization, average pooling, padding='same' and a strided convolution.

    The convolutions before BatchNormalization have no bias, as usual: a channel whose ReLU is
    always on would get a bias gradient that is float32 noise around 0, which Adam and RMSprop
    scale up to a full step, so the two backends could not be compared there.
    """
    return [Conv2D(4, (3, 3), strides=2, padding="same", activation="relu", use_bias=False, input_shape=SHAPE),
            BatchNormalization(), AveragePooling2D(padding="same"),
            Conv2D(6, (3, 3), padding="same", activation="relu", use_bias=False), BatchNormalization(), Flatten(),
            Dense(16, activation="relu"), Dense(10, activation="softmax")]


def channels_first_model():
    """Channels-first convolution, overlapping max pooling and BatchNormalization(axis=1)."""
    return [Conv2D(4, (3, 3), activation="relu", use_bias=False, input_shape=(1, 10, 10),
                   data_format="channels_first"),
            MaxPooling2D(pool_size=3, strides=1, data_format="channels_first"), BatchNormalization(axis=1),
            Flatten(data_format="channels_first"), Dense(10, activation="softmax")]


def activations_model():
    """tanh and sigmoid convolutions, Activation layers, overlapping average pooling, no bias."""
    return [Conv2D(3, (3, 3), padding="same", activation="tanh", input_shape=SHAPE), Activation("relu"),
            AveragePooling2D(pool_size=3, strides=2), Conv2D(3, (2, 2), activation="sigmoid", use_bias=False),
            Flatten(), Dense(10), Activation("softmax")]


def new_layers_model():
    """The layers of issue 17: zero padding, a dilated GELU convolution (plain CuPy, no im2col
    kernel), ReLU with options, global max pooling kept 4-D, Reshape, a Softmax layer, swish."""
    return [ZeroPadding2D(((1, 0), (2, 1)), input_shape=SHAPE), Conv2D(4, 3, dilation_rate=2, activation="gelu"),
            ReLU(max_value=1.0, negative_slope=0.1, threshold=0.05), Conv2D(6, 2, activation="elu"),
            GlobalMaxPooling2D(keepdims=True), Reshape((2, 3)), Softmax(axis=1), Flatten(),
            Dense(8, activation="swish"), Dense(10, activation="softmax")]


def new_layers_channels_first_model():
    """Channels-first zero padding, dilated convolution and global average pooling; LeakyReLU and
    the other new activations on Dense layers."""
    cf = dict(data_format="channels_first")
    return [ZeroPadding2D(1, input_shape=(1, 10, 10), **cf), Conv2D(4, 3, dilation_rate=(1, 2), padding="same", **cf),
            LeakyReLU(), GlobalAveragePooling2D(**cf), Dense(8, activation="softplus"),
            Dense(8, activation="hard_sigmoid"), Dense(8, activation="selu"), Dense(10, activation="softmax")]


def float64_model():
    """A float64 model: the kernels built with MINICNN_REAL=double."""
    return [Conv2D(3, (3, 3), activation="relu", input_shape=SHAPE, dtype="float64"),
            MaxPooling2D(dtype="float64"), Flatten(dtype="float64"), Dense(10, activation="softmax", dtype="float64")]


def flat_model(units, activation):
    """A factory of Flatten-Dense-Dense models ending in ``units`` ``activation`` outputs."""
    return lambda: [Flatten(input_shape=SHAPE), Dense(12, activation="relu"), Dense(units, activation=activation)]


ARCHITECTURES = {"tutorial": tutorial, "batchnorm": batchnorm_variant}

OPTIMIZERS = {
    "sgd": lambda: optimizers.SGD(0.1),
    "sgd_momentum": lambda: optimizers.SGD(0.1, momentum=0.9),
    "sgd_nesterov": lambda: optimizers.SGD(0.1, momentum=0.9, nesterov=True),
    "adam": optimizers.Adam,
    "rmsprop": optimizers.RMSprop,
    "adadelta": optimizers.Adadelta,
    "adadelta_lr": lambda: optimizers.Adadelta(learning_rate=0.5),
    "adam_decay": lambda: optimizers.Adam(decay=0.1),
}

# The CUDA kernel each optimizer's fused update runs.
OPTIMIZER_KERNELS = {"sgd": "sgd_update", "sgd_momentum": "sgd_momentum_update",
                     "sgd_nesterov": "sgd_momentum_update", "adam": "adam_update",
                     "rmsprop": "rmsprop_update", "adadelta": "adadelta_update",
                     "adadelta_lr": "adadelta_update", "adam_decay": "adam_update"}


def compiled(layers, optimizer, loss="categorical_crossentropy", metrics=("accuracy",)):
    model = Sequential(layers)
    model.compile(optimizer=optimizer, loss=loss, metrics=list(metrics))
    return model


def twins(make_layers, make_optimizer, **compile_args):
    """(cpu, gpu): the same model with the same weights on NumPy and on the (fake) CuPy backend.

    Leaves the cupy backend selected.
    """
    minicnn.set_backend("numpy")
    cpu = compiled(make_layers(), make_optimizer(), **compile_args)
    minicnn.set_backend("cupy")
    gpu = compiled(make_layers(), make_optimizer(), **compile_args)
    gpu.set_weights(cpu.get_weights())
    return cpu, gpu


# float32 rounding: results of differently ordered sums and of fused kernels differ by a few ulps.
FLOAT32 = {"rtol": 2e-5, "atol": 2e-6}


def assert_same_weights(gpu, cpu, tolerance=FLOAT32):
    for k, (g, c) in enumerate(zip(gpu.get_weights(), cpu.get_weights())):
        np.testing.assert_allclose(g, c, err_msg=f"weight {k}", **tolerance)


def assert_same_optimizer_state(gpu, cpu, tolerance=FLOAT32):
    g_state, c_state = gpu.optimizer.get_state(), cpu.optimizer.get_state()
    assert len(g_state) == len(c_state)
    assert int(to_numpy(g_state[0])) == int(c_state[0])  # iterations
    for k, (g, c) in enumerate(zip(g_state[1:], c_state[1:])):
        np.testing.assert_allclose(to_numpy(g), c, err_msg=f"slot {k}", **tolerance)
