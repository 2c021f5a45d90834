"""Keras 1 and 2 spellings: every old spelling builds the model its modern spelling builds.

"The same model" means: the same configuration, the same weights layout and shapes, the same
output shapes, and the same outputs once given the same weights. Channels-first (Theano-era)
models must predict and train exactly as their channels-last twins on transposed inputs.
"""
import numpy as np
import pytest

import minicnn
from minicnn import backend
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            MaxPooling2D)
from minicnn.layers.convolutional import Convolution2D  # the Keras 1 import path, on purpose
from minicnn.models import Sequential
from minicnn.utils import set_random_seed


def images(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def config_without_name(layer):
    config = layer.get_config()
    config.pop("name")
    return config


def assert_same_model(old, new, x):
    """old and new: built Sequential models; x: a batch for both."""
    assert [type(layer) for layer in old.layers] == [type(layer) for layer in new.layers]
    assert [config_without_name(a) for a in old.layers] == [config_without_name(b) for b in new.layers]
    assert [w.shape for w in old.get_weights()] == [w.shape for w in new.get_weights()]
    assert [a.output_shape for a in old.layers] == [b.output_shape for b in new.layers]
    new.set_weights(old.get_weights())
    np.testing.assert_array_equal(old.predict(x), new.predict(x))


# -- import paths ---------------------------------------------------------------------------------

def test_keras_import_paths():
    from minicnn.datasets import mnist
    from minicnn.layers import convolutional, core, normalization, pooling
    from minicnn.layers.convolutional import AveragePooling2D as ConvAvg, Convolution2D, MaxPooling2D as ConvMax
    from minicnn.layers.core import Activation as A, Dense as D, Dropout as Dr, Flatten as F
    from minicnn.layers.normalization import BatchNormalization as BN
    from minicnn.layers.pooling import AveragePooling2D as Avg, MaxPooling2D as Max
    from minicnn.models import Sequential as S, load_model
    from minicnn.optimizers import SGD, Adadelta, Adam, RMSprop, adadelta, adam, rmsprop, sgd
    from minicnn.utils import np_utils

    assert S is minicnn.Sequential and load_model is minicnn.load_model
    assert Convolution2D is Conv2D and convolutional.Conv2D is Conv2D
    # Keras 1 kept the pooling layers in keras.layers.convolutional.
    assert ConvMax is Max is MaxPooling2D and ConvAvg is Avg is AveragePooling2D
    assert (A, D, Dr, F, BN) == (Activation, Dense, Dropout, Flatten, BatchNormalization)
    assert core.Dense is Dense and normalization.BatchNormalization is BN and pooling.MaxPool2D is Max
    assert (sgd, adam, rmsprop, adadelta) == (SGD, Adam, RMSprop, Adadelta)
    assert np_utils.to_categorical([0, 2], 3).tolist() == [[1, 0, 0], [0, 0, 1]]
    assert callable(mnist.load_data) and callable(mnist.load_sample)
    with pytest.raises(AttributeError, match="NoSuchLayer"):
        convolutional.NoSuchLayer


def test_backend_image_format_spellings():
    K = minicnn.backend
    assert K.image_data_format() == "channels_last" and K.image_dim_ordering() == "tf"
    K.set_image_dim_ordering("th")
    assert K.image_data_format() == "channels_first" and K.image_dim_ordering() == "th"
    K.set_image_data_format("channels_last")
    assert K.image_dim_ordering() == "tf"
    with pytest.raises(ValueError, match="'th' and 'tf'"):
        K.set_image_dim_ordering("theano")
    with pytest.raises(ValueError, match="channels_first"):
        K.set_image_data_format("NCHW")


# -- one layer, old and new spelling --------------------------------------------------------------

IMAGE = (9, 8, 3)
IMAGE_TH = (3, 9, 8)

SPELLINGS = {
    "Convolution2D(f, r, c, border_mode)": (
        lambda: Convolution2D(6, 3, 3, border_mode="valid", input_shape=IMAGE),
        lambda: Conv2D(6, (3, 3), padding="valid", input_shape=IMAGE), IMAGE),
    "Convolution2D(f, (r, c))": (
        lambda: Convolution2D(6, (3, 2), input_shape=IMAGE),
        lambda: Conv2D(filters=6, kernel_size=(3, 2), input_shape=IMAGE), IMAGE),
    "Conv2D(filters=, kernel_size=, padding='same')": (
        lambda: Conv2D(filters=6, kernel_size=(3, 3), padding="same", input_shape=IMAGE),
        lambda: Conv2D(6, 3, padding="same", input_shape=IMAGE), IMAGE),
    "nb_filter, nb_row, nb_col": (
        lambda: Convolution2D(nb_filter=6, nb_row=3, nb_col=2, input_shape=IMAGE),
        lambda: Conv2D(6, (3, 2), input_shape=IMAGE), IMAGE),
    "subsample": (
        lambda: Convolution2D(6, 3, 3, subsample=(2, 2), border_mode="same", input_shape=IMAGE),
        lambda: Conv2D(6, (3, 3), strides=(2, 2), padding="same", input_shape=IMAGE), IMAGE),
    "Conv2D(f, k, strides) positional": (
        lambda: Conv2D(6, (3, 3), (2, 1), input_shape=IMAGE),
        lambda: Conv2D(6, (3, 3), strides=(2, 1), input_shape=IMAGE), IMAGE),
    "bias=False": (
        lambda: Convolution2D(6, 3, 3, bias=False, activation="relu", input_shape=IMAGE),
        lambda: Conv2D(6, (3, 3), use_bias=False, activation="relu", input_shape=IMAGE), IMAGE),
    "dim_ordering='th'": (
        lambda: Convolution2D(6, 3, 3, border_mode="same", dim_ordering="th", input_shape=IMAGE_TH),
        lambda: Conv2D(6, (3, 3), padding="same", data_format="channels_first", input_shape=IMAGE_TH),
        IMAGE_TH),
    "dim_ordering='tf'": (
        lambda: Convolution2D(6, 3, 3, dim_ordering="tf", input_shape=IMAGE),
        lambda: Conv2D(6, (3, 3), data_format="channels_last", input_shape=IMAGE), IMAGE),
    "Dense(input_dim=)": (
        lambda: Dense(32, input_dim=784), lambda: Dense(32, input_shape=(784,)), (784,)),
    "Dense(output_dim=, init=, bias=)": (
        lambda: Dense(output_dim=5, init="uniform", bias=False, input_dim=12),
        lambda: Dense(units=5, kernel_initializer="random_uniform", use_bias=False, input_shape=(12,)), (12,)),
    "MaxPooling2D(border_mode=)": (
        lambda: MaxPooling2D(pool_size=(2, 2), border_mode="same", input_shape=IMAGE),
        lambda: MaxPooling2D((2, 2), padding="same", input_shape=IMAGE), IMAGE),
    "MaxPooling2D(dim_ordering='th')": (
        lambda: MaxPooling2D((3, 2), strides=(1, 2), border_mode="valid", dim_ordering="th", input_shape=IMAGE_TH),
        lambda: MaxPooling2D((3, 2), strides=(1, 2), data_format="channels_first", input_shape=IMAGE_TH),
        IMAGE_TH),
    "AveragePooling2D(border_mode=)": (
        lambda: AveragePooling2D((3, 3), border_mode="same", input_shape=IMAGE),
        lambda: AveragePooling2D((3, 3), padding="same", input_shape=IMAGE), IMAGE),
    "BatchNormalization(mode=0, beta_init, gamma_init)": (
        lambda: BatchNormalization(mode=0, axis=1, beta_init="zero", gamma_init="one", input_shape=IMAGE_TH),
        lambda: BatchNormalization(axis=1, input_shape=IMAGE_TH), IMAGE_TH),
    "Dropout(p=)": (
        lambda: Dropout(p=0.3, input_shape=IMAGE), lambda: Dropout(rate=0.3, input_shape=IMAGE), IMAGE),
}


@pytest.mark.parametrize("spelling", sorted(SPELLINGS))
def test_old_spelling_builds_the_modern_layer(spelling):
    old_layer, new_layer, shape = SPELLINGS[spelling]
    set_random_seed(1)
    old = Sequential([old_layer()])
    new = Sequential([new_layer()])
    x = images((4, *shape))
    assert_same_model(old, new, x)
    # Training-mode outputs too (dropout masks, batch statistics): the same seed, the same result.
    set_random_seed(2)
    y_old = old(x, training=True)
    set_random_seed(2)
    np.testing.assert_array_equal(y_old, new(x, training=True))


def test_keras1_convolution2d_with_global_th_ordering():
    """The Theano-era tutorial line, under set_image_dim_ordering('th') or set_image_data_format."""
    explicit = Conv2D(32, (3, 3), padding="valid", data_format="channels_first", input_shape=(1, 28, 28))
    for set_global in (lambda: backend.set_image_dim_ordering("th"),
                       lambda: backend.set_image_data_format("channels_first")):
        set_global()
        layer = Convolution2D(32, 3, 3, border_mode="valid", input_shape=(1, 28, 28))
        pool = MaxPooling2D(pool_size=(2, 2))
        model = Sequential([layer, pool, Flatten()])
        backend.set_image_data_format("channels_last")
        assert layer.data_format == pool.data_format == "channels_first"
        assert config_without_name(layer) == config_without_name(explicit)
        assert layer.get_weights()[0].shape == (3, 3, 1, 32)  # Keras's kernel layout in both formats
        assert [l.output_shape for l in model.layers] == [(32, 26, 26), (32, 13, 13), (32 * 13 * 13,)]
    # 'default' (Keras 1) means the global setting.
    assert Conv2D(4, 3, dim_ordering="default").data_format == "channels_last"


def test_flatten_follows_the_global_data_format():
    """Keras 2.2+/3: Flatten() takes the global format and flattens channels-first in channels-last
    order, so the Dense weights after it do not depend on the format."""
    assert Flatten().data_format == "channels_last"
    backend.set_image_data_format("channels_first")
    flatten = Flatten()
    backend.set_image_data_format("channels_last")
    assert flatten.data_format == "channels_first"
    x = np.arange(2 * 3 * 2 * 2, dtype=np.float32).reshape(2, 3, 2, 2)
    np.testing.assert_array_equal(flatten(x), x.transpose(0, 2, 3, 1).reshape(2, -1))
    assert Flatten(data_format="channels_last")(x)[0].tolist() == list(range(12))


def test_init_normal_is_keras_random_normal():
    set_random_seed(3)
    old = Convolution2D(64, 3, 3, init="normal", input_shape=(8, 8, 16))
    Sequential([old])
    set_random_seed(3)
    new = Conv2D(64, (3, 3), kernel_initializer="random_normal", input_shape=(8, 8, 16))
    Sequential([new])
    np.testing.assert_array_equal(old.get_weights()[0], new.get_weights()[0])
    kernel = old.get_weights()[0]
    assert abs(kernel.mean()) < 0.005 and 0.045 < kernel.std() < 0.055  # Keras's stddev 0.05


def test_bad_keras1_arguments_are_clear():
    with pytest.raises(ValueError, match="mode=2"):
        BatchNormalization(mode=2)
    with pytest.raises(ValueError, match="padding must be 'valid' or 'same'"):
        Convolution2D(8, 3, 3, border_mode="full")
    with pytest.raises(ValueError, match="data_format"):
        Conv2D(8, 3, dim_ordering="theano")
    with pytest.raises(TypeError, match="unexpected keyword"):
        Dense(5, W_constraint=None)


# -- training spellings ---------------------------------------------------------------------------

def small_data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return x, y


def dense_model():
    return Sequential([Dense(16, activation="relu", input_dim=20), Dropout(0.2), Dense(3, activation="softmax")])


def trained_weights(fit_kwargs, optimizer, loss="categorical_crossentropy"):
    x, y = small_data()
    set_random_seed(5)
    model = dense_model()
    model.compile(optimizer=optimizer, loss=loss, metrics=["accuracy"])
    history = model.fit(x, y, batch_size=16, verbose=0, **fit_kwargs)
    return model.get_weights(), history.history


@pytest.mark.parametrize("old, new", [
    (lambda o: o.SGD(lr=0.05, momentum=0.9, decay=1e-3, nesterov=True),
     lambda o: o.SGD(learning_rate=0.05, momentum=0.9, decay=1e-3, nesterov=True)),
    (lambda o: o.adam(lr=0.01), lambda o: o.Adam(learning_rate=0.01)),
    (lambda o: o.rmsprop(lr=0.01, rho=0.8), lambda o: o.RMSprop(learning_rate=0.01, rho=0.8)),
    (lambda o: o.Adadelta(lr=0.5), lambda o: o.Adadelta(learning_rate=0.5)),
], ids=["SGD", "adam", "rmsprop", "Adadelta"])
def test_nb_epoch_and_lr_train_as_epochs_and_learning_rate(old, new):
    from minicnn import optimizers
    assert old(optimizers).lr == old(optimizers).learning_rate == new(optimizers).learning_rate
    old_weights, old_history = trained_weights({"nb_epoch": 2}, old(optimizers))
    new_weights, new_history = trained_weights({"epochs": 2}, new(optimizers))
    assert len(old_history["loss"]) == 2 and old_history == new_history
    for a, b in zip(old_weights, new_weights):
        np.testing.assert_array_equal(a, b)


def test_loss_function_objects_as_keras2_passes_them():
    """Keras 2's mnist_cnn.py: compile(loss=keras.losses.categorical_crossentropy, ...)."""
    from minicnn import losses
    by_object, _ = trained_weights({"epochs": 1}, "sgd", loss=losses.categorical_crossentropy)
    by_name, _ = trained_weights({"epochs": 1}, "sgd", loss="categorical_crossentropy")
    for a, b in zip(by_object, by_name):
        np.testing.assert_array_equal(a, b)


# -- channels-first models ------------------------------------------------------------------------

def cnn(data_format, **first):
    """A small tutorial-shaped CNN in either data format (BatchNormalization on the channel axis)."""
    axis = 1 if data_format == "channels_first" else -1
    return Sequential([
        Conv2D(6, (3, 3), activation="relu", data_format=data_format, **first),
        # No bias before BatchNormalization: its gradient is 0 plus rounding noise, which Adam amplifies.
        Conv2D(8, (3, 3), padding="same", strides=(2, 1), use_bias=False, data_format=data_format),
        BatchNormalization(axis=axis),
        Activation("relu"),
        MaxPooling2D((2, 2), padding="same", data_format=data_format),
        AveragePooling2D((2, 2), strides=(1, 1), data_format=data_format),
        Flatten(data_format=data_format),
        Dense(16, activation="relu"),
        Dropout(0.5),  # after Flatten the two layouts agree, so the masks do too
        Dense(4, activation="softmax"),
    ])


def twin_models():
    set_random_seed(7)
    first = cnn("channels_first", input_shape=(2, 12, 11))
    last = cnn("channels_last", input_shape=(12, 11, 2))
    last.set_weights(first.get_weights())
    return first, last


def test_channels_first_model_predicts_as_channels_last():
    first, last = twin_models()
    assert [w.shape for w in first.get_weights()] == [w.shape for w in last.get_weights()]
    x_last = images((10, 12, 11, 2), seed=1)
    x_first = np.ascontiguousarray(x_last.transpose(0, 3, 1, 2))
    assert first.layers[0].output_shape == (6, 10, 9) and last.layers[0].output_shape == (10, 9, 6)
    np.testing.assert_allclose(first.predict(x_first), last.predict(x_last), rtol=1e-5, atol=1e-6)


def test_channels_first_model_trains_as_channels_last():
    first, last = twin_models()
    x_last = images((16, 12, 11, 2), seed=2)
    x_first = np.ascontiguousarray(x_last.transpose(0, 3, 1, 2))
    y = np.eye(4, dtype=np.float32)[np.arange(16) % 4]
    results = []
    for model, x in ((first, x_first), (last, x_last)):
        model.compile(optimizer=minicnn.optimizers.Adam(lr=0.01), loss="categorical_crossentropy",
                      metrics=["accuracy"])
        set_random_seed(11)
        steps = [model.train_on_batch(x, y) for _ in range(3)]
        results.append((steps, model.get_weights()))
    (steps_first, w_first), (steps_last, w_last) = results
    np.testing.assert_allclose(steps_first, steps_last, rtol=1e-5)
    for a, b in zip(w_first, w_last):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
    assert not np.allclose(w_first[0], twin_models()[0].get_weights()[0])  # it did train


def test_global_channels_first_builds_the_explicit_model():
    backend.set_image_data_format("channels_first")
    set_random_seed(7)
    implicit = Sequential([
        Convolution2D(6, 3, 3, activation="relu", input_shape=(2, 12, 11)),
        Convolution2D(8, 3, 3, border_mode="same", subsample=(2, 1), bias=False),
        BatchNormalization(axis=1), Activation("relu"),
        MaxPooling2D((2, 2), border_mode="same"), AveragePooling2D((2, 2), strides=(1, 1)),
        Flatten(), Dense(16, activation="relu"), Dropout(p=0.5), Dense(output_dim=4, activation="softmax"),
    ])
    backend.set_image_data_format("channels_last")
    explicit = twin_models()[0]
    assert_same_model(implicit, explicit, images((5, 2, 12, 11)))


# -- a Theano-era tutorial, spelled as it was ----------------------------------------------------

def test_keras1_theano_tutorial_runs(capsys):
    from minicnn import backend as K
    from minicnn.datasets import mnist
    from minicnn.layers.convolutional import Convolution2D, MaxPooling2D
    from minicnn.layers.core import Activation, Dense, Dropout, Flatten
    from minicnn.models import Sequential
    from minicnn.optimizers import SGD
    from minicnn.utils import np_utils

    np.random.seed(1337)
    K.set_image_dim_ordering("th")
    (X_train, y_train), (X_test, y_test) = mnist.load_sample()
    X_train = X_train[:64].reshape(64, 1, 28, 28).astype("float32") / 255
    X_test = X_test[:32].reshape(32, 1, 28, 28).astype("float32") / 255
    Y_train, Y_test = np_utils.to_categorical(y_train[:64], 10), np_utils.to_categorical(y_test[:32], 10)

    model = Sequential()
    model.add(Convolution2D(8, 3, 3, border_mode="valid", input_shape=(1, 28, 28)))
    model.add(Activation("relu"))
    model.add(Convolution2D(8, 3, 3, init="he_normal"))
    model.add(Activation("relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(32, init="normal"))
    model.add(Activation("relu"))
    model.add(Dropout(p=0.5))
    model.add(Dense(output_dim=10))
    model.add(Activation("softmax"))
    model.compile(loss="categorical_crossentropy", optimizer=SGD(lr=0.05, momentum=0.9), metrics=["accuracy"])
    history = model.fit(X_train, Y_train, batch_size=16, nb_epoch=2, verbose=1, validation_data=(X_test, Y_test))
    score = model.evaluate(X_test, Y_test, verbose=0)
    assert model.output_shape == (None, 10) and model.layers[0].output_shape == (8, 26, 26)
    assert len(history.history["loss"]) == 2 and len(score) == 2 and np.isfinite(score[0])
    assert len(history.history["acc"]) == len(history.history["val_acc"]) == 2  # Keras 1's key names
    assert "Epoch 2/2" in capsys.readouterr().out


def test_keras1_predict_classes_proba_and_nb_classes():
    import numpy as np
    from minicnn.models import Sequential as S
    from minicnn.layers import Dense as D
    from minicnn.utils.np_utils import to_categorical as tc
    np.testing.assert_array_equal(tc([2, 0], nb_classes=3), np.eye(3, dtype=np.float32)[[2, 0]])
    x = np.random.default_rng(0).standard_normal((6, 4)).astype(np.float32)
    multi = S([D(3, activation="softmax", input_dim=4)])
    np.testing.assert_array_equal(multi.predict_classes(x), multi.predict(x).argmax(1))
    np.testing.assert_array_equal(multi.predict_proba(x), multi.predict(x))
    single = S([D(1, activation="sigmoid", input_dim=4)])
    np.testing.assert_array_equal(single.predict_classes(x), (single.predict(x)[:, 0] > 0.5).astype(int))
