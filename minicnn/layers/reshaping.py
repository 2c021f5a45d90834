"""ZeroPadding2D and Reshape: layers that move values without arithmetic."""
import math
import numbers

from minicnn.layers.base import Layer, check_positive_int, normalize_data_format
from minicnn.layers.spatial import image_shape, to_channels_first, to_channels_last
from minicnn.nn.geometry import crop_nhwc, pad_nhwc


def _pair(value, what, layer):
    """An int or a pair of ints -> (before, after)."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{layer}: {what} must be an integer or a pair of integers, got {value!r}.")
        return tuple(check_positive_int(v, what, layer, allow_zero=True) for v in value)
    n = check_positive_int(value, what, layer, allow_zero=True)
    return n, n


class ZeroPadding2D(Layer):
    """Adds rows and columns of zeros around each image.

    Args:
        padding: an int (the same on all four sides), (h, w) (h rows on top and on the bottom, w
            columns on the left and on the right) or ((top, bottom), (left, right)); default (1, 1).
        data_format: as Conv2D (Keras 1: dim_ordering).
    Shapes: (H, W, C) -> (H + top + bottom, W + left + right, C), or channels-first.

    Raises:
        ValueError/TypeError: for a negative or non-integer amount or another structure.
    """

    def __init__(self, padding=(1, 1), data_format=None, dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(padding, (tuple, list)) and len(padding) != 2:
            raise ValueError(
                f"{self.name}: padding must be an int, (rows, cols) or ((top, bottom), (left, right)), "
                f"got {padding!r}.")
        rows, cols = padding if isinstance(padding, (tuple, list)) else (padding, padding)
        self.padding = (_pair(rows, "padding", self.name), _pair(cols, "padding", self.name))
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)

    def compute_output_shape(self, input_shape):
        H, W, C = image_shape(self, input_shape)
        (t, b), (l, r) = self.padding
        OH, OW = H + t + b, W + l + r
        return (C, OH, OW) if self.data_format == "channels_first" else (OH, OW, C)

    def forward(self, x, training=False):
        if self.data_format == "channels_first":
            return to_channels_first(pad_nhwc(to_channels_last(x), self.padding)), None
        return pad_nhwc(x, self.padding), None

    def backward(self, dy, cache):
        if self.data_format == "channels_first":
            return to_channels_first(crop_nhwc(to_channels_last(dy), self.padding)), {}
        return crop_nhwc(dy, self.padding), {}

    def get_config(self):
        config = super().get_config()
        config.update(padding=[list(p) for p in self.padding], data_format=self.data_format)
        return config


class Reshape(Layer):
    """Reshapes each sample to ``target_shape`` (batch axis excluded); one entry may be -1, to be
    inferred from the sample's size. Samples keep their values in row-major order.

    Raises:
        TypeError: for a target_shape that is not a tuple or list of integers.
        ValueError: for entries below 1 other than a single -1, or (at build) a size that the
            target shape cannot hold.
    """

    def __init__(self, target_shape=None, **kwargs):
        super().__init__(**kwargs)
        if not isinstance(target_shape, (tuple, list)) or not all(
                isinstance(d, numbers.Integral) and not isinstance(d, bool) for d in target_shape):
            raise TypeError(
                f"{self.name}: Reshape needs target_shape, a tuple of integers without the batch axis, "
                f"e.g. Reshape((28, 28, 1)); got {target_shape!r}.")
        self.target_shape = tuple(int(d) for d in target_shape)
        if any(d < 1 and d != -1 for d in self.target_shape) or self.target_shape.count(-1) > 1:
            raise ValueError(
                f"{self.name}: target_shape entries must be positive, with at most one -1 to be "
                f"inferred; got {self.target_shape}.")

    def compute_output_shape(self, input_shape):
        size = math.prod(input_shape)
        known = math.prod(d for d in self.target_shape if d != -1)
        if -1 in self.target_shape and size % known == 0:
            return tuple(size // known if d == -1 else d for d in self.target_shape)
        if -1 not in self.target_shape and known == size:
            return self.target_shape
        raise ValueError(
            f"{self.name}: cannot reshape samples of shape {tuple(input_shape)} ({size} values) to "
            f"{self.target_shape}: the target must hold exactly {size} values.")

    def forward(self, x, training=False):
        # -1 resolved at build: NumPy cannot infer it for an empty batch.
        return x.reshape(x.shape[0], *self.output_shape), x.shape

    def backward(self, dy, shape):
        return dy.reshape(shape), {}

    def get_config(self):
        config = super().get_config()
        config["target_shape"] = list(self.target_shape)
        return config
