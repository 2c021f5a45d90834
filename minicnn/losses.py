"""Loss objects for ``compile``: a name, a function of (y_true, y_pred) -> (loss, dL/dy_pred),
and a check that targets fit the loss.

The arithmetic lives in :mod:`minicnn.ops.losses`.
"""
import numpy as np

from minicnn.backend import get_array_module, to_numpy
from minicnn.ops import losses as ops


class Loss:
    """A named loss. ``fused_softmax`` marks crossentropies whose gradient the model may take
    straight at the logits of a final softmax (:func:`minicnn.ops.losses.softmax_crossentropy_backward`)."""

    fused_softmax = False

    def __init__(self, name, fn):
        self.name, self._fn = name, fn

    def __call__(self, y_true, y_pred):
        return self._fn(y_true, y_pred)

    def per_sample(self, y_true, y_pred):
        """Each sample's loss (N,), as the loss of its row alone (weighted training's extra cost)."""
        xp = get_array_module(y_pred)
        return xp.stack([xp.asarray(self._fn(y_true[i:i + 1], y_pred[i:i + 1])[0]) for i in range(y_pred.shape[0])])

    def prepare_targets(self, y, K, dtype):
        """Targets of ``dtype`` for a batch (``K``: the output size); 1-D targets (N,), allowed for a
        one-unit output only, become (N, 1), which the loss must not broadcast into (N, N)."""
        if y.ndim == 1:
            y = y.reshape(-1, 1)
        return y.astype(dtype, copy=False)

    def check_targets(self, y, output_shape):
        """Raise ValueError when targets ``y`` (N, ...) cannot go with outputs (N, *output_shape);
        as in Keras, targets (N,) go with a one-unit output (1,)."""
        if y.ndim == 1 and tuple(output_shape) == (1,):
            return
        if tuple(y.shape[1:]) != tuple(output_shape):
            raise ValueError(f"Targets have per-sample shape {tuple(y.shape[1:])} but the model outputs "
                             f"{tuple(output_shape)} with loss '{self.name}'. Make the last layer's size match the targets.")


class CategoricalCrossentropy(Loss):
    fused_softmax = True

    def __init__(self):
        super().__init__("categorical_crossentropy", ops.categorical_crossentropy)

    def check_targets(self, y, output_shape):
        if y.ndim == 1 or (y.ndim == 2 and y.shape[1] == 1 and output_shape[-1] != 1):
            raise ValueError(
                f"categorical_crossentropy needs one-hot targets of shape (N, {output_shape[-1]}), "
                f"but got targets of shape {y.shape} (integer class labels?). Convert them with "
                f"minicnn.utils.to_categorical(y, {output_shape[-1]}) or compile with "
                "loss='sparse_categorical_crossentropy'.")
        super().check_targets(y, output_shape)


class SparseCategoricalCrossentropy(Loss):
    fused_softmax = True

    def __init__(self):
        super().__init__("sparse_categorical_crossentropy", ops.categorical_crossentropy)

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


LOSSES = {
    "categorical_crossentropy": CategoricalCrossentropy,
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": lambda: Loss("binary_crossentropy", ops.binary_crossentropy),
    "mean_squared_error": lambda: Loss("mean_squared_error", ops.mean_squared_error),
}
ALIASES = {"mse": "mean_squared_error", "MSE": "mean_squared_error"}

# Keras 2 tutorials pass the loss function itself: compile(loss=keras.losses.categorical_crossentropy).
categorical_crossentropy = CategoricalCrossentropy()
sparse_categorical_crossentropy = SparseCategoricalCrossentropy()
binary_crossentropy = LOSSES["binary_crossentropy"]()
mean_squared_error = mse = LOSSES["mean_squared_error"]()


def get(identifier):
    """A Loss from a name (``"categorical_crossentropy"``, ``"mse"``, ...) or a Loss instance.

    Raises:
        ValueError: for an unknown name, listing the valid ones. TypeError: for other types.
    """
    if isinstance(identifier, Loss):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(f"loss must be a name such as 'categorical_crossentropy', got {identifier!r}.")
    name = ALIASES.get(identifier, identifier)
    if name not in LOSSES:
        raise ValueError(f"Unknown loss {identifier!r}; valid losses are {sorted(LOSSES) + ['mse']}.")
    loss = LOSSES[name]()
    loss.name = identifier
    return loss
