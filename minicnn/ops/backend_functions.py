"""Keras 1/2's backend functions (``from keras import backend as K``; ``K.sum``, ``K.square``...):
the ops of :mod:`minicnn.ops` under their old names, with Keras 2's argument names and defaults
(``K.concatenate(tensors, axis=-1)``, ``K.argmax(x, axis=-1)``, ``K.cumsum(x, axis=0)``...).

They are reached as attributes of :mod:`minicnn.backend` (its module ``__getattr__`` looks here),
so ``import minicnn as keras; K = keras.backend`` gives them as Keras 2 programs expect; being
ops, they record on the tape, so a ``Lambda`` or a loss written with them trains.
"""
import numpy as np

from minicnn import backend as _backend
from minicnn import ops

__all__ = [
    "abs", "all", "any", "arange", "argmax", "argmin", "batch_dot", "batch_flatten", "batch_get_value",
    "binary_crossentropy", "cast", "categorical_crossentropy", "clip", "concatenate", "constant", "cos",
    "count_params", "cumprod", "cumsum", "dot", "dtype", "elu", "epsilon", "equal", "eval", "exp",
    "expand_dims", "eye", "flatten", "gather", "get_value", "greater", "greater_equal", "hard_sigmoid",
    "int_shape", "is_keras_tensor", "l2_normalize", "less", "less_equal", "log", "logsumexp", "max", "maximum",
    "mean", "min", "minimum", "ndim", "not_equal", "one_hot", "ones", "ones_like", "permute_dimensions",
    "pow", "prod", "relu", "repeat_elements", "reshape", "round", "set_epsilon", "set_value", "shape",
    "sigmoid", "sign", "sin", "softmax", "softplus", "softsign", "sparse_categorical_crossentropy", "sqrt",
    "square", "squeeze", "stack", "std", "stop_gradient", "sum", "switch", "tanh", "tile", "transpose",
    "var", "variable", "zeros", "zeros_like",
]

_EPSILON = [1e-7]

# -- the same function, the same arguments ----------------------------------------------------------
abs, exp, log, square = ops.abs, ops.exp, ops.log, ops.square
round, sign, sin, cos = ops.round, ops.sign, ops.sin, ops.cos
maximum, minimum, cast, stop_gradient = ops.maximum, ops.minimum, ops.cast, ops.stop_gradient
equal, not_equal, greater, greater_equal, less, less_equal = (ops.equal, ops.not_equal, ops.greater,
                                                              ops.greater_equal, ops.less, ops.less_equal)
sum, mean, max, min, prod, std, var = ops.sum, ops.mean, ops.max, ops.min, ops.prod, ops.std, ops.var
any, all, logsumexp, dot, reshape, stack = ops.any, ops.all, ops.logsumexp, ops.dot, ops.reshape, ops.stack
sigmoid, tanh, softplus, softsign, softmax = ops.sigmoid, ops.tanh, ops.softplus, ops.softsign, ops.softmax
categorical_crossentropy = ops.categorical_crossentropy
sparse_categorical_crossentropy = ops.sparse_categorical_crossentropy
binary_crossentropy, squeeze, tile, elu, one_hot = ops.binary_crossentropy, ops.squeeze, ops.tile, ops.elu, ops.one_hot


def epsilon():
    """The fuzz factor Keras adds to avoid dividing by zero or taking log(0): 1e-7 unless set."""
    return _EPSILON[0]


def set_epsilon(value):
    """Set :func:`epsilon`'s value (a float)."""
    _EPSILON[0] = float(value)


# -- Keras 2's spellings and defaults -----------------------------------------------------------------

def sqrt(x):
    """The square root, with negative values taken as 0 (Keras 2's, so rounding below 0 gives 0, not nan)."""
    return ops.sqrt(ops.maximum(x, 0.0))


def pow(x, a):
    """``x ** a``."""
    return ops.power(x, a)


def clip(x, min_value, max_value):
    """``x`` limited to [min_value, max_value] (None: no limit on that side)."""
    if min_value is not None and max_value is not None and max_value < min_value:
        max_value = min_value  # Keras 2 clips to the lower bound then
    return ops.clip(x, min_value, max_value)


def argmax(x, axis=-1):
    """The index of the largest value along ``axis`` (the last by default, as Keras 2's)."""
    return ops.argmax(x, axis=axis)


def argmin(x, axis=-1):
    """The index of the smallest value along ``axis`` (the last by default, as Keras 2's)."""
    return ops.argmin(x, axis=axis)


def cumsum(x, axis=0):
    """Running sums along ``axis`` (the first by default, as Keras 2's)."""
    return ops.cumsum(x, axis=axis)


def cumprod(x, axis=0):
    """Running products along ``axis`` (the first by default, as Keras 2's)."""
    return ops.cumprod(x, axis=axis)


def concatenate(tensors, axis=-1):
    """The list ``tensors`` joined along ``axis`` (the last by default, as Keras 2's)."""
    return ops.concatenate(list(tensors), axis=axis)


def expand_dims(x, axis=-1):
    """``x`` with a new axis of size 1 at ``axis`` (the end by default, as Keras 2's)."""
    return ops.expand_dims(x, axis)


def flatten(x):
    """All of ``x`` as one axis."""
    return ops.reshape(x, (-1,))


def batch_flatten(x):
    """Each sample flattened: (N, ...) -> (N, everything else)."""
    return ops.reshape(x, (int_shape(x)[0], -1))


def permute_dimensions(x, pattern):
    """``x``'s axes reordered by ``pattern`` (a tuple of axes)."""
    return ops.transpose(x, tuple(pattern))


def transpose(x):
    """``x``'s axes reversed (a matrix's transpose)."""
    return ops.transpose(x)


def repeat_elements(x, rep, axis):
    """Each element of ``x`` repeated ``rep`` times along ``axis``."""
    return ops.repeat(x, rep, axis=axis)


def gather(reference, indices):
    """The rows of ``reference`` (along axis 0) at ``indices``."""
    return ops.take(reference, indices, axis=0)


def switch(condition, then_expression, else_expression):
    """``then_expression`` where ``condition`` holds, else ``else_expression``."""
    return ops.where(condition, then_expression, else_expression)


def relu(x, alpha=0.0, max_value=None, threshold=0.0):
    """Keras 2's relu: x above ``threshold`` (capped at ``max_value``), ``alpha * (x - threshold)`` below."""
    if alpha == 0 and max_value is None and threshold == 0:
        return ops.relu(x)
    above = x if max_value is None else ops.minimum(x, max_value)
    return ops.where(ops.greater(x, threshold), above, ops.multiply(ops.subtract(x, threshold), alpha))


def hard_sigmoid(x):
    """Keras 2's hard sigmoid, ``clip(0.2 * x + 0.5, 0, 1)`` (Keras 3's is relu6(x + 3) / 6)."""
    return ops.clip(ops.add(ops.multiply(x, 0.2), 0.5), 0.0, 1.0)


def l2_normalize(x, axis=None):
    """``x / sqrt(max(sum(x**2, axis), 1e-12))``."""
    return ops.multiply(x, ops.rsqrt(ops.maximum(ops.sum(ops.square(x), axis=axis, keepdims=True), 1e-12)))


def batch_dot(x, y, axes=None):
    """Per sample (axis 0 of both), the sum of products of ``x``'s axis ``axes[0]`` with ``y``'s
    ``axes[1]``; the other axes of ``x``, then of ``y``, stay. ``axes`` None: ``x``'s last with
    ``y``'s second to last (its last when it is 2-D); an int: that axis of both. A result with no
    axis beside the batch is (N, 1), as in Keras 2.

    Raises:
        ValueError: when an axis is the batch axis, or the two axes differ in length.
    """
    sx, sy = int_shape(x), int_shape(y)
    nx, ny = len(sx), len(sy)
    if axes is None:
        axes = (nx - 1, ny - 1 if ny == 2 else ny - 2)
    elif isinstance(axes, int):
        axes = (axes, axes)
    ax, ay = axes[0] % nx, axes[1] % ny
    if ax == 0 or ay == 0 or sx[ax] != sy[ay]:
        raise ValueError(f"batch_dot: cannot pair axis {axes[0]} of shape {sx} with axis {axes[1]} of shape {sy}; "
                         "the axes must have the same length and not be the batch axis 0.")
    letters = iter("abcdefghijklmnopqrstuvwxy")
    ix = ["z"] + [next(letters) for _ in range(nx - 1)]
    iy = ["z"] + [ix[ax] if k == ay else next(letters) for k in range(1, ny)]
    out = [c for k, c in enumerate(ix) if k != ax] + [c for k, c in enumerate(iy) if k not in (0, ay)]
    y_ = ops.einsum(f"{''.join(ix)},{''.join(iy)}->{''.join(out)}", x, y)
    return ops.expand_dims(y_, 1) if len(out) == 1 else y_


# -- shapes, values, constants ------------------------------------------------------------------------

def int_shape(x):
    """The shape as a tuple of ints, None where unknown (a symbolic tensor's batch axis)."""
    return tuple(None if n is None else int(n) for n in x.shape)


def shape(x):
    """The shape, as :func:`int_shape` (Keras 2 gave a tensor; its items are what programs use)."""
    return int_shape(x)


def ndim(x):
    """The number of axes."""
    return len(x.shape)


def dtype(x):
    """The dtype's name (``"float32"``)."""
    return np.dtype(x.dtype).name


def count_params(x):
    """The number of values in ``x``."""
    return int(np.prod(int_shape(x)))


def is_keras_tensor(x):
    """Whether ``x`` is a symbolic tensor (``keras.Input`` or a layer's output on one)."""
    from minicnn.graph import KerasTensor
    return isinstance(x, KerasTensor)


def variable(value, dtype=None, name=None, constraint=None):
    """``value`` as an array on the current backend, of ``dtype`` (floatx by default)."""
    return ops.convert_to_tensor(np.asarray(value) if not hasattr(value, "shape") else value,
                                 dtype=dtype or _backend.floatx())


def constant(value, dtype=None, shape=None, name=None):
    """``value`` (broadcast to ``shape`` if given) as an array on the current backend, of ``dtype`` (floatx)."""
    a = variable(value, dtype)
    return a if shape is None else _backend.get_array_module(a).broadcast_to(a, tuple(shape)).copy()


def zeros(shape, dtype=None, name=None):
    """Zeros of ``shape``, of ``dtype`` (floatx by default)."""
    return ops.zeros(shape, dtype=dtype)


def ones(shape, dtype=None, name=None):
    """Ones of ``shape``, of ``dtype`` (floatx by default)."""
    return ops.ones(shape, dtype=dtype)


def eye(size, dtype=None, name=None):
    """The identity matrix of ``size`` (an int, or (rows, columns))."""
    rows, cols = (size, size) if isinstance(size, int) else size
    return ops.eye(rows, cols, dtype=dtype)


def zeros_like(x, dtype=None, name=None):
    """Zeros in ``x``'s shape (and dtype unless given)."""
    return ops.zeros_like(x, dtype=dtype)


def ones_like(x, dtype=None, name=None):
    """Ones in ``x``'s shape (and dtype unless given)."""
    return ops.ones_like(x, dtype=dtype)


def arange(start, stop=None, step=1, dtype="int32"):
    """``start, start + step, ...`` below ``stop`` (int32 by default, as Keras 2's)."""
    return ops.arange(start, stop, step, dtype=dtype)


def eval(x):
    """``x``'s values as a NumPy array."""
    return ops.convert_to_numpy(x)


get_value = eval


def batch_get_value(tensors):
    """:func:`get_value` of each of ``tensors``."""
    return [get_value(t) for t in tensors]


def set_value(x, value):
    """Write ``value`` into the array (or Variable) ``x``, in place."""
    if hasattr(x, "assign"):
        x.assign(value)
    else:
        x[...] = _backend.get_array_module(x).asarray(value, dtype=x.dtype)
