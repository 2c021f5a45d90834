"""Affine transforms of a whole batch of images at once, by indexing.

Keras 2 transforms one image at a time with ``scipy.ndimage.affine_transform``: every output
pixel reads the input at a source coordinate given by a 3x3 matrix, interpolated (bilinear by
default) with a border mode for coordinates outside the image. Here the source coordinates of all
the batch's pixels are computed in one go, and the four neighbours gathered by fancy indexing, on
the array module of the data (NumPy, or CuPy on the GPU). No loop over images or pixels, no SciPy.

The matrix is Keras 2's, in its last form (keras-preprocessing after 1.1.2, tf.keras's
``apply_affine_transform``, Keras 3's ``keras.legacy`` copy): in (x, y) = (column, row)
coordinates, ``rotation @ shift @ shear @ zoom``, applied about the image centre. The border modes
are scipy.ndimage's, which Keras passes its ``fill_mode`` to unchanged:

- ``"nearest"``: ``a a a | a b c d | d d d``
- ``"constant"``: ``k k k | a b c d | k k k`` (k = cval; a source coordinate outside
  [0, size - 1] gives k, with no blending across the edge)
- ``"reflect"``: ``c b a | a b c d | d c b`` (the edge pixel repeated: NumPy's "symmetric")
- ``"wrap"``: ``b c d | a b c d | a b c``: scipy's wrap has period size - 1, the last pixel and the
  first overlapping (``"grid-wrap"`` would be NumPy's wrap; Keras 2 does not use it).
"""
import numpy as np

from minicnn.backend import get_array_module

FILL_MODES = ("nearest", "constant", "reflect", "wrap")
INTERPOLATION_ORDERS = (0, 1)


def _stack_3x3(a, b, c, d, e, f):
    """(N, 3, 3) float64 matrices [[a, b, c], [d, e, f], [0, 0, 1]] from (N,) entries."""
    a, b, c, d, e, f = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (a, b, c, d, e, f)))
    m = np.zeros(a.shape + (3, 3))
    m[..., 0, 0], m[..., 0, 1], m[..., 0, 2] = a, b, c
    m[..., 1, 0], m[..., 1, 1], m[..., 1, 2] = d, e, f
    m[..., 2, 2] = 1.0
    return m


def transform_matrices(theta, tx, ty, shear, zx, zy, H, W):
    """Keras 2's affine matrix of each image: where each output pixel reads its input.

    Args:
        theta: (N,) rotation angles in degrees (positive turns the content counter-clockwise).
        tx, ty: (N,) shifts in pixels along x (columns) and y (rows); an output pixel reads the
            input ``tx`` columns to its right, so positive ``tx`` moves the content left.
        shear: (N,) shear angles in degrees.
        zx, zy: (N,) zoom factors along x and y (above 1 reads a larger area: zooms out).
        H, W: the image height and width.

    Returns:
        (N, 3, 3) float64 host array T: the source of output pixel (x, y) = (col, row) is
        ``T @ (x, y, 1)``. Built as Keras 2 does, ``R @ S @ Sh @ Z`` about the centre
        ((W - 1) / 2, (H - 1) / 2). Keras 2 puts the centre at ((H - 1) / 2, (W - 1) / 2), the
        same for square images; for others its centre has x and y swapped, which this corrects.
    """
    theta, shear = np.deg2rad(theta), np.deg2rad(shear)
    zero, one = np.zeros_like(theta), np.ones_like(theta)
    rotation = _stack_3x3(np.cos(theta), -np.sin(theta), zero, np.sin(theta), np.cos(theta), zero)
    shift = _stack_3x3(one, zero, tx, zero, one, ty)
    shearing = _stack_3x3(one, -np.sin(shear), zero, zero, np.cos(shear), zero)
    zoom = _stack_3x3(zx, zero, zero, zero, zy, zero)
    ox, oy = (W - 1) / 2, (H - 1) / 2
    to_centre, from_centre = _stack_3x3(1, 0, ox, 0, 1, oy), _stack_3x3(1, 0, -ox, 0, 1, -oy)
    return to_centre @ (rotation @ shift @ shearing @ zoom) @ from_centre


def source_coordinates(T, H, W, flip_horizontal=None, flip_vertical=None, xp=np):
    """Where each output pixel reads the input: float64 ``rows, cols``, each (N, H, W).

    Keras 2 flips after the affine transform; a flip only renumbers the output pixels, so it is
    folded in here (output column j of a flipped image is column W - 1 - j before the flip).

    Args:
        T: (N, 3, 3) matrices from :func:`transform_matrices` (host or ``xp`` array).
        flip_horizontal, flip_vertical: None or (N,) booleans.
        xp: the array module the coordinates are made on.
    """
    T = xp.asarray(T)[:, :, :, None, None]
    r = xp.arange(H, dtype=xp.float64)[None, :, None]
    c = xp.arange(W, dtype=xp.float64)[None, None, :]
    if flip_vertical is not None:
        r = xp.where(xp.asarray(flip_vertical)[:, None, None], H - 1 - r, r)
    if flip_horizontal is not None:
        c = xp.where(xp.asarray(flip_horizontal)[:, None, None], W - 1 - c, c)
    # The sums in scipy's order (row term, column term, then offset), so borders fall alike.
    rows = (r * T[:, 1, 1] + c * T[:, 1, 0]) + T[:, 1, 2]
    cols = (r * T[:, 0, 1] + c * T[:, 0, 0]) + T[:, 0, 2]
    return rows, cols


def _wrap(coord, n, xp):
    """scipy's 'wrap' of a continuous coordinate into [0, n - 1]: period n - 1."""
    if n <= 1:
        return xp.zeros_like(coord)
    period = n - 1
    below = coord + period * (xp.trunc(-coord / period) + 1)
    above = coord - period * xp.trunc(coord / period)
    return xp.where(coord < 0, below, xp.where(coord > period, above, coord))


def _reflect(i, n, xp):
    """Coordinates or tap indices reflected about the edges -0.5 and n - 0.5 (period 2n)."""
    i = xp.mod(i, 2 * n)
    return xp.where(i >= n, 2 * n - 1 - i, i)


def _fold_index(i, n, fill_mode, xp):
    """Integer tap indices mapped into [0, n - 1]: reflected for 'reflect', clipped otherwise
    (for 'constant' and 'wrap' a clipped tap has weight 0 or is masked)."""
    return _reflect(i, n, xp) if fill_mode == "reflect" else xp.clip(i, 0, n - 1)


def _taps(coord, n, fill_mode, order, xp):
    """Along one axis: the first and second input index of each coordinate, the second's weight
    (None for order 0), and where 'constant' fills with cval (None for other modes)."""
    outside = None
    if fill_mode == "constant":
        outside = (coord < 0) | (coord > n - 1)
    elif fill_mode == "wrap":
        coord = _wrap(coord, n, xp)
    elif fill_mode == "reflect":
        # Reflecting the taps alone would give the same bilinear values, but nearest-pixel
        # rounding of a half must happen after the reflection, as in scipy.
        coord = _reflect(coord, n, xp)
    if order == 0:
        i0, frac = xp.floor(coord + 0.5), None
    else:
        i0 = xp.floor(coord)
        frac = coord - i0
    i0 = i0.astype(xp.int64)
    return _fold_index(i0, n, fill_mode, xp), _fold_index(i0 + 1, n, fill_mode, xp), frac, outside


def interpolate(x, rows, cols, fill_mode="nearest", cval=0.0, order=1):
    """Read a batch of images at fractional source coordinates, as scipy.ndimage does.

    Args:
        x: (N, H, W, C) float images (NumPy or CuPy).
        rows, cols: (N, OH, OW) float source coordinates (row, column) of each output pixel.
        fill_mode: one of :data:`FILL_MODES`; cval: the fill of 'constant'.
        order: 1 for bilinear interpolation, 0 for the nearest pixel.

    Returns:
        (N, OH, OW, C) array of x's dtype.
    """
    xp = get_array_module(x)
    N, H, W, C = x.shape
    r0, r1, fr, out_r = _taps(rows, H, fill_mode, order, xp)
    c0, c1, fc, out_c = _taps(cols, W, fill_mode, order, xp)
    flat = x.reshape(N * H * W, C)
    base = (xp.arange(N) * H)[:, None, None]

    def pixel(r, c):
        return flat[(base + r) * W + c]

    if order == 0:
        y = pixel(r0, c0)
    else:
        fr, fc = fr.astype(x.dtype)[..., None], fc.astype(x.dtype)[..., None]
        top = pixel(r0, c0) * (1 - fc) + pixel(r0, c1) * fc
        bottom = pixel(r1, c0) * (1 - fc) + pixel(r1, c1) * fc
        y = top * (1 - fr) + bottom * fr
    if fill_mode == "constant":
        y = xp.where((out_r | out_c)[..., None], xp.asarray(cval, dtype=x.dtype), y)
    return y


def apply_affine_transform(x, T, fill_mode="nearest", cval=0.0, order=1,
                           flip_horizontal=None, flip_vertical=None):
    """Transform a batch of images by per-image matrices (then flips), Keras 2's way.

    Args:
        x: (N, H, W, C) float images (NumPy or CuPy).
        T: (N, 3, 3) matrices from :func:`transform_matrices`.
        fill_mode, cval, order: as in :func:`interpolate`.
        flip_horizontal, flip_vertical: None or (N,) booleans, applied after the transform.

    Returns:
        (N, H, W, C) array of x's dtype.
    """
    xp = get_array_module(x)
    rows, cols = source_coordinates(T, x.shape[1], x.shape[2], flip_horizontal, flip_vertical, xp)
    return interpolate(x, rows, cols, fill_mode, cval, order)
