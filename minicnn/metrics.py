"""Metrics for ``compile(metrics=[...])``: by name (``"categorical_accuracy"``, ``"mae"``), as
objects (``TopKCategoricalAccuracy(k=3)``) or as functions of (y_true, y_pred).

The lowercase functions give one value per sample, or per row for outputs (N, ..., K), as Keras
3's do. During ``fit`` and ``evaluate`` a metric is a per-batch sum of those values, kept on the
device, divided by the samples seen only when the progress display or a callback needs it; a
sample's rows are averaged first, as Keras's mean metrics do.

``"accuracy"``/``"acc"`` resolves by the loss and the shapes, as Keras 3 does: sparse categorical
accuracy for sparse categorical crossentropy or integer labels, binary accuracy (threshold 0.5) for
binary crossentropy and any one-unit output, categorical accuracy (argmax match) otherwise.

Targets of shape (N,) for a one-unit output (N, 1) are read as (N, 1).
"""
import math
import numbers

from minicnn.backend import get_array_module
from minicnn.stateful_metrics import Mean, Metric  # noqa: F401  (keras.metrics.Metric, keras.metrics.Mean)
from minicnn.tape import unwrap

ACCURACY_NAMES = ("accuracy", "acc")


def _like_output(y_true, y_pred):
    """(N,) targets as (N, 1) for a one-unit output; other targets unchanged."""
    return y_true.reshape(-1, 1) if y_true.ndim == 1 and y_pred.ndim == 2 else y_true


def _check_one_hot(y_true, y_pred, what):
    if y_true.shape[-1:] != y_pred.shape[-1:] and y_pred.shape[-1] != 1:
        raise ValueError(f"{what} needs one-hot targets shaped like the outputs {tuple(y_pred.shape)}, got targets "
                         f"{tuple(y_true.shape)} (integer labels?); for labels use 'sparse_{what}'.")


def categorical_accuracy(y_true, y_pred):
    """1 where argmax(y_pred) == argmax(y_true), else 0: (N, ...) from (N, ..., K); ValueError for labels."""
    y_true = _like_output(y_true, y_pred)
    _check_one_hot(y_true, y_pred, "categorical_accuracy")
    return y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)


def sparse_categorical_accuracy(labels, y_pred):
    """1 where argmax(y_pred) (N, K) equals the integer label, labels (N,) or (N, 1): (N,)."""
    return labels.reshape(-1) == y_pred.argmax(axis=-1)


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """1 where (y_pred > threshold) matches (y_true > 0.5), per output: (N, ...)."""
    return (y_pred > threshold) == (_like_output(y_true, y_pred) > 0.5)


def top_k_categorical_accuracy(y_true, y_pred, k=5):
    """1 where the true class (argmax of y_true) is among the k highest scores of y_pred (N, ..., K):
    fewer than k classes score strictly higher. Ties count as in the top k, as in Keras.

    Raises:
        ValueError: for targets that are not shaped like the outputs (integer labels), and for
            k >= K, where every class is in the top k (Keras gives 1.0).
    """
    y_true = _like_output(y_true, y_pred)
    _check_one_hot(y_true, y_pred, "top_k_categorical_accuracy")
    _check_k_below_classes(k, y_pred, "top_k_categorical_accuracy")
    return sparse_top_k_categorical_accuracy(y_true.argmax(axis=-1), y_pred, k)


def sparse_top_k_categorical_accuracy(labels, y_pred, k=5):
    """1 where the integer label (N,) or (N, 1) is among the k highest scores of y_pred (N, K), ties
    counted in: (N,).

    Raises:
        ValueError: for k >= K, where every label is in the top k (Keras gives 1.0).
    """
    _check_k_below_classes(k, y_pred, "sparse_top_k_categorical_accuracy")
    xp = get_array_module(y_pred)
    labels = labels.reshape(y_pred.shape[:-1]).astype(xp.int64, copy=False)
    target = xp.take_along_axis(y_pred, labels[..., None], axis=-1)
    return (y_pred > target).sum(axis=-1) < k


def _check_k_below_classes(k, y_pred, what):
    K = y_pred.shape[-1]
    if k >= K:
        fix = f"Use k < {K}, or leave the metric out." if K > 1 else "For one unit use binary_accuracy."
        raise ValueError(f"{what}: k={k} is at least the number of classes ({K}), so every sample counts as in "
                         f"the top {k} and the metric is always 1.0. {fix}")


def mean_absolute_error(y_true, y_pred):
    """mean of |y_pred - y_true| over the last axis: (N, ...)."""
    return abs(y_pred - _like_output(y_true, y_pred)).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    """mean of (y_pred - y_true)² over the last axis: (N, ...)."""
    d = y_pred - _like_output(y_true, y_pred)
    return (d * d).mean(axis=-1)


def _accuracy(y_true, y_pred):
    """Keras 3's "accuracy" beside a loss other than sparse or binary crossentropy, by the shapes:
    binary for a one-unit output, sparse categorical for labels (fewer axes than the outputs, or a
    last axis of 1), categorical otherwise."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    if y_true.ndim < y_pred.ndim or y_true.shape[-1] == 1:
        return sparse_categorical_accuracy(y_true, y_pred)
    return categorical_accuracy(y_true, y_pred)


class MeanMetricWrapper:
    """A metric that averages a function's per-sample values over every sample seen.

    ``update_state(y_true, y_pred, sample_weight=None)``, ``result()`` and ``reset_state()`` work as in Keras, and
    calling the metric updates it and returns the result. ``fit`` and ``evaluate`` use
    :meth:`batch_sum` instead, which keeps nothing.

    Args:
        fn: function of (y_true, y_pred, **kwargs) -> values (N, ...).
        name: the key of the metric in logs and History.
        kwargs: fixed arguments of ``fn`` (``k``, ``threshold``), part of the config.
    """

    def __init__(self, fn, name, **kwargs):
        self._fn, self.name, self._kwargs = fn, name, kwargs
        self.reset_state()

    def batch_sum(self, y_true, y_pred, sample_weight=None):
        """The sum over the batch of each sample's mean value, times its weight (``sample_weight``
        (N,), if given): a 0-d float64 array on y_pred's device."""
        if sample_weight is not None:
            return (self.per_sample(y_true, y_pred) * sample_weight).sum()
        v = self._fn(y_true, y_pred, **self._kwargs)
        if v.ndim == 0:  # a function that gives the batch's mean (Keras 2's K.mean(...)): for every sample
            return v.astype("float64") * y_pred.shape[0]
        return v.sum(dtype="float64") * (v.shape[0] / v.size)

    def per_sample(self, y_true, y_pred):
        """Each sample's mean value (N,), float64, on y_pred's device, in one pass."""
        v = self._fn(y_true, y_pred, **self._kwargs)
        if v.ndim == 0:
            return get_array_module(v).full(y_pred.shape[0], v, dtype="float64")
        return v.reshape(v.shape[0], math.prod(v.shape[1:])).mean(axis=1, dtype="float64")

    def update_state(self, y_true, y_pred, sample_weight=None):
        """Add a batch: each sample's value, times its weight (``sample_weight`` (N,), default 1)."""
        y_true, y_pred, sample_weight = unwrap(y_true), unwrap(y_pred), unwrap(sample_weight)
        if sample_weight is not None:
            sample_weight = get_array_module(y_pred).asarray(sample_weight)
        # The sums stay where the arrays are: no host round trip per batch on the GPU (result() reads them).
        self._total = self._total + self.batch_sum(y_true, y_pred, sample_weight)
        self._count = self._count + (y_pred.shape[0] if sample_weight is None else sample_weight.sum())

    def result(self):
        """The (weighted) mean over the samples seen since the last reset (0.0 before any)."""
        count = float(self._count)
        return float(self._total) / count if count else 0.0

    def reset_state(self):
        self._total, self._count = 0.0, 0

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight)
        return self.result()

    def get_config(self):
        return {"name": self.name, **self._kwargs}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class CategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the output matches the argmax of one-hot targets."""

    def __init__(self, name="categorical_accuracy"):
        super().__init__(categorical_accuracy, name)


class SparseCategoricalAccuracy(MeanMetricWrapper):
    """How often the argmax of the output equals integer labels."""

    def __init__(self, name="sparse_categorical_accuracy"):
        super().__init__(sparse_categorical_accuracy, name)


class BinaryAccuracy(MeanMetricWrapper):
    """How often outputs above ``threshold`` (default 0.5) match targets above 0.5."""

    def __init__(self, name="binary_accuracy", threshold=0.5):
        if isinstance(threshold, bool) or not isinstance(threshold, numbers.Real):
            raise TypeError(f"BinaryAccuracy: threshold must be a number, got {threshold!r}.")
        super().__init__(binary_accuracy, name, threshold=float(threshold))


def _check_k(k, owner):
    if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 1:
        raise ValueError(f"{owner}: k must be an integer >= 1, got {k!r}.")
    return int(k)


class TopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the true class of one-hot targets is among the ``k`` (default 5) highest outputs."""

    def __init__(self, k=5, name="top_k_categorical_accuracy"):
        super().__init__(top_k_categorical_accuracy, name, k=_check_k(k, type(self).__name__))


class SparseTopKCategoricalAccuracy(MeanMetricWrapper):
    """How often the integer label is among the ``k`` (default 5) highest outputs."""

    def __init__(self, k=5, name="sparse_top_k_categorical_accuracy"):
        super().__init__(sparse_top_k_categorical_accuracy, name, k=_check_k(k, type(self).__name__))


class MeanAbsoluteError(MeanMetricWrapper):
    """The mean absolute error of the outputs."""

    def __init__(self, name="mean_absolute_error"):
        super().__init__(mean_absolute_error, name)


class MeanSquaredError(MeanMetricWrapper):
    """The mean squared error of the outputs."""

    def __init__(self, name="mean_squared_error"):
        super().__init__(mean_squared_error, name)


# Names as compile takes them; the metric is logged under the name given, as in Keras 3.
BY_NAME = {"categorical_accuracy": CategoricalAccuracy, "sparse_categorical_accuracy": SparseCategoricalAccuracy,
           "binary_accuracy": BinaryAccuracy, "top_k_categorical_accuracy": TopKCategoricalAccuracy,
           "sparse_top_k_categorical_accuracy": SparseTopKCategoricalAccuracy,
           "mean_absolute_error": MeanAbsoluteError, "mae": MeanAbsoluteError, "MAE": MeanAbsoluteError,
           "mean_squared_error": MeanSquaredError, "mse": MeanSquaredError, "MSE": MeanSquaredError}
CLASSES = {cls.__name__: cls for cls in BY_NAME.values()}  # for configs: {"class_name": ...}


def _by_loss(loss_name):
    if loss_name == "sparse_categorical_crossentropy":
        return sparse_categorical_accuracy
    if loss_name == "binary_crossentropy":
        return binary_accuracy
    return _accuracy


def get(identifier, loss_name):
    """``(name, fn)`` for a metric: fn(y_true, y_pred) is the batch's sum of per-sample values.

    Args:
        identifier: a name (``"accuracy"``, ``"categorical_accuracy"``, ``"mae"``, ...), a metric
            object (``TopKCategoricalAccuracy(k=3)``), a dict as :func:`serialize` writes it, or a
            function of (y_true, y_pred) returning per-sample values (logged under its ``__name__``).
        loss_name: the compiled loss's name, which ``"accuracy"`` resolves by.
    Raises:
        ValueError: for an unknown name or class name. TypeError: for anything else.
    """
    if isinstance(identifier, str):
        if identifier in ACCURACY_NAMES:
            return identifier, MeanMetricWrapper(_by_loss(loss_name), identifier).batch_sum
        if identifier not in BY_NAME:
            raise ValueError(f"Unknown metric {identifier!r}; valid metrics are "
                             f"{list(ACCURACY_NAMES) + list(BY_NAME)}, or a metric object.")
        metric = BY_NAME[identifier](name=identifier)
    elif isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown metric class_name {identifier.get('class_name')!r}; valid ones "
                             f"are {sorted(CLASSES)}.")
        metric = cls.from_config(identifier.get("config") or {})
    elif isinstance(identifier, MeanMetricWrapper):
        metric = identifier
    elif isinstance(identifier, Metric):  # a stateful metric: updated by each batch, logged as its result()
        return identifier.name, identifier.batch_update
    elif callable(identifier):
        metric = MeanMetricWrapper(identifier, getattr(identifier, "__name__", type(identifier).__name__))
    else:
        raise TypeError(f"metrics must be names such as 'accuracy', metric objects such as "
                        f"minicnn.metrics.CategoricalAccuracy(), or functions; got {identifier!r}.")
    return metric.name, metric.batch_sum


def serialize(name, fn):
    """What a saved model records of a compiled metric ``(name, fn)`` from :func:`get`: the name
    when it stands for this very metric (``"accuracy"``, ``"mae"``, a function's name), else the
    metric object's config as ``{"class_name": ..., "config": ...}``; :func:`get` reads either back."""
    metric = getattr(fn, "__self__", None)
    if type(metric) not in CLASSES.values() or (
            name in BY_NAME and metric.get_config() == BY_NAME[name](name=name).get_config()):
        return name
    return {"class_name": type(metric).__name__, "config": metric.get_config()}
