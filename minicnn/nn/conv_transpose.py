"""2-D transposed convolution, channels-last (NHWC): the adjoint of :mod:`minicnn.nn.conv`.

A Conv2D maps an image of size (OH, OW) to one of size (H, W). Its input gradient maps back:
dcols = dy @ W.T, then col2im sums each patch gradient onto the pixels the patch came from. The
transposed convolution *is* that map, applied to its input x (N, H, W, C) with kernel
Wk (KH, KW, F, C), Keras's layout (the Conv2D's kernel (KH, KW, F, C) read with F and C swapped):

    dcols = x.reshape(N*H*W, C) @ Wk.reshape(KH*KW*F, C).T      (N*H*W, KH*KW*F)
    y     = col2im(dcols, (N, OH, OW, F)) + b                    (N, OH, OW, F)

and its backward is that Conv2D's forward: dx = im2col(dy) @ Wk.reshape(KH*KW*F, C), with
dW = im2col(dy).T @ x. No new algorithm: the same im2col and col2im, the same pads.

Output size (Keras 3's rule, ``keras/src/backend/common/backend_utils.py``), with the dilated
kernel's extent EK = (K-1)*d + 1 and output_padding ``op``:

    "valid": OH = (H-1)*s + EK + op,      op defaulting to max(EK, s) - EK
    "same":  OH = H*s                      when op is None,
             OH = (H-1)*s + EK % 2 + op    otherwise

Keras pads the stride-dilated input by (left, right) before a stride-1 convolution with the
flipped kernel; the Conv2D whose adjoint this is pads its input (our output) by
(EK-1-left, EK-1-right). The second may be negative (the output's last rows, reached by no
window: they are only the bias); im2col's floor division skips them the same way, so the pads
are clipped at zero and those rows stay zero.
"""
from minicnn.nn.conv import col2im, conv_geometry, im2col


def conv_transpose_length(n, k, s, d, padding, output_padding):
    """The output length and the pads (before, after) of the Conv2D it is the adjoint of, on one axis.

    Args:
        n: input length; k, s, d: kernel size, stride, dilation; padding: "valid" or "same";
        output_padding: int in [0, s) or None (Keras's default for the padding).
    Raises:
        ValueError: output_padding not below the stride, or an output length below 1.
    """
    ek = (k - 1) * d + 1
    if output_padding is not None and not 0 <= output_padding < s:
        raise ValueError(f"output_padding must be at least 0 and smaller than the stride {s}, got {output_padding}.")
    if padding == "valid":
        op = max(ek, s) - ek if output_padding is None else output_padding
        left, right = ek - 1, ek - 1 + op
    else:
        total = s + ek - 2 if output_padding is None else ek + ek % 2 - 2 + output_padding
        left = min(total // 2 + total % 2, ek - 1)
        right = total - left
    out = (n - 1) * s + left + right - ek + 2
    if out < 1:
        raise ValueError(f"the output length would be {out} (input {n}, kernel {k}, stride {s}, padding "
                         f"{padding!r}, output_padding {output_padding}); give a larger output_padding or "
                         "padding='valid'.")
    return out, (ek - 1 - left, max(ek - 1 - right, 0))


def conv_transpose_geometry(x_shape, KH, KW, strides, padding, output_padding=None, dilation=(1, 1)):
    """(OH, OW) and the Conv2D pads ((pt, pb), (pl, pr)) of a transposed convolution of x (N, H, W, C).

    ``output_padding``: None or (oph, opw)."""
    _, H, W, _ = x_shape
    oph, opw = (None, None) if output_padding is None else output_padding
    OH, pads_h = conv_transpose_length(H, KH, strides[0], dilation[0], padding, oph)
    OW, pads_w = conv_transpose_length(W, KW, strides[1], dilation[1], padding, opw)
    return (OH, OW), (pads_h, pads_w)


def conv2d_transpose_forward(x, Wk, b, strides=(1, 1), padding="valid", output_padding=None, dilation=(1, 1)):
    """y (N, OH, OW, F) = conv_transpose(x (N, H, W, C), Wk (KH, KW, F, C)) + b (F,) or None.

    Strides (sh, sw), "valid" or "same" padding, output_padding None or (oph, opw), each below its
    stride, dilation (dh, dw). Returns y and the cache for :func:`conv2d_transpose_backward`: the
    input and the kernel (the patches of dy are built there, from dy).
    """
    N, H, W, C = x.shape
    KH, KW, F, _ = Wk.shape
    (OH, OW), pads = conv_transpose_geometry(x.shape, KH, KW, strides, padding, output_padding, dilation)
    assert conv_geometry((N, OH, OW, F), KH, KW, strides, pads, dilation)[0] == (H, W)
    dcols = x.reshape(N * H * W, C) @ Wk.reshape(KH * KW * F, C).T
    y = col2im(dcols, (N, OH, OW, F), KH, KW, strides, pads, dilation)
    if b is not None:
        y += b
    return y, (x, Wk, b is not None, strides, pads, dilation)


def conv2d_transpose_backward(dy, cache):
    """Gradients of :func:`conv2d_transpose_forward` given dy (N, OH, OW, F): a Conv2D of dy.

    Returns:
        dx (N, H, W, C), dW (KH, KW, F, C), db (F,) or None.
    """
    x, Wk, has_bias, strides, pads, dilation = cache
    KH, KW, F, C = Wk.shape
    cols = im2col(dy, KH, KW, strides, pads, dilation)            # (N*H*W, KH*KW*F)
    dx = (cols @ Wk.reshape(KH * KW * F, C)).reshape(x.shape)
    dW = (cols.T @ x.reshape(-1, C)).reshape(Wk.shape)
    return dx, dW, (dy.sum(axis=(0, 1, 2)) if has_bias else None)
