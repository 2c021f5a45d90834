"""What fit, evaluate and predict take, turned into batches: NumPy/CuPy arrays, or a generator, an
iterator or a ``minicnn.utils.Sequence``/``PyDataset`` of ``(x, y)`` or ``(x, y, sample_weight)``.

Each adapter yields one epoch's batches as ``Batch`` tuples. Arrays are shuffled once per epoch
(the same draw on every MPI rank) and each rank takes its part of every global batch; a generator
or a Sequence is read on a worker thread ahead of the training step (:class:`Prefetcher`), and
under MPI each rank reads its own.
"""
from typing import NamedTuple

import numpy as np

from minicnn import distributed
from minicnn import random as mrandom
from minicnn.backend import is_cupy_array
from minicnn.utils.data_utils import Sequence
from minicnn.utils.prefetch import Prefetcher


class Batch(NamedTuple):
    x: object           # this rank's inputs: a list of arrays (a generator's batch: as it gave it)
    y: object           # targets: a list (None where an output has none), or None (predict)
    weight: object      # per-sample weights (n,), or None
    share: float        # this rank's share of the global batch (its gradient's weight)
    size: int           # samples in this rank's part
    checked: bool       # whether fit has checked x and y already (arrays) or must (generators)


def is_source(data):
    """Whether ``data`` is a generator, an iterator or a Sequence rather than arrays (one, or a list
    or dict of them for a model with several inputs)."""
    if data is None or isinstance(data, (np.ndarray, list, tuple, dict)) or is_cupy_array(data):
        return False
    return isinstance(data, Sequence) or hasattr(data, "__next__") or (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and not hasattr(data, "shape"))


class ArrayBatches:
    """Batches of arrays: ``x`` and ``y`` are lists (an array per input and per output, None for an
    output without targets); ``steps`` (steps_per_epoch) may cut an epoch short. ``local``: the
    arrays are this rank's share already (validation), not to be split again."""

    class_weight = None  # folded into ``weight`` already

    def __init__(self, x, y, weight, batch_size, shuffle, steps=None, local=False):
        self.x, self.y, self.weight, self.batch_size, self.shuffle = x, y, weight, batch_size, shuffle
        self.local = local
        batches = -(-x[0].shape[0] // batch_size)
        self.steps = batches if steps is None else min(steps, batches)

    def epoch(self):
        N, B = self.x[0].shape[0], self.batch_size
        order = mrandom.generator().permutation(N) if self.shuffle else None
        for step in range(self.steps):
            lo, hi = step * B, min(N, (step + 1) * B)
            # This rank's part of the global batch (all of it when local); unshuffled, a slice (a view,
            # no copy); shuffled, sorted indexes, which gather rows in memory order.
            first, n = (0, hi - lo) if self.local else distributed.shard(hi - lo)
            idx = np.sort(order[lo:hi])[first:first + n] if self.shuffle else slice(lo + first, lo + first + n)
            yield Batch([a[idx] for a in self.x], None if self.y is None else [None if a is None else a[idx] for a in self.y],
                        None if self.weight is None else self.weight[idx], n / (hi - lo), n, True)


class SourceBatches:
    """Batches read from a generator, an iterator or a Sequence, on a worker thread."""

    def __init__(self, source, steps, what="steps_per_epoch", class_weight=None):
        if isinstance(source, Sequence) or not hasattr(source, "__next__"):
            steps = len(source) if steps is None else steps
        elif steps is None:
            raise ValueError(f"A generator or iterator never says when an epoch ends: pass {what}=..., the number "
                             "of batches to draw per epoch (e.g. len(x_train) // batch_size).")
        if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
            raise ValueError(f"{what} must be a positive integer, got {steps!r}.")
        self.source, self.steps, self.class_weight = source, int(steps), class_weight

    def epoch(self):
        seq = source = self.source
        if hasattr(seq, "on_epoch_begin"):  # PyDataset's hook
            seq.on_epoch_begin()
        if not hasattr(seq, "__next__"):  # a Sequence: batch i, wrapping round past its end
            source = (seq[i % len(seq)] for i in range(self.steps))
        with Prefetcher(source, steps=self.steps) as batches:
            for item in batches:
                x, y, weight = unpack(item)
                yield Batch(x, y, weight, 1 / distributed.size(), _length(x), False)
        if hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()


def _length(x):
    """The number of samples of a generator's x: an array, a list or a dict of arrays."""
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, (list, tuple)) else x
    return len(first)


def unpack(item):
    """``x``, ``(x,)``, ``(x, y)`` or ``(x, y, sample_weight)`` -> (x, y, sample_weight)."""
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 3:
        return tuple(item) + (None,) * (3 - len(item))
    if isinstance(item, (tuple, list)):
        raise ValueError(f"A batch must be x, (x, y) or (x, y, sample_weight); got a {type(item).__name__} "
                         f"of {len(item)} items.")
    return item, None, None
