"""fit's loop: epochs of batches (minicnn.data_adapter), progress, validation and the callbacks.

The step itself, forward, loss, backward and update, is :meth:`minicnn.training.Trainer._train_step`.
"""
import contextlib
import types

import numpy as np

from minicnn import custom_step, data_adapter, distributed
from minicnn import data_checks as checks
from minicnn.callbacks import CallbackList, History
from minicnn.callbacks.callback_list import as_callback_list
from minicnn.evaluation import Evaluator
from minicnn.layers import Rescaling
from minicnn.utils.interrupt import deferred_interrupt
from minicnn.utils.progbar import Progbar


class FitLoop(Evaluator):
    """fit (and Keras 2's fit_generator) for :class:`minicnn.training.Trainer`."""

    def fit(self, x=None, y=None, batch_size=None, epochs=1, verbose="auto", callbacks=None,
            validation_split=0.0, validation_data=None, shuffle=True, class_weight=None, sample_weight=None,
            initial_epoch=0, steps_per_epoch=None, validation_steps=None, validation_batch_size=None,
            validation_freq=1, nb_epoch=None):
        """Train for ``epochs`` epochs; returns a History whose ``.history`` holds per-epoch logs.

        ``x`` is an array (with targets ``y``), or a generator, iterator or ``minicnn.utils.Sequence``
        of ``(x, y)`` or ``(x, y, sample_weight)`` batches (then ``steps_per_epoch`` batches make an
        epoch; a Sequence's length by default). ``validation_data`` is ``(x, y)``, ``(x, y,
        sample_weight)`` or such a generator (``validation_steps`` batches). ``validation_split``
        takes the *last* fraction of the arrays, before shuffling, as Keras does. ``class_weight``
        ({class: weight}) and ``sample_weight`` (N,) weigh each sample's loss and metrics.
        ``validation_freq``: validate every k-th epoch, or at the listed (1-based) epochs.
        ``nb_epoch`` is Keras 1's name for ``epochs``. Integer/uint8 inputs are converted to
        float32 batch by batch, not scaled: divide images by 255 yourself. ``verbose``: 0, 1 (a
        progress bar), 2 (a line per epoch) or ``"auto"`` (1, as in Keras 3). ``callbacks``: a list
        of callbacks, or one.

        Warns:
            when ``initial_epoch >= epochs`` (nothing to train), and when a generator runs out of
            batches before ``steps_per_epoch`` (the epoch ends there, as in Keras).

        Raises:
            RuntimeError: before compile. ValueError/TypeError: for invalid data or arguments.
        """
        self._require_compiled("fit")
        verbose = checks.check_verbose(verbose)
        if custom_step.overrides(self, "train_step"):  # a train_step of the user's own (minicnn.custom_step)
            unused = {name: value for name, value in (("validation_split", validation_split), ("class_weight", class_weight),
                      ("steps_per_epoch", steps_per_epoch), ("initial_epoch", initial_epoch)) if value}
            if unused:
                raise TypeError(f"fit with a custom train_step does not take {sorted(unused)}; pass validation_data "
                                "(with a test_step) instead of validation_split.")
            with self._training("fit"):
                return custom_step.fit(self, x, y, checks.check_batch_size(batch_size or 32),
                                       checks.check_epochs(nb_epoch or epochs, 0)[0], verbose, callbacks, shuffle,
                                       sample_weight, validation_data)
        batch_size, n = checks.check_batch_size(32 if batch_size is None else batch_size), distributed.size()
        if n > 1 and not data_adapter.is_source(x) and batch_size % n:
            raise ValueError(f"batch_size={batch_size} is the global batch, split over {n} ranks: make it "
                             f"a multiple of {n} (e.g. {n * max(1, batch_size // n)}).")
        with self._training("fit"):
            epochs = nb_epoch if nb_epoch is not None else epochs
            epochs, initial_epoch = checks.check_epochs(epochs, initial_epoch)
            if validation_batch_size is not None:
                validation_batch_size = checks.check_batch_size(validation_batch_size, "validation_batch_size")
            train, val = self._fit_data(x, y, sample_weight, class_weight, batch_size, shuffle, steps_per_epoch,
                                        validation_split, validation_data, validation_steps,
                                        validation_batch_size or batch_size)
            if initial_epoch >= epochs:  # Keras 3 returns an empty History without a word
                checks.warn(f"fit(epochs={epochs}, initial_epoch={initial_epoch}) trains nothing: epochs is the "
                            "epoch to stop at, not a number of epochs to run, so training runs from initial_epoch "
                            f"up to epochs. To train n more epochs, pass epochs=initial_epoch + n (e.g. "
                            f"epochs={initial_epoch + 1}).")
            return self._fit(train, val, epochs, initial_epoch, verbose if distributed.is_main() else 0,
                             callbacks, _validation_epochs(validation_freq, epochs))

    def fit_generator(self, generator, steps_per_epoch=None, epochs=1, verbose=1, callbacks=None,
                      validation_data=None, validation_steps=None, validation_freq=1, class_weight=None,
                      max_queue_size=10, workers=1, use_multiprocessing=False, shuffle=True, initial_epoch=0):
        """Keras 2's name for :meth:`fit` on a generator. ``max_queue_size``, ``workers`` and
        ``use_multiprocessing`` are accepted and ignored: one worker thread reads ahead."""
        return self.fit(generator, steps_per_epoch=steps_per_epoch, epochs=epochs, verbose=verbose,
                        callbacks=callbacks, validation_data=validation_data, validation_steps=validation_steps,
                        validation_freq=validation_freq, class_weight=class_weight, shuffle=shuffle,
                        initial_epoch=initial_epoch)

    def _fit_data(self, x, y, sample_weight, class_weight, batch_size, shuffle, steps, validation_split,
                  validation_data, validation_steps, validation_batch_size):
        """The training batches and the validation data (an adapter or None), checked."""
        if data_adapter.is_source(x):
            if y is not None or sample_weight is not None or validation_split:
                raise ValueError("With a generator or Sequence as x, its batches carry the targets and weights: "
                                 "leave y, sample_weight and validation_split out (use validation_data).")
            train = data_adapter.SourceBatches(x, steps, class_weight=class_weight)
        else:
            x, y = self._check_xy(x, y)
            # An input a Rescaling layer reads is scaled by the model itself.
            rescaled = {id(t) for n in self._graph.nodes if isinstance(n.layer, Rescaling) for t in n.inputs}
            for a, t in zip(x, self._graph.inputs):
                if id(t) not in rescaled:
                    _warn_if_unscaled(a)
            weight = checks.sample_weights(sample_weight, class_weight, y, x[0].shape[0])
            val, validation_split = None, checks.check_validation_split(validation_split)
            if validation_split and validation_data is None:
                x, y, weight, val = _split(x, y, weight, validation_split)
            train = data_adapter.ArrayBatches(x, y, weight, batch_size, shuffle, steps, what="steps_per_epoch")
            if val is not None:
                validation_data = val
        return train, self._validation_adapter(validation_data, validation_steps, validation_batch_size)

    def _validation_adapter(self, data, steps, batch_size):
        if data is None:
            return None
        steps = data_adapter.check_steps(steps, "validation_steps")
        if data_adapter.is_source(data):
            return self._evaluation_adapter(data, None, None, batch_size, steps, what="validation_steps")
        if not isinstance(data, (tuple, list)) or len(data) not in (2, 3):
            got = f"a {type(data).__name__} of length {len(data)}" if isinstance(data, (tuple, list)) \
                else type(data).__name__
            raise ValueError(f"validation_data must be a tuple (x_val, y_val) or (x_val, y_val, sample_weight), "
                             f"or a generator, got {got}.")
        return self._evaluation_adapter(data[0], data[1], data[2] if len(data) == 3 else None, batch_size, steps,
                                        names=("x_val", "y_val"))

    def _fit(self, train, val, epochs, initial_epoch, verbose, callbacks, validate_at):
        history = History()
        # History goes last, as in Keras, so it records what other callbacks add (learning_rate).
        cbs = CallbackList([*as_callback_list(callbacks), history], model=self,
                           params={"epochs": epochs, "steps": train.steps, "verbose": verbose})
        self.history, self.stop_training, self._resume_epoch = history, False, None
        distributed.sync_model(self)  # every rank starts from rank 0's weights and optimizer state
        cbs.on_train_begin()
        # BackupAndRestore may have restored a later epoch than initial_epoch.
        epoch = initial_epoch = max(initial_epoch, self._resume_epoch or 0)
        # A diverging run shows nan in the logs (and TerminateOnNaN can stop it), as in Keras, instead
        # of NumPy overflow warnings on every batch. Under MPI, Ctrl-C ends the job (every rank).
        interrupts = contextlib.nullcontext(types.SimpleNamespace(set=False)) if distributed.size() > 1 \
            else deferred_interrupt()
        with interrupts as interrupted, np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            try:
                for epoch in range(initial_epoch, epochs):
                    ran = self._fit_epoch(epoch, epochs, train, val if epoch + 1 in validate_at else None, verbose,
                                          cbs, interrupted)
                    if not ran or self.stop_training or interrupted.set:
                        break
            finally:
                self._release()
        if interrupted.set:
            print(f"\nTraining interrupted (Ctrl-C) in epoch {epoch + 1}: the model keeps the weights of "
                  "the last completed batch; the returned History holds the completed epochs.", flush=True)
        cbs.on_train_end()
        return history

    def _fit_epoch(self, epoch, epochs, train, val, verbose, cbs, interrupted):
        """One epoch of :meth:`fit`: batches, progress, validation, epoch callbacks. Returns False when
        the input gave no batch (a generator that ran out in an earlier epoch: data_adapter warned)."""
        cbs.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = Progbar(train.steps, verbose=verbose, stateful_metrics=self.metrics_names)
        loss_sum, count_sums, seen, step = 0.0, [0] * self._n_sums(), 0, -1
        self._reset_metric_states()
        batch_logs_wanted = cbs.wants_batch_logs()
        for step, batch in enumerate(train.epoch()):
            cbs.on_train_batch_begin(step)
            loss, counts = self._fit_step(batch, train.class_weight)
            # Sums stay on the device; they come back to the host only when shown or asked for.
            loss_sum = loss_sum + loss * batch.size
            count_sums = [s + c for s, c in zip(count_sums, counts)]
            seen += batch.size
            if batch_logs_wanted or (verbose == 1 and bar.due() and step < train.steps - 1):
                # Batch logs for callbacks are global (every rank asks); the bar alone shows rank 0's.
                logs = self._logs(loss_sum, count_sums, seen, across_ranks=batch_logs_wanted)
                cbs.on_train_batch_end(step, logs)
                bar.update(step + 1, sorted(logs.items()), finalize=False)
            if self.stop_training or interrupted.set:
                break
        if step < 0:
            return False
        logs = self._logs(loss_sum, count_sums, seen, across_ranks=True)
        if interrupted.set:
            return True
        distributed.average_moving_statistics(self)
        if val is not None:
            logs.update({"val_" + k: v for k, v in self._evaluate_batches(val).items()})
        # Keras runs the epoch-end callbacks first: their messages come before the final line,
        # and that line shows what they add to the logs.
        logs = cbs.on_epoch_end(epoch, logs)
        bar.update(step + 1, sorted(logs.items()), finalize=True)
        return True

    def _fit_step(self, batch, class_weight):
        """One training step on a Batch from an adapter (a rank with no sample only joins in)."""
        if not batch.size:
            return self._join_step()
        xb, yb, wb = self._batch_arrays(batch, class_weight)
        return self._train_step(xb, yb, batch.share, wb)


def _split(x, y, weight, fraction):
    """The last ``fraction`` of the samples of the lists ``x`` and ``y`` held out, as Keras does."""
    n = x[0].shape[0]
    split_at = int(np.floor(n * (1 - fraction)))  # Keras 3 floors it
    if split_at in (0, n):
        raise ValueError(f"validation_split={fraction} leaves no training or no validation samples out of "
                         f"{n}; use more data or another fraction.")

    def part(arrays, sl):
        return [None if a is None else a[sl] for a in arrays]
    head, tail = slice(None, split_at), slice(split_at, None)
    w = (None, None) if weight is None else (weight[head], weight[tail])
    return part(x, head), part(y, head), w[0], (part(x, tail), part(y, tail), w[1])


def _validation_epochs(freq, epochs):
    """The 1-based epochs to validate at: every ``freq``-th, or those listed."""
    if isinstance(freq, (list, tuple, set, range)):
        return set(freq)
    if isinstance(freq, bool) or not isinstance(freq, (int, np.integer)) or freq < 1:
        raise ValueError(f"validation_freq must be a positive integer or a list of epochs, got {freq!r}.")
    return set(range(freq, epochs + 1, freq))


def _warn_if_unscaled(x):
    """Warn once per process about integer images above 1: they train, but poorly, unscaled."""
    if x.dtype.kind in "iu" and not _warned["unscaled"] and x.max() > 1:
        _warned["unscaled"] = True
        checks.warn(  # pointed at the user's fit line, however deep inside fit this runs
            f"fit got integer inputs ({x.dtype}) with values up to {int(x.max())}. They are converted to "
            "float32 but not scaled, and unscaled images train poorly; divide them first, e.g. "
            "x.astype('float32') / 255.")


_warned = {"unscaled": False}
