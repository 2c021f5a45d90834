"""Training: compile and the training step, under fit's loop (:mod:`minicnn.fit_loop`).

One training step is plain to read (:meth:`Trainer._train_step`): the plan's steps forward, the
loss and its gradient, the steps backward in reverse, one optimizer update::

    outs, caches = plan.forward(xs, training=True)           # each step returns what its backward needs
    loss, _, douts = plan.loss(losses, targets, outs)        # or the fused softmax + crossentropy gradient
    grads = plan.backward(douts, caches)
    self.optimizer.apply_gradients(plan.weights, grads)

Inputs, targets and outputs are lists (one entry per input or output of the model).

With regularizers (``kernel_regularizer=l2(...)``), their penalties join the loss and their
gradients the weights' gradients just before the update: after the sum over MPI ranks, so that
each counts once (:func:`minicnn.regularizers.add_penalties`).
"""
import contextlib
import threading

import numpy as np

from minicnn import compile_utils, distributed, optimizers
from minicnn.cpu.workspace import release
from minicnn.fit_loop import FitLoop
from minicnn.regularizers import add_penalties


class Trainer(FitLoop):
    """compile, fit and train_on_batch for :class:`minicnn.models.Sequential`.

    A model trains in one thread at a time: a second thread that calls ``fit`` or
    ``train_on_batch`` while the first is training gets a RuntimeError, never mixed weights.
    Prediction and evaluation from other threads are fine, on models that are not training.
    """

    def __init__(self):
        super().__init__()
        self.stop_training = False
        self.history = None
        self._trainer_lock = threading.RLock()
        self._gradient_buffer = {}  # the flat buffer the gradients are all-reduced in (under MPI)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, loss_weights=None):
        """Choose the optimizer, the loss(es) and the metrics (``"accuracy"``/``"acc"``). With several
        outputs, ``loss``, ``loss_weights`` and ``metrics`` may be lists (in the outputs' order) or
        dicts keyed by the outputs' names (:mod:`minicnn.compile_utils`); the loss minimised is the
        sum of the outputs' losses times their weights.

        Warns:
            when a loss with ``from_logits=True`` follows an output layer that ends in a softmax or
            sigmoid (probabilities, not logits), naming the layer.

        Raises:
            ValueError/TypeError: for unknown or missing names, listing the valid ones.
        """
        from minicnn.custom_step import overrides
        objectives = compile_utils.resolve(loss, loss_weights, metrics, self.output_names,
                                           losses_added=overrides(self, "train_step") or
                                           any(leaf.user_code for leaf in self._leaf_layers()))
        self.optimizer = optimizers.get(optimizer)
        compile_utils.warn_if_logits_after_probabilities(objectives, compile_utils.output_layers(self),
                                                         self.output_names)
        self._objectives = objectives
        self.loss = objectives.losses[0] if len(objectives.losses) == 1 else objectives.losses
        self._metrics = objectives.metrics
        self._sum_names = [(name, True) for name, _ in objectives.output_loss_names] + \
            [(m.log_name, False) for m in objectives.metrics]
        # Keras's order for evaluate's list: the loss, each output's, then the metrics (sorted by
        # name when there are several outputs).
        metric_names = [m.log_name for m in objectives.metrics]
        self.metrics_names = ["loss"] + [name for name, _ in objectives.output_loss_names] + \
            (sorted(metric_names) if len(objectives.losses) > 1 else metric_names)
        self._frozen_at_compile = [layer.name for layer in self._leaf_layers() if not layer.trainable]
        self._plans.clear()
        self.compiled = True
        if self._array_module() is np:
            from minicnn import info  # here: `python -m minicnn.info` runs info as __main__
            info.warn_if_generic_blas()  # once per process, when a model is compiled for the CPU

    @contextlib.contextmanager
    def _training(self, what):
        """Hold the model for training by this thread (re-entrant: fit's callbacks may train)."""
        if not self._trainer_lock.acquire(blocking=False):
            raise RuntimeError(f"{what}: model '{self.name}' is already training in another thread. Train a "
                               "model from one thread at a time (predict and evaluate may run in others).")
        try:
            yield
        finally:
            self._trainer_lock.release()

    def train_on_batch(self, x, y):
        """One step on one batch: the loss, or [loss, metrics...] (under MPI: a batch per rank)."""
        self._require_compiled("train_on_batch")
        xs, ys = self._check_xy(x, y)
        with self._training("train_on_batch"):
            loss, counts = self._train_step(self._to_batch(xs), self._to_batch(ys), 1 / distributed.size())
        return self._results(self._logs(loss * counts[-1], counts, counts[-1]))

    def _train_step(self, xs, ys, share=1.0, weight=None):
        """One step on a batch on the model's backend: (loss, the sums of _metric_sums), on the device;
        ``weight``: per-sample weights. Under MPI xs is this rank's ``share`` of the global batch."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        losses = list(zip(self._objectives.losses, self._objectives.loss_weights))
        with plan.running():
            outs, caches = plan.forward(xs, training=True)
            loss, values, douts = plan.loss(losses, self._targets(ys, outs), outs, weight)
            if plan.user_code:
                loss = loss + plan.added_loss()
            counts = self._metric_sums(ys, outs, weight, values)
            if share != 1:
                douts = [None if d is None else d * d.dtype.type(share) for d in douts]
            grads = plan.backward(douts, caches, share=share)
            if plan.stateful:
                plan.update_state(caches)
            if distributed.size() > 1:
                grads = distributed.sum_gradients(grads, self._gradient_buffer)
            loss = loss + add_penalties(plan.regularized, weights, grads) if plan.regularized else loss  # once per rank
            self.optimizer.apply_gradients(weights, grads, names=plan.weight_names)
        return loss, counts

    def _join_step(self):
        """A step for a rank whose part of a last, small global batch is empty: it adds nothing to the
        gradients but joins the all-reduce and the update, as every rank must."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        with plan.running():
            grads = distributed.sum_gradients([w * 0 for w in weights], self._gradient_buffer)
            add_penalties(plan.regularized, weights, grads)  # every rank makes the same update
            self.optimizer.apply_gradients(weights, grads, names=plan.weight_names)
        return 0.0, [0] * self._n_sums()

    def _weights_to_train(self, plan):
        frozen = [layer.name for layer in self._leaf_layers() if not layer.trainable]
        if frozen != self._frozen_at_compile:  # Keras: a change of `trainable` counts from the next compile
            raise RuntimeError(f"Layers frozen (trainable=False) at compile: {self._frozen_at_compile}; now: {frozen}. "
                               "Call model.compile(...) again for the change to take effect.")
        return plan.weights

    def _release(self):
        """Free this thread's scratch buffers of the plans (the memory goes back after fit)."""
        for plan in self._plans.values():
            for step in plan.steps:
                release(step)
        for layer in self.layers:
            if isinstance(layer, Trainer):
                layer._release()
