"""Batches of images from arrays, in Keras 2's order: ``Iterator`` and ``NumpyArrayIterator``.

An iterator is both a :class:`minicnn.utils.Sequence` (``len(it)`` batches, ``it[i]``,
``on_epoch_end`` reshuffles) and an endless Python iterator (``next(it)`` runs through the data,
reshuffles after each pass and starts again), as Keras 2's are; ``fit`` reads it either way.
"""
import threading
import warnings

import numpy as np

from minicnn import random as mrandom
from minicnn.backend import get_array_module, image_data_format, to_numpy
from minicnn.utils.data_utils import Sequence


def _take(a, index):
    """``a[index]`` with a host index array, on the array's own device."""
    xp = get_array_module(a)
    return a[index] if xp is np else a[xp.asarray(index)]


class Iterator(Sequence):
    """Keras 2's base of the batch iterators: index order, shuffling, and both ways of reading.

    Subclasses implement ``_get_batches_of_transformed_samples(index_array)``.

    Args:
        n: the number of samples; batch_size: samples per batch (the last batch may be smaller).
        shuffle: a new random order at each pass. seed: seeds the order and the transforms; None
            takes one draw from minicnn's generator (so ``minicnn.utils.set_random_seed`` repeats it).

    Raises:
        ValueError: if ``batch_size`` is not a positive integer.
    """

    def __init__(self, n, batch_size, shuffle, seed):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}.")
        self.n, self.batch_size, self.shuffle, self.seed = n, int(batch_size), shuffle, seed
        self.batch_index = 0
        self.total_batches_seen = 0
        self.lock = threading.Lock()
        self.index_array = None
        # The iterator's own generator: a prefetching thread then never races the training
        # thread for minicnn's (dropout draws from it), and the same seed gives the same batches.
        self._rng = np.random.default_rng(seed if seed is not None else int(mrandom.generator().integers(2**63)))
        self.index_generator = self._flow_index()

    def _set_index_array(self):
        self.index_array = self._rng.permutation(self.n) if self.shuffle else np.arange(self.n)

    def __len__(self):
        """Batches per pass: ``ceil(n / batch_size)``."""
        return (self.n + self.batch_size - 1) // self.batch_size

    def __getitem__(self, idx):
        """Batch ``idx`` of the current order (reshuffled by :meth:`on_epoch_end`).

        Raises:
            ValueError: if ``idx`` is not in ``[0, len(self))``.
        """
        if not 0 <= idx < len(self):
            raise ValueError(f"Asked for batch {idx}, but this iterator has {len(self)} batches (0 to {len(self) - 1}).")
        with self.lock:
            if self.index_array is None:
                self._set_index_array()
            index_array = self.index_array[self.batch_size * idx:self.batch_size * (idx + 1)]
            self.total_batches_seen += 1
        return self._get_batches_of_transformed_samples(index_array)

    def on_epoch_end(self):
        """Draw a new order (when shuffling) for the next pass of ``it[i]``."""
        with self.lock:
            self._set_index_array()

    def reset(self):
        """Make ``next`` start a new pass."""
        self.batch_index = 0

    def _flow_index(self):
        """Endless index arrays: pass after pass, reshuffled at the start of each."""
        self.reset()
        while True:
            if self.batch_index == 0:
                self._set_index_array()
            start = (self.batch_index * self.batch_size) % self.n if self.n else 0
            self.batch_index = self.batch_index + 1 if self.n > start + self.batch_size else 0
            self.total_batches_seen += 1
            yield self.index_array[start:start + self.batch_size]

    def __iter__(self):
        return self

    def __next__(self):
        with self.lock:
            index_array = next(self.index_generator)
        # The transform runs outside the lock, so two threads may build batches at once.
        return self._get_batches_of_transformed_samples(index_array)

    def next(self):
        """Keras 2's spelling of ``next(iterator)``."""
        return self.__next__()

    def _get_batches_of_transformed_samples(self, index_array):
        raise NotImplementedError(f"{type(self).__name__} must implement "
                                  "_get_batches_of_transformed_samples(index_array).")


def _split(x, y, sample_weight, validation_split, subset, ignore_class_split):
    """The samples of one subset: 'validation' is the first ``int(N * validation_split)``."""
    if subset not in ("training", "validation"):
        raise ValueError(f"subset must be 'training' or 'validation', got {subset!r}.")
    if not validation_split:
        raise ValueError(f"flow(subset={subset!r}) needs a validation split: create the generator with "
                         "ImageDataGenerator(validation_split=0.2, ...), or leave subset=None.")
    cut = int(len(x) * validation_split)
    if y is not None and not ignore_class_split:
        y_host = to_numpy(y)
        if not np.array_equal(np.unique(y_host[:cut]), np.unique(y_host[cut:])):
            raise ValueError("The training and validation subsets hold different classes after the split "
                             f"at sample {cut}: if your arrays are sorted by label, shuffle them first, "
                             "or pass flow(..., ignore_class_split=True).")
    part = slice(None, cut) if subset == "validation" else slice(cut, None)
    return (x[part], None if y is None else y[part], None if sample_weight is None else sample_weight[part])


class NumpyArrayIterator(Iterator):
    """Batches ``(x, y)`` (or ``x``, or ``(x, y, sample_weight)``) of augmented images from arrays.

    Made by :meth:`ImageDataGenerator.flow`. The images stay as given (uint8 stays uint8, a CuPy
    array stays on the GPU); each batch is gathered, converted to ``dtype``, transformed and
    standardized at once. Labels and weights are returned as given, indexed alike.

    Raises:
        TypeError: if ``x`` is a tuple or list (Keras's extra inputs are not supported).
        ValueError: for ``x`` not 4-D, lengths that differ, an empty subset, ``save_to_dir``, or a
            bad ``subset`` (see :meth:`ImageDataGenerator.flow`).
    """

    def __init__(self, x, y, image_data_generator, batch_size=32, shuffle=False, sample_weight=None,
                 seed=None, data_format=None, save_to_dir=None, save_prefix="", save_format="png",
                 subset=None, ignore_class_split=False, dtype=None):
        if isinstance(x, (tuple, list)):
            raise TypeError("flow: x must be one array of images (N, H, W, C); minicnn's flow does not take "
                            "Keras's (images, [other inputs]) tuples.")
        if save_to_dir is not None:
            raise ValueError("flow: save_to_dir is not supported (writing image files needs PIL); leave it None.")
        x = x if hasattr(x, "ndim") else np.asarray(x)
        if x.ndim != 4:
            hint = " For grey images (N, H, W), pass x[..., None]." if x.ndim == 3 else ""
            raise ValueError(f"flow: x must be a 4-D array of images (N, H, W, C) for channels_last or "
                             f"(N, C, H, W) for channels_first; got shape {tuple(x.shape)}.{hint}")
        if y is not None:
            y = y if hasattr(y, "ndim") else np.asarray(y)
        for name, a in (("y", y), ("sample_weight", sample_weight)):
            if a is not None and len(a) != len(x):
                raise ValueError(f"flow: x and {name} must have the same length; got {len(x)} images "
                                 f"and {len(a)} entries in {name}.")
        if subset is not None:
            x, y, sample_weight = _split(x, y, sample_weight, image_data_generator._validation_split,
                                         subset, ignore_class_split)
        if len(x) == 0:
            raise ValueError(f"flow: no images to draw batches from (subset={subset!r} of "
                             f"validation_split={image_data_generator._validation_split}); give more images.")
        self.data_format = data_format or image_data_format()
        channels = x.shape[3 if self.data_format == "channels_last" else 1]
        if channels not in (1, 3, 4):
            warnings.warn(f"flow: x has shape {tuple(x.shape)}, so {channels} channels for data_format="
                          f"{self.data_format!r}; images usually have 1, 3 or 4. Check the data format.")
        self.x, self.y, self.sample_weight = x, y, sample_weight
        self.image_data_generator = image_data_generator
        self.dtype = dtype or image_data_generator.dtype
        super().__init__(len(x), batch_size, shuffle, seed)

    def _get_batches_of_transformed_samples(self, index_array):
        generator = self.image_data_generator
        with self.lock:
            params = generator._draw(self._rng, len(index_array), self.x.shape[1:])
        xp = get_array_module(self.x)
        batch = xp.asarray(_take(self.x, index_array), dtype=self.dtype)
        batch = generator.standardize(generator._transform(batch, params))
        if self.y is None:
            return batch
        out = (batch, _take(self.y, index_array))
        return out if self.sample_weight is None else out + (_take(self.sample_weight, index_array),)
