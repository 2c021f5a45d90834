"""The fully connected op y = x @ W + b, with its backward. (Tuned for the CPU: minicnn.cpu.dense.)"""


def dense_forward(x, Wk, b):
    """x (N, D) @ Wk (D, U) + b (U,) or None -> y (N, U), and the cache for the backward."""
    y = x @ Wk
    if b is not None:
        y += b
    return y, (x, Wk, b is not None)


def dense_backward(dy, cache):
    """Given dy (N, U): dx (N, D), dW (D, U), db (U,) or None."""
    x, Wk, has_bias = cache
    return dy @ Wk.T, x.T @ dy, (dy.sum(axis=0) if has_bias else None)
