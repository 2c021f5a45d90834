"""Conv2DTranspose (Keras 2 aliases Convolution2DTranspose, Deconvolution2D, Deconv2D): a thin layer
over :mod:`minicnn.nn.conv_transpose`, the adjoint of Conv2D.

Internally every image is channels-last (NHWC); a ``channels_first`` layer transposes its input
and output at its edges, so its weights keep Keras's layout either way.
"""
import numbers

from minicnn import initializers
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format, normalize_tuple
from minicnn.layers.core import ActivationMixin
from minicnn.layers.spatial import (check_strides_and_dilation, image_shape, kernel_and_strides, normalize_padding,
                                    to_channels_first, to_channels_last)
from minicnn.nn.conv_transpose import conv2d_transpose_backward, conv2d_transpose_forward, conv_transpose_length


class Conv2DTranspose(ActivationMixin, Layer):
    """Transposed 2-D convolution ("deconvolution"): y = activation(conv_transpose(x, kernel) + bias),
    which maps an image the size of a Conv2D's output back to the size of its input.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW).
        strides: int or (sh, sw), default 1: the output is about ``strides`` times the input.
        padding: ``"valid"`` (default) or ``"same"``. Output rows, as Keras computes them (EK is the
            dilated kernel's extent (KH-1)*dh + 1): "valid": (H-1)*sh + max(EK, sh) without
            output_padding, (H-1)*sh + EK + output_padding with it; "same": H*sh without,
            (H-1)*sh + EK % 2 + output_padding with it.
        output_padding: None (default), an int, or (oph, opw): extra rows and columns, each at least 0
            and smaller than its stride.
        data_format: ``"channels_last"`` (N, H, W, C) or ``"channels_first"`` (N, C, H, W); default:
            the global image data format.
        dilation_rate: int or (dh, dw), default 1; strides and dilation_rate cannot both exceed 1.
        activation, use_bias, kernel_initializer, bias_initializer, kernel_regularizer,
            bias_regularizer: as Keras.
        Keras 1 spellings (Keras 2's ``Deconvolution2D``): nb_filter, nb_row, nb_col, border_mode,
            subsample, init, dim_ordering ('th'/'tf'), bias, and output_shape (Keras 1 needed it; it is
            checked against the computed shape at build).
    Weights: kernel (KH, KW, F, C), Keras's layout (filters before input channels), and bias (F,).

    Raises:
        ValueError/TypeError: for non-positive filters, kernel sizes, strides or dilation rates, strides
        and dilation both above 1, an output_padding not in [0, stride), an unknown padding or
        activation, or (at build) an input that is not an image or an output_shape that does not match.
    """

    def __init__(self, filters=None, kernel_size=None, *args, strides=(1, 1), padding="valid", output_padding=None,
                 data_format=None, dilation_rate=(1, 1), activation=None, use_bias=True,
                 kernel_initializer="glorot_uniform", bias_initializer="zeros", nb_filter=None, nb_row=None,
                 nb_col=None, border_mode=None, subsample=None, init=None, dim_ordering=None, bias=None,
                 output_shape=None, **kwargs):
        super().__init__(**kwargs)
        if len(args) == 2 and isinstance(args[1], (tuple, list)):  # Keras 1: (nb_filter, nb_row, nb_col, output_shape)
            args, output_shape = args[:1], args[1]
        kernel_size, strides = kernel_and_strides(self.name, kernel_size, args, strides)
        filters = filters if filters is not None else nb_filter
        if kernel_size is None and nb_row is not None:
            kernel_size = (nb_row, nb_col if nb_col is not None else nb_row)
        if filters is None or kernel_size is None:
            raise TypeError(f"{self.name}: Conv2DTranspose needs filters and kernel_size, "
                            "e.g. Conv2DTranspose(32, 3, strides=2, padding='same').")
        self.filters = check_positive_int(filters, "filters", self.name)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(subsample if subsample is not None else strides, 2, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.name)
        check_strides_and_dilation(self.name, self.strides, self.dilation_rate)
        self.output_padding = self._check_output_padding(output_padding)
        self.padding = normalize_padding(border_mode if border_mode is not None else padding, self.name)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)
        self._set_activation(activation)
        self.use_bias = bool(use_bias if bias is None else bias)
        self.kernel_initializer = initializers.get(init or kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self._keras1_output_shape = None if output_shape is None else tuple(output_shape)
        self.trainable_names = ("kernel", "bias") if self.use_bias else ("kernel",)

    def _check_output_padding(self, value):
        if value is None:
            return None
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = (value, value)
        if (not isinstance(value, (tuple, list)) or len(value) != 2
                or not all(isinstance(v, numbers.Integral) and not isinstance(v, bool) for v in value)):
            raise ValueError(f"{self.name}: output_padding must be None, an integer or a tuple of 2 integers, "
                             f"got {value!r}.")
        for v, s, axis in zip(value, self.strides, ("rows", "columns")):
            if not 0 <= v < s:
                raise ValueError(
                    f"{self.name}: output_padding {tuple(value)} must be at least 0 and smaller than the strides "
                    f"{self.strides} on each axis ({axis}: {v} is not in [0, {s})). Leave it None for Keras's "
                    "default size, or use a larger stride.")
        return tuple(int(v) for v in value)

    def compute_output_shape(self, input_shape):
        H, W, _ = image_shape(self, input_shape)
        op = (None, None) if self.output_padding is None else self.output_padding
        try:
            OH, OW = (conv_transpose_length(n, k, s, d, self.padding, o)[0] for n, k, s, d, o in
                      zip((H, W), self.kernel_size, self.strides, self.dilation_rate, op))
        except ValueError as e:
            raise ValueError(f"{self.name}: for the per-sample input shape {tuple(input_shape)}, {e}") from None
        shape = (self.filters, OH, OW) if self.data_format == "channels_first" else (OH, OW, self.filters)
        expected = self._keras1_output_shape
        if expected is not None and tuple(expected[-3:]) != shape:
            raise ValueError(
                f"{self.name}: output_shape {expected} (Keras 1's argument) does not match the output this layer "
                f"computes, {(None, *shape)}. Leave output_shape out (Keras 2 ignores it) and set the size with "
                "strides, padding and output_padding.")
        return shape

    def _create_params(self, input_shape):
        C = image_shape(self, input_shape)[2]
        self.params["kernel"] = self._new_param(self.kernel_initializer, (*self.kernel_size, self.filters, C))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.filters,))

    def linear_forward(self, x):
        channels_first = self.data_format == "channels_first"
        z, cache = conv2d_transpose_forward(to_channels_last(x) if channels_first else x, self.params["kernel"],
                                            self.params.get("bias"), self.strides, self.padding,
                                            self.output_padding, self.dilation_rate)
        return (to_channels_first(z) if channels_first else z), cache

    def linear_backward(self, dz, cache):
        channels_first = self.data_format == "channels_first"
        dx, dW, db = conv2d_transpose_backward(to_channels_last(dz) if channels_first else dz, cache)
        grads = {"kernel": dW, "bias": db} if self.use_bias else {"kernel": dW}
        return (to_channels_first(dx) if channels_first else dx), grads

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=self.padding,
                      output_padding=None if self.output_padding is None else list(self.output_padding),
                      data_format=self.data_format, dilation_rate=list(self.dilation_rate),
                      activation=self.activation, use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


Convolution2DTranspose = Deconvolution2D = Deconv2D = Conv2DTranspose
