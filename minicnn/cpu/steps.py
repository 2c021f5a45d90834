"""The CPU's tuned steps: layers run on the ops of this package instead of minicnn.nn.

:func:`minicnn.plan.make_plan` chooses them on the fast path and sets what they fuse:
``need_dx`` (False for the first step), ``input_relu`` (apply the ReLU derivative of the step
before, on steps with ``absorbs_input_relu``) and ``activation_grad_given`` (the next step or the
loss already applied this step's activation derivative). A step's scratch buffers belong to the
calling thread (:func:`minicnn.cpu.workspace.workspace`), so a model runs in many threads at once.
Each step is tested against the plain layers it replaces (tests/cpu/test_steps.py).
"""
import numpy as np

from minicnn.cpu import conv, dense, dropout, normalization, pooling
from minicnn.cpu.workspace import workspace
from minicnn.layers import Activation, Add, BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D, ReLU
from minicnn.nn.activations import relu_backward
from minicnn.cpu import conv_transpose, depthwise
from minicnn.layers import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from minicnn.cpu import noise, resampling
from minicnn.layers import GaussianDropout, GaussianNoise, SpatialDropout2D, UpSampling2D
from minicnn.nn.resampling import upsample2d_forward


def is_relu(layer):
    """Whether ``layer`` is a plain ReLU, ``Activation("relu")`` or ``ReLU()`` with its defaults (the
    planner fuses it into the step before)."""
    return relu_cap(layer) == np.inf


def relu_cap(layer):
    """inf for a plain ReLU, 6.0 for ReLU6 (``ReLU(6.)``, ``Activation("relu6")``), any cap of
    ``ReLU(max_value=m)``; None for any other layer (slopes and thresholds included)."""
    if type(layer) is ReLU and layer.negative_slope == 0 and layer.threshold == 0:
        return np.inf if layer.max_value is None else layer.max_value
    if type(layer) is Activation and layer.activation in ("relu", "relu6"):
        return np.inf if layer.activation == "relu" else 6.0
    return None


class FastStep:
    """What the tuned steps share: the planner's settings and the activation around a linear op."""

    absorbs_input_relu = False

    def __init__(self, layer, need_dx=True, input_relu=False, activation_grad_given=False):
        self.layers = (layer,)
        self.layer = layer
        self.need_dx, self.input_relu, self.activation_grad_given = need_dx, input_relu, activation_grad_given

    @classmethod
    def takes(cls, layer):
        """Whether this step can run ``layer`` (channels-last layouts only)."""
        return True

    @classmethod
    def ends_in_relu(cls, layers):
        """Whether the step's output is a ReLU's (so the steps after it may apply its derivative)."""
        return layers[0].has_linear_part and layers[0].activation == "relu"

    @classmethod
    def keeps_output(cls, layers):
        """Whether the step's cache holds its output (which then must not be overwritten)."""
        return True

    def update_state(self, cache):
        self.layer.update_state(cache)

    def activate(self, z):
        return self.layer.activate(z)

    def deactivate(self, dy, saved):
        return dy if self.activation_grad_given else self.layer._act_backward(dy, saved)


class FusedConvPool(FastStep):
    """Conv2D with its activation and, when a "valid" MaxPooling2D follows a ReLU or linear
    convolution, that pool too: it runs on each chunk of the convolution's output while the
    chunk is in cache, so the full-size output is never written out and read back."""

    absorbs_input_relu = True

    def __init__(self, layer, pool=None, **flags):
        super().__init__(layer, **flags)
        self.pool = pool
        self.layers = (layer,) if pool is None else (layer, pool)

    @classmethod
    def takes(cls, layer):
        """Channels-last, undilated convolutions: the tuned im2col has no dilation."""
        return layer.data_format == "channels_last" and layer.dilation_rate == (1, 1)

    @classmethod
    def fuses(cls, layer, nxt):
        """Whether ``layer`` and ``nxt`` make one step (the planner asks)."""
        return (type(layer) is Conv2D and type(nxt) is MaxPooling2D and cls.takes(layer)
                and nxt.padding == "valid" and nxt.data_format == "channels_last"
                and layer.activation in ("relu", "linear"))

    @classmethod
    def keeps_output(cls, layers):
        return layers[0].activation != "linear"  # the ReLU mask, or the activation's saved array

    def forward(self, x, training):
        c = self.layer
        pool = None if self.pool is None else (self.pool.pool_size, self.pool.strides)
        z, cache = conv.conv2d_forward(x, c.params["kernel"], c.params.get("bias"), c.strides, c.padding,
                                       relu=c.activation == "relu", ws=workspace(self), pool=pool,
                                       training=training)
        if self.layer.activation in ("relu", "linear"):
            return z, cache
        y, y_cache = self.activate(z)
        return y, (cache, y_cache)

    def backward(self, dy, cache):
        if self.layer.activation not in ("relu", "linear"):
            cache, y = cache
            dy = self.deactivate(dy, y)
        dx, dW, db = conv.conv2d_backward(dy, cache, need_dx=self.need_dx, ws=workspace(self),
                                          relu_applied=self.activation_grad_given, input_relu=self.input_relu)
        return dx, self.layer.trainable_gradients({"kernel": dW, "bias": db})


class FusedConvBN(FastStep):
    """A linear Conv2D, the BatchNormalization that alone reads it, and the ReLU (or ReLU6) that
    alone reads that (when there is one), as one step. Training: the convolution, the batch
    statistics, the ReLU on each normalised chunk in cache. Inference: the normalisation folded into
    the kernel and bias, so one convolution (its ReLU in its chunks) does all three."""

    absorbs_input_relu = True

    def __init__(self, layer, bn, act=None, **flags):
        super().__init__(layer, **flags)
        self.bn, self.relu = bn, act is not None
        self.cap = None if act is None else relu_cap(act)  # inf, or ReLU6's 6
        self.layers = (layer, bn) if act is None else (layer, bn, act)

    @classmethod
    def fuses(cls, layer, bn):
        """Whether ``layer`` and ``bn`` make one step (a trainable BN: a frozen one is never fused)."""
        return (type(layer) is Conv2D and FusedConvPool.takes(layer) and layer.activation == "linear"
                and type(bn) is BatchNormalization and FastBatchNormalization.takes(bn) and bn.trainable)

    @classmethod
    def ends_in_relu(cls, layers):
        return len(layers) == 3 and relu_cap(layers[2]) == np.inf  # a capped ReLU's derivative is not x > 0

    @classmethod
    def keeps_output(cls, layers):
        return len(layers) == 3

    def forward(self, x, training):
        c, bn = self.layer, self.bn
        gamma, beta = bn._gamma_beta(np)
        if not training:
            Wk, b = normalization.fold_into_conv(c.params["kernel"], c.params.get("bias"), gamma, beta,
                                                 bn.params["moving_mean"], bn.params["moving_variance"], bn.epsilon)
            y, _ = conv.conv2d_forward(x, Wk, b, c.strides, c.padding, relu=self.relu, ws=workspace(self),
                                       training=False)
            return (np.minimum(y, self.cap, out=y) if self.relu and self.cap != np.inf else y), None
        z, conv_cache = conv.conv2d_forward(x, c.params["kernel"], c.params.get("bias"), c.strides, c.padding,
                                            ws=workspace(self))
        y, mean, var, bn_cache = normalization.batchnorm_forward(z, gamma, beta, bn.epsilon, workspace(self),
                                                                 relu=self.relu, cap=self.cap)
        return y, (conv_cache, bn_cache, mean, var, y if self.relu else None)

    def backward(self, dy, cache):
        conv_cache, bn_cache, _, _, y = cache
        if y is not None and self.cap != np.inf:
            dy = dy * ((y > 0) & (y < self.cap))  # ReLU6: no gradient at or past either cap
        elif y is not None and not self.activation_grad_given:
            dy = relu_backward(dy, y)
        dz, dgamma, dbeta = normalization.batchnorm_backward(dy, bn_cache)
        dx, dW, db = conv.conv2d_backward(dz, conv_cache, need_dx=self.need_dx, ws=workspace(self),
                                          input_relu=self.input_relu)
        return dx, (self.layer.trainable_gradients({"kernel": dW, "bias": db})
                    + self.bn.trainable_gradients({"gamma": dgamma, "beta": dbeta}))

    def update_state(self, cache):
        if cache is not None:
            self.bn.update_moving_statistics(cache[2], cache[3])


class FastAdd(FastStep):
    """Add of two inputs of one shape (a residual connection), with the Activation("relu") that
    alone reads the sum when there is one. ``in_place``: the index of an input nothing else reads,
    whose buffer the sum overwrites (the planner decides); the ReLU runs in the same buffer."""

    def __init__(self, layer, act=None, in_place=None, **flags):
        super().__init__(layer, **flags)
        self.relu, self.in_place = act is not None, in_place
        self.layers = (layer,) if act is None else (layer, act)

    @classmethod
    def takes(cls, layer):
        return len(layer.input_shape) == 2 and layer.input_shape[0] == layer.input_shape[1]

    @classmethod
    def ends_in_relu(cls, layers):
        return len(layers) == 2

    @classmethod
    def keeps_output(cls, layers):
        return len(layers) == 2

    def forward(self, xs, training):
        y = np.add(xs[0], xs[1], out=None if self.in_place is None else xs[self.in_place])
        if self.relu:
            np.maximum(y, 0, out=y)
        return y, (y if self.relu and training else None)

    def backward(self, dy, y):
        if y is not None and not self.activation_grad_given:
            dy = relu_backward(dy, y)
        return [dy, dy], []  # one array for both inputs: the plan never changes a gradient in place


class FastMaxPool(FastStep):
    """MaxPooling2D in chunks; applies the ReLU derivative before it on the pooled gradient."""

    absorbs_input_relu = True

    @classmethod
    def takes(cls, layer):
        return layer.data_format == "channels_last"

    def forward(self, x, training):
        p = self.layer
        return pooling.maxpool2d_forward(x, p.pool_size, p.strides, p.padding, training=training)

    def backward(self, dy, cache):
        return pooling.maxpool2d_backward(dy, cache, input_relu=self.input_relu), []


class FastDense(FastStep):
    """Dense with its large products split over the worker threads (on flat inputs (N, D))."""

    @classmethod
    def takes(cls, layer):
        return len(layer.input_shape) == 1

    def forward(self, x, training):
        d = self.layer
        z, cache = dense.dense_forward(x, d.params["kernel"], d.params.get("bias"))
        y, y_cache = self.activate(z)
        return y, (cache, y_cache)

    def backward(self, dy, cache):
        cache, y = cache
        dx, dW, db = dense.dense_backward(self.deactivate(dy, y), cache, need_dx=self.need_dx)
        return dx, self.layer.trainable_gradients({"kernel": dW, "bias": db})


class FastDropout(FastStep):
    """Dropout whose mask is drawn on the worker threads."""

    def forward(self, x, training):
        if not training or self.layer.rate == 0:
            return x, None
        return dropout.dropout_forward(x, self.layer.rate)

    def backward(self, dy, mask):
        return (dy if mask is None else dy * mask), []


class FastBatchNormalization(FastStep):
    """BatchNormalization over the last axis in row chunks, its centred input in a reused buffer."""

    @classmethod
    def takes(cls, layer):
        ndim = len(layer.input_shape) + 1
        return layer._feature_axis(ndim) == ndim - 1 and not layer.synchronized

    def forward(self, x, training):
        bn = self.layer
        gamma, beta = bn._gamma_beta(np)
        if not (training and bn.trainable):  # the layer's inference cache: the input
            return normalization.batchnorm_inference(x, gamma, beta, bn.params["moving_mean"],
                                                     bn.params["moving_variance"], bn.epsilon), (None, x, None)
        y, mean, var, cache = normalization.batchnorm_forward(x, gamma, beta, bn.epsilon, workspace(self))
        return y, (cache, mean, var)

    @classmethod
    def keeps_output(cls, layers):
        return False

    def backward(self, dy, cache):
        if cache[0] is None:
            dx, grads = self.layer.backward(dy, cache)
        else:
            dx, dgamma, dbeta = normalization.batchnorm_backward(dy, cache[0])
            grads = {"gamma": dgamma, "beta": dbeta}
        return dx, self.layer.trainable_gradients(grads)

    def update_state(self, cache):
        self.layer.update_state(cache)


STEPS = {Conv2D: FusedConvPool, MaxPooling2D: FastMaxPool, Dense: FastDense, Dropout: FastDropout,
         BatchNormalization: FastBatchNormalization, Add: FastAdd}
"""The tuned step for each layer type (exact types: a subclass keeps its own forward/backward)."""


class FastUpSampling2D(FastStep):
    """Nearest-neighbour UpSampling2D (channels-last) whose backward adds whole rows, then columns
    (:mod:`minicnn.cpu.resampling`); the forward is the plain op's."""

    @classmethod
    def takes(cls, layer):
        return layer.data_format == "channels_last" and layer.interpolation == "nearest"

    def forward(self, x, training):
        return upsample2d_forward(x, self.layer.size), None

    def backward(self, dy, cache):
        return (resampling.nearest_backward(dy, self.layer.size) if self.need_dx else None), []


class FastGaussianNoise(FastStep):
    """GaussianNoise whose normal draws are made on the worker threads (:mod:`minicnn.cpu.noise`)."""

    def forward(self, x, training):
        if not training or self.layer.stddev == 0:
            return x, None
        return noise.gaussian_noise_forward(x, self.layer.stddev), None

    def backward(self, dy, cache):
        return dy, []


class FastGaussianDropout(FastStep):
    """GaussianDropout whose normal draws are made on the worker threads (:mod:`minicnn.cpu.noise`)."""

    def forward(self, x, training):
        if not training or self.layer.rate == 0:
            return x, None
        return noise.gaussian_dropout_forward(x, self.layer.rate)

    def backward(self, dy, m):
        return (dy if m is None else dy * m), []


class FastSpatialDropout2D(FastStep):
    """Channels-last SpatialDropout2D multiplying whole image rows by the mask (:mod:`minicnn.cpu.noise`)."""

    @classmethod
    def takes(cls, layer):
        return layer.data_format == "channels_last"

    def forward(self, x, training):
        if not training or self.layer.rate == 0:
            return x, None
        return noise.spatial_dropout_forward(x, self.layer.rate)

    def backward(self, dy, row_mask):
        return (dy if row_mask is None else noise.spatial_dropout_backward(dy, row_mask)), []


STEPS.update({UpSampling2D: FastUpSampling2D, GaussianNoise: FastGaussianNoise,
              GaussianDropout: FastGaussianDropout, SpatialDropout2D: FastSpatialDropout2D})


class FastDepthwiseConv2D(FastStep):
    """DepthwiseConv2D as one einsum per chunk over window views, no patch matrix, on the worker
    threads (:mod:`minicnn.cpu.depthwise`); its activation as the layer's."""

    @classmethod
    def takes(cls, layer):
        return layer.data_format == "channels_last"

    def forward(self, x, training):
        d = self.layer
        z, cache = depthwise.depthwise_conv2d_forward(x, d.params["depthwise_kernel"], d.params.get("bias"),
                                                      d.strides, d.padding, d.dilation_rate, ws=workspace(self))
        y, saved = self.activate(z)
        return y, (cache, saved)

    def backward(self, dy, cache):
        cache, saved = cache
        dx, dW, db = depthwise.depthwise_conv2d_backward(self.deactivate(dy, saved), cache, need_dx=self.need_dx,
                                                         ws=workspace(self))
        return dx, self.layer.trainable_gradients({"depthwise_kernel": dW, "bias": db})


class FastSeparableConv2D(FastDepthwiseConv2D):
    """SeparableConv2D: the depthwise step's chunks, each followed by its 1x1 product while in cache
    (:mod:`minicnn.cpu.depthwise`)."""

    def forward(self, x, training):
        s = self.layer
        z, cache = depthwise.separable_conv2d_forward(x, s.params["depthwise_kernel"], s.params["pointwise_kernel"],
                                                      s.params.get("bias"), s.strides, s.padding, s.dilation_rate,
                                                      ws=workspace(self))
        y, saved = self.activate(z)
        return y, (cache, saved)

    def backward(self, dy, cache):
        cache, saved = cache
        dx, dWd, dWp, db = depthwise.separable_conv2d_backward(self.deactivate(dy, saved), cache,
                                                               need_dx=self.need_dx, ws=workspace(self))
        return dx, self.layer.trainable_gradients({"depthwise_kernel": dWd, "pointwise_kernel": dWp, "bias": db})


class FastConv2DTranspose(FastStep):
    """Conv2DTranspose in chunks on the worker threads, the col2im of each in cache; with stride 1, one
    product of the flipped kernel (:mod:`minicnn.cpu.conv_transpose`); its activation as the layer's."""

    @classmethod
    def takes(cls, layer):
        """Channels-last, undilated: the tuned patches have no dilation."""
        return layer.data_format == "channels_last" and layer.dilation_rate == (1, 1)

    def forward(self, x, training):
        c = self.layer
        z, cache = conv_transpose.conv2d_transpose_forward(x, c.params["kernel"], c.params.get("bias"), c.strides,
                                                           c.padding, c.output_padding, ws=workspace(self))
        y, saved = self.activate(z)
        return y, (cache, saved)

    def backward(self, dy, cache):
        cache, saved = cache
        dx, dW, db = conv_transpose.conv2d_transpose_backward(self.deactivate(dy, saved), cache,
                                                              need_dx=self.need_dx, ws=workspace(self))
        return dx, self.layer.trainable_gradients({"kernel": dW, "bias": db})


STEPS.update({DepthwiseConv2D: FastDepthwiseConv2D, SeparableConv2D: FastSeparableConv2D,
              Conv2DTranspose: FastConv2DTranspose})


from minicnn.cpu import layer_norm  # noqa: E402
from minicnn.layers import GroupNormalization, LayerNormalization  # noqa: E402


class FastLayerNormalization(FastStep):
    """LayerNormalization over the trailing axes (the last one, or all of a sample's), in row chunks
    on the worker threads (minicnn.cpu.layer_norm); its centred input in a reused buffer."""

    @classmethod
    def takes(cls, layer):
        ndim = len(layer.input_shape) + 1
        axes = layer._axes(ndim)
        return axes == tuple(range(axes[0], ndim))

    @classmethod
    def keeps_output(cls, layers):
        return False

    def forward(self, x, training):
        ln = self.layer
        first = ln._axes(x.ndim)[0]
        gamma, beta = (None if p is None else p.reshape(-1) for p in (ln.params.get("gamma"), ln.params.get("beta")))
        y, cache = layer_norm.layernorm_forward(x, int(np.prod(x.shape[first:])), gamma, beta, ln.epsilon,
                                                workspace(self))
        return y, (cache if training else None)

    def backward(self, dy, cache):
        dx, dgamma, dbeta = layer_norm.layernorm_backward(dy, cache, need_dx=self.need_dx, ws=workspace(self))
        return dx, self.layer.trainable_gradients(self.layer._grads(dgamma, dbeta))


class FastGroupNormalization(FastStep):
    """GroupNormalization with the channels last or first (axis 1), in chunks of samples on the
    worker threads (minicnn.cpu.layer_norm); its centred input in a reused buffer."""

    @classmethod
    def takes(cls, layer):
        ndim = len(layer.input_shape) + 1
        return layer._channel_axis(ndim) in (1, ndim - 1)

    @classmethod
    def keeps_output(cls, layers):
        return False

    def forward(self, x, training):
        gn = self.layer
        y, cache = layer_norm.groupnorm_forward(x, gn.params.get("gamma"), gn.params.get("beta"),
                                                gn._group_count(x.shape[1:]), gn.epsilon,
                                                channels_last=gn._channel_axis(x.ndim) == x.ndim - 1,
                                                ws=workspace(self))
        return y, (cache if training else None)

    def backward(self, dy, cache):
        dx, dgamma, dbeta = layer_norm.groupnorm_backward(dy, cache, need_dx=self.need_dx, ws=workspace(self))
        return dx, self.layer.trainable_gradients(self.layer._grads(dgamma, dbeta))


STEPS.update({LayerNormalization: FastLayerNormalization, GroupNormalization: FastGroupNormalization})
