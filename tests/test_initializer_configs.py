"""Initialisers given as Keras's serialised objects (minicnn.initializers.get and serialize), and a
layer of one's own that keeps one in its config, through Keras files.

The references: the objects Keras 3.15 writes (keras.initializers.serialize, copied from its output),
the plain minicnn initialisers drawn from the same seed, and antirectifier.keras, written by Keras
(tests/data/keras_files/make_files.py) with what it predicted.
"""
import json
import os
import zipfile

import numpy as np
import pytest

import minicnn
from minicnn import initializers, layers as L, ops, random as mrandom

DATA = os.path.join(os.path.dirname(__file__), "data", "keras_files")

# What keras.initializers.serialize gives in Keras 3.15.
KERAS3_HE_NORMAL = {"module": "keras.initializers", "class_name": "HeNormal",
                    "config": {"seed": None, "input_axes": None, "output_axes": None}, "registered_name": None}
KERAS3_RANDOM_NORMAL = {"module": "keras.initializers", "class_name": "RandomNormal",
                        "config": {"seed": None, "mean": 1.0, "stddev": 0.5}, "registered_name": None}
KERAS3_CONSTANT = {"module": "keras.initializers", "class_name": "Constant", "config": {"value": 0.5},
                   "registered_name": None}


def _draw(init, shape=(40, 30)):
    mrandom.set_seed(3)
    return np.asarray(init(shape))


def test_keras_objects_give_minicnns_initializers():
    assert initializers.get(KERAS3_HE_NORMAL) is initializers.he_normal
    assert initializers.get({"class_name": "GlorotUniform", "config": {"seed": 7}}) is initializers.glorot_uniform
    np.testing.assert_array_equal(_draw(initializers.get(KERAS3_RANDOM_NORMAL)),
                                  _draw(lambda s: initializers.random_normal(s, mean=1.0, stddev=0.5)))
    uniform = initializers.get({"class_name": "RandomUniform", "config": {"minval": 2.0, "maxval": 3.0}})
    drawn = _draw(uniform)
    assert drawn.min() >= 2.0 and drawn.max() <= 3.0
    np.testing.assert_array_equal(initializers.get(KERAS3_CONSTANT)((2, 3)), np.full((2, 3), 0.5, np.float32))


def test_serialize_gives_back_what_get_takes():
    for obj in (KERAS3_RANDOM_NORMAL, KERAS3_CONSTANT, KERAS3_HE_NORMAL):
        init = initializers.get(obj)
        again = initializers.get(initializers.serialize(init))
        np.testing.assert_array_equal(_draw(again), _draw(init))
    assert initializers.serialize(initializers.Constant(2)) == {"class_name": "Constant", "config": {"value": 2.0}}
    assert initializers.serialize(initializers.get(KERAS3_HE_NORMAL)) == "he_normal"


@pytest.mark.parametrize("obj,words", [
    ({"class_name": "Orthogonal", "config": {"gain": 1.0}}, r"Unknown initializer class 'Orthogonal'.*HeNormal"),
    ({"class_name": "HeNormal", "config": {"scale": 2.0}}, r"HeNormal takes no arguments.*\['scale'\]"),
    ({"class_name": "HeNormal", "config": {"input_axes": [0]}}, r"HeNormal.*input_axes"),
    ({"class_name": "Constant", "config": {"value": 1, "shape": 3}}, r"Constant takes value only.*shape"),
])
def test_what_minicnn_lacks_is_named(obj, words):
    with pytest.raises(ValueError, match=words):
        initializers.get(obj)


class Antirectifier(L.Layer):
    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = minicnn.initializers.get(initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1] * 2, input_shape[-1]), initializer=self.initializer,
                                      name="kernel")

    def call(self, x):
        x = x - ops.mean(x, axis=-1, keepdims=True)
        return ops.matmul(ops.concatenate([ops.relu(x), ops.relu(-x)], axis=-1), self.kernel)

    def get_config(self):
        return {**super().get_config(), "initializer": minicnn.initializers.serialize(self.initializer)}


def test_keras_written_antirectifier_loads():
    pytest.importorskip("h5py")
    expected = np.load(os.path.join(DATA, "custom_expected.npz"))
    model = minicnn.models.load_model(os.path.join(DATA, "antirectifier.keras"),
                                      custom_objects={"Antirectifier": Antirectifier})
    assert model.layers[1].initializer is initializers.he_normal
    x = expected["x"].reshape(16, -1)[:, :6]
    np.testing.assert_allclose(model.predict(x, verbose=0), expected["antirectifier_predict"], atol=1e-5)


@pytest.mark.parametrize("suffix", [".keras", ".h5", ".npz"])
def test_a_constant_initialised_weight_saves(tmp_path, suffix):
    if suffix != ".npz":
        pytest.importorskip("h5py")
    model = minicnn.Sequential([minicnn.Input((3,)), Antirectifier(initializer=initializers.Constant(0.5)),
                                L.Dense(2)])
    model.save(tmp_path / f"a{suffix}")
    if suffix == ".keras":
        with zipfile.ZipFile(tmp_path / "a.keras") as zf:
            entry = json.loads(zf.read("config.json"))["config"]["layers"][1]
        assert entry["config"]["initializer"] == KERAS3_CONSTANT  # as Keras itself writes it
    again = minicnn.models.load_model(tmp_path / f"a{suffix}", custom_objects={"Antirectifier": Antirectifier})
    assert again.layers[0].initializer == initializers.Constant(0.5)
    x = np.random.default_rng(0).random((4, 3), dtype=np.float32)
    np.testing.assert_array_equal(again.predict(x, verbose=0), model.predict(x, verbose=0))
