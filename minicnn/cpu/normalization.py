"""The CPU's batch normalization: :mod:`minicnn.nn.normalization` in row chunks on the worker
threads, column sums as BLAS products, and the centred input kept in a reused buffer."""
import numpy as np

from minicnn.cpu.threads import run_chunks, split, sum_in_order
from minicnn.cpu.workspace import scratch


# Rows (positions) per chunk: a chunk of x, x_hat and y stays in cache across one pass's steps.
CHUNK_ROWS = 4096


def _row_chunks(a2):
    """Chunk length over the rows of a (M, C) array."""
    return max(1, min(CHUNK_ROWS, split(a2.shape[0])))


def column_sums(a2):
    """Sums over the rows of a (M, C) array. On the CPU as ones @ a2: BLAS's matrix-vector
    product is about 10x faster than NumPy's axis-0 reduction for a few dozen columns."""
    return np.ones(a2.shape[0], dtype=a2.dtype) @ a2


def batchnorm_forward(x, gamma, beta, eps, ws=None, relu=False, cap=None):
    """Training-mode forward with batch statistics, in row chunks spread over the worker threads.

    Args:
        x: (..., C); gamma, beta: (C,).
        ws: optional Workspace for the centred input the backward needs (reused every step: a
            fresh array of the batch's size costs its page faults again each time).
        relu: max(y, 0) on each chunk while it is in cache (a ReLU after the normalisation);
            ``cap``: also min(y, cap) when finite (ReLU6).
    Returns:
        y (..., C), the batch mean and (biased) variance (C,), and the backward cache.
    """
    C = x.shape[-1]
    x2 = x.reshape(-1, C)
    M = x2.shape[0]
    step = _row_chunks(x2)
    mean = sum_in_order(run_chunks(lambda lo, hi, t: column_sums(x2[lo:hi]), M, step)) / M
    xc = scratch(ws, "centred", x2.shape, x2.dtype)

    y = np.empty_like(x2)

    def centre(lo, hi, t):
        c = xc[lo:hi]
        np.subtract(x2[lo:hi], mean, out=c)
        # The squares go where this chunk's y will be written (in cache, no temporary); a product
        # and a BLAS column sum beat einsum's short rows of C channels by about 2x.
        return column_sums(np.multiply(c, c, out=y[lo:hi]))
    var = sum_in_order(run_chunks(centre, M, step)) / M
    inv_std = 1 / np.sqrt(var + eps)
    scale = gamma * inv_std

    def normalise(lo, hi, t):
        # y = x_hat * gamma + beta with x_hat = xc * inv_std never stored: the backward takes
        # inv_std into its coefficients instead, a pass fewer here.
        np.multiply(xc[lo:hi], scale, out=y[lo:hi])
        y[lo:hi] += beta
        if relu:
            np.maximum(y[lo:hi], 0, out=y[lo:hi])
            if cap is not None and cap != np.inf:
                np.minimum(y[lo:hi], cap, out=y[lo:hi])
    run_chunks(normalise, M, step)
    return y.reshape(x.shape), mean, var, (xc, gamma, inv_std)


def fold_into_conv(Wk, b, gamma, beta, mean, var, eps):
    """A convolution's kernel (KH, KW, C, F) and bias (F,) or None with the inference-mode
    BatchNormalization after it folded in: conv(x, W * s) + (b - mean) * s + beta, s = gamma / std."""
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale if b is None else (b - mean) * scale + beta
    return Wk * scale, shift.astype(Wk.dtype, copy=False)


def batchnorm_inference(x, gamma, beta, mean, var, eps):
    """Inference-mode forward with fixed (moving) statistics; (..., C) -> (..., C)."""
    scale = gamma / np.sqrt(var + eps)
    shift = beta - mean * scale
    C = x.shape[-1]
    x2 = x.reshape(-1, C)
    y = np.empty(x2.shape, dtype=x.dtype)

    def chunk(lo, hi, t):
        np.multiply(x2[lo:hi], scale, out=y[lo:hi])
        y[lo:hi] += shift
    run_chunks(chunk, x2.shape[0], _row_chunks(x2))
    return y.reshape(x.shape)


def batchnorm_backward(dy, cache):
    """Gradients of the training-mode forward.

    Returns:
        dx (..., C), dgamma (C,), dbeta (C,).
    """
    xc, gamma, inv_std = cache
    dy2 = dy.reshape(xc.shape)
    M = xc.shape[0]
    step = _row_chunks(dy2)
    dx = np.empty_like(dy2)  # also the scratch of the products dy * xc, in each chunk before its dx

    def sums(lo, hi, t):
        return column_sums(dy2[lo:hi]), column_sums(np.multiply(dy2[lo:hi], xc[lo:hi], out=dx[lo:hi]))
    parts = run_chunks(sums, M, step)
    dbeta = sum_in_order([s[0] for s in parts])
    dgamma = sum_in_order([s[1] for s in parts]) * inv_std  # sum(dy * x_hat), x_hat = xc * inv_std
    # The standard closed form dx = a*dy - a*(dbeta + x_hat*dgamma)/M with a = gamma/std: the two
    # sums remove the gradient's components along the directions that normalising takes out of x.
    a = gamma * inv_std
    b, c = a * dgamma * inv_std / M, a * dbeta / M

    def chunk(lo, hi, t):
        d = dx[lo:hi]
        np.multiply(xc[lo:hi], b, out=d)
        d += c
        np.subtract(dy2[lo:hi] * a, d, out=d)
    run_chunks(chunk, M, step)
    return dx.reshape(dy.shape), dgamma, dbeta
