"""Metrics by name, as objects and as functions: values against Keras 3 (recorded below) and
against plain loops over samples, the keys History gets, and configs through model.save."""
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
    (metrics.TopKCategoricalAccuracy(), Y, 1.0),
    (metrics.TopKCategoricalAccuracy(k=2), Y, 0.6666666865348816),
    (metrics.TopKCategoricalAccuracy(k=1), Y, 0.5),
    (metrics.SparseTopKCategoricalAccuracy(k=1), LABELS, 0.5),
    (metrics.SparseTopKCategoricalAccuracy(k=2), LABELS.reshape(-1, 1), 0.6666666865348816),
    (metrics.SparseTopKCategoricalAccuracy(), LABELS, 1.0),
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
    assert float(fn(y, p)) == pytest.approx(per_sample(LOOPS[name], y, p), rel=1e-12)


@given(k=st.integers(1, 7), seed=st.integers(0, 2**16))
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
