"""TensorBoard: the logs, the learning rate, weight histograms and the model as TensorBoard event files.

The layout and tags are Keras 3's, so dashboards and scripts made for Keras's logs read these::

    <log_dir>/train/       epoch_loss, epoch_<metric>, epoch_learning_rate     step: the epoch (0-based)
                           batch_<name> (with update_freq "batch" or N)        step: the batch of this fit, from 1
                           <weights path>/histogram (every histogram_freq)     step: the epoch
                           keras: the model's JSON, for the Graphs tab         step: 0
    <log_dir>/validation/  epoch_<name> of the val_ logs, the prefix dropped   step: the epoch
                           evaluation_<name>_vs_iterations                     step: optimizer.iterations

The files are written by the tensorboard package's own ``EventFileWriter`` (the one under PyTorch's
``SummaryWriter``), the summaries built with its scalar and histogram plugins' metadata, in the form
``tf.summary`` gives them: values are tensors (``EventAccumulator.Tensors(tag)`` reads them).
tensorboard is an optional extra (``pip install 'minicnn[tensorboard]'``); nothing imports it
until a TensorBoard callback is made.
"""
import json
import os
import time
import warnings

import numpy as np

from minicnn import backend, distributed
from minicnn.callbacks.base import Callback

INSTALL = "pip install 'minicnn[tensorboard]'"
# tf.keras 2's arguments that it accepted and ignored with a warning; minicnn does the same.
LEGACY_ARGUMENTS = ("batch_size", "write_grads", "embeddings_layer_names", "embeddings_data")
HISTOGRAM_BUCKETS = 30  # tf.summary.histogram's default, which Keras uses
GRAPH_PLUGIN = "graph_keras_model"  # the plugin that draws a model from its JSON (TensorBoard's Graphs tab)
_warned = set()


def _warn_once(key, message):
    if key not in _warned:
        _warned.add(key)
        warnings.warn(message, UserWarning, stacklevel=3)


class _TensorBoardModules:
    """The parts of the tensorboard package the callback writes with (imported on first use).

    Raises:
        ImportError: when tensorboard is not installed, with the pip command that installs it.
    """

    def __init__(self):
        try:
            from tensorboard.compat.proto import event_pb2, summary_pb2
            from tensorboard.plugins.graph import keras_util
            from tensorboard.plugins.histogram import metadata as histogram_metadata
            from tensorboard.plugins.scalar.summary_v2 import scalar_pb
            from tensorboard.summary.writer.event_file_writer import EventFileWriter
            from tensorboard.util import tensor_util
        except ImportError as e:
            raise ImportError(f"minicnn.callbacks.TensorBoard writes its files with the tensorboard package, "
                              f"which could not be imported ({e}). Install it: {INSTALL}") from None
        self.event_pb2, self.summary_pb2, self.keras_util = event_pb2, summary_pb2, keras_util
        self.histogram_metadata, self.scalar_pb, self.tensor_util = histogram_metadata, scalar_pb, tensor_util
        self.EventFileWriter = EventFileWriter


class TensorBoard(Callback):
    """Write the training to TensorBoard event files, as ``keras.callbacks.TensorBoard`` does.

    Run ``tensorboard --logdir <log_dir>`` and open http://localhost:6006 to watch. Under MPI only
    rank 0 writes (the logs are the same, all-reduced, on every rank).

    Args:
        log_dir: str or path, default "logs": the folder of the ``train`` and ``validation`` runs.
        histogram_freq: int >= 0, default 0: every this many epochs (at epochs 0, n, 2n, ...), a
            histogram of every weight (trainable or not), tagged ``<weight path>/histogram``:
            ``<model>/<layer>/<weight>`` in a Sequential, ``<layer>/<weight>`` in a functional
            model, as Keras 3 names them. 0: none.
        write_graph: bool, default True: write the model's configuration (tag ``keras``, step 0) for
            the Graphs tab, in Keras 2's JSON, the form TensorBoard's graph plugin reads (checked with
            that plugin's own converter; a model it cannot read is skipped with a warning, once).
        write_images: bool, default False: Keras draws weights as images; minicnn does not (it
            would need an image encoder) and warns once that it is ignored.
        write_steps_per_second: bool, default False: also ``epoch_steps_per_second`` and, with
            update_freq, ``batch_steps_per_second``.
        update_freq: "epoch" (default), "batch" (= 1) or an int N >= 1: with "batch" or N, the
            training batch logs (running means over the epoch, as the progress bar shows) are
            written as ``batch_<name>`` at batches N, 2N, ... of each fit (counted from 1 across
            its epochs). Epoch summaries are written at every epoch whatever update_freq is (Keras
            3 drops those of epochs whose last batch number is not a multiple of N; tf.keras 2 and
            minicnn do not).
        profile_batch: 0 (default), an int, a pair (start, stop) or "start,stop": checked as
            Keras checks it; minicnn has no profiler, so a profile asked for is skipped with a
            warning, once (Keras's torch backend refuses it).
        embeddings_freq, embeddings_metadata: Keras's embedding projector; minicnn has no
            Embedding layer, so a nonzero embeddings_freq is ignored with a warning, once.
        **kwargs: tf.keras 2's ``batch_size``, ``write_grads``, ``embeddings_layer_names`` and
            ``embeddings_data``, ignored with a warning as tf.keras 2 did.

    Raises:
        ImportError: when the tensorboard package is missing (the message says
            ``pip install 'minicnn[tensorboard]'``).
        TypeError: for an argument Keras's TensorBoard does not take, or a log_dir that is no path.
        ValueError: for a histogram_freq, update_freq or profile_batch out of range.
        OSError: at the first write, when log_dir cannot be written to (naming it).
    """

    def __init__(self, log_dir="logs", histogram_freq=0, write_graph=True, write_images=False,
                 write_steps_per_second=False, update_freq="epoch", profile_batch=0, embeddings_freq=0,
                 embeddings_metadata=None, **kwargs):
        self._tb = _TensorBoardModules()
        unknown = sorted(set(kwargs) - set(LEGACY_ARGUMENTS))
        if unknown:
            raise TypeError(f"TensorBoard got unexpected argument(s) {', '.join(unknown)}. It takes log_dir, "
                            "histogram_freq, write_graph, write_images, write_steps_per_second, update_freq, "
                            "profile_batch, embeddings_freq and embeddings_metadata, as Keras's does.")
        if kwargs:
            _warn_once("legacy", f"TensorBoard ignores {', '.join(sorted(kwargs))}, as tf.keras 2 did "
                                 "(Keras 3 no longer takes them).")
        try:
            self.log_dir = os.fspath(log_dir)
        except TypeError:
            raise TypeError(f"TensorBoard: log_dir must be a folder path (str or os.PathLike), got "
                            f"{log_dir!r} ({type(log_dir).__name__}).") from None
        self.histogram_freq = _check_epochs(histogram_freq, "histogram_freq")
        self.embeddings_freq = _check_epochs(embeddings_freq, "embeddings_freq")
        self.update_freq = _check_update_freq(update_freq)
        self.write_graph, self.write_images = bool(write_graph), bool(write_images)
        self.write_steps_per_second = bool(write_steps_per_second)
        self.profile_batch, self.embeddings_metadata = profile_batch, embeddings_metadata
        if _check_profile_batch(profile_batch) != (0, 0):
            _warn_once("profile", f"TensorBoard: profile_batch={profile_batch!r} asks for a profile, but minicnn "
                                  "has no profiler; it is ignored (the other summaries are written).")
        if self.write_images:
            _warn_once("images", "TensorBoard: write_images=True is ignored: minicnn does not draw weights as "
                                 "images (histogram_freq writes their histograms).")
        if self.embeddings_freq:
            _warn_once("embeddings", "TensorBoard: embeddings_freq is ignored: minicnn has no Embedding layer "
                                     "to project.")
        # The fit loop computes the batch logs (a sum across MPI ranks) only when a callback reads them.
        self.uses_batch_logs = self.update_freq != "epoch"
        self._writers, self._writing, self._batch = {}, False, 0
        self._epoch_start = self._batch_start = None

    # -- the training hooks ---------------------------------------------------------------------

    def on_train_begin(self, logs=None):
        self._close()
        self._writing = distributed.is_main()
        self._batch = 0  # Keras counts the batches of each fit from 1, across its epochs
        if self.write_graph:
            self._write_graph()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = (time.perf_counter(), self._iterations())

    def on_train_batch_begin(self, batch, logs=None):
        self._batch += 1
        self._batch_start = time.perf_counter()

    def on_train_batch_end(self, batch, logs=None):
        if self.update_freq == "epoch" or self._batch % self.update_freq:
            return
        values = dict(logs or {})
        if self.write_steps_per_second:
            values["steps_per_second"] = 1.0 / max(time.perf_counter() - self._batch_start, 1e-9)
        for name, value in values.items():
            self._scalar("train", f"batch_{name}", value, self._batch)

    def on_epoch_end(self, epoch, logs=None):
        if logs:
            train = {k: v for k, v in logs.items() if not k.startswith("val_")}
            val = {k[4:]: v for k, v in logs.items() if k.startswith("val_")}
            lr = current_learning_rate(getattr(self.model, "optimizer", None))
            if lr is not None:
                train["learning_rate"] = lr
            if self.write_steps_per_second and self._epoch_start is not None:
                seconds = max(time.perf_counter() - self._epoch_start[0], 1e-9)
                train["steps_per_second"] = (self._iterations() - self._epoch_start[1]) / seconds
            for name, value in train.items():
                self._scalar("train", f"epoch_{name}", value, epoch)
            for name, value in val.items():  # Keras writes these when fit's validation ends
                self._scalar("validation", f"evaluation_{name}_vs_iterations", value, self._iterations())
                self._scalar("validation", f"epoch_{name}", value, epoch)
        if self.histogram_freq and epoch % self.histogram_freq == 0:
            for path, weight in weight_paths(self.model):
                self._histogram("train", f"{path.replace(':', '_')}/histogram", weight, epoch)
        for writer in self._writers.values():  # so a running TensorBoard shows each epoch as it ends
            writer.flush()

    def on_train_end(self, logs=None):
        self._close()

    # -- writing --------------------------------------------------------------------------------

    def _iterations(self):
        return int(getattr(getattr(self.model, "optimizer", None), "iterations", 0) or 0)

    def _write(self, run, summary, step):
        """Append one Summary to ``run``'s event file, made at its first summary (rank 0 only)."""
        if not self._writing:
            return
        writer = self._writers.get(run)
        if writer is None:
            folder = os.path.join(self.log_dir, run)
            try:
                writer = self._writers[run] = self._tb.EventFileWriter(folder, filename_suffix=".v2")
            except Exception as e:  # tensorboard's gfile raises its own errors for a bad folder
                raise OSError(f"TensorBoard cannot write its event files to {folder!r} ({type(e).__name__}: "
                              f"{e}). Pass a log_dir that is a folder you can write to.") from None
        event = self._tb.event_pb2.Event(wall_time=time.time(), step=int(step), summary=summary)
        writer.add_event(event)

    def _scalar(self, run, tag, value, step):
        if isinstance(value, (str, bytes)) or np.ndim(value) != 0:
            _warn_once(f"scalar:{tag}", f"TensorBoard writes scalars only; the log {tag!r} holds {value!r}, "
                                        "which is not one, and is left out.")
            return
        self._write(run, self._tb.scalar_pb(tag, float(value)), step)

    def _histogram(self, run, tag, weight, step):
        pb = self._tb.summary_pb2
        tensor = self._tb.tensor_util.make_tensor_proto(histogram_buckets(backend.to_numpy(weight)), dtype=np.float64)
        metadata = self._tb.histogram_metadata.create_summary_metadata(display_name=None, description=None)
        self._write(run, pb.Summary(value=[pb.Summary.Value(tag=tag, metadata=metadata, tensor=tensor)]), step)

    def _write_graph(self):
        """The model's JSON under the tag ``keras`` (train run, step 0), as Keras writes it."""
        if not self._writing:
            return
        try:  # the Graphs tab reads Keras 2's JSON (as tf.keras wrote it), with this function
            from minicnn.keras_files.legacy_h5 import model_config_keras2
            text = json.dumps(model_config_keras2(self.model))
            self._tb.keras_util.keras_model_to_graph_def(json.loads(text))
        except Exception as e:
            _warn_once("graph", f"TensorBoard: write_graph skipped: TensorBoard's graph plugin cannot read this "
                                f"model's configuration ({type(e).__name__}: {e}), so the Graphs tab stays empty. "
                                "The scalars and histograms are written.")
            return
        pb = self._tb.summary_pb2
        metadata = pb.SummaryMetadata(plugin_data=pb.SummaryMetadata.PluginData(plugin_name=GRAPH_PLUGIN,
                                                                                content=b"1"))
        tensor = self._tb.tensor_util.make_tensor_proto(text)
        self._write("train", pb.Summary(value=[pb.Summary.Value(tag="keras", metadata=metadata, tensor=tensor)]), 0)

    def _close(self):
        for writer in self._writers.values():
            writer.close()
        self._writers = {}


def current_learning_rate(optimizer):
    """The learning rate the optimizer's next step uses, or None without an optimizer.

    Keras 3 logs ``optimizer.learning_rate``, the current value of a schedule; minicnn's schedule
    is Keras 2's ``decay``, so this is ``learning_rate / (1 + decay * iterations)`` where decay is set.
    """
    if optimizer is None or getattr(optimizer, "learning_rate", None) is None:
        return None
    lr, decay = float(optimizer.learning_rate), float(getattr(optimizer, "decay", 0.0) or 0.0)
    return lr / (1.0 + decay * optimizer.iterations) if decay else lr


def weight_paths(model):
    """``[(path, array)]`` for every weight of ``model`` once, named as Keras 3's ``weight.path``.

    A Sequential's weights are ``<model>/<layer>/<weight>``, a functional model's
    ``<layer>/<weight>`` (Keras names a weight by the scope its layer was built in); a nested
    model's weights follow its own rule.
    """
    from minicnn.functional import Model
    from minicnn.models import Sequential
    prefix = f"{model.name}/" if isinstance(model, Sequential) else ""
    found = {}
    for layer in model.layers:
        pairs = weight_paths(layer) if isinstance(layer, Model) else \
            [(f"{prefix}{layer.name}/{name}", array) for name, array in layer.params.items()]
        for path, array in pairs:
            found.setdefault(id(array), (path, array))  # a shared layer's weights once
    return list(found.values())


def histogram_buckets(values, buckets=HISTOGRAM_BUCKETS):
    """The histogram tensor TensorBoard draws: ``(buckets, 3)`` float64 rows ``[left, right, count]``.

    As ``tf.summary.histogram`` (and tensorboard's ``histogram_pb``) bins: ``buckets`` equal widths
    from the minimum to the maximum, the maximum counted in the last; all values equal: every edge
    at that value and the count in the last bucket; no values: zeros. Non-finite values (a diverged
    weight) are left out. One pass with bincount, where histogram_pb builds an (n, buckets) table.

    Args:
        values: an array of any shape (NumPy).
        buckets: int >= 1, default 30.
    """
    x = np.asarray(values, dtype=np.float64).ravel()
    x = x[np.isfinite(x)]
    out = np.zeros((buckets, 3))
    if x.size == 0:
        return out
    low, high = x.min(), x.max()
    if low == high:
        out[:, :2] = low
        out[-1, 2] = x.size
        return out
    index = np.minimum(np.floor((x - low) / ((high - low) / buckets)).astype(np.int64), buckets - 1)
    edges = np.linspace(low, high, buckets + 1)
    out[:, 0], out[:, 1], out[:, 2] = edges[:-1], edges[1:], np.bincount(index, minlength=buckets)
    return out


def _check_epochs(value, name):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
        raise ValueError(f"TensorBoard: {name} must be an integer >= 0 (a number of epochs; 0 for never), "
                         f"got {value!r}.")
    return int(value)


def _check_update_freq(value):
    if value == "batch":
        return 1
    if value == "epoch":
        return value
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"TensorBoard: update_freq must be 'epoch', 'batch' or an integer >= 1 (write every "
                         f"that many batches), got {value!r}.")
    return int(value)


def _check_profile_batch(value):
    """``(start, stop)`` of Keras's profile_batch: an int >= 0, a pair, or "start,stop"."""
    pair = value
    try:
        if isinstance(value, str):
            pair = [int(part) for part in value.split(",")]
        if isinstance(pair, (int, np.integer)) and not isinstance(pair, bool):
            pair = (pair, pair)
        start, stop = (int(v) for v in pair)
        if isinstance(pair, (list, tuple)) and len(pair) == 2 and 0 <= start <= stop:
            return start, stop
    except (TypeError, ValueError):
        pass
    raise ValueError(f"TensorBoard: profile_batch must be an integer >= 0, or a pair (start, stop) of them with "
                     f"start <= stop (also as the string 'start,stop'), got {value!r}.")
