"""Numerical gradient checks: central differences in float64 against a layer's backward.

Usable on any layer, including your own::

    from minicnn.utils import check_gradients
    errors = check_gradients(MyLayer(..., dtype="float64"), x, input_shape=x.shape[1:])
    assert max(errors.values()) < 1e-6
"""
import numpy as np

from minicnn import random as mrandom
from minicnn.backend import get_array_module, to_numpy


def relative_error(a, b):
    """||a - b|| / (||a|| + ||b||), 0 when both are zero: scale-free and stable near zero."""
    a, b = np.asarray(to_numpy(a), dtype=np.float64), np.asarray(to_numpy(b), dtype=np.float64)
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return 0.0 if denom == 0 else float(np.linalg.norm(a - b) / denom)


def numerical_gradient(f, a, eps=1e-6):
    """Central-difference gradient of the scalar f() with respect to every element of ``a`` (in place)."""
    g = np.zeros(a.shape, dtype=np.float64)
    flat = a.reshape(-1)
    for i in range(flat.size):
        old = float(flat[i])
        flat[i] = old + eps
        fp = f()
        flat[i] = old - eps
        fm = f()
        flat[i] = old
        g.reshape(-1)[i] = (fp - fm) / (2 * eps)
    return g


def check_gradients(layer, x, input_shape=None, training=True, eps=1e-6, seed=0):
    """Compare a layer's backward with central differences of L = sum(forward(x) * R).

    Args:
        layer: a float64 layer (``dtype="float64"``), built or not.
        x: (N, ...) float64 input.
        input_shape: per-sample shape to build with; default ``x.shape[1:]``.
        training: the mode forward runs in (random draws such as dropout masks are replayed
            identically for every evaluation).
        eps: finite-difference step.
    Returns:
        dict: ``{"input": err, <param name>: err, ...}`` relative errors (see :func:`relative_error`).
    Raises:
        TypeError: if the layer or x is not float64 (float32 differences are too coarse).
    """
    if layer.dtype != np.float64 or x.dtype != np.float64:
        raise TypeError(
            f"check_gradients needs float64: got layer dtype {layer.dtype} and input dtype {x.dtype}. "
            "Create the layer with dtype='float64' and pass a float64 input.")
    if not layer.built:
        layer.build(tuple(input_shape or x.shape[1:]))
    xp = get_array_module(x)
    rng_state = mrandom.get_state()

    def run_forward():
        mrandom.set_state(rng_state)
        return layer.forward(x, training=training)[0]

    y = run_forward()
    R = xp.asarray(np.random.default_rng(seed).standard_normal(y.shape))

    def loss():
        return float((run_forward() * R).sum())

    mrandom.set_state(rng_state)
    _, cache = layer.forward(x, training=training)
    dx, grads = layer.backward(R, cache)
    analytic = {"input": dx, **{n: grads[n] for n in layer.trainable_names}}
    errors = {"input": relative_error(analytic["input"], numerical_gradient(loss, x, eps))}
    for name in layer.trainable_names:
        errors[name] = relative_error(analytic[name], numerical_gradient(loss, layer.params[name], eps))
    return errors
