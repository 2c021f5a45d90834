"""Keras 3's NumPy-like ops (``keras.ops.add``, ``sum``, ``reshape``...), each with its backward
for the tape (:mod:`minicnn.tape`).

Each op takes arrays (NumPy or CuPy), Tensors, Variables or Python numbers; it computes with the
namespace of its inputs and hands the result to :func:`minicnn.tape.result` with a backward that
maps the output's gradient ``dy`` to one gradient per input. On plain arrays with no tape open
it returns a plain array, so a metric written in ops costs nothing more than NumPy.

A Python number takes the dtype of the array beside it (a float32 tensor times 2.0 stays float32).
"""
import numbers

import numpy as np

from minicnn.backend import get_array_module
from minicnn.tape import Tensor, constant_result, result, results, unwrap


def _xp(*xs):
    for x in xs:
        a = unwrap(x)
        if hasattr(a, "dtype") and hasattr(a, "shape"):
            return get_array_module(a)
    return np


def _arrays(*xs):
    """The arrays of ``xs``; numbers take the float dtype of an array among them (float32 by default)."""
    arrays = [unwrap(x) for x in xs]
    xp = _xp(*arrays)
    like = next((a for a in arrays if hasattr(a, "dtype") and a.dtype.kind == "f"), None)
    dtype = like.dtype if like is not None else np.dtype("float32")
    out = []
    for a in arrays:
        if isinstance(a, numbers.Number) and not isinstance(a, bool):
            a = xp.asarray(a, dtype=dtype if isinstance(a, float) or like is not None else None)
        elif not hasattr(a, "dtype"):
            a = xp.asarray(a)
            if a.dtype == np.float64:
                a = a.astype(dtype)
        out.append(a)
    return out, xp


def unbroadcast(g, shape):
    """``g`` summed over the axes broadcasting added or stretched to reach it from ``shape``."""
    if g.shape == tuple(shape):
        return g
    extra = g.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(extra + i for i, n in enumerate(shape) if n == 1 and g.shape[extra + i] != 1)
    return g.sum(axis=axes, keepdims=True).reshape(shape) if axes else g.reshape(shape)


# -- arithmetic -------------------------------------------------------------------------------------

def add(x1, x2):
    (a, b), _ = _arrays(x1, x2)
    return result(a + b, (x1, x2), lambda dy: (unbroadcast(dy, a.shape), unbroadcast(dy, b.shape)))


def subtract(x1, x2):
    (a, b), _ = _arrays(x1, x2)
    return result(a - b, (x1, x2), lambda dy: (unbroadcast(dy, a.shape), unbroadcast(-dy, b.shape)))


def multiply(x1, x2):
    (a, b), _ = _arrays(x1, x2)
    return result(a * b, (x1, x2), lambda dy: (unbroadcast(dy * b, a.shape), unbroadcast(dy * a, b.shape)))


def divide(x1, x2):
    (a, b), _ = _arrays(x1, x2)
    y = a / b
    return result(y, (x1, x2), lambda dy: (unbroadcast(dy / b, a.shape), unbroadcast(-dy * y / b, b.shape)))


true_divide = divide


def floor_divide(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    return constant_result(xp.floor_divide(a, b), (x1, x2))


def mod(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    return result(xp.mod(a, b), (x1, x2),
                  lambda dy: (unbroadcast(dy, a.shape), unbroadcast(-dy * xp.floor_divide(a, b), b.shape)))


def power(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    y = a ** b

    def backward(dy):
        da = unbroadcast(dy * b * a ** (b - 1), a.shape)
        db = unbroadcast(dy * y * xp.log(xp.where(a > 0, a, 1)), b.shape) if isinstance(x2, Tensor) or \
            hasattr(unwrap(x2), "shape") else None
        return da, db
    return result(y, (x1, x2), backward)


def negative(x):
    (a,), _ = _arrays(x)
    return result(-a, (x,), lambda dy: (-dy,))


def abs(x):
    (a,), xp = _arrays(x)
    return result(xp.abs(a), (x,), lambda dy: (dy * xp.sign(a),))


absolute = abs


def sign(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.sign(a), (x,))


def square(x):
    (a,), _ = _arrays(x)
    return result(a * a, (x,), lambda dy: (dy * 2 * a,))


def sqrt(x):
    (a,), xp = _arrays(x)
    y = xp.sqrt(a)
    return result(y, (x,), lambda dy: (dy / (2 * y),))


def exp(x):
    (a,), xp = _arrays(x)
    y = xp.exp(a)
    return result(y, (x,), lambda dy: (dy * y,))


def log(x):
    (a,), xp = _arrays(x)
    return result(xp.log(a), (x,), lambda dy: (dy / a,))


def log1p(x):
    (a,), xp = _arrays(x)
    return result(xp.log1p(a), (x,), lambda dy: (dy / (1 + a),))


def sin(x):
    (a,), xp = _arrays(x)
    return result(xp.sin(a), (x,), lambda dy: (dy * xp.cos(a),))


def cos(x):
    (a,), xp = _arrays(x)
    return result(xp.cos(a), (x,), lambda dy: (-dy * xp.sin(a),))


def clip(x, x_min, x_max):
    (a,), xp = _arrays(x)
    y = xp.clip(a, x_min, x_max)
    return result(y, (x,), lambda dy: (dy * ((a >= x_min) & (a <= x_max)),))


def maximum(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    y = xp.maximum(a, b)
    first = a >= b  # ties send the gradient to the first argument
    return result(y, (x1, x2), lambda dy: (unbroadcast(dy * first, a.shape), unbroadcast(dy * ~first, b.shape)))


def minimum(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    y = xp.minimum(a, b)
    first = a <= b
    return result(y, (x1, x2), lambda dy: (unbroadcast(dy * first, a.shape), unbroadcast(dy * ~first, b.shape)))


def where(condition, x1=None, x2=None):
    """``x1`` where ``condition`` holds, else ``x2``; with the condition alone, its nonzero indexes."""
    c = unwrap(condition)
    if x1 is None and x2 is None:
        return constant_result(_xp(c).nonzero(c), (condition,))
    (a, b), xp = _arrays(x1, x2)
    y = xp.where(c, a, b)
    return result(y, (condition, x1, x2),
                  lambda dy: (None, unbroadcast(dy * c, a.shape), unbroadcast(dy * ~c.astype(bool), b.shape)))


# -- comparisons (no gradient) ------------------------------------------------------------------------

def _compare(name):
    def compare(x1, x2):
        (a, b), xp = _arrays(x1, x2)
        return constant_result(getattr(xp, name)(a, b), (x1, x2))
    compare.__name__ = name
    compare.__doc__ = f"Elementwise ``{name}`` (bool); no gradient."
    return compare


equal, not_equal = _compare("equal"), _compare("not_equal")
greater, greater_equal = _compare("greater"), _compare("greater_equal")
less, less_equal = _compare("less"), _compare("less_equal")
logical_and, logical_or = _compare("logical_and"), _compare("logical_or")


def logical_not(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.logical_not(a), (x,))


# -- reductions ---------------------------------------------------------------------------------------

def _axes(axis, ndim):
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, (tuple, list)) else (axis,)))


def _expand(dy, axes, keepdims):
    """``dy`` of a reduction with its reduced axes back (size 1), to broadcast against the input."""
    if keepdims:
        return dy
    for ax in sorted(axes):
        dy = get_array_module(dy).expand_dims(dy, ax)
    return dy


def sum(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    return result(a.sum(axis=axes, keepdims=keepdims), (x,),
                  lambda dy: (xp.broadcast_to(_expand(dy, axes, keepdims), a.shape).copy(),))


def mean(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    return result(a.mean(axis=axes, keepdims=keepdims), (x,),
                  lambda dy: (xp.broadcast_to(_expand(dy, axes, keepdims) / n, a.shape).copy(),))


def var(x, axis=None, keepdims=False):
    m = mean(x, axis=axis, keepdims=True)
    return mean(square(subtract(x, m)), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _extreme(name):
    def extreme(x, axis=None, keepdims=False):
        (a,), xp = _arrays(x)
        axes = _axes(axis, a.ndim)
        y = getattr(a, name)(axis=axes, keepdims=True)

        def backward(dy):
            hit = a == y  # the gradient is shared among tied extremes
            return (_expand(dy, axes, keepdims) * hit / hit.sum(axis=axes, keepdims=True),)
        return result(y if keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in axes]), (x,), backward)
    extreme.__name__ = name
    extreme.__doc__ = f"The {name}imum over ``axis`` (all by default); ties share the gradient."
    return extreme


max, min = _extreme("max"), _extreme("min")
amax, amin = max, min


def argmax(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    return constant_result(xp.argmax(a, axis=axis, keepdims=keepdims), (x,))


def argmin(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    return constant_result(xp.argmin(a, axis=axis, keepdims=keepdims), (x,))


def prod(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    y = a.prod(axis=axes, keepdims=True)
    return result(y if keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in axes]), (x,),
                  lambda dy: (_expand(dy, axes, keepdims) * y / a,))


def cumsum(x, axis=None):
    (a,), xp = _arrays(x)
    if axis is None:
        return cumsum(reshape(x, (-1,)), axis=0)
    return result(xp.cumsum(a, axis=axis), (x,), lambda dy: (xp.flip(xp.cumsum(xp.flip(dy, axis), axis=axis), axis),))


# -- products -----------------------------------------------------------------------------------------

def matmul(x1, x2):
    (a, b), xp = _arrays(x1, x2)
    y = xp.matmul(a, b)

    def backward(dy):
        a2, b2 = (a[None] if a.ndim == 1 else a), (b[:, None] if b.ndim == 1 else b)
        d2 = dy
        if a.ndim == 1:
            d2 = xp.expand_dims(d2, -2)
        if b.ndim == 1:
            d2 = xp.expand_dims(d2, -1)
        da = xp.matmul(d2, xp.swapaxes(b2, -1, -2))
        db = xp.matmul(xp.swapaxes(a2, -1, -2), d2)
        da = da.reshape(da.shape[:-2] + (da.shape[-1],)) if a.ndim == 1 else da
        db = db.reshape(db.shape[:-1]) if b.ndim == 1 else db
        return unbroadcast(da, a.shape), unbroadcast(db, b.shape)
    return result(y, (x1, x2), backward)


def dot(x1, x2):
    """NumPy's dot: a matrix product over the last axis of ``x1`` and the second-to-last of ``x2``
    (a product with a number, a vector dot product)."""
    a, b = unwrap(x1), unwrap(x2)
    if np.ndim(a) == 0 or np.ndim(b) == 0:
        return multiply(x1, x2)
    if np.ndim(b) <= 2:
        return matmul(x1, x2)
    return tensordot(x1, x2, axes=([-1], [-2]))


def tensordot(x1, x2, axes=2):
    (a, b), xp = _arrays(x1, x2)
    if isinstance(axes, int):
        axes = (list(range(a.ndim - axes, a.ndim)), list(range(axes)))
    ax_a, ax_b = [i % a.ndim for i in axes[0]], [i % b.ndim for i in axes[1]]
    y = xp.tensordot(a, b, axes=(ax_a, ax_b))
    free_a = [i for i in range(a.ndim) if i not in ax_a]
    free_b = [i for i in range(b.ndim) if i not in ax_b]

    def backward(dy):
        na = len(free_a)
        da = xp.tensordot(dy, b, axes=(list(range(na, dy.ndim)), free_b))  # free_a then ax_b order of a
        da = xp.transpose(da, np.argsort(free_a + ax_a))
        db = xp.tensordot(a, dy, axes=(free_a, list(range(na))))
        db = xp.transpose(db, np.argsort(ax_b + free_b))
        return da, db
    return result(y, (x1, x2), backward)


def einsum(subscripts, *operands):
    """``xp.einsum`` with its gradient: each operand's is the einsum of the output's gradient with
    the other operands, onto that operand's subscripts (an axis summed away in that operand alone
    gets the gradient broadcast back). Every axis named, none twice in one operand.

    Raises:
        ValueError: for ``...`` or a subscript repeated within one operand (a diagonal).
    """
    arrays, xp = _arrays(*operands)
    spec = subscripts.replace(" ", "")
    letters = spec.split("->")[0].replace(",", "")
    ins, out = spec.split("->") if "->" in spec else (spec, "".join(sorted(c for c in set(letters)
                                                                          if letters.count(c) == 1)))
    ins = ins.split(",")
    if "." in spec or any(len(set(sub)) != len(sub) for sub in ins):
        raise ValueError(f"ops.einsum({subscripts!r}): '...' and a subscript repeated within one operand are not "
                         "supported; name every axis once per operand.")
    y = xp.einsum(f"{','.join(ins)}->{out}", *arrays)

    def backward(dy):
        grads = []
        for i, (sub, a) in enumerate(zip(ins, arrays)):
            others = [s for j, s in enumerate(ins) if j != i]
            seen = out + "".join(others)
            kept = "".join(c for c in sub if c in seen)
            g = xp.einsum(f"{','.join([out] + others)}->{kept}", dy, *[b for j, b in enumerate(arrays) if j != i])
            for k, c in enumerate(sub):
                if c not in seen:
                    g = xp.expand_dims(g, k)
            grads.append(xp.broadcast_to(g, a.shape).astype(a.dtype))
        return grads
    return result(y, operands, backward)
