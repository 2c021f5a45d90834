"""Loss objects for compile: names, classes and lowercase objects as Keras spells them; training on
logits against training on probabilities; the planner's softmax fusion only for probabilities;
configs through get/serialize and through model.save."""
import numpy as np
import pytest

from minicnn import losses
from minicnn.layers import Dense
from minicnn.models import Sequential, load_model
from minicnn.ops import losses as ops, regression_losses as reg
from minicnn.optimizers import SGD, Adam
from minicnn.plan import make_plan
from minicnn.utils import set_random_seed


@pytest.mark.parametrize("name, cls", [
    ("categorical_crossentropy", losses.CategoricalCrossentropy),
    ("sparse_categorical_crossentropy", losses.SparseCategoricalCrossentropy),
    ("binary_crossentropy", losses.BinaryCrossentropy),
    ("mse", losses.MeanSquaredError), ("MSE", losses.MeanSquaredError),
    ("mae", losses.MeanAbsoluteError), ("MAE", losses.MeanAbsoluteError),
    ("mean_absolute_error", losses.MeanAbsoluteError),
    ("mape", losses.MeanAbsolutePercentageError), ("MAPE", losses.MeanAbsolutePercentageError),
    ("mean_absolute_percentage_error", losses.MeanAbsolutePercentageError),
    ("huber", losses.Huber), ("kld", losses.KLDivergence), ("KLD", losses.KLDivergence),
    ("kl_divergence", losses.KLDivergence), ("kullback_leibler_divergence", losses.KLDivergence),
])
def test_names_resolve_as_in_keras(name, cls):
    loss = losses.get(name)
    assert type(loss) is cls and loss.name == name
    assert losses.serialize(loss) == name and type(losses.get(losses.serialize(loss))) is cls


def test_lowercase_objects_compute_their_ops():
    y, p = np.array([[0.0, 2.0]]), np.array([[0.5, 1.0]])
    for obj, fn in [(losses.mae, reg.mean_absolute_error), (losses.mean_absolute_percentage_error,
                                                           reg.mean_absolute_percentage_error),
                    (losses.huber, reg.huber), (losses.kld, reg.kl_divergence), (losses.MSE, ops.mean_squared_error)]:
        assert isinstance(obj, losses.Loss)
        assert float(obj(y, p)[0]) == float(fn(y, p)[0])
    assert float(losses.Huber(delta=0.25)(y, p)[0]) == float(reg.huber(y, p, delta=0.25)[0])
    assert float(losses.BinaryCrossentropy(from_logits=True)(y, p)[0]) == \
        float(ops.binary_crossentropy_from_logits(y, p)[0])


@pytest.mark.parametrize("loss", [
    losses.CategoricalCrossentropy(from_logits=True), losses.SparseCategoricalCrossentropy(from_logits=True),
    losses.BinaryCrossentropy(from_logits=True), losses.Huber(delta=2.0),
])
def test_configs_survive_serialize_and_get(loss):
    config = losses.serialize(loss)
    assert config == {"class_name": type(loss).__name__, "config": loss.get_config()}
    again = losses.get(config)
    assert type(again) is type(loss) and again.get_config() == loss.get_config() and again.name == loss.name


@pytest.mark.parametrize("make, match, error", [
    (lambda: losses.CategoricalCrossentropy(from_logits="yes"), "from_logits must be True or False", TypeError),
    (lambda: losses.BinaryCrossentropy(from_logits=1), "from_logits", TypeError),
    (lambda: losses.Huber(delta=0), "delta must be a positive number", ValueError),
    (lambda: losses.Huber(delta="1"), "delta", ValueError),
    (lambda: losses.get("hubber"), r"Unknown loss 'hubber'.*'huber'", ValueError),
    (lambda: losses.get({"class_name": "Hubber"}), "Unknown loss class_name 'Hubber'", ValueError),
    (lambda: losses.get(3), "MeanAbsoluteError()", TypeError),
])
def test_bad_arguments_name_the_fix(make, match, error):
    with pytest.raises(error, match=match):
        make()


def _dense(units, activation, seed=0):
    set_random_seed(seed)
    return Sequential([Dense(8, activation="tanh", input_shape=(5,), dtype="float64"),
                       Dense(units, activation=activation, dtype="float64")])


def test_softmax_fusion_only_for_crossentropy_on_probabilities():
    softmax_out, linear_out = _dense(4, "softmax")._model_graph(), _dense(4, None)._model_graph()
    assert make_plan(softmax_out, [losses.get("categorical_crossentropy")]).softmax_loss == [True]
    assert make_plan(softmax_out, [losses.SparseCategoricalCrossentropy()]).softmax_loss == [True]
    for loss in [losses.CategoricalCrossentropy(from_logits=True),
                 losses.SparseCategoricalCrossentropy(from_logits=True), losses.mae]:
        assert make_plan(softmax_out, [loss]).softmax_loss == [False]
        assert make_plan(linear_out, [loss]).softmax_loss == [False]


@pytest.mark.parametrize("on_logits, on_probabilities, sparse", [
    (losses.CategoricalCrossentropy(from_logits=True), "categorical_crossentropy", False),
    (losses.SparseCategoricalCrossentropy(from_logits=True), "sparse_categorical_crossentropy", True),
    (losses.BinaryCrossentropy(from_logits=True), "binary_crossentropy", False),
])
def test_training_on_logits_follows_training_on_probabilities(on_logits, on_probabilities, sparse):
    # The same network, its last activation moved into the loss: the same steps (float64).
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 5))
    binary = on_probabilities == "binary_crossentropy"
    labels = rng.integers(0, 4, 40)
    y = (rng.random((40, 4)) > 0.5).astype(float) if binary else labels if sparse else np.eye(4)[labels]
    a, b = _dense(4, None), _dense(4, "sigmoid" if binary else "softmax")
    a.compile(SGD(0.5), on_logits)
    b.compile(SGD(0.5), on_probabilities)
    ha = a.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    hb = b.fit(x, y, batch_size=8, epochs=2, shuffle=False, verbose=0)
    np.testing.assert_allclose(ha.history["loss"], hb.history["loss"], rtol=1e-9)
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-9, atol=1e-12)


def test_logits_loss_after_a_softmax_treats_the_probabilities_as_logits():
    # As in Keras: nothing is fused, and the gradient runs back through the softmax.
    model = _dense(3, "softmax")
    model.compile(SGD(0.1), losses.CategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(2).standard_normal((6, 5)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    p = model.predict(x)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(ops.categorical_crossentropy_from_logits(y, p)[0]))
    before = [w.copy() for w in model.get_weights()]
    model.train_on_batch(x, y)
    assert not np.allclose(before[-2], model.get_weights()[-2])


@pytest.mark.parametrize("loss", ["mae", "mape", "huber", losses.Huber(delta=0.5), "mse"])
def test_regression_losses_train_on_one_dimensional_targets(loss):
    x = np.random.default_rng(3).standard_normal((32, 5))
    y = x @ np.arange(1.0, 6.0) + 1.5  # (N,) for a one-unit output, as Keras accepts
    set_random_seed(0)
    model = Sequential([Dense(1, input_shape=(5,), dtype="float64")])
    model.compile(Adam(0.1), loss)
    h = model.fit(x, y, batch_size=8, epochs=20, verbose=0)
    assert h.history["loss"][-1] < 0.5 * h.history["loss"][0]


def test_save_and_load_keep_the_loss_config(tmp_path):
    model = _dense(3, None)
    model.compile("adam", losses.SparseCategoricalCrossentropy(from_logits=True))
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert type(again.loss) is losses.SparseCategoricalCrossentropy and again.loss.from_logits
    model.compile("adam", losses.Huber(delta=3.0))
    model.save(tmp_path / "h.npz")
    assert load_model(tmp_path / "h.npz").loss.delta == 3.0
