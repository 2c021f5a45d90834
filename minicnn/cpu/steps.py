"""The CPU's tuned steps: layers run on the ops of this package instead of minicnn.ops.

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
from minicnn.layers import BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D


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
    """Dense with its large products split over the worker threads."""

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
        if not (training and bn.trainable):
            return normalization.batchnorm_inference(x, gamma, beta, bn.params["moving_mean"],
                                                     bn.params["moving_variance"], bn.epsilon), None
        y, mean, var, cache = normalization.batchnorm_forward(x, gamma, beta, bn.epsilon, workspace(self))
        return y, (cache, mean, var)

    def backward(self, dy, cache):
        if cache is None:
            dx, grads = self.layer.backward(dy, None)
        else:
            dx, dgamma, dbeta = normalization.batchnorm_backward(dy, cache[0])
            grads = {"gamma": dgamma, "beta": dbeta}
        return dx, self.layer.trainable_gradients(grads)

    def update_state(self, cache):
        if cache is not None:
            self.layer.update_moving_statistics(cache[1], cache[2])


STEPS = {Conv2D: FusedConvPool, MaxPooling2D: FastMaxPool, Dense: FastDense, Dropout: FastDropout,
         BatchNormalization: FastBatchNormalization}
"""The tuned step for each layer type (exact types: a subclass keeps its own forward/backward)."""
