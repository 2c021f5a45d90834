"""What Keras programs beyond the classic tutorials use: `import minicnn as keras` module paths,
sample and class weights, freezing layers, a model inside a model, pop and get_layer."""
import subprocess
import sys

import numpy as np
import pytest

import minicnn as keras
from minicnn import Sequential
from minicnn.layers import Dense, Softmax
from minicnn.optimizers import SGD
from minicnn.utils import set_random_seed


def data(n=24, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 4))
    labels = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    return x, np.eye(3)[labels], labels


def mlp(**compile_args):
    set_random_seed(2)
    m = Sequential([Dense(5, activation="tanh", input_dim=4, dtype="float64"),
                    Dense(3, activation="softmax", dtype="float64")])
    m.compile(**{"optimizer": SGD(0.5), "loss": "categorical_crossentropy", "metrics": ["accuracy"],
                 **compile_args})
    return m


def test_module_paths_of_import_keras():
    for name in ("Sequential", "Input", "layers", "models", "optimizers", "losses", "metrics", "callbacks",
                 "utils", "datasets", "preprocessing", "regularizers", "backend", "activations"):
        assert hasattr(keras, name), name
    assert keras.datasets.mnist.load_data and keras.preprocessing.image.ImageDataGenerator
    assert keras.backend.image_data_format() == "channels_last" and keras.backend.image_dim_ordering() == "tf"
    # importing minicnn itself does not import the lazily loaded modules
    code = "import sys, minicnn; print(sorted(m for m in ('minicnn.preprocessing', 'minicnn.datasets') if m in sys.modules))"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout.strip() == "[]"


def test_sample_and_class_weights_follow_keras_rules():
    # One SGD step with weights equals one step on the weighted loss written out by hand.
    x, y, labels = data()
    w = np.linspace(0.5, 2.0, len(x))
    class_weight = {0: 1.0, 1: 3.0, 2: 0.5}
    combined = w * np.array([class_weight[c] for c in labels])
    weighted = mlp()
    history = weighted.fit(x, y, batch_size=len(x), epochs=1, shuffle=False, verbose=0, sample_weight=w,
                           class_weight=class_weight)
    reference = mlp()
    W1, b1, W2, b2 = reference.get_weights()
    h = np.tanh(x @ W1 + b1)
    z = h @ W2 + b2
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    per_sample = -(y * np.log(p)).sum(1)
    dz = (p - y) * combined[:, None] / len(x)  # d/dz of mean(weight * loss)
    dW2, db2 = h.T @ dz, dz.sum(0)
    dh = dz @ W2.T * (1 - h ** 2)
    dW1, db1 = x.T @ dh, dh.sum(0)
    for got, w0, g in zip(weighted.get_weights(), (W1, b1, W2, b2), (dW1, db1, dW2, db2)):
        np.testing.assert_allclose(got, w0 - 0.5 * g, rtol=1e-10, atol=1e-12)
    # Keras: the loss is the mean of the weighted losses; a metric, the weighted mean of its values.
    np.testing.assert_allclose(history.history["loss"][0], (per_sample * combined).mean(), rtol=1e-10)
    correct = (p.argmax(1) == labels)
    np.testing.assert_allclose(history.history["accuracy"][0], (correct * combined).sum() / combined.sum())
    loss, acc = weighted.evaluate(x, y, sample_weight=w, verbose=0)
    assert np.isfinite(loss) and 0 <= acc <= 1
    with pytest.raises(ValueError, match="one weight per sample"):
        weighted.fit(x, y, sample_weight=w[:3], verbose=0)
    with pytest.raises(ValueError, match="class\\(es\\) \\[2\\]"):
        weighted.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_frozen_layers_count_as_non_trainable_and_keep_their_weights(capsys):
    x, y, _ = data()
    m = mlp()
    m.layers[0].trainable = False
    m.compile(SGD(0.5), "categorical_crossentropy")
    m.summary()
    out = capsys.readouterr().out
    assert "Trainable params: 18" in out and "Non-trainable params: 25" in out
    frozen = [w.copy() for w in m.layers[0].get_weights()]
    m.fit(x, y, epochs=2, verbose=0)
    assert all(np.array_equal(a, b) for a, b in zip(frozen, m.layers[0].get_weights()))
    assert len(m.optimizer.get_state()) == 1  # SGD without momentum: no slots, for the 2 trainable arrays
    m.layers[0].trainable = True  # without recompiling: refused, with the fix named
    with pytest.raises(RuntimeError, match="compile\\(...\\) again"):
        m.train_on_batch(x, y)
    m.compile(SGD(0.5), "categorical_crossentropy")
    m.train_on_batch(x, y)
    assert not np.array_equal(frozen[0], m.layers[0].get_weights()[0])


def test_a_model_inside_a_model_shares_its_weights():
    # The beginners' quickstart: logits model, then keras.Sequential([model, keras.layers.Softmax()]).
    x, y, labels = data()
    set_random_seed(3)
    logits = Sequential([Dense(6, activation="relu", input_dim=4), Dense(3)])
    logits.compile("adam", keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    logits.fit(x, labels, epochs=3, verbose=0)
    probability = Sequential([logits, Softmax()])
    z = logits.predict(x)
    p = np.exp(z - z.max(1, keepdims=True))
    np.testing.assert_allclose(probability.predict(x), p / p.sum(1, keepdims=True), rtol=1e-5)
    assert probability.layers[0] is logits.layers[0]
    logits.fit(x, labels, epochs=1, verbose=0)  # training the inner model changes the outer one
    np.testing.assert_array_equal(probability.layers[1].get_weights()[0], logits.layers[1].get_weights()[0])


def test_pop_and_get_layer():
    m = mlp()
    assert m.get_layer(m.layers[1].name) is m.layers[1] and m.get_layer(index=0) is m.layers[0]
    last = m.pop()
    assert last.units == 3 and len(m.layers) == 1 and m.output_shape == (None, 5)
    with pytest.raises(ValueError, match="No such layer"):
        m.get_layer("nope")
    with pytest.raises(ValueError, match="a name or an index"):
        m.get_layer()
    m.pop()
    with pytest.raises(TypeError, match="no layers"):
        m.pop()
