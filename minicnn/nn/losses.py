"""Losses as pure functions of (y_true, y_pred): each row's loss, or the batch loss with dL/dy_pred.

Conventions follow Keras 3: a loss is reduced over the last axis (summed for the crossentropies
and KL divergence, averaged for the others), which gives each row's loss: the ``*_rows``
functions, (N, ...) from (N, ..., K), as Keras's lowercase functions give them. The batch loss
averages the rows, over the batch and every other position; the functions without ``_rows``
give it with its gradient. Crossentropies on probabilities first rescale each row to sum to 1,
then clip to [EPSILON, 1 - EPSILON]; a clipped probability passes no gradient. The
``*_from_logits`` crossentropies take the scores before the softmax or sigmoid, in log-softmax
and log-sigmoid forms that stay finite for any finite logit, with the gradient at the logits.

The fused :func:`softmax_crossentropy_backward` gives the gradient with respect to the logits
of a softmax layer directly: exactly the chain rule through softmax, rescale and clip, in
one cheap expression, with no division by a tiny probability.
"""
import numbers

from minicnn.backend import get_array_module
from minicnn.nn.activations import log_softmax, sigmoid_forward, softplus_forward

EPSILON = 1e-7
REDUCTIONS = ("sum_over_batch_size", "sum", "mean", "mean_with_sample_weight", "none", None)


def positions(y):
    """How many rows of the last axis y (N, ..., K) holds, N * ...: what a Keras loss averages over."""
    return y.size // y.shape[-1]


def _clip_mask(p, xp):
    """Boolean mask of probabilities inside the clip range (they carry gradient)."""
    return (p >= EPSILON) & (p <= 1 - EPSILON)


def _rescaled(y_pred, xp):
    """The row sums s (N, ..., 1) and y_pred / s: each row rescaled to sum to 1."""
    # A row of all-zero probabilities (a saturated sigmoid) would divide 0 by 0: floor the sum.
    s = xp.maximum(y_pred.sum(axis=-1, keepdims=True), EPSILON)
    return s, y_pred / s


def categorical_crossentropy_rows(y_true, y_pred):
    """Each row's -sum(y_true * log(clip(y_pred / sum(y_pred)))): (N, ...) from y_true and
    probabilities y_pred (N, ..., K)."""
    xp = get_array_module(y_pred)
    return -(y_true * xp.log(xp.clip(_rescaled(y_pred, xp)[1], EPSILON, 1 - EPSILON))).sum(axis=-1)


def categorical_crossentropy_from_logits_rows(y_true, z):
    """Each row's -sum(y_true * log_softmax(z)): (N, ...) from y_true and logits z (N, ..., K)."""
    return -(y_true * log_softmax(z)).sum(axis=-1)


def sparse_categorical_crossentropy_rows(labels, y_pred):
    """Each row's -log(clip(y_pred / sum(y_pred)))[label]: (N, ...) from integer labels (N, ...)
    and probabilities y_pred (N, ..., K); the row's one-hot crossentropy, without the one-hot."""
    xp = get_array_module(y_pred)
    q = xp.take_along_axis(_rescaled(y_pred, xp)[1], _index(labels, xp), axis=-1)[..., 0]
    return -xp.log(xp.clip(q, EPSILON, 1 - EPSILON))


def sparse_categorical_crossentropy_from_logits_rows(labels, z):
    """Each row's -log_softmax(z)[label]: (N, ...) from integer labels (N, ...) and logits z (N, ..., K)."""
    xp = get_array_module(z)
    return -xp.take_along_axis(log_softmax(z), _index(labels, xp), axis=-1)[..., 0]


def _index(labels, xp):
    """Labels (N, ...) as integer indexes (N, ..., 1) into the last axis."""
    return labels.astype(xp.int64, copy=False)[..., None]


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
    s, q = _rescaled(y_pred, xp)
    qc = xp.clip(q, EPSILON, 1 - EPSILON)
    loss = (-(y_true * xp.log(qc)).sum(axis=-1)).sum() / N  # as crossentropy_value sums, to the last bit
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
    """Integer labels (N, ...) -> one-hot (N, ..., K) of ``dtype`` on the labels' backend."""
    xp = get_array_module(labels)
    flat = labels.reshape(-1).astype(xp.int64, copy=False)
    onehot = xp.zeros((flat.shape[0], K), dtype=dtype)
    onehot[xp.arange(flat.shape[0]), flat] = 1
    return onehot.reshape(*labels.shape, K)


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


def binary_crossentropy_rows(y_true, y_pred):
    """Each row's mean of -(y log p + (1 - y) log(1 - p)), p = clip(y_pred): (N, ...) from (N, ..., K)."""
    xp = get_array_module(y_pred)
    p = xp.clip(y_pred, EPSILON, 1 - EPSILON)
    return -(y_true * xp.log(p) + (1 - y_true) * xp.log(1 - p)).mean(axis=-1)


def binary_crossentropy_from_logits_rows(y_true, z):
    """Each row's mean of max(z, 0) - z*y + log(1 + exp(-|z|)): (N, ...) from logits z (N, ..., K)."""
    return (softplus_forward(z) - z * y_true).mean(axis=-1)


def mean_squared_error(y_true, y_pred):
    """mean of (y_pred - y_true)**2; returns the loss and dL/dy_pred."""
    d = y_pred - y_true
    return (d * d).mean(), (2 / d.size) * d


def mean_squared_error_rows(y_true, y_pred):
    """Each row's mean of (y_pred - y_true)**2: (N, ...) from (N, ..., K)."""
    d = y_pred - y_true
    return (d * d).mean(axis=-1)


def crossentropy_value(y_true, y_pred):
    """The categorical crossentropy alone (no gradient): the fused path's loss value."""
    return categorical_crossentropy_rows(y_true, y_pred).sum() / positions(y_pred)


def same_rank(y_true, y_pred):
    """Keras's squeeze_or_expand_to_same_rank: where the ranks differ by one and the longer array's
    last axis is 1, squeeze that axis, or give the 1-D array a last axis of 1."""
    if y_true.ndim == y_pred.ndim + 1 and y_true.shape[-1] == 1:
        return (y_true, y_pred[:, None]) if y_pred.ndim == 1 else (y_true[..., 0], y_pred)
    if y_pred.ndim == y_true.ndim + 1 and y_pred.shape[-1] == 1:
        return (y_true[:, None], y_pred) if y_true.ndim == 1 else (y_true, y_pred[..., 0])
    return y_true, y_pred


def divide_no_nan(a, b, xp):
    """a / b, or 0 where b is 0 (an empty batch, weights that are all 0), as Keras's divide_no_nan."""
    if isinstance(b, numbers.Number):
        return a / b if b else a * 0
    return xp.where(b == 0, 0, a / xp.where(b == 0, 1, b)).astype(a.dtype, copy=False)


def reduce(values, sample_weight=None, reduction="sum_over_batch_size"):
    """Losses ``values`` (N, ...), each multiplied by its weight, reduced as Keras 3 reduces them.

    Args:
        values: each position's loss, as :meth:`minicnn.losses.Loss.call` gives them.
        sample_weight: None, a number, one weight per sample (N,) (or (N, 1)), or one per value.
            Keras refuses weights (N,) for values (N, H); here they weigh each sample's values.
        reduction: "sum_over_batch_size" or "mean" (the sum over the number of values), "sum",
            "mean_with_sample_weight" (the sum over the sum of the weights), "none" or None (none).
    Returns:
        A 0-d array of values' dtype (0 for no values), or the weighted values for "none".
    Raises:
        ValueError: for weights that fit neither the samples nor the values.
    """
    xp = get_array_module(values)
    weight = None
    if sample_weight is not None:
        weight = xp.asarray(sample_weight).astype(values.dtype, copy=False)
        if values.ndim and weight.ndim == values.ndim + 1 and weight.shape[-1] == 1:  # (N, 1) weights
            values, weight = same_rank(values, weight)
        if 0 < weight.ndim < values.ndim and weight.shape == values.shape[:weight.ndim]:
            weight = weight.reshape(weight.shape + (1,) * (values.ndim - weight.ndim))
        if weight.ndim > values.ndim or any(w not in (1, v) for w, v in zip(weight.shape, values.shape)):
            raise ValueError(
                f"sample_weight of shape {weight.shape} fits neither the samples nor the losses of shape "
                f"{values.shape}: give one weight per sample {values.shape[:1]} or one per loss. (y_pred "
                "of shape (N,) is one sample of N outputs, as in Keras; pass (N, 1) for N samples.)")
        values = values * weight
    if reduction in ("none", None) or values.ndim == 0:
        return values
    total = values.sum()
    if reduction == "sum":
        return xp.asarray(total)
    if reduction == "mean_with_sample_weight" and weight is not None:
        return divide_no_nan(total, xp.broadcast_to(weight, values.shape).sum(), xp)
    return xp.asarray(divide_no_nan(total, values.size, xp))
