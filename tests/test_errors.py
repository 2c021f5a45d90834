"""Every invalid input raises ValueError or TypeError with a message naming the problem and the fix.

Each test asserts the exception type and the key words of its message, so a message that stops
saying what to do fails here.
"""
import contextlib

import warnings

import numpy as np
import pytest

from minicnn import Sequential, optimizers
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, Input, LeakyReLU, MaxPooling2D, ReLU, Reshape,
                            Softmax, ZeroPadding2D)
from minicnn.utils import to_categorical


@contextlib.contextmanager
def raises(exc_type, *words):
    """pytest.raises(exc_type) that also checks every word occurs in the message (any case)."""
    with pytest.raises(exc_type) as info:
        yield info
    assert type(info.value) is exc_type, f"expected exactly {exc_type.__name__}, got {type(info.value).__name__}"
    message = str(info.value).lower()
    missing = [w for w in words if w.lower() not in message]
    assert not missing, f"message lacks {missing}: {info.value}"


def small_cnn(**compile_args):
    model = Sequential([Conv2D(2, (3, 3), input_shape=(8, 8, 1), activation="relu"), Flatten(),
                        Dense(3, activation="softmax")])
    model.compile(**{"optimizer": "sgd", "loss": "categorical_crossentropy", **compile_args})
    return model


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    x = rng.random((10, 8, 8, 1), dtype=np.float32)
    y = to_categorical(np.arange(10) % 3, 3)
    return x, y


# -- building a model ----------------------------------------------------------------------------

@pytest.mark.parametrize("call", ["summary", "build", "output_shape"])
def test_no_input_shape_and_no_data(call):
    model = Sequential([Conv2D(4, (3, 3)), Flatten(), Dense(2)])
    with raises(ValueError, "no input shape", "input_shape=", "model.build"):
        attr = getattr(model, call)
        if callable(attr):
            attr()


def test_dense_on_images_applies_at_each_position_and_a_missing_flatten_is_named_at_fit():
    """Keras's Dense on (N, H, W, C) is the same product at every position (ConvNeXt's MLP); a tutorial
    that forgot Flatten() learns so from fit's target check, which says to add it."""
    model = Sequential([Conv2D(2, (3, 3), input_shape=(8, 8, 1)), Dense(3)])
    assert model.output_shape == (None, 6, 6, 3)
    x = np.random.default_rng(0).random((2, 8, 8, 1), dtype=np.float32)
    features = model.layers[0](x)
    kernel, bias = model.layers[1].get_weights()
    np.testing.assert_allclose(model.predict(x), features @ kernel + bias, rtol=1e-5, atol=1e-6)
    model.compile("sgd", "categorical_crossentropy")
    with raises(ValueError, "(6, 6, 3)", "add Flatten()"):
        model.fit(x, np.eye(3, dtype=np.float32)[[0, 1]], verbose=0)
    model.compile("sgd", "sparse_categorical_crossentropy")
    with raises(ValueError, "(N, 6, 6)", "add Flatten()"):
        model.fit(x, np.array([0, 1]), verbose=0)


@pytest.mark.parametrize("layer, words", [
    (Conv2D(2, (5, 5), name="big_conv"), ["big_conv", "kernel size (5, 5)", "(4, 4)", "(4, 4, 3)", "padding='same'"]),
    (MaxPooling2D((2, 5), name="big_pool"), ["big_pool", "pool size (2, 5)", "(4, 4)", "(4, 4, 3)"]),
    (AveragePooling2D(8, name="big_avg"), ["big_avg", "pool size (8, 8)", "(4, 4)"]),
])
def test_window_larger_than_input(layer, words):
    with raises(ValueError, "larger than", *words):
        Sequential([Input(shape=(4, 4, 3)), layer])


@pytest.mark.parametrize("layer, input_shape, words", [
    (Conv2D(2, 3, dilation_rate=3, name="atrous"), (6, 6, 1), ["atrous", "larger than", "dilated kernel (7, 7)",
                                                                "(6, 6)", "padding='same'"]),
    (Reshape((5, -1), name="rs"), (12,), ["rs", "cannot reshape", "(12,)", "12 values", "(5, -1)"]),
    (Reshape((3, 5)), (4, 4), ["(4, 4)", "16 values", "(3, 5)"]),
    (Softmax(axis=0), (10,), ["axis 0", "per-sample axis", "(batch, 10)", "-1"]),
    (Softmax(axis=(1, 3)), (4, 5), ["axis 3", "per-sample axis", "(batch, 4, 5)"]),
    (GlobalAveragePooling2D(), (10,), ["GlobalAveragePooling2D", "expects images", "(10,)"]),
    (ZeroPadding2D(), (8, 8), ["ZeroPadding2D", "expects images", "(8, 8)"]),
])
def test_new_layers_refuse_input_shapes_at_build(layer, input_shape, words):
    with raises(ValueError, *words):
        Sequential([Input(shape=input_shape), layer])


def test_window_larger_than_input_after_pooling():
    model = Sequential([Conv2D(2, (3, 3), input_shape=(10, 10, 1)), MaxPooling2D((2, 2)), MaxPooling2D((2, 2))])
    with raises(ValueError, "conv2d_1", "kernel size (3, 3)", "(2, 2)", "(2, 2, 2)", "fewer pooling"):
        model.add(Conv2D(2, (3, 3), name="conv2d_1"))


def test_window_larger_than_input_is_fine_with_same_padding():
    model = Sequential([Conv2D(2, (5, 5), padding="same", input_shape=(4, 4, 3)), MaxPooling2D(8, padding="same")])
    assert model.output_shape == (None, 1, 1, 2)
    assert model.predict(np.ones((2, 4, 4, 3), np.float32)).shape == (2, 1, 1, 2)


@pytest.mark.parametrize("make, words", [
    (lambda: Conv2D(0, 3), ["filters", "positive integer", "0"]),
    (lambda: Conv2D(-4, 3), ["filters", "positive integer", "-4"]),
    (lambda: Conv2D(4, 0), ["kernel_size", "positive integer"]),
    (lambda: Conv2D(4, (3, -1)), ["kernel_size", "positive integer", "-1"]),
    (lambda: Conv2D(4, 3, strides=0), ["strides", "positive integer"]),
    (lambda: Conv2D(4, 3, strides=(1, -2)), ["strides", "positive integer", "-2"]),
    (lambda: Dense(0), ["units", "positive integer", "0"]),
    (lambda: Dense(-3), ["units", "positive integer", "-3"]),
    (lambda: MaxPooling2D(0), ["pool_size", "positive integer"]),
    (lambda: MaxPooling2D((2, -2)), ["pool_size", "positive integer", "-2"]),
    (lambda: AveragePooling2D(2, strides=0), ["strides", "positive integer"]),
    (lambda: MaxPooling2D(2, strides=-1), ["strides", "positive integer"]),
    (lambda: Conv2D(4, (3, 3, 3)), ["kernel_size", "tuple of 2 integers"]),
    (lambda: Conv2D(4, 3, padding="full"), ["padding", "'valid' or 'same'", "full"]),
    (lambda: Dense(4, input_shape=(0,)), ["input_shape", "positive integers"]),
    (lambda: Conv2D(4, 3, input_shape=(28, -28, 1)), ["input_shape", "positive integers"]),
    (lambda: BatchNormalization(momentum=1.0), ["momentum", "[0, 1)"]),
    (lambda: BatchNormalization(epsilon=0), ["epsilon", "positive"]),
    (lambda: Conv2D(4, 3, dilation_rate=0), ["dilation_rate", "positive integer"]),
    (lambda: Conv2D(4, 3, strides=2, dilation_rate=(1, 2)), ["strides (2, 2)", "dilation_rate (1, 2)",
                                                              "cannot both exceed 1", "strides=1"]),
    (lambda: ZeroPadding2D(-1), ["padding", "non-negative integer", "-1"]),
    (lambda: ZeroPadding2D((1, 2, 3)), ["padding", "((top, bottom), (left, right))", "(1, 2, 3)"]),
    (lambda: ZeroPadding2D(((1, 2), (3,))), ["padding", "pair of integers"]),
    (lambda: Reshape((0, 4)), ["target_shape", "positive", "at most one -1", "(0, 4)"]),
    (lambda: Reshape((-1, 2, -1)), ["target_shape", "at most one -1"]),
    (lambda: ReLU(max_value=-1), ["max_value", "non-negative", "-1"]),
    (lambda: ReLU(negative_slope=-0.1), ["negative_slope", "non-negative"]),
    (lambda: ReLU(threshold=-2), ["threshold", "non-negative"]),
    (lambda: LeakyReLU(-0.3), ["negative_slope", "non-negative"]),
    (lambda: LeakyReLU(alpha=float("nan")), ["negative_slope", "non-negative", "nan"]),
])
def test_non_positive_sizes_value_error(make, words):
    with raises(ValueError, *words):
        make()


@pytest.mark.parametrize("make, words", [
    (lambda: Conv2D(2.5, 3), ["filters", "positive integer", "2.5"]),
    (lambda: Dense("10"), ["units", "positive integer", "'10'"]),
    (lambda: Dense(True), ["units", "positive integer"]),
    (lambda: Conv2D(), ["filters and kernel_size", "Conv2D(32, (3, 3))"]),
    (lambda: Dense(), ["units", "Dense(128)"]),
    (lambda: Dropout("half"), ["rate", "number in [0, 1)"]),
    (lambda: Dropout(None), ["rate", "number in [0, 1)"]),
    (lambda: BatchNormalization(momentum="fast"), ["momentum", "number", "'fast'"]),
    (lambda: Activation(3), ["activation", "string name"]),
    (lambda: Dense(3, kernel_initializer=7), ["initializer", "name", "callable"]),
    (lambda: Dense(3, units_typo=4), ["unexpected keyword", "units_typo"]),
    (lambda: Reshape(), ["target_shape", "Reshape((28, 28, 1))"]),
    (lambda: Reshape((2.5, 2)), ["target_shape", "tuple of integers", "2.5"]),
    (lambda: Reshape(12), ["target_shape", "tuple of integers"]),
    (lambda: ZeroPadding2D("1"), ["padding", "non-negative integer", "'1'"]),
    (lambda: ReLU(max_value="6"), ["max_value", "number", "'6'"]),
    (lambda: LeakyReLU(negative_slope=0.1, alpha=0.2), ["negative_slope", "alpha", "not both"]),
    (lambda: Softmax(axis="last"), ["axis", "int or a tuple of ints", "'last'"]),
    (lambda: GlobalMaxPooling2D(pool_size=2), ["unexpected keyword", "pool_size"]),
])
def test_wrong_types_type_error(make, words):
    with raises(TypeError, *words):
        make()


@pytest.mark.parametrize("rate", [1, 1.0, 1.5, -0.1, -1, float("nan"), float("inf")])
def test_dropout_rate_outside_unit_interval(rate):
    with raises(ValueError, "Dropout rate", "[0, 1)"):
        Dropout(rate)


@pytest.mark.parametrize("rate", [0, 0.0, 0.5, 0.999])
def test_dropout_rate_inside_unit_interval(rate):
    assert Dropout(rate).rate == rate


def test_unknown_activation_lists_valid_ones():
    for make in (lambda: Dense(3, activation="relu7"), lambda: Conv2D(3, 3, activation="mesh"),
                 lambda: Activation("hard_swish")):
        with raises(ValueError, "unknown activation", "relu", "softmax", "sigmoid", "tanh", "linear", "gelu",
                    "leaky_relu"):
            make()


def test_own_activation_function_says_pass_a_name():
    with raises(TypeError, "not one of minicnn's", "derivative", "minicnn.activations", "'gelu'"):
        Dense(3, activation=lambda x: x * 2)


def test_unknown_initializer_lists_valid_ones():
    with raises(ValueError, "unknown initializer", "'xavier'", "glorot_uniform", "he_normal", "zeros"):
        Conv2D(3, 3, kernel_initializer="xavier")


def test_unknown_loss_lists_valid_ones():
    model = Sequential([Dense(3, input_shape=(4,))])
    with raises(ValueError, "unknown loss", "'crossentropy'", "categorical_crossentropy",
                "sparse_categorical_crossentropy", "binary_crossentropy", "mse"):
        model.compile(optimizer="sgd", loss="crossentropy")
    with raises(ValueError, "needs a loss", "loss='categorical_crossentropy'"):
        model.compile(optimizer="sgd")


def test_unknown_optimizer_lists_valid_ones():
    model = Sequential([Dense(3, input_shape=(4,))])
    with raises(ValueError, "unknown optimizer", "'lion'", "sgd", "adam", "adamw", "nadam", "rmsprop", "adadelta"):
        model.compile(optimizer="lion", loss="mse")
    with raises(ValueError, "learning_rate"):
        optimizers.SGD(learning_rate=-1)


def test_unknown_metric_lists_valid_ones():
    model = Sequential([Dense(3, input_shape=(4,))])
    with raises(ValueError, "unknown metric", "'f1'", "accuracy"):
        model.compile(optimizer="sgd", loss="mse", metrics=["f1"])


def test_add_something_that_is_not_a_layer():
    with raises(TypeError, "expects a minicnn layer", "int"):
        Sequential().add(3)


# -- channel axis on the wrong side --------------------------------------------------------------

@pytest.mark.parametrize("first", [
    lambda **k: Conv2D(8, (3, 3), **k),
    lambda **k: MaxPooling2D((2, 2), **k),
])
@pytest.mark.parametrize("shape, fixed", [((1, 28, 28), "(28, 28, 1)"), ((3, 32, 32), "(32, 32, 3)"),
                                          ((3, 64, 48), "(64, 48, 3)")])
def test_channels_first_shape_with_channels_last(first, shape, fixed):
    with raises(ValueError, f"input shape {shape}", "channel axis", "channels_last", f"input_shape={fixed}",
                "data_format='channels_first'", "dim_ordering='th'", "K.set_image_dim_ordering('th')"):
        Sequential([first(input_shape=shape)])


def test_channels_last_shape_with_channels_first():
    with raises(ValueError, "(28, 28, 1)", "channel axis", "input_shape=(1, 28, 28)", "data_format='channels_last'",
                "dim_ordering='tf'"):
        Sequential([Conv2D(8, (3, 3), padding="same", data_format="channels_first", input_shape=(28, 28, 1))])


def test_the_keras_1_fixes_named_by_the_wrong_side_error_work():
    from minicnn import backend as K
    Sequential([Conv2D(8, (3, 3), dim_ordering="th", input_shape=(1, 28, 28))])
    K.set_image_dim_ordering("th")
    assert K.image_dim_ordering() == "th"
    assert Sequential([Conv2D(8, (3, 3), input_shape=(1, 28, 28))]).output_shape == (None, 8, 26, 26)


def test_wrong_channel_axis_behind_shape_keeping_layers_and_from_data():
    with raises(ValueError, "input_shape=(28, 28, 1)"):
        Sequential([Input(shape=(1, 28, 28)), BatchNormalization(axis=1), Dropout(0.2), Conv2D(4, 3)])
    with raises(ValueError, "input_shape=(28, 28, 1)"):
        Sequential([Input(shape=(1, 28, 28)), ReLU(), LeakyReLU(), Softmax(), Conv2D(4, 3)])
    model = Sequential([Conv2D(4, (3, 3)), Flatten(), Dense(2)])
    with raises(ValueError, "input_shape=(28, 28, 1)", "np.moveaxis(x, 1, -1)"):
        model.predict(np.zeros((2, 1, 28, 28), np.float32))
    assert model.predict(np.zeros((2, 28, 28, 1), np.float32)).shape == (2, 2)


@pytest.mark.parametrize("shape, layers", [
    ((28, 28, 1), [Conv2D(4, (3, 3))]),                                      # MNIST, channels_last
    ((32, 32, 3), [Conv2D(4, (3, 3)), MaxPooling2D()]),                      # CIFAR, channels_last
    ((1, 28, 28), [Conv2D(4, (3, 3), data_format="channels_first")]),       # MNIST, channels_first
    ((3, 32, 32), [MaxPooling2D(data_format="channels_first")]),            # CIFAR, channels_first
    ((1, 100, 16), [Conv2D(4, (1, 5))]),                                    # a one-row signal, (1, k) kernel
    ((3, 5, 5), [Conv2D(4, (3, 3))]),                                       # small, not obviously wrong
    ((8, 8, 8), [Conv2D(4, (3, 3))]),
    ((1, 28, 28), [Flatten(), Dense(4)]),                                   # no image layer at all
    ((28, 28), [Flatten(), Dense(4)]),
])
def test_legitimate_shapes_are_not_rejected(shape, layers):
    model = Sequential([Input(shape=shape), *layers])
    out = model.predict(np.zeros((2, *shape), np.float32))
    assert out.shape == (2, *model.output_shape[1:])


def test_intermediate_one_row_shape_is_not_taken_for_a_wrong_input():
    # (1, 8, 8) in the middle of a model is what it is; only the model's input is checked.
    model = Sequential([Conv2D(8, (8, 1), input_shape=(8, 8, 1)), Conv2D(2, (3, 3), padding="same")])
    assert model.output_shape == (None, 1, 8, 2)


# -- fit / evaluate / predict --------------------------------------------------------------------

def test_fit_before_compile_says_compile():
    model = Sequential([Dense(3, input_shape=(4,))])
    x, y = np.zeros((4, 4), np.float32), np.zeros((4, 3), np.float32)
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.evaluate(x, y, verbose=0),
                 lambda: model.train_on_batch(x, y), lambda: model.test_on_batch(x, y)):
        with raises(RuntimeError, "compile the model", "model.compile("):
            call()
    assert model.predict(x).shape == (4, 3)  # predict needs no compile, as in Keras


def test_x_and_y_lengths_differ(data):
    x, y = data
    model = small_cnn()
    with raises(ValueError, "different numbers of samples", "x has 10", "y has 9", "one target per input"):
        model.fit(x, y[:9], verbose=0)
    with raises(ValueError, "different numbers of samples"):
        model.evaluate(x[:3], y, verbose=0)
    with raises(ValueError, "x_val and y_val", "different numbers of samples"):
        model.fit(x, y, validation_data=(x, y[:4]), verbose=0)


@pytest.mark.parametrize("labels", [np.arange(10) % 3, (np.arange(10) % 3).reshape(-1, 1)])
def test_integer_labels_with_categorical_crossentropy(data, labels):
    x, _ = data
    with raises(ValueError, "categorical_crossentropy", "one-hot", "to_categorical(y, 3)",
                "sparse_categorical_crossentropy"):
        small_cnn().fit(x, labels, verbose=0)
    # ... and the suggested fixes work.
    small_cnn().fit(x, to_categorical(labels, 3), verbose=0)
    small_cnn(loss="sparse_categorical_crossentropy").fit(x, labels, verbose=0)


def test_one_hot_labels_with_sparse_loss_and_out_of_range_labels(data):
    x, y = data
    model = small_cnn(loss="sparse_categorical_crossentropy")
    with raises(ValueError, "sparse_categorical_crossentropy", "(N,)", "loss='categorical_crossentropy'"):
        model.fit(x, y, verbose=0)
    with raises(ValueError, "integers in [0, 2]", "3 outputs"):
        model.fit(x, np.arange(10), verbose=0)


def test_targets_not_matching_the_output(data):
    x, _ = data
    with raises(ValueError, "targets", "(5,)", "(3,)", "last layer"):
        small_cnn(loss="mse").fit(x, np.zeros((10, 5), np.float32), verbose=0)
    with raises(ValueError, "targets", "(5,)", "(3,)", "categorical_crossentropy", "last layer"):
        small_cnn().fit(x, np.zeros((10, 5), np.float32), verbose=0)


def test_per_sample_shape_differs(data):
    x, y = data
    model = small_cnn()
    with raises(ValueError, "per-sample shape (8, 8)", "expects (8, 8, 1)", "x.reshape(-1, 8, 8, 1)"):
        model.fit(x[..., 0], y, verbose=0)
    with raises(ValueError, "per-sample shape (1, 8, 8)", "expects (8, 8, 1)", "permuted", "data_format"):
        model.predict(np.moveaxis(x, -1, 1))
    with raises(ValueError, "per-sample shape (9, 9, 1)", "expects (8, 8, 1)"):
        model.evaluate(np.zeros((10, 9, 9, 1), np.float32), y, verbose=0)
    with raises(ValueError, "x_val has per-sample shape (4, 8, 1)"):
        model.fit(x, y, validation_data=(x[:, :4], y), verbose=0)


def test_single_image_says_the_batch_axis_is_missing(data):
    x, _ = data
    model = small_cnn()
    with raises(ValueError, "per-sample shape (8, 1)", "single sample", "batch axis", "x[None]",
                "np.expand_dims(x, 0)"):
        model.predict(x[0])
    with raises(ValueError, "per-sample shape (8,)", "single sample", "x.reshape(1, 8, 8, 1)"):
        model.predict(x[0, ..., 0])
    assert model.predict(x[0][None]).shape == (1, 3)


def test_flat_rows_for_an_image_model_and_images_for_a_flat_one(data):
    x, y = data
    with raises(ValueError, "per-sample shape (64,)", "flattened", "x.reshape(-1, 8, 8, 1)"):
        small_cnn().fit(x.reshape(10, 64), y, verbose=0)
    flat = Sequential([Dense(3, activation="softmax", input_shape=(64,))])
    with raises(ValueError, "per-sample shape (8, 8, 1)", "x.reshape(-1, 64)", "Flatten()"):
        flat.predict(x)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_nan_or_inf_in_inputs(data, bad):
    x, y = data
    x = x.copy()
    x[3, 2, 1, 0] = bad
    model = small_cnn()
    for call in (lambda: model.fit(x, y, verbose=0), lambda: model.predict(x),
                 lambda: model.evaluate(x, y, verbose=0), lambda: model.train_on_batch(x, y)):
        with raises(ValueError, "x contains 1 NaN or infinite", "(3, 2, 1, 0)", "np.nan_to_num"):
            call()
    y = y.copy()
    y[1, 1] = bad
    with raises(ValueError, "y contains 1 NaN or infinite", "(1, 1)"):
        model.fit(data[0], y, verbose=0)


def test_empty_arrays(data):
    x, y = data
    model = small_cnn()
    with raises(ValueError, "x is empty", "(0, 8, 8, 1)", "at least one sample"):
        model.fit(x[:0], y[:0], verbose=0)
    with raises(ValueError, "x is empty"):
        model.predict(x[:0])
    with raises(ValueError, "y is empty"):
        model.evaluate(x[:1], y[:0], verbose=0)
    with raises(ValueError, "single value", "batch axis"):
        model.predict(np.float32(3))


@pytest.mark.parametrize("bad", [np.array([["a"] * 64] * 2).reshape(2, 8, 8, 1),
                                 np.empty((2, 8, 8, 1), dtype=object),
                                 np.zeros((2, 8, 8, 1), dtype=complex),
                                 np.array(["2020-01-01"] * 2, dtype="datetime64[D]")])
def test_non_numeric_dtypes(bad):
    with raises(TypeError, "not numeric", str(bad.dtype), "float32"):
        small_cnn().predict(bad)


def test_none_inputs(data):
    x, y = data
    with raises(TypeError, "x is None"):
        small_cnn().fit(None, y, verbose=0)
    with raises(TypeError, "y is None"):
        small_cnn().evaluate(x, verbose=0)


@pytest.mark.parametrize("dtype", [np.uint8, np.int32, np.int64, np.float64, np.float16])
def test_integer_and_uint8_images_give_the_float32_result(data, dtype):
    x, y = data
    xi = (x * 255).astype(dtype)
    model = small_cnn(metrics=["accuracy"])
    np.testing.assert_array_equal(model.predict(xi), model.predict(xi.astype(np.float32)))
    assert model.evaluate(xi, y, verbose=0) == model.evaluate(xi.astype(np.float32), y, verbose=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # the unscaled-images warning, tested below
        model.fit(xi, y, verbose=0, epochs=1)
    assert model.predict(xi).dtype == np.float32


def test_unscaled_integer_images_warn_once_and_scaled_ones_never(data, monkeypatch):
    from minicnn import fit_loop
    monkeypatch.setitem(fit_loop._warned, "unscaled", False)
    x, y = data
    model = small_cnn()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit((x > 0.5).astype(np.uint8), y, verbose=0)  # 0/1 integers: already scaled
        model.fit(x, y, verbose=0)                          # floats
        assert caught == []
        model.fit((x * 255).astype(np.uint8), y, verbose=0)
        model.fit((x * 255).astype(np.int64), y, verbose=0)
    assert len(caught) == 1 and "not scaled" in str(caught[0].message) and "/ 255" in str(caught[0].message)


@pytest.mark.parametrize("batch_size, exc", [(0, ValueError), (-1, ValueError), (2.5, TypeError),
                                             ("32", TypeError), (True, TypeError)])
def test_bad_batch_size(data, batch_size, exc):
    x, y = data
    model = small_cnn()
    for call in (lambda: model.fit(x, y, batch_size=batch_size, verbose=0),
                 lambda: model.evaluate(x, y, batch_size=batch_size, verbose=0),
                 lambda: model.predict(x, batch_size=batch_size)):
        with raises(exc, "batch_size", "positive integer" if exc is TypeError else "at least 1"):
            call()


@pytest.mark.parametrize("split", [1, 1.0, 1.5, -0.1, float("nan"), "0.1", None])
def test_bad_validation_split(data, split):
    x, y = data
    with raises(ValueError, "validation_split", "[0, 1)"):
        small_cnn().fit(x, y, validation_split=split, verbose=0)


def test_validation_split_leaving_nothing(data):
    x, y = data
    # Keras 3 keeps floor(10 * 0.05) = 0 training samples here.
    with raises(ValueError, "validation_split=0.95", "no training or no validation samples", "out of 10"):
        small_cnn().fit(x, y, validation_split=0.95, verbose=0)


def test_bad_validation_data(data):
    x, y = data
    with raises(ValueError, "validation_data", "(x_val, y_val)", "length 1"):
        small_cnn().fit(x, y, validation_data=(x,), verbose=0)
    with raises(ValueError, "validation_data", "(x_val, y_val)", "ndarray"):
        small_cnn().fit(x, y, validation_data=x, verbose=0)


@pytest.mark.parametrize("kwargs, exc, words", [
    ({"epochs": -1}, ValueError, ["epochs", "0 or more"]),
    ({"epochs": 2.5}, TypeError, ["epochs", "whole number", "2.5"]),
    ({"epochs": "3"}, TypeError, ["epochs", "whole number"]),
    ({"initial_epoch": -2}, ValueError, ["initial_epoch", "0 or more"]),
])
def test_bad_epochs(data, kwargs, exc, words):
    x, y = data
    with raises(exc, *words):
        small_cnn().fit(x, y, verbose=0, **kwargs)


def test_set_weights_wrong_count_and_shape():
    model = small_cnn()
    with raises(ValueError, "set_weights expected 4 arrays", "got 1"):
        model.set_weights([np.zeros(3)])
    weights = model.get_weights()
    weights[0] = np.zeros((2, 2, 1, 2))
    with raises(ValueError, "kernel", "(3, 3, 1, 2)", "(2, 2, 1, 2)"):
        model.set_weights(weights)


# -- model(x): the checks predict makes ----------------------------------------------------------

def test_calling_the_model_checks_its_inputs_as_predict_does(data):
    """Keras 3's model(x) fails inside the first layer (a single image: "Kernel size can't be greater
    than actual input size"; a wrong size: the layer's shape check); minicnn gives predict's
    messages. NaN is not looked for, as in Keras: model(x) is called per batch, and the scan
    would synchronise the GPU on every call."""
    x, _ = data
    model = small_cnn()
    for bad in (x[0], x[:1, :3, :3], np.moveaxis(x, -1, 1)):
        with pytest.raises(ValueError) as by_predict:
            model.predict(bad)
        with raises(ValueError, str(by_predict.value)):
            model(bad)
    with raises(ValueError, "per-sample shape (8, 1)", "single sample", "x[None]"):
        model(x[0])
    with raises(TypeError, "not numeric"):
        model(np.array([["a"] * 64]).reshape(1, 8, 8, 1))
    with raises(ValueError, "x is empty"):
        model(x[:0])
    assert model(x[:1]).shape == (1, 3)
    nan = x.copy()
    nan[0, 0, 0, 0] = np.nan
    assert np.isnan(model(nan)[0]).all() and np.isfinite(model(nan)[1:]).all()


@pytest.mark.parametrize("dtype", [np.uint8, np.int64, np.float64])
def test_calling_the_model_on_integer_images_converts_them_as_predict_does(data, dtype):
    """Keras 3 converts too (to the model's float dtype)."""
    x, _ = data
    model = small_cnn()
    xi = (x * 255).astype(dtype)
    out = model(xi)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, model.predict(xi))
    np.testing.assert_array_equal(out, model(xi.astype(np.float32)))


def test_calling_a_model_of_several_inputs_checks_each(data):
    from minicnn import Input, Model
    from minicnn.layers import Concatenate
    x, _ = data
    image, extra = Input((8, 8, 1), name="image"), Input((2,), name="extra")
    model = Model([image, extra], Dense(3)(Concatenate()([Flatten()(image), extra])))
    side = np.ones((10, 2), np.uint8)
    assert model([x, side]).shape == (10, 3)
    np.testing.assert_array_equal(model({"image": x, "extra": side}), model.predict([x, side]))
    with raises(ValueError, "x['image'] has per-sample shape (8, 1)", "x['image'][None]"):
        model([x[0], side[:1]])
    with raises(ValueError, "x['extra'] has per-sample shape (3,)", "expects (2,)"):
        model([x, np.ones((10, 3))])
    with raises(ValueError, "different numbers of samples"):
        model([x, side[:4]])
    with raises(ValueError, "2 inputs", "list of 2 arrays"):
        model(x)
    outer = Model([image, extra], model([image, extra]))  # symbolic calls still make a graph
    np.testing.assert_array_equal(outer([x, side]), model([x, side]))
