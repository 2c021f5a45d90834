"""Sequence and PyDataset: the base classes of batch data sets, Keras 2's and Keras 3's names."""
import numpy as np
import pytest

import minicnn.utils
from minicnn.utils import PyDataset, Sequence


class Squares(Sequence):
    def __init__(self, n, batch_size):
        self.x, self.batch_size, self.epochs_ended = np.arange(n) ** 2, batch_size, 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        return self.x[i * self.batch_size:(i + 1) * self.batch_size]

    def on_epoch_end(self):
        self.epochs_ended += 1


def test_iterating_a_sequence_yields_each_batch_once_in_order():
    seq = Squares(7, 3)
    batches = list(seq)
    assert [b.tolist() for b in batches] == [[0, 1, 4], [9, 16, 25], [36]]
    assert list(seq)[2].tolist() == [36]  # a second pass starts again
    seq.on_epoch_end()
    assert seq.epochs_ended == 1


def test_unimplemented_methods_name_what_to_write():
    class Empty(Sequence):
        pass
    with pytest.raises(NotImplementedError, match=r"Empty must implement __len__\(\)"):
        len(Empty())
    with pytest.raises(NotImplementedError, match=r"Empty must implement __getitem__\(index\)"):
        Empty()[0]
    Empty().on_epoch_end()  # the default does nothing


def test_pydataset_is_a_sequence_with_keras3_arguments():
    class Batches(PyDataset):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)

        def __len__(self):
            return 2

        def __getitem__(self, i):
            return np.full(2, i), np.full(2, -i)

    data = Batches(workers=4, use_multiprocessing=True, max_queue_size=3)
    assert isinstance(data, Sequence)
    assert (data.workers, data.use_multiprocessing, data.max_queue_size, data.num_batches) == (4, True, 3, 2)
    assert [y.tolist() for _, y in data] == [[0, 0], [-1, -1]]
    data.on_epoch_begin()
    data.on_epoch_end()

    class NoSuper(PyDataset):  # forgot super().__init__(): Keras 3's defaults still answer
        pass
    assert (NoSuper().workers, NoSuper().use_multiprocessing, NoSuper().max_queue_size) == (1, False, 10)


def test_exported_from_utils():
    assert "Sequence" in minicnn.utils.__all__ and "PyDataset" in minicnn.utils.__all__
    from minicnn.utils.data_utils import PyDataset as P, Sequence as S
    assert (P, S) == (PyDataset, Sequence)
