"""Losses on values rather than classes: MAE, MAPE, Huber and KL divergence, with their gradients.

Each is a pure function of (y_true, y_pred), both (N, ..., K), returning the loss (a 0-d array)
and dL/dy_pred, reduced as Keras 3 reduces it: over the last axis (averaged, or summed for the KL
divergence), then averaged over the other positions. The ``*_rows`` functions stop after the last
axis: each row's loss (N, ...), as Keras's lowercase functions give it. Where the loss has a kink
(|d| at d = 0) the gradient taken is 0, as Keras's is.
"""
from minicnn.backend import get_array_module
from minicnn.nn.losses import EPSILON, positions


def mean_absolute_error(y_true, y_pred):
    """mean of |y_pred - y_true|; dL/dy_pred = sign(y_pred - y_true) / size."""
    xp = get_array_module(y_pred)
    d = y_pred - y_true
    return xp.abs(d).mean(), xp.sign(d) / d.size


def mean_absolute_error_rows(y_true, y_pred):
    """Each row's mean of |y_pred - y_true|: (N, ...) from (N, ..., K)."""
    return get_array_module(y_pred).abs(y_pred - y_true).mean(axis=-1)


def mean_absolute_percentage_error(y_true, y_pred):
    """100 * mean of |y_pred - y_true| / max(|y_true|, EPSILON); a zero target weighs 1 / EPSILON.

    dL/dy_pred = 100 * sign(y_pred - y_true) / max(|y_true|, EPSILON) / size.
    """
    xp = get_array_module(y_pred)
    d = y_pred - y_true
    w = 100 / xp.maximum(xp.abs(y_true), EPSILON)
    return (xp.abs(d) * w).mean(), xp.sign(d) * w / d.size


def mean_absolute_percentage_error_rows(y_true, y_pred):
    """Each row's 100 * mean of |y_pred - y_true| / max(|y_true|, EPSILON): (N, ...) from (N, ..., K)."""
    xp = get_array_module(y_pred)
    return 100 * (xp.abs(y_pred - y_true) / xp.maximum(xp.abs(y_true), EPSILON)).mean(axis=-1)


def huber(y_true, y_pred, delta=1.0):
    """mean of d²/2 where |d| <= delta, else delta * (|d| - delta/2), with d = y_pred - y_true.

    Quadratic near 0, linear beyond ``delta``: dL/dy_pred = clip(d, -delta, delta) / size.
    """
    xp = get_array_module(y_pred)
    d = y_pred - y_true
    a = xp.abs(d)
    loss = xp.where(a <= delta, 0.5 * d * d, delta * a - 0.5 * delta * delta).mean()
    return loss, xp.clip(d, -delta, delta) / d.size


def huber_rows(y_true, y_pred, delta=1.0):
    """Each row's mean of the Huber loss of :func:`huber`: (N, ...) from (N, ..., K)."""
    xp = get_array_module(y_pred)
    d = y_pred - y_true
    a = xp.abs(d)
    return xp.where(a <= delta, 0.5 * d * d, delta * a - 0.5 * delta * delta).mean(axis=-1)


def kl_divergence(y_true, y_pred):
    """mean over rows of sum(t * log(t / p)), t and p clipped to [EPSILON, 1]; rows: :func:`positions`.

    dL/dy_pred = -t / p / rows where y_pred lies within [EPSILON, 1], else 0 (clipped).
    """
    xp = get_array_module(y_pred)
    N = positions(y_pred)
    t = xp.clip(y_true, EPSILON, 1)
    p = xp.clip(y_pred, EPSILON, 1)
    r = t / p
    loss = (t * xp.log(r)).sum() / N
    inside = (y_pred >= EPSILON) & (y_pred <= 1)
    return loss, (-r * inside / N).astype(y_pred.dtype, copy=False)


def kl_divergence_rows(y_true, y_pred):
    """Each row's sum(t * log(t / p)), t and p clipped to [EPSILON, 1]: (N, ...) from (N, ..., K)."""
    xp = get_array_module(y_pred)
    t = xp.clip(y_true, EPSILON, 1)
    return (t * xp.log(t / xp.clip(y_pred, EPSILON, 1))).sum(axis=-1)
