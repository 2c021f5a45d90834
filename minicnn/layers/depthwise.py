"""DepthwiseConv2D and SeparableConv2D (alias SeparableConvolution2D): thin layers over
:mod:`minicnn.nn.depthwise`, the convolutions of MobileNet and Xception.

A depthwise convolution filters each input channel on its own (``depth_multiplier`` kernels per
channel); a separable one follows it with a 1x1 convolution that mixes the channels. Internally
every image is channels-last (NHWC); a ``channels_first`` layer transposes at its edges.
"""
from minicnn import initializers, regularizers
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format, normalize_tuple
from minicnn.layers.core import ActivationMixin
from minicnn.layers.spatial import (check_strides_and_dilation, image_shape, kernel_and_strides, normalize_padding,
                                    spatial_output_shape, to_channels_first, to_channels_last)
from minicnn.nn.depthwise import (depthwise_conv2d_backward, depthwise_conv2d_forward, separable_conv2d_backward,
                                   separable_conv2d_forward)


class _DepthwiseBase(ActivationMixin, Layer):
    """What both layers share: the depthwise kernel's arguments, shapes and config.

    Regularizers: ``depthwise_regularizer`` (and SeparableConv2D's ``pointwise_regularizer``) are
    kept under the weight's name, ``depthwise_kernel`` (``pointwise_kernel``), as ``bias_regularizer``
    is under ``bias``.
    """

    _REGULARIZED = {"depthwise_kernel": "depthwise_regularizer"}

    def __init__(self, kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                 use_bias, depthwise_initializer, bias_initializer, regularized, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(strides, 2, "strides", self.name)
        self.dilation_rate = normalize_tuple(dilation_rate, 2, "dilation_rate", self.name)
        check_strides_and_dilation(self.name, self.strides, self.dilation_rate)
        self.depth_multiplier = check_positive_int(depth_multiplier, "depth_multiplier", self.name)
        self.padding = normalize_padding(padding, self.name)
        self.data_format = normalize_data_format(data_format, self.name)
        self._set_activation(activation)
        self.use_bias = bool(use_bias)
        self.depthwise_initializer = initializers.get(depthwise_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.regularizers.update({name: regularizers.get(r) for name, r in regularized.items() if r is not None})

    def _output_shape(self, input_shape, channels_out):
        extent = tuple((k - 1) * d + 1 for k, d in zip(self.kernel_size, self.dilation_rate))
        what = "kernel size" if self.dilation_rate == (1, 1) else "dilated kernel"
        return spatial_output_shape(self, input_shape, extent, self.strides, self.padding, channels_out, what)

    def _new_depthwise_kernel(self, input_shape):
        C = image_shape(self, input_shape)[2]
        self.params["depthwise_kernel"] = self._new_param(self.depthwise_initializer,
                                                          (*self.kernel_size, C, self.depth_multiplier))
        return C

    def _channels_last(self, x):
        return to_channels_last(x) if self.data_format == "channels_first" else x

    def _back_to_format(self, y):
        return to_channels_first(y) if self.data_format == "channels_first" else y

    def get_config(self):
        config = super().get_config()
        for weight, argument in self._REGULARIZED.items():  # the base names them after the weight
            if f"{weight}_regularizer" in config:
                config[argument] = config.pop(f"{weight}_regularizer")
        config.update(kernel_size=list(self.kernel_size), strides=list(self.strides), padding=self.padding,
                      depth_multiplier=self.depth_multiplier, data_format=self.data_format,
                      dilation_rate=list(self.dilation_rate), activation=self.activation, use_bias=self.use_bias,
                      depthwise_initializer=initializers.serialize(self.depthwise_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


class DepthwiseConv2D(_DepthwiseBase):
    """Depthwise 2-D convolution: each input channel convolved with its own ``depth_multiplier``
    kernels, y = activation(depthwise_conv(x, depthwise_kernel) + bias); output channel
    ``c * depth_multiplier + m`` is input channel c under kernel m (Keras's order).

    Args:
        kernel_size: int or (KH, KW).
        strides: int or (sh, sw), default 1.
        padding: ``"valid"`` (default) or ``"same"``.
        depth_multiplier: kernels per input channel M, default 1: C*M output channels.
        data_format: ``"channels_last"`` or ``"channels_first"``; default: the global image data format.
        dilation_rate: int or (dh, dw), default 1; strides and dilation_rate cannot both exceed 1.
        activation, use_bias, depthwise_initializer, bias_initializer, depthwise_regularizer,
            bias_regularizer: as Keras.
    Weights: depthwise_kernel (KH, KW, C, M) and bias (C*M,), Keras's layout.

    Raises:
        ValueError/TypeError: for non-positive kernel sizes, strides, dilation rates or depth_multiplier,
        strides and dilation both above 1, an unknown padding or activation, or (at build) an input
        that is not an image or that the (dilated) kernel does not fit.
    """

    def __init__(self, kernel_size=None, strides=(1, 1), padding="valid", depth_multiplier=1, data_format=None,
                 dilation_rate=(1, 1), activation=None, use_bias=True, depthwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, **kwargs):
        if kernel_size is None:
            raise TypeError(f"{kwargs.get('name', 'DepthwiseConv2D')}: DepthwiseConv2D needs kernel_size, "
                            "e.g. DepthwiseConv2D(3, padding='same').")
        super().__init__(kernel_size, strides, padding, depth_multiplier, data_format, dilation_rate, activation,
                         use_bias, depthwise_initializer, bias_initializer,
                         {"depthwise_kernel": depthwise_regularizer}, **kwargs)
        self.trainable_names = ("depthwise_kernel", "bias") if self.use_bias else ("depthwise_kernel",)

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, image_shape(self, input_shape)[2] * self.depth_multiplier)

    def _create_params(self, input_shape):
        C = self._new_depthwise_kernel(input_shape)
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (C * self.depth_multiplier,))

    def linear_forward(self, x):
        z, cache = depthwise_conv2d_forward(self._channels_last(x), self.params["depthwise_kernel"],
                                            self.params.get("bias"), self.strides, self.padding, self.dilation_rate)
        return self._back_to_format(z), cache

    def linear_backward(self, dz, cache):
        dx, dW, db = depthwise_conv2d_backward(self._channels_last(dz), cache)
        grads = {"depthwise_kernel": dW, "bias": db} if self.use_bias else {"depthwise_kernel": dW}
        return self._back_to_format(dx), grads


class SeparableConv2D(_DepthwiseBase):
    """Depthwise-separable 2-D convolution: a depthwise convolution (each channel on its own,
    ``depth_multiplier`` kernels each) followed by a 1x1 convolution to ``filters`` channels, then one
    bias and the activation. Far fewer weights than a Conv2D of the same size: KH*KW*C*M + C*M*F.

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW) of the depthwise step.
        strides, padding, depth_multiplier, data_format, dilation_rate: of the depthwise step, as
            DepthwiseConv2D's (the 1x1 step has stride 1).
        activation, use_bias, depthwise_initializer, pointwise_initializer, bias_initializer,
            depthwise_regularizer, pointwise_regularizer, bias_regularizer: as Keras.
        Keras 1 spellings (SeparableConvolution2D): nb_filter, nb_row, nb_col, border_mode, subsample,
            init (both kernels), dim_ordering ('th'/'tf'), bias.
    Weights: depthwise_kernel (KH, KW, C, M), pointwise_kernel (1, 1, C*M, F) and bias (F,), Keras's
    layout and order.

    Raises:
        ValueError/TypeError: as DepthwiseConv2D, and for non-positive filters.
    """

    _REGULARIZED = {"depthwise_kernel": "depthwise_regularizer", "pointwise_kernel": "pointwise_regularizer"}

    def __init__(self, filters=None, kernel_size=None, *args, strides=(1, 1), padding="valid", data_format=None,
                 dilation_rate=(1, 1), depth_multiplier=1, activation=None, use_bias=True,
                 depthwise_initializer="glorot_uniform", pointwise_initializer="glorot_uniform",
                 bias_initializer="zeros", depthwise_regularizer=None, pointwise_regularizer=None, nb_filter=None,
                 nb_row=None, nb_col=None, border_mode=None, subsample=None, init=None, dim_ordering=None,
                 bias=None, **kwargs):
        name = kwargs.get("name") or "SeparableConv2D"
        kernel_size, strides = kernel_and_strides(name, kernel_size, args, strides)
        filters = filters if filters is not None else nb_filter
        if kernel_size is None and nb_row is not None:
            kernel_size = (nb_row, nb_col if nb_col is not None else nb_row)
        if filters is None or kernel_size is None:
            raise TypeError(f"{name}: SeparableConv2D needs filters and kernel_size, "
                            "e.g. SeparableConv2D(64, 3, padding='same').")
        super().__init__(kernel_size, subsample if subsample is not None else strides,
                         border_mode if border_mode is not None else padding, depth_multiplier,
                         data_format or dim_ordering, dilation_rate, activation, use_bias if bias is None else bias,
                         init or depthwise_initializer, bias_initializer,
                         {"depthwise_kernel": depthwise_regularizer, "pointwise_kernel": pointwise_regularizer},
                         **kwargs)
        self.filters = check_positive_int(filters, "filters", self.name)
        self.pointwise_initializer = initializers.get(init or pointwise_initializer)
        names = ("depthwise_kernel", "pointwise_kernel")
        self.trainable_names = (*names, "bias") if self.use_bias else names

    def compute_output_shape(self, input_shape):
        return self._output_shape(input_shape, self.filters)

    def _create_params(self, input_shape):
        C = self._new_depthwise_kernel(input_shape)
        self.params["pointwise_kernel"] = self._new_param(self.pointwise_initializer,
                                                          (1, 1, C * self.depth_multiplier, self.filters))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.filters,))

    def linear_forward(self, x):
        z, cache = separable_conv2d_forward(self._channels_last(x), self.params["depthwise_kernel"],
                                            self.params["pointwise_kernel"], self.params.get("bias"), self.strides,
                                            self.padding, self.dilation_rate)
        return self._back_to_format(z), cache

    def linear_backward(self, dz, cache):
        dx, dWd, dWp, db = separable_conv2d_backward(self._channels_last(dz), cache)
        grads = {"depthwise_kernel": dWd, "pointwise_kernel": dWp}
        if self.use_bias:
            grads["bias"] = db
        return self._back_to_format(dx), grads

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, pointwise_initializer=initializers.serialize(self.pointwise_initializer))
        return config


SeparableConvolution2D = SeparableConv2D
