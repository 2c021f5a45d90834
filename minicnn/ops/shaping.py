"""Keras 3's ops that move values without computing new ones: reshape, transpose, concatenate,
stack, split, expand_dims, squeeze, indexing, tile, repeat; each with its backward for the tape."""
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
    return result(xp.transpose(a, axes), (x,), lambda dy: (xp.transpose(dy, np.argsort(axes)),))


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
    arrays, xp = _arrays(*xs)
    ends = np.cumsum([a.shape[axis] for a in arrays])[:-1]
    return result(xp.concatenate(arrays, axis=axis), tuple(xs), lambda dy: xp.split(dy, ends, axis=axis))


def stack(xs, axis=0):
    arrays, xp = _arrays(*xs)
    y = xp.stack(arrays, axis=axis)
    return result(y, tuple(xs), lambda dy: [xp.take(dy, i, axis=axis) for i in range(len(arrays))])


def split(x, indices_or_sections, axis=0):
    """``x`` cut along ``axis`` into equal sections (an int) or at the indexes given; a list."""
    (a,), xp = _arrays(x)
    parts = xp.split(a, indices_or_sections, axis=axis)
    return results(parts, (x,), lambda dys: (xp.concatenate(dys, axis=axis),))


def unstack(x, num=None, axis=0):
    (a,), _ = _arrays(x)
    return [take(x, i, axis=axis) for i in range(a.shape[axis])]


def getitem(x, index):
    """``x[index]`` (any NumPy index: ints, slices, None, Ellipsis, integer or bool arrays)."""
    (a,), xp = _arrays(x)
    index = tuple(unwrap(i) for i in index) if isinstance(index, tuple) else unwrap(index)

    def backward(dy):
        dx = xp.zeros_like(a)
        if _is_basic(index):
            dx[index] = dy
        else:
            xp.add.at(dx, index, dy)  # repeated indexes sum
        return (dx,)
    return result(a[index], (x,), backward)


def _is_basic(index):
    items = index if isinstance(index, tuple) else (index,)
    return all(i is None or i is Ellipsis or isinstance(i, (int, slice, np.integer)) for i in items)


def take(x, indices, axis=None):
    (a,), xp = _arrays(x)
    idx = unwrap(indices)
    if axis is None:
        return getitem(reshape(x, (-1,)), xp.asarray(idx))
    index = (slice(None),) * (axis % a.ndim) + (xp.asarray(idx) if not np.isscalar(idx) else idx,)
    return getitem(x, index)


def take_along_axis(x, indices, axis=None):
    (a,), xp = _arrays(x)
    idx = unwrap(indices)
    y = xp.take_along_axis(a, idx, axis=axis)

    def backward(dy):
        dx = xp.zeros_like(a)
        xp.put_along_axis(dx, idx, dy, axis=axis) if _unique_along(xp, idx, axis) else \
            xp.add.at(dx, tuple(xp.indices(idx.shape, sparse=True)[:axis % a.ndim]) + (idx,) +
                      tuple(xp.indices(idx.shape, sparse=True)[axis % a.ndim + 1:]), dy)
        return (dx,)
    return result(y, (x,), backward)


def _unique_along(xp, idx, axis):
    s = xp.sort(idx, axis=axis)
    return not bool((xp.diff(s, axis=axis) == 0).any())


def slice(x, start_indices, shape):
    """``x[start : start + shape]`` on every axis (Keras's ``ops.slice``)."""
    import builtins
    return getitem(x, tuple(builtins.slice(s, s + n) for s, n in zip(start_indices, shape)))


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
        ends = np.cumsum(repeats)[:-1]
        return (xp.stack([p.sum(axis=axis) for p in xp.split(dy, ends, axis=axis)], axis=axis),)
    return result(y, (x,), backward)


def broadcast_to(x, shape):
    from minicnn.ops.numpy import unbroadcast
    (a,), xp = _arrays(x)
    return result(xp.broadcast_to(a, shape).copy(), (x,), lambda dy: (unbroadcast(dy, a.shape),))


def pad(x, pad_width, mode="constant", constant_values=0):
    (a,), xp = _arrays(x)
    width = np.broadcast_to(np.asarray(pad_width), (a.ndim, 2))
    if mode != "constant":
        raise ValueError(f"ops.pad: mode={mode!r} is not supported; use 'constant'.")
    y = xp.pad(a, [tuple(int(v) for v in w) for w in width], constant_values=constant_values)
    import builtins
    inner = tuple(builtins.slice(int(lo), int(lo) + n) for (lo, _), n in zip(width, a.shape))
    return result(y, (x,), lambda dy: (dy[inner],))
