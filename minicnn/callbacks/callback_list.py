"""CallbackList: what the model calls; it hands each hook on to every callback with the same logs."""
from minicnn.callbacks.base import Callback
from minicnn.callbacks.loggers import History
from minicnn.callbacks.logs import _pythonify


def as_callback_list(callbacks):
    """fit's ``callbacks`` as a list: None, one callback (Keras accepts one, flattening what it is
    given), or a list or tuple of them, nested ones flattened.

    Raises:
        TypeError: for anything that is not a Callback (naming it).
    """
    if callbacks is None:
        return []
    items = callbacks if isinstance(callbacks, (list, tuple)) else [callbacks]
    flat = []
    for cb in items:
        if isinstance(cb, (list, tuple)):
            flat.extend(as_callback_list(cb))
        elif isinstance(cb, Callback):
            flat.append(cb)
        else:
            raise TypeError(f"callbacks must be Callback instances (a list of them, or one), got {cb!r} "
                            f"({type(cb).__name__}); subclass minicnn.callbacks.Callback.")
    return flat


def _uses_batch_logs(callback):
    """Whether a callback reads the logs of training batches (so they are worth computing)."""
    flag = getattr(callback, "uses_batch_logs", None)
    if flag is not None:
        return bool(flag)
    cls = type(callback)
    return (cls.on_train_batch_end is not Callback.on_train_batch_end
            or cls.on_batch_end is not Callback.on_batch_end)


class CallbackList(Callback):
    """Calls each hook on every callback in order, with the logs made Python floats, sorted.

    Each hook returns the logs dict the callbacks saw, including what they added to it
    (``learning_rate`` from the learning-rate callbacks), for the progress bar to show.

    Args:
        callbacks: a list of Callback instances, or one (:func:`as_callback_list`).
        model: set on every callback (and ``model.history`` set to the list's History, if any).
        params: dict ``{"epochs", "steps", "verbose"}`` set on every callback.
    """

    def __init__(self, callbacks=None, model=None, params=None):
        self.callbacks = as_callback_list(callbacks)
        if params is not None:
            self.set_params(params)
        if model is not None:
            self.set_model(model)

    def append(self, callback):
        self.callbacks.append(callback)

    def set_params(self, params):
        self.params = params
        for cb in self.callbacks:
            cb.set_params(params)

    def set_model(self, model):
        self.model = model
        for cb in self.callbacks:
            cb.set_model(model)
            if isinstance(cb, History):
                model.history = cb

    def wants_batch_logs(self):
        """True if some callback reads training-batch logs; otherwise the loop may skip them."""
        return any(_uses_batch_logs(cb) for cb in self.callbacks)

    def _call(self, hook, *args, logs=None):
        logs = _pythonify(logs)
        for cb in self.callbacks:
            getattr(cb, hook)(*args, logs)
        return logs

    def on_train_begin(self, logs=None): return self._call("on_train_begin", logs=logs)
    def on_train_end(self, logs=None): return self._call("on_train_end", logs=logs)
    def on_epoch_begin(self, epoch, logs=None): return self._call("on_epoch_begin", epoch, logs=logs)
    def on_epoch_end(self, epoch, logs=None): return self._call("on_epoch_end", epoch, logs=logs)
    def on_batch_begin(self, batch, logs=None): return self._call("on_batch_begin", batch, logs=logs)
    def on_batch_end(self, batch, logs=None): return self._call("on_batch_end", batch, logs=logs)
    def on_train_batch_begin(self, batch, logs=None): return self._call("on_train_batch_begin", batch, logs=logs)
    def on_train_batch_end(self, batch, logs=None): return self._call("on_train_batch_end", batch, logs=logs)
    def on_test_begin(self, logs=None): return self._call("on_test_begin", logs=logs)
    def on_test_end(self, logs=None): return self._call("on_test_end", logs=logs)
    def on_test_batch_begin(self, batch, logs=None): return self._call("on_test_batch_begin", batch, logs=logs)
    def on_test_batch_end(self, batch, logs=None): return self._call("on_test_batch_end", batch, logs=logs)
    def on_predict_begin(self, logs=None): return self._call("on_predict_begin", logs=logs)
    def on_predict_end(self, logs=None): return self._call("on_predict_end", logs=logs)
    def on_predict_batch_begin(self, batch, logs=None): return self._call("on_predict_batch_begin", batch, logs=logs)
    def on_predict_batch_end(self, batch, logs=None): return self._call("on_predict_batch_end", batch, logs=logs)
