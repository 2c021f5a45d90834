"""keras.ops on symbolic tensors (minicnn/ops/symbolic.py): each op a node of the graph, as in Keras 3's
functional models, checked against the same ops run eagerly, against central differences, and
through saving; and a subclassed model whose call uses ops is traced into such a graph."""
import json

import numpy as np
import pytest

import minicnn as keras
from minicnn import layers, ops, subclassing
from minicnn.ops.symbolic import OpLayer


def op_graph(dtype="float32"):
    """Conv2D, then ops (relu, *, +, split, negative, concatenate, slicing, mean), then Dense."""
    inputs = keras.Input(shape=(6, 6, 1), dtype=dtype)
    conv = layers.Conv2D(4, 3, dtype=dtype)
    x = conv(inputs)
    x = ops.relu(x) * 0.5 + 1.0
    a, b = ops.split(x, 2, axis=-1)
    x = ops.concatenate([a, -b], axis=-1)[..., :3]
    x = x + ops.mean(x, axis=(1, 2), keepdims=True)
    dense = layers.Dense(2, dtype=dtype)
    return keras.Model(inputs, dense(layers.Flatten(dtype=dtype)(x))), conv, dense


def eager(x, conv, dense):
    """The same computation with the ops called on arrays (no graph)."""
    h = conv(x)
    h = ops.relu(h) * 0.5 + 1.0
    a, b = ops.split(h, 2, axis=-1)
    h = ops.concatenate([a, -b], axis=-1)[..., :3]
    h = h + ops.mean(h, axis=(1, 2), keepdims=True)
    return dense(h.reshape(len(h), -1))


def test_ops_on_symbolic_tensors_make_nodes_that_compute_as_the_ops_do():
    model, conv, dense = op_graph()
    kinds = [type(layer).__name__ for layer in model.layers]
    assert kinds.count("OpLayer") == 9
    assert [layer.name for layer in model.layers if isinstance(layer, OpLayer)][:3] == ["relu", "multiply", "add"]
    x = np.random.default_rng(0).random((5, 6, 6, 1), dtype=np.float32)
    np.testing.assert_allclose(model.predict(x), eager(x, conv, dense), rtol=1e-6, atol=1e-6)
    assert model.output_shape == (None, 2) and model.predict(x).dtype == np.float32


def test_the_graph_with_ops_gives_the_numerical_gradient():
    model, _, _ = op_graph("float64")
    rng = np.random.default_rng(1)
    x, dy = rng.random((3, 6, 6, 1)), rng.standard_normal((3, 2))
    with keras.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=True)
    grads = tape.gradient(out, [x] + model.trainable_weights, output_gradients=dy)

    def f():
        return float((model.predict(x) * dy).sum())
    for target, grad in zip([x] + model.trainable_weights, grads):
        flat, g = target.reshape(-1), grad.numpy().reshape(-1)
        for i in rng.choice(flat.size, size=min(6, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + 1e-6
            up = f()
            flat[i] = old - 1e-6
            down = f()
            flat[i] = old
            assert g[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


def test_a_graph_with_ops_trains_saves_and_loads(tmp_path):
    model, _, _ = op_graph()
    model.compile("adam", "mse")
    rng = np.random.default_rng(2)
    x, y = rng.random((16, 6, 6, 1), dtype=np.float32), rng.random((16, 2), dtype=np.float32)
    losses = model.fit(x, y, epochs=3, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    model.save(tmp_path / "ops.npz")
    again = keras.models.load_model(tmp_path / "ops.npz")
    np.testing.assert_array_equal(again.predict(x), model.predict(x))
    config = json.loads(model.to_json())["config"]["layers"]
    getitem = next(e for e in config if e["config"].get("op") == "getitem")
    assert getitem["config"]["arguments"][1] == {"__tuple__": [{"__ellipsis__": True},
                                                              {"__slice__": [None, 3, None]}]}


def test_a_config_can_name_only_ops_and_an_argument_must_be_data():
    model, _, _ = op_graph()
    config = json.loads(model.to_json())
    entry = next(e for e in config["config"]["layers"] if e["class_name"] == "OpLayer")
    for name in ("__import__", "eval", "_arrays", "GradientTape", "no_such_op"):
        entry["config"]["op"] = name
        with pytest.raises(ValueError, match="is not an op of minicnn.ops"):
            keras.models.model_from_json(json.dumps(config))
    with pytest.raises(TypeError, match="cannot be part of a model's graph"):
        ops.where(keras.Input(shape=(3,)) > 0, keras.Input(shape=(3,)), lambda: 0)


def test_a_subclassed_model_with_ops_in_call_is_traced_and_trains_as_its_functional_twin():
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv, self.flat, self.dense = layers.Conv2D(3, 3), layers.Flatten(), layers.Dense(2)

        def call(self, x):
            return self.dense(self.flat(ops.relu(self.conv(x)) * 2.0))

    net = Net()
    rng = np.random.default_rng(3)
    x, y = rng.random((8, 5, 5, 1), dtype=np.float32), rng.random((8, 2), dtype=np.float32)
    net(x)
    assert subclassing.traced(net)
    inputs = keras.Input(shape=(5, 5, 1))
    twin = keras.Model(inputs, layers.Dense(2)(layers.Flatten()(ops.relu(layers.Conv2D(3, 3)(inputs)) * 2.0)))
    twin.set_weights(net.get_weights())
    for m in (net, twin):
        m.compile("sgd", "mse")
    assert net.fit(x, y, epochs=2, verbose=0, shuffle=False).history == \
        twin.fit(x, y, epochs=2, verbose=0, shuffle=False).history


def test_shapes_and_dtypes_of_symbolic_tensors_are_answered_at_once():
    t = keras.Input(shape=(4, 5))
    assert ops.shape(t) == (None, 4, 5) and ops.dtype(t) == "float32"
    assert keras.backend.int_shape(ops.sum(t, axis=1)) == (None, 5)


def test_an_op_node_without_an_onnx_form_is_refused_by_name(tmp_path):
    """split and slicing have no ONNX form in minicnn (tests/test_onnx_export.py exports the others)."""
    pytest.importorskip("onnx")
    model, _, _ = op_graph()
    with pytest.raises(ValueError, match=r"ops\.split"):
        model.export(tmp_path / "m.onnx", format="onnx")
