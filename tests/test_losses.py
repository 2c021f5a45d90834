"""Loss objects for compile: names, classes and lowercase functions as Keras spells them; training on
logits against training on probabilities; the planner's softmax fusion only for probabilities;
configs through get/serialize and through model.save; what a loss object and a lowercase function
give when called (Keras 3's API: the reduced loss, each sample's loss), against NumPy written from
the definitions; the training step's value and gradient against central differences."""
import numpy as np
import pytest

from minicnn import losses
from minicnn.layers import Dense
from minicnn.models import Sequential, load_model
from minicnn.nn import losses as ops
from minicnn.nn.activations import softmax_forward
from minicnn.optimizers import SGD, Adam
from minicnn.plan import _weighted, make_plan
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient, relative_error


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


@pytest.mark.parametrize("loss", [
    losses.CategoricalCrossentropy(from_logits=True), losses.SparseCategoricalCrossentropy(from_logits=True),
    losses.BinaryCrossentropy(from_logits=True), losses.Huber(delta=2.0),
    losses.CategoricalCrossentropy(label_smoothing=0.1, axis=1), losses.BinaryCrossentropy(reduction="sum"),
    losses.MeanSquaredError(name="my_mse"), losses.SparseCategoricalCrossentropy(reduction=None),
    losses.KLDivergence(reduction="mean_with_sample_weight"),
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
    (lambda: losses.MeanSquaredError(reduction="avg"), r"reduction must be one of \['sum_over_batch_size'", ValueError),
    (lambda: losses.CategoricalCrossentropy(label_smoothing=1.5), "label_smoothing must be a number in", ValueError),
    (lambda: losses.BinaryCrossentropy(axis=1.0), "axis must be an integer", TypeError),
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
                 losses.SparseCategoricalCrossentropy(from_logits=True), losses.get(losses.mae),
                 losses.CategoricalCrossentropy(axis=1)]:
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


@pytest.mark.filterwarnings("ignore:compile.*expects logits")
def test_logits_loss_after_a_softmax_treats_the_probabilities_as_logits():
    # As in Keras: nothing is fused, and the gradient runs back through the softmax.
    model = _dense(3, "softmax")
    model.compile(SGD(0.1), losses.CategoricalCrossentropy(from_logits=True))
    x, y = np.random.default_rng(2).standard_normal((6, 5)), np.eye(3)[[0, 1, 2, 0, 1, 2]]
    p = model.predict(x)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(ops.categorical_crossentropy_from_logits(y, p)[0]))
    assert model.evaluate(x, y, verbose=0) == pytest.approx(float(model.loss(y, p)))
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


# -- calling a loss, as Keras 3's are called: NumPy written from the definitions ------------------

def np_log_softmax(z):
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def np_cce(y, p, from_logits=False):
    logp = np_log_softmax(p) if from_logits else np.log(np.clip(p / p.sum(axis=-1, keepdims=True), 1e-7, 1 - 1e-7))
    return -(y * logp).sum(axis=-1)


def np_bce(y, p, from_logits=False):
    q = 1 / (1 + np.exp(-p)) if from_logits else np.clip(p, 1e-7, 1 - 1e-7)  # logits here never saturate
    return -(y * np.log(q) + (1 - y) * np.log(1 - q)).mean(axis=-1)


def np_huber(y, p, delta=1.0):
    d = np.abs(p - y)
    return np.where(d <= delta, 0.5 * d ** 2, delta * (d - 0.5 * delta)).mean(axis=-1)


def np_kld(y, p):
    t = np.clip(y, 1e-7, 1)
    return (t * np.log(t / np.clip(p, 1e-7, 1))).sum(axis=-1)


NP_REFS = {
    "mean_squared_error": lambda y, p: ((p - y) ** 2).mean(axis=-1),
    "mean_absolute_error": lambda y, p: np.abs(p - y).mean(axis=-1),
    "mean_absolute_percentage_error": lambda y, p: 100 * (np.abs(p - y) / np.maximum(np.abs(y), 1e-7)).mean(axis=-1),
    "huber": np_huber, "kl_divergence": np_kld,
}


def labels_and_logits(shape, seed=0, dtype=np.float64):
    rng = np.random.default_rng(seed)
    return rng.integers(0, shape[-1], shape[:-1]), (rng.standard_normal(shape) * 2).astype(dtype)


def test_keras_quickstart_loss_call_gives_one_number():
    """TensorFlow's beginner quickstart: ``loss_fn(y, logits)`` with labels (5,), or (5, 1), is the
    mean crossentropy, a 0-d array that float() takes."""
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 4)).astype("float32"), np.array([0, 3, 1, 2, 1])
    loss_fn = losses.SparseCategoricalCrossentropy(from_logits=True)
    value = loss_fn(y, z)
    assert isinstance(value, np.ndarray) and value.shape == () and value.dtype == np.float32
    rows = -np_log_softmax(z.astype(np.float64))[np.arange(5), y]
    assert float(value) == pytest.approx(rows.mean(), rel=1e-6)
    assert float(loss_fn(y.reshape(-1, 1), z)) == float(value)
    # Keras 3.15.1 (torch backend) on these draws, for both label shapes: 1.716780424118042.
    assert float(value) == pytest.approx(1.716780424118042, rel=1e-6)
    per_sample = losses.sparse_categorical_crossentropy(y, z, from_logits=True)
    assert per_sample.shape == (5,) and per_sample.dtype == np.float32
    np.testing.assert_allclose(per_sample, rows, rtol=1e-6)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(y[:, None], z, from_logits=True), rows, rtol=1e-6)


@pytest.mark.parametrize("y_true, match", [
    (np.eye(4)[[0, 3, 1, 2, 1]], r"labels of shape \(5,\).*got y_true of shape \(5, 4\)\. These look like one-hot "
                                 r"targets: use CategoricalCrossentropy"),
    (np.zeros((5, 2)), r"labels of shape \(5,\) \(or with a last axis of 1\) for y_pred of shape \(5, 4\)"),
    (np.array([0, 4, 1, 2, 1]), r"labels must be integers in \[0, 3\].*from 0 to 4"),
    (np.array([0, 1.5, 1, 2, 1]), r"labels must be integers in \[0, 3\]"),
])
def test_sparse_loss_refuses_what_are_not_labels(y_true, match):
    """Keras 3 (torch) refuses one-hot targets with "Arguments `target` and `output` must have the
    same shape up until the last dimension", a label of 4 for 4 classes with an IndexError ("Target 4
    is out of bounds"), and silently truncates 1.5 to 1; here each is a ValueError saying what is
    wrong and the fix. (Labels on the GPU are checked once, as fit takes them, not at every call.)"""
    z = np.zeros((5, 4))
    for call in (losses.SparseCategoricalCrossentropy(from_logits=True),
                 lambda y, p: losses.sparse_categorical_crossentropy(y, p, from_logits=True)):
        with pytest.raises(ValueError, match=match):
            call(y_true, z)


def test_reductions_are_keras_formulas():
    """Each reduction against NumPy, with and without sample weights; the sample values are what
    Keras 3.15.1 (torch) gave for them: 8.5839, and weighted 6.6046, 1.3209, 1.4677."""
    rng = np.random.default_rng(0)
    z, y = rng.standard_normal((5, 4)).astype("float32"), np.array([0, 3, 1, 2, 1])
    w = np.array([1, 2, 0, 1, 0.5])
    r = -np_log_softmax(z.astype(np.float64))[np.arange(5), y]
    expected = {  # reduction: (unweighted, weighted)
        "sum_over_batch_size": (r.mean(), (r * w).sum() / 5), "mean": (r.mean(), (r * w).sum() / 5),
        "sum": (r.sum(), (r * w).sum()), "mean_with_sample_weight": (r.mean(), (r * w).sum() / w.sum()),
    }
    for reduction, (plain, weighted) in expected.items():
        loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
        assert float(loss(y, z)) == pytest.approx(plain, rel=1e-6)
        assert float(loss(y, z, sample_weight=w)) == pytest.approx(weighted, rel=1e-6)
    for reduction, weight, keras_value in [("sum", None, 8.583902), ("sum", w, 6.604579),
                                           ("sum_over_batch_size", w, 1.3209158), ("mean_with_sample_weight", w, 1.4676843)]:
        loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=reduction)
        assert float(loss(y, z, sample_weight=weight)) == pytest.approx(keras_value, rel=1e-6)
    for none in ("none", None):
        loss = losses.SparseCategoricalCrossentropy(from_logits=True, reduction=none)
        np.testing.assert_allclose(loss(y, z), r, rtol=1e-6)
        np.testing.assert_allclose(loss(y, z, sample_weight=w), r * w, rtol=1e-6)


@pytest.mark.parametrize("name", sorted(NP_REFS))
@pytest.mark.parametrize("shape", [(6, 3), (2, 4, 5)])
def test_lowercase_functions_give_each_samples_loss(name, shape):
    rng = np.random.default_rng(1)
    y, p = rng.uniform(0.05, 1, shape), rng.uniform(0.05, 1, shape)
    fn = getattr(losses, name)
    got = fn(y, p)
    assert got.shape == shape[:-1]
    np.testing.assert_allclose(got, NP_REFS[name](y, p), rtol=1e-12)
    loss = losses.get(fn)
    assert float(loss(y, p)) == pytest.approx(NP_REFS[name](y, p).mean(), rel=1e-12)
    np.testing.assert_allclose(losses.huber(y, p, delta=0.1), np_huber(y, p, 0.1), rtol=1e-12)


@pytest.mark.parametrize("from_logits", [False, True])
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_crossentropy_functions_take_from_logits_and_label_smoothing(from_logits, smoothing):
    """Keras's label smoothing: y (1 - s) + s / K for the categorical, y (1 - s) + s / 2 for the binary."""
    rng = np.random.default_rng(2)
    y = np.eye(4)[rng.integers(0, 4, 6)]
    p = rng.standard_normal((6, 4)) if from_logits else rng.uniform(0.01, 1, (6, 4))
    got = losses.categorical_crossentropy(y, p, from_logits=from_logits, label_smoothing=smoothing)
    np.testing.assert_allclose(got, np_cce(y * (1 - smoothing) + smoothing / 4, p, from_logits), rtol=1e-12)
    yb = (rng.random((6, 4)) > 0.5).astype(float)
    pb = p if from_logits else rng.uniform(0.01, 0.99, (6, 4))
    got = losses.binary_crossentropy(yb, pb, from_logits=from_logits, label_smoothing=smoothing)
    np.testing.assert_allclose(got, np_bce(yb * (1 - smoothing) + smoothing / 2, pb, from_logits), rtol=1e-12)
    assert float(losses.CategoricalCrossentropy(from_logits, smoothing)(y, p)) == pytest.approx(
        np_cce(y * (1 - smoothing) + smoothing / 4, p, from_logits).mean(), rel=1e-12)


def test_crossentropy_axis_names_the_class_axis():
    """``axis`` names the class axis (Keras's SparseCategoricalCrossentropy class has no ``axis``,
    its function has; here both have). With label smoothing and another axis, Keras 3 divides by
    the length of the *last* axis (s / 2 for classes on axis 1 of (N, 4, 2): 1.6636 where the
    smoothed targets would give log 4 = 1.3863 on uniform outputs); here by the class axis's, so
    smoothed targets still sum to 1."""
    rng = np.random.default_rng(3)
    y = np.moveaxis(np.eye(4)[rng.integers(0, 4, (3, 5))], -1, 1)  # (3, 4, 5): classes on axis 1
    z = rng.standard_normal((3, 4, 5))
    expected = np_cce(np.moveaxis(y, 1, -1), np.moveaxis(z, 1, -1), True)  # (3, 5)
    np.testing.assert_allclose(losses.categorical_crossentropy(y, z, from_logits=True, axis=1), expected, rtol=1e-12)
    labels = y.argmax(axis=1)
    np.testing.assert_allclose(losses.sparse_categorical_crossentropy(labels, z, from_logits=True, axis=1), expected,
                               rtol=1e-12)
    yb = (rng.random((3, 4, 5)) > 0.5).astype(float)
    np.testing.assert_allclose(losses.binary_crossentropy(yb, z, from_logits=True, axis=1),
                               np_bce(np.moveaxis(yb, 1, -1), np.moveaxis(z, 1, -1), True), rtol=1e-12)
    y2 = np.eye(4)[[0, 1, 2]][:, :, None].repeat(2, axis=-1)  # (3, 4, 2): one-hot along axis 1
    smoothed = losses.CategoricalCrossentropy(label_smoothing=0.2, axis=1)(y2, np.ones((3, 4, 2)))
    assert float(smoothed) == pytest.approx(np.log(4), rel=1e-12)


def test_one_dimensional_inputs_follow_keras():
    """As in Keras 3: y_pred (N,) is one sample of N outputs (mse gives one number), and targets
    (N,) with y_pred (N, 1) are N samples (a last axis of 1 added to the targets)."""
    y, p = np.array([1.0, 2.0, 4.0]), np.array([1.5, 2.0, 3.0])
    assert losses.mean_squared_error(y, p).shape == ()
    assert float(losses.mean_squared_error(y, p)) == pytest.approx((0.25 + 1) / 3)
    np.testing.assert_allclose(losses.mean_squared_error(y, p[:, None]), [0.25, 0, 1])
    np.testing.assert_allclose(losses.mean_squared_error(y[:, None], p), [0.25, 0, 1])


def test_shapes_that_differ_are_refused():
    """Keras 3 broadcasts targets (N, 1) against outputs (N, K) into a wrong number without a word;
    here that is an error naming both shapes."""
    with pytest.raises(ValueError, match=r"mean_squared_error: y_true of shape \(4, 1\) does not match y_pred "
                                         r"of shape \(4, 3\)"):
        losses.MeanSquaredError()(np.zeros((4, 1)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="does not match"):
        losses.categorical_crossentropy(np.zeros((4, 2)), np.zeros((4, 3)))


# -- the training step's forms: value and gradient, per sample, weighted --------------------------

def _case(make, shape, seed, sparse=False, probabilities=False, positive=False):
    """A loss and (y_true, y_pred) drawn for it, float64."""
    rng = np.random.default_rng(seed)
    if sparse:
        return make(), rng.integers(0, shape[-1], shape[:-1]).astype(float), rng.standard_normal(shape)
    y = rng.uniform(0.1, 1, shape) if positive else rng.standard_normal(shape)
    if probabilities:
        return make(), y, rng.uniform(0.05, 0.95, shape)
    return make(), y, y + rng.uniform(0.05, 0.5, shape) * rng.choice([-1, 1], shape)  # away from kinks


CASES = {  # name: (a loss, how its data is drawn)
    "cce": (losses.CategoricalCrossentropy, dict(probabilities=True, positive=True)),
    "cce_logits_smooth_sum": (lambda: losses.CategoricalCrossentropy(True, 0.1, reduction="sum"), dict(positive=True)),
    "cce_axis1": (lambda: losses.CategoricalCrossentropy(True, axis=1), dict(positive=True)),
    "scce": (losses.SparseCategoricalCrossentropy, dict(sparse=True)),
    "scce_logits_sum": (lambda: losses.SparseCategoricalCrossentropy(True, reduction="sum"), dict(sparse=True)),
    "bce_smooth": (lambda: losses.BinaryCrossentropy(label_smoothing=0.2), dict(probabilities=True, positive=True)),
    "bce_logits_weighted_mean": (lambda: losses.BinaryCrossentropy(True, reduction="mean_with_sample_weight"),
                                 dict(positive=True)),
    "mse_sum": (lambda: losses.MeanSquaredError(reduction="sum"), {}),
    "mae": (losses.MeanAbsoluteError, {}),
    "mape_mean": (lambda: losses.MeanAbsolutePercentageError(reduction="mean"), {}),
    "huber": (lambda: losses.Huber(0.3), {}),
    "kld": (losses.KLDivergence, dict(probabilities=True, positive=True)),
}


def _numeric(f, p):
    return numerical_gradient(lambda: float(f()), p)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("shape", [(4, 3), (3, 2, 5)])
def test_value_and_gradient_match_the_call_and_central_differences(case, shape):
    make, how = CASES[case]
    loss, y, p = _case(make, shape, 0, **how)
    if how.get("sparse"):
        y = y[..., None] if len(shape) == 2 else y  # (N, 1) labels too
    value, grad = loss.value_and_gradient(y, p)
    assert float(value) == pytest.approx(float(loss(y, p)), rel=1e-12)
    assert grad.shape == p.shape and grad.dtype == p.dtype
    assert relative_error(grad, _numeric(lambda: loss(y, p), p)) < 1e-6


@pytest.mark.parametrize("make", [losses.CategoricalCrossentropy, lambda: losses.CategoricalCrossentropy(
    label_smoothing=0.3, reduction="sum"), losses.SparseCategoricalCrossentropy])
def test_fused_softmax_gradient_is_the_gradient_at_the_logits(make):
    loss = make()
    rng = np.random.default_rng(4)
    z, labels = rng.standard_normal((5, 3, 4)), rng.integers(0, 4, (5, 3))
    y = labels if isinstance(loss, losses.SparseCategoricalCrossentropy) else np.eye(4)[labels]
    value, dz = loss.value_and_softmax_gradient(y, softmax_forward(z))
    assert float(value) == pytest.approx(float(loss(y, softmax_forward(z))), rel=1e-12)
    assert relative_error(dz, _numeric(lambda: loss(y, softmax_forward(z)), z)) < 1e-6


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("shape", [(5, 3), (4, 2, 3)])
def test_weighted_step_is_the_weighted_call(case, shape):
    """What training with sample weights takes (plan's _weighted, from per_sample in one pass) is
    ``loss(y, p, sample_weight=w)`` and its gradient. Keras refuses weights (N,) for outputs
    (N, H, K) (a broadcast error); here each weighs its sample's H losses."""
    make, how = CASES[case]
    loss, y, p = _case(make, shape, 1, **how)
    w = np.random.default_rng(5).uniform(0, 2, shape[0])
    w[1] = 0
    value, dout = _weighted(loss, y, p, loss.value_and_gradient(y, p)[1], w)
    assert float(value) == pytest.approx(float(loss(y, p, sample_weight=w)), rel=1e-12)
    assert relative_error(dout, _numeric(lambda: loss(y, p, sample_weight=w), p)) < 1e-6


@pytest.mark.parametrize("case", sorted(CASES))
def test_per_sample_is_each_samples_own_loss(case):
    """per_sample[i] is the loss of sample i alone (the sum of its losses for reduction "sum")."""
    make, how = CASES[case]
    loss, y, p = _case(make, (4, 2, 3), 2, **how)
    expected = [float(loss(y[i:i + 1], p[i:i + 1])) for i in range(4)]
    np.testing.assert_allclose(loss.per_sample(y, p), expected, rtol=1e-12)


@pytest.mark.parametrize("case", sorted(CASES))
def test_float32_stays_float32(case):
    make, how = CASES[case]
    loss, y, p = _case(make, (4, 3), 3, **how)
    y, p, w = y.astype(np.float32), p.astype(np.float32), np.ones(4, dtype=np.float32)
    value, grad = loss.value_and_gradient(y, p)
    assert value.dtype == grad.dtype == np.float32
    assert loss(y, p).dtype == loss(y, p, sample_weight=w).dtype == loss.per_sample(y, p).dtype == np.float32
    value, scale = loss.weighted(y, p, w)
    assert value.dtype == scale.dtype == np.float32
    if loss.fused_softmax:
        assert all(a.dtype == np.float32 for a in loss.value_and_softmax_gradient(y, p))


def test_reduction_none_cannot_train():
    """Keras 3's fit fails inside torch ("grad can be implicitly created only for scalar outputs")
    and its evaluate returns a number; minicnn refuses both with a message naming the fix."""
    loss = losses.MeanSquaredError(reduction="none")
    with pytest.raises(ValueError, match="reduction='none' gives a loss per sample, but training needs one number"):
        loss.value_and_gradient(np.zeros((2, 1)), np.ones((2, 1)))
    model = _dense(1, None)
    model.compile("sgd", loss)
    with pytest.raises(ValueError, match="reduction='sum_over_batch_size'"):
        model.fit(np.zeros((4, 5)), np.zeros(4), verbose=0)


@pytest.mark.parametrize("reduction", ["sum", "mean_with_sample_weight"])
def test_compiled_reduction_is_what_evaluate_gives(reduction):
    """As in Keras 3, a compiled loss object's reduction is the loss fit and evaluate take (Keras
    3.15.1 logged 5.9635 for "sum" where the mean was 0.7454)."""
    x = np.random.default_rng(6).standard_normal((8, 5))
    y = np.random.default_rng(7).standard_normal((8, 2))
    w = np.linspace(0, 2, 8)
    model = _dense(2, None)
    loss = losses.MeanSquaredError(reduction=reduction)
    model.compile(SGD(0.01), loss)
    p = model.predict(x)
    assert model.evaluate(x, y, batch_size=8, verbose=0) == pytest.approx(float(loss(y, p)), rel=1e-12)
    assert model.evaluate(x, y, batch_size=8, sample_weight=w, verbose=0) == pytest.approx(
        float(loss(y, p, sample_weight=w)), rel=1e-12)


def test_every_way_to_name_a_loss_trains_alike(tmp_path):
    """compile(loss=...) by name, by Keras's class name, by the lowercase function, by the class and
    by an object: the same training, and each comes back from a saved model."""
    x = np.random.default_rng(8).standard_normal((16, 5))
    y = np.random.default_rng(9).standard_normal((16, 2))
    results = []
    for k, how in enumerate(["mae", "MeanAbsoluteError", losses.mean_absolute_error, losses.mae,
                             losses.MeanAbsoluteError, losses.MeanAbsoluteError()]):
        model = _dense(2, None)
        model.compile(SGD(0.1), how)
        assert type(model.loss) is losses.MeanAbsoluteError
        model.fit(x, y, batch_size=4, epochs=2, shuffle=False, verbose=0)
        results.append(model.get_weights())
        model.save(tmp_path / f"{k}.npz")
        again = load_model(tmp_path / f"{k}.npz")
        assert type(again.loss) is losses.MeanAbsoluteError and again.loss.name == model.loss.name
    for weights in results[1:]:
        for a, b in zip(results[0], weights):
            np.testing.assert_array_equal(a, b)


def test_a_loss_subclass_written_for_keras_computes():
    """A Keras 3 style subclass (``call`` returning each sample's loss) gives its reduced value and
    takes sample weights, and trains: its gradient comes from the tape (here 2(p - y), by hand)."""
    class ScaledSquares(losses.Loss):
        def call(self, y_true, y_pred):
            return 2 * ((y_pred - y_true) ** 2).mean(axis=-1)

    loss = ScaledSquares(reduction="sum")
    y, p = np.array([[0.0, 1.0], [2.0, 2.0]]), np.array([[1.0, 1.0], [2.0, 0.0]])
    assert loss.name == "scaled_squares"
    assert float(loss(y, p)) == pytest.approx(2 * (0.5 + 2.0))
    assert float(loss(y, p, sample_weight=np.array([1.0, 0.0]))) == pytest.approx(1.0)
    value, grad = loss.value_and_gradient(y, p)
    assert float(value) == pytest.approx(5.0)
    np.testing.assert_allclose(grad, 2 * (p - y))
