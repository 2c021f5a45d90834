"""Output sizes, padding and window views shared by convolution and pooling (channels-last).

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


def pad_nhwc(x, pads, value=0.0, out=None):
    """Pad the two spatial axes of x (N, H, W, C) by ``pads = ((pt, pb), (pl, pr))``.

    ``out``: an optional (N, H+pt+pb, W+pl+pr, C) buffer to write into.
    """
    (pt, pb), (pl, pr) = pads
    if pt == pb == pl == pr == 0:
        return x
    xp = get_array_module(x)
    N, H, W, C = x.shape
    if out is None:
        out = xp.empty((N, H + pt + pb, W + pl + pr, C), dtype=x.dtype)
    # Fill only the border, then copy x once: cheaper than np.pad's generic path.
    out[:, :pt] = value
    out[:, H + pt:] = value
    out[:, :, :pl] = value
    out[:, :, W + pl:] = value
    out[:, pt:pt + H, pl:pl + W] = x
    return out


def window_view(xp_, KH, KW, sh, sw, OH, OW):
    """A strided view (N, OH, OW, KH, KW, C) of the windows of a padded x (N, Hp, Wp, C); no copy."""
    lib = get_array_module(xp_)
    N, _, _, C = xp_.shape
    sN, sH, sW, sC = xp_.strides
    return lib.lib.stride_tricks.as_strided(
        xp_, shape=(N, OH, OW, KH, KW, C), strides=(sN, sH * sh, sW * sw, sH, sW, sC),
        writeable=False)
