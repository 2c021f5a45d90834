"""The CPU's dropout: :mod:`minicnn.nn.dropout` with the mask of a large batch drawn in two halves
on the worker threads, in place (no second array of the batch's size)."""
import numpy as np

from minicnn import random as mrandom
from minicnn.cpu.threads import run_chunks, split

# Arrays above this many elements draw their mask in two halves on the worker threads.
SPLIT_ABOVE = 1 << 16


def dropout_forward(x, rate):
    """y = x * mask, and the mask. Each half draws from a generator seeded by one draw of minicnn's
    and the half's first row: the same masks for a seed whatever the number of threads."""
    seed = int(mrandom.local_generator().integers(2**63))
    y, mask = np.empty(x.shape, x.dtype), np.empty(x.shape, x.dtype)
    N = x.shape[0]
    scale = 1 / (1 - rate)

    def chunk(lo, hi, t):
        u = mask[lo:hi]
        np.random.Generator(np.random.PCG64([seed, lo])).random(out=u, dtype=u.dtype)
        # The uniform draws become the mask in place.
        np.greater_equal(u, rate, out=u)
        u *= scale
        np.multiply(x[lo:hi], u, out=y[lo:hi])
    run_chunks(chunk, N, split(N, 2) if x.size > SPLIT_ABOVE else N)
    return y, mask
