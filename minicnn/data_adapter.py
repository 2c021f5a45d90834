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
from minicnn.data_checks import warn
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


def check_steps(steps, what):
    """``steps`` (None, or a number of batches) as an int or None; ValueError unless positive."""
    if steps is not None and (isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1):
        raise ValueError(f"{what} must be a positive integer (a number of batches) or None, got {steps!r}.")
    return None if steps is None else int(steps)


class ArrayBatches:
    """Batches of arrays: ``x`` and ``y`` are lists (an array per input and per output, None for an
    output without targets); ``steps`` (steps_per_epoch, named ``what`` in errors) may cut an epoch
    short. ``local``: the arrays are this rank's share already (validation), not to be split again.

    Raises:
        ValueError: for ``steps`` that is not a positive integer.
    """

    class_weight = None  # folded into ``weight`` already

    def __init__(self, x, y, weight, batch_size, shuffle, steps=None, local=False, what="steps"):
        self.x, self.y, self.weight, self.batch_size, self.shuffle = x, y, weight, batch_size, shuffle
        self.local = local
        batches = -(-x[0].shape[0] // batch_size)
        steps = check_steps(steps, what)
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
    """Batches read from a generator, an iterator or a Sequence, on a worker thread.

    A Sequence is indexed afresh each epoch (wrapping round past its end); a generator is read on,
    and one that runs out before ``steps`` batches ends the epoch there with Keras's warning.

    Raises:
        ValueError: for a Sequence of length 0, a generator without ``steps`` (named ``what``), or
            ``steps`` that is not a positive integer.
    """

    def __init__(self, source, steps, what="steps_per_epoch", class_weight=None):
        if isinstance(source, Sequence) or not hasattr(source, "__next__"):
            if len(source) == 0:
                raise ValueError(f"The Sequence {type(source).__name__} has length 0 (its __len__ returned 0), so it "
                                 "has no batches: __len__ must return the number of batches in an epoch, e.g. "
                                 "math.ceil(len(self.x) / self.batch_size).")
            steps = len(source) if steps is None else steps
        elif steps is None:
            raise ValueError(f"A generator or iterator never says when an epoch ends: pass {what}=..., the number "
                             "of batches to draw per epoch (e.g. len(x_train) // batch_size).")
        self.source, self.steps, self.class_weight = source, check_steps(steps, what), class_weight
        self.what = what

    def epoch(self):
        seq = source = self.source
        if hasattr(seq, "on_epoch_begin"):  # PyDataset's hook
            seq.on_epoch_begin()
        if not hasattr(seq, "__next__"):  # a Sequence: batch i, wrapping round past its end
            source = (seq[i % len(seq)] for i in range(self.steps))
        count = 0
        with Prefetcher(source, steps=self.steps) as batches:
            for item in batches:
                x, y, weight = unpack(item)
                count += 1
                yield Batch(x, y, weight, 1 / distributed.size(), _length(x), False)
        if count < self.steps:  # (not reached when the consumer stops early: the generator is closed)
            self._ran_out(count)
        if hasattr(self.source, "on_epoch_end"):
            self.source.on_epoch_end()

    def _ran_out(self, count):
        """A generator gave ``count`` < steps batches: warn (training) or refuse (nothing to evaluate)."""
        name = type(self.source).__name__
        need = f"`{self.what}`" if self.what == "steps" else f"`{self.what} * epochs`"
        fix = (f"Make sure that your dataset or generator can generate at least {need} batches: "
               "loop over the data (`while True:` in a generator), or pass a minicnn.utils.Sequence, which is "
               "read afresh each epoch.")
        if self.what != "steps_per_epoch":
            if count == 0:
                raise ValueError(f"The {name} passed as data gave no batch ({self.what}={self.steps}): it has run "
                                 f"out (a generator runs once). {fix}")
            warn(f"Your input ran out of data: the {name} gave {count} of {self.what}={self.steps} batches, and the "
                 f"results cover those {count}. {fix}")
        elif count == 0:
            warn(f"Your input ran out of data; interrupting training. The {name} gave no batch for this epoch (it "
                 f"ran out in an earlier one), so training stops here. {fix}")
        else:
            warn(f"Your input ran out of data; interrupting training. The {name} gave {count} batches in this epoch, "
                 f"fewer than steps_per_epoch={self.steps}, so the epoch ends after those {count}. {fix}")


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
