"""Conv2D (alias Convolution2D): a thin layer over :mod:`minicnn.ops.conv`.

Internally every image is channels-last (NHWC); a ``channels_first`` layer transposes its
input and output at its edges, so its weights keep Keras's layout either way.
"""
import numbers

from minicnn import initializers
from minicnn.backend import is_cupy_array
from minicnn.layers.base import Layer, check_positive_int, normalize_data_format, normalize_tuple
from minicnn.layers.core import ActivationMixin
from minicnn.ops.workspace import Workspace
from minicnn.ops.conv import PADDINGS, conv2d_backward, conv2d_forward, conv_output_length


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


class Conv2D(ActivationMixin, Layer):
    """2-D convolution: y = activation(conv(x, kernel) + bias).

    Args:
        filters: number of output channels F.
        kernel_size: int or (KH, KW). Keras 1's ``Convolution2D(32, 3, 3)`` (rows, cols as two
            positional ints) is accepted too.
        strides: int or (sh, sw), default 1.
        padding: ``"valid"`` (default) or ``"same"``.
        data_format: ``"channels_last"`` (N, H, W, C) or ``"channels_first"`` (N, C, H, W);
            default: the global image data format.
        activation, use_bias, kernel_initializer, bias_initializer: as Keras.
        Keras 1 spellings: nb_filter, nb_row, nb_col, border_mode, subsample, init,
        dim_ordering ('th'/'tf'), bias.
    Weights: kernel (KH, KW, C, F) and bias (F,), Keras's layout.

    Raises:
        ValueError/TypeError: for non-positive filters, kernel sizes or strides, an unknown
        padding or activation, or (at build) an input the kernel does not fit.
    """

    def __init__(self, filters=None, kernel_size=None, *args, strides=(1, 1), padding="valid",
                 data_format=None, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", dilation_rate=(1, 1), nb_filter=None, nb_row=None,
                 nb_col=None, border_mode=None, subsample=None, init=None, dim_ordering=None,
                 bias=None, **kwargs):
        super().__init__(**kwargs)
        filters = filters if filters is not None else nb_filter
        if args:
            # Keras 1: Convolution2D(nb_filter, nb_row, nb_col); Keras 2: Conv2D(f, k, strides).
            if len(args) == 1 and isinstance(args[0], numbers.Integral) and isinstance(kernel_size, numbers.Integral):
                kernel_size = (kernel_size, args[0])
            elif len(args) == 1:
                strides = args[0]
            else:
                raise TypeError(f"{self.name}: too many positional arguments {args!r}.")
        if kernel_size is None and nb_row is not None:
            kernel_size = (nb_row, nb_col if nb_col is not None else nb_row)
        if filters is None or kernel_size is None:
            raise TypeError(f"{self.name}: Conv2D needs filters and kernel_size, e.g. Conv2D(32, (3, 3)).")
        self.filters = check_positive_int(filters, "filters", self.name)
        self.kernel_size = normalize_tuple(kernel_size, 2, "kernel_size", self.name)
        self.strides = normalize_tuple(subsample if subsample is not None else strides, 2, "strides", self.name)
        if normalize_tuple(dilation_rate, 2, "dilation_rate", self.name) != (1, 1):
            raise ValueError(f"{self.name}: dilation_rate other than 1 is not supported.")
        self.padding = normalize_padding(border_mode if border_mode is not None else padding, self.name)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)
        self._set_activation(activation)
        self.use_bias = bool(use_bias if bias is None else bias)
        self.kernel_initializer = initializers.get(init or kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.trainable_names = ("kernel", "bias") if self.use_bias else ("kernel",)
        self._cache = None
        self._ws = Workspace()

    absorbs_input_relu = True

    def compute_output_shape(self, input_shape):
        return spatial_output_shape(self, input_shape, self.kernel_size, self.strides, self.padding,
                                    self.filters, "kernel size")

    def _create_params(self, input_shape):
        C = image_shape(self, input_shape)[2]
        self.params["kernel"] = self._new_param(self.kernel_initializer, (*self.kernel_size, C, self.filters))
        if self.use_bias:
            self.params["bias"] = self._new_param(self.bias_initializer, (self.filters,))

    def fuses_with(self, nxt):
        # A "valid" max pool right after a channels-last CPU convolution with ReLU or no activation
        # runs inside the convolution's chunk loop (conv2d_forward's ``pool``): the full-size
        # output is never written out and read back, which saves most of the pool's time.
        return (getattr(nxt, "fusable_max_pool", False) and nxt.padding == "valid"
                and self.data_format == nxt.data_format == "channels_last"
                and self.activation in ("relu", "linear") and not is_cupy_array(self.params["kernel"]))

    def forward(self, x, training=False, fuse=None):
        if self.data_format == "channels_first":
            x = to_channels_last(x)
        # ReLU is fused into the convolution's chunk loop; other activations follow it.
        fused = self.activation in ("relu", "linear")
        pool = None if fuse is None else (fuse.pool_size, fuse.strides)
        z, cache = conv2d_forward(x, self.params["kernel"], self.params.get("bias"), self.strides,
                                  self.padding, relu=self.activation == "relu", ws=self._ws, pool=pool,
                                  training=training)
        if training:
            self._cache = cache
        y = z if fused else self._activate(z, training)
        return to_channels_first(y) if self.data_format == "channels_first" else y

    def backward(self, dy, pre_activation_grad=False):
        if self.data_format == "channels_first":
            dy = to_channels_last(dy)
        fused = self.activation in ("relu", "linear")
        dz = dy if fused else self._deactivate(dy, pre_activation_grad)
        cache, self._cache = self._cache, None
        dx, dW, db = conv2d_backward(dz, cache, need_dx=self.needs_input_grad, ws=self._ws,
                                     relu_applied=pre_activation_grad, input_relu=self.input_relu)
        self.grads["kernel"] = dW
        if self.use_bias:
            self.grads["bias"] = db
        return to_channels_first(dx) if self.data_format == "channels_first" and dx is not None else dx

    def release(self):
        self._cache = self._y = None
        self._ws.clear()

    def get_config(self):
        config = super().get_config()
        config.update(filters=self.filters, kernel_size=list(self.kernel_size), strides=list(self.strides),
                      padding=self.padding, data_format=self.data_format, activation=self.activation,
                      use_bias=self.use_bias,
                      kernel_initializer=initializers.serialize(self.kernel_initializer),
                      bias_initializer=initializers.serialize(self.bias_initializer))
        return config


Convolution2D = Conv2D

_POOLING_NAMES = ("MaxPooling2D", "MaxPool2D", "AveragePooling2D", "AvgPool2D")


def __getattr__(name):
    # Keras 1 tutorials import the pooling layers from here; pooling.py imports this module, so
    # they are fetched lazily rather than imported at the top (an import cycle).
    if name in _POOLING_NAMES:
        from minicnn.layers import pooling
        return getattr(pooling, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
