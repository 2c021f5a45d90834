"""The batch augmentations of Keras 3's preprocessing layers, with their backward.

Once the layer has drawn its random parameters, each augmentation is a fixed function of the
batch, linear in x but for RandomContrast's clip, so its backward is exact: a flip's adjoint is
the same flip; an affine resampling's is the scatter-add of dy into the input pixels each output
pixel read, with the same weights (what autograd gives Keras for its gather).

The affine transform reuses ImageDataGenerator's matrices and source coordinates
(:mod:`minicnn.preprocessing.affine`), but reads the input at them as Keras 3 does
(``keras.ops.image.affine_transform``, JAX's ``map_coordinates``): the interpolation taps are
found first, and the border mode folds each tap's index, where Keras 2 (scipy) folds the
coordinate. Along an axis of ``n`` pixels, for a tap at index ``i``:

- ``"reflect"``: ``d c b a | a b c d | d c b a``, i reflected about -0.5 and n - 0.5 (the same
  values as scipy's "reflect");
- ``"nearest"``: ``a a a | a b c d | d d d``, i clipped (the same as scipy's);
- ``"wrap"``: ``a b c d | a b c d | a b c d``, i modulo n (scipy's "grid-wrap"; Keras 2's
  "wrap" has period n - 1);
- ``"constant"``: a tap outside [0, n - 1] reads ``fill_value``, blended with the taps inside,
  so the image edge fades into the fill over one pixel (Keras 2 cuts it off).

Nearest-pixel interpolation rounds halves to even, as ``torch.round`` and ``jnp.round`` do.
"""
import importlib

import numpy as np

from minicnn.backend import get_array_module

FILL_MODES = ("reflect", "wrap", "constant", "nearest")
INTERPOLATIONS = {"nearest": 0, "bilinear": 1}


def flip_forward(x, flips, axes):
    """Flip the images where ``flips`` is True, along every axis of ``axes`` together.

    Args:
        x: (N, ...) images; flips: (N,) booleans on x's array module; axes: the axes to flip
            (1 and/or 2 for (N, H, W, C)). Returns y, of x's shape.
    """
    xp = get_array_module(x)
    flipped = xp.flip(x, axis=tuple(axes))  # a view: the one pass is the select
    return xp.where(flips.reshape((-1,) + (1,) * (x.ndim - 1)), flipped, x)


def flip_backward(dy, flips, axes):
    """A flip is its own inverse and a permutation, so its adjoint is itself."""
    return flip_forward(dy, flips, axes)


def contrast_forward(x, factor, low, high, axes):
    """``clip((x - mean) * factor + mean, low, high)``, the mean of each image and channel.

    Args:
        x: (N, ...) images; factor: (N,) on x's array module; axes: the two spatial axes.
        low, high: the clip range (Keras's ``value_range``).
    Returns:
        y (x's shape and dtype), and the cache: the factor (N, 1, 1, 1), the mask of the
        values the clip let through, the axes.
    """
    xp = get_array_module(x)
    f = factor.astype(x.dtype).reshape((-1,) + (1,) * (x.ndim - 1))
    mean = x.mean(axis=tuple(axes), keepdims=True)
    z = (x - mean) * f + mean
    inside = (z >= low) & (z <= high)
    return xp.clip(z, low, high), (f, inside, tuple(axes))


def contrast_backward(dy, cache):
    """y = f x + (1 - f) mean(x) inside the clip: dx = f g + (1 - f) mean(g), g = dy where not clipped."""
    f, inside, axes = cache
    g = dy * inside
    return g * f + (1 - f) * g.mean(axis=axes, keepdims=True)


def _affine():
    """minicnn.preprocessing.affine, imported at first use: ``import minicnn`` leaves the
    preprocessing package (ImageDataGenerator and its iterators) unloaded until asked for."""
    return importlib.import_module("minicnn.preprocessing.affine")


def affine_matrices(N, H, W, theta=0.0, tx=0.0, ty=0.0, zx=1.0, zy=1.0):
    """ImageDataGenerator's matrices (:func:`minicnn.preprocessing.affine.transform_matrices`, no
    shear) for N images of H x W: each parameter (N,) or one number for all, as documented there
    (theta in degrees, counter-clockwise; tx, ty: where an output pixel reads, in pixels; zx, zy
    above 1 zoom out). Returns (N, 3, 3) float64 host matrices."""
    theta, tx, ty, zx, zy, shear = np.broadcast_arrays(theta, tx, ty, zx, zy, np.zeros(N))
    return _affine().transform_matrices(theta, tx, ty, shear, zx, zy, H, W)


def _fold(i, n, fill_mode, xp):
    """Tap indices (whole numbers, as floats) mapped into [0, n - 1], in floating point: NumPy's
    integer modulo costs about five times a floor. ("constant" clips; its outside taps get no weight.)"""
    if fill_mode == "reflect":  # about the pixel edges -0.5 and n - 0.5: period 2n
        i = i - 2 * n * xp.floor(i / (2 * n))
        return xp.where(i >= n, 2 * n - 1 - i, i)
    if fill_mode == "wrap":
        return i - n * xp.floor(i / n)
    return xp.clip(i, 0, n - 1)


def _axis_taps(coord, n, fill_mode, order, dtype, xp):
    """Along one axis, each tap as (int64 index in [0, n - 1], weight of ``dtype`` or None for
    nearest, inside mask or None but for "constant")."""
    if order == 0:
        nodes = [(xp.round(coord), None)]  # halves to even, as torch.round and jnp.round
    else:
        lower = xp.floor(coord)
        frac = (coord - lower).astype(dtype)
        nodes = [(lower, 1 - frac), (lower + 1, frac)]
    return [(_fold(index, n, fill_mode, xp).astype(xp.int64), weight,
             (index >= 0) & (index <= n - 1) if fill_mode == "constant" else None) for index, weight in nodes]


def _taps(T, shape, fill_mode, order, dtype, xp):
    """The 4 bilinear taps (1 for nearest) of every output pixel: (flat input pixel index (N, H, W),
    weight (N, H, W) or None, the share of the fill (N, H, W) or None). Outside taps ("constant")
    have weight 0 and give their weight to the fill."""
    N, H, W, _ = shape
    rows, cols = _affine().source_coordinates(T, H, W, xp=xp)
    first = (xp.arange(N) * H)[:, None, None]
    col_taps = _axis_taps(cols, W, fill_mode, order, dtype, xp)
    taps = []
    for r, wr, inside_r in _axis_taps(rows, H, fill_mode, order, dtype, xp):
        for c, wc, inside_c in col_taps:
            weight, fill = None if wr is None else wr * wc, None
            if inside_r is not None:
                inside = inside_r & inside_c
                fill = ~inside if weight is None else weight * ~inside
                weight = inside if weight is None else weight * inside
            taps.append(((first + r) * W + c, weight, fill))
    return taps


def affine_forward(x, T, fill_mode="reflect", fill_value=0.0, order=1):
    """Resample each image of a batch at its affine matrix's source coordinates, Keras 3's way.

    Args:
        x: (N, H, W, C) float images (NumPy or CuPy).
        T: (N, 3, 3) matrices (:func:`affine_matrices`): output pixel (col, row) reads the input
            at ``T @ (col, row, 1)``.
        fill_mode: one of :data:`FILL_MODES`; fill_value: what "constant" reads outside.
        order: 1 (bilinear) or 0 (nearest pixel).
    Returns:
        y (N, H, W, C) of x's dtype, and the cache: the matrices and x's shape (the backward
        recomputes the taps from them rather than keeping four index arrays).
    """
    xp = get_array_module(x)
    pixels = x.reshape(-1, x.shape[-1])
    y = fill_share = None
    for index, weight, fill in _taps(T, x.shape, fill_mode, order, x.dtype, xp):
        v = xp.take(pixels, index, axis=0)  # a gather of whole pixels, 4x faster than x[index]
        if weight is not None:
            v *= weight.astype(x.dtype, copy=False)[..., None]
        if y is None:
            y = v
        else:
            y += v
        if fill is not None:
            fill_share = fill if fill_share is None else fill_share + fill
    if fill_share is not None and fill_value != 0:
        y += (fill_share * x.dtype.type(fill_value)).astype(x.dtype, copy=False)[..., None]
    return y, (T, x.shape, fill_mode, order)


def affine_backward(dy, cache):
    """The adjoint of :func:`affine_forward`: each output pixel's gradient added, with its tap
    weights, into the input pixels it read (the fill takes none). dx has dy's dtype.

    The scatter-add is a ``bincount`` per channel over the taps' pixel indexes: NumPy's and CuPy's
    alike, and exact where several taps fold onto one pixel (the border modes, zooming out). One
    bincount over (pixel, channel) pairs would need an index C times the size, and takes 4x longer."""
    T, shape, fill_mode, order = cache
    xp = get_array_module(dy)
    N, H, W, C = shape
    indexes, values = [], []
    for index, weight, _ in _taps(T, shape, fill_mode, order, dy.dtype, xp):
        indexes.append(index.reshape(-1))
        values.append((dy if weight is None else dy * weight[..., None]).reshape(-1, C))
    index, values = xp.concatenate(indexes), xp.concatenate(values).T
    dx = xp.stack([xp.bincount(index, weights=values[c], minlength=N * H * W) for c in range(C)], axis=1)
    return dx.astype(dy.dtype).reshape(shape)
