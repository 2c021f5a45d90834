"""What a model does without training: its plan, data turned into batches, evaluate and predict.

Nothing here writes to the model: every call keeps its activations and scratch to itself, so
one model answers ``predict``, ``predict_on_batch``, ``evaluate`` and ``model(x)`` from any
number of threads at once, each result the same as the call made alone.
"""
import numpy as np

from minicnn import backend, distributed
from minicnn import data_checks as checks
from minicnn.plan import make_plan
from minicnn.utils.progbar import Progbar


class Evaluator:
    """Evaluation and prediction for :class:`minicnn.models.Sequential` (see :mod:`minicnn.training`)."""

    def __init__(self):
        self.optimizer = self.loss = None
        self._metrics = []
        self.metrics_names = []
        self.compiled = False
        self._plans = {}

    def _plan(self):
        """The steps this model runs (minicnn.plan), made once per layers, backend, loss and path."""
        key = (backend.fast_path() and self._array_module() is np, id(self.loss))
        if key not in self._plans:
            self._plans[key] = make_plan(self._layers, self.loss, key[0])
        return self._plans[key]

    def _forward(self, x, training=False):
        plan = self._plan()
        with plan.running():
            return plan.forward(x, training)[0]

    # -- data ---------------------------------------------------------------------------------

    def _check_x(self, x, what="x"):
        x = checks.as_array(x, what)
        checks.check_finite(x, what)
        if not self.built:
            self._ensure_built(x)
        checks.check_sample_shape(x, self.input_shape_, what)
        return x

    def _check_xy(self, x, y, names=("x", "y")):
        x = self._check_x(x, names[0])
        y = checks.as_array(y, names[1])
        checks.check_same_length(x, y, names)
        checks.check_finite(y, names[1])
        self.loss.check_targets(y, self._layers[-1].output_shape)
        return x, y

    def _to_batch(self, a, idx):
        """Rows ``idx`` of the data as a float batch on the weights' backend (whatever the global one)."""
        b = a[idx]
        if b.dtype != self._dtype():
            b = b.astype(self._dtype())
        xp = self._array_module()
        return backend.to_numpy(b) if xp is np else xp.asarray(b)

    def _array_module(self):
        """numpy or cupy: that of the weights (of the global backend for a model without any)."""
        for layer in self._layers:
            for w in layer.params.values():
                return backend.get_array_module(w)
        return backend.xp()

    def _dtype(self):
        return self._layers[0].dtype

    def _logs(self, loss_sum, count_sums, seen, across_ranks=False):
        """Loss and metrics from their sums over ``seen`` samples; ``across_ranks``: the sums of all
        ranks (a collective call under MPI: every rank makes it), so every rank gets the same logs."""
        if across_ranks:
            loss_sum, *count_sums, seen = distributed.sum_values(loss_sum, *count_sums, seen)
        logs = {"loss": float(loss_sum) / seen}
        for (name, _), s in zip(self._metrics, count_sums):
            logs[name] = float(s) / seen
        return logs

    def _results(self, logs):
        """Keras's return value: the loss alone without metrics, else [loss, metric...]."""
        values = [logs[name] for name, _ in self._metrics]
        return logs["loss"] if not values else [logs["loss"], *values]

    # -- evaluation ---------------------------------------------------------------------------

    def _evaluate_arrays(self, x, y, batch_size, verbose=0):
        """Loss and metrics over (x, y); under MPI each rank takes a contiguous share and the sums
        are added over the ranks, so every rank returns the same logs."""
        first, N = distributed.shard(x.shape[0])
        x, y = x[first:first + N], y[first:first + N]
        loss_sum, count_sums = 0.0, [0] * len(self._metrics)
        steps = -(-N // batch_size)
        bar = Progbar(steps, verbose=verbose, stateful_metrics=self.metrics_names) if verbose and steps else None
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            xb, yb = self._to_batch(x, slice(lo, hi)), self._to_batch(y, slice(lo, hi))
            out = self._forward(xb)
            target = self.loss.prepare_targets(yb, out.shape[-1], out.dtype)
            loss_sum = loss_sum + self.loss(target, out)[0] * (hi - lo)
            count_sums = [s + fn(yb, out) for s, (_, fn) in zip(count_sums, self._metrics)]
            if bar is not None and bar.due() and step < steps - 1:
                bar.update(step + 1, sorted(self._logs(loss_sum, count_sums, hi).items()), finalize=False)
        logs = self._logs(loss_sum, count_sums, N, across_ranks=True)
        if bar is not None:
            bar.update(steps, sorted(logs.items()), finalize=True)
        return logs

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, return_dict=False):
        """Loss and metrics on (x, y) in batches: ``[loss, metric...]``, or the loss alone without
        metrics, or a dict with ``return_dict=True``."""
        self._require_compiled("evaluate")
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        x, y = self._check_xy(x, y)
        logs = self._evaluate_arrays(x, y, batch_size, verbose if distributed.is_main() else 0)
        return logs if return_dict else self._results(logs)

    def test_on_batch(self, x, y):
        """Loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        x, y = self._check_xy(x, y)
        return self._results(self._evaluate_arrays(x, y, x.shape[0]))

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(
                f"You must compile the model before calling {what}: e.g. model.compile("
                "optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy']).")

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, x, batch_size=None, verbose=0):
        """Outputs for x in batches of ``batch_size`` (default 32), as a NumPy array (N, *output_shape).

        Memory stays bounded by one batch's activations whatever N is.
        """
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        x = self._check_x(x)
        N = x.shape[0]
        out = np.empty((N, *self._layers[-1].output_shape), dtype=self._dtype())
        steps = -(-N // batch_size)
        bar = Progbar(steps, verbose=verbose) if verbose else None
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            out[lo:hi] = backend.to_numpy(self._forward(self._to_batch(x, slice(lo, hi))))
            if bar is not None and (bar.due() or step == steps - 1):
                bar.update(step + 1, finalize=step == steps - 1)
        return out

    def predict_classes(self, x, batch_size=None, verbose=0):
        """Keras 1/2: class indexes (N,) — the argmax, or ``p > 0.5`` for a single sigmoid output."""
        p = self.predict(x, batch_size=batch_size, verbose=verbose)
        return p.argmax(axis=-1) if p.shape[-1] > 1 else (p > 0.5).astype("int32").reshape(-1)

    def predict_proba(self, x, batch_size=None, verbose=0):
        """Keras 1/2 name of :meth:`predict` for models that output probabilities."""
        return self.predict(x, batch_size=batch_size, verbose=verbose)

    def predict_on_batch(self, x):
        """Outputs for one batch, as a NumPy array."""
        return self.predict(x, batch_size=max(1, len(x)))

    def __call__(self, x, training=False):
        """Forward pass on a batch on the current backend (no batching, no conversion).

        ``training=True`` runs the layers in training mode (dropout masks, batch statistics,
        which also updates BatchNormalization's moving statistics), as Keras's ``model(x, training=True)``.
        """
        self._ensure_built(x)
        return self._forward(x, training=training)
