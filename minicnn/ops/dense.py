"""The fully connected op y = x @ W + b, with its backward.

Its matrix products run with BLAS at one thread inside a training step (see
:mod:`minicnn.parallel`), so large ones are split into independent pieces for the worker
threads: the forward by halves of the batch, the backward as dx and dW side by side. The pieces
never depend on the number of threads, so neither do the results.
"""
from minicnn.backend import get_array_module, is_cupy_array
from minicnn.parallel import run_chunks, split

# Below this many multiply-adds a product is not worth handing to a second thread.
SPLIT_ABOVE = 1 << 22


def _split(x, Wk):
    return not is_cupy_array(x) and x.shape[0] * Wk.size > SPLIT_ABOVE


def dense_forward(x, Wk, b):
    """x (N, D) @ Wk (D, U) + b (U,) or None -> y (N, U)."""
    if not _split(x, Wk):
        y = x @ Wk
        if b is not None:
            y += b
        return y
    xp = get_array_module(x)
    y = xp.empty((x.shape[0], Wk.shape[1]), dtype=x.dtype)

    def half(lo, hi, t):
        xp.matmul(x[lo:hi], Wk, out=y[lo:hi])
        if b is not None:
            y[lo:hi] += b
    run_chunks(half, x.shape[0], split(x.shape[0], 2))
    return y


def dense_backward(dy, x, Wk, has_bias, need_dx=True):
    """Given dy (N, U): dx (N, D) or None, dW (D, U), db (U,) or None."""
    db = dy.sum(axis=0) if has_bias else None
    if not (need_dx and _split(x, Wk)):
        return (dy @ Wk.T if need_dx else None), x.T @ dy, db
    out = [None, None]

    def task(i, _, t):
        out[i] = dy @ Wk.T if i == 0 else x.T @ dy
    run_chunks(task, 2, 1)
    return out[0], out[1], db
