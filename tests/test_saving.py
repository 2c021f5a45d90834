"""Saving and loading round trips: model.save / load_model, save_weights / load_weights.

A round trip must give back the same predictions, the same optimizer state, and therefore the
same continued training, bit for bit. Files are plain .npz archives without pickled objects.
(Damaged, foreign and other-version files are tested with the hardening tests of issue 7.)
"""
import os
import re

import numpy as np
import pytest

import minicnn
from minicnn import backend, optimizers
from minicnn.datasets import mnist
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, Input, LeakyReLU, MaxPooling2D, ReLU, Reshape,
                            Softmax, ZeroPadding2D)
from minicnn.models import Sequential, load_model
from minicnn.utils import set_random_seed


def data(n=48, shape=(10, 10, 1), classes=3, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, *shape)).astype(np.float32)
    y = np.eye(classes, dtype=np.float32)[rng.integers(0, classes, n)]
    return x, y


def cnn(data_format="channels_last", dtype=None):
    """The tutorial CNN in miniature, with BatchNormalization and both dropouts."""
    shape = (1, 10, 10) if data_format == "channels_first" else (10, 10, 1)
    return Sequential([
        Conv2D(4, (3, 3), activation="relu", input_shape=shape, data_format=data_format, dtype=dtype),
        Conv2D(6, (3, 3), padding="same", use_bias=False, data_format=data_format, dtype=dtype),
        BatchNormalization(axis=1 if data_format == "channels_first" else -1, dtype=dtype),
        Activation("relu", dtype=dtype),
        MaxPooling2D((2, 2), data_format=data_format, dtype=dtype),
        Dropout(0.25, dtype=dtype),
        Flatten(data_format=data_format, dtype=dtype),
        Dense(12, activation="relu", dtype=dtype),
        Dropout(0.5, dtype=dtype),
        Dense(3, activation="softmax", dtype=dtype),
    ], name="tiny_cnn")


def trained(model, optimizer="adam", epochs=1, seed=0, x=None, y=None):
    if x is None:
        x, y = data()
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    set_random_seed(seed)
    model.fit(x, y, batch_size=16, epochs=epochs, verbose=0)
    return model


def assert_same_weights(a, b):
    wa, wb = a.get_weights(), b.get_weights()
    assert len(wa) == len(wb)
    for u, v in zip(wa, wb):
        assert u.dtype == v.dtype and u.shape == v.shape
        np.testing.assert_array_equal(u, v)


def assert_same_optimizer(a, b):
    assert type(a) is type(b) and a.get_config() == b.get_config()
    sa, sb = a.get_state(), b.get_state()
    assert len(sa) == len(sb) and int(sa[0]) == int(sb[0])
    for u, v in zip(sa, sb):
        np.testing.assert_array_equal(backend.to_numpy(u), backend.to_numpy(v))


# -- model.save / load_model ----------------------------------------------------------------------

def test_round_trip_predictions_config_and_summary(tmp_path, capsys):
    set_random_seed(1)
    model = trained(cnn())
    path = tmp_path / "model.npz"
    model.save(path)
    loaded = load_model(path)
    x, _ = data(20, seed=5)
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert loaded.name == "tiny_cnn" and loaded.input_shape == model.input_shape
    assert [type(layer) for layer in loaded.layers] == [type(layer) for layer in model.layers]
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert_same_weights(model, loaded)
    assert loaded.compiled and loaded.metrics_names == ["loss", "accuracy"]
    assert loaded.loss.name == "categorical_crossentropy"
    x, y = data(20, seed=6)
    assert model.evaluate(x, y, verbose=0) == loaded.evaluate(x, y, verbose=0)
    model.summary()
    loaded.summary()
    first, second = capsys.readouterr().out.split('Model: "tiny_cnn"')[1:]
    assert first == second


def every_new_layer():
    """A model with each layer of issue 17 and each activation name, every option off its default."""
    return Sequential([
        ZeroPadding2D(((1, 0), (2, 1)), input_shape=(2, 9, 8), data_format="channels_first"),
        Conv2D(4, 3, dilation_rate=(2, 1), activation="gelu", data_format="channels_first"),
        ReLU(max_value=6.0, negative_slope=0.1, threshold=0.05), LeakyReLU(alpha=0.2),
        GlobalMaxPooling2D(keepdims=True, data_format="channels_first"), Reshape((2, -1)), Softmax(axis=1),
        Reshape((4, 1, 1)), GlobalAveragePooling2D(data_format="channels_first"),
        *[Dense(5, activation=name) for name in ("elu", "selu", "softplus", "softsign", "swish", "silu",
                                                  "hard_sigmoid", "leaky_relu", "exponential")],
        Dense(3), Activation("softmax")], name="issue17")


def test_round_trip_of_every_new_layer(tmp_path):
    set_random_seed(4)
    x, y = data(shape=(2, 9, 8))
    model = trained(every_new_layer(), x=x, y=y)
    model.save(tmp_path / "new.npz")
    loaded = load_model(tmp_path / "new.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    for m in (model, loaded):
        set_random_seed(5)
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(model, loaded)


OPTIMIZERS = {
    "SGD": lambda: optimizers.SGD(learning_rate=0.05),
    "SGD-momentum": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9),
    "SGD-nesterov-decay": lambda: optimizers.SGD(lr=0.05, momentum=0.8, nesterov=True, decay=0.01),
    "Adam": lambda: optimizers.Adam(learning_rate=0.01, beta_1=0.8, epsilon=1e-6),
    "Adam-decay": lambda: optimizers.Adam(lr=0.01, decay=0.05),
    "RMSprop": lambda: optimizers.RMSprop(learning_rate=0.005, rho=0.8),
    "Adadelta": lambda: optimizers.Adadelta(),
    "Adadelta-lr": lambda: optimizers.Adadelta(learning_rate=0.5, rho=0.9),
    "Adagrad": lambda: optimizers.Adagrad(learning_rate=0.05, initial_accumulator_value=0.2),
    "Adamax-clipvalue": lambda: optimizers.Adamax(learning_rate=0.01, clipvalue=0.01),
    "Nadam-global_clipnorm": lambda: optimizers.Nadam(learning_rate=0.01, global_clipnorm=0.5),
    "AdamW-clipnorm": lambda: optimizers.AdamW(learning_rate=0.01, weight_decay=0.1, clipnorm=0.1),
    "SGD-weight_decay": lambda: optimizers.SGD(learning_rate=0.05, momentum=0.9, weight_decay=0.01),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_optimizer_state_and_continued_training(tmp_path, name):
    """Train A one epoch, save, load B; one more epoch each from the same seed: equal bit for bit."""
    x, y = data()
    set_random_seed(2)
    a = trained(cnn(), OPTIMIZERS[name](), x=x, y=y)
    path = tmp_path / f"{name}.npz"
    a.save(path)
    b = load_model(path)
    assert b.optimizer is not a.optimizer
    assert_same_optimizer(a.optimizer, b.optimizer)
    assert b.optimizer.iterations == a.optimizer.iterations == 3
    for model in (a, b):
        set_random_seed(3)
        model.fit(x, y, batch_size=16, epochs=2, initial_epoch=1, verbose=0)
    assert_same_weights(a, b)
    assert_same_optimizer(a.optimizer, b.optimizer)
    assert b.optimizer.iterations == 6


def test_state_restored_before_training_survives_a_second_save(tmp_path):
    """A loaded optimizer holds its state until its first step; saving it then keeps it."""
    a = trained(cnn(), "rmsprop")
    a.save(tmp_path / "first.npz")
    b = load_model(tmp_path / "first.npz")
    b.save(tmp_path / "second.npz")
    assert_same_optimizer(a.optimizer, load_model(tmp_path / "second.npz").optimizer)


def test_the_optimizer_state_matters(tmp_path):
    """Without the state (include_optimizer=False) Adam restarts, and training goes elsewhere."""
    x, y = data()
    a = trained(cnn(), "adam", x=x, y=y)
    a.save(tmp_path / "with.npz")
    a.save(tmp_path / "without.npz", include_optimizer=False)
    with_state, without = load_model(tmp_path / "with.npz"), load_model(tmp_path / "without.npz")
    assert without.compiled and without.optimizer.iterations == 0
    assert with_state.optimizer.iterations == 3
    with np.load(tmp_path / "without.npz", allow_pickle=False) as f:
        assert not [k for k in f.files if k.startswith("optimizer")]
    for model in (with_state, without):
        set_random_seed(3)
        model.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert not np.array_equal(with_state.get_weights()[0], without.get_weights()[0])


def test_uncompiled_model_and_compile_false(tmp_path):
    model = cnn()
    model.save(tmp_path / "raw.npz")
    raw = load_model(tmp_path / "raw.npz")
    assert not raw.compiled and raw.optimizer is None
    x, _ = data(8)
    np.testing.assert_array_equal(model.predict(x), raw.predict(x))
    trained(model).save(tmp_path / "compiled.npz")
    assert not load_model(tmp_path / "compiled.npz", compile=False).compiled


def test_no_pickle_in_the_file(tmp_path):
    path = tmp_path / "model.npz"
    trained(cnn(), "adadelta").save(path)
    with np.load(path, allow_pickle=False) as f:  # would raise on any pickled entry
        entries = {k: f[k] for k in f.files}
    assert {"minicnn_format", "config"} <= set(entries)
    assert sum(k.startswith("layer_") for k in entries) == len(cnn().get_weights())
    for key, array in entries.items():
        assert array.dtype != object and not array.dtype.hasobject, key


@pytest.mark.parametrize("data_format", ["channels_first", "channels_last"])
def test_batchnorm_and_data_format_round_trip(tmp_path, data_format):
    shape = (1, 10, 10) if data_format == "channels_first" else (10, 10, 1)
    x, y = data(shape=shape)
    model = trained(cnn(data_format), "sgd", epochs=2, x=x, y=y)
    bn = model.layers[2]
    # The moving statistics moved away from their initial values, and come back from the file.
    assert not np.allclose(bn.get_weights()[2], 0) and not np.allclose(bn.get_weights()[3], 1)
    model.save(tmp_path / "m.npz")
    # The file, not the global setting at load time, decides the format.
    backend.set_image_data_format("channels_first" if data_format == "channels_last" else "channels_last")
    loaded = load_model(tmp_path / "m.npz")
    backend.set_image_data_format("channels_last")
    assert all(getattr(layer, "data_format", data_format) == data_format for layer in loaded.layers)
    assert loaded.layers[2].axis == model.layers[2].axis
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    assert_same_weights(model, loaded)


def test_model_built_under_the_global_channels_first_setting(tmp_path):
    backend.set_image_dim_ordering("th")
    model = Sequential([Conv2D(3, 3, input_shape=(2, 6, 5)), MaxPooling2D(), Flatten(), Dense(2)])
    backend.set_image_dim_ordering("tf")
    model.save(tmp_path / "th.npz")
    loaded = load_model(tmp_path / "th.npz")
    x, _ = data(4, shape=(2, 6, 5))
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))


def test_float64_input_layer_and_shape_from_data(tmp_path):
    x, y = data(16, shape=(7,))
    for model in (Sequential([Input(shape=(7,)), Dense(5, activation="tanh", dtype="float64"),
                              Dense(3, activation="softmax", dtype="float64")]),
                  Sequential([Dense(5, activation="sigmoid"), Dense(3, activation="softmax")])):
        trained(model, "sgd", x=x, y=y)
        model.save(tmp_path / "m.npz")
        loaded = load_model(tmp_path / "m.npz")
        assert loaded.input_shape == (None, 7)
        assert [w.dtype for w in loaded.get_weights()] == [w.dtype for w in model.get_weights()]
        np.testing.assert_array_equal(model.predict(x), loaded.predict(x))


def test_frozen_layer_round_trip(tmp_path):
    x, y = data()
    model = cnn()
    model.layers[0].trainable = False
    trained(model, "adam", x=x, y=y)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert not loaded.layers[0].trainable
    for m in (model, loaded):
        set_random_seed(4)
        m.fit(x, y, batch_size=16, epochs=1, verbose=0)
    assert_same_weights(model, loaded)


def test_save_accepts_str_and_path_and_writes_exactly_there(tmp_path):
    model = cnn()
    model.save(str(tmp_path / "a.npz"))
    model.save(tmp_path / "b.weights")  # no suffix appended, unlike np.savez on a name
    assert sorted(os.listdir(tmp_path)) == ["a.npz", "b.weights"]
    x, _ = data(4)
    np.testing.assert_array_equal(load_model(tmp_path / "b.weights").predict(x), model.predict(x))


@pytest.mark.parametrize("name", ["model.h5", "model.hdf5", "model.keras", "MODEL.H5", "m.weights.h5"])
def test_keras_names_need_h5py_and_without_it_nothing_is_written(tmp_path, name, monkeypatch):
    """Keras names write Keras files (tests/test_keras_files.py); without h5py they are refused
    before anything is written, with the command that installs it."""
    from minicnn.callbacks import ModelCheckpoint
    monkeypatch.setitem(__import__("sys").modules, "h5py", None)  # import h5py now raises ImportError
    model = cnn()
    for save in (model.save, model.save_weights):
        with pytest.raises(ImportError, match=rf"{re.escape(name)}.*pip install 'minicnn\[h5\]'"):
            save(tmp_path / name)
    with pytest.raises(ImportError, match=r"ModelCheckpoint.*minicnn\[h5\]"):
        ModelCheckpoint(str(tmp_path / ("ck-{epoch}-" + name)))
    assert os.listdir(tmp_path) == []
    # A file already there under that name is left as it was.
    (tmp_path / name).write_bytes(b"\x89HDF\r\n\x1a\n")
    with pytest.raises(ImportError):
        model.save(tmp_path / name)
    assert (tmp_path / name).read_bytes() == b"\x89HDF\r\n\x1a\n"
    model.save(tmp_path / "still.npz")  # minicnn's own format needs no h5py


def test_loading_a_damaged_hdf5_file_says_what_it_is(tmp_path):
    pytest.importorskip("h5py")
    path = tmp_path / "keras_model.npz"
    path.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(100))
    with pytest.raises(ValueError, match="keras_model.npz.*not a readable HDF5 file"):
        load_model(path)


# -- save_weights / load_weights ------------------------------------------------------------------

def test_weights_round_trip(tmp_path):
    set_random_seed(5)
    model = trained(cnn())
    path = tmp_path / "w.npz"
    model.save_weights(path)
    with np.load(path, allow_pickle=False) as f:
        assert not [k for k in f.files if k.startswith("optimizer")]
        assert all(f[k].dtype != object for k in f.files)
    set_random_seed(6)
    fresh = cnn()
    x, _ = data(10, seed=7)
    assert not np.array_equal(fresh.predict(x), model.predict(x))
    fresh.load_weights(path)
    assert_same_weights(model, fresh)
    np.testing.assert_array_equal(fresh.predict(x), model.predict(x))


def test_load_weights_from_a_full_save_and_into_a_trained_model(tmp_path):
    model = trained(cnn(), "adam")
    model.save(tmp_path / "full.npz")
    other = trained(cnn(), "sgd", seed=9)
    other.load_weights(tmp_path / "full.npz")
    assert_same_weights(model, other)
    assert isinstance(other.optimizer, optimizers.SGD)  # the weights only; its own optimizer stays


def test_load_weights_into_a_model_built_from_data(tmp_path):
    x, _ = data(6, shape=(5,))
    model = Sequential([Dense(4, input_dim=5), Dense(2)])
    model.save_weights(tmp_path / "w.npz")
    built_later = Sequential([Dense(4), Dense(2)])
    built_later.build((None, 5))
    built_later.load_weights(tmp_path / "w.npz")
    np.testing.assert_array_equal(built_later.predict(x), model.predict(x))


@pytest.mark.parametrize("other", [
    lambda: Sequential([Dense(4, input_dim=5), Dense(3)]),                  # another output size
    lambda: Sequential([Dense(4, input_dim=6), Dense(2)]),                  # another input size
    lambda: Sequential([Dense(4, input_dim=5), Dense(2), Dense(2)]),        # more layers
    lambda: Sequential([Dense(4, input_dim=5)]),                            # fewer layers
    lambda: Sequential([Dense(4, input_dim=5), Activation("relu"), Dense(2)]),
    lambda: Sequential([Dense(4, input_dim=5, use_bias=False), Dense(2)]),  # fewer weights
    lambda: Sequential([Conv2D(2, 3, input_shape=(5, 5, 1)), Flatten(), Dense(2)]),
], ids=["units", "input", "more", "fewer", "activation-layer", "no-bias", "conv"])
def test_loading_into_another_architecture_fails_naming_the_file(tmp_path, other):
    path = tmp_path / "small_dense.npz"
    Sequential([Dense(4, input_dim=5), Dense(2)]).save_weights(path)
    model = other()
    before = model.get_weights()
    with pytest.raises(ValueError, match="small_dense.npz"):
        model.load_weights(path)
    for u, v in zip(before, model.get_weights()):  # nothing half-loaded
        np.testing.assert_array_equal(u, v)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        load_model(tmp_path / "nothing.npz")
    with pytest.raises(FileNotFoundError, match="nothing.npz"):
        cnn().load_weights(tmp_path / "nothing.npz")


def test_tutorial_model_round_trip(tmp_path):
    """The README's model, saved and loaded as the README does it."""
    model = Sequential([
        Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
        Dense(10, activation="softmax")])
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    (x, y), _ = mnist.load_sample()
    x = x[:32].reshape(-1, 28, 28, 1).astype("float32") / 255
    model.fit(x, minicnn.utils.to_categorical(y[:32], 10), batch_size=16, epochs=1, verbose=0)
    model.save(tmp_path / "mnist_cnn.npz")
    loaded = minicnn.load_model(tmp_path / "mnist_cnn.npz")
    assert loaded.count_params() == 600_810
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    assert_same_optimizer(model.optimizer, loaded.optimizer)


def test_avgpool_and_strided_conv_configs_round_trip(tmp_path):
    model = Sequential([Conv2D(3, (3, 2), strides=(2, 1), padding="same", kernel_initializer="he_normal",
                               input_shape=(9, 8, 2)),
                        AveragePooling2D((3, 3), strides=(1, 2), padding="same"), Flatten(),
                        Dense(2, use_bias=False, kernel_initializer="lecun_uniform")])
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    x, _ = data(3, shape=(9, 8, 2))
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
