"""Keras 3's core ops: conversions, dtypes, shapes, constants, and ``stop_gradient``."""
import numpy as np

from minicnn import backend
from minicnn.ops.numpy import _arrays
from minicnn.tape import Tensor, constant_result, result, unwrap


def convert_to_tensor(x, dtype=None, sparse=None, ragged=None):
    """``x`` (an array, a nested list, a number) as an array on the current backend (float32 for
    Python floats), of ``dtype`` if given; a CuPy array stays where it is, a Tensor stays one
    (cast if asked).

    Raises:
        ValueError: for ``sparse=True`` or ``ragged=True`` (minicnn's arrays are dense).
    """
    if sparse or ragged:
        raise ValueError("ops.convert_to_tensor: minicnn has no sparse or ragged tensors; pass sparse=None/False.")
    if isinstance(x, Tensor):
        return x if dtype is None else cast(x, dtype)
    a = x if backend.is_cupy_array(x) else backend.to_device(np.asarray(x))
    if dtype is None and a.dtype == np.float64 and not hasattr(x, "dtype"):
        dtype = backend.floatx()
    return a if dtype is None else a.astype(dtype, copy=False)


def convert_to_numpy(x):
    """A NumPy array of ``x`` (copied from the GPU where it is there)."""
    return backend.to_numpy(unwrap(x))


def cast(x, dtype):
    """``x`` as ``dtype`` (a name or a NumPy dtype); the gradient goes back through casts to a float only."""
    (a,), _ = _arrays(x)
    dtype = np.dtype(dtype)
    y = a.astype(dtype)
    if dtype.kind != "f":
        return constant_result(y, (x,))
    return result(y, (x,), lambda dy: (dy.astype(a.dtype),))


def shape(x):
    """The shape as a tuple of ints (None for a symbolic tensor's batch axis)."""
    return tuple(x.shape)


def dtype(x):
    """The dtype's name (``"float32"``)."""
    return np.dtype(unwrap(x).dtype).name


def stop_gradient(variable):
    """``variable``'s values, cut from the tape: nothing flows back through it."""
    return constant_result(unwrap(variable), (variable,))


def is_tensor(x):
    """Whether ``x`` is a Tensor or an array (NumPy or CuPy)."""
    return isinstance(x, Tensor) or isinstance(x, np.ndarray) or backend.is_cupy_array(x)


def _new(fn, shape, dtype):
    return getattr(backend.xp(), fn)(shape, dtype=np.dtype(dtype or backend.floatx()))


def zeros(shape, dtype=None):
    """Zeros of ``shape`` on the current backend, of ``dtype`` (float32 by default)."""
    return _new("zeros", shape, dtype)


def ones(shape, dtype=None):
    """Ones of ``shape`` on the current backend, of ``dtype`` (float32 by default)."""
    return _new("ones", shape, dtype)


def full(shape, fill_value, dtype=None):
    """``fill_value`` in ``shape`` on the current backend, of ``dtype`` (float32 by default)."""
    return backend.xp().full(shape, fill_value, dtype=np.dtype(dtype or backend.floatx()))


def eye(N, M=None, k=0, dtype=None):
    """The N x M (N x N) matrix with ones on diagonal ``k``, of ``dtype`` (float32 by default)."""
    return backend.xp().eye(N, M, k, dtype=np.dtype(dtype or backend.floatx()))


def arange(start, stop=None, step=None, dtype=None):
    """NumPy's arange on the current backend (integers stay integers)."""
    return backend.xp().arange(start, stop, 1 if step is None else step, dtype=dtype)


def _like(fn):
    def like(x, dtype=None):
        (a,), xp = _arrays(x)
        return constant_result(getattr(xp, fn)(a, dtype=dtype), (x,))
    like.__name__ = fn
    like.__doc__ = f"``{fn}`` in ``x``'s shape (and dtype unless given); no gradient."
    return like


zeros_like, ones_like = _like("zeros_like"), _like("ones_like")


def full_like(x, fill_value, dtype=None):
    """``fill_value`` in ``x``'s shape (and dtype unless given); no gradient."""
    (a,), xp = _arrays(x)
    return constant_result(xp.full_like(a, fill_value, dtype=dtype), (x,))


def size(x):
    """The number of elements."""
    return int(np.prod(x.shape))


def round(x, decimals=0):
    (a,), xp = _arrays(x)
    return constant_result(xp.round(a, decimals), (x,))


def floor(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.floor(a), (x,))


def ceil(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.ceil(a), (x,))


def isnan(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.isnan(a), (x,))


def isfinite(x):
    (a,), xp = _arrays(x)
    return constant_result(xp.isfinite(a), (x,))


def all(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    return constant_result(xp.all(a, axis=axis, keepdims=keepdims), (x,))


def any(x, axis=None, keepdims=False):
    (a,), xp = _arrays(x)
    return constant_result(xp.any(a, axis=axis, keepdims=keepdims), (x,))


def sort(x, axis=-1):
    """``x`` sorted along ``axis``; the gradient goes back to where each value came from."""
    (a,), xp = _arrays(x)
    from minicnn.ops.shaping import take_along_axis
    return take_along_axis(x, xp.argsort(a, axis=axis), axis)

