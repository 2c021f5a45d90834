"""Keras files both ways (minicnn.keras_files): the .keras archive, .weights.h5 and legacy .h5.

The reference is Keras 3 itself, through the files it wrote (tests/data/keras_files, made by
make_files.py there with Keras 3.15 on torch): minicnn must predict what Keras predicted, and
continue training exactly as Keras did from the restored optimizer state. minicnn's own files
are checked against the layout of Keras's files (config entries, weight paths and shapes), and
round trips through them must change nothing. benchmarks/keras_files_agreement.py does the live
minicnn -> Keras -> minicnn round trips.
"""
import io
import json
import os
import shutil
import zipfile

import numpy as np
import pytest

h5py = pytest.importorskip("h5py")

import minicnn  # noqa: E402
from minicnn import layers as L  # noqa: E402
from minicnn.models import load_model  # noqa: E402

DATA = os.path.join(os.path.dirname(__file__), "data", "keras_files")
EXPECTED = np.load(os.path.join(DATA, "expected.npz"))
X, Y = EXPECTED["x"], EXPECTED["y"]


def path(name):
    return os.path.join(DATA, name)


# -- files written by Keras 3 -------------------------------------------------------------------

@pytest.mark.parametrize("name,key", [("cnn.keras", "cnn"), ("bn.h5", "bn"), ("residual.keras", "residual")])
def test_keras_written_files_predict_as_keras(name, key):
    model = load_model(path(name))
    np.testing.assert_allclose(model.predict(X, verbose=0), EXPECTED[f"{key}_predict"], atol=1e-5)
    assert type(model.optimizer).__name__ == ("SGD" if key == "residual" else "Adam")
    assert model.optimizer.iterations == 4  # 2 epochs of 2 batches in Keras
    assert model.optimizer.learning_rate == pytest.approx(0.1 if key == "residual" else 0.01)


@pytest.mark.parametrize("name,key", [("bn.h5", "bn"), ("residual.keras", "residual")])
def test_training_continues_from_keras_optimizer_state(name, key):
    model = load_model(path(name))
    model.train_on_batch(X, Y)
    np.testing.assert_allclose(model.predict(X, verbose=0), EXPECTED[f"{key}_after_step"], atol=1e-5)
    # The check can fail: the same step from a fresh optimizer lands elsewhere.
    fresh = load_model(path(name), compile=False)
    fresh.compile(optimizer=type(model.optimizer).from_config(model.optimizer.get_config()),
                  loss="categorical_crossentropy")
    fresh.train_on_batch(X, Y)
    assert np.abs(fresh.predict(X, verbose=0) - EXPECTED[f"{key}_after_step"]).max() > 1e-4


def test_keras_weights_file_loads_into_a_model():
    model = load_model(path("residual.keras"), compile=False)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(path("residual.weights.h5"))
    np.testing.assert_allclose(model.predict(X, verbose=0), EXPECTED["residual_predict"], atol=1e-5)


def test_legacy_h5_model_file_gives_its_weights_to_load_weights():
    model = load_model(path("bn.h5"), compile=False)
    model.set_weights([np.zeros_like(w) for w in model.get_weights()])
    model.load_weights(path("bn.h5"))
    np.testing.assert_allclose(model.predict(X, verbose=0), EXPECTED["bn_predict"], atol=1e-5)


# -- minicnn's files have Keras's layout --------------------------------------------------------

def _h5_layout(data):
    with h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r") as f:
        out = {}
        f.visititems(lambda name, obj: out.__setitem__(name, obj.shape) if isinstance(obj, h5py.Dataset) else None)
        return out


def _archive(p):
    with zipfile.ZipFile(p) as zf:
        return json.loads(zf.read("config.json")), zf.read("model.weights.h5"), sorted(zf.namelist())


def _entries(config):
    """(class_name, module, name, config keys) of every layer entry, nested models included."""
    out = []
    for e in config["config"]["layers"]:
        out.append((e["class_name"], e["module"].split(".")[0], e["config"].get("name"), set(e["config"])))
        if e["class_name"] in ("Functional", "Sequential"):
            out += _entries(e)
    return out


@pytest.mark.parametrize("name", ["cnn.keras", "residual.keras"])
def test_minicnn_archive_has_keras_layout(tmp_path, name):
    """Load Keras's file, write it again: same members, same layer entries (our keys a subset of
    Keras's), same weight paths and shapes, optimizer variables included."""
    model = load_model(path(name))
    model.save(tmp_path / name)
    theirs, their_weights, their_members = _archive(path(name))
    ours, our_weights, our_members = _archive(tmp_path / name)
    assert our_members == their_members == ["config.json", "metadata.json", "model.weights.h5"]
    assert (ours["class_name"], ours["module"].split(".")[0]) == (theirs["class_name"], "keras")
    assert set(ours) >= {"module", "class_name", "config", "registered_name", "build_config", "compile_config"}
    for (c1, m1, n1, k1), (c2, m2, n2, k2) in zip(_entries(ours), _entries(theirs), strict=True):
        # a Sequential's input layer is rebuilt (minicnn names it after the model); others keep their names
        assert (c1, m1) == (c2, m2) and (n1 == n2 or (c1 == "InputLayer" and ours["class_name"] == "Sequential"))
        assert k1 <= k2, f"{n1}: keys Keras lacks: {k1 - k2}"
    assert _h5_layout(our_weights) == _h5_layout(their_weights)
    assert ours["compile_config"]["optimizer"]["class_name"] == theirs["compile_config"]["optimizer"]["class_name"]


def test_minicnn_weights_file_has_keras_layout(tmp_path):
    model = load_model(path("residual.keras"))
    model.save_weights(tmp_path / "w.weights.h5")
    assert _h5_layout(str(tmp_path / "w.weights.h5")) == _h5_layout(path("residual.weights.h5"))


def _strings(values):
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def test_minicnn_legacy_h5_has_keras_layout(tmp_path):
    model = load_model(path("bn.h5"))
    model.save(tmp_path / "bn.h5")
    with h5py.File(path("bn.h5"), "r") as theirs, h5py.File(tmp_path / "bn.h5", "r") as ours:
        assert json.loads(ours.attrs["model_config"])["class_name"] == "Sequential"
        assert set(json.loads(ours.attrs["training_config"])) >= {"loss", "metrics", "optimizer_config"}
        names = _strings(theirs["model_weights"].attrs["layer_names"])
        assert _strings(ours["model_weights"].attrs["layer_names"]) == names
        for n in names:
            shapes = [theirs["model_weights"][n][w].shape for w in theirs["model_weights"][n].attrs["weight_names"]]
            assert [ours["model_weights"][n][w].shape for w in ours["model_weights"][n].attrs["weight_names"]] == shapes
        assert [theirs["optimizer_weights"][w].shape for w in theirs["optimizer_weights"].attrs["weight_names"]] == \
            [ours["optimizer_weights"][w].shape for w in ours["optimizer_weights"].attrs["weight_names"]]


# -- minicnn -> Keras file -> minicnn -----------------------------------------------------------

def tutorial_cnn():
    return minicnn.Sequential([minicnn.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                               L.Dropout(0.25), L.Flatten(), L.Dense(8, activation="relu"),
                               L.Dense(3, activation="softmax")])


def bn_model():
    return minicnn.Sequential([minicnn.Input((8, 8, 1)), L.Conv2D(4, 3, use_bias=False, kernel_regularizer="l2"),
                               L.BatchNormalization(), L.ReLU(), L.GlobalAveragePooling2D(), L.Dense(3)])


def residual_graph():
    inner_in = minicnn.Input((8, 8, 4))
    inner = minicnn.Model(inner_in, L.Conv2D(4, 1)(inner_in), name="inner")
    x = minicnn.Input((8, 8, 1))
    a = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    shared = L.Conv2D(4, 3, padding="same")
    s = L.Add()([a, shared(L.BatchNormalization()(shared(a))), inner(a)])
    y = L.Concatenate()([s, a])
    return minicnn.Model(x, L.Dense(3, activation="softmax")(L.GlobalMaxPooling2D()(y)))


@pytest.mark.parametrize("make", [tutorial_cnn, bn_model, residual_graph])
@pytest.mark.parametrize("suffix", [".keras", ".h5"])
def test_round_trip_keeps_predictions_and_optimizer_state(tmp_path, make, suffix):
    minicnn.utils.set_random_seed(0)
    model = make()
    model.compile(minicnn.optimizers.Adam(0.01), "categorical_crossentropy", metrics=["accuracy"])
    model.fit(X, Y, batch_size=8, epochs=1, verbose=0)
    model.save(tmp_path / ("m" + suffix))
    again = load_model(tmp_path / ("m" + suffix))
    np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-6)
    for a, b in zip(again.optimizer.get_state(), model.optimizer.get_state(), strict=True):
        np.testing.assert_array_equal(a, b)
    if make is not tutorial_cnn:  # dropout draws differ between the two copies
        model.train_on_batch(X, Y)
        again.train_on_batch(X, Y)
        np.testing.assert_allclose(again.predict(X, verbose=0), model.predict(X, verbose=0), atol=1e-5)


@pytest.mark.parametrize("name", ["w.weights.h5", "w.h5"])
def test_weights_round_trip(tmp_path, name):
    model = residual_graph()
    model.save_weights(tmp_path / name)
    other = residual_graph()
    other.load_weights(tmp_path / name)
    np.testing.assert_array_equal(other.predict(X, verbose=0), model.predict(X, verbose=0))


@minicnn.saving.register_keras_serializable(package="tests")
class Doubled(L.Dense):
    """A layer of the user's own: a Dense whose output is doubled."""

    def forward(self, x, training=False):
        y, cache = super().forward(x, training)
        return 2 * y, cache


class Halved(L.Dense):
    def forward(self, x, training=False):
        y, cache = super().forward(x, training)
        return y / 2, cache


def test_custom_layers_need_custom_objects_or_registration(tmp_path):
    model = minicnn.Sequential([minicnn.Input((3,)), Doubled(2), Halved(2)])
    model.save(tmp_path / "c.keras")
    with pytest.raises(ValueError, match=r"c\.keras.*'Halved'.*custom_objects"):
        load_model(tmp_path / "c.keras")
    again = load_model(tmp_path / "c.keras", custom_objects={"Halved": Halved})
    assert [type(l) for l in again.layers] == [Doubled, Halved]
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))


# -- what cannot be loaded, and hostile files ---------------------------------------------------

def _rewrite(src, dst, edit=None, drop=()):
    """Copy the archive ``src`` to ``dst``, editing config.json with ``edit`` and dropping members."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for n in zin.namelist():
            if n in drop:
                continue
            data = zin.read(n)
            if n == "config.json" and edit:
                config = json.loads(data)
                edit(config)
                data = json.dumps(config)
            zout.writestr(n, data)
    return dst


def _layer(config, class_name):
    return next(e for e in config["config"]["layers"] if e["class_name"] == class_name)


def test_lambda_code_in_a_file_is_never_run():
    with pytest.raises(ValueError, match=r"lambda\.keras.*Lambda.*bytecode.*never runs code"):
        load_model(path("lambda.keras"))
    with pytest.raises(ValueError, match=r"lambda\.keras.*Lambda.*bytecode"):
        load_model(path("lambda.keras"), custom_objects={"other": abs})


def test_truncated_archive(tmp_path):
    data = open(path("cnn.keras"), "rb").read()
    (tmp_path / "t.keras").write_bytes(data[:len(data) // 2])
    with pytest.raises(ValueError, match=r"t\.keras.*truncated or corrupt"):
        load_model(tmp_path / "t.keras")
    (tmp_path / "empty.keras").write_bytes(b"")
    with pytest.raises(ValueError, match=r"empty\.keras.*neither"):
        load_model(tmp_path / "empty.keras")


def test_zip_without_config(tmp_path):
    _rewrite(path("cnn.keras"), tmp_path / "n.keras", drop=("config.json",))
    with pytest.raises(ValueError, match=r"n\.keras.*no config\.json"):
        load_model(tmp_path / "n.keras")


def test_hdf5_files_without_weights(tmp_path):
    with h5py.File(tmp_path / "cfg.h5", "w") as f, h5py.File(path("bn.h5"), "r") as src:
        f.attrs["model_config"] = src.attrs["model_config"]
    with pytest.raises(ValueError, match=r"cfg\.h5.*no weights"):
        load_model(tmp_path / "cfg.h5")
    with h5py.File(tmp_path / "bare.h5", "w") as f:
        f.create_group("something")
    with pytest.raises(ValueError, match=r"bare\.h5.*without a model_config"):
        load_model(tmp_path / "bare.h5")
    with pytest.raises(ValueError, match=r"bare\.h5.*without Keras weights"):
        bn_model().load_weights(tmp_path / "bare.h5")


def test_unknown_class_and_unexpected_module(tmp_path):
    def unknown(c):
        _layer(c, "Dense")["class_name"] = "Frobnicate"

    def module(c):
        _layer(c, "Dense")["module"] = "os"
    _rewrite(path("cnn.keras"), tmp_path / "u.keras", unknown)
    with pytest.raises(ValueError, match=r"u\.keras.*'Frobnicate', which minicnn lacks"):
        load_model(tmp_path / "u.keras")
    _rewrite(path("cnn.keras"), tmp_path / "m.keras", module)
    with pytest.raises(ValueError, match=r"m\.keras.*module 'os'"):
        load_model(tmp_path / "m.keras")


def test_options_minicnn_lacks_are_named(tmp_path):
    def groups(c):
        _layer(c, "Conv2D")["config"]["groups"] = 2

    def constraint(c):
        _layer(c, "Dense")["config"]["kernel_constraint"] = {"class_name": "MaxNorm", "config": {"max_value": 2}}

    def amsgrad(c):
        c["compile_config"]["optimizer"]["config"]["amsgrad"] = True
    for edit, words in [(groups, r"'conv2d'.*groups=2"), (constraint, r"kernel_constraint"),
                        (amsgrad, r"Adam sets amsgrad=True.*compile=False")]:
        _rewrite(path("cnn.keras"), tmp_path / "o.keras", edit)
        with pytest.raises(ValueError, match=r"o\.keras.*" + words):
            load_model(tmp_path / "o.keras")
    load_model(tmp_path / "o.keras", compile=False)  # amsgrad only matters to the optimizer


def test_weights_of_the_wrong_shape(tmp_path):
    shutil.copy(path("residual.weights.h5"), tmp_path / "w.weights.h5")
    with h5py.File(tmp_path / "w.weights.h5", "a") as f:
        del f["layers/dense/vars/0"]
        f["layers/dense/vars/0"] = np.zeros((5, 3), np.float32)
    model = load_model(path("residual.keras"), compile=False)
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"w\.weights\.h5.*'dense\w*' weight 'kernel'.*\(8, 3\).*\(5, 3\)"):
        model.load_weights(tmp_path / "w.weights.h5")
    for a, b in zip(model.get_weights(), before):  # nothing half-loaded
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match=r"residual\.weights\.h5.*"):
        tutorial_cnn().load_weights(path("residual.weights.h5"))


def test_model_from_json_reads_keras_json():
    with zipfile.ZipFile(path("residual.keras")) as zf:
        text = zf.read("config.json").decode()
    model = minicnn.models.model_from_json(text)
    assert [type(l).__name__ for l in model.layers] == \
        [e["class_name"].replace("Functional", "Model") for e in json.loads(text)["config"]["layers"]]


def test_lambda_by_name_comes_from_custom_objects(tmp_path):
    if not hasattr(L, "Lambda"):
        pytest.skip("minicnn.layers.Lambda is not in this checkout")
    from minicnn import ops

    def double(t):
        return ops.multiply(t, 2.0)
    x = minicnn.Input((3,))
    model = minicnn.Model(x, L.Lambda(double)(L.Dense(2)(x)))
    model.save(tmp_path / "lam.keras")
    with pytest.raises(ValueError, match=r"lam\.keras.*'double', which is not in custom_objects"):
        load_model(tmp_path / "lam.keras")
    again = load_model(tmp_path / "lam.keras", custom_objects={"double": double})
    x = np.ones((2, 3), np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
