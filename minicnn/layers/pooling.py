"""MaxPooling2D, AveragePooling2D and their global versions: thin layers over :mod:`minicnn.nn.pooling`."""
from minicnn.layers.base import Layer, normalize_data_format, normalize_tuple
from minicnn.layers.spatial import (image_shape, normalize_padding, spatial_output_shape, to_channels_first,
                                    to_channels_last)
from minicnn.nn import pooling


class _Pooling2D(Layer):
    """Common configuration of the 2-D pooling layers.

    Args:
        pool_size: int or (PH, PW), default (2, 2).
        strides: int, (sh, sw) or None (= pool_size).
        padding: ``"valid"`` or ``"same"``; data_format as Conv2D.
        Keras 1 spellings: border_mode, dim_ordering.
    """

    _forward = _backward = None

    def __init__(self, pool_size=(2, 2), strides=None, padding="valid", data_format=None,
                 border_mode=None, dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        self.pool_size = normalize_tuple(pool_size, 2, "pool_size", self.name)
        self.strides = self.pool_size if strides is None else normalize_tuple(strides, 2, "strides", self.name)
        self.padding = normalize_padding(border_mode if border_mode is not None else padding, self.name)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(self, input_shape, self.pool_size, self.strides, self.padding,
                                    None, "pool size")

    def forward(self, x, training=False):
        channels_first = self.data_format == "channels_first"
        y, cache = type(self)._forward(to_channels_last(x) if channels_first else x, self.pool_size,
                                       self.strides, self.padding)
        return (to_channels_first(y) if channels_first else y), cache

    def backward(self, dy, cache):
        channels_first = self.data_format == "channels_first"
        dx = type(self)._backward(to_channels_last(dy) if channels_first else dy, cache)
        return (to_channels_first(dx) if channels_first else dx), {}

    def get_config(self):
        config = super().get_config()
        config.update(pool_size=list(self.pool_size), strides=list(self.strides), padding=self.padding,
                      data_format=self.data_format)
        return config


class MaxPooling2D(_Pooling2D):
    """Max over each window; the gradient goes to the window's first maximum."""
    _forward = staticmethod(pooling.maxpool2d_forward)
    _backward = staticmethod(pooling.maxpool2d_backward)


class AveragePooling2D(_Pooling2D):
    """Mean over each window's non-padded inputs."""
    _forward = staticmethod(pooling.avgpool2d_forward)
    _backward = staticmethod(pooling.avgpool2d_backward)


MaxPool2D = MaxPooling2D
AvgPool2D = AveragePooling2D


class _GlobalPooling2D(Layer):
    """Common configuration of the global 2-D poolings: one value per channel.

    Args:
        data_format: as Conv2D (Keras 1: dim_ordering).
        keepdims: False (default): output (C,); True: (1, 1, C), or (C, 1, 1) channels-first.
    """

    _forward = _backward = None

    def __init__(self, data_format=None, keepdims=False, dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)
        self.keepdims = bool(keepdims)

    def compute_output_shape(self, input_shape):
        C = image_shape(self, input_shape)[2]
        if not self.keepdims:
            return (C,)
        return (C, 1, 1) if self.data_format == "channels_first" else (1, 1, C)

    def forward(self, x, training=False):
        channels_first = self.data_format == "channels_first"
        y, cache = type(self)._forward(to_channels_last(x) if channels_first else x)
        if self.keepdims:
            y = y.reshape((y.shape[0], -1, 1, 1) if channels_first else (y.shape[0], 1, 1, -1))
        return y, cache

    def backward(self, dy, cache):
        dx = type(self)._backward(dy.reshape(dy.shape[0], -1), cache)
        return (to_channels_first(dx) if self.data_format == "channels_first" else dx), {}

    def get_config(self):
        config = super().get_config()
        config.update(data_format=self.data_format, keepdims=self.keepdims)
        return config


class GlobalAveragePooling2D(_GlobalPooling2D):
    """The mean of each channel over the whole image: (H, W, C) -> (C,)."""
    _forward = staticmethod(pooling.global_avgpool2d_forward)
    _backward = staticmethod(pooling.global_avgpool2d_backward)


class GlobalMaxPooling2D(_GlobalPooling2D):
    """The max of each channel over the whole image: (H, W, C) -> (C,); the gradient goes to
    the first maximum, as in MaxPooling2D (Keras's reduce-max splits it between ties)."""
    _forward = staticmethod(pooling.global_maxpool2d_forward)
    _backward = staticmethod(pooling.global_maxpool2d_backward)


GlobalAvgPool2D = GlobalAveragePooling2D
GlobalMaxPool2D = GlobalMaxPooling2D
