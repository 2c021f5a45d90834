"""Training: compile and the training step, under fit's loop (:mod:`minicnn.fit_loop`).

One training step is plain to read (:meth:`Trainer._train_step`): the plan's steps forward, the
loss and its gradient, the steps backward in reverse, one optimizer update::

    out, caches = plan.forward(x, training=True)     # each step returns what its backward needs
    loss, dout = plan.loss(self.loss, target, out)   # or the fused softmax + crossentropy gradient
    grads = plan.backward(dout, caches)
    self.optimizer.apply_gradients(weights, grads)

With regularizers (``kernel_regularizer=l2(...)``), their penalties join the loss and their
gradients the weights' gradients just before the update: after the sum over MPI ranks, so that
each counts once (:func:`minicnn.regularizers.add_penalties`).
"""
import contextlib
import threading

import numpy as np

from minicnn import distributed
from minicnn import losses as losses_mod, metrics as metrics_mod, optimizers
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

    def compile(self, optimizer="rmsprop", loss=None, metrics=None):
        """Choose the optimizer, the loss and the metrics (``"accuracy"``/``"acc"``).

        Raises:
            ValueError/TypeError: for unknown or missing names, listing the valid ones.
        """
        if loss is None:
            raise ValueError("compile needs a loss, e.g. loss='categorical_crossentropy'.")
        self.optimizer = optimizers.get(optimizer)
        self.loss = losses_mod.get(loss)
        if isinstance(metrics, str):
            metrics = [metrics]
        self._metrics = [metrics_mod.get(m, self.loss.name) for m in (metrics or [])]
        self.metrics_names = ["loss"] + [name for name, _ in self._metrics]
        self._frozen_at_compile = [layer.name for layer in self._layers if not layer.trainable]
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
        x, y = self._check_xy(x, y)
        with self._training("train_on_batch"):
            loss, counts = self._train_step(self._to_batch(x), self._to_batch(y), 1 / distributed.size())
        return self._results({"loss": float(loss), **{m: float(c) / float(counts[-1]) for (m, _), c in zip(self._metrics, counts)}})

    def _train_step(self, xb, yb, share=1.0, weight=None):
        """One step on a batch on the model's backend: (loss, metric sums), on the device; ``weight``:
        per-sample weights. Under MPI xb is this rank's ``share`` of the global batch."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        with plan.running():
            out, caches = plan.forward(xb, training=True)
            loss, dout = plan.loss(self.loss, self.loss.prepare_targets(yb, out.shape[-1], out.dtype), out, weight)
            counts = self._metric_sums(yb, out, weight)
            grads = plan.backward(dout * dout.dtype.type(share) if share != 1 else dout, caches)
            if distributed.size() > 1:
                grads = distributed.sum_gradients(grads, self._gradient_buffer)
            loss = loss + add_penalties(plan.regularized, weights, grads) if plan.regularized else loss  # once per rank
            self.optimizer.apply_gradients(weights, grads)
        return loss, counts

    def _join_step(self):
        """A step for a rank whose part of a last, small global batch is empty: it adds nothing to the
        gradients but joins the all-reduce and the update, as every rank must."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        with plan.running():
            grads = distributed.sum_gradients([w * 0 for w in weights], self._gradient_buffer)
            add_penalties(plan.regularized, weights, grads)  # every rank makes the same update
            self.optimizer.apply_gradients(weights, grads)
        return 0.0, [0] * (len(self._metrics) + 1)

    def _weights_to_train(self, plan):
        frozen = [layer.name for layer in self._layers if not layer.trainable]
        if frozen != self._frozen_at_compile:  # Keras: a change of `trainable` counts from the next compile
            raise RuntimeError(f"Layers frozen (trainable=False) at compile: {self._frozen_at_compile}; now: {frozen}. "
                               "Call model.compile(...) again for the change to take effect.")
        return [w for step in plan.steps for layer in step.layers for w in layer.trainable_weights]

    def _release(self):
        """Free this thread's scratch buffers of the plans (the memory goes back after fit)."""
        for plan in self._plans.values():
            for step in plan.steps:
                release(step)
