"""Callbacks that set the optimizer's learning rate: on a schedule, or down on a plateau."""
import inspect
import numbers

import numpy as np

from minicnn.callbacks.base import Callback
from minicnn.callbacks.monitor import _MonitorCallback
from minicnn.utils.progbar import print_message


class LearningRateScheduler(Callback):
    """Set the optimizer's learning rate before each epoch to ``schedule(epoch, lr)``
    (or ``schedule(epoch)`` for a one-argument schedule; ``epoch`` is 0-based).

    Adds ``learning_rate`` to the epoch logs. verbose=1 prints the rate set.

    Raises:
        ValueError: if the schedule returns something other than a number.
    """

    def __init__(self, schedule, verbose=0):
        self.schedule = schedule
        self.verbose = verbose
        self._two_args = _accepts_two_args(schedule)

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model.optimizer
        if self._two_args is None:  # signature unknown: try the new form, fall back as Keras does
            try:
                lr = self.schedule(epoch, float(optimizer.learning_rate))
            except TypeError:
                lr = self.schedule(epoch)
        elif self._two_args:
            lr = self.schedule(epoch, float(optimizer.learning_rate))
        else:
            lr = self.schedule(epoch)
        if isinstance(lr, bool) or not isinstance(lr, numbers.Real):
            raise ValueError(f"The output of the `schedule` function should be a float. Got: {lr!r}")
        optimizer.learning_rate = float(lr)
        if self.verbose > 0:
            print_message(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = float(self.model.optimizer.learning_rate)


def _accepts_two_args(fn):
    """True/False if ``fn`` can/cannot take (epoch, lr) positionally; None if unknowable."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return True
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params) >= 2


class ReduceLROnPlateau(_MonitorCallback):
    """Multiply the learning rate by ``factor`` when ``monitor`` has not improved by more than
    ``min_delta`` for ``patience`` epochs, then wait ``cooldown`` epochs before counting again;
    never below ``min_lr``. Adds ``learning_rate`` to the epoch logs (the rate before any
    reduction, as Keras 3). verbose=1 prints each reduction.

    Raises:
        ValueError: for ``factor >= 1``.
    """

    def __init__(self, monitor="val_loss", factor=0.1, patience=10, verbose=0, mode="auto",
                 min_delta=1e-4, cooldown=0, min_lr=0.0):
        super().__init__(monitor, mode, min_delta=min_delta)
        if factor >= 1.0:
            raise ValueError(f"ReduceLROnPlateau does not support a factor >= 1.0. Received factor={factor}")
        self.factor = factor
        self.patience = patience
        self.verbose = verbose
        self.cooldown = cooldown
        self.min_lr = min_lr
        self.wait = self.cooldown_counter = 0

    def on_train_begin(self, logs=None):
        self.best = None
        self.wait = self.cooldown_counter = 0

    def in_cooldown(self):
        return self.cooldown_counter > 0

    def on_epoch_end(self, epoch, logs=None):
        if self.monitor_op is None:
            self._set_monitor_op()
        logs = {} if logs is None else logs
        optimizer = self.model.optimizer
        logs["learning_rate"] = float(optimizer.learning_rate)
        current = self._monitor_value(logs, "Learning rate reduction is conditioned on metric", ".")
        if current is None:
            return
        if self.in_cooldown():
            self.cooldown_counter -= 1
            self.wait = 0
        if self._is_improvement(current, self.best):
            self.best = current
            self.wait = 0
        elif not self.in_cooldown():
            self.wait += 1
            old_lr = float(optimizer.learning_rate)
            # Compared in float32, as Keras stores the rate, so that min_lr is reached exactly once.
            if self.wait >= self.patience and np.float32(old_lr) > np.float32(self.min_lr):
                new_lr = max(old_lr * self.factor, self.min_lr)
                optimizer.learning_rate = new_lr
                if self.verbose > 0:
                    print_message(f"Epoch {epoch + 1}: ReduceLROnPlateau reducing learning rate to {new_lr}.")
                self.cooldown_counter = self.cooldown
                self.wait = 0
