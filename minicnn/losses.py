"""Losses as Keras 3 has them: a class (``SparseCategoricalCrossentropy(from_logits=True)``,
``Huber(delta=2.0)``), a lowercase function (``minicnn.losses.mean_absolute_error``) and a name
(``"mae"``), each accepted by ``compile``.

As in Keras, calling a loss object gives the reduced loss, a 0-d array:
``loss(y_true, y_pred, sample_weight=None)``, reduced by ``reduction`` (``"sum_over_batch_size"``:
the mean of the losses the lowercase function gives, after each is multiplied by its weight), and
the lowercase functions give each sample's loss, (N,) for outputs (N, K). The training step needs
the gradient too: ``loss.value_and_gradient(y_true, y_pred)`` gives the reduced loss and
dL/dy_pred at once, and ``loss.per_sample(y_true, y_pred)`` each sample's loss (N,), for weighted
training. The arithmetic lives in :mod:`minicnn.nn.losses` and :mod:`minicnn.nn.regression_losses`.
"""
import math
import numbers

import numpy as np

from minicnn import tape
from minicnn.backend import floatx, get_array_module, to_numpy
from minicnn.nn import losses as ops, regression_losses as regression


def _check_from_logits(value, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: from_logits must be True or False, got {value!r}.")
    return bool(value)


def _check_fraction(value, owner, what):
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not 0 <= value <= 1:
        raise ValueError(f"{owner}: {what} must be a number in [0, 1], got {value!r}.")
    return float(value)


def _check_axis(value, owner):
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{owner}: axis must be an integer, got {value!r}.")
    return int(value)


def _check_label_values(labels, K, what, where):
    """Raise ValueError unless the host array ``labels`` holds integers in [0, K - 1]."""
    if labels.size and (labels.min() < 0 or labels.max() >= K or np.any(labels != np.floor(labels))):
        raise ValueError(f"{what} must be integers in [0, {K - 1}] for {where.format(K=K)}; got values from "
                         f"{labels.min()} to {labels.max()}.")


def _as_arrays(y_true, y_pred):
    """y_true and y_pred as arrays of y_pred's backend: y_pred floating (floatx if it is not)."""
    xp = get_array_module(y_pred, y_true)
    y_pred = xp.asarray(y_pred)
    if y_pred.dtype.kind != "f":
        y_pred = y_pred.astype(floatx())
    return xp.asarray(y_true), y_pred


class Loss:
    """A loss as Keras 3 has it: ``loss(y_true, y_pred, sample_weight=None)`` is the reduced loss.

    A subclass of one's own gives :meth:`call`, written with :mod:`minicnn.ops`: its gradient comes
    from the tape (:mod:`minicnn.user_losses`). The built-in losses give ``_inputs`` and ``_rows``
    and a hand-written ``_mean_and_gradient``. ``fused_softmax`` marks crossentropies whose gradient the
    model may take straight at the logits of a final softmax (:meth:`value_and_softmax_gradient`).

    Args:
        name: the loss's name (the class's snake-case name by default).
        reduction: how :func:`minicnn.nn.losses.reduce` reduces the losses, default "sum_over_batch_size".
    Raises:
        ValueError: for an unknown reduction.
    """

    fused_softmax = False
    axis = -1
    user_code = True  # a loss of one's own (a call() of its own, or no hand-written gradient): on the tape

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.user_code = cls.call is not Loss.call or cls._mean_and_gradient is Loss._mean_and_gradient

    def __init__(self, name=None, reduction="sum_over_batch_size"):
        if reduction not in ops.REDUCTIONS:
            raise ValueError(f"{type(self).__name__}: reduction must be one of {list(ops.REDUCTIONS)}, "
                             f"got {reduction!r}.")
        self.name = name if name is not None else "".join(
            "_" + c.lower() if c.isupper() and i else c.lower() for i, c in enumerate(type(self).__name__))
        self.reduction = reduction

    def __call__(self, y_true, y_pred, sample_weight=None):
        """The loss reduced as :func:`minicnn.nn.losses.reduce` says: a 0-d array (the weighted
        losses, for reduction "none"); on a Tensor, or while a GradientTape records, a Tensor on
        the tape (:mod:`minicnn.user_losses`)."""
        from minicnn import tape
        if tape.recording() or tape.any_tensor(y_pred):
            from minicnn import user_losses
            return user_losses.loss_on_tape(self, y_true, y_pred, sample_weight)
        return ops.reduce(self.call(y_true, y_pred), sample_weight, self.reduction)

    def call(self, y_true, y_pred):
        """Each position's loss (N, ...), from outputs (N, ..., K), before any reduction; on a Tensor
        (inside a GradientTape: a custom train_step), one record on the tape.

        Raises:
            ValueError: for targets that cannot go with ``y_pred`` (shapes, labels)."""
        if isinstance(y_pred, tape.Tensor):
            from minicnn import user_losses
            return user_losses.rows_on_tape(self, y_true, y_pred)
        return self._rows(*self._inputs(y_true, y_pred))

    def per_sample(self, y_true, y_pred):
        """Each sample's loss (N,), in one pass: the mean of its values (the sum, for reduction "sum")."""
        values = self.call(y_true, y_pred)
        if values.ndim == 0:
            raise ValueError(f"{self.name}: per_sample needs y_pred of shape (N, ...); a 1-D y_pred is one sample.")
        values = values.reshape(values.shape[0], math.prod(values.shape[1:]))
        return values.sum(axis=1) if self.reduction == "sum" else values.mean(axis=1)

    def value_and_gradient(self, y_true, y_pred):
        """The reduced loss (0-d) and dL/dy_pred (y_pred's shape and dtype): what the training step takes.

        Raises:
            ValueError: for reduction "none", which leaves no single number to train on.
        """
        if self.user_code:  # a loss of one's own: its gradient from its call() on a tape
            from minicnn import user_losses
            return user_losses.value_and_gradient(self, y_true, y_pred)
        shape = np.shape(y_pred)
        y_true, y_pred = self._inputs(y_true, y_pred)
        value, grad = self._mean_and_gradient(y_true, y_pred)
        return self._scaled(value, self._in_layout(grad, shape), y_pred)

    def weighted(self, y_true, y_pred, sample_weight):
        """With weights (N,): the loss as ``self(y_true, y_pred, sample_weight)`` gives it, from
        :meth:`per_sample`, and per sample (N,) what turns a row of :meth:`value_and_gradient`'s
        gradient into this loss's: the weight (over the mean weight, for "mean_with_sample_weight")."""
        xp = get_array_module(y_pred)
        losses = self.per_sample(y_true, y_pred) * sample_weight
        if self.reduction == "mean_with_sample_weight":
            total = sample_weight.sum()
            return ops.divide_no_nan(losses.sum(), total, xp), ops.divide_no_nan(sample_weight * len(losses), total, xp)
        return (losses.sum() if self.reduction == "sum" else losses.mean()), sample_weight

    def get_config(self):
        """The constructor's arguments; ``type(loss)(**loss.get_config())`` is an equal loss."""
        return {"name": self.name, "reduction": self.reduction}

    def prepare_targets(self, y, K, dtype):
        """Targets of ``dtype`` for a batch (``K``: the output size); 1-D targets (N,), allowed for a
        one-unit output only, become (N, 1), which the loss must not broadcast into (N, N)."""
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        return y.astype(dtype, copy=False)

    def check_targets(self, y, output_shape):
        """Raise ValueError when targets ``y`` (N, ...) cannot go with outputs (N, *output_shape);
        as in Keras, targets (N,) go with a one-unit output (1,)."""
        if self.user_code:
            return  # a loss of one's own takes the targets it is written for
        if tuple(y.shape[1:]) != tuple(output_shape) and not (y.ndim == 1 and tuple(output_shape) == (1,)):
            hint = (" The output still has image axes: a Dense layer applies to each position of an image; add "
                    "Flatten() or GlobalAveragePooling2D() before it.") if len(output_shape) > max(1, y.ndim - 1) else ""
            raise ValueError(f"Targets have per-sample shape {tuple(y.shape[1:])} but the model outputs "
                             f"{tuple(output_shape)} with loss '{self.name}'. Make the last layer's size match the "
                             f"targets.{hint}")

    # -- what the built-in losses share ---------------------------------------------------------

    def _inputs(self, y_true, y_pred):
        """y_true and y_pred as :meth:`_rows` takes them: arrays of one float dtype and one shape,
        the reduced axis last. Keras broadcasts shapes that differ; here they are refused."""
        y_true, y_pred = ops.same_rank(*_as_arrays(y_true, y_pred))
        y_true = y_true.astype(y_pred.dtype, copy=False)
        if y_true.shape != y_pred.shape:
            raise ValueError(f"{self.name}: y_true of shape {y_true.shape} does not match y_pred of shape "
                             f"{y_pred.shape}; give targets shaped like the outputs.")
        if self.axis not in (-1, y_pred.ndim - 1):
            xp = get_array_module(y_pred)
            y_true, y_pred = xp.moveaxis(y_true, self.axis, -1), xp.moveaxis(y_pred, self.axis, -1)
        return y_true, y_pred

    def _in_layout(self, grad, shape):
        """A gradient for :meth:`_inputs`'s y_pred, in the layout of the y_pred given (of ``shape``)."""
        if self.axis not in (-1, len(shape) - 1):
            grad = get_array_module(grad).moveaxis(grad, -1, self.axis)
        return grad.reshape(shape)

    def _scaled(self, value, grad, y_pred):
        """The mean loss and its gradient, as the reduction wants them."""
        if self.reduction in ("none", None):
            raise ValueError(f"{self.name}: reduction={self.reduction!r} gives a loss per sample, but training "
                             "needs one number; use reduction='sum_over_batch_size' (the default) or 'sum'.")
        if self.reduction == "sum":
            n = ops.positions(y_pred)
            value, grad = value * n, grad * grad.dtype.type(n)
        return get_array_module(y_pred).asarray(value), grad

    def _mean_and_gradient(self, y_true, y_pred):
        raise NotImplementedError(f"{type(self).__name__} has no hand-written gradient: define call(y_true, y_pred) "
                                  "with minicnn.ops, and the tape gives it.")


class CategoricalCrossentropy(Loss):
    """Categorical crossentropy on one-hot or soft targets (N, ..., K); per row, -sum(y log p).

    Args:
        from_logits: False (default) for probabilities (a final softmax, which the model then
            fuses with the loss); True for raw scores from a linear last layer, taken through a
            log-softmax that stays finite for any logit.
        label_smoothing: in [0, 1], default 0: targets become y * (1 - s) + s / K.
        axis: the class axis, default -1 (the last).
        reduction, name: as for :class:`Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="categorical_crossentropy"):
        super().__init__(name, reduction)
        owner = type(self).__name__
        self.from_logits = _check_from_logits(from_logits, owner)
        self.label_smoothing = _check_fraction(label_smoothing, owner, "label_smoothing")
        self.axis = _check_axis(axis, owner)
        # On logits the loss's own gradient is already the one at the logits: nothing to fuse.
        self.fused_softmax = not self.from_logits and self.axis == -1

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}

    def value_and_softmax_gradient(self, y_true, p):
        """The reduced loss on p = softmax(logits) (N, ..., K) and dL/dlogits: the fused path."""
        y_true, p = self._inputs(y_true, p)
        y = self._dense(y_true, p)
        return self._scaled(ops.crossentropy_value(y, p), ops.softmax_crossentropy_backward(y, p), p)

    def _inputs(self, y_true, y_pred):
        y_true, y_pred = super()._inputs(y_true, y_pred)
        s = self.label_smoothing
        return (y_true * (1 - s) + s / y_pred.shape[-1] if s else y_true), y_pred

    def _dense(self, y_true, y_pred):
        """The targets as probabilities (N, ..., K): one-hot for labels."""
        return y_true

    def _rows(self, y_true, y_pred):
        if self.from_logits:
            return ops.categorical_crossentropy_from_logits_rows(y_true, y_pred)
        return ops.categorical_crossentropy_rows(y_true, y_pred)

    def _mean_and_gradient(self, y_true, y_pred):
        fn = ops.categorical_crossentropy_from_logits if self.from_logits else ops.categorical_crossentropy
        return fn(self._dense(y_true, y_pred), y_pred)

    def check_targets(self, y, output_shape):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and output_shape[-1] != 1):
            raise ValueError(
                f"categorical_crossentropy needs one-hot targets of shape (N, {output_shape[-1]}), "
                f"but got targets of shape {y.shape} (integer class labels?). Convert them with "
                f"minicnn.utils.to_categorical(y, {output_shape[-1]}) or compile with "
                "loss='sparse_categorical_crossentropy'.")
        super().check_targets(y, output_shape)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy on integer class labels: (N,) or (N, 1) for outputs (N, K), in
    general the outputs' shape without the class axis, with or without a last axis of 1.

    Args:
        from_logits: as for :class:`CategoricalCrossentropy`.
        axis: the class axis of y_pred, default -1 (Keras's class has no such argument, its
            lowercase function has).
        reduction, name: as for :class:`Loss`.
    """

    def __init__(self, from_logits=False, reduction="sum_over_batch_size", name="sparse_categorical_crossentropy",
                 axis=-1):
        super().__init__(from_logits, 0.0, axis, reduction, name)

    def get_config(self):
        config = super().get_config()
        del config["label_smoothing"]
        return config

    def _inputs(self, y_true, y_pred):
        """Labels (N, ...) (a last axis of 1 squeezed, as Keras does) and y_pred (N, ..., K), class axis last."""
        labels, y_pred = _as_arrays(y_true, y_pred)
        xp = get_array_module(y_pred)
        if self.axis not in (-1, y_pred.ndim - 1):
            y_pred = xp.moveaxis(y_pred, self.axis, -1)
        if labels.ndim == y_pred.ndim and labels.shape[-1] == 1:
            labels = labels[..., 0]
        if labels.shape != y_pred.shape[:-1]:
            hint = (" These look like one-hot targets: use CategoricalCrossentropy (loss='categorical_crossentropy'), "
                    "or pass the labels y_true.argmax(axis=-1)." if labels.shape == y_pred.shape else "")
            raise ValueError(f"{self.name} needs integer class labels of shape {y_pred.shape[:-1]} (or with a last "
                             f"axis of 1) for y_pred of shape {y_pred.shape}, got y_true of shape {labels.shape}.{hint}")
        if xp is np:  # labels on the device were checked as fit took them: no copy back here
            _check_label_values(labels, y_pred.shape[-1], f"{self.name}: labels", "y_pred with {K} classes")
        return labels, y_pred

    def _dense(self, y_true, y_pred):
        return ops.sparse_to_onehot(y_true, y_pred.shape[-1], y_pred.dtype)

    def _rows(self, labels, y_pred):
        if self.from_logits:
            return ops.sparse_categorical_crossentropy_from_logits_rows(labels, y_pred)
        return ops.sparse_categorical_crossentropy_rows(labels, y_pred)

    def prepare_targets(self, y, K, dtype):
        return y  # labels: the loss takes them as they are

    def check_targets(self, y, output_shape):
        want = tuple(output_shape[:-1])
        if tuple(y.shape[1:]) not in (want, want + (1,)):
            hint = (" The output still has image axes: a Dense layer applies to each position of an image; add "
                    "Flatten() or GlobalAveragePooling2D() before it.") if want and y.ndim == 1 else ""
            labels = "(N, " + ", ".join(map(str, want)) + ")" if want else "(N,)"
            raise ValueError(
                f"sparse_categorical_crossentropy needs integer class labels of shape {labels} for outputs "
                f"{(None, *output_shape)}, got targets of shape {y.shape}. For one-hot targets use "
                f"loss='categorical_crossentropy'.{hint}")
        # Labels on the GPU come to the host once, here at the boundary, to be checked.
        _check_label_values(to_numpy(y), output_shape[-1], "sparse_categorical_crossentropy labels",
                            "a model with {K} outputs")


class BinaryCrossentropy(Loss):
    """Binary crossentropy; targets in [0, 1] of the output's shape; per row, the mean over the last axis.

    Args:
        from_logits: False (default) for probabilities (a sigmoid output); True for raw scores,
            taken through a log-sigmoid that stays finite for any logit.
        label_smoothing: in [0, 1], default 0: targets become y * (1 - s) + s / 2.
        axis: the axis averaged over, default -1.
        reduction, name: as for :class:`Loss`.
    """

    def __init__(self, from_logits=False, label_smoothing=0.0, axis=-1, reduction="sum_over_batch_size",
                 name="binary_crossentropy"):
        super().__init__(name, reduction)
        self.from_logits = _check_from_logits(from_logits, "BinaryCrossentropy")
        self.label_smoothing = _check_fraction(label_smoothing, "BinaryCrossentropy", "label_smoothing")
        self.axis = _check_axis(axis, "BinaryCrossentropy")

    def get_config(self):
        return {**super().get_config(), "from_logits": self.from_logits, "label_smoothing": self.label_smoothing,
                "axis": self.axis}

    def _inputs(self, y_true, y_pred):
        y_true, y_pred = super()._inputs(y_true, y_pred)
        s = self.label_smoothing
        return (y_true * (1 - s) + 0.5 * s if s else y_true), y_pred

    def _rows(self, y_true, y_pred):
        return (ops.binary_crossentropy_from_logits_rows if self.from_logits else ops.binary_crossentropy_rows)(
            y_true, y_pred)

    def _mean_and_gradient(self, y_true, y_pred):
        return (ops.binary_crossentropy_from_logits if self.from_logits else ops.binary_crossentropy)(y_true, y_pred)


class MeanSquaredError(Loss):
    """Mean of (y_pred - y_true)² over the last axis, per row. Args: reduction, name as for :class:`Loss`."""

    _rows, _mean_and_gradient = staticmethod(ops.mean_squared_error_rows), staticmethod(ops.mean_squared_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_squared_error"):
        super().__init__(name, reduction)


class MeanAbsoluteError(Loss):
    """Mean of |y_pred - y_true| over the last axis, per row. Args: reduction, name as for :class:`Loss`."""

    _rows = staticmethod(regression.mean_absolute_error_rows)
    _mean_and_gradient = staticmethod(regression.mean_absolute_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_error"):
        super().__init__(name, reduction)


class MeanAbsolutePercentageError(Loss):
    """100 * mean of |y_pred - y_true| / max(|y_true|, 1e-7) over the last axis, per row.
    Args: reduction, name as for :class:`Loss`."""

    _rows = staticmethod(regression.mean_absolute_percentage_error_rows)
    _mean_and_gradient = staticmethod(regression.mean_absolute_percentage_error)

    def __init__(self, reduction="sum_over_batch_size", name="mean_absolute_percentage_error"):
        super().__init__(name, reduction)


class Huber(Loss):
    """Huber loss: d²/2 for |d| <= delta, delta * (|d| - delta/2) beyond, d = y_pred - y_true;
    per row, the mean over the last axis.

    Args:
        delta: float > 0, default 1.0: where the loss turns from quadratic to linear.
        reduction, name: as for :class:`Loss`.
    """

    def __init__(self, delta=1.0, reduction="sum_over_batch_size", name="huber_loss"):
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < float("inf"):
            raise ValueError(f"Huber: delta must be a positive number, got {delta!r}.")
        super().__init__(name, reduction)
        self.delta = float(delta)

    def get_config(self):
        return {**super().get_config(), "delta": self.delta}

    def _rows(self, y_true, y_pred):
        return regression.huber_rows(y_true, y_pred, self.delta)

    def _mean_and_gradient(self, y_true, y_pred):
        return regression.huber(y_true, y_pred, self.delta)


class KLDivergence(Loss):
    """Kullback-Leibler divergence sum(y_true * log(y_true / y_pred)) over the last axis, per row;
    both clipped to [1e-7, 1]. Args: reduction, name as for :class:`Loss`."""

    _rows, _mean_and_gradient = staticmethod(regression.kl_divergence_rows), staticmethod(regression.kl_divergence)

    def __init__(self, reduction="sum_over_batch_size", name="kl_divergence"):
        super().__init__(name, reduction)


# -- the lowercase functions: each sample's loss, as Keras 3's give it ---------------------------

def categorical_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Each sample's categorical crossentropy: (N,) from one-hot or soft targets and outputs (N, K)
    ((N, ...) from (N, ..., K)); arguments as for :class:`CategoricalCrossentropy`."""
    return CategoricalCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def sparse_categorical_crossentropy(y_true, y_pred, from_logits=False, axis=-1):
    """Each sample's crossentropy: (N,) from integer labels (N,) or (N, 1) and outputs (N, K).

    Raises:
        ValueError: for one-hot targets, labels of another shape, or labels outside [0, K - 1].
    """
    return SparseCategoricalCrossentropy(from_logits, axis=axis).call(y_true, y_pred)


def binary_crossentropy(y_true, y_pred, from_logits=False, label_smoothing=0.0, axis=-1):
    """Each sample's binary crossentropy, averaged over ``axis``: (N,) from (N, K)."""
    return BinaryCrossentropy(from_logits, label_smoothing, axis).call(y_true, y_pred)


def mean_squared_error(y_true, y_pred):
    """Each sample's mean of (y_pred - y_true)² over the last axis: (N,) from (N, K)."""
    return MeanSquaredError().call(y_true, y_pred)


def mean_absolute_error(y_true, y_pred):
    """Each sample's mean of |y_pred - y_true| over the last axis: (N,) from (N, K)."""
    return MeanAbsoluteError().call(y_true, y_pred)


def mean_absolute_percentage_error(y_true, y_pred):
    """Each sample's 100 * mean of |y_pred - y_true| / max(|y_true|, 1e-7): (N,) from (N, K)."""
    return MeanAbsolutePercentageError().call(y_true, y_pred)


def huber(y_true, y_pred, delta=1.0):
    """Each sample's mean Huber loss over the last axis: (N,) from (N, K)."""
    return Huber(delta).call(y_true, y_pred)


def kl_divergence(y_true, y_pred):
    """Each sample's sum(t * log(t / p)) over the last axis, both clipped to [1e-7, 1]: (N,) from (N, K)."""
    return KLDivergence().call(y_true, y_pred)


# Keras 2's short names (Keras 3 keeps only the long ones).
mse = MSE = mean_squared_error
mae = MAE = mean_absolute_error
mape = MAPE = mean_absolute_percentage_error
kld = KLD = kullback_leibler_divergence = kl_divergence

LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mean_squared_error": MeanSquaredError,
    "mean_absolute_error": MeanAbsoluteError,
    "mean_absolute_percentage_error": MeanAbsolutePercentageError,
    "huber": Huber,
    "kl_divergence": KLDivergence,
}
# Keras 3's short names, and Keras 2's: the loss is named after them, as given.
ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error", "mae": "mean_absolute_error",
           "MAE": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
           "MAPE": "mean_absolute_percentage_error", "kld": "kl_divergence", "KLD": "kl_divergence",
           "kullback_leibler_divergence": "kl_divergence", "huber_loss": "huber"}
CLASSES = {cls.__name__: cls for cls in LOSSES.values()}
# compile(loss=keras.losses.categorical_crossentropy), as Keras 2 tutorials write it: the function's class.
FUNCTIONS = {categorical_crossentropy: CategoricalCrossentropy,
             sparse_categorical_crossentropy: SparseCategoricalCrossentropy,
             binary_crossentropy: BinaryCrossentropy, mean_squared_error: MeanSquaredError,
             mean_absolute_error: MeanAbsoluteError, mean_absolute_percentage_error: MeanAbsolutePercentageError,
             huber: Huber, kl_divergence: KLDivergence}


def get(identifier):
    """A Loss from a name (``"categorical_crossentropy"``, ``"mae"``, ``"Huber"``), a Loss instance or
    class, a lowercase function of this module, or a dict ``{"class_name": "Huber", "config":
    {"delta": 2.0}}`` as :func:`serialize` writes it.

    Raises:
        ValueError: for an unknown name or class name, listing the valid ones. TypeError: for other types.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, type) and issubclass(identifier, Loss):
        return identifier()
    if callable(identifier) and identifier in FUNCTIONS:
        return FUNCTIONS[identifier]()
    if callable(identifier) and not isinstance(identifier, (str, dict, type)):
        from minicnn.user_losses import LossFunctionWrapper
        return LossFunctionWrapper(identifier)  # a loss of one's own, written with minicnn.ops
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown loss class_name {identifier.get('class_name')!r}; valid ones are "
                             f"{sorted(CLASSES)}.")
        return cls(**(identifier.get("config") or {}))
    if not isinstance(identifier, str):
        raise TypeError(f"loss must be a name such as 'categorical_crossentropy' or a loss object such as "
                        f"minicnn.losses.MeanAbsoluteError(), got {identifier!r}.")
    if identifier in CLASSES:
        return CLASSES[identifier]()
    name = ALIASES.get(identifier, identifier)
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {identifier!r}; valid losses are {sorted(LOSSES) + sorted(ALIASES)}.")
    return LOSSES[name](name=identifier)


def serialize(loss):
    """What a saved model records of ``loss``: its name when that name gives it back through
    :func:`get` (a known name, the class's other defaults), else ``{"class_name": ..., "config": ...}``."""
    if type(loss) not in CLASSES.values():
        return loss.name  # a loss of one's own is known by its name
    config, default = loss.get_config(), type(loss)().get_config()
    config.pop("name"), default.pop("name")
    if config == default and LOSSES.get(ALIASES.get(loss.name, loss.name)) is type(loss):
        return loss.name
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
