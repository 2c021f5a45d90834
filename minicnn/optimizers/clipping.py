"""Gradient clipping as Keras 3 does it, before an optimizer's update: by each gradient's L2 norm
(``clipnorm``), by the norm of all gradients together (``global_clipnorm``), or value by value
(``clipvalue``)."""
from minicnn.backend import get_array_module


def _shrink(sum_of_squares, c):
    """c / max(norm, c): the factor that brings a norm down to c, or 1 when it is at most c.
    A 0-d array on the gradients' device: no round trip to the host."""
    xp = get_array_module(sum_of_squares)
    return c / xp.maximum(xp.sqrt(sum_of_squares), c)


def clip(grads, clipnorm=None, clipvalue=None, global_clipnorm=None):
    """The gradients clipped by the one argument that is not None, in new arrays (the caller's
    stay as they are); ``grads`` itself when all are None.

    Args:
        grads: list of arrays of any shapes, on one backend.
        clipnorm: each g becomes g * clipnorm / max(|g|, clipnorm), |g| its L2 norm.
        clipvalue: each value is clipped to [-clipvalue, clipvalue].
        global_clipnorm: every g is scaled by global_clipnorm / max(n, global_clipnorm), n the
            L2 norm of all gradients together.
    """
    if clipvalue is not None:
        return [get_array_module(g).clip(g, -clipvalue, clipvalue) for g in grads]
    if clipnorm is not None:
        return [g * _shrink((g * g).sum(), clipnorm) for g in grads]
    if global_clipnorm is not None:
        scale = _shrink(sum((g * g).sum() for g in grads), global_clipnorm)
        return [g * scale for g in grads]
    return grads
