"""Conv2DTranspose, DepthwiseConv2D and SeparableConv2D as layers: shapes, gradients, both data
formats, configs, saving, Keras 1/2 spellings, and an error for each bad argument."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import Sequential, regularizers
from minicnn.layers import (Conv2DTranspose, Convolution2DTranspose, Deconv2D, Deconvolution2D, Dense,
                            DepthwiseConv2D, Flatten, SeparableConv2D, SeparableConvolution2D)
from minicnn.models import load_model
from minicnn.utils import check_gradients

F64 = "float64"
IMAGE_LAYERS = [
    lambda f: Conv2DTranspose(3, 3, data_format=f),
    lambda f: Conv2DTranspose(3, (2, 3), strides=2, padding="same", data_format=f),
    lambda f: Conv2DTranspose(3, 3, strides=(2, 3), output_padding=(1, 2), activation="relu", data_format=f),
    lambda f: Conv2DTranspose(2, 3, dilation_rate=(2, 1), padding="same", use_bias=False, data_format=f),
    lambda f: DepthwiseConv2D(3, data_format=f),
    lambda f: DepthwiseConv2D((2, 3), strides=2, padding="same", depth_multiplier=3, data_format=f),
    lambda f: DepthwiseConv2D(3, dilation_rate=2, use_bias=False, activation="relu", data_format=f),
    lambda f: SeparableConv2D(4, 3, data_format=f),
    lambda f: SeparableConv2D(4, (3, 2), strides=2, padding="same", depth_multiplier=2, data_format=f),
    lambda f: SeparableConv2D(2, 2, dilation_rate=(1, 2), use_bias=False, activation="tanh", data_format=f),
]


@pytest.mark.parametrize("make", IMAGE_LAYERS)
@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
def test_output_shapes_and_config_round_trip(make, data_format):
    layer = make(data_format)
    input_shape = (2, 7, 9) if data_format == "channels_first" else (7, 9, 2)
    layer.build(input_shape)
    x = np.random.default_rng(0).standard_normal((2, *input_shape)).astype(np.float32)
    y, cache = layer.forward(x)
    assert y.shape[1:] == layer.output_shape == layer.compute_output_shape(input_shape)
    assert layer.backward(np.ones_like(y), cache)[0].shape == x.shape
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


@pytest.mark.parametrize("make", IMAGE_LAYERS)
def test_channels_first_computes_the_same_as_channels_last(make):
    x = np.random.default_rng(1).standard_normal((2, 7, 9, 3))
    last, first = make("channels_last"), make("channels_first")
    last.build((7, 9, 3))
    first.build((3, 7, 9))
    first.set_weights(last.get_weights())
    y_first, cache = first.forward(x.transpose(0, 3, 1, 2))
    y_last, cache_last = last.forward(x)
    np.testing.assert_allclose(y_first.transpose(0, 2, 3, 1), y_last, rtol=1e-5, atol=1e-5)
    dy = np.random.default_rng(2).standard_normal(y_last.shape).astype(np.float32)
    dx_first, _ = first.backward(dy.transpose(0, 3, 1, 2), cache)
    np.testing.assert_allclose(dx_first.transpose(0, 2, 3, 1), last.backward(dy, cache_last)[0], rtol=1e-5, atol=1e-5)


def test_weights_are_laid_out_as_keras_lays_them():
    t = Conv2DTranspose(5, (3, 2))
    t.build((4, 4, 3))
    assert [w.shape for w in t.get_weights()] == [(3, 2, 5, 3), (5,)]
    d = DepthwiseConv2D(3, depth_multiplier=2)
    d.build((4, 4, 3))
    assert list(d.params) == ["depthwise_kernel", "bias"] and d.params["bias"].shape == (6,)
    s = SeparableConv2D(7, 3, depth_multiplier=2)
    s.build((4, 4, 3))
    assert [(n, w.shape) for n, w in s.params.items()] == [
        ("depthwise_kernel", (3, 3, 3, 2)), ("pointwise_kernel", (1, 1, 6, 7)), ("bias", (7,))]
    assert s.count_params() == 54 + 42 + 7


def test_automatic_names_are_keras_names():
    assert Conv2DTranspose(2, 3).name == "conv2d_transpose" and Conv2DTranspose(2, 3).name == "conv2d_transpose_1"
    assert DepthwiseConv2D(3).name == "depthwise_conv2d" and SeparableConv2D(2, 3).name == "separable_conv2d"


@given(st.sampled_from([(1, 1), (2, 2), (2, 1)]), st.sampled_from(["valid", "same"]),
       st.sampled_from([None, (1, 0)]), st.sampled_from(["channels_last", "channels_first"]), st.booleans())
def test_conv2d_transpose_gradients(strides, padding, output_padding, data_format, use_bias):
    if output_padding is not None and strides == (1, 1):
        output_padding = None
    layer = Conv2DTranspose(2, (3, 2), strides=strides, padding=padding, output_padding=output_padding,
                            data_format=data_format, use_bias=use_bias, activation="tanh", dtype=F64,
                            bias_initializer="random_normal")
    shape = (2, 2, 3, 4) if data_format == "channels_first" else (2, 3, 4, 2)
    errors = check_gradients(layer, np.random.default_rng(3).standard_normal(shape))
    assert max(errors.values()) < 1e-6, errors


@given(st.sampled_from([(1, 1), (2, 1)]), st.sampled_from([(1, 1), (1, 2)]), st.sampled_from(["valid", "same"]),
       st.integers(1, 2), st.sampled_from(["channels_last", "channels_first"]), st.booleans())
def test_depthwise_and_separable_gradients(strides, dilation, padding, multiplier, data_format, separable):
    if dilation != (1, 1):
        strides = (1, 1)
    common = dict(strides=strides, dilation_rate=dilation, padding=padding, depth_multiplier=multiplier,
                  data_format=data_format, activation="tanh", dtype=F64, bias_initializer="random_normal")
    layer = SeparableConv2D(3, (2, 3), **common) if separable else DepthwiseConv2D((2, 3), **common)
    shape = (2, 2, 4, 5) if data_format == "channels_first" else (2, 4, 5, 2)
    errors = check_gradients(layer, np.random.default_rng(4).standard_normal(shape))
    assert max(errors.values()) < 1e-6, errors


def test_save_and_load_round_trip(tmp_path):
    model = Sequential([
        SeparableConv2D(4, 3, padding="same", depth_multiplier=2, activation="relu", input_shape=(8, 8, 2),
                        depthwise_regularizer=regularizers.l2(1e-3), pointwise_regularizer="l1"),
        DepthwiseConv2D(3, strides=2, padding="same", depthwise_regularizer="l2"),
        Conv2DTranspose(3, 3, strides=2, padding="same", output_padding=1, kernel_regularizer="l2"),
        Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = np.random.default_rng(5).standard_normal((4, 8, 8, 2)).astype(np.float32)
    model.fit(x, np.eye(2, dtype=np.float32)[[0, 1, 0, 1]], epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [type(a) for a in loaded.layers] == [type(b) for b in model.layers]
    assert loaded.layers[0].get_config() == model.layers[0].get_config()
    assert set(loaded.layers[0].regularizers) == {"depthwise_kernel", "pointwise_kernel"}
    assert "depthwise_regularizer" in loaded.layers[1].get_config()
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_keras_1_and_2_spellings():
    assert Convolution2DTranspose is Deconvolution2D is Deconv2D is Conv2DTranspose
    assert SeparableConvolution2D is SeparableConv2D
    # Keras 1: Deconvolution2D(nb_filter, nb_row, nb_col, output_shape, subsample=..., border_mode=...)
    d = Deconvolution2D(8, 3, 3, (None, 14, 14, 8), subsample=(2, 2), border_mode="same", init="he_normal")
    d.build((7, 7, 4))
    assert d.kernel_size == (3, 3) and d.strides == (2, 2) and d.output_shape == (14, 14, 8)
    wrong = Deconvolution2D(8, 3, 3, output_shape=(None, 15, 15, 8), subsample=(2, 2), border_mode="same")
    with pytest.raises(ValueError, match="output_shape .* does not match .*output_padding"):
        wrong.build((7, 7, 4))
    s = SeparableConvolution2D(6, 3, 3, border_mode="same", subsample=(2, 2), dim_ordering="th", init="he_normal")
    assert (s.kernel_size, s.padding, s.strides, s.data_format) == ((3, 3), "same", (2, 2), "channels_first")
    assert s.get_config()["pointwise_initializer"] == s.get_config()["depthwise_initializer"]
    assert Conv2DTranspose(4, 3, 2).kernel_size == (3, 2)  # Keras 2 read two ints as Keras 1's rows, cols
    assert Conv2DTranspose(4, 3, (2, 2)).strides == (2, 2)


@pytest.mark.parametrize("make, says", [
    (lambda: Conv2DTranspose(0, 3), "filters must be a positive integer, got 0"),
    (lambda: Conv2DTranspose(4), "needs filters and kernel_size"),
    (lambda: Conv2DTranspose(4, (3, 0)), "kernel_size must be a positive integer"),
    (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=2), r"output_padding \(2, 2\) must be .* smaller than "
                                                                 r"the strides \(2, 2\)"),
    (lambda: Conv2DTranspose(4, 3, output_padding=1), r"rows: 1 is not in \[0, 1\)"),
    (lambda: Conv2DTranspose(4, 3, strides=2, output_padding=-1), "must be at least 0"),
    (lambda: Conv2DTranspose(4, 3, output_padding="same"), "output_padding must be None, an integer"),
    (lambda: Conv2DTranspose(4, 3, strides=2, dilation_rate=2), "cannot both exceed 1"),
    (lambda: Conv2DTranspose(4, 3, padding="full"), "padding must be 'valid' or 'same', got 'full'"),
    (lambda: Conv2DTranspose(4, 3, 2, 1, 1), "too many positional arguments"),
    (lambda: DepthwiseConv2D(), "DepthwiseConv2D needs kernel_size"),
    (lambda: DepthwiseConv2D(3, depth_multiplier=0), "depth_multiplier must be a positive integer, got 0"),
    (lambda: DepthwiseConv2D(3, strides=2, dilation_rate=2), "cannot both exceed 1"),
    (lambda: DepthwiseConv2D(3, data_format="NHWC"), "data_format must be"),
    (lambda: DepthwiseConv2D(3, activation="nope"), "nope"),
    (lambda: SeparableConv2D(4), "SeparableConv2D needs filters and kernel_size"),
    (lambda: SeparableConv2D(-1, 3), "filters must be a positive integer, got -1"),
    (lambda: SeparableConv2D(4, 3, depth_multiplier=1.5), "depth_multiplier must be a positive integer"),
    (lambda: SeparableConv2D(4, 3, pointwise_regularizer="l3"), "Unknown regularizer 'l3'"),
])
def test_each_bad_argument_is_refused_clearly(make, says):
    with pytest.raises((ValueError, TypeError), match=says):
        make()


@pytest.mark.parametrize("make, input_shape, says", [
    (lambda: DepthwiseConv2D(5), (3, 3, 2), r"kernel size \(5, 5\) is larger than its input"),
    (lambda: SeparableConv2D(2, 3), (8, 2), "expects images"),
    (lambda: Conv2DTranspose(2, 3), (8,), "expects images"),
    (lambda: Conv2DTranspose(2, 2, padding="same", output_padding=0), (1, 4, 3), "output length would be 0"),
    (lambda: DepthwiseConv2D(3, kernel_regularizer="l2"), (5, 5, 2), "has no 'kernel' weight"),
])
def test_bad_inputs_are_refused_at_build(make, input_shape, says):
    with pytest.raises(ValueError, match=says):
        make().build(input_shape)
