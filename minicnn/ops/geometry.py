"""Output sizes, padding and window views shared by convolution and pooling (channels-last).

Padding follows Keras/TensorFlow: ``"valid"`` uses no padding; ``"same"`` gives
``OH = ceil(H / sh)`` and pads ``max((OH-1)*sh + KH - H, 0)`` in total, the smaller half on top
(and on the left), so an odd total puts the extra row at the bottom (and column on the right).
"""
import numpy as np

from minicnn.backend import get_array_module

PADDINGS = ("valid", "same")


def conv_output_length(n, k, s, padding):
    """Output length of a window of size ``k``, stride ``s`` over ``n`` inputs (Keras's rule)."""
    if padding == "same":
        return -(-n // s)
    return (n - k) // s + 1


def conv_padding(n, k, s, padding):
    """``(before, after)`` padding of one spatial axis; ``(0, 0)`` for ``"valid"``."""
    if padding != "same":
        return 0, 0
    total = max((conv_output_length(n, k, s, "same") - 1) * s + k - n, 0)
    return total // 2, total - total // 2


def pad_nhwc(x, pads, value=0.0):
    """x (N, H, W, C) with its two spatial axes padded by ``pads = ((pt, pb), (pl, pr))`` of ``value``."""
    if tuple(map(tuple, pads)) == ((0, 0), (0, 0)):
        return x
    return get_array_module(x).pad(x, ((0, 0), *pads, (0, 0)), constant_values=value)


def window_view(xp_, KH, KW, sh, sw, OH, OW):
    """A strided view (N, OH, OW, KH, KW, C) of the windows of a padded x (N, Hp, Wp, C); no copy."""
    N, _, _, C = xp_.shape
    sN, sH, sW, sC = xp_.strides
    view = strided(xp_, (N, OH, OW, KH, KW, C), (sN, sH * sh, sW * sw, sH, sW, sC))
    view.flags.writeable = False  # windows overlap: writing through them would be a bug
    return view


def strided(a, shape, strides):
    """A view of a's memory with the given shape and strides (in bytes); no copy.

    A C-contiguous NumPy array gets an ndarray built on its buffer (about 1 us; NumPy checks the
    extent fits) rather than as_strided (about 6 us, through __array_interface__): a training
    step makes a few hundred of these views, and they hold the GIL the worker threads share.
    """
    if isinstance(a, np.ndarray) and a.flags.c_contiguous:
        return np.ndarray(shape, a.dtype, a, 0, strides)
    return get_array_module(a).lib.stride_tricks.as_strided(a, shape=shape, strides=strides)
