"""Losses as pure functions of (y_true, y_pred) returning the batch-mean loss and dL/dy_pred.

Conventions follow Keras 3: losses are means over the batch (and over the last axis for
binary crossentropy and MSE); crossentropies on probabilities first rescale each row to sum
to 1, then clip to [EPSILON, 1 - EPSILON]; a clipped probability passes no gradient.

The fused :func:`softmax_crossentropy_backward` gives the gradient with respect to the logits
of a softmax layer directly: exactly the chain rule through softmax, rescale and clip, in
one cheap expression, with no division by a tiny probability.
"""
from minicnn.backend import get_array_module

EPSILON = 1e-7


def _clip_mask(p, xp):
    """Boolean mask of probabilities inside the clip range (they carry gradient)."""
    return (p >= EPSILON) & (p <= 1 - EPSILON)


def categorical_crossentropy(y_true, y_pred):
    """-mean over the batch of sum(y_true * log(clip(y_pred / sum(y_pred)))).

    Args:
        y_true: (N, K) targets (one-hot or soft labels).
        y_pred: (N, K) probabilities.
    Returns:
        The loss (a 0-d array) and dL/dy_pred (N, K).
    """
    xp = get_array_module(y_pred)
    N = y_pred.shape[0]
    # A row of all-zero probabilities (a saturated sigmoid) would divide 0 by 0: floor the sum.
    s = xp.maximum(y_pred.sum(axis=-1, keepdims=True), EPSILON)
    q = y_pred / s
    qc = xp.clip(q, EPSILON, 1 - EPSILON)
    loss = -(y_true * xp.log(qc)).sum() / N
    g = -(y_true * _clip_mask(q, xp)) / qc / N          # dL/dq
    # Through q = p / s: dL/dp_k = (g_k - sum_j g_j q_j) / s.
    dp = (g - (g * q).sum(axis=-1, keepdims=True)) / s
    return loss, dp.astype(y_pred.dtype, copy=False)


def softmax_crossentropy_backward(y_true, p):
    """dL/dlogits (N, K) of categorical crossentropy on p = softmax(logits) (N, K), targets y_true
    (N, K): the chain rule through softmax, rescale and clip; (p - y_true) / N where unclipped."""
    xp = get_array_module(p)
    ym = y_true * _clip_mask(p, xp)
    dz = p * ym.sum(axis=-1, keepdims=True)
    dz -= ym
    dz /= p.shape[0]
    return dz.astype(p.dtype, copy=False)


def sparse_to_onehot(labels, K, dtype):
    """(N,) or (N, 1) integer labels -> (N, K) one-hot of ``dtype`` on the labels' backend."""
    xp = get_array_module(labels)
    labels = labels.reshape(-1).astype(xp.int64, copy=False)
    onehot = xp.zeros((labels.shape[0], K), dtype=dtype)
    onehot[xp.arange(labels.shape[0]), labels] = 1
    return onehot


def binary_crossentropy(y_true, y_pred):
    """mean of -(y log p + (1 - y) log(1 - p)) with p clipped to [EPSILON, 1 - EPSILON].

    Args:
        y_true, y_pred: (N, ...) targets and probabilities.
    Returns:
        The loss and dL/dy_pred.
    """
    xp = get_array_module(y_pred)
    p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
    loss = -(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p)).mean()
    dp = (p - y_true) / (p * (1 - p)) * _clip_mask(y_pred, xp) / y_pred.size
    return loss, dp.astype(y_pred.dtype, copy=False)


def mean_squared_error(y_true, y_pred):
    """mean of (y_pred - y_true)**2; returns the loss and dL/dy_pred."""
    d = y_pred - y_true
    return (d * d).mean(), (2 / d.size) * d


def crossentropy_value(y_true, y_pred):
    """The categorical crossentropy alone (no gradient): the fused path's loss value."""
    xp = get_array_module(y_pred)
    q = y_pred / xp.maximum(y_pred.sum(axis=-1, keepdims=True), EPSILON)
    return -(y_true * xp.log(xp.clip(q, EPSILON, 1 - EPSILON))).sum() / y_pred.shape[0]
