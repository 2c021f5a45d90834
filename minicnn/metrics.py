"""Metrics for ``compile(metrics=[...])``: per-batch counts summed on the device, so values come
back to the host only when the progress display or a callback needs them.

``"accuracy"``/``"acc"`` resolves by the loss, as Keras does: categorical accuracy (argmax
match) for categorical crossentropy, sparse categorical accuracy for integer labels, binary
accuracy (threshold 0.5) for binary crossentropy and, as in Keras, for any one-unit output.

Targets of shape (N,) for a one-unit output (N, 1) are read as (N, 1).
"""
ACCURACY_NAMES = ("accuracy", "acc")


def _like_output(y_true, y_pred):
    """(N,) targets as (N, 1) for a one-unit output; other targets unchanged."""
    return y_true.reshape(-1, 1) if y_true.ndim == 1 and y_pred.ndim == 2 else y_true


def categorical_accuracy(y_true, y_pred):
    """Number of rows whose argmax matches; y (N, K). For K = 1 an argmax always matches, so a
    one-unit output is scored by :func:`binary_accuracy`, as Keras's "accuracy" does."""
    if y_pred.shape[-1] == 1:
        return binary_accuracy(y_true, y_pred)
    return (y_true.argmax(axis=-1) == y_pred.argmax(axis=-1)).sum()


def sparse_categorical_accuracy(labels, y_pred):
    """Number of rows whose argmax equals the integer label; labels (N,) or (N, 1)."""
    return (labels.reshape(-1) == y_pred.argmax(axis=-1)).sum()


def binary_accuracy(y_true, y_pred, threshold=0.5):
    """Per-sample mean of thresholded matches, summed over the batch (Keras averages the last axis)."""
    match = (y_pred > threshold) == (_like_output(y_true, y_pred) > 0.5)
    return match.reshape(match.shape[0], -1).mean(axis=-1).sum()


def get(identifier, loss_name):
    """``(name, fn)`` for a metric name given the compiled loss's name.

    Raises:
        ValueError: for an unknown metric name.
    """
    if not isinstance(identifier, str):
        raise TypeError(f"metrics must be names such as 'accuracy', got {identifier!r}.")
    if identifier not in ACCURACY_NAMES:
        raise ValueError(f"Unknown metric {identifier!r}; valid metrics are {list(ACCURACY_NAMES)}.")
    if loss_name == "sparse_categorical_crossentropy":
        return identifier, sparse_categorical_accuracy
    if loss_name == "binary_crossentropy":
        return identifier, binary_accuracy
    return identifier, categorical_accuracy
