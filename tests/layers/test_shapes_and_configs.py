"""Every layer's compute_output_shape against the shape its forward really gives (in both data
formats), its get_config round trip, and the values of the layers that only move data."""
import numpy as np
import pytest

from minicnn import Sequential, activations
from minicnn.layers import (Activation, AveragePooling2D, Conv2D, Dense, GlobalAveragePooling2D, GlobalAvgPool2D,
                            GlobalMaxPool2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape, Softmax,
                            ZeroPadding2D)

IMAGE_LAYERS = [
    lambda f: Conv2D(3, 3, dilation_rate=2, data_format=f),
    lambda f: Conv2D(3, (2, 3), dilation_rate=(3, 1), padding="same", data_format=f),
    lambda f: Conv2D(3, 3, strides=2, padding="same", data_format=f),
    lambda f: MaxPooling2D(2, data_format=f),
    lambda f: AveragePooling2D(3, strides=1, padding="same", data_format=f),
    lambda f: GlobalAveragePooling2D(data_format=f),
    lambda f: GlobalMaxPooling2D(data_format=f, keepdims=True),
    lambda f: GlobalAveragePooling2D(data_format=f, keepdims=True),
    lambda f: ZeroPadding2D(2, data_format=f),
    lambda f: ZeroPadding2D((1, 3), data_format=f),
    lambda f: ZeroPadding2D(((0, 2), (3, 1)), data_format=f),
]
OTHER_LAYERS = [
    (lambda: Reshape((-1,)), (7, 9, 2)), (lambda: Reshape((9, -1, 7)), (7, 9, 2)), (lambda: Reshape((2, 63)), (7, 9, 2)),
    (lambda: Softmax(), (7, 9, 2)), (lambda: Softmax(axis=(1, 2)), (7, 9, 2)), (lambda: ReLU(max_value=1.0), (5,)),
    (lambda: LeakyReLU(alpha=0.1), (5,)), (lambda: Dense(4, activation="gelu"), (5,)),
    (lambda: Activation("hard_sigmoid"), (3, 4)),
]


def _check(layer, input_shape):
    layer.build(input_shape)
    x = np.random.default_rng(0).standard_normal((2, *input_shape)).astype(np.float32)
    y, cache = layer.forward(x)
    assert y.shape[1:] == layer.output_shape == layer.compute_output_shape(input_shape)
    assert layer.backward(np.ones_like(y), cache)[0].shape == x.shape
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("make", IMAGE_LAYERS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_image_layers_output_shapes_and_configs(make, data_format):
    _check(make(data_format), (2, 7, 9) if data_format == "channels_first" else (7, 9, 2))


@pytest.mark.parametrize("make, input_shape", OTHER_LAYERS)
def test_other_layers_output_shapes_and_configs(make, input_shape):
    _check(make(), input_shape)


@pytest.mark.parametrize("make", IMAGE_LAYERS)
def test_channels_first_computes_the_same_as_channels_last(make):
    x = np.random.default_rng(1).standard_normal((2, 7, 9, 3))
    last, first = make("channels_last"), make("channels_first")
    last.build((7, 9, 3))
    first.build((3, 7, 9))
    first.set_weights(last.get_weights())
    y_last = last(x)
    y_first = first(x.transpose(0, 3, 1, 2))
    if y_last.ndim == 4:
        y_first = y_first.transpose(0, 2, 3, 1)
    np.testing.assert_allclose(y_first, y_last, rtol=1e-6, atol=1e-6)


def test_zero_padding_values():
    x = np.arange(1, 13, dtype=np.float32).reshape(1, 3, 4, 1)
    y = ZeroPadding2D(((1, 0), (2, 1)))(x)
    assert y.shape == (1, 4, 7, 1)
    np.testing.assert_array_equal(y[0, 1:, 2:6, 0], x[0, :, :, 0])
    assert y.sum() == x.sum()
    assert ZeroPadding2D().padding == ((1, 1), (1, 1)) and ZeroPadding2D((2, 3)).padding == ((2, 2), (3, 3))


def test_reshape_keeps_row_major_order_and_infers_minus_one():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    layer = Reshape((2, -1))
    np.testing.assert_array_equal(layer(x), x.reshape(2, 2, 6))
    assert layer.output_shape == (2, 6)
    assert Sequential([Reshape((28, 28, 1), input_shape=(784,)), Conv2D(2, 3)]).output_shape == (None, 26, 26, 2)


def test_global_pooling_values_and_aliases():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 5))
    np.testing.assert_allclose(GlobalAveragePooling2D()(x), x.mean(axis=(1, 2)))
    np.testing.assert_array_equal(GlobalMaxPooling2D()(x), x.max(axis=(1, 2)))
    np.testing.assert_array_equal(GlobalMaxPooling2D(keepdims=True)(x), x.max(axis=(1, 2), keepdims=True))
    assert GlobalAvgPool2D is GlobalAveragePooling2D and GlobalMaxPool2D is GlobalMaxPooling2D


def test_activation_layers_defaults_as_keras():
    x = np.array([[-3.0, -0.5, 0.0, 0.5, 7.0]])
    np.testing.assert_array_equal(ReLU()(x), np.maximum(x, 0))
    np.testing.assert_array_equal(ReLU(max_value=6)(x), np.clip(x, 0, 6))
    np.testing.assert_allclose(LeakyReLU()(x), np.where(x > 0, x, 0.3 * x))  # the layer's 0.3, not the function's 0.2
    assert LeakyReLU(alpha=0.1).negative_slope == 0.1 and LeakyReLU(0.2).get_config()["negative_slope"] == 0.2
    np.testing.assert_allclose(Softmax()(x).sum(axis=-1), 1)
    y = Softmax(axis=1)(np.ones((2, 3, 4)))
    np.testing.assert_allclose(y, np.full((2, 3, 4), 1 / 3))


def test_activation_functions_as_the_activation_argument():
    layer = Dense(3, activation=activations.gelu)
    assert layer.activation == "gelu" and layer.get_config()["activation"] == "gelu"
    assert Activation(activations.swish).activation == "silu"
    assert Conv2D(2, 3, activation="swish").activation == "swish"
