"""The merge ops: element-wise add, subtract, multiply, average, maximum, minimum over a list of
arrays, and concatenation along an axis, each with its backward beside it.

Every array has the batch axis first, ``x_i`` (N, *s_i). The element-wise ops broadcast as
Keras 3's merge layers do: the per-sample shapes ``s_i`` are aligned on the right, a shorter
one gets size-1 axes inserted just after the batch axis (Keras's ``expand_dims(x, 1)``), and
size-1 axes then broadcast, NumPy style. So (N, 3) and (N, 4, 3) give (N, 4, 3), never the
NumPy pairing of N with 4.

The element-wise forwards fold left, ``y = op(...op(op(x_0, x_1), x_2)..., x_n-1)``, in the order
Keras applies them, so float32 results are the same as Keras's bit for bit. Each backward returns
the list of ``dx_i``, summed over the axes ``x_i`` was broadcast along so that ``dx_i`` has
``x_i``'s shape. A ``dx_i`` may be ``dy`` itself (add), one array shared by several inputs
(average) or a view of ``dy`` (concatenate): callers must not modify gradients in place.
"""
import itertools

import numpy as np

from minicnn.backend import get_array_module


def expand_ranks(xs):
    """The arrays with size-1 axes inserted after the batch axis up to the largest rank (views)."""
    R = max(x.ndim for x in xs)
    return [x if x.ndim == R else x.reshape(x.shape[0], *(1,) * (R - x.ndim), *x.shape[1:]) for x in xs]


def unbroadcast(dx, shape):
    """Sum dx (the broadcast shape) over the axes an array of ``shape`` was broadcast along, and give
    it that shape. dx itself when nothing was broadcast."""
    if dx.shape == tuple(shape):
        return dx
    e = (shape[0], *(1,) * (dx.ndim - len(shape)), *shape[1:])
    axes = tuple(i for i, (a, b) in enumerate(zip(e, dx.shape)) if a == 1 and b != 1)
    return (dx.sum(axis=axes, keepdims=True) if axes else dx).reshape(shape)


def _fold(op, xs):
    """op folded left over the rank-expanded xs; y (the broadcast shape) is a fresh array."""
    xs = expand_ranks(xs)
    y = op(xs[0], xs[1])
    for x in xs[2:]:
        # In place once y has the full shape and dtype: no temporary per further input.
        fits = np.broadcast_shapes(y.shape, x.shape) == y.shape and np.result_type(y.dtype, x.dtype) == y.dtype
        y = op(y, x, out=y if fits else None)
    return y


def _partials(op, xs):
    """[x_0, op(x_0, x_1), ...]: the left operand of each step of the fold (rank-expanded xs)."""
    m = [xs[0]]
    for x in xs[1:-1]:
        m.append(op(m[-1], x))
    return m


def add_forward(xs):
    """y = x_0 + x_1 + ... (broadcast shape); the cache is the input shapes."""
    return _fold(get_array_module(*xs).add, xs), [x.shape for x in xs]


def add_backward(dy, shapes):
    """dx_i = dy summed to x_i's shape: the same ``dy`` object for every unbroadcast input."""
    return [unbroadcast(dy, s) for s in shapes]


def subtract_forward(xs):
    """y = x_0 - x_1 (exactly two inputs); the cache is the input shapes.

    Raises:
        ValueError: for a number of inputs other than two.
    """
    if len(xs) != 2:
        raise ValueError(f"subtract takes exactly 2 inputs, got {len(xs)}.")
    return _fold(get_array_module(*xs).subtract, xs), [x.shape for x in xs]


def subtract_backward(dy, shapes):
    """dx_0 = dy, dx_1 = -dy, each summed to its input's shape."""
    return [unbroadcast(dy, shapes[0]), unbroadcast(-dy, shapes[1])]


def average_forward(xs):
    """y = (x_0 + x_1 + ...) / n; the cache is the input shapes."""
    y = _fold(get_array_module(*xs).add, xs)
    y /= len(xs)
    return y, [x.shape for x in xs]


def average_backward(dy, shapes):
    """dx_i = dy / n summed to x_i's shape (one division, shared by the unbroadcast inputs)."""
    g = dy / len(shapes)
    return [unbroadcast(g, s) for s in shapes]


def multiply_forward(xs):
    """y = x_0 * x_1 * ...; the cache is the inputs (references, no copies)."""
    return _fold(get_array_module(*xs).multiply, xs), list(xs)


def multiply_backward(dy, xs):
    """dx_i = dy times the product of the other inputs, summed to x_i's shape.

    Walks the fold backwards (dx_k = g * (x_0 ... x_k-1), then g = g * x_k), recomputing the
    running products rather than caching them: nothing beyond x_0 for two inputs.
    """
    xp = get_array_module(dy, *xs)
    e = expand_ranks(xs)
    m = _partials(xp.multiply, e)
    dx, g = [None] * len(xs), dy
    for k in range(len(xs) - 1, 0, -1):
        dx[k] = unbroadcast(g * m[k - 1], xs[k].shape)
        g = g * e[k]
    dx[0] = unbroadcast(g, xs[0].shape)
    return dx


def maximum_forward(xs):
    """y = max(...max(max(x_0, x_1), x_2)..., x_n-1); the cache is the inputs."""
    return _fold(get_array_module(*xs).maximum, xs), list(xs)


def minimum_forward(xs):
    """y = min(...min(min(x_0, x_1), x_2)..., x_n-1); the cache is the inputs."""
    return _fold(get_array_module(*xs).minimum, xs), list(xs)


def _extreme_backward(dy, xs, op, wins):
    """Backward of a fold of maximum or minimum: at each step the gradient goes to the operand
    that ``wins`` (is greater for maximum), and is split in halves on a tie.

    The halves are Keras 3's on the torch backend (torch.maximum's own gradient), applied step by
    step: three tied inputs get dy/4, dy/4, dy/2.
    """
    xp = get_array_module(dy, *xs)
    e = expand_ranks(xs)
    m = _partials(op, e)
    dx, g = [None] * len(xs), dy
    for k in range(len(xs) - 1, 0, -1):
        a, b = m[k - 1], e[k]
        to_a = xp.where(wins(a, b), g, xp.where(a == b, g * 0.5, 0))  # stays in dy's dtype
        dx[k] = unbroadcast(g - to_a, xs[k].shape)
        g = to_a
    dx[0] = unbroadcast(g, xs[0].shape)
    return dx


def maximum_backward(dy, xs):
    """dx_i: dy where x_i holds the maximum, 0 elsewhere, ties split step by step (see above)."""
    return _extreme_backward(dy, xs, get_array_module(dy, *xs).maximum, lambda a, b: a > b)


def minimum_backward(dy, xs):
    """dx_i: dy where x_i holds the minimum, 0 elsewhere, ties split step by step (see above)."""
    return _extreme_backward(dy, xs, get_array_module(dy, *xs).minimum, lambda a, b: a < b)


def concatenate_forward(xs, axis=-1):
    """xs (N, ..., d_i, ...) joined along ``axis`` -> y (N, ..., sum d_i, ...); the cache is
    (the sizes d_i, axis). Shapes must agree off the axis (checked by the layer)."""
    return get_array_module(*xs).concatenate(xs, axis=axis), ([x.shape[axis] for x in xs], axis)


def concatenate_backward(dy, cache):
    """dx_i: the slice of dy along the axis that x_i filled (views of dy)."""
    sizes, axis = cache
    return get_array_module(dy).split(dy, list(itertools.accumulate(sizes[:-1])), axis=axis)


# name: (forward, backward) of the element-wise merges.
ELEMENTWISE = {
    "add": (add_forward, add_backward),
    "subtract": (subtract_forward, subtract_backward),
    "multiply": (multiply_forward, multiply_backward),
    "average": (average_forward, average_backward),
    "maximum": (maximum_forward, maximum_backward),
    "minimum": (minimum_forward, minimum_backward),
}
