"""The NCCL path of minicnn.distributed on the fake CuPy, with a stand-in communicator checked call
by call: one in-place all-reduce of all gradients per step, with CuPy's pointers, count, dtype,
op and stream; and each MPI rank on its own GPU."""
import ctypes

import numpy as np
import pytest

from minicnn import Sequential, backend, distributed
from minicnn.backend import to_numpy
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.optimizers import SGD
from minicnn.utils import set_random_seed


class StandInNccl:
    """Records every allReduce and plays the other rank, which adds ``other`` to the buffer."""

    def __init__(self, other):
        self.calls, self.other = [], other

    def allReduce(self, sendbuf, recvbuf, count, datatype, op, stream):  # noqa: N802 (NCCL's name)
        self.calls.append((sendbuf, recvbuf, count, datatype, op, stream))
        ctype = {7: ctypes.c_float, 8: ctypes.c_double}[datatype]
        np.ctypeslib.as_array((ctype * count).from_address(recvbuf))[...] += self.other(count)


@pytest.fixture
def two_ranks(monkeypatch):
    """This process as rank 0 of 2 (local rank 1 of 2 on its machine), without starting MPI."""
    for name, value in {"PMI_SIZE": "2", "PMI_RANK": "0", "MPI_LOCALRANKID": "1", "MPI_LOCALNRANKS": "2"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("MINICNN_DISTRIBUTED", raising=False)
    monkeypatch.setattr(distributed, "_launch", distributed.read_launch())
    monkeypatch.setitem(distributed._state, "nccl", None)
    yield
    distributed._state["nccl"] = None


def test_allreduce_goes_through_nccl_in_place(fake_cupy, two_ranks):
    nccl = StandInNccl(lambda n: np.arange(n, dtype=np.float32))
    distributed._state["nccl"] = distributed.NcclAllreduce(nccl)
    buf = fake_cupy.asarray(np.ones(5, np.float32))
    assert distributed.allreduce_sum_(buf) is buf
    np.testing.assert_array_equal(to_numpy(buf), 1 + np.arange(5))
    assert nccl.calls == [(buf.data.ptr, buf.data.ptr, 5, 7, 0, 0)]  # in place, float32, sum, stream 0
    mean = distributed.allreduce(fake_cupy.asarray(np.full(3, 4.0)), op="mean")  # float64 through NCCL too
    np.testing.assert_array_equal(to_numpy(mean), [2.0, 2.5, 3.0])
    assert nccl.calls[1][2:5] == (3, 8, 0)
    with pytest.raises(ValueError, match="float32/float64"):
        distributed.allreduce_sum_(fake_cupy.asarray(np.ones(2, np.int32)))


def model():
    set_random_seed(1)
    m = Sequential([Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1)), MaxPooling2D(), Flatten(),
                    Dense(4, activation="softmax")])
    return m


def test_a_training_step_all_reduces_its_gradients_once(fake_cupy, two_ranks, monkeypatch):
    # The other rank contributes zero gradients (as one whose batch was empty): the update is then
    # half the single process's, as SGD at half the learning rate gives on the CPU.
    nccl = StandInNccl(lambda n: np.zeros(n, np.float32))
    distributed._state["nccl"] = distributed.NcclAllreduce(nccl)
    rng = np.random.default_rng(2)
    x, y = rng.random((8, 6, 6, 1), dtype=np.float32), np.eye(4, dtype=np.float32)[rng.integers(0, 4, 8)]
    with monkeypatch.context() as single:  # the reference: one process on the CPU
        single.setattr(distributed, "_launch", {"size": 1, "rank": 0, "local_rank": 0, "local_size": 1})
        backend.set_backend("numpy")
        cpu = model()
        cpu.compile(SGD(0.05), "categorical_crossentropy")
        cpu.train_on_batch(x, y)
    backend.set_backend("cupy")
    gpu = model()
    gpu.compile(SGD(0.1), "categorical_crossentropy")
    gpu.train_on_batch(x, y)
    n_params = sum(w.size for w in gpu.trainable_weights)
    assert [(count, dtype, op) for _, _, count, dtype, op, _ in nccl.calls] == [(n_params, 7, 0)]
    for a, b in zip(gpu.get_weights(), cpu.get_weights()):
        np.testing.assert_allclose(a, b, rtol=2e-5, atol=1e-6)


def test_each_rank_uses_its_local_gpu(fake_cupy, two_ranks, monkeypatch):
    monkeypatch.setattr(fake_cupy.cuda.runtime, "getDeviceCount", lambda: 2)
    monkeypatch.setattr(backend, "ON_CUPY", [distributed.use_local_gpu])
    backend.set_backend("cupy")
    assert fake_cupy.devices_used == [1]  # local rank 1 of 2, two GPUs
    monkeypatch.setattr(fake_cupy.cuda.runtime, "getDeviceCount", lambda: 1)
    distributed.use_local_gpu(fake_cupy)
    assert fake_cupy.devices_used == [1, 0]  # more ranks than GPUs: they share, modulo the count
