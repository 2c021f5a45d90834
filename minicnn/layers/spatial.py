"""What the windowed layers (Conv2D, the poolings) share: channels-first edges, image shapes,
output shapes and the padding argument.

Internally every image is channels-last (NHWC); a ``channels_first`` layer transposes its input
and output at its edges, so its weights keep Keras's layout either way.
"""
import numbers

from minicnn.nn.geometry import PADDINGS, conv_output_length


def to_channels_last(x):
    """(N, C, H, W) -> (N, H, W, C) view."""
    return x.transpose(0, 2, 3, 1)


def to_channels_first(x):
    """(N, H, W, C) -> (N, C, H, W) view."""
    return x.transpose(0, 3, 1, 2)


def image_shape(layer, input_shape):
    """(H, W, C) of a per-sample image input shape, checking it is 3-D."""
    if len(input_shape) != 3:
        hint = " Reshape flat inputs to images, e.g. x.reshape(-1, 28, 28, 1)." if len(input_shape) == 1 else ""
        raise ValueError(
            f"{layer.name}: {type(layer).__name__} expects images of per-sample shape "
            f"{'(channels, rows, cols)' if layer.data_format == 'channels_first' else '(rows, cols, channels)'}"
            f", got {tuple(input_shape)}.{hint}")
    if layer.data_format == "channels_first":
        C, H, W = input_shape
    else:
        H, W, C = input_shape
    return H, W, C


def spatial_output_shape(layer, input_shape, window, strides, padding, channels_out, what):
    """Output shape of a windowed layer, in the layer's data format; checks the window fits."""
    H, W, C = image_shape(layer, input_shape)
    if padding == "valid" and (window[0] > H or window[1] > W):
        raise ValueError(
            f"{layer.name}: the {what} {window} is larger than its input of spatial size "
            f"{(H, W)} (per-sample input shape {tuple(input_shape)}). Use a smaller {what}, "
            "padding='same', or fewer pooling/strided layers before it.")
    OH = conv_output_length(H, window[0], strides[0], padding)
    OW = conv_output_length(W, window[1], strides[1], padding)
    F = C if channels_out is None else channels_out
    return (F, OH, OW) if layer.data_format == "channels_first" else (OH, OW, F)


def normalize_padding(padding, layer):
    padding = padding.lower() if isinstance(padding, str) else padding
    if padding not in PADDINGS:
        raise ValueError(f"{layer}: padding must be 'valid' or 'same', got {padding!r}.")
    return padding


def kernel_and_strides(layer, kernel_size, args, strides):
    """``kernel_size`` and ``strides`` with the positional arguments after ``kernel_size`` read as Keras 2
    read them: one int is Keras 1's column count (``Convolution2D(32, 3, 3)``), anything else the strides.

    Raises:
        TypeError: for more positional arguments than that.
    """
    if not args:
        return kernel_size, strides
    if len(args) == 1 and isinstance(args[0], numbers.Integral) and isinstance(kernel_size, numbers.Integral):
        return (kernel_size, args[0]), strides
    if len(args) == 1:
        return kernel_size, args[0]
    raise TypeError(f"{layer}: too many positional arguments {args!r}; pass strides, padding and the rest "
                    "by keyword.")


def check_strides_and_dilation(layer, strides, dilation_rate):
    """Raise ValueError when both exceed 1, as Keras does."""
    if max(strides) > 1 and max(dilation_rate) > 1:
        raise ValueError(
            f"{layer}: strides {strides} and dilation_rate {dilation_rate} cannot both exceed 1 (as in Keras). "
            "Use strides=1 with the dilation (a pooling layer after it can downsample), or no dilation with the "
            "strides.")
