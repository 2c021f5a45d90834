"""LambdaCallback: a callback made of functions, one per hook, as Keras's."""
from minicnn.callbacks.base import Callback

HOOKS = sorted(name for name in vars(Callback) if name.startswith("on_"))


class LambdaCallback(Callback):
    """Call the given functions at the hooks they are named after.

    ``on_epoch_begin``/``on_epoch_end`` get ``(epoch, logs)``, ``on_batch_begin``/``on_batch_end``
    (Keras 2's names, called at every training batch) and Keras 3's ``on_train_batch_begin``/
    ``on_train_batch_end`` get ``(batch, logs)``, ``on_train_begin``/``on_train_end`` get ``(logs,)``;
    any other hook of :class:`Callback` may be given by keyword, as Keras 3 allows::

        LambdaCallback(on_epoch_end=lambda epoch, logs: print(epoch, logs["loss"]))

    Raises:
        TypeError: for a name that is not a hook, or a value that is not callable.
    """

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_batch_begin=None, on_batch_end=None,
                 on_train_begin=None, on_train_end=None, **kwargs):
        given = dict(on_epoch_begin=on_epoch_begin, on_epoch_end=on_epoch_end, on_batch_begin=on_batch_begin,
                     on_batch_end=on_batch_end, on_train_begin=on_train_begin, on_train_end=on_train_end, **kwargs)
        given = {name: fn for name, fn in given.items() if fn is not None}
        for name, fn in given.items():
            if name not in HOOKS:
                raise TypeError(f"LambdaCallback: {name!r} is not a callback hook; the hooks are {HOOKS}.")
            if not callable(fn):
                raise TypeError(f"LambdaCallback: {name} must be a function, got {fn!r}.")
            setattr(self, name, fn)  # the instance's function replaces the class's no-op
        # The loop computes a batch's logs only for callbacks that read them.
        self.uses_batch_logs = bool({"on_batch_end", "on_train_batch_end"} & set(given))
