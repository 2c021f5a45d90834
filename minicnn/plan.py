"""The planner: a model's layers turned, once, into the steps that actually run.

A step has a ``forward(x, training) -> (y, cache)`` and a ``backward(dy, cache) -> (dx, grads)``,
like a layer, and covers one layer or several. The plain plan is one :class:`LayerStep` per
layer: each layer's own forward and backward, the ops of :mod:`minicnn.ops` (the GPU's path too).
On the CPU's fast path (``minicnn.set_fast_path``) the planner picks the tuned steps of
:mod:`minicnn.cpu.steps` and decides, here and nowhere else, what they fuse:

- a Conv2D with ReLU (or none) and the "valid" MaxPooling2D after it become one step: the pool
  runs on each chunk of the convolution's output while it is in cache;
- a step that can apply the ReLU derivative of the step before it more cheaply than that step
  (a convolution on each chunk of its input gradient, a max pool on its pooled gradient) does
  so, and the step before skips it;
- the first step computes no input gradient.

On both paths a final softmax trained with a crossentropy is fused with the loss: the gradient
at the logits is (p - y) / N, exact and cheap, so the last step skips the softmax's backward.
"""
import contextlib

from minicnn.cpu import steps as fast
from minicnn.cpu.threads import cpu_threads
from minicnn.ops.losses import crossentropy_value, softmax_crossentropy_backward


class LayerStep:
    """One layer, as it is. ``activation_grad_given``: the dy this step receives is already the
    gradient at its activation's input, so only the layer's linear part runs backward."""

    absorbs_input_relu = False

    def __init__(self, layer):
        self.layers = (layer,)
        self.activation_grad_given = False

    @property
    def ends_in_relu(self):
        return getattr(self.layers[0], "activation", None) == "relu" and hasattr(self.layers[0], "linear_backward")

    def forward(self, x, training):
        return self.layers[0].forward(x, training=training)

    def backward(self, dy, cache):
        layer = self.layers[0]
        dx, grads = layer.linear_backward(dy, cache[0]) if self.activation_grad_given else layer.backward(dy, cache)
        return dx, layer.trainable_gradients(grads)


class Plan:
    """The steps of a model and how its loss is taken.

    Attributes:
        steps: the steps in order; together they cover every layer once, in order.
        fast: whether the steps are the CPU's tuned ones (they then run under cpu_threads).
        softmax_loss: whether the last step's softmax is fused with a crossentropy loss.
        regularized: the layers with regularizers (:mod:`minicnn.regularizers`), in order.
    """

    def __init__(self, steps, fast, softmax_loss):
        self.steps, self.fast, self.softmax_loss = steps, fast, softmax_loss
        self.regularized = [layer for step in steps for layer in step.layers if layer.regularizers]

    def running(self):
        """The context a whole step runs in: the worker threads and BLAS settings when fast."""
        return cpu_threads() if self.fast else contextlib.nullcontext()

    def forward(self, x, training):
        """The output, and (when training) each step's cache for :meth:`backward`."""
        caches = []
        for step in self.steps:
            x, cache = step.forward(x, training)
            if training:
                caches.append(cache)
        return x, caches

    def loss(self, loss, target, out, weight=None):
        """The batch loss and its gradient at the output (at the logits when softmax_loss)."""
        value, dout = ((crossentropy_value(target, out), softmax_crossentropy_backward(target, out))
                       if self.softmax_loss else loss(target, out))
        return (value, dout) if weight is None else _weighted(loss, target, out, dout, weight)

    def backward(self, dout, caches):
        """The gradients of the trainable weights, in the model's order."""
        grads = []
        for step, cache in zip(reversed(self.steps), reversed(caches)):
            dout, step_grads = step.backward(dout, cache)
            grads[:0] = step_grads
        return grads


def _weighted(loss, target, out, dout, weight):
    """With per-sample weights (N,): the mean of the weighted losses (Keras divides by the batch
    size), and each row of the gradient weighted by its sample's weight."""
    return (loss.per_sample(target, out) * weight).mean(), dout * weight.reshape(-1, *(1,) * (dout.ndim - 1))


def make_plan(layers, loss=None, fast=False):
    """The plan for ``layers`` trained with ``loss`` (a minicnn Loss or None), plain or ``fast``."""
    steps = _fast_steps(layers) if fast else [LayerStep(layer) for layer in layers]
    softmax_loss = (loss is not None and loss.fused_softmax
                    and getattr(layers[-1], "activation", None) == "softmax")
    if softmax_loss:
        steps[-1].activation_grad_given = True
    return Plan(steps, fast, softmax_loss)


def _fast_steps(layers):
    steps, i = [], 0
    while i < len(layers):
        layer, nxt = layers[i], layers[i + 1] if i + 1 < len(layers) else None
        if fast.FusedConvPool.fuses(layer, nxt):
            steps.append(fast.FusedConvPool(layer, nxt))
            i += 2
            continue
        step_type = fast.STEPS.get(type(layer))
        steps.append(step_type(layer) if step_type is not None and step_type.takes(layer) else LayerStep(layer))
        i += 1
    for prev, step in zip(steps, steps[1:]):
        if step.absorbs_input_relu and prev.ends_in_relu:
            step.input_relu, prev.activation_grad_given = True, True
    if isinstance(steps[0], fast.FastStep):
        steps[0].need_dx = False
    return steps
