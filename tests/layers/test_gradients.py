"""Numerical gradient checks (central differences, float64) of every layer, input and parameters,
with hypothesis drawing the configurations."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape,
                            Softmax, ZeroPadding2D)
from minicnn.nn.activations import ACTIVATIONS, softmax_forward
from minicnn.nn.losses import categorical_crossentropy, softmax_crossentropy_backward
from minicnn.utils import check_gradients
from minicnn.utils.gradcheck import numerical_gradient, relative_error

TOL = 1e-6
F64 = "float64"
NAMES = sorted(ACTIVATIONS)


def spaced(shape, seed):
    """Distinct values at least 1e-2 apart, so no max-pool tie or ReLU kink is within eps."""
    n = int(np.prod(shape))
    # Multiples of 5e-3 shifted by 2.5e-3: no value is 0 (a ReLU kink) whatever the parity of n.
    v = (np.random.default_rng(seed).permutation(n) - n / 2) * 1e-2 + 2.5e-3
    return v.reshape(shape)


def assert_small(errors):
    assert max(errors.values()) < TOL, errors


@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 2), st.integers(1, 2),
       st.sampled_from(["valid", "same"]), st.sampled_from(sorted(set(NAMES) - {"softmax"})),
       st.booleans(), st.sampled_from(["channels_last", "channels_first"]), st.integers(1, 3),
       st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2)]))
def test_conv2d(kh, kw, sh, sw, padding, activation, use_bias, data_format, C, dilation):
    if dilation != (1, 1):
        sh = sw = 1  # Keras refuses strides and dilation both above 1
    layer = Conv2D(3, (kh, kw), strides=(sh, sw), padding=padding, activation=activation,
                   use_bias=use_bias, data_format=data_format, dtype=F64,
                   bias_initializer="random_normal", dilation_rate=dilation)
    shape = (2, C, 5, 6) if data_format == "channels_first" else (2, 5, 6, C)
    assert_small(check_gradients(layer, spaced(shape, 0)))


@given(st.integers(1, 3), st.integers(1, 3), st.sampled_from([None, (1, 1), (2, 1), (2, 2)]),
       st.sampled_from(["valid", "same"]), st.sampled_from([MaxPooling2D, AveragePooling2D]),
       st.sampled_from(["channels_last", "channels_first"]))
def test_pooling(ph, pw, strides, padding, cls, data_format):
    layer = cls((ph, pw), strides=strides, padding=padding, data_format=data_format, dtype=F64)
    shape = (2, 2, 5, 4) if data_format == "channels_first" else (2, 5, 4, 2)
    assert_small(check_gradients(layer, spaced(shape, 1)))


@given(st.integers(1, 6), st.sampled_from(NAMES), st.booleans())
def test_dense(units, activation, use_bias):
    layer = Dense(units, activation=activation, use_bias=use_bias, dtype=F64, bias_initializer="random_normal")
    assert_small(check_gradients(layer, spaced((3, 5), 2)))


@pytest.mark.parametrize("activation", NAMES)
def test_activation(activation):
    assert_small(check_gradients(Activation(activation, dtype=F64), spaced((3, 2, 4), 3)))


@given(st.sampled_from([(4, 3), (3, 4, 4, 2), (2, 3, 4, 5)]), st.booleans(), st.booleans(),
       st.sampled_from([-1, 1]))
def test_batch_normalization(shape, center, scale, axis):
    layer = BatchNormalization(axis=axis, center=center, scale=scale, dtype=F64,
                               gamma_initializer="random_normal", beta_initializer="random_normal")
    x = np.random.default_rng(4).standard_normal(shape) * 3 + 1
    assert_small(check_gradients(layer, x, training=True))


def test_batch_normalization_inference_mode():
    layer = BatchNormalization(dtype=F64)
    layer.build((4,))
    layer.set_weights([np.full(4, 1.5), np.full(4, 0.2), np.arange(4.0), np.full(4, 2.0)])
    x = np.random.default_rng(5).standard_normal((3, 4))
    np.testing.assert_allclose(layer(x, training=False),
                               1.5 * (x - np.arange(4.0)) / np.sqrt(2.0 + 1e-3) + 0.2)


@given(st.sampled_from([0.0, 0.25, 0.5, 0.9]))
def test_dropout(rate):
    assert_small(check_gradients(Dropout(rate, dtype=F64), spaced((4, 6), 6), training=True))


def test_flatten():
    assert_small(check_gradients(Flatten(dtype=F64), spaced((2, 3, 4, 2), 7)))
    assert_small(check_gradients(Flatten(data_format="channels_first", dtype=F64), spaced((2, 3, 4, 2), 7)))


@given(st.sampled_from([GlobalAveragePooling2D, GlobalMaxPooling2D]), st.booleans(),
       st.sampled_from(["channels_last", "channels_first"]))
def test_global_pooling(cls, keepdims, data_format):
    layer = cls(keepdims=keepdims, data_format=data_format, dtype=F64)
    shape = (2, 3, 4, 5) if data_format == "channels_first" else (2, 4, 5, 3)
    assert_small(check_gradients(layer, spaced(shape, 9)))


@given(st.sampled_from([0, 2, (1, 0), ((0, 2), (3, 1))]), st.sampled_from(["channels_last", "channels_first"]))
def test_zero_padding(padding, data_format):
    layer = ZeroPadding2D(padding, data_format=data_format, dtype=F64)
    assert_small(check_gradients(layer, spaced((2, 3, 4, 2), 10)))


@given(st.sampled_from([(12,), (4, -1), (2, 3, 2), (-1, 1, 3)]))
def test_reshape(target):
    assert_small(check_gradients(Reshape(target, dtype=F64), spaced((2, 3, 4), 11)))


@given(st.sampled_from([-1, 1, 2, -2, (1, 2), (1, 3)]))
def test_softmax_layer(axis):
    assert_small(check_gradients(Softmax(axis, dtype=F64), spaced((2, 3, 4, 2), 12) * 50))


@given(st.sampled_from([None, 0.5, 6.0]), st.sampled_from([0.0, 0.2]), st.sampled_from([0.0, 0.1234]))
def test_relu_layers(max_value, negative_slope, threshold):
    layer = ReLU(max_value=max_value, negative_slope=negative_slope, threshold=threshold, dtype=F64)
    assert_small(check_gradients(layer, spaced((3, 2, 4), 13) * 50))
    assert_small(check_gradients(LeakyReLU(negative_slope or 0.3, dtype=F64), spaced((3, 2, 4), 13)))


@given(st.integers(1, 5), st.integers(2, 6), st.booleans())
def test_fused_softmax_crossentropy(N, K, soft_labels):
    rng = np.random.default_rng(N * 10 + K)
    z = rng.standard_normal((N, K)) * 3
    if soft_labels:
        y = rng.random((N, K))
        y /= y.sum(axis=1, keepdims=True)
    else:
        y = np.eye(K)[rng.integers(0, K, N)]
    analytic = softmax_crossentropy_backward(y, softmax_forward(z))
    numeric = numerical_gradient(lambda: float(categorical_crossentropy(y, softmax_forward(z))[0]), z)
    assert relative_error(analytic, numeric) < TOL


def test_fused_gradient_zero_where_keras_clips():
    # A true-class probability below 1e-7 is clipped by the loss, so it passes no gradient.
    z = np.array([[30.0, 0.0, -5.0]])
    y = np.array([[0.0, 0.0, 1.0]])
    p = softmax_forward(z)
    assert p[0, 2] < 1e-7
    np.testing.assert_array_equal(softmax_crossentropy_backward(y, p), 0)


def test_check_gradients_rejects_float32():
    with pytest.raises(TypeError, match="float64"):
        check_gradients(Dense(2), np.ones((1, 3), dtype=np.float32))


def test_check_gradients_catches_a_wrong_backward():
    class BadDense(Dense):
        def backward(self, dy, cache):
            dx, grads = super().backward(dy, cache)
            return dx, {**grads, "kernel": grads["kernel"] * 1.01}
    errors = check_gradients(BadDense(3, dtype=F64), spaced((2, 4), 8))
    assert errors["kernel"] > 1e-3 and errors["input"] < TOL
