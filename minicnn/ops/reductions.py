"""Keras 3's reductions (``keras.ops.sum``, ``mean``, ``max``, ``argmax``, ``norm``...), over
``axis`` (None: all; an int, negative counting from the end; or a tuple) with ``keepdims``,
each with its backward for the tape: the output's gradient spread back over the reduced axes."""
import numpy as np

from minicnn.ops.core import cast
from minicnn.ops.numpy import _arrays, _floats, abs, divide, multiply, not_equal, power, sqrt, square, subtract
from minicnn.ops.shaping import reshape, squeeze
from minicnn.tape import constant_result, result


def _axes(axis, ndim):
    """``axis`` as a tuple of non-negative axes (all of them for None).

    Raises:
        ValueError: for an axis outside [-ndim, ndim).
    """
    if axis is None:
        return tuple(range(ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    for a in axes:
        if not -ndim <= a < ndim:
            raise ValueError(f"ops: axis {a} is out of range for an array of rank {ndim}.")
    return tuple(a % ndim for a in axes)


def _expand(dy, axes, keepdims, xp):
    """``dy`` of a reduction with its reduced axes back (size 1), to broadcast against the input."""
    return dy if keepdims else xp.expand_dims(dy, axes)


def _spread(dy, a, axes, keepdims, xp):
    """The gradient of a sum: ``dy`` copied over the reduced axes."""
    return xp.broadcast_to(_expand(dy, axes, keepdims, xp), a.shape).copy()


def sum(x, axis=None, keepdims=False):
    """The sum over ``axis`` (all by default)."""
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    return result(a.sum(axis=axes, keepdims=keepdims), (x,), lambda dy: (_spread(dy, a, axes, keepdims, xp),))


def mean(x, axis=None, keepdims=False):
    """The mean over ``axis`` (all by default); float32 for integers, as Keras's."""
    (a,), xp = _floats(x)
    axes = _axes(axis, a.ndim)
    n = int(np.prod([a.shape[i] for i in axes]))
    return result(a.mean(axis=axes, keepdims=keepdims), (x,), lambda dy: (_spread(dy / n, a, axes, keepdims, xp),))


def var(x, axis=None, keepdims=False):
    """The (biased) variance over ``axis``: the mean squared deviation from the mean."""
    return mean(square(subtract(x, mean(x, axis=axis, keepdims=True))), axis=axis, keepdims=keepdims)


def std(x, axis=None, keepdims=False):
    """The (biased) standard deviation over ``axis``; its gradient is undefined where it is 0."""
    return sqrt(var(x, axis=axis, keepdims=keepdims))


def _extreme(name, pick):
    def extreme(x, axis=None, keepdims=False, initial=None):
        (a,), xp = _arrays(x)
        axes = _axes(axis, a.ndim)
        y = getattr(a, name)(axis=axes, keepdims=True)
        if initial is not None:
            y = pick(y, xp.asarray(initial, dtype=y.dtype))

        def backward(dy):
            hit = a == y  # tied extremes share the gradient; none gets it where ``initial`` won
            count = xp.maximum(hit.sum(axis=axes, keepdims=True, dtype=a.dtype), 1)
            return (_expand(dy, axes, keepdims, xp) * hit / count,)
        return result(y if keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in axes]), (x,), backward)
    extreme.__name__ = name
    extreme.__doc__ = (f"The {name}imum over ``axis`` (all by default), or ``initial`` where that is past it; "
                       "tied extremes share the gradient.")
    return extreme


max = amax = _extreme("max", np.maximum)
min = amin = _extreme("min", np.minimum)


def argmax(x, axis=None, keepdims=False):
    """The index of the largest value over ``axis`` (of the flattened array for None); no gradient."""
    (a,), xp = _arrays(x)
    return constant_result(xp.argmax(a, axis=axis, keepdims=keepdims), (x,))


def argmin(x, axis=None, keepdims=False):
    """The index of the smallest value over ``axis`` (of the flattened array for None); no gradient."""
    (a,), xp = _arrays(x)
    return constant_result(xp.argmin(a, axis=axis, keepdims=keepdims), (x,))


def prod(x, axis=None, keepdims=False, dtype=None):
    """The product over ``axis``; each value's gradient is the product of the others (so zeros are fine)."""
    if dtype is not None:
        x = cast(x, dtype)
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    y = a.prod(axis=axes, keepdims=keepdims)
    return result(y, (x,), lambda dy: (_expand(dy, axes, keepdims, xp) * _product_of_others(a, axes, xp),))


def _product_of_others(a, axes, xp):
    """For each value of ``a``, the product of the other values in its reduction: the product of
    those before it times those after it (exclusive running products), never a division."""
    keep = [i for i in range(a.ndim) if i not in axes]
    order = keep + list(axes)
    t = xp.transpose(a, order)
    b = t.reshape(t.shape[:len(keep)] + (-1,))
    ones = xp.ones(b.shape[:-1] + (1,), dtype=a.dtype)
    before = xp.cumprod(xp.concatenate([ones, b[..., :-1]], axis=-1), axis=-1)
    after = xp.flip(xp.cumprod(xp.concatenate([ones, xp.flip(b, -1)[..., :-1]], axis=-1), axis=-1), -1)
    return xp.transpose((before * after).reshape(t.shape), tuple(np.argsort(order)))


def cumsum(x, axis=None, dtype=None):
    """Running sums along ``axis`` (of the flattened array for None)."""
    if dtype is not None:
        x = cast(x, dtype)
    if axis is None:
        return cumsum(reshape(x, (-1,)), axis=0)
    (a,), xp = _arrays(x)
    # Each value reaches every running sum from its place on: the reversed running sum of dy.
    return result(xp.cumsum(a, axis=axis), (x,),
                  lambda dy: (xp.flip(xp.cumsum(xp.flip(dy, axis), axis=axis), axis),))


def cumprod(x, axis=None, dtype=None):
    """Running products along ``axis`` (of the flattened array for None). The gradient divides by
    ``x`` (as TensorFlow's does), so it is not defined where ``x`` has zeros."""
    if dtype is not None:
        x = cast(x, dtype)
    if axis is None:
        return cumprod(reshape(x, (-1,)), axis=0)
    (a,), xp = _arrays(x)
    y = xp.cumprod(a, axis=axis)
    return result(y, (x,), lambda dy: (xp.flip(xp.cumsum(xp.flip(dy * y, axis), axis=axis), axis) / a,))


def logsumexp(x, axis=None, keepdims=False):
    """``log(sum(exp(x)))`` over ``axis``, shifted by the maximum so exp never overflows; its
    gradient is the softmax."""
    (a,), xp = _arrays(x)
    axes = _axes(axis, a.ndim)
    m = a.max(axis=axes, keepdims=True)
    m = xp.where(xp.isfinite(m), m, 0)  # all -inf: log(0) = -inf, not nan
    y = xp.log(xp.exp(a - m).sum(axis=axes, keepdims=True)) + m
    out = y if keepdims else y.reshape([n for i, n in enumerate(a.shape) if i not in axes])
    return result(out, (x,), lambda dy: (_expand(dy, axes, keepdims, xp) * xp.exp(a - y),))


def norm(x, ord=None, axis=None, keepdims=False):
    """A vector norm over one axis, a matrix norm over two, as NumPy's ``linalg.norm``.

    ``axis`` None: the 2-norm of all values for ``ord`` None, else the vector or matrix norm of a
    1-D or 2-D ``x``. Vector orders: None/2, 1, inf, -inf, 0 (the count of nonzeros, no gradient),
    any other p ((sum |x|**p) ** (1/p)). Matrix orders: None/"fro", 1, -1, inf, -inf.

    Raises:
        ValueError: for a matrix order that needs singular values (2, -2, "nuc"), an unknown order,
            or ``axis`` None with ``ord`` given on an array of rank above 2.
    """
    ndim = len(_arrays(x)[0][0].shape)
    if axis is None:
        if ord is None or ndim == 0:
            return sqrt(sum(square(x), keepdims=keepdims))
        if ndim > 2:
            raise ValueError(f"ops.norm: ord={ord!r} with axis=None needs a 1-D or 2-D array, got rank {ndim}; "
                             "pass axis.")
        axis = tuple(range(ndim))
    axes = _axes(axis, ndim)
    if len(axes) == 1:
        if ord in (None, 2):
            return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
        if ord == 0:
            return sum(cast(not_equal(x, 0), _arrays(x)[0][0].dtype), axis=axes, keepdims=keepdims)
        if ord in (np.inf, -np.inf):
            return (max if ord > 0 else min)(abs(x), axis=axes, keepdims=keepdims)
        if ord == 1:
            return sum(abs(x), axis=axes, keepdims=keepdims)
        if isinstance(ord, str):
            raise ValueError(f"ops.norm: ord={ord!r} is a matrix norm; a vector norm (one axis) takes a number.")
        return power(sum(power(abs(x), ord), axis=axes, keepdims=keepdims), 1.0 / ord)
    if len(axes) != 2 or axes[0] == axes[1]:
        raise ValueError(f"ops.norm: axis must be one axis or two distinct ones, got {axis!r}.")
    rows, cols = axes
    if ord in (None, "fro"):
        return sqrt(sum(square(x), axis=axes, keepdims=keepdims))
    if ord not in (1, -1, np.inf, -np.inf):
        raise ValueError(f"ops.norm: matrix ord={ord!r} is not supported (2, -2 and 'nuc' need singular values); "
                         "use None/'fro', 1, -1, inf or -inf.")
    summed, over = (rows, cols) if ord in (1, -1) else (cols, rows)  # 1: largest column sum; inf: largest row sum
    y = (max if ord > 0 else min)(sum(abs(x), axis=summed, keepdims=True), axis=over, keepdims=True)
    return y if keepdims else squeeze(y, axis=axes)


def average(x, axis=None, weights=None):
    """The mean over ``axis``, weighted by ``weights`` (shaped as ``x``, or 1-D along ``axis``)."""
    if weights is None:
        return mean(x, axis=axis)
    (a, w), _ = _arrays(x, weights)
    if w.ndim == 1 and a.ndim > 1:
        if axis is None:
            raise ValueError("ops.average: 1-D weights need the axis they run along.")
        shape = [1] * a.ndim
        shape[_axes(axis, a.ndim)[0]] = -1
        return divide(sum(multiply(x, reshape(weights, shape)), axis=axis), sum(weights))
    return divide(sum(multiply(x, weights), axis=axis), sum(weights, axis=axis))
