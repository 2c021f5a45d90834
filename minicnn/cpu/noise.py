"""The CPU's noise layers: :mod:`minicnn.nn.noise` organised for the machine.

- GaussianNoise, GaussianDropout: the normal draws of a large batch made in two halves on the
  worker threads, straight into the output (NumPy's normal generator is 2-4x slower per float than
  PyTorch's, so the draws are nearly the whole cost: benchmarks/bench_resampling_layers.py);
- SpatialDropout2D (channels-last): the (N, 1, 1, C) mask repeated along an image row, so the
  product runs over whole rows of W*C floats, not C at a time (1.6x faster).

Tested against the plain layers in tests/cpu/test_noise.py.
"""
import numpy as np

from minicnn import random as mrandom
from minicnn.cpu.threads import run_chunks, split
from minicnn.nn.noise import dropout_mask

# Arrays above this many elements draw in two halves on the worker threads.
SPLIT_ABOVE = 1 << 16


def _normal_into(out, scale, shift):
    """Fill ``out`` (N, ...) with ``shift + scale * n``, n standard normal, in place, in chunks of the
    batch. Each chunk draws from a generator seeded by one draw of minicnn's and the chunk's first
    row: the same values for a seed whatever the number of threads. ``shift`` is an array of out's
    shape (added) or a number."""
    seed = int(mrandom.local_generator().integers(2**63))
    N = out.shape[0]

    def chunk(lo, hi, t):
        o = out[lo:hi]
        np.random.Generator(np.random.PCG64([seed, lo])).standard_normal(out=o, dtype=o.dtype)
        o *= scale
        o += shift if np.isscalar(shift) else shift[lo:hi]
    run_chunks(chunk, N, split(N, 2) if out.size > SPLIT_ABOVE else N)
    return out


def gaussian_noise_forward(x, stddev):
    """y = x + n, n ~ N(0, stddev**2) (as :func:`minicnn.nn.noise.gaussian_noise_forward`)."""
    return _normal_into(np.empty(x.shape, x.dtype), stddev, x)


def gaussian_dropout_forward(x, rate):
    """y = x * m, m ~ N(1, rate / (1 - rate)), and m (as :func:`minicnn.nn.noise.gaussian_dropout_forward`)."""
    m = _normal_into(np.empty(x.shape, x.dtype), (rate / (1 - rate)) ** 0.5, 1.0)
    return x * m, m


def spatial_dropout_forward(x, rate):
    """y = x * mask for x (N, H, W, C), the mask (N, 1, 1, C) drawn as the plain op draws it (the
    same values for a seed); returns y and the mask repeated along a row, (N, 1, W*C), for the backward."""
    N, H, W, C = x.shape
    row_mask = np.tile(dropout_mask(x, rate, (N, 1, C)), (1, W, 1)).reshape(N, 1, W * C)
    return (x.reshape(N, H, W * C) * row_mask).reshape(x.shape), row_mask


def spatial_dropout_backward(dy, row_mask):
    """dx = dy * mask, over whole rows."""
    N, H, W, C = dy.shape
    return (dy.reshape(N, H, W * C) * row_mask).reshape(dy.shape)
