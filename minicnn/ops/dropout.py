"""Inverted dropout: zero each element with probability ``rate`` and scale the rest by 1/(1-rate),
so inference is the identity."""
import numpy as np

from minicnn.backend import get_array_module, is_cupy_array
from minicnn import random as mrandom
from minicnn.parallel import run_chunks, split

# Arrays above this many elements draw their mask in two halves on the worker threads.
SPLIT_ABOVE = 1 << 16


def dropout_mask(shape, rate, dtype, like):
    """A mask of 0 and 1/(1-rate) values, drawn from minicnn's seeded generator.

    Args:
        shape: the mask's shape; ``like``: an array on the target backend.
    """
    xp = get_array_module(like)
    if is_cupy_array(like):
        u = mrandom.gpu_generator().random_sample(shape, dtype=dtype)
    else:
        u = mrandom.generator().random(shape, dtype=dtype)
    return _to_mask(xp, u, rate)


def _to_mask(xp, u, rate):
    # Turn the uniform draws into the mask in place: no second array of the batch's size.
    xp.greater_equal(u, rate, out=u)
    u *= 1 / (1 - rate)
    return u


def dropout_forward(x, rate):
    """y = x * mask; returns y and the mask (the only thing backward needs).

    On the CPU the mask of a large batch is drawn in two halves on the worker threads, each from
    its own generator seeded by one draw of minicnn's generator and the half's first row: the
    same masks for the same seed whatever the number of threads.
    """
    if is_cupy_array(x):
        mask = dropout_mask(x.shape, rate, x.dtype, x)
        return x * mask, mask
    seed = int(mrandom.generator().integers(2**63))
    y, mask = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    N = x.shape[0]

    def chunk(lo, hi, t):
        u = mask[lo:hi]
        np.random.Generator(np.random.PCG64([seed, lo])).random(out=u, dtype=u.dtype)
        np.multiply(x[lo:hi], _to_mask(np, u, rate), out=y[lo:hi])
    run_chunks(chunk, N, split(N, 2) if x.size > SPLIT_ABOVE else N)
    return y, mask


def dropout_backward(dy, mask):
    return dy * mask
