"""fit with a ``train_step`` of the user's own, as Keras's guide "Customizing what happens in fit()"
writes it (a VAE's or a GAN's model class):

    class VAE(keras.Model):
        def train_step(self, data):
            with keras.GradientTape() as tape:
                z_mean, z_log_var, z = self.encoder(data)
                total_loss = ...
            grads = tape.gradient(total_loss, self.trainable_weights)
            self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
            self.total_loss_tracker.update_state(total_loss)
            return {"loss": self.total_loss_tracker.result()}

        @property
        def metrics(self):
            return [self.total_loss_tracker]

    vae.compile(optimizer=keras.optimizers.Adam())
    vae.fit(x_train, epochs=30, batch_size=128)

Each batch is handed to ``train_step`` as ``x``, ``(x, y)`` or ``(x, y, sample_weight)``, as Keras
does; the metrics the model lists in ``metrics`` are reset at the start of every epoch (and of
every validation), and the logs of an epoch are what the last ``train_step`` returned (the running
results of those metrics). ``validation_data`` goes through ``test_step`` the same way. The data
are arrays (or lists of arrays): the generators and Sequences of :meth:`fit` are not taken here, and
it runs in one process (not split over MPI ranks).
"""
import numpy as np

from minicnn import data_checks as checks
from minicnn import distributed
from minicnn import random as mrandom
from minicnn.callbacks import CallbackList, History
from minicnn.callbacks.callback_list import as_callback_list
from minicnn.utils.progbar import Progbar


def overrides(model, name):
    """Whether ``model``'s class defines ``train_step`` / ``test_step`` (minicnn's Trainer has none)."""
    return callable(getattr(type(model), name, None))


def fit(model, x, y=None, batch_size=32, epochs=1, verbose=1, callbacks=None, shuffle=True, sample_weight=None,
        validation_data=None):
    """:meth:`minicnn.training.Trainer.fit` for a model with its own ``train_step``.

    Raises:
        TypeError: for data that is not arrays, or validation_data without a ``test_step``.
        ValueError: for arrays of different lengths, or a train_step that returns no dict.
        RuntimeError: under MPI with more than one rank (a train_step's gradients are not all-reduced).
    """
    if distributed.size() > 1:
        raise RuntimeError(f"{type(model).__name__}.train_step is the user's own, so minicnn cannot split it over "
                           f"the {distributed.size()} MPI ranks (its gradients would not be all-reduced and the ranks "
                           "would drift apart). Run it in one process, or train a model without a train_step.")
    arrays = _arrays(x, "x") + _arrays(y, "y") + _arrays(sample_weight, "sample_weight")
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError(f"fit: x, y and sample_weight have different numbers of samples {[len(a) for a in arrays]}.")
    if validation_data is not None and not overrides(model, "test_step"):
        raise TypeError(f"{type(model).__name__} has a train_step but no test_step: define test_step(self, data) "
                        "(returning a dict of logs, as train_step does) to validate, or leave validation_data out.")
    steps = -(-n // batch_size)
    history = History()
    cbs = CallbackList([*as_callback_list(callbacks), history], model=model,
                       params={"epochs": epochs, "steps": steps, "verbose": verbose})
    model.history, model.stop_training = history, False
    cbs.on_train_begin()
    for epoch in range(epochs):
        cbs.on_epoch_begin(epoch)
        if verbose:
            print(f"Epoch {epoch + 1}/{epochs}", flush=True)
        bar = Progbar(steps, verbose=verbose)
        order = mrandom.generator().permutation(n) if shuffle else np.arange(n)
        logs = _run(model, "train_step", x, y, sample_weight, order, batch_size, cbs, bar)
        if validation_data is not None:
            val = list(validation_data) if isinstance(validation_data, tuple) else [validation_data]
            val_logs = _run(model, "test_step", *(val + [None] * (3 - len(val))), None, batch_size, None, None)
            logs.update({"val_" + k: v for k, v in val_logs.items()})
        logs = cbs.on_epoch_end(epoch, logs)
        if verbose:
            bar.update(steps, sorted(logs.items()), finalize=True)
        if model.stop_training:
            break
    cbs.on_train_end()
    return history


def _run(model, step_name, x, y, weight, order, batch_size, cbs, bar):
    """One pass of ``step_name`` over the batches; the last batch's logs as floats."""
    for metric in getattr(model, "metrics", None) or []:
        metric.reset_state()
    n = len(_arrays(x, "x")[0])
    order = np.arange(n) if order is None else order
    logs = {}
    for step, start in enumerate(range(0, n, batch_size)):
        rows = order[start:start + batch_size]
        data = [_take(x, rows)] + ([_take(y, rows)] if y is not None else []) + \
            ([_take(weight, rows)] if weight is not None else [])
        if cbs is not None:
            cbs.on_train_batch_begin(step)
        returned = getattr(model, step_name)(data[0] if len(data) == 1 else tuple(data))
        if not isinstance(returned, dict):
            raise ValueError(f"{type(model).__name__}.{step_name} must return a dict of logs, e.g. "
                             f"{{'loss': self.loss_tracker.result()}}; got {type(returned).__name__}.")
        logs = {k: float(np.asarray(v)) for k, v in returned.items()}
        if cbs is not None:
            cbs.on_train_batch_end(step, logs)
        if bar is not None and bar.due():
            bar.update(step + 1, sorted(logs.items()), finalize=False)
    return logs


def _arrays(data, what):
    if data is None:
        return []
    items = list(data) if isinstance(data, (list, tuple)) else [data]
    for a in items:
        if not hasattr(a, "shape"):
            raise TypeError(f"fit with a custom train_step takes arrays (or lists of them) as {what}, got "
                            f"{type(a).__name__}.")
    return [checks.as_array(a, what) for a in items]


def _take(data, rows):
    if isinstance(data, (list, tuple)):
        return [np.asarray(a)[rows] for a in data]
    return np.asarray(data)[rows]
