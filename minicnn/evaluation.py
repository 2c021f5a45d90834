"""What a model does without training: its plan, data turned into batches, evaluate and predict.

Nothing here writes to the model: every call keeps its activations and scratch to itself, so
one model answers ``predict``, ``predict_on_batch``, ``evaluate`` and ``model(x)`` from any
number of threads at once, each result the same as the call made alone.
"""
import numpy as np

from minicnn import backend, data_adapter, distributed, graph, regularizers
from minicnn import data_checks as checks
from minicnn.plan import make_plan
from minicnn.utils.progbar import Progbar


class Evaluator:
    """Evaluation and prediction for :class:`minicnn.functional.Model` (see :mod:`minicnn.training`).

    Inside, inputs, targets and outputs are lists, in the order of the model's inputs and outputs;
    what users pass (one array, a list, a dict keyed by name) is turned into them at the boundary.
    """

    def __init__(self):
        self.optimizer = self.loss = None
        self._objectives = None
        self._metrics = []
        self._sum_names = []  # (log name, whether divided by the samples, else by the weights) per sum
        self.metrics_names = []
        self.compiled = False
        self._plans = {}

    def _plan(self, nested=None, plain=False, input_grads=True):
        """The steps this model runs (minicnn.plan), keyed by what make_plan reads beyond the graph;
        ``nested``: the number of a call of this model as a layer of another (no loss, input
        gradients wanted unless ``input_grads`` is False; each call its own plan; a key that
        includes ``input_grads``); ``plain``: the plain steps even on the fast path."""
        losses = None if nested is not None or self._objectives is None else self._objectives.losses
        key = (backend.fast_path() and self._array_module() is np and not plain, nested,
               None if losses is None else tuple(getattr(l, "fused_softmax", False) for l in losses))
        if key not in self._plans:
            self._plans[key] = make_plan(self._model_graph(), losses, key[0],
                                         input_grads=nested is not None and input_grads, nested=nested is not None)
        return self._plans[key]

    def _forward(self, xs, training=False):
        plan = self._plan()
        with plan.running():
            return plan.forward(xs, training)[0]

    # -- data ---------------------------------------------------------------------------------

    def _as_list(self, data, kind, what):
        """``data``, the model's inputs or targets (``kind``: "input" or "output"), as a list: one
        array per input or output, from one array, a list, or a dict keyed by their names."""
        g = self._graph
        n = 1 if g is None else len(g.inputs if kind == "input" else g.outputs)
        if isinstance(data, (dict, list, tuple)):
            return self._structured(data, kind, what, n)
        if n > 1 and data is not None:
            raise ValueError(f"The model has {n} {kind}s {self._names(kind)}: pass {what} as a list of {n} arrays "
                             "or a dict keyed by those names.")
        return [data]

    def _structured(self, data, kind, what, n):
        """A list or dict of arrays as :meth:`_as_list` returns them; a dict may leave out the outputs
        that no loss trains.

        Raises:
            ValueError: for a dict with unknown or missing names, or a list of the wrong length.
        """
        names = self._names(kind)
        if isinstance(data, dict):
            optional = [] if kind == "input" or self._objectives is None else \
                [k for k, loss in zip(names, self._objectives.losses) if loss is None]
            unknown = sorted(set(data) - set(names))
            missing = [k for k in names if k not in data and k not in optional]
            if unknown or missing:
                raise ValueError(
                    f"{what} is a dict with " + " and ".join(
                        part for part in (f"unknown name(s) {unknown}" if unknown else "",
                                          f"no entry for {missing}" if missing else "") if part) +
                    f"; the model's {kind}s are {names}. A dict keys the data of each {kind} by its name"
                    + (f"; with one {kind}, pass the array itself." if len(names) == 1 else "."))
            return [data.get(k) for k in names]
        if n == 1:  # one array: a list of one array, or data given as nested lists
            return [data[0]] if len(data) == 1 and hasattr(data[0], "shape") else [data]
        if len(data) != n:
            raise ValueError(f"{what} holds {len(data)} arrays, but the model has {n} {kind}s {names}: pass one per "
                             f"{kind}, in that order, or a dict keyed by those names.")
        return list(data)

    def _names(self, kind):
        """The names of the model's inputs or outputs, as dicts of data are keyed."""
        if kind == "output":
            return self.output_names
        return [t.node.layer.name for t in self._graph.inputs] if self._graph is not None else ["input"]

    def _check_x(self, x, what="x", finite=True):
        """The inputs as a list of checked arrays with one number of samples; ``finite``: also scan
        them for NaN and inf."""
        xs = self._as_list(x, "input", what)
        for k, a in enumerate(xs):
            xs[k] = checks.as_array(a, self._what(what, "input", k, len(xs)))
            if finite:
                checks.check_finite(xs[k], what)
        if self._graph is None:
            self._ensure_built(xs[0])
        for k, (a, t) in enumerate(zip(xs, self._graph.inputs)):
            checks.check_sample_shape(a, t.shape[1:], self._what(what, "input", k, len(xs)))
            checks.check_same_length(xs[0], a, (what, self._what(what, "input", k, len(xs))))
        return xs

    def _check_xy(self, x, y, names=("x", "y")):
        xs = self._check_x(x, names[0])
        ys = self._as_list(y, "output", names[1])
        for k, (a, t, loss) in enumerate(zip(ys, self._graph.outputs, self._objectives.losses)):
            if a is None and loss is None:
                continue
            what = self._what(names[1], "output", k, len(ys))
            a = ys[k] = checks.as_array(a, what)
            checks.check_same_length(xs[0], a, (names[0], what))
            checks.check_finite(a, what)
            if loss is not None:
                loss.check_targets(a, t.sample_shape)
        return xs, ys

    def _what(self, what, kind, k, n):
        """How an error names array ``k`` of ``what``: ``x``, or ``x['image']`` with several."""
        return what if n == 1 else f"{what}['{self._names(kind)[k]}']"

    def _to_batch(self, a):
        """A batch of data as floats on the weights' backend (whatever the global one); a list, each."""
        if isinstance(a, list):
            return [None if b is None else self._to_batch(b) for b in a]
        b = a if a.dtype == self._dtype() else a.astype(self._dtype())
        xp = self._array_module()
        return backend.to_numpy(b) if xp is np else xp.asarray(b)

    def _array_module(self):
        """numpy or cupy: that of the weights (of the global backend for a model without any)."""
        for layer in self._leaf_layers():
            for w in layer.params.values():
                return backend.get_array_module(w)
        return backend.xp()

    def _dtype(self):
        leaves = self._leaf_layers()
        return leaves[0].dtype if leaves else np.dtype(backend.floatx())

    def _logs(self, loss_sum, count_sums, seen, across_ranks=False):
        """Loss and metrics from their sums over ``seen`` samples (each output's loss first, then the
        metrics, then the metrics' weight sum last in ``count_sums``); ``across_ranks``: the sums of
        all ranks (a collective call under MPI: every rank makes it), so every rank gets the same logs."""
        if across_ranks:
            loss_sum, *count_sums, seen = distributed.sum_values(loss_sum, *count_sums, seen)
        logs = {"loss": float(loss_sum) / seen}
        for (name, per_sample), s in zip(self._sum_names, count_sums):  # an output's loss, then the metrics
            logs[name] = float(s) / (seen if per_sample else float(count_sums[-1]))
        for m in self._metrics:
            if m.state is not None:  # a stateful metric (keras.metrics.Metric): its own result
                logs[m.log_name] = float(m.state.result())
        return logs

    def _reset_metric_states(self):
        """Reset the stateful metrics (keras.metrics.Metric) at the start of an epoch or an evaluation."""
        for m in self._metrics:
            if m.state is not None:
                m.state.reset_state()

    def _results(self, logs):
        """Keras's return value: the loss alone without metrics, else [loss, metric...]."""
        names = self.metrics_names
        return [logs[name] for name in names] if len(names) > 1 else logs["loss"]

    # -- evaluation ---------------------------------------------------------------------------

    def _evaluate_batches(self, batches, verbose=0):
        """Loss and metrics over an adapter's batches (minicnn.data_adapter); under MPI each rank has
        its share and the sums are added over the ranks, so every rank returns the same logs. The
        loss includes the weights' penalties (kernel_regularizer...), as Keras's does."""
        loss_sum, count_sums, seen, step, penalty = 0.0, [0] * self._n_sums(), 0, 0, None
        self._reset_metric_states()
        bar = Progbar(batches.steps, verbose=verbose, stateful_metrics=self.metrics_names) if verbose else None
        for step, batch in enumerate(batches.epoch()):
            if not batch.size:
                continue
            xb, yb, wb = self._batch_arrays(batch)
            outs = self._forward(xb)
            if penalty is None:  # the model is built now; as Keras, every batch's loss includes the penalties
                penalty = regularizers.penalty(self._leaf_layers())
            loss, counts = self._batch_stats(yb, outs, wb)
            loss_sum, seen = loss_sum + (loss + penalty) * batch.size, seen + batch.size
            count_sums = [s + c for s, c in zip(count_sums, counts)]
            if bar is not None and bar.due() and step < batches.steps - 1:
                bar.update(step + 1, sorted(self._logs(loss_sum, count_sums, seen).items()), finalize=False)
        logs = self._logs(loss_sum, count_sums, seen, across_ranks=True)
        if bar is not None:
            bar.update(batches.steps, sorted(logs.items()), finalize=True)
        return logs

    def _n_sums(self):
        return len(self._sum_names) + 1

    def _batch_arrays(self, batch, class_weight=None):
        """A Batch's inputs, targets (lists) and weights on the model's backend and dtype; a
        generator's batch is checked first, as fit and evaluate check arrays."""
        x, y, weight = batch.x, batch.y, batch.weight
        if not batch.checked:
            x, y = self._check_xy(x, y)
            weight = checks.sample_weights(weight, class_weight, y, x[0].shape[0])
        return self._to_batch(x), self._to_batch(y), None if weight is None else self._to_batch(weight)

    def _targets(self, ys, outs):
        """The targets as each output's loss takes them (one-hot for sparse labels...)."""
        return [y if loss is None else loss.prepare_targets(y, out.shape[-1], out.dtype)
                for loss, y, out in zip(self._objectives.losses, ys, outs)]

    def _batch_stats(self, ys, outs, weight=None):
        """A batch's loss (the weighted sum over the outputs; each weighted by sample, Keras: divided
        by the batch size) and the sums of the outputs' losses and metrics."""
        plan = self._plan()
        losses = list(zip(self._objectives.losses, self._objectives.loss_weights))
        total, values, _ = plan.loss(losses, self._targets(ys, outs), outs, weight)
        if plan.user_code:
            total = total + plan.added_loss()
        return total, self._metric_sums(ys, outs, weight, values)

    def _metric_sums(self, ys, outs, weight=None, loss_values=None):
        """Each output's loss times the batch size (several outputs only), each metric summed over
        the batch (weighted by sample), then the sum of the weights."""
        n = outs[0].shape[0]
        sums = [loss_values[k] * n for _, k in self._objectives.output_loss_names]
        if weight is None:
            return sums + [m.fn(ys[m.output], outs[m.output]) for m in self._metrics] + [n]
        return sums + [m.fn(ys[m.output], outs[m.output], weight) for m in self._metrics] + [weight.sum()]

    def evaluate(self, x=None, y=None, batch_size=None, verbose=1, sample_weight=None, steps=None,
                 return_dict=False, workers=1, use_multiprocessing=False, max_queue_size=10):
        """Loss and metrics on (x, y) in batches, or on a generator or Sequence of such batches
        (``steps`` of them): ``[loss, metric...]``, the loss alone without metrics, or a dict with
        ``return_dict=True``. ``sample_weight`` (N,) weighs each sample. Keras 2's ``workers``,
        ``use_multiprocessing`` and ``max_queue_size`` are accepted and ignored."""
        self._require_compiled("evaluate")
        verbose = checks.check_verbose(verbose)
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
        xs, ys = self._check_xy(x, y, names)
        weight = checks.sample_weights(sample_weight, None, ys, xs[0].shape[0])
        first, n = distributed.shard(xs[0].shape[0])  # each rank evaluates a share; the sums are reduced
        sl = slice(first, first + n)
        return data_adapter.ArrayBatches([a[sl] for a in xs], [None if a is None else a[sl] for a in ys],
                                         None if weight is None else weight[sl], batch_size, False, steps, local=True)

    def test_on_batch(self, x, y, sample_weight=None):
        """Loss (and metrics) of one batch, without updating anything."""
        self._require_compiled("test_on_batch")
        n = len(self._check_x(x)[0])
        return self._results(self._evaluate_batches(self._evaluation_adapter(x, y, sample_weight, n, None)))

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
        stays bounded by one batch's activations whatever N is. ``verbose``: 0, 1, 2 or ``"auto"`` (1)."""
        verbose = checks.check_verbose(verbose)
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        if data_adapter.is_source(x):
            source = data_adapter.SourceBatches(x, steps, "steps")
            parts = [self._predict_batch(self._check_x(b.x)) for b in source.epoch()]
            return self._output_structure([np.concatenate(p) for p in zip(*parts)])
        xs = self._check_x(x)
        N = xs[0].shape[0]
        outs = [np.empty((N, *t.sample_shape), dtype=self._dtype()) for t in self._model_graph().outputs]
        steps = -(-N // batch_size)
        bar = Progbar(steps, verbose=verbose) if verbose else None
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            for out, part in zip(outs, self._predict_batch([a[lo:hi] for a in xs])):
                out[lo:hi] = part
            if bar is not None and (bar.due() or step == steps - 1):
                bar.update(step + 1, finalize=step == steps - 1)
        return self._output_structure(outs)

    def _predict_batch(self, xs):
        return [backend.to_numpy(out) for out in self._forward(self._to_batch(xs))]

    def _output_structure(self, outs):
        """The outputs as the model's outputs were given: one array, a list, or a dict."""
        keys = self._output_keys if self.built else None
        if keys is not None:
            return dict(zip(keys, outs))
        return outs[0] if len(outs) == 1 else outs

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
        """Outputs for one batch, as a NumPy array (a list or dict of them for several outputs)."""
        return self.predict(x, batch_size=max(1, len(self._check_x(x)[0])))

    def __call__(self, x, training=None):
        """On arrays, a forward pass on one batch (no batching), returned on the weights' backend; on
        symbolic tensors, the model as one layer of a new graph (Keras's functional API).

        The arrays are checked as :meth:`predict` checks them, with the same messages (a single
        image without its batch axis, a wrong image size...), and integer/uint8 ones converted to
        the model's float dtype. NaN and inf are not looked for: as in Keras, they give NaN
        outputs (and the scan would cost a GPU synchronisation on every call).

        ``training=True`` runs the layers in training mode (dropout masks, batch statistics), as
        Keras's ``model(x, training=True)``, but leaves BatchNormalization's moving statistics as
        they are: those change in ``fit`` and ``train_on_batch`` only.

        Raises:
            ValueError/TypeError: for inputs that predict refuses.
        """
        if graph.is_symbolic(x):
            return graph.call_symbolic(self, x)
        from minicnn import tape
        if tape.recording() or tape.any_tensor(x) or self.user_code:
            return tape.call_layer(self, x, training)
        xs = self._to_batch(self._check_x(x, finite=False))
        return self._output_structure(self._forward(xs, training=bool(training)))
