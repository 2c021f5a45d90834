"""ModelCheckpoint: save the model or its weights every epoch, every N batches, or on improvement."""
import operator
import os
import warnings

from minicnn.callbacks.logs import MetricDict, get_log
from minicnn.callbacks.monitor import _MonitorCallback
from minicnn.saving import check_file_name
from minicnn.utils.progbar import print_message


class ModelCheckpoint(_MonitorCallback):
    """Save the model (or only its weights) after every epoch, or every ``save_freq`` batches.

    ``filepath`` may hold ``{epoch}`` (1-based), ``{batch}`` (1-based, with an integer
    ``save_freq``) and any log name, e.g. ``'w.{epoch:02d}-{val_loss:.2f}.npz'``; missing folders
    are created. With ``save_best_only`` it saves only when ``monitor`` improves (if ``monitor``
    is missing, it warns and saves). ``initial_value_threshold`` is the best value to beat first.

    With ``verbose=1`` it prints one line per epoch, as Keras does:
    ``Epoch 3: val_loss improved from 0.12000 to 0.11000, saving model to w.npz``.

    Raises:
        ValueError: for a ``save_freq`` other than ``'epoch'`` or a positive integer.
        ImportError: for a ``.h5``/``.hdf5``/``.keras`` filepath (Keras's formats) where h5py is missing.
        KeyError: when ``filepath`` names a value the logs lack.
    """

    def __init__(self, filepath, monitor="val_loss", verbose=0, save_best_only=False,
                 save_weights_only=False, mode="auto", save_freq="epoch", initial_value_threshold=None):
        super().__init__(monitor, mode, initial_value_threshold)
        if save_freq != "epoch" and (isinstance(save_freq, bool) or not isinstance(save_freq, int)
                                     or save_freq < 1):
            raise ValueError(f"Unrecognized save_freq: {save_freq!r}. Expected save_freq are 'epoch' "
                             "or a positive integer (a number of batches).")
        self.filepath = os.fspath(filepath)
        check_file_name(self.filepath, "ModelCheckpoint")
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.save_weights_only = save_weights_only
        self.save_freq = save_freq
        self.uses_batch_logs = save_freq != "epoch"
        self._batches_since_save = 0
        self._last_batch = None
        self._epoch = 0

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if self.save_freq == "epoch":
            return
        # A batch index not above the last one means a new epoch started.
        seen = batch + 1 if self._last_batch is None or batch <= self._last_batch else batch - self._last_batch
        self._last_batch = batch
        self._batches_since_save += seen
        if self._batches_since_save >= self.save_freq:
            self._batches_since_save = 0
            self._save(self._epoch, batch, logs)

    def on_epoch_end(self, epoch, logs=None):
        if self.save_freq == "epoch":
            self._save(epoch, None, logs)

    def _save(self, epoch, batch, logs):
        logs = logs or {}
        path = self._file_path(epoch, batch, logs)
        if not self._should_save(epoch, logs, path):
            return
        folder = os.path.dirname(path)
        if folder:
            os.makedirs(folder, exist_ok=True)
        if os.path.isdir(path):
            raise IOError("Please specify a non-directory filepath for ModelCheckpoint. "
                          f"Filepath used is an existing directory: {path}")
        if self.save_weights_only:
            self.model.save_weights(path)
        else:
            self.model.save(path)

    def _should_save(self, epoch, logs, path):
        if not self.save_best_only:
            if self.verbose > 0:
                print_message(f"Epoch {epoch + 1}: saving model to {path}")
            return True
        if self.monitor_op is None:
            self._set_monitor_op()
        current = get_log(logs, self.monitor)
        if current is None:
            warnings.warn(f"Can save best model only with {self.monitor} available.", stacklevel=4)
            return True
        # Before the first value, Keras shows the best so far as inf (or -inf when maximising).
        best = self.best if self.best is not None else float("inf" if self.monitor_op is operator.lt else "-inf")
        if self._is_improvement(current, self.best):
            if self.verbose > 0:
                print_message(f"Epoch {epoch + 1}: {self.monitor} improved from {best:.5f} to {current:.5f}, "
                              f"saving model to {path}")
            self.best = current
            return True
        if self.verbose > 0:
            print_message(f"Epoch {epoch + 1}: {self.monitor} did not improve from {best:.5f}")
        return False

    def _file_path(self, epoch, batch, logs):
        values = MetricDict(logs)
        values["epoch"] = epoch + 1
        if batch is not None and "batch" not in logs:
            values["batch"] = batch + 1
        try:
            return self.filepath.format_map(values)
        except KeyError as e:
            raise KeyError(f'Failed to format this callback filepath: "{self.filepath}". Reason: {e} '
                           f"is not among the logs {sorted(logs)} (nor 'epoch'/'batch').") from None
