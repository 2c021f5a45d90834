"""Data sets that ``fit`` reads one batch at a time: Keras 2's ``Sequence``, Keras 3's ``PyDataset``.

    class Batches(Sequence):
        def __init__(self, x, y, batch_size):
            self.x, self.y, self.batch_size = x, y, batch_size

        def __len__(self):                      # batches per epoch
            return -(-len(self.x) // self.batch_size)

        def __getitem__(self, i):               # batch i: (x, y) or (x, y, sample_weight)
            s = slice(i * self.batch_size, (i + 1) * self.batch_size)
            return self.x[s], self.y[s]
"""


class Sequence:
    """Keras 2's base class of a data set read by batch index.

    Subclasses implement ``__getitem__(index)``, returning batch ``index`` as ``x``, ``(x, y)`` or
    ``(x, y, sample_weight)``, and ``__len__()``, the number of batches in an epoch. ``fit``
    reads the batches ``0 .. len - 1`` in order each epoch, then calls :meth:`on_epoch_end`
    (the place to reshuffle). Iterating a Sequence yields its batches once, in order.
    """

    def __getitem__(self, index):
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__(index), "
                                  "returning batch `index` as (x, y).")

    def __len__(self):
        raise NotImplementedError(f"{type(self).__name__} must implement __len__(), "
                                  "returning the number of batches in an epoch.")

    def on_epoch_end(self):
        """Called by ``fit`` after each epoch; does nothing unless overridden."""

    def __iter__(self):
        for index in range(len(self)):
            yield self[index]


class PyDataset(Sequence):
    """Keras 3's name for :class:`Sequence`, with its constructor arguments.

    Subclasses call ``super().__init__(**kwargs)``. ``workers``, ``use_multiprocessing`` and
    ``max_queue_size`` are kept (as read-only properties, as in Keras 3) but do not change how
    minicnn reads batches: one worker thread prepares the next batches ahead of training.

    Args:
        workers: Keras 3's number of workers (default 1). use_multiprocessing: default False.
        max_queue_size: default 10.
    """

    def __init__(self, workers=1, use_multiprocessing=False, max_queue_size=10):
        self._workers, self._use_multiprocessing, self._max_queue_size = workers, use_multiprocessing, max_queue_size

    @property
    def workers(self):
        return getattr(self, "_workers", 1)

    @property
    def use_multiprocessing(self):
        return getattr(self, "_use_multiprocessing", False)

    @property
    def max_queue_size(self):
        return getattr(self, "_max_queue_size", 10)

    @property
    def num_batches(self):
        """Keras 3's spelling of ``len(dataset)``."""
        return len(self)

    def on_epoch_begin(self):
        """Called by ``fit`` before each epoch (Keras 3); does nothing unless overridden."""
