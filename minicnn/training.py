"""Training: compile, fit and train_on_batch, on top of :class:`minicnn.evaluation.Evaluator`.

One training step is plain to read (:meth:`Trainer._train_step`): the plan's steps forward, the
loss and its gradient, the steps backward in reverse, one optimizer update::

    out, caches = plan.forward(x, training=True)     # each step returns what its backward needs
    loss, dout = plan.loss(self.loss, target, out)   # or the fused softmax + crossentropy gradient
    grads = plan.backward(dout, caches)
    self.optimizer.apply_gradients(weights, grads)
"""
import contextlib
import threading
import types
import warnings

import numpy as np

from minicnn import data_checks as checks
from minicnn import distributed
from minicnn import losses as losses_mod, metrics as metrics_mod, optimizers
from minicnn import random as mrandom
from minicnn.callbacks import CallbackList, History
from minicnn.cpu.workspace import release
from minicnn.evaluation import Evaluator
from minicnn.utils.interrupt import deferred_interrupt
from minicnn.utils.progbar import Progbar


class Trainer(Evaluator):
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
            loss, counts = self._train_step(self._to_batch(x, slice(None)), self._to_batch(y, slice(None)),
                                            1 / distributed.size())
        logs = {"loss": float(loss), **{name: float(c) / x.shape[0] for (name, _), c in zip(self._metrics, counts)}}
        return self._results(logs)

    def _train_step(self, xb, yb, share=1.0):
        """One step on a batch on the model's backend: (loss, metric counts), on the device. Under MPI
        xb is this rank's ``share`` of the global batch, and the ranks' weighted gradients are summed."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        with plan.running():
            out, caches = plan.forward(xb, training=True)
            loss, dout = plan.loss(self.loss, self.loss.prepare_targets(yb, out.shape[-1], out.dtype), out)
            counts = [fn(yb, out) for _, fn in self._metrics]
            grads = plan.backward(dout * dout.dtype.type(share) if share != 1 else dout, caches)
            if distributed.size() > 1:
                grads = distributed.sum_gradients(grads, self._gradient_buffer)
            self.optimizer.apply_gradients(weights, grads)
        return loss, counts

    def _join_step(self):
        """A step for a rank whose part of a last, small global batch is empty: it adds nothing to the
        gradients but joins the all-reduce and the update, as every rank must."""
        plan = self._plan()
        weights = self._weights_to_train(plan)
        with plan.running():
            grads = distributed.sum_gradients([w * 0 for w in weights], self._gradient_buffer)
            self.optimizer.apply_gradients(weights, grads)
        return 0.0, [0] * len(self._metrics)

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

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose=1, callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, initial_epoch=0, nb_epoch=None,
            validation_batch_size=None):
        """Train for ``epochs`` epochs; returns a History whose ``.history`` holds per-epoch logs.

        ``validation_split`` takes the *last* fraction of x and y (before shuffling) as validation
        data, as Keras does. ``nb_epoch`` is Keras 1's name for ``epochs``. Integer/uint8 inputs
        are converted to float32 batch by batch, not scaled: divide images by 255 yourself.

        Raises:
            RuntimeError: before compile. ValueError/TypeError: for invalid data or arguments.
        """
        self._require_compiled("fit")
        if distributed.size() > 1 and (batch_size or 32) % distributed.size():
            raise ValueError(
                f"batch_size={batch_size or 32} is the global batch, split over {distributed.size()} ranks: "
                f"make it a multiple of {distributed.size()} (e.g. {distributed.size() * max(1, (batch_size or 32) // distributed.size())}).")
        with self._training("fit"):
            return self._fit(x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data,
                             shuffle, initial_epoch, nb_epoch, validation_batch_size)

    def _fit(self, x, y, batch_size, epochs, verbose, callbacks, validation_split, validation_data, shuffle,
             initial_epoch, nb_epoch, validation_batch_size):
        epochs = nb_epoch if nb_epoch is not None else epochs
        verbose = verbose if distributed.is_main() else 0  # progress and messages from rank 0 only
        epochs, initial_epoch = checks.check_epochs(epochs, initial_epoch)
        batch_size = checks.check_batch_size(32 if batch_size is None else batch_size)
        validation_split = checks.check_validation_split(validation_split)
        x, y = self._check_xy(x, y)
        _warn_if_unscaled(x)
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
                got = (f"a {type(validation_data).__name__} of length {len(validation_data)}"
                       if isinstance(validation_data, (tuple, list)) else type(validation_data).__name__)
                raise ValueError(f"validation_data must be a tuple (x_val, y_val), got {got}.")
            val = self._check_xy(*validation_data[:2], names=("x_val", "y_val"))
        elif validation_split:
            split_at = int(np.floor(x.shape[0] * (1 - validation_split)))  # Keras 3 floors it
            if split_at in (0, x.shape[0]):
                raise ValueError(
                    f"validation_split={validation_split} leaves no training or no validation samples "
                    f"out of {x.shape[0]}; use more data or another fraction.")
            x, y, val = x[:split_at], y[:split_at], (x[split_at:], y[split_at:])
        else:
            val = None
        N = x.shape[0]
        steps = -(-N // batch_size)
        history = History()
        # History goes last, as in Keras, so it records what other callbacks add (learning_rate).
        cbs = CallbackList([*(callbacks or []), history], model=self,
                           params={"epochs": epochs, "steps": steps, "verbose": verbose})
        self.history = history
        self.stop_training = False
        epoch = initial_epoch
        distributed.sync_model(self)  # every rank starts from rank 0's weights and optimizer state
        cbs.on_train_begin()
        # A diverging run shows nan in the logs (and TerminateOnNaN can stop it), as in Keras,
        # instead of NumPy overflow warnings on every batch.
        # Under MPI Ctrl-C ends the job (distributed aborts every rank) instead of ending the batch.
        interrupts = contextlib.nullcontext(types.SimpleNamespace(set=False)) if distributed.size() > 1 \
            else deferred_interrupt()
        with interrupts as interrupted, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                for epoch in range(initial_epoch, epochs):
                    self._fit_epoch(epoch, epochs, x, y, val, batch_size, shuffle, verbose, cbs,
                                    interrupted, validation_batch_size or batch_size)
                    if self.stop_training or interrupted.set:
                        break
            finally:
                self._release()
        if interrupted.set:
            print(f"\nTraining interrupted (Ctrl-C) in epoch {epoch + 1}: the model keeps the weights of "
                  "the last completed batch; the returned History holds the completed epochs.", flush=True)
        cbs.on_train_end()
        return history

    def _fit_epoch(self, epoch, epochs, x, y, val, batch_size, shuffle, verbose, cbs, interrupted,
                   val_batch_size):
        """One epoch of :meth:`fit`: shuffled batches, progress, validation, epoch callbacks."""
        N = x.shape[0]
        steps = -(-N // batch_size)
        cbs.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = Progbar(steps, verbose=verbose, stateful_metrics=self.metrics_names)
        order = mrandom.generator().permutation(N) if shuffle else None
        loss_sum, count_sums, seen = 0.0, [0] * len(self._metrics), 0
        batch_logs_wanted = cbs.wants_batch_logs()
        for step in range(steps):
            lo, hi = step * batch_size, min(N, (step + 1) * batch_size)
            # Sorted indexes gather rows in memory order: the same batch, a faster copy. Under MPI
            # each rank takes its part of the global batch (the same shuffle on every rank).
            idx = distributed.local_part(np.sort(order[lo:hi]) if shuffle else np.arange(lo, hi))
            cbs.on_train_batch_begin(step)
            n = len(idx)
            loss, counts = (self._train_step(self._to_batch(x, idx), self._to_batch(y, idx), n / (hi - lo)) if n
                            else self._join_step())
            # Sums stay on the device; they come back to the host only when shown or asked for.
            loss_sum = loss_sum + loss * n
            count_sums = [s + c for s, c in zip(count_sums, counts)]
            seen += n
            if batch_logs_wanted or (verbose == 1 and bar.due() and step < steps - 1):
                # Batch logs for callbacks are global (every rank asks); the bar alone shows rank 0's.
                logs = self._logs(loss_sum, count_sums, seen, across_ranks=batch_logs_wanted)
                cbs.on_train_batch_end(step, logs)
                bar.update(step + 1, sorted(logs.items()), finalize=False)
            if self.stop_training or interrupted.set:
                break
        logs = self._logs(loss_sum, count_sums, seen, across_ranks=True)
        if interrupted.set:
            return
        distributed.average_moving_statistics(self)
        if val is not None:
            val_logs = self._evaluate_arrays(*val, val_batch_size)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        # Keras runs the epoch-end callbacks first: their messages come before the final line,
        # and that line shows what they add to the logs.
        logs = cbs.on_epoch_end(epoch, logs)
        bar.update(step + 1, sorted(logs.items()), finalize=True)


def _warn_if_unscaled(x):
    """Warn once per process about integer images above 1: they train, but poorly, unscaled."""
    if x.dtype.kind in "iu" and not _warned["unscaled"] and x.max() > 1:
        _warned["unscaled"] = True
        warnings.warn(
            f"fit got integer inputs ({x.dtype}) with values up to {int(x.max())}. They are converted to "
            "float32 but not scaled, and unscaled images train poorly; divide them first, e.g. "
            "x.astype('float32') / 255.", UserWarning, stacklevel=4)


_warned = {"unscaled": False}
