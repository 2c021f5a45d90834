"""Losses on the tape: a loss written by its user (a function of ``keras.ops``, or a subclass of
``keras.losses.Loss`` with a ``call``), and a built-in loss called on a Tensor inside a GradientTape.

    def contrastive_loss(y_true, y_pred, margin=1.0):
        return ops.mean(y_true * ops.square(y_pred) + (1 - y_true) * ops.square(ops.maximum(margin - y_pred, 0)))

    model.compile(optimizer="rmsprop", loss=contrastive_loss)

``fit`` takes such a loss's gradient at the outputs by running its ``call`` on a tape
(:func:`value_and_gradient`); the built-in losses keep their hand-written gradients.
"""
from minicnn import ops, tape
from minicnn.backend import get_array_module
from minicnn.losses import Loss


class LossFunctionWrapper(Loss):
    """A function ``fn(y_true, y_pred, **kwargs)`` of each sample's (or each position's) loss, as a
    Loss; named after the function. Its targets are cast to the outputs' dtype and keep their shape
    (a 1-D target beside 2-D outputs gets a last axis of 1), as Keras's wrapper gives them."""

    def __init__(self, fn, reduction="sum_over_batch_size", name=None, **kwargs):
        super().__init__(name or getattr(fn, "__name__", type(fn).__name__), reduction)
        self.fn, self.fn_kwargs = fn, kwargs

    def call(self, y_true, y_pred):
        return self.fn(y_true, y_pred, **self.fn_kwargs)

    def get_config(self):
        return {"name": self.name, "reduction": self.reduction}


def reduce(values, sample_weight, reduction):
    """Keras's reduction of per-sample (or per-position) losses, in ops (so it records on a tape)."""
    if sample_weight is not None:
        weight = ops.convert_to_tensor(sample_weight)
        weight = ops.reshape(weight, tuple(weight.shape) + (1,) * (values.ndim - weight.ndim))
        values = ops.multiply(values, ops.cast(weight, values.dtype))
    if reduction in ("none", None):
        return values
    if reduction == "sum":
        return ops.sum(values)
    if reduction == "mean_with_sample_weight" and sample_weight is not None:
        return ops.divide(ops.sum(values), ops.sum(ops.broadcast_to(weight, values.shape)).astype(values.dtype))
    return ops.mean(values)


def value_and_gradient(loss, y_true, y_pred):
    """The reduced loss (0-d array) and its gradient at ``y_pred`` (an array), from ``loss.call`` on a
    tape: what ``fit`` takes from a loss written in ops.

    Raises:
        ValueError: for reduction "none" (no single number to train on), or a ``call`` whose result
            does not depend on y_pred (a loss that cannot train the model).
    """
    if loss.reduction in ("none", None):
        raise ValueError(f"{loss.name}: reduction={loss.reduction!r} gives a loss per sample, but training needs "
                         "one number; use reduction='sum_over_batch_size' (the default) or 'sum'.")
    out = tape.Tensor(y_pred)
    with tape.GradientTape() as t:
        t.watch(out)
        values = loss.call(y_true, out)
        value = reduce(values if isinstance(values, tape.Tensor) else tape.Tensor(ops.convert_to_tensor(values)),
                       None, loss.reduction)
    grad = t.gradient(value, out)
    if grad is None:
        raise ValueError(f"Loss '{loss.name}' does not depend on y_pred (its gradient at the model's outputs is "
                         "None): write it with minicnn.ops, from y_pred, so that it can train the model.")
    xp = get_array_module(y_pred)
    return xp.asarray(tape.unwrap(value), dtype=y_pred.dtype), grad.data.astype(y_pred.dtype, copy=False)


def rows_on_tape(loss, y_true, y_pred):
    """A built-in loss's per-position values (its lowercase function, ``keras.losses.binary_crossentropy
    (y_true, y_pred)``) on a Tensor: one record, whose backward is the hand-written gradient of their
    mean times their number (each position's loss reads only its own row), times each position's dy."""
    y_true, y_pred_array = tape.unwrap(y_true), tape.unwrap(y_pred)
    values = Loss.call(loss, y_true, y_pred_array)
    mean = type(loss)(**{**loss.get_config(), "reduction": "sum_over_batch_size"})
    _, grad = mean.value_and_gradient(y_true, y_pred_array)
    axis = loss.axis % y_pred_array.ndim
    xp = get_array_module(y_pred_array)
    return tape.result(values, (y_pred,), lambda dy: (grad * grad.dtype.type(values.size) *
                                                      xp.expand_dims(dy, axis).astype(grad.dtype),))


def loss_on_tape(loss, y_true, y_pred, sample_weight):
    """A loss called on a Tensor while a tape records: user code runs op by op; a built-in loss is one
    record, its hand-written gradient (times each sample's weight) its backward.

    Raises:
        ValueError: for a built-in loss with reduction "none" (use the default, or ops).
    """
    if loss.user_code:
        return reduce(loss.call(y_true, y_pred), sample_weight, loss.reduction)
    if loss.reduction in ("none", None):
        raise ValueError(f"{loss.name} with reduction='none' cannot be differentiated on a GradientTape in minicnn; "
                         "use the default reduction, or write the per-sample loss with minicnn.ops.")
    y_true, y_pred_array = tape.unwrap(y_true), tape.unwrap(y_pred)
    value, grad = loss.value_and_gradient(y_true, y_pred_array)
    if sample_weight is not None:
        xp = get_array_module(y_pred_array)
        weight = xp.asarray(tape.unwrap(sample_weight), dtype=y_pred_array.dtype).reshape(-1)
        value, scale = loss.weighted(y_true, y_pred_array, weight)
        grad = grad * scale.reshape(-1, *(1,) * (grad.ndim - 1))
    return tape.result(get_array_module(y_pred_array).asarray(value, dtype=y_pred_array.dtype), (y_pred,),
                       lambda dy: (grad * dy,))
