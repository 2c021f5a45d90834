"""Losses as pure functions of (y_true, y_pred) returning the batch-mean loss and dL/dy_pred.

Conventions follow Keras 3: a loss is reduced over the last axis (summed for the crossentropies
and KL divergence, averaged for the others), then averaged over every other position, the batch
first; crossentropies on probabilities first rescale each row to sum to 1, then clip to
[EPSILON, 1 - EPSILON]; a clipped probability passes no gradient. The ``*_from_logits``
crossentropies take the scores before the softmax or sigmoid, in log-softmax and log-sigmoid
forms that stay finite for any finite logit, with the gradient at the logits.

The fused :func:`softmax_crossentropy_backward` gives the gradient with respect to the logits
of a softmax layer directly: exactly the chain rule through softmax, rescale and clip, in
one cheap expression, with no division by a tiny probability.
"""
from minicnn.backend import get_array_module
from minicnn.ops.activations import log_softmax, sigmoid_forward, softplus_forward

EPSILON = 1e-7


def positions(y):
    """How many rows of the last axis y (N, ..., K) holds, N * ...: what a Keras loss averages over."""
    return y.size // y.shape[-1]


def _clip_mask(p, xp):
    """Boolean mask of probabilities inside the clip range (they carry gradient)."""
    return (p >= EPSILON) & (p <= 1 - EPSILON)


def categorical_crossentropy(y_true, y_pred):
    """-mean over the batch of sum(y_true * log(clip(y_pred / sum(y_pred)))).

    Args:
        y_true: (N, ..., K) targets (one-hot or soft labels).
        y_pred: (N, ..., K) probabilities.
    Returns:
        The loss (a 0-d array, averaged over the N * ... rows) and dL/dy_pred (N, ..., K).
    """
    xp = get_array_module(y_pred)
    N = positions(y_pred)
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
    """dL/dlogits (N, ..., K) of categorical crossentropy on p = softmax(logits) and targets of p's shape:
    the chain rule through softmax, rescale and clip; (p - y_true) / rows where unclipped."""
    xp = get_array_module(p)
    ym = y_true * _clip_mask(p, xp)
    dz = p * ym.sum(axis=-1, keepdims=True)
    dz -= ym
    dz /= positions(p)
    return dz.astype(p.dtype, copy=False)


def categorical_crossentropy_from_logits(y_true, z):
    """-mean over rows of sum(y_true * log_softmax(z)): categorical crossentropy on scores z.

    Args:
        y_true: (N, ..., K) targets (one-hot or soft labels). z: (N, ..., K) logits.
    Returns:
        The loss and dL/dz = (softmax(z) * sum(y_true) - y_true) / N, N the rows (:func:`positions`);
        both finite for any finite z, since no probability is ever divided by.
    """
    xp = get_array_module(z)
    N = positions(z)
    logp = log_softmax(z)
    loss = -(y_true * logp).sum() / N
    dz = xp.exp(logp) * y_true.sum(axis=-1, keepdims=True)
    dz -= y_true
    dz /= N
    return loss, dz.astype(z.dtype, copy=False)


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


def binary_crossentropy_from_logits(y_true, z):
    """mean of max(z, 0) - z*y + log(1 + exp(-|z|)): binary crossentropy on scores z.

    That is -(y log sigmoid(z) + (1 - y) log(1 - sigmoid(z))) rearranged so that no exp overflows.

    Args:
        y_true, z: (N, ...) targets and logits.
    Returns:
        The loss and dL/dz = (sigmoid(z) - y_true) / z.size.
    """
    loss = (softplus_forward(z) - z * y_true).mean()
    dz = sigmoid_forward(z) - y_true
    dz /= z.size
    return loss, dz.astype(z.dtype, copy=False)


def mean_squared_error(y_true, y_pred):
    """mean of (y_pred - y_true)**2; returns the loss and dL/dy_pred."""
    d = y_pred - y_true
    return (d * d).mean(), (2 / d.size) * d


def crossentropy_value(y_true, y_pred):
    """The categorical crossentropy alone (no gradient): the fused path's loss value."""
    xp = get_array_module(y_pred)
    q = y_pred / xp.maximum(y_pred.sum(axis=-1, keepdims=True), EPSILON)
    return -(y_true * xp.log(xp.clip(q, EPSILON, 1 - EPSILON))).sum() / positions(y_pred)
