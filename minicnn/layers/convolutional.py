"""Conv2D (alias Convolution2D): a thin layer over :mod:`minicnn.nn.conv`.

Internally every image is channels-last (NHWC); a ``channels_first`` layer transposes its
input and output at its edges, so its weights keep Keras's layout either way. Keras 1 tutorials
import the pooling layers from this module, so they are importable from here too.
"""
from minicnn import initializers
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format, normalize_tuple
from minicnn.layers.core import ActivationMixin
from minicnn.layers.pooling import AveragePooling2D, AvgPool2D, MaxPool2D, MaxPooling2D  # noqa: F401
from minicnn.layers.spatial import (check_strides_and_dilation, image_shape, kernel_and_strides, normalize_padding,
                                    spatial_output_shape, to_channels_first, to_channels_last)
from minicnn.nn.conv import conv2d_backward, conv2d_forward


class Conv2D(ActivationMixin, Layer):
    """2-D convolution: y = activation(conv(x, kernel) + bias).

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW). Keras 1's ``Convolution2D(32, 3, 3)`` (rows, cols as two
            positional ints) is accepted too.
        strides: int or (sh, sw), default 1.
        padding: ``"valid"`` (default) or ``"same"``.
        dilation_rate: int or (dh, dw), default 1: the kernel's taps are dh rows and dw columns
            apart, so it spans (KH-1)*dh + 1 rows. As in Keras, strides and dilation_rate cannot
            both exceed 1. The GPU's CUDA im2col has no dilation: a dilated convolution runs as
            plain CuPy expressions there, and on the CPU's plain path (not the tuned one).
        data_format: ``"channels_last"`` (N, H, W, C) or ``"channels_first"`` (N, C, H, W);
            default: the global image data format.
        activation, use_bias, kernel_initializer, bias_initializer: as Keras.
        Keras 1 spellings: nb_filter, nb_row, nb_col, border_mode, subsample, init,
        dim_ordering ('th'/'tf'), bias.
    Weights: kernel (KH, KW, C, F) and bias (F,), Keras's layout.

    Raises:
        ValueError/TypeError: for non-positive filters, kernel sizes, strides or dilation rates,
        strides and dilation both above 1, an unknown padding or activation, or (at build) an
        input the (dilated) kernel does not fit.
    """

    def __init__(self, filters=None, kernel_size=None, *args, strides=(1, 1), padding="valid",
                 data_format=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", dilation_rate=(1, 1), nb_filter=None, nb_row=None,
                 nb_col=None, border_mode=None, subsample=None, init=None, dim_ordering=None,
                 bias=None, **kwargs):
        super().__init__(**kwargs)
        filters = filters if filters is not None else nb_filter
        # Keras 1: Convolution2D(nb_filter, nb_row, nb_col); Keras 2: Conv2D(f, k, strides).
        kernel_size, strides = kernel_and_strides(self.name, kernel_size, args, strides)
        if kernel_size is None and nb_row is not None:
            kernel_size = (nb_row, nb_col if nb_col is not None else nb_row)
        if filters is None or kernel_size is None:
            raise TypeError(f"{self.name}: Conv2D needs filters and kernel_size, e.g. Conv2D(32, (3, 3)).")
        self.filters = check_positive_int(filters, "filters", self.name)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(subsample if subsample is not None else strides, 2, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.name)
        check_strides_and_dilation(self.name, self.strides, self.dilation_rate)
        self.padding = normalize_padding(border_mode if border_mode is not None else padding, self.name)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)
        self._set_activation(activation)
        self.use_bias = bool(use_bias if bias is None else bias)
        self.kernel_initializer = initializers.get(init or kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.trainable_names = ("kernel", "bias") if self.use_bias else ("kernel",)

    def compute_output_shape(self, input_shape):
        # A dilated kernel spans (K-1)*d + 1 pixels: sizes and "same" padding follow that extent.
        extent = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
        what = "kernel size" if self.dilation_rate == (1, 1) else "dilated kernel"
        return spatial_output_shape(self, input_shape, extent, self.strides, self.padding, self.filters, what)

    def _create_params(self, input_shape):
        C = image_shape(self, input_shape)[2]
        self.params["kernel"] = self._new_param(self.kernel_initializer, (*self.kernel_size, C, self.filters))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.filters,))

    def linear_forward(self, x):
        channels_first = self.data_format == "channels_first"
        z, cache = conv2d_forward(to_channels_last(x) if channels_first else x, self.params["kernel"],
                                  self.params.get("bias"), self.strides, self.padding, self.dilation_rate)
        return (to_channels_first(z) if channels_first else z), cache

    def linear_backward(self, dz, cache):
        channels_first = self.data_format == "channels_first"
        dx, dW, db = conv2d_backward(to_channels_last(dz) if channels_first else dz, cache)
        grads = {"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW}
        return (to_channels_first(dx) if channels_first else dx), grads

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      dilation_rate=list(self.dilation_rate), padding=self.padding, data_format=self.data_format,
                      activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


Convolution2D = Conv2D
