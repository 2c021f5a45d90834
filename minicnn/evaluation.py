"""What a model does without training: its plan, data turned into batches, evaluate and predict.

Nothing here writes to the model: every call keeps its activations and scratch to itself, so
one model answers ``predict``, ``predict_on_batch``, ``evaluate`` and ``model(x)`` from any
number of threads at once, each result the same as the call made alone.
"""
import numpy as np

from minicnn import backend, data_adapter, distributed, regularizers
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
        """The steps this model runs (minicnn.plan), keyed by what make_plan reads from beyond the layers."""
        key = (backend.fast_path() and self._array_module() is np, getattr(self.loss, "fused_softmax", False))
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

    def _to_batch(self, a):
        """A batch of data as floats on the weights' backend (whatever the global one)."""
        b = a if a.dtype == self._dtype() else a.astype(self._dtype())
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
        """Loss and metrics from their sums over ``seen`` samples (the metrics' weight sum last in
        ``count_sums``); ``across_ranks``: the sums of all ranks (a collective call under MPI: every
        rank makes it), so every rank gets the same logs."""
        if across_ranks:
            loss_sum, *count_sums, seen = distributed.sum_values(loss_sum, *count_sums, seen)
        logs = {"loss": float(loss_sum) / seen}
        for (name, _), s in zip(self._metrics, count_sums):
            logs[name] = float(s) / float(count_sums[-1])
        return logs

    def _results(self, logs):
        """Keras's return value: the loss alone without metrics, else [loss, metric...]."""
        return [logs["loss"], *(logs[name] for name, _ in self._metrics)] if self._metrics else logs["loss"]

    # -- evaluation ---------------------------------------------------------------------------

    def _evaluate_batches(self, batches, verbose=0):
        """Loss and metrics over an adapter's batches (minicnn.data_adapter); under MPI each rank has
        its share and the sums are added over the ranks, so every rank returns the same logs. The
        loss includes the weights' penalties (kernel_regularizer...), as Keras's does."""
        loss_sum, count_sums, seen, step, penalty = 0.0, [0] * (len(self._metrics) + 1), 0, 0, None
        bar = Progbar(batches.steps, verbose=verbose, stateful_metrics=self.metrics_names) if verbose else None
        for step, batch in enumerate(batches.epoch()):
            if not batch.size:
                continue
            xb, yb, wb = self._batch_arrays(batch)
            out = self._forward(xb)
            if penalty is None:  # the model is built now; as Keras, every batch's loss includes the penalties
                penalty = regularizers.penalty(self._layers)
            loss, counts = self._batch_stats(yb, out, wb)
            loss_sum, seen = loss_sum + (loss + penalty) * batch.size, seen + batch.size
            count_sums = [s + c for s, c in zip(count_sums, counts)]
            if bar is not None and bar.due() and step < batches.steps - 1:
                bar.update(step + 1, sorted(self._logs(loss_sum, count_sums, seen).items()), finalize=False)
        logs = self._logs(loss_sum, count_sums, seen, across_ranks=True)
        if bar is not None:
            bar.update(batches.steps, sorted(logs.items()), finalize=True)
        return logs

    def _batch_arrays(self, batch, class_weight=None):
        """A Batch's x, y and weights on the model's backend and dtype; a generator's batch is checked
        first, as fit and evaluate check arrays."""
        x, y, weight = batch.x, batch.y, batch.weight
        if not batch.checked:
            x, y = self._check_xy(x, y)
            weight = checks.sample_weights(weight, class_weight, y, x.shape[0])
        return self._to_batch(x), self._to_batch(y), None if weight is None else self._to_batch(weight)

    def _batch_stats(self, yb, out, weight=None):
        """A batch's mean loss, weighted by sample (Keras: divided by the batch size), and its metric sums."""
        target = self.loss.prepare_targets(yb, out.shape[-1], out.dtype)
        loss = self.loss(target, out)[0] if weight is None else (self.loss.per_sample(target, out) * weight).mean()
        return loss, self._metric_sums(yb, out, weight)

    def _metric_sums(self, yb, out, weight=None):
        """Each metric summed over the batch (weighted by sample), then the sum of the weights."""
        if weight is None:
            return [fn(yb, out) for _, fn in self._metrics] + [out.shape[0]]
        return self._weighted_metric_sums(yb, out, weight)

    def _weighted_metric_sums(self, yb, out, weight):
        rows = range(out.shape[0])  # each sample's value (a weighted run's extra cost)
        return [sum(weight[i] * fn(yb[i:i + 1], out[i:i + 1]) for i in rows) for _, fn in self._metrics] + \
            [weight.sum()]

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None,
                 return_dict=False, workers=1, use_multiprocessing=False, max_queue_size=10):
        """Loss and metrics on (x, y) in batches, or on a generator or Sequence of such batches
        (``steps`` of them): ``[loss, metric...]``, the loss alone without metrics, or a dict with
        ``return_dict=True``. ``sample_weight`` (N,) weighs each sample. Keras 2's ``workers``,
        ``use_multiprocessing`` and ``max_queue_size`` are accepted and ignored."""
        self._require_compiled("evaluate")
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        logs = self._evaluate_batches(self._evaluation_adapter(x, y, sample_weight, batch_size, steps),
                                      verbose if distributed.is_main() else 0)
        return logs if return_dict else self._results(logs)

    def evaluate_generator(self, generator, steps=None, max_queue_size=10, workers=1, use_multiprocessing=False,
                           verbose=0):
        """Keras 2's name for :meth:`evaluate` on a generator; ``max_queue_size``, ``workers`` and
        ``use_multiprocessing`` are accepted and ignored (one worker thread reads ahead)."""
        return self.evaluate(generator, steps=steps, verbose=verbose)

    def _evaluation_adapter(self, x, y, sample_weight, batch_size, steps, names=("x", "y"), what="steps"):
        """Batches to evaluate (or validate) on: a generator's, or this rank's share of arrays."""
        if data_adapter.is_source(x):
            return data_adapter.SourceBatches(x, steps, what)
        x, y = self._check_xy(x, y, names)
        weight = checks.sample_weights(sample_weight, None, y, x.shape[0])
        first, n = distributed.shard(x.shape[0])  # each rank evaluates a share; the sums are reduced
        sl = slice(first, first + n)
        return data_adapter.ArrayBatches(x[sl], y[sl], None if weight is None else weight[sl], batch_size,
                                         False, steps, local=True)

    def test_on_batch(self, x, y, sample_weight=None):
        """Loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        return self._results(self._evaluate_batches(self._evaluation_adapter(x, y, sample_weight, len(x), None)))

    def _require_compiled(self, what):
        if not self.compiled:
            raise RuntimeError(f"You must compile the model before calling {what}: e.g. model.compile("
                               "optimizer='adam', loss='categorical_crossentropy', metrics=['accuracy']).")

    # -- prediction ---------------------------------------------------------------------------

    def predict(self, x, batch_size=None, verbose=0, steps=None, workers=1, use_multiprocessing=False,
                max_queue_size=10):
        """Outputs for x in batches of ``batch_size`` (default 32), as a NumPy array (N, *output_shape);
        or for the inputs of a generator or Sequence (``steps`` batches of x or (x, ...)); ``workers``,
        ``use_multiprocessing`` and ``max_queue_size`` are Keras 2's, accepted and ignored. Memory
        stays bounded by one batch's activations whatever N is."""
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        if data_adapter.is_source(x):
            source = data_adapter.SourceBatches(x, steps, "steps")
            return np.concatenate([self._predict_batch(self._check_x(b.x)) for b in source.epoch()])
        x = self._check_x(x)
        N = x.shape[0]
        out = np.empty((N, *self._layers[-1].output_shape), dtype=self._dtype())
        steps = -(-N // batch_size)
        bar = Progbar(steps, verbose=verbose) if verbose else None
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            out[lo:hi] = self._predict_batch(x[lo:hi])
            if bar is not None and (bar.due() or step == steps - 1):
                bar.update(step + 1, finalize=step == steps - 1)
        return out

    def _predict_batch(self, x):
        return backend.to_numpy(self._forward(self._to_batch(x)))

    def predict_generator(self, generator, steps=None, max_queue_size=10, workers=1, use_multiprocessing=False,
                          verbose=0):
        """Keras 2's name for :meth:`predict` on a generator; ``max_queue_size``, ``workers`` and
        ``use_multiprocessing`` are accepted and ignored."""
        return self.predict(generator, steps=steps, verbose=verbose)

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
