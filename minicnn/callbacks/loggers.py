"""Callbacks that record the epoch logs: History in memory, CSVLogger in a file."""
import csv
import os

import numpy as np

from minicnn import distributed
from minicnn.callbacks.base import Callback
from minicnn.callbacks.logs import MetricDict, get_log


class History(Callback):
    """Records the epoch logs: ``history`` maps each name to its list of per-epoch values.

    ``history`` is a :class:`MetricDict`: ``history['acc']`` and ``history['accuracy']`` both
    answer, whichever name the model was compiled with. ``epoch`` lists the epochs run (0-based).
    """

    def __init__(self):
        self.history = MetricDict()
        self.epoch = []

    def on_train_begin(self, logs=None):
        self.epoch = []

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            dict.setdefault(self.history, key, []).append(value)
        if self.model is not None:
            self.model.history = self


class CSVLogger(Callback):
    """Write one CSV row per epoch: ``epoch`` (0-based) then the logs, columns sorted by name.

    The columns are fixed at the first epoch; without validation, ``val_`` columns are added
    anyway and hold ``NA`` (as Keras 3). Rows end in ``\\r\\n`` (the csv module's Excel dialect).
    ``append=True`` appends, writing the header only to an empty or missing file.
    """

    def __init__(self, filename, separator=",", append=False):
        self.filename = os.fspath(filename)
        self.sep = separator
        self.append = append
        self.keys = self.writer = self.csv_file = None

    def on_train_begin(self, logs=None):
        self.append_header = True
        if self.append and os.path.exists(self.filename):
            with open(self.filename) as f:
                self.append_header = not f.readline()
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        # Under MPI rank 0 alone writes the log (every rank sees the same, all-reduced logs).
        self.csv_file = open(self.filename, "a" if self.append else "w", newline="") if distributed.is_main() else None
        self.keys = self.writer = None

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            if self.keys and not any(k.startswith("val_") for k in self.keys):
                self.keys += [f"val_{k}" for k in self.keys]
        if self.csv_file is None:
            distributed.barrier()
            return
        if self.writer is None:
            dialect = type("Dialect", (csv.excel,), {"delimiter": self.sep})
            self.writer = csv.DictWriter(self.csv_file, fieldnames=["epoch"] + self.keys, dialect=dialect)
            if self.append_header:
                self.writer.writeheader()
        row = {"epoch": epoch}
        row.update((k, _csv_value(get_log(logs, k, "NA"))) for k in self.keys)
        self.writer.writerow(row)
        self.csv_file.flush()
        distributed.barrier()

    def on_train_end(self, logs=None):
        if self.csv_file is not None and not self.csv_file.closed:
            self.csv_file.close()
        self.writer = None


def _csv_value(value):
    """A scalar as is; an array or list as ``[a, b, ...]``."""
    if isinstance(value, str) or np.ndim(value) == 0:
        return value
    return f"[{', '.join(map(str, np.ravel(value)))}]"
