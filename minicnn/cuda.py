"""The CUDA kernels of the cupy backend: ``kernels/*.cu``, compiled once per process.

Each wrapper takes and returns CuPy arrays (float32 or float64; images NHWC, channels last)
and launches one kernel with one thread per output element in a grid-stride loop; the
normalizations launch a few, one thread per reduced segment or per element. Geometry
follows Keras, as in :mod:`minicnn.nn`: ``sh, sw`` are the strides, ``pt, pl`` the top and
left padding (0 for ``"valid"``; for ``"same"``, half the total padding rounded down) and
``OH, OW`` the output size.

The sources ship inside the package as ``minicnn/kernels/*.cu``; in a source checkout they
are the repository's top-level ``kernels/`` folder. :func:`kernel_files` and
:func:`kernel_source` read them without CuPy. Each file is compiled by NVRTC through
``cupy.RawModule`` once per process and dtype, with ``-DMINICNN_REAL=float`` or ``double``.
"""
import functools
import importlib.resources
import math
from pathlib import Path

import numpy as np

from minicnn.backend import _import_cupy

LANGUAGE_OPTIONS = ("--std=c++17",)
"""The options every kernel is compiled with (the dtype's ``-DMINICNN_REAL=...`` is added)."""

FAMILIES = ("conv", "pooling", "optimizers", "normalization")
"""The kernel files, one per op family: ``kernels/<family>.cu``."""

NORM_SEGMENT = 64
"""Elements each thread of the normalization kernels reduces: one partial result per 64 elements
(2/64 of x's size in scratch), and threads enough to fill the GPU even where a few rows are long."""

BLOCK = 256  # threads per block; every kernel declares __launch_bounds__(256)
_MAX_GRID = 65536  # blocks; the grid-stride loops cover the rest
_MAX_ELEMENTS = 2**31 - 1 - BLOCK * _MAX_GRID  # kernels index with int, i + stride included
_REAL = {"float32": "float", "float64": "double"}


def kernel_dir():
    """The folder of the kernel sources: the installed ``minicnn.kernels``, else the checkout's ``kernels/``."""
    try:
        folder = importlib.resources.files("minicnn.kernels")
        if folder.joinpath("conv.cu").is_file():
            return folder
    except ModuleNotFoundError:  # an editable install maps only minicnn/ itself
        pass
    return Path(__file__).resolve().parent.parent / "kernels"


def kernel_files():
    """The kernel sources, one per family in :data:`FAMILIES` (paths or importlib Traversables)."""
    folder = kernel_dir()
    return [folder.joinpath(f"{family}.cu") for family in FAMILIES]


def kernel_source(family):
    """The CUDA C source of one family, e.g. ``kernel_source("conv")``.

    Raises:
        ValueError: for a name not in :data:`FAMILIES`.
        FileNotFoundError: if the sources are missing from the installation.
    """
    if family not in FAMILIES:
        raise ValueError(f"Unknown kernel family {family!r}; valid families are {list(FAMILIES)}.")
    path = kernel_dir().joinpath(f"{family}.cu")
    if not path.is_file():
        raise FileNotFoundError(f"CUDA source {path} is missing; reinstall minicnn.")
    return path.read_text(encoding="utf-8")


def compile_options(dtype):
    """The NVRTC options for kernels on ``dtype`` arrays: LANGUAGE_OPTIONS plus the real type."""
    return LANGUAGE_OPTIONS + (f"-DMINICNN_REAL={_real(dtype)}",)


def launch_config(n):
    """``(grid, block)``, the blocks and threads per block for ``n`` elements of work."""
    return min(-(-n // BLOCK), _MAX_GRID), BLOCK


def _real(dtype):
    name = np.dtype(dtype).name
    if name not in _REAL:
        raise TypeError(f"The CUDA kernels take float32 or float64 arrays, got {name}.")
    return _REAL[name]


@functools.lru_cache(maxsize=None)
def _cupy():
    return _import_cupy()


@functools.lru_cache(maxsize=None)
def _module(family, dtype_name):
    return _cupy().RawModule(code=kernel_source(family), options=compile_options(dtype_name))


@functools.lru_cache(maxsize=None)
def _kernel(family, name, dtype_name):
    return _module(family, dtype_name).get_function(name)


def _launch(family, name, dtype, n, args):
    """Run kernel ``name`` with n threads' worth of work on the module of ``family`` and ``dtype``."""
    biggest = max([n] + [a.size for a in args if not isinstance(a, np.generic)])
    if biggest > _MAX_ELEMENTS:
        raise ValueError(f"{name}: an array of {biggest} elements is more than the kernels index "
                         f"({_MAX_ELEMENTS}); use a smaller batch.")
    if n == 0:
        return
    grid, block = launch_config(n)
    _kernel(family, name, np.dtype(dtype).name)((grid,), (block,), args)


def _ints(*values):
    return tuple(np.int32(v) for v in values)


def _image(x, name="x"):
    _real(x.dtype)
    if x.ndim != 4:
        raise ValueError(f"{name} must be 4-D (N, H, W, C), got shape {tuple(x.shape)}.")
    return _cupy().ascontiguousarray(x)


def _input_hw(x_shape, dy):
    """H, W of a pooling input, checked against dy's batch and channels."""
    N, H, W, C = x_shape
    if (N, C) != (dy.shape[0], dy.shape[3]):
        raise ValueError(f"x_shape {tuple(x_shape)} does not match dy's shape {tuple(dy.shape)}.")
    return H, W


def _in_place(w, *arrays):
    """Check that arrays written in place (and their operands) share one contiguous shape and dtype."""
    _real(w.dtype)
    for a in (w,) + arrays:
        if a.dtype != w.dtype or tuple(a.shape) != tuple(w.shape) or not a.flags.c_contiguous:
            raise ValueError("Arrays updated in place must be C-contiguous with one dtype and shape; got "
                             f"{a.dtype} {tuple(a.shape)} beside {w.dtype} {tuple(w.shape)}.")


def im2col(x, KH, KW, sh, sw, pt, pl, OH, OW):
    """Gather the convolution patches: x (N, H, W, C) -> cols (N*OH*OW, KH*KW*C).

    Row ``(n*OH + oh)*OW + ow``, column ``(kh*KW + kw)*C + c`` holds
    ``x[n, oh*sh - pt + kh, ow*sw - pl + kw, c]``, or 0 where that is padding.
    """
    x = _image(x)
    N, H, W, C = x.shape
    cols = _cupy().empty((N * OH * OW, KH * KW * C), dtype=x.dtype)
    _launch("conv", "im2col", x.dtype, cols.size,
            (x, cols) + _ints(N, H, W, C, KH, KW, sh, sw, pt, pl, OH, OW))
    return cols


def col2im(cols, x_shape, KH, KW, sh, sw, pt, pl, OH, OW):
    """The adjoint of :func:`im2col`: cols (N*OH*OW, KH*KW*C) -> dx of ``x_shape`` (N, H, W, C).

    Each input element gets the sum of the cols entries copied from it (deterministic: no atomics).
    """
    N, H, W, C = x_shape
    _real(cols.dtype)
    if tuple(cols.shape) != (N * OH * OW, KH * KW * C):
        raise ValueError(f"cols must have the shape {(N * OH * OW, KH * KW * C)}, got {tuple(cols.shape)}.")
    cols = _cupy().ascontiguousarray(cols)
    dx = _cupy().empty((N, H, W, C), dtype=cols.dtype)
    _launch("conv", "col2im", cols.dtype, dx.size,
            (cols, dx) + _ints(N, H, W, C, KH, KW, sh, sw, pt, pl, OH, OW))
    return dx


def maxpool_forward(x, PH, PW, sh, sw, pt, pl, OH, OW):
    """Max pooling: x (N, H, W, C) -> (y (N, OH, OW, C), argmax (N, OH, OW, C) int32).

    ``argmax`` is ``kh*PW + kw`` of the first maximum of each window in row-major order;
    padded positions never win.
    """
    x = _image(x)
    N, H, W, C = x.shape
    y = _cupy().empty((N, OH, OW, C), dtype=x.dtype)
    argmax = _cupy().empty((N, OH, OW, C), dtype=np.int32)
    _launch("pooling", "maxpool_forward", x.dtype, y.size,
            (x, y, argmax) + _ints(N, H, W, C, PH, PW, sh, sw, pt, pl, OH, OW))
    return y, argmax


def maxpool_backward(dy, argmax, x_shape, PH, PW, sh, sw, pt, pl):
    """Route dy (N, OH, OW, C) to each window's argmax: -> dx of ``x_shape`` (N, H, W, C).

    Overlapping windows add up, in a fixed order (deterministic: no atomics).
    """
    dy = _image(dy, "dy")
    N, OH, OW, C = dy.shape
    H, W = _input_hw(x_shape, dy)
    if argmax.dtype != np.int32 or tuple(argmax.shape) != tuple(dy.shape):
        raise ValueError(f"argmax must be int32 of dy's shape {tuple(dy.shape)}, "
                         f"got {argmax.dtype} {tuple(argmax.shape)}.")
    argmax = _cupy().ascontiguousarray(argmax)
    dx = _cupy().empty((N, H, W, C), dtype=dy.dtype)
    _launch("pooling", "maxpool_backward", dy.dtype, dx.size,
            (dy, argmax, dx) + _ints(N, H, W, C, PH, PW, sh, sw, pt, pl, OH, OW))
    return dx


def avgpool_forward(x, PH, PW, sh, sw, pt, pl, OH, OW):
    """Average pooling: x (N, H, W, C) -> y (N, OH, OW, C), averaging only non-padded elements."""
    x = _image(x)
    N, H, W, C = x.shape
    y = _cupy().empty((N, OH, OW, C), dtype=x.dtype)
    _launch("pooling", "avgpool_forward", x.dtype, y.size,
            (x, y) + _ints(N, H, W, C, PH, PW, sh, sw, pt, pl, OH, OW))
    return y


def avgpool_backward(dy, x_shape, PH, PW, sh, sw, pt, pl):
    """The gradient of :func:`avgpool_forward`: dy (N, OH, OW, C) -> dx of ``x_shape`` (N, H, W, C)."""
    dy = _image(dy, "dy")
    N, OH, OW, C = dy.shape
    H, W = _input_hw(x_shape, dy)
    dx = _cupy().empty((N, H, W, C), dtype=dy.dtype)
    _launch("pooling", "avgpool_backward", dy.dtype, dx.size,
            (dy, dx) + _ints(N, H, W, C, PH, PW, sh, sw, pt, pl, OH, OW))
    return dx


def sgd_update(w, g, lr, m=None, momentum=0.0, nesterov=False):
    """One SGD step, in place on w (and m, w's shape).

    ``w -= lr*g``; with momentum ``m = momentum*m - lr*g`` then ``w += m``, or with nesterov
    ``w += momentum*m - lr*g``.

    Raises:
        ValueError: for a momentum without m, or arrays of different shapes or dtypes.
    """
    real = w.dtype.type
    if m is None:
        if momentum:
            raise ValueError("sgd_update with momentum needs its velocity array m.")
        _in_place(w, g)
        _launch("optimizers", "sgd_update", w.dtype, w.size, (w, g) + _ints(w.size) + (real(lr),))
        return
    _in_place(w, g, m)
    _launch("optimizers", "sgd_momentum_update", w.dtype, w.size,
            (w, g, m) + _ints(w.size) + (real(lr), real(momentum)) + _ints(bool(nesterov)))


def adam_update(w, g, m, v, lr, beta_1, beta_2, epsilon, t):
    """One Adam step at step ``t`` (from 1), in place on w, m and v (all w's shape).

    ``m += (g - m)*(1 - beta_1); v += (g*g - v)*(1 - beta_2); w -= alpha*m/(sqrt(v) + epsilon)``
    with the bias corrections folded into ``alpha = lr*sqrt(1 - beta_2**t)/(1 - beta_1**t)``.
    """
    _in_place(w, g, m, v)
    real = w.dtype.type
    alpha = lr * math.sqrt(1.0 - beta_2**t) / (1.0 - beta_1**t)
    _launch("optimizers", "adam_update", w.dtype, w.size,
            (w, g, m, v) + _ints(w.size) + (real(alpha), real(beta_1), real(beta_2), real(epsilon)))


def rmsprop_update(w, g, v, lr, rho, epsilon):
    """One RMSprop step, in place on w and v (w's shape).

    ``v = rho*v + (1 - rho)*g*g; w -= lr*g/sqrt(v + epsilon)``.
    """
    _in_place(w, g, v)
    real = w.dtype.type
    _launch("optimizers", "rmsprop_update", w.dtype, w.size,
            (w, g, v) + _ints(w.size) + (real(lr), real(rho), real(epsilon)))


def adadelta_update(w, g, a, b, lr, rho, epsilon):
    """One Adadelta step, in place on w, a (running mean of g*g) and b (of d*d), all w's shape.

    ``a = rho*a + (1 - rho)*g*g; d = -sqrt(b + epsilon)/sqrt(a + epsilon)*g;
    b = rho*b + (1 - rho)*d*d; w += lr*d``.
    """
    _in_place(w, g, a, b)
    real = w.dtype.type
    _launch("optimizers", "adadelta_update", w.dtype, w.size,
            (w, g, a, b) + _ints(w.size) + (real(lr), real(rho), real(epsilon)))


def _segments(count):
    """(S, L): the segments of L = NORM_SEGMENT elements that cover a reduction over ``count``."""
    return -(-count // NORM_SEGMENT), NORM_SEGMENT


def _rows(x, view, name="x"):
    """x as a contiguous array, checked against the view (N, A, G, Cg, B)."""
    _real(x.dtype)
    if x.size != math.prod(view):
        raise ValueError(f"{name} of shape {tuple(x.shape)} cannot be viewed as (N, A, G, Cg, B) = {tuple(view)}.")
    return _cupy().ascontiguousarray(x)


def _channel_vector(p, x, view, fill, name):
    """gamma or beta as a contiguous (G*Cg,) array of x's dtype; None becomes ``fill``."""
    size = view[2] * view[3]
    if p is None:
        return _cupy().full(size, fill, dtype=x.dtype)
    if p.dtype != x.dtype or p.size != size:
        raise ValueError(f"{name} must hold G*Cg = {size} elements of x's dtype {x.dtype}, "
                         f"got {p.dtype} {tuple(p.shape)}.")
    return _cupy().ascontiguousarray(p).reshape(size)


def norm_forward(x, gamma, beta, view, eps):
    """Layer or group normalization of x viewed as ``view`` = (N, A, G, Cg, B): each of the N*G rows
    (n, g) normalised over its A*Cg*B elements, then scaled by gamma and shifted by beta, (G*Cg,)
    (one per (g, k); None for 1 and 0).

    Returns:
        y (x's shape), and the rows' mean and rstd = 1/sqrt(var + eps), (N*G,) each.
    Raises:
        ValueError: for x not of the view's size, gamma or beta of another size or dtype.
    """
    x = _rows(x, view)
    gamma, beta = _channel_vector(gamma, x, view, 1, "gamma"), _channel_vector(beta, x, view, 0, "beta")
    N, A, G, Cg, B = view
    R, count = N * G, A * Cg * B
    S, L = _segments(count)
    cp = _cupy()
    part = cp.empty((2, S, R), dtype=x.dtype)
    _launch("normalization", "norm_moments", x.dtype, S * R, (x, part) + _ints(N, A, G, Cg, B, S, L))
    mean, rstd = cp.empty(R, dtype=x.dtype), cp.empty(R, dtype=x.dtype)
    _launch("normalization", "norm_stats", x.dtype, R,
            (part, mean, rstd) + _ints(R, S, L, count) + (x.dtype.type(eps),))
    y = cp.empty_like(x)
    _launch("normalization", "norm_forward", x.dtype, x.size,
            (x, mean, rstd, gamma, beta, y) + _ints(N, A, G, Cg, B))
    return y, mean, rstd


def norm_backward(dy, x, mean, rstd, gamma, view, param_grads=True):
    """The gradients of :func:`norm_forward`, from dy (x's shape), x, and the mean and rstd it returned.

    Returns:
        dx (dy's shape), and dgamma and dbeta (G*Cg,), or None for both without ``param_grads``.
    Raises:
        ValueError: for dy or x not of the view's size, or of different shapes or dtypes.
    """
    dy, x = _rows(dy, view, "dy"), _rows(x, view)
    if tuple(dy.shape) != tuple(x.shape) or dy.dtype != x.dtype:
        raise ValueError(f"dy must have x's shape {tuple(x.shape)} and dtype {x.dtype}, "
                         f"got {tuple(dy.shape)} {dy.dtype}.")
    gamma = _channel_vector(gamma, x, view, 1, "gamma")
    N, A, G, Cg, B = view
    R, C, cp = N * G, G * Cg, _cupy()
    S, L = _segments(A * Cg * B)
    part = cp.empty((2, S, R), dtype=x.dtype)
    _launch("normalization", "norm_backward_sums", x.dtype, S * R,
            (dy, x, mean, rstd, gamma, part) + _ints(N, A, G, Cg, B, S, L))
    dx = cp.empty_like(x)
    _launch("normalization", "norm_backward", x.dtype, x.size,
            (dy, x, mean, rstd, gamma, part.sum(axis=1), dx) + _ints(N, A, G, Cg, B))
    if not param_grads:
        return dx, None, None
    S, L = _segments(N * A * B)
    part = cp.empty((2, S, C), dtype=x.dtype)
    _launch("normalization", "norm_param_sums", x.dtype, S * C,
            (dy, x, mean, rstd, part) + _ints(N, A, G, Cg, B, S, L))
    sums = part.sum(axis=1)  # the segments' partial sums, in a fixed order: deterministic
    return dx, sums[0], sums[1]
