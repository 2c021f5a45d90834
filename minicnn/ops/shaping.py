"""Keras 3's ops that move values without computing new ones: reshape, transpose, concatenate,
stack, split, expand_dims, squeeze, indexing, tile, repeat, pad; each with its backward for the tape."""
import builtins

import numpy as np

from minicnn.ops.numpy import _arrays
from minicnn.tape import result, results, unwrap


def reshape(x, newshape):
    (a,), _ = _arrays(x)
    return result(a.reshape(newshape), (x,), lambda dy: (dy.reshape(a.shape),))


def flatten(x):
    """All axes as one (NumPy's ravel; Keras's ``ops.ravel``)."""
    return reshape(x, (-1,))


ravel = flatten


def transpose(x, axes=None):
    (a,), xp = _arrays(x)
    axes = tuple(range(a.ndim))[::-1] if axes is None else tuple(i % a.ndim for i in axes)
    return result(xp.transpose(a, axes), (x,), lambda dy: (xp.transpose(dy, tuple(np.argsort(axes).tolist())),))


def swapaxes(x, axis1, axis2):
    (a,), _ = _arrays(x)
    axes = list(range(a.ndim))
    axes[axis1], axes[axis2] = axes[axis2], axes[axis1]
    return transpose(x, axes)


def moveaxis(x, source, destination):
    (a,), _ = _arrays(x)
    order = [i for i in range(a.ndim) if i != source % a.ndim]
    order.insert(destination % a.ndim, source % a.ndim)
    return transpose(x, order)


def expand_dims(x, axis):
    (a,), xp = _arrays(x)
    return result(xp.expand_dims(a, axis), (x,), lambda dy: (dy.reshape(a.shape),))


def squeeze(x, axis=None):
    (a,), xp = _arrays(x)
    return result(xp.squeeze(a, axis=axis), (x,), lambda dy: (dy.reshape(a.shape),))


def concatenate(xs, axis=0):
    """The arrays of the list ``xs`` joined along ``axis`` (an existing one)."""
    arrays, xp = _arrays(*xs)
    ends = np.cumsum([a.shape[axis] for a in arrays])[:-1].tolist()  # ints: a host array would not reach CuPy
    return result(xp.concatenate(arrays, axis=axis), tuple(xs), lambda dy: xp.split(dy, ends, axis=axis))


def stack(x, axis=0):
    """The arrays of the list ``x`` (one shape) joined along a new ``axis``."""
    arrays, xp = _arrays(*x)
    y = xp.stack(arrays, axis=axis)
    return result(y, tuple(x), lambda dy: [xp.take(dy, i, axis=axis) for i in range(len(arrays))])


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into equal sections (an int) or at the indexes given; a list."""
    (a,), xp = _arrays(x)
    parts = xp.split(a, indices_or_sections, axis=axis)
    if len(parts) == 1:  # the tape hands a record with one output its gradient alone, not in a list
        return [result(parts[0], (x,), lambda dy: (dy,))]
    return results(parts, (x,), lambda dys: (xp.concatenate(dys, axis=axis),))


def unstack(x, num=None, axis=0):
    (a,), _ = _arrays(x)
    return [take(x, i, axis=axis) for i in range(a.shape[axis])]


def getitem(x, index):
    """``x[index]`` (any NumPy index: ints, slices, None, Ellipsis, integer or bool arrays, Tensors);
    the gradient is scattered back, summed where an index repeats."""
    (a,), xp = _arrays(x)
    index = _on(xp, index)

    def backward(dy):
        dx = xp.zeros_like(a)
        if _is_basic(index):
            # A trailing Ellipsis keeps a single element a 0-d view: assigning to it copies on the
            # device, where an element assignment would read dy on the host.
            items = index if isinstance(index, tuple) else (index,)
            dx[items if any(i is Ellipsis for i in items) else items + (Ellipsis,)] = dy
        else:
            xp.add.at(dx, index, dy)  # repeated indexes sum
        return (dx,)
    return result(a[index], (x,), backward)


def _on(xp, index):
    """``index`` with its Tensors unwrapped and its index arrays (and lists) in ``xp``'s memory."""
    if isinstance(index, tuple):
        return tuple(_on(xp, i) for i in index)
    index = unwrap(index)
    if isinstance(index, list) or hasattr(index, "shape") and not np.isscalar(index):
        return xp.asarray(index)
    return index


def _is_basic(index):
    """Whether ``index`` picks each element at most once: no integer arrays (bool masks are fine)."""
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, np.integer, builtins.slice)) or
               hasattr(i, "dtype") and i.dtype == bool for i in items)


def take(x, indices, axis=None):
    """The elements at ``indices`` along ``axis`` (of the flattened array for None); repeats allowed."""
    (a,), xp = _arrays(x)
    idx = unwrap(indices)
    if axis is None:
        return getitem(reshape(x, (-1,)), idx if np.isscalar(idx) else xp.asarray(idx))
    index = (builtins.slice(None),) * (axis % a.ndim) + (idx if np.isscalar(idx) else xp.asarray(idx),)
    return getitem(x, index)


def take_along_axis(x, indices, axis=None):
    """``x``'s values at ``indices`` along ``axis`` (of the flattened array for None), ``indices``
    broadcasting against ``x`` on the other axes; repeats allowed."""
    if axis is None:
        return take_along_axis(reshape(x, (-1,)), reshape(indices, (-1,)), axis=0)
    (a,), xp = _arrays(x)
    idx = xp.asarray(unwrap(indices))
    axis %= a.ndim
    y = xp.take_along_axis(a, idx, axis=axis)

    def backward(dy):
        # The full index of every output element: ``idx`` on ``axis``, open ranges on the others.
        grid = [xp.arange(n).reshape((1,) * k + (n,) + (1,) * (dy.ndim - k - 1)) for k, n in enumerate(dy.shape)]
        grid[axis] = idx
        dx = xp.zeros_like(a)
        xp.add.at(dx, tuple(grid), dy)
        return (dx,)
    return result(y, (x,), backward)


def slice(inputs, start_indices, shape):
    """``inputs[start : start + shape]`` on every axis (Keras's ``ops.slice``)."""
    return getitem(inputs, tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape)))


def tile(x, repeats):
    (a,), xp = _arrays(x)
    reps = (repeats,) if np.isscalar(repeats) else tuple(repeats)
    reps = (1,) * (a.ndim - len(reps)) + reps
    b = a.reshape((1,) * (len(reps) - a.ndim) + a.shape)
    y = xp.tile(b, reps)

    def backward(dy):
        split_shape = [n for r, s in zip(reps, b.shape) for n in (r, s)]
        return (dy.reshape(split_shape).sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(a.shape),)
    return result(y, (x,), backward)


def repeat(x, repeats, axis=None):
    (a,), xp = _arrays(x)
    if axis is None:
        return repeat(reshape(x, (-1,)), repeats, axis=0)
    axis %= a.ndim
    y = xp.repeat(a, repeats, axis=axis)

    def backward(dy):
        if np.isscalar(repeats):
            shape = a.shape[:axis] + (a.shape[axis], repeats) + a.shape[axis + 1:]
            return (dy.reshape(shape).sum(axis=axis + 1),)
        ends = np.cumsum(repeats)[:-1].tolist()
        return (xp.stack([p.sum(axis=axis) for p in xp.split(dy, ends, axis=axis)], axis=axis),)
    return result(y, (x,), backward)


def broadcast_to(x, shape):
    from minicnn.ops.numpy import unbroadcast
    (a,), xp = _arrays(x)
    return result(xp.broadcast_to(a, shape).copy(), (x,), lambda dy: (unbroadcast(dy, a.shape),))


def pad(x, pad_width, mode="constant", constant_values=None):
    """``x`` with ``pad_width`` (an int, a (before, after) pair, or one pair per axis) values of
    ``constant_values`` (0 by default) around it.

    Raises:
        ValueError: for a mode other than "constant".
    """
    (a,), xp = _arrays(x)
    width = np.broadcast_to(np.asarray(pad_width), (a.ndim, 2))
    if mode != "constant":
        raise ValueError(f"ops.pad: mode={mode!r} is not supported; use 'constant'.")
    y = xp.pad(a, [tuple(int(v) for v in w) for w in width], constant_values=constant_values or 0)
    inner = tuple(builtins.slice(int(lo), int(lo) + n) for (lo, _), n in zip(width, a.shape))
    return result(y, (x,), lambda dy: (dy[inner],))
