"""UpSampling2D and Cropping2D: layers that change an image's size without weights.

Both work channels-last inside (NHWC); a ``channels_first`` layer transposes at its edges, as the
windowed layers do (:mod:`minicnn.layers.spatial`).
"""
from minicnn.layers.base import Layer, normalize_data_format, normalize_tuple
from minicnn.layers.reshaping import _pair
from minicnn.layers.spatial import image_shape, to_channels_first, to_channels_last
from minicnn.nn.geometry import crop_nhwc, pad_nhwc
from minicnn.nn.resampling import INTERPOLATIONS, upsample2d_backward, upsample2d_forward

# Keras 3's other resize methods, refused by name rather than as unknown.
_NOT_SUPPORTED = ("bicubic", "lanczos3", "lanczos5", "area")


class UpSampling2D(Layer):
    """Repeats (``"nearest"``) or interpolates (``"bilinear"``) each image to ``size`` times its
    rows and columns.

    Args:
        size: an int or (rows, cols), positive factors; default (2, 2).
        data_format: as Conv2D (Keras 1: dim_ordering).
        interpolation: ``"nearest"`` (default) or ``"bilinear"``, Keras 3's rule: half-pixel
            centres, the edge pixels repeated past the border, no antialiasing (as PyTorch's
            ``align_corners=False``).
    Shapes: (H, W, C) -> (H * rows, W * cols, C), or channels-first.

    Raises:
        ValueError/TypeError: for a factor that is not a positive integer, or another interpolation
            (Keras 3's bicubic, lanczos and area are not in minicnn).
    """

    def __init__(self, size=(2, 2), data_format=None, interpolation="nearest", dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        self.size = normalize_tuple(size, 2, "size", self.name)
        if not isinstance(interpolation, str):
            raise TypeError(f"{self.name}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}.")
        self.interpolation = interpolation.lower()
        if self.interpolation not in INTERPOLATIONS:
            known = " Keras 3 has it; minicnn does not." if self.interpolation in _NOT_SUPPORTED else ""
            raise ValueError(
                f"{self.name}: interpolation must be 'nearest' or 'bilinear', got {interpolation!r}.{known}")
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)

    def compute_output_shape(self, input_shape):
        H, W, C = image_shape(self, input_shape)
        OH, OW = H * self.size[0], W * self.size[1]
        return (C, OH, OW) if self.data_format == "channels_first" else (OH, OW, C)

    def forward(self, x, training=False):
        """``(y, None)``: the backward needs only the factors."""
        if self.data_format == "channels_first":
            return to_channels_first(upsample2d_forward(to_channels_last(x), self.size, self.interpolation)), None
        return upsample2d_forward(x, self.size, self.interpolation), None

    def backward(self, dy, cache):
        if self.data_format == "channels_first":
            return to_channels_first(upsample2d_backward(to_channels_last(dy), self.size, self.interpolation)), {}
        return upsample2d_backward(dy, self.size, self.interpolation), {}

    def get_config(self):
        config = super().get_config()
        config.update(size=list(self.size), data_format=self.data_format, interpolation=self.interpolation)
        return config


class Cropping2D(Layer):
    """Removes rows and columns at the borders of each image (the adjoint of ZeroPadding2D).

    Args:
        cropping: an int (the same on all four sides), (h, w) (h rows at the top and at the bottom,
            w columns at the left and at the right) or ((top, bottom), (left, right)); default 0.
        data_format: as Conv2D (Keras 1: dim_ordering).
    Shapes: (H, W, C) -> (H - top - bottom, W - left - right, C), or channels-first. The output
    is a copy, never a view into the input, which the layer before may keep for its backward (the
    input itself when nothing is cropped).

    Raises:
        ValueError/TypeError: for a negative or non-integer amount or another structure, and (at
            build) for a cropping that leaves no rows or no columns.
    """

    def __init__(self, cropping=((0, 0), (0, 0)), data_format=None, dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        if isinstance(cropping, (tuple, list)) and len(cropping) != 2:
            raise ValueError(
                f"{self.name}: cropping must be an int, (rows, cols) or ((top, bottom), (left, right)), "
                f"got {cropping!r}.")
        rows, cols = cropping if isinstance(cropping, (tuple, list)) else (cropping, cropping)
        self.cropping = (_pair(rows, "cropping", self.name), _pair(cols, "cropping", self.name))
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)

    def compute_output_shape(self, input_shape):
        H, W, C = image_shape(self, input_shape)
        (t, b), (l, r) = self.cropping
        OH, OW = H - t - b, W - l - r
        if OH < 1 or OW < 1:
            raise ValueError(
                f"{self.name}: cropping {self.cropping} removes {t + b} of {H} rows and {l + r} of {W} columns "
                f"(per-sample input shape {tuple(input_shape)}); it must leave at least one of each.")
        return (C, OH, OW) if self.data_format == "channels_first" else (OH, OW, C)

    def forward(self, x, training=False):
        if self.data_format == "channels_first":
            return to_channels_first(crop_nhwc(to_channels_last(x), self.cropping)), None
        return crop_nhwc(x, self.cropping), None

    def backward(self, dy, cache):
        if self.data_format == "channels_first":
            return to_channels_first(pad_nhwc(to_channels_last(dy), self.cropping)), {}
        return pad_nhwc(dy, self.cropping), {}

    def get_config(self):
        config = super().get_config()
        config.update(cropping=[list(p) for p in self.cropping], data_format=self.data_format)
        return config
