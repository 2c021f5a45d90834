"""The CPU's fully connected op: :mod:`minicnn.nn.dense` with large products split over threads.

Inside a training step BLAS runs one thread per call (see :mod:`minicnn.cpu.threads`), so a large
product is split into independent pieces for the worker threads: the forward by halves of the
batch, the backward as dx and dW side by side. The pieces never depend on the number of
threads, so neither do the results.
"""
import numpy as np

from minicnn.cpu.threads import run_chunks, split

# Below this many multiply-adds a product is not worth handing to a second thread.
SPLIT_ABOVE = 1 << 22


def dense_forward(x, Wk, b):
    """x (N, D) @ Wk (D, U) + b (U,) or None -> y (N, U), and the cache for the backward."""
    if x.shape[0] * Wk.size <= SPLIT_ABOVE:
        y = x @ Wk
        if b is not None:
            y += b
        return y, (x, Wk, b is not None)
    y = np.empty((x.shape[0], Wk.shape[1]), dtype=x.dtype)

    def half(lo, hi, t):
        np.matmul(x[lo:hi], Wk, out=y[lo:hi])
        if b is not None:
            y[lo:hi] += b
    run_chunks(half, x.shape[0], split(x.shape[0], 2))
    return y, (x, Wk, b is not None)


def dense_backward(dy, cache, need_dx=True):
    """Given dy (N, U): dx (N, D) or None (``need_dx=False``), dW (D, U), db (U,) or None."""
    x, Wk, has_bias = cache
    db = dy.sum(axis=0) if has_bias else None
    if not need_dx or x.shape[0] * Wk.size <= SPLIT_ABOVE:
        return (dy @ Wk.T if need_dx else None), x.T @ dy, db
    out = [None, None]

    def task(i, _, t):
        out[i] = dy @ Wk.T if i == 0 else x.T @ dy
    run_chunks(task, 2, 1)
    return out[0], out[1], db
