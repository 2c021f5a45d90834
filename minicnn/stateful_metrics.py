"""Metrics that keep state between batches, as Keras's ``keras.metrics.Metric``: the base class for a
metric of one's own, and ``Mean``.

    class TruePositives(keras.metrics.Metric):
        def __init__(self, name="true_positives", **kwargs):
            super().__init__(name=name, **kwargs)
            self.count = self.add_weight(name="count", initializer="zeros")

        def update_state(self, y_true, y_pred, sample_weight=None):
            hits = ops.logical_and(ops.greater(y_pred, 0.5), ops.greater(y_true, 0.5))
            self.count.assign_add(ops.sum(ops.cast(hits, "float32")))

        def result(self):
            return self.count

Passed to ``compile(metrics=[...])``, such a metric is reset at the start of each epoch and of each
evaluation, updated with every batch, and logged as its ``result()``. Under MPI each rank logs its
own result (the built-in metrics are summed over the ranks; a stateful one's state is not).
"""
import numpy as np

from minicnn import backend, tape


class Metric:
    """The base of a stateful metric: ``update_state(y_true, y_pred, sample_weight=None)``,
    ``result()``, ``reset_state()`` (by default every weight back to its initial value), with its
    state made by :meth:`add_weight`. Calling the metric updates it and returns the result.

    Args:
        name: the key of the metric in logs (the class's snake-case name by default).
        dtype: the dtype of its weights (float32 by default).
    """

    def __init__(self, name=None, dtype=None):
        from minicnn.layers.base import _snake
        self.name = name or _snake(type(self).__name__)
        self.dtype = np.dtype(dtype or backend.floatx())
        self.params, self._initial = {}, {}
        self.trainable, self.trainable_names = False, ()

    def add_weight(self, name=None, shape=(), initializer="zeros", dtype=None, **kwargs):
        """A state variable (a :class:`minicnn.tape.Variable`) of ``shape``, set by ``initializer``."""
        from minicnn import initializers
        name = name or f"variable_{len(self.params)}"
        value = np.asarray(initializers.get(initializer)(tuple(shape))).astype(dtype or self.dtype)
        self.params[name], self._initial[name] = backend.to_device(value.copy()), value
        return tape.Variable(self, name)

    @property
    def variables(self):
        return [tape.Variable(self, n) for n in self.params]

    def update_state(self, y_true, y_pred, sample_weight=None):
        raise NotImplementedError(f"{type(self).__name__} must define update_state(y_true, y_pred, sample_weight=None)")

    def result(self):
        raise NotImplementedError(f"{type(self).__name__} must define result()")

    def reset_state(self):
        for name, value in self._initial.items():
            self.params[name][...] = backend.get_array_module(self.params[name]).asarray(value)

    def reset_states(self):  # Keras 2's spelling
        self.reset_state()

    def __call__(self, y_true, y_pred, sample_weight=None):
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return self.result()

    def batch_update(self, y_true, y_pred, sample_weight=None):
        """What ``fit`` calls with each batch: the update; its sum slot holds nothing (0.0)."""
        self.update_state(y_true, y_pred, sample_weight=sample_weight)
        return 0.0

    def get_config(self):
        return {"name": self.name, "dtype": self.dtype.name}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name}>"


class Mean(Metric):
    """The (weighted) mean of the values given to ``update_state(values, sample_weight=None)``: a
    custom training loop's running loss."""

    def __init__(self, name="mean", dtype=None):
        super().__init__(name=name, dtype=dtype)
        self.total = self.add_weight(name="total")
        self.count = self.add_weight(name="count")

    def update_state(self, values, sample_weight=None):
        values = tape.unwrap(values)
        xp = backend.get_array_module(values)
        values = xp.asarray(values, dtype=self.dtype)
        weight = xp.ones_like(values) if sample_weight is None else \
            xp.broadcast_to(xp.asarray(tape.unwrap(sample_weight), dtype=self.dtype), values.shape)
        self.total.assign_add((values * weight).sum())
        self.count.assign_add(weight.sum())

    def __call__(self, values, sample_weight=None):
        self.update_state(values, sample_weight=sample_weight)
        return self.result()

    def result(self):
        count = float(self.count.data)
        return float(self.total.data) / count if count else 0.0
