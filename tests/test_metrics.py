"""Metrics by name, as objects and as functions: values against Keras 3 (recorded below) and
against plain loops over samples (weighted too), the keys History gets, configs through
model.save, and top-k accuracy refused where k leaves no class out."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import metrics
from minicnn.layers import Dense
from minicnn.models import Sequential, load_model

# Keras 3.15.1 (torch backend): each metric object updated with rows 0-3, then rows 4-5.
P = np.array([[0.1, 0.3, 0.3, 0.2, 0.1],   # the label ties for the top
              [0.2, 0.2, 0.2, 0.2, 0.2],   # all tied
              [0.3, 0.28, 0.25, 0.45, 0.5],
              [0.55, 1.0, 0.79, 0.62, 0.99],
              [0.22, 0.16, 0.61, 0.04, 0.04],
              [0.51, 0.47, 0.92, 0.63, 0.51]])
LABELS = np.array([2, 4, 0, 1, 3, 3])
Y = np.eye(5)[LABELS]
KERAS = [
    (metrics.CategoricalAccuracy(), Y, 0.1666666716337204),
    (metrics.SparseCategoricalAccuracy(), LABELS, 0.1666666716337204),
    (metrics.TopKCategoricalAccuracy(k=2), Y, 0.6666666865348816),
    (metrics.TopKCategoricalAccuracy(k=1), Y, 0.5),
    (metrics.SparseTopKCategoricalAccuracy(k=1), LABELS, 0.5),
    (metrics.SparseTopKCategoricalAccuracy(k=2), LABELS.reshape(-1, 1), 0.6666666865348816),
    (metrics.BinaryAccuracy(), Y, 0.6000000238418579),
    (metrics.BinaryAccuracy(threshold=0.25), Y, 0.5),
    (metrics.MeanAbsoluteError(), Y, 0.429999977350235),
    (metrics.MeanSquaredError(), Y, 0.2636066675186157),
]


@pytest.mark.parametrize("metric, y, expected", KERAS, ids=lambda v: getattr(v, "name", ""))
def test_objects_match_keras(metric, y, expected):
    metric.reset_state()
    metric.update_state(y[:4], P[:4])
    assert metric(y[4:], P[4:]) == pytest.approx(expected, rel=1e-6)
    # What fit and evaluate use: batch sums over the samples seen.
    name, fn = metrics.get(metric, "categorical_crossentropy")
    assert name == metric.name
    assert (float(fn(y[:4], P[:4])) + float(fn(y[4:], P[4:]))) / 6 == pytest.approx(expected, rel=1e-6)
    metric.reset_state()
    assert metric.result() == 0.0


# -- plain loops over samples (and over the rows of a sample), from the definitions --------------

def per_sample(row_value, y, p):
    """Each sample's mean over its rows of the last axis, then the sum over samples."""
    return sum(np.mean([row_value(a, b) for a, b in zip(ys.reshape(-1, ys.shape[-1]), ps.reshape(-1, ps.shape[-1]))])
               for ys, ps in zip(y, p))


def weighted(row_value, y, p, w):
    """Each sample's mean over its rows, times its weight, summed over samples."""
    return sum(wi * per_sample(row_value, ys[None], ps[None]) for wi, ys, ps in zip(w, y, p))


def in_top_k(t, p, k):
    label = max(range(len(t)), key=lambda i: t[i])
    return float(sum(1 for v in p if v > p[label]) < k)


LOOPS = {
    "categorical_accuracy": lambda t, p: float(np.argmax(t) == np.argmax(p)),
    "top_k_categorical_accuracy": lambda t, p: in_top_k(t, p, 5),
    "binary_accuracy": lambda t, p: np.mean([(b > 0.5) == (a > 0.5) for a, b in zip(t, p)]),
    "mae": lambda t, p: np.mean([abs(b - a) for a, b in zip(t, p)]),
    "mse": lambda t, p: np.mean([(b - a) ** 2 for a, b in zip(t, p)]),
}


@pytest.mark.parametrize("name", sorted(LOOPS))
@given(shape=st.sampled_from([(4, 6), (3, 7), (2, 3, 8), (3, 1)]), seed=st.integers(0, 2**16))
def test_batch_sums_match_plain_loops(name, shape, seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 4, shape) / 4  # small integers: ties at the top k, exact halves
    y = np.eye(shape[-1])[rng.integers(0, shape[-1], shape[:-1])]
    _, fn = metrics.get(name, "categorical_crossentropy")
    if name == "top_k_categorical_accuracy" and shape[-1] <= 5:
        with pytest.raises(ValueError, match="k=5 is at least the number of classes"):
            fn(y, p)
        return
    assert float(fn(y, p)) == pytest.approx(per_sample(LOOPS[name], y, p), rel=1e-12)
    # Weighted: each sample's mean value times its weight, in one pass.
    w = rng.uniform(0, 2, shape[0])
    assert float(fn(y, p, w)) == pytest.approx(weighted(LOOPS[name], y, p, w), rel=1e-12)
    metric = fn.__self__
    np.testing.assert_allclose(metric.per_sample(y, p), [per_sample(LOOPS[name], y[i:i + 1], p[i:i + 1])
                                                         for i in range(shape[0])], rtol=1e-12)


@given(k=st.integers(1, 5), seed=st.integers(0, 2**16))
def test_top_k_counts_ties_in_for_any_k(k, seed):
    rng = np.random.default_rng(seed)
    p = rng.integers(0, 3, (8, 6)).astype(float)
    y = np.eye(6)[rng.integers(0, 6, 8)]
    expected = sum(in_top_k(t, q, k) for t, q in zip(y, p))
    assert float(metrics.get(metrics.TopKCategoricalAccuracy(k=k), "mse")[1](y, p)) == expected


def test_sparse_labels_and_one_unit_outputs():
    _, fn = metrics.get("sparse_categorical_accuracy", "sparse_categorical_crossentropy")
    assert float(fn(LABELS.reshape(-1, 1), P)) == 1  # only row 3's argmax is its label
    # A one-unit output: "accuracy" is binary accuracy, targets (N,) read as (N, 1).
    p, y = np.array([[0.2], [0.7], [0.6]]), np.array([0.0, 1.0, 0.0])
    for loss in ("mse", "binary_crossentropy", "categorical_crossentropy"):
        assert float(metrics.get("accuracy", loss)[1](y, p)) == 2
    assert float(metrics.get("mae", "mse")[1](y, p)) == pytest.approx(0.2 + 0.3 + 0.6)
    assert float(metrics.get("categorical_accuracy", "mse")[1](y, p)) == 3  # Keras: argmax of one unit


def test_functions_give_one_value_per_sample_as_in_keras():
    assert metrics.categorical_accuracy(Y, P).tolist() == [False, False, False, True, False, False]
    # Keras 3: top_k_categorical_accuracy(Y, P, k=2) -> [1., 1., 0., 1., 0., 1.]
    assert metrics.top_k_categorical_accuracy(Y, P, k=2).tolist() == [True, True, False, True, False, True]
    assert metrics.mean_squared_error(Y, P).shape == (6,)


def test_history_keys_are_keras_names():
    x = np.random.default_rng(0).standard_normal((20, 4))
    y = np.eye(6)[np.arange(20) % 6]
    model = Sequential([Dense(6, activation="softmax", input_shape=(4,))])
    model.compile("sgd", "categorical_crossentropy", metrics=[
        "mae", "mse", "acc", "accuracy", "categorical_accuracy", "top_k_categorical_accuracy", "binary_accuracy",
        "MAE", "mean_absolute_error", metrics.TopKCategoricalAccuracy(k=2, name="top2"),
        metrics.MeanSquaredError(), metrics.top_k_categorical_accuracy])
    history = model.fit(x, y, batch_size=7, epochs=1, verbose=0)
    # Keras 3.15.1 names the first nine so (and the objects after their names).
    assert sorted(history.history) == sorted([
        "loss", "mae", "mse", "acc", "accuracy", "categorical_accuracy", "top_k_categorical_accuracy",
        "binary_accuracy", "MAE", "mean_absolute_error", "top2", "mean_squared_error"])
    # A function is logged under its name (here the same name: the last of the two wins).
    assert model.metrics_names[-1] == "top_k_categorical_accuracy"


def test_save_and_load_keep_metric_configs(tmp_path):
    model = Sequential([Dense(6, activation="softmax", input_shape=(4,))])
    model.compile("adam", "categorical_crossentropy",
                  metrics=["mae", "accuracy", metrics.TopKCategoricalAccuracy(k=3), metrics.BinaryAccuracy(threshold=0.7)])
    model.save(tmp_path / "m.npz")
    again = load_model(tmp_path / "m.npz")
    assert again.metrics_names == ["loss", "mae", "accuracy", "top_k_categorical_accuracy", "binary_accuracy"]
    kept = [m.fn.__self__.get_config() for m in again._metrics[2:]]
    assert kept == [{"name": "top_k_categorical_accuracy", "k": 3}, {"name": "binary_accuracy", "threshold": 0.7}]


@pytest.mark.parametrize("make, error, match", [
    (lambda: metrics.get("precision", "mse"), ValueError, r"Unknown metric 'precision'.*'top_k_categorical_accuracy'"),
    (lambda: metrics.get({"class_name": "AUC"}, "mse"), ValueError, "Unknown metric class_name 'AUC'"),
    (lambda: metrics.get(5, "mse"), TypeError, "metric objects"),
    (lambda: metrics.TopKCategoricalAccuracy(k=0), ValueError, "k must be an integer >= 1"),
    (lambda: metrics.SparseTopKCategoricalAccuracy(k=2.5), ValueError, "SparseTopKCategoricalAccuracy: k must"),
    (lambda: metrics.get("categorical_accuracy", "mse")[1](LABELS, P), ValueError,
     r"categorical_accuracy needs one-hot targets shaped like the outputs \(6, 5\), got targets \(6, 1\).*"
     "'sparse_categorical_accuracy'"),
    (lambda: metrics.top_k_categorical_accuracy(LABELS.reshape(-1, 1), P), ValueError,
     "'sparse_top_k_categorical_accuracy'"),
    (lambda: metrics.BinaryAccuracy(threshold="0.5"), TypeError, "threshold must be a number"),
])
def test_bad_metrics_name_the_fix(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("metric, y", [(metrics.TopKCategoricalAccuracy(), Y),
                                       (metrics.SparseTopKCategoricalAccuracy(k=6), LABELS),
                                       ("top_k_categorical_accuracy", Y),
                                       ("sparse_top_k_categorical_accuracy", LABELS)])
def test_top_k_refuses_k_of_every_class(metric, y):
    """With k at least the number of classes every sample is in the top k: Keras 3 reports 1.0
    (its value for TopKCategoricalAccuracy() on these 5 classes); minicnn refuses it at the first
    batch, naming k and the number of classes, since the number means nothing."""
    k = getattr(metric, "_kwargs", {}).get("k", 5)
    match = rf"top_k_categorical_accuracy: k={k} is at least the number of classes \(5\).*always 1\.0\. Use k < 5"
    with pytest.raises(ValueError, match=match):
        metrics.get(metric, "categorical_crossentropy")[1](y, P)
    model = Sequential([Dense(5, activation="softmax", input_shape=(4,))])
    loss = "sparse_categorical_crossentropy" if y is LABELS else "categorical_crossentropy"
    model.compile("sgd", loss, metrics=[metric])
    before = model.get_weights()
    with pytest.raises(ValueError, match=match):
        model.fit(np.ones((6, 4)), y, batch_size=6, verbose=0)
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)  # refused before any step


def test_top_k_of_one_unit_says_what_to_use():
    with pytest.raises(ValueError, match=r"number of classes \(1\).*For one unit use binary_accuracy"):
        metrics.top_k_categorical_accuracy(np.ones((3, 1)), np.ones((3, 1)), k=1)


def test_weighted_evaluate_weighs_each_samples_metric():
    """evaluate(sample_weight=w): each metric is sum(w_i m_i) / sum(w), m_i sample i's value, as Keras's
    weighted mean metrics; against a loop over the samples."""
    rng = np.random.default_rng(1)
    x, labels = rng.standard_normal((20, 4)), rng.integers(0, 6, 20)
    w = rng.uniform(0, 2, 20)
    model = Sequential([Dense(6, activation="softmax", input_shape=(4,), dtype="float64")])
    model.compile("sgd", "sparse_categorical_crossentropy",
                  metrics=["accuracy", metrics.SparseTopKCategoricalAccuracy(k=2, name="top2")])
    logs = model.evaluate(x, labels, sample_weight=w, batch_size=7, verbose=0, return_dict=True)
    p = model.predict(x)
    hits = [float(np.argmax(q) == t) for q, t in zip(p, labels)]
    top2 = [float(np.sum(q > q[t]) < 2) for q, t in zip(p, labels)]
    assert logs["accuracy"] == pytest.approx(np.dot(w, hits) / w.sum(), rel=1e-12)
    assert logs["top2"] == pytest.approx(np.dot(w, top2) / w.sum(), rel=1e-12)


def test_accuracy_follows_the_shapes_whatever_the_loss_is_called():
    """Keras 3 picks "accuracy" by the shapes: a loss renamed (SparseCategoricalCrossentropy(name=...))
    still gets sparse categorical accuracy for labels."""
    _, fn = metrics.get("accuracy", "my_loss")
    assert float(fn(LABELS, P)) == 1  # only row 3's argmax is its label
    assert float(fn(LABELS.reshape(-1, 1), P)) == 1
    assert float(fn(Y, P)) == 1
    assert float(fn(np.array([0.0, 1.0]), np.array([[0.2], [0.7]]))) == 2


def test_objects_take_sample_weights_as_keras_does():
    """update_state(y, p, sample_weight=w): the result is sum(w_i m_i) / sum(w) over the batches, against a
    loop; Keras 3.15.1 (torch) gave 0.0666667, 0.6, 0.2458093 and 0.6266667 on these (two updates)."""
    w = np.array([1.0, 2.0, 0.0, 0.5, 3.0, 1.0])
    for metric, row_value, keras_value in [
            (metrics.CategoricalAccuracy(), LOOPS["categorical_accuracy"], 0.06666667014360428),
            (metrics.TopKCategoricalAccuracy(k=2), lambda t, p: in_top_k(t, p, 2), 0.6000000238418579),
            (metrics.MeanSquaredError(), LOOPS["mse"], 0.24580933153629303),
            (metrics.BinaryAccuracy(), LOOPS["binary_accuracy"], 0.6266666650772095)]:
        metric.update_state(Y[:4], P[:4], sample_weight=w[:4])
        value = metric(Y[4:], P[4:], sample_weight=w[4:])
        assert value == pytest.approx(weighted(row_value, Y, P, w) / w.sum(), rel=1e-12)
        assert value == pytest.approx(keras_value, rel=1e-6)
