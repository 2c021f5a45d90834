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


def test_load_model_takes_keras_safe_mode_and_still_never_runs_code():
    with pytest.raises(ValueError, match=r"lambda\.keras.*bytecode.*safe_mode=False does not.*custom_objects"):
        load_model(path("lambda.keras"), safe_mode=False)
    model = load_model(path("cnn.keras"), safe_mode=True)
    np.testing.assert_allclose(model.predict(X, verbose=0), EXPECTED["cnn_predict"], atol=1e-5)


# -- layers of one's own with sublayers, losses of one's own, subclassed models -----------------
# The same classes as tests/data/keras_files/make_files.py defines with Keras; Keras wrote
# custom.keras, custom.h5, subclassed.weights.h5 and what its models computed (custom_expected.npz).

CUSTOM = np.load(os.path.join(DATA, "custom_expected.npz"))


@minicnn.saving.register_keras_serializable(package="minicnn_tests")
class ResBlock(L.Layer):
    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = L.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn = L.BatchNormalization()

    def build(self, input_shape):
        self.shift = self.add_weight(shape=(self.filters,), initializer=minicnn.initializers.Constant(0.1),
                                     trainable=False, name="shift")
        self.gain = self.add_weight(shape=(self.filters,), initializer="ones", name="gain")

    def call(self, x, training=None):
        h = self.bn(self.conv(x), training=training)
        return minicnn.ops.relu(h * self.gain + self.shift + x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def squared_error(y_true, y_pred):
    return minicnn.ops.mean(minicnn.ops.square(y_true - y_pred), axis=-1)


def custom_model():
    return minicnn.Sequential([minicnn.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same"), ResBlock(4),
                               L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")], name="custom")


class MLPBlock(L.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear_1 = L.Dense(8)
        self.linear_2 = L.Dense(4)

    def call(self, x):
        return self.linear_2(minicnn.ops.relu(self.linear_1(x)))


class Subclassed(minicnn.Model):
    def __init__(self, on_tape=False):
        super().__init__()
        self.block = MLPBlock()
        self.extra = [L.Dense(4, activation="relu")]
        self.out = L.Dense(3)
        self.on_tape = on_tape

    def call(self, x):
        if self.on_tape:
            int(x.shape[0])  # Python on the batch size, which no trace can follow: call runs on the tape
        return self.out(self.extra[0](self.block(x)))


@pytest.mark.parametrize("name", ["custom.keras", "custom.h5"])
def test_keras_written_custom_layer_with_sublayers_and_own_loss(name):
    """ResBlock's own weights and its sublayers' (Keras 3: layers/res_block/conv, .../bn) reach the
    model; the loss function of one's own comes from custom_objects; the legacy file names the
    registered class "minicnn_tests>ResBlock"."""
    weights_only = load_model(path(name), compile=False)
    np.testing.assert_allclose(weights_only.predict(CUSTOM["x"], verbose=0), CUSTOM["custom_predict"], atol=1e-5)
    with pytest.raises(ValueError, match=rf"{name}.*squared_error.*custom_objects"):
        load_model(path(name))
    model = load_model(path(name), custom_objects={"squared_error": squared_error})
    assert type(model.layers[1]) is ResBlock
    np.testing.assert_allclose(model.predict(CUSTOM["x"], verbose=0), CUSTOM["custom_predict"], atol=1e-5)
    np.testing.assert_allclose(model.evaluate(CUSTOM["x"], CUSTOM["y"], verbose=0), CUSTOM["custom_evaluate"],
                               atol=1e-5)


@pytest.mark.parametrize("suffix", [".keras", ".weights.h5", ".h5"])
def test_custom_layer_with_sublayers_written_as_keras_writes_it(tmp_path, suffix):
    model = custom_model()
    model.compile(optimizer=minicnn.optimizers.Adam(1e-2), loss=squared_error, metrics=["accuracy"])
    model.fit(CUSTOM["x"], CUSTOM["y"], batch_size=8, epochs=1, verbose=0)
    target = tmp_path / f"c{suffix}"
    if suffix == ".weights.h5":
        model.save_weights(target)
        assert _h5_layout(str(target)) == _h5_layout(_archive(path("custom.keras"))[1])
        again = custom_model()
        again.load_weights(target)
    else:
        model.save(target)
        if suffix == ".keras":
            assert _h5_layout(_archive(target)[1]) == _h5_layout(_archive(path("custom.keras"))[1])
        else:
            with h5py.File(target, "r") as f:
                assert json.loads(f.attrs["model_config"])["config"]["layers"][2]["class_name"] == \
                    "minicnn_tests>ResBlock"  # what Keras's legacy loader looks registered classes up by
        again = load_model(target, custom_objects={"squared_error": squared_error})
        assert again.evaluate(CUSTOM["x"], CUSTOM["y"], verbose=0) == \
            pytest.approx(model.evaluate(CUSTOM["x"], CUSTOM["y"], verbose=0), abs=1e-6)
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert again.layers[1].params["shift"][0] == pytest.approx(0.1)  # the non-trainable weight, not the gain


def test_weights_of_a_sublayer_missing_from_the_file_are_an_error(tmp_path):
    shutil.copy(path("custom.keras"), tmp_path / "c.keras")
    with zipfile.ZipFile(path("custom.keras")) as zf:
        data = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(data, "a") as f:
        del f["layers/res_block/bn"]
    with h5py.File(tmp_path / "c.weights.h5", "w") as out, h5py.File(data, "r") as f:
        for key in f:
            f.copy(key, out)
    model = custom_model()
    before = model.get_weights()
    with pytest.raises(ValueError, match=r"c\.weights\.h5.*no weights for layer 'batch_normalization\w*'.*"
                                         r"layers/res_block/bn/vars"):
        model.load_weights(tmp_path / "c.weights.h5")
    for a, b in zip(model.get_weights(), before):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("on_tape", [False, True])
def test_subclassed_model_weights_both_ways(tmp_path, on_tape):
    """Keras's file of a subclassed model (weights under attribute names: block/linear_1, extra/dense,
    layers/dense_1) loads; minicnn writes the same layout and reads it back exactly."""
    from minicnn import subclassing
    flat = CUSTOM["x"].reshape(16, -1)
    model = Subclassed(on_tape)
    model(flat[:1])
    assert subclassing.traced(model) is not on_tape
    model.load_weights(path("subclassed.weights.h5"))
    np.testing.assert_allclose(model.predict(flat, verbose=0), CUSTOM["subclassed_predict"], atol=1e-5)
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(flat, CUSTOM["y"], epochs=1, verbose=0)
    model.save_weights(tmp_path / "s.weights.h5")
    assert _h5_layout(str(tmp_path / "s.weights.h5")) == _h5_layout(path("subclassed.weights.h5"))
    again = Subclassed(on_tape)
    again(flat[:1])
    again.load_weights(tmp_path / "s.weights.h5")
    for a, b in zip(again.get_weights(), model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)


# -- files that point outside themselves ---------------------------------------------------------

def _swap_dataset(file, name, make):
    """Replace the dataset ``name`` of the open HDF5 ``file`` by ``make(group, leaf name, shape)``."""
    group, leaf = file[name].parent, name.rsplit("/", 1)[-1]
    shape = file[name].shape
    del group[leaf]
    make(group, leaf, shape)


def _secret(tmp_path):
    np.full(16, 42.0, np.float32).tofile(tmp_path / "secret.bin")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["x"] = np.full(3, 42.0, np.float32)
    return str(tmp_path / "secret.bin"), str(tmp_path / "other.h5")


def test_links_and_external_storage_are_refused(tmp_path):
    """A legacy file whose bias (or optimizer variable) is a link to another file or path, or keeps its
    bytes in another file, is refused by load_model and load_weights, naming the file and the link."""
    secret, other = _secret(tmp_path)
    bias, moment = "model_weights/dense_2/bn/dense_2/bias", "optimizer_weights/adam_1/bn_dense_2_bias_momentum"

    def stored(g, n, s):
        g.create_dataset(n, shape=s, dtype="float32", external=[(secret, 0, 4 * int(np.prod(s)))])
    hostile = [
        ("ext.h5", bias, lambda g, n, s: g.__setitem__(n, h5py.ExternalLink(other, "/x")),
         r"ext\.h5.*dense_2/bias is a link \(ExternalLink\) to '.*other\.h5'"),
        ("soft.h5", bias, lambda g, n, s: g.__setitem__(n, h5py.SoftLink("/model_weights/dense_2/bn/dense_2/kernel")),
         r"soft\.h5.*dense_2/bias is a link \(SoftLink\)"),
        ("stored.h5", bias, stored, r"stored\.h5.*dense_2/bias keeps its data in other files \(\['.*secret\.bin'\]\)"),
        ("opt.h5", moment, stored, r"opt\.h5.*bias_momentum keeps its data in other files.*external storage"),
    ]
    for name, target, make, words in hostile:
        shutil.copy(path("bn.h5"), tmp_path / name)
        with h5py.File(tmp_path / name, "a") as f:
            _swap_dataset(f, target, make)
        with pytest.raises(ValueError, match=words):
            load_model(tmp_path / name)
        with pytest.raises(ValueError, match=words):
            bn_model().load_weights(tmp_path / name)


def test_keras3_weights_with_a_link_are_refused(tmp_path):
    secret, other = _secret(tmp_path)
    shutil.copy(path("residual.weights.h5"), tmp_path / "r.weights.h5")
    with h5py.File(tmp_path / "r.weights.h5", "a") as f:
        _swap_dataset(f, "layers/dense/vars/1", lambda g, n, s: g.__setitem__(n, h5py.ExternalLink(other, "/x")))
    model = load_model(path("residual.keras"), compile=False)
    with pytest.raises(ValueError, match=r"r\.weights\.h5.*layers/dense/vars/1 is a link \(ExternalLink\)"):
        model.load_weights(tmp_path / "r.weights.h5")
    # the same inside a .keras archive
    with zipfile.ZipFile(path("residual.keras")) as zf:
        data = io.BytesIO(zf.read("model.weights.h5"))
    with h5py.File(data, "a") as f:
        _swap_dataset(f, "layers/dense/vars/1", lambda g, n, s: g.create_dataset(
            n, shape=s, dtype="float32", external=[(secret, 0, 12)]))
    with zipfile.ZipFile(path("residual.keras")) as zin, zipfile.ZipFile(tmp_path / "r.keras", "w") as zout:
        for n in zin.namelist():
            zout.writestr(n, data.getvalue() if n == "model.weights.h5" else zin.read(n))
    with pytest.raises(ValueError, match=r"r\.keras.*layers/dense/vars/1 keeps its data in other files"):
        load_model(tmp_path / "r.keras")
