"""Inverted dropout: zero each element with probability ``rate`` and scale the rest by 1/(1-rate),
so inference is the identity. (Tuned for the CPU: minicnn.cpu.dropout.)"""
from minicnn import random as mrandom
from minicnn.backend import is_cupy_array


def dropout_forward(x, rate):
    """y = x * mask, the mask 0 or 1/(1-rate) drawn from minicnn's seeded generator on x's backend;
    returns y and the mask (all the backward needs)."""
    draw = mrandom.gpu_generator().random_sample if is_cupy_array(x) else mrandom.local_generator().random
    mask = (draw(x.shape, dtype=x.dtype) >= rate) * x.dtype.type(1 / (1 - rate))
    return x * mask, mask


def dropout_backward(dy, mask):
    return dy * mask
