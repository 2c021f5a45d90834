"""Upsampling by integer factors, nearest-neighbour and bilinear, each with its backward (the
adjoint) beside it. Images are channels-last: x (N, H, W, C) -> y (N, H*sh, W*sw, C).

Bilinear follows Keras 3 (``keras.ops.image.resize``, no antialiasing; TensorFlow's
``half_pixel_centers``, PyTorch's ``align_corners=False``): output pixel i of an axis upsampled s
times samples the input at ``(i + 0.5) / s - 0.5``, clamped at the first pixel, and mixes the two
input pixels around that point linearly (the last pixel with itself past the end). Along one
axis that is a small matrix A (n*s, n) with two non-zeros per row, so the upsampled image is
``A_h x A_w^T`` and the gradient ``A_h^T dy A_w``: two small matrix products each way, on either
backend.

Neither backward needs anything from the forward but the factors: nothing is cached.
(Cropping2D's pair is :func:`minicnn.nn.geometry.crop_nhwc` and its adjoint ``pad_nhwc``.)
"""
import functools

import numpy as np

from minicnn.backend import get_array_module

INTERPOLATIONS = ("nearest", "bilinear")


def nearest_forward(x, size):
    """Each pixel of x (N, H, W, C) repeated over an (sh, sw) block: y (N, H*sh, W*sw, C)."""
    xp = get_array_module(x)
    # Rows, then columns: a broadcast view copied in one go is 2x slower for few channels (copies
    # of C floats at a time), and repeating the rows first copies whole rows.
    return xp.repeat(xp.repeat(x, size[0], axis=1), size[1], axis=2)


def nearest_backward(dy, size):
    """dx (N, H, W, C): dy (N, H*sh, W*sw, C) summed over each block."""
    N, OH, OW, C = dy.shape
    sh, sw = size
    return dy.reshape(N, OH // sh, sh, OW // sw, sw, C).sum(axis=(2, 4))


@functools.lru_cache(maxsize=64)
def interpolation_matrix(n, s):
    """A (n*s, n), float64: row i holds the weights output pixel i gives the input pixels of an
    axis of length n upsampled s times (half-pixel centres, clamped at both ends); rows sum to 1."""
    src = np.maximum((np.arange(n * s) + 0.5) / s - 0.5, 0.0)
    i0 = src.astype(np.intp)  # floor: src >= 0
    frac = src - i0
    A = np.zeros((n * s, n))
    rows = np.arange(n * s)
    A[rows, i0] = 1 - frac
    A[rows, np.minimum(i0 + 1, n - 1)] += frac  # past the last pixel both weights land on it
    A.flags.writeable = False
    return A


def _matrices(shape_hw, size, like):
    xp = get_array_module(like)
    return [xp.asarray(interpolation_matrix(n, s), dtype=like.dtype) for n, s in zip(shape_hw, size)]


def bilinear_forward(x, size):
    """y (N, H*sh, W*sw, C) = A_h x A_w^T for x (N, H, W, C)."""
    N, H, W, C = x.shape
    Ah, Aw = _matrices((H, W), size, x)
    OH, OW = H * size[0], W * size[1]
    # Columns first, while there are H rows, not OH: the per-row products are the many small ones.
    t = Aw @ x.reshape(N * H, W, C)  # (N*H, OW, C)
    return (Ah @ t.reshape(N, H, OW * C)).reshape(N, OH, OW, C)  # rows mixed, whole rows at a time


def bilinear_backward(dy, size):
    """dx (N, H, W, C) = A_h^T dy A_w for dy (N, H*sh, W*sw, C): the forward's products transposed,
    in the reverse order (rows first, so the per-row products run on H rows, not OH)."""
    N, OH, OW, C = dy.shape
    H, W = OH // size[0], OW // size[1]
    Ah, Aw = _matrices((H, W), size, dy)
    t = Ah.T @ dy.reshape(N, OH, OW * C)  # (N, H, OW*C)
    return (Aw.T @ t.reshape(N * H, OW, C)).reshape(N, H, W, C)


def upsample2d_forward(x, size, interpolation="nearest"):
    """x (N, H, W, C) upsampled ``size = (sh, sw)`` times: y (N, H*sh, W*sw, C)."""
    return (nearest_forward if interpolation == "nearest" else bilinear_forward)(x, size)


def upsample2d_backward(dy, size, interpolation="nearest"):
    """dx (N, H, W, C) for dy (N, H*sh, W*sw, C)."""
    return (nearest_backward if interpolation == "nearest" else bilinear_backward)(dy, size)
