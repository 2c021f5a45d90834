"""Output sizes and padding shared by convolution, pooling and ZeroPadding2D (channels-last).

Padding follows Keras/TensorFlow: ``"valid"`` uses no padding; ``"same"`` gives
``OH = ceil(H / sh)`` and pads ``max((OH-1)*sh + KH - H, 0)`` in total, the smaller half on top
(and on the left), so an odd total puts the extra row at the bottom (and column on the right).
"""
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


def crop_nhwc(dy, pads):
    """The adjoint of :func:`pad_nhwc`: dy (N, H + pt + pb, W + pl + pr, C) without its borders,
    as a fresh contiguous (N, H, W, C) array."""
    (pt, pb), (pl, pr) = pads
    _, Hp, Wp, _ = dy.shape
    return get_array_module(dy).ascontiguousarray(dy[:, pt:Hp - pb, pl:Wp - pr])
