"""Callbacks: hooks the training loop calls at the start and end of training, epochs and batches.

The model calls a :class:`CallbackList` (``on_train_begin``, ``on_epoch_begin``,
``on_train_batch_begin/end``, ``on_epoch_end``, ``on_train_end``, and the test/predict hooks);
the list hands every callback the same logs dict: Python floats, keys sorted, as Keras 3 does.
``epoch`` and ``batch`` are 0-based; messages print epochs 1-based, as Keras does.

A callback may use ``self.model`` (``stop_training``, ``optimizer.learning_rate``,
``get_weights()``/``set_weights()``, ``save(path)``, ``save_weights(path)``) and ``self.params``
(``{"epochs", "steps", "verbose"}``).

Tutorials compile with ``metrics=['accuracy']`` and read ``history.history['acc']``, or the
reverse: :func:`get_log` and :class:`MetricDict` answer either spelling (``val_`` too), and every
monitoring callback looks its metric up through them.
"""
from minicnn.callbacks.backup import BackupAndRestore
from minicnn.callbacks.base import Callback
from minicnn.callbacks.callback_list import CallbackList
from minicnn.callbacks.checkpoint import ModelCheckpoint
from minicnn.callbacks.lambda_callback import LambdaCallback
from minicnn.callbacks.learning_rate import LearningRateScheduler, ReduceLROnPlateau
from minicnn.callbacks.loggers import CSVLogger, History
from minicnn.callbacks.logs import MetricDict, get_log, metric_alias
from minicnn.callbacks.monitor import metric_direction
from minicnn.callbacks.stopping import EarlyStopping, TerminateOnNaN
from minicnn.callbacks.tensorboard import TensorBoard

__all__ = ["BackupAndRestore", "CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LambdaCallback",
           "LearningRateScheduler", "MetricDict", "ModelCheckpoint", "ReduceLROnPlateau", "TensorBoard",
           "TerminateOnNaN", "get_log", "metric_alias", "metric_direction"]
