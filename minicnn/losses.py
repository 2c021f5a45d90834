"""Loss objects for ``compile``: a name, a function of (y_true, y_pred) -> (loss, dL/dy_pred),
and a check that targets fit the loss.

As in Keras 3, each loss is a class (``SparseCategoricalCrossentropy(from_logits=True)``,
``Huber(delta=2.0)``), a lowercase object (``minicnn.losses.mean_absolute_error``) and a name
(``"mae"``). Unlike Keras's, calling a loss returns the gradient with the value: the trainer
needs both. The arithmetic lives in :mod:`minicnn.ops.losses` and :mod:`minicnn.ops.regression_losses`.
"""
import numbers

import numpy as np

from minicnn.backend import get_array_module, to_numpy
from minicnn.ops import losses as ops, regression_losses as regression


def _check_from_logits(value, owner):
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{owner}: from_logits must be True or False, got {value!r}.")
    return bool(value)


class Loss:
    """A named loss. ``fused_softmax`` marks crossentropies whose gradient the model may take
    straight at the logits of a final softmax (:func:`minicnn.ops.losses.softmax_crossentropy_backward`)."""

    fused_softmax = False

    def __init__(self, name, fn):
        self.name, self._fn = name, fn

    def __call__(self, y_true, y_pred):
        """The batch loss (0-d array) and dL/dy_pred, for targets as :meth:`prepare_targets` gives them."""
        return self._fn(y_true, y_pred)

    def per_sample(self, y_true, y_pred):
        """Each sample's loss (N,), as the loss of its row alone (weighted training's extra cost)."""
        xp = get_array_module(y_pred)
        return xp.stack([xp.asarray(self._fn(y_true[i:i + 1], y_pred[i:i + 1])[0]) for i in range(y_pred.shape[0])])

    def get_config(self):
        """The constructor arguments; ``type(loss)(**loss.get_config())`` is an equal loss."""
        return {}

    def prepare_targets(self, y, K, dtype):
        """Targets of ``dtype`` for a batch (``K``: the output size); 1-D targets (N,), allowed for a
        one-unit output only, become (N, 1), which the loss must not broadcast into (N, N)."""
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        return y.astype(dtype, copy=False)

    def check_targets(self, y, output_shape):
        """Raise ValueError when targets ``y`` (N, ...) cannot go with outputs (N, *output_shape);
        as in Keras, targets (N,) go with a one-unit output (1,)."""
        if tuple(y.shape[1:]) != tuple(output_shape) and not (y.ndim == 1 and tuple(output_shape) == (1,)):
            raise ValueError(f"Targets have per-sample shape {tuple(y.shape[1:])} but the model outputs "
                             f"{tuple(output_shape)} with loss '{self.name}'. Make the last layer's size match the targets.")


class CategoricalCrossentropy(Loss):
    """Categorical crossentropy on one-hot or soft targets (N, ..., K).

    Args:
        from_logits: False (default) for probabilities (a final softmax, which the model then
            fuses with the loss); True for raw scores from a linear last layer, taken through a
            log-softmax that stays finite for any logit.
    """

    def __init__(self, from_logits=False):
        self.from_logits = _check_from_logits(from_logits, type(self).__name__)
        super().__init__("categorical_crossentropy",
                         ops.categorical_crossentropy_from_logits if self.from_logits else ops.categorical_crossentropy)
        # On logits the loss's own gradient is already the one at the logits: nothing to fuse.
        self.fused_softmax = not self.from_logits

    def get_config(self):
        return {"from_logits": self.from_logits}

    def check_targets(self, y, output_shape):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and output_shape[-1] != 1):
            raise ValueError(
                f"categorical_crossentropy needs one-hot targets of shape (N, {output_shape[-1]}), "
                f"but got targets of shape {y.shape} (integer class labels?). Convert them with "
                f"minicnn.utils.to_categorical(y, {output_shape[-1]}) or compile with "
                "loss='sparse_categorical_crossentropy'.")
        super().check_targets(y, output_shape)


class SparseCategoricalCrossentropy(CategoricalCrossentropy):
    """Categorical crossentropy on integer class labels (N,) or (N, 1).

    Args:
        from_logits: as for :class:`CategoricalCrossentropy`.
    """

    def __init__(self, from_logits=False):
        super().__init__(from_logits)
        self.name = "sparse_categorical_crossentropy"

    def prepare_targets(self, y, K, dtype):
        return ops.sparse_to_onehot(y, K, dtype)

    def check_targets(self, y, output_shape):
        if not (y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1)):
            raise ValueError(
                f"sparse_categorical_crossentropy needs integer class labels of shape (N,), got "
                f"targets of shape {y.shape}. For one-hot targets use loss='categorical_crossentropy'.")
        # Labels on the GPU come to the host once, here at the boundary, to be checked.
        yh = to_numpy(y)
        K = output_shape[-1]
        if yh.size and (yh.min() < 0 or yh.max() >= K or np.any(yh != np.floor(yh))):
            raise ValueError(
                f"sparse_categorical_crossentropy labels must be integers in [0, {K - 1}] for a model "
                f"with {K} outputs; got values from {yh.min()} to {yh.max()}.")


class BinaryCrossentropy(Loss):
    """Binary crossentropy, averaged over every output; targets in [0, 1] of the output's shape.

    Args:
        from_logits: False (default) for probabilities (a sigmoid output); True for raw scores,
            taken through a log-sigmoid that stays finite for any logit.
    """

    def __init__(self, from_logits=False):
        self.from_logits = _check_from_logits(from_logits, "BinaryCrossentropy")
        super().__init__("binary_crossentropy",
                         ops.binary_crossentropy_from_logits if self.from_logits else ops.binary_crossentropy)

    def get_config(self):
        return {"from_logits": self.from_logits}


class MeanSquaredError(Loss):
    """Mean of (y_pred - y_true)², over every output."""

    def __init__(self):
        super().__init__("mean_squared_error", ops.mean_squared_error)


class MeanAbsoluteError(Loss):
    """Mean of |y_pred - y_true|, over every output."""

    def __init__(self):
        super().__init__("mean_absolute_error", regression.mean_absolute_error)


class MeanAbsolutePercentageError(Loss):
    """100 * mean of |y_pred - y_true| / max(|y_true|, 1e-7), over every output."""

    def __init__(self):
        super().__init__("mean_absolute_percentage_error", regression.mean_absolute_percentage_error)


class Huber(Loss):
    """Huber loss: d²/2 for |d| <= delta, delta * (|d| - delta/2) beyond, d = y_pred - y_true.

    Args:
        delta: float > 0, default 1.0: where the loss turns from quadratic to linear.
    """

    def __init__(self, delta=1.0):
        if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not 0 < delta < float("inf"):
            raise ValueError(f"Huber: delta must be a positive number, got {delta!r}.")
        self.delta = float(delta)
        super().__init__("huber_loss", lambda y_true, y_pred: regression.huber(y_true, y_pred, self.delta))

    def get_config(self):
        return {"delta": self.delta}


class KLDivergence(Loss):
    """Kullback-Leibler divergence sum(y_true * log(y_true / y_pred)) over the last axis, averaged
    over rows; both clipped to [1e-7, 1]."""

    def __init__(self):
        super().__init__("kl_divergence", regression.kl_divergence)


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

# Keras 2 tutorials pass the loss function itself: compile(loss=keras.losses.categorical_crossentropy).
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
binary_crossentropy = BinaryCrossentropy()
mean_squared_error = mse = MSE = MeanSquaredError()
mean_absolute_error = mae = MAE = MeanAbsoluteError()
mean_absolute_percentage_error = mape = MAPE = MeanAbsolutePercentageError()
huber = Huber()
kl_divergence = kld = KLD = kullback_leibler_divergence = KLDivergence()


def get(identifier):
    """A Loss from a name (``"categorical_crossentropy"``, ``"mae"``, ...), a Loss instance, or a
    dict ``{"class_name": "Huber", "config": {"delta": 2.0}}`` as :func:`serialize` writes it.

    Raises:
        ValueError: for an unknown name or class name, listing the valid ones. TypeError: for other types.
    """
    if isinstance(identifier, Loss):
        return identifier
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown loss class_name {identifier.get('class_name')!r}; valid ones are "
                             f"{sorted(CLASSES)}.")
        return cls(**(identifier.get("config") or {}))
    if not isinstance(identifier, str):
        raise TypeError(f"loss must be a name such as 'categorical_crossentropy' or a loss object such as "
                        f"minicnn.losses.MeanAbsoluteError(), got {identifier!r}.")
    name = ALIASES.get(identifier, identifier)
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {identifier!r}; valid losses are {sorted(LOSSES) + sorted(ALIASES)}.")
    loss = LOSSES[name]()
    loss.name = identifier
    return loss


def serialize(loss):
    """What a saved model records of ``loss``: its name when it has its class's defaults (as
    :func:`get` reads it back), else ``{"class_name": ..., "config": ...}``."""
    if type(loss) not in CLASSES.values() or loss.get_config() == type(loss)().get_config():
        return loss.name  # a loss of one's own is known by its name
    return {"class_name": type(loss).__name__, "config": loss.get_config()}
