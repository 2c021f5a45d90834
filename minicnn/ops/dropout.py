"""Inverted dropout: zero each element with probability ``rate`` and scale the rest by 1/(1-rate),
so inference is the identity. (Tuned for the CPU: minicnn.cpu.dropout.)"""
from minicnn import random as mrandom
from minicnn.backend import is_cupy_array


def dropout_mask(shape, rate, dtype, like):
    """A mask of 0 and 1/(1-rate) values drawn from minicnn's seeded generator, on ``like``'s backend."""
    if is_cupy_array(like):
        u = mrandom.gpu_generator().random_sample(shape, dtype=dtype)
    else:
        u = mrandom.generator().random(shape, dtype=dtype)
    return (u >= rate) * u.dtype.type(1 / (1 - rate))


def dropout_forward(x, rate):
    """y = x * mask; returns y and the mask (all the backward needs)."""
    mask = dropout_mask(x.shape, rate, x.dtype, x)
    return x * mask, mask


def dropout_backward(dy, mask):
    return dy * mask
