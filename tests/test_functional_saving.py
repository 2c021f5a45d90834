"""Saving graph models: save/load_model, get_config/from_config, to_json/model_from_json and
save_weights/load_weights round trips with shared layers and nested models; layers of one's own
through custom_objects and register_keras_serializable; clear errors for unknown or broken graphs."""
import json
import sys

import numpy as np
import pytest

import minicnn as keras
from minicnn.layers import Dense, Layer
from minicnn.models import load_model, model_from_json

sys.path.insert(0, __file__.rsplit("/", 1)[0])
from test_functional import nested_model, residual_model, shared_two_output_model  # noqa: E402


def data():
    rng = np.random.default_rng(0)
    return [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))], [np.eye(3)[[0, 1, 2] * 2], rng.random((6, 2))]


@pytest.mark.parametrize("make", [residual_model, shared_two_output_model, nested_model])
def test_save_and_load_model_round_trip(tmp_path, make):
    model = make()
    shape = [t.sample_shape for t in model.inputs]
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((4, *s)) for s in shape]
    losses = ["categorical_crossentropy", "mse"][:len(model.outputs)]
    model.compile("adam", losses if len(losses) > 1 else losses[0], metrics=["mae"])
    ys = [rng.random((4, *t.sample_shape)) for t in model.outputs]
    model.train_on_batch(xs, ys)  # optimizer slots and moving statistics that must come back
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert type(again) is type(model) and [l.name for l in again.layers] == [l.name for l in model.layers]
    for a, b in zip(model.get_weights(), again.get_weights()):
        np.testing.assert_array_equal(a, b)
    before, after = model.predict(xs), again.predict(xs)
    for a, b in zip(before if isinstance(before, list) else [before], after if isinstance(after, list) else [after]):
        np.testing.assert_array_equal(a, b)
    assert again.metrics_names == model.metrics_names
    # The same next step: optimizer state and every weight (a shared one once) came back in order.
    np.testing.assert_allclose(again.train_on_batch(xs, ys), model.train_on_batch(xs, ys), rtol=1e-12)


def test_shared_layer_stays_shared_after_from_config():
    model = shared_two_output_model()
    again = keras.Model.from_config(model.get_config())
    shared = again.get_layer("shared")
    assert len(shared._inbound_nodes) == 4  # its four calls, one layer
    assert len(again.weights) == len(model.weights)


def test_to_json_and_model_from_json():
    model = nested_model()
    text = model.to_json()
    again = model_from_json(text)
    assert json.loads(again.to_json())["config"]["layers"][1]["class_name"] == "Functional"
    assert again.count_params() == model.count_params()
    again.set_weights(model.get_weights())
    x = np.random.default_rng(2).standard_normal((3, 4))
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    with pytest.raises(ValueError, match="not valid JSON"):
        model_from_json("{oops")


def test_save_weights_and_load_weights_on_a_graph(tmp_path):
    model = shared_two_output_model()
    model.save_weights(tmp_path / "w.npz")
    other = shared_two_output_model()  # same architecture, other weights
    other.load_weights(tmp_path / "w.npz")
    for a, b in zip(model.get_weights(), other.get_weights()):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="holds weights of a model with layers"):
        residual_model().load_weights(tmp_path / "w.npz")


class Scale(Layer):
    """A layer of one's own: y = x * factor."""

    def __init__(self, factor=2.0, **kwargs):
        super().__init__(**kwargs)
        self.factor = factor

    def forward(self, x, training=False):
        return x * self.factor, None

    def backward(self, dy, cache):
        return dy * self.factor, {}

    def get_config(self):
        return {**super().get_config(), "factor": self.factor}


def scaled_model(cls):
    inputs = keras.Input(shape=(3,))
    return keras.Model(inputs, Dense(2)(cls(3.0)(inputs)))


def test_a_custom_layer_loads_with_custom_objects(tmp_path):
    model = scaled_model(Scale)
    model.save(tmp_path / "c.npz")
    with pytest.raises(ValueError, match=r"Unknown layer class 'Scale'.*custom_objects"):
        load_model(tmp_path / "c.npz")
    again = load_model(tmp_path / "c.npz", custom_objects={"Scale": Scale})
    x = np.ones((2, 3), dtype="float32")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    assert again.layers[1].factor == 3.0


def test_a_registered_custom_layer_loads_by_itself(tmp_path):
    @keras.saving.register_keras_serializable(package="tests")
    class Twice(Scale):
        pass
    model = scaled_model(Twice)
    model.save(tmp_path / "r.npz")
    again = load_model(tmp_path / "r.npz")
    assert type(again.layers[1]) is Twice
    assert keras.utils.get_registered_name(Twice) == "tests>Twice"


def test_a_graph_config_that_cannot_be_rebuilt_is_refused():
    config = residual_model().get_config()
    broken = {**config, "layers": [l for l in config["layers"] if l["class_name"] != "Add"]}
    with pytest.raises(ValueError, match="cannot be rebuilt"):
        keras.Model.from_config(broken)
