"""Layer and group normalization: each sample normalised on its own, with backward.

    x_hat = (x - mean) / sqrt(var + eps)     mean, var over the normalised axes, per sample
    y     = gamma * x_hat + beta             gamma, beta broadcast over the other axes

Layer normalization normalises over the axes it is given (the features: the last axis by
default) and has one gamma and beta per normalised element. Group normalization splits the C
channels into G groups of Cg = C / G and normalises each group over its channels and every
position together, with one gamma and beta per channel: the same op on the view
(N, A, G, Cg, B) of the input, normalised over A, Cg and B (A: the axes before the channels,
B: those after). Neither keeps running statistics, so training and inference compute the same.
(Tuned for the CPU: minicnn.cpu.layer_norm.)

On the GPU both run as the fused CUDA kernels of ``kernels/normalization.cu`` (a few passes over x
where these expressions make about 18), which keep x itself and each row's mean and 1/std for the
backward rather than x_hat: group normalization always, layer normalization when its axes are
x's last ones (any other axes, or a dtype the kernels lack, take these expressions).
"""
import math
from typing import NamedTuple

from minicnn import cuda
from minicnn.backend import get_array_module, is_cupy_array


def layernorm_forward(x, gamma, beta, axes, eps):
    """Normalise x over ``axes`` of each sample, then scale and shift.

    Args:
        x: any float array, the batch axis first.
        gamma, beta: arrays of x's number of axes, of size 1 on the axes they are broadcast over
            (e.g. (1, 1, 1, C) for (N, H, W, C) normalised over C), or None for 1 and 0.
        axes: the normalised axes, non-negative (the batch axis 0 never among them).
        eps: added to the variance.

    Returns:
        y (x's shape and dtype) and the backward's cache: x_hat, gamma, 1/std (size 1 on
        ``axes``), the axes, and the axes gamma and beta are broadcast over (a FusedCache on
        the GPU's kernel path).
    """
    view = _trailing_view(x, gamma, beta, axes) if _fusable(x, gamma, beta) else None
    if view is not None:
        return _fused_forward(x, gamma, beta, view, eps)
    xp = get_array_module(x)
    mean = x.mean(axis=axes, keepdims=True)
    xc = x - mean
    var = xp.square(xc).mean(axis=axes, keepdims=True)
    inv_std = 1 / xp.sqrt(var + eps)
    x_hat = xc
    x_hat *= inv_std  # in place: the centred input is not needed once normalised
    y = x_hat if gamma is None else x_hat * gamma
    if beta is not None:
        y = y + beta
    param = gamma if gamma is not None else beta
    param_axes = None if param is None else tuple(i for i, n in enumerate(param.shape) if n == 1)
    return y, (x_hat, gamma, inv_std, tuple(axes), param_axes)


def layernorm_backward(dy, cache):
    """Gradients of :func:`layernorm_forward`.

    Returns:
        dx (dy's shape), and dgamma and dbeta in gamma's and beta's broadcast shapes (sums over
        the axes they are broadcast over; None where the forward had no gamma, no beta).
    """
    if isinstance(cache, FusedCache):
        return _fused_backward(dy, cache)
    x_hat, gamma, inv_std, axes, param_axes = cache
    g = dy if gamma is None else dy * gamma
    # Normalising removes each sample's mean and scale over `axes`; dx keeps the component of
    # g orthogonal to both directions (the constant and x_hat), divided by the std.
    dx = g - g.mean(axis=axes, keepdims=True)
    dx -= x_hat * (g * x_hat).mean(axis=axes, keepdims=True)
    dx *= inv_std
    if param_axes is None:
        return dx, None, None
    dgamma = None if gamma is None else (dy * x_hat).sum(axis=param_axes, keepdims=True)
    dbeta = dy.sum(axis=param_axes, keepdims=True)
    return dx, dgamma, dbeta


def group_view(shape, groups, axis):
    """The shape (N, A, G, Cg, B) that group normalization normalises over its axes 1, 3 and 4.

    Args:
        shape: the input's shape, batch first; axis: the channel axis (1 <= axis < len(shape)).
        groups: G, which divides the number of channels.
    """
    A, B = math.prod(shape[1:axis]), math.prod(shape[axis + 1:])
    return (shape[0], A, groups, shape[axis] // groups, B)


def groupnorm_forward(x, gamma, beta, groups, axis, eps):
    """Group normalization of x: (N, ..., C, ...) with the C channels on ``axis``.

    Args:
        gamma, beta: (C,) or None. groups: G, dividing C. axis: the channel axis (>= 1).

    Returns:
        y (x's shape) and the backward's cache.
    """
    view = group_view(x.shape, groups, axis)
    if _fusable(x, gamma, beta):
        return _fused_forward(x, gamma, beta, view, eps)
    param_shape = (1, 1, view[2], view[3], 1)
    y, cache = layernorm_forward(x.reshape(view), None if gamma is None else gamma.reshape(param_shape),
                                 None if beta is None else beta.reshape(param_shape), (1, 3, 4), eps)
    return y.reshape(x.shape), cache


def groupnorm_backward(dy, cache):
    """Gradients of :func:`groupnorm_forward`: dx (dy's shape), dgamma and dbeta (C,) or None."""
    if isinstance(cache, FusedCache):
        return _fused_backward(dy, cache)
    dx, dgamma, dbeta = layernorm_backward(dy.reshape(cache[0].shape), cache)
    return dx.reshape(dy.shape), *(None if d is None else d.reshape(-1) for d in (dgamma, dbeta))


class FusedCache(NamedTuple):
    """What the backward of the CUDA path needs: the input, not x_hat (it is already in memory)."""
    x: object           # contiguous, the forward's input shape
    mean: object        # (N*G,): each row's mean
    rstd: object        # (N*G,): each row's 1/sqrt(var + eps)
    gamma: object       # as the forward got it, or None
    beta_shape: object  # beta's shape, or None without beta
    view: tuple         # (N, A, G, Cg, B), as in minicnn.cuda.norm_forward


def _fusable(x, gamma, beta):
    """Whether the CUDA kernels take these arrays: CuPy, float32 or float64, weights of x's dtype."""
    return (is_cupy_array(x) and x.dtype.name in ("float32", "float64")
            and all(p is None or p.dtype == x.dtype for p in (gamma, beta)))


def _trailing_view(x, gamma, beta, axes):
    """(M, 1, 1, D, 1): x as M rows of its last D elements, when ``axes`` are x's last axes and the
    weights span all of them (as LayerNormalization's do); else None."""
    first = x.ndim - len(axes)
    full = (1,) * first + tuple(x.shape[first:])
    if tuple(axes) != tuple(range(first, x.ndim)) or any(p is not None and p.shape != full for p in (gamma, beta)):
        return None
    return (math.prod(x.shape[:first]), 1, 1, math.prod(x.shape[first:]), 1)


def _fused_forward(x, gamma, beta, view, eps):
    x = get_array_module(x).ascontiguousarray(x)
    y, mean, rstd = cuda.norm_forward(x, gamma, beta, view, eps)
    return y, FusedCache(x, mean, rstd, gamma, None if beta is None else beta.shape, view)


def _fused_backward(dy, cache):
    """dx, and dgamma and dbeta in the forward's gamma and beta shapes (None where it had none)."""
    with_params = cache.gamma is not None or cache.beta_shape is not None
    dx, dgamma, dbeta = cuda.norm_backward(dy, cache.x, cache.mean, cache.rstd, cache.gamma, cache.view, with_params)
    return (dx.reshape(dy.shape), None if cache.gamma is None else dgamma.reshape(cache.gamma.shape),
            None if cache.beta_shape is None else dbeta.reshape(cache.beta_shape))
