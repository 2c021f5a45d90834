"""Data-parallel training across processes over MPI (mpi4py), and across GPUs over NCCL (CuPy).

A script launched by ``mpiexec -n N python script.py`` trains data-parallel with no change: every
rank holds the whole model, computes its slice of each global batch, and the gradients are summed
across ranks before every update (see :mod:`minicnn.training`). Without mpiexec (or with
``MINICNN_DISTRIBUTED=0``) nothing here imports mpi4py and :func:`size` is 1.

The launch is read from the environment the MPI launcher sets (MPICH's ``PMI_RANK``/``PMI_SIZE``,
Open MPI's ``OMPI_COMM_WORLD_*``), so the rank is known before MPI starts: ranks other than 0
silence their standard output at import (``MINICNN_QUIET_RANKS=0`` keeps it), so an unchanged
script prints its summary, progress and results once. An uncaught exception (or Ctrl-C) on any
rank aborts the whole job (``MPI_Abort``) instead of leaving the others waiting.
"""
import os
import sys

import numpy as np

from minicnn import backend
from minicnn.backend import get_array_module, is_cupy_array
from minicnn.backend import to_numpy as backend_to_numpy

_RANK_VARS = ("PMI_RANK", "OMPI_COMM_WORLD_RANK", "PMIX_RANK")
_SIZE_VARS = ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE")
_LOCAL_RANK_VARS = ("MPI_LOCALRANKID", "OMPI_COMM_WORLD_LOCAL_RANK")
_LOCAL_SIZE_VARS = ("MPI_LOCALNRANKS", "OMPI_COMM_WORLD_LOCAL_SIZE")
_state = {"comm": None, "nccl": None}


def _env_int(names, default):
    for name in names:
        if os.environ.get(name, "").strip().isdigit():
            return int(os.environ[name])
    return default


def read_launch():
    """What the MPI launcher's environment says of this process: size, rank, local rank and size."""
    if os.environ.get("MINICNN_DISTRIBUTED", "1") == "0" or _env_int(_SIZE_VARS, 1) < 2:
        return {"size": 1, "rank": 0, "local_rank": 0, "local_size": 1}
    rank_ = _env_int(_RANK_VARS, 0)
    return {"size": _env_int(_SIZE_VARS, 1), "rank": rank_, "local_rank": _env_int(_LOCAL_RANK_VARS, rank_),
            "local_size": _env_int(_LOCAL_SIZE_VARS, _env_int(_SIZE_VARS, 1))}


_launch = read_launch()  # read once, at import: a process's place in the job never changes


def launched():
    """Whether this process was started by an MPI launcher with more than one rank (and not opted out)."""
    return _launch["size"] > 1


def size():
    """The number of ranks (processes) training together; 1 when not launched under MPI."""
    return _launch["size"]


def rank():
    """This process's rank, 0 to size() - 1."""
    return _launch["rank"]


def local_rank():
    """This process's rank among those on its machine (its GPU, on the cupy backend)."""
    return _launch["local_rank"]


def local_size():
    """The number of ranks on this machine."""
    return _launch["local_size"]


def threads_per_rank():
    """Worker (and BLAS) threads for this process: ``MINICNN_NUM_THREADS``, else this machine's cores
    shared among its ranks (at least one), so ``mpiexec -n 2`` on 2 cores does not oversubscribe."""
    env = os.environ.get("MINICNN_NUM_THREADS")
    try:
        if env:
            return max(1, int(env))
    except ValueError:
        raise ValueError(f"MINICNN_NUM_THREADS must be a positive integer, got {env!r}.") from None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, cores // local_size())


def is_main():
    """True on rank 0, the one that prints and writes files."""
    return rank() == 0


def comm():
    """The MPI communicator of all ranks (mpi4py's COMM_WORLD), started at the first call."""
    if _state["comm"] is None:
        try:
            from mpi4py import MPI
        except ImportError:
            raise RuntimeError(
                "This process was started by mpiexec, but mpi4py is missing: pip install 'minicnn[mpi]' "
                "(or set MINICNN_DISTRIBUTED=0 to train each process on its own).") from None
        _state["comm"] = MPI.COMM_WORLD
    return _state["comm"]


def barrier():
    """Wait until every rank gets here (nothing to do for a single process)."""
    if size() > 1:
        comm().Barrier()


def allreduce(array, op="mean"):
    """The element-wise sum (``op="sum"``) or mean (``"mean"``) of ``array`` over all ranks, as a new
    array of the same shape and dtype on every rank. NumPy arrays go over MPI, CuPy arrays over NCCL.

    Raises:
        ValueError: for another ``op``. TypeError: for data that is not numbers (a string...).
    """
    if op not in ("sum", "mean"):
        raise ValueError(f"allreduce op must be 'sum' or 'mean', got {op!r}.")
    xp = get_array_module(array)
    out = xp.array(array, copy=True, order="C")
    if out.dtype.kind not in "biufc":
        raise TypeError(f"allreduce sums numbers, but got {type(array).__name__} data of dtype {out.dtype}: "
                        "pass a numeric array or a number.")
    if size() > 1:
        allreduce_sum_(out)
        if op == "mean":
            out /= size()
    return out


def allreduce_sum_(buf):
    """Sum the C-contiguous array ``buf`` over all ranks, in place (one MPI/NCCL call)."""
    if size() == 1:
        return buf
    if is_cupy_array(buf):
        nccl_communicator().allreduce_sum_(buf)
    else:
        from mpi4py import MPI
        comm().Allreduce(MPI.IN_PLACE, buf, op=MPI.SUM)
    return buf


def broadcast(array, root=0):
    """``array`` as it is on rank ``root``, on every rank: filled in place where it is a C-contiguous
    array (returned too), else a new array. Scalars and other Python objects are broadcast as objects.

    Raises:
        ValueError: for a ``root`` that is not a rank of this job (0 to size() - 1), on every rank:
            a wrong root would leave the ranks waiting on each other.
    """
    if isinstance(root, bool) or not isinstance(root, (int, np.integer)) or not 0 <= root < size():
        raise ValueError(f"broadcast: root={root!r} is not a rank of this job, whose ranks are 0 to {size() - 1} "
                         f"(size() = {size()}); pass the rank that holds the data, e.g. root=0.")
    if size() == 1:
        return array
    if is_cupy_array(array):
        host = broadcast(get_array_module(array).asnumpy(array), root)
        array[...] = get_array_module(array).asarray(host)
        return array
    if isinstance(array, np.ndarray) and array.flags.c_contiguous and array.size:
        comm().Bcast(array, root=root)
        return array
    return comm().bcast(array, root=root)


def sum_values(*values):
    """Python numbers (host scalars) summed over all ranks, in one call: metric sums and counts."""
    if size() == 1:
        return [float(v) for v in values]
    buf = np.array([float(v) for v in values], dtype=np.float64)
    return [float(v) for v in allreduce_sum_(buf)]


def total(value):
    """``value`` (a number or an array) summed over all ranks: synchronized BatchNormalization's sums."""
    if isinstance(value, (int, float, np.number)):
        return type(value)(sum_values(value)[0])
    return allreduce(value, op="sum")


def shard(n):
    """``(first, count)``: this rank's contiguous share of n samples, as even as the ranks allow."""
    if size() == 1:
        return 0, n
    bounds = [n * r // size() for r in range(size() + 1)]
    return bounds[rank()], bounds[rank() + 1] - bounds[rank()]


def sync_model(model):
    """Give every rank rank 0's weights (moving statistics included) and optimizer state."""
    if size() == 1:
        return
    for w in model.weights:
        broadcast(w)
    if getattr(model, "optimizer", None) is not None:
        state = model.optimizer.get_state()
        state = [broadcast(np.array(backend_to_numpy(s), order="C")) for s in state]
        if len(state) > 1:
            model.optimizer.set_state(state)
        else:  # no slots yet: the step count alone
            model.optimizer.iterations = int(state[0])


def sum_gradients(grads, buffers):
    """The gradients summed over all ranks in one all-reduce of a flat buffer (kept in ``buffers``
    from step to step); returns views of it, shaped as ``grads``."""
    xp = get_array_module(grads[0])
    total = sum(g.size for g in grads)
    key = (xp.__name__, np.dtype(grads[0].dtype).name, total)
    flat = buffers.get(key)
    if flat is None:
        flat = buffers[key] = xp.empty(total, dtype=grads[0].dtype)
    views, at = [], 0
    for g in grads:
        view = flat[at:at + g.size]
        view[...] = g.reshape(-1)
        views.append(view.reshape(g.shape))
        at += g.size
    allreduce_sum_(flat)
    return views


def average_moving_statistics(model):
    """At an epoch's end: each BatchNormalization's moving mean and variance averaged over the
    ranks (their local batches gave each rank its own), so all ranks keep the same model."""
    if size() == 1:
        return
    for layer in model._leaf_layers():
        for stat in getattr(layer, "moving_statistics", lambda: [])():
            stat[...] = allreduce(stat, op="mean")


class NcclAllreduce:
    """Sums CuPy arrays across the ranks' GPUs with NCCL (``cupy.cuda.nccl``); MPI hands out the id.

    ``communicator`` may be given (tests pass a stand-in that records its calls)."""

    def __init__(self, communicator=None):
        if communicator is None:
            from cupy.cuda import nccl
            uid = comm().bcast(nccl.get_unique_id() if is_main() else None, root=0)
            communicator = nccl.NcclCommunicator(size(), uid, rank())
        self.communicator = communicator

    def allreduce_sum_(self, buf):
        from minicnn.backend import _import_cupy
        cupy = _import_cupy()
        dtype = {np.dtype(np.float32): 7, np.dtype(np.float64): 8}.get(np.dtype(buf.dtype))  # ncclFloat32/64
        if dtype is None or not buf.flags.c_contiguous:
            raise ValueError(f"NCCL all-reduce takes C-contiguous float32/float64 arrays, got {buf.dtype}.")
        stream = cupy.cuda.get_current_stream()
        self.communicator.allReduce(buf.data.ptr, buf.data.ptr, buf.size, dtype, 0, stream.ptr)  # 0: ncclSum


def nccl_communicator():
    """The NCCL all-reduce of this job's GPUs, made at the first call (each rank on GPU local_rank)."""
    if _state["nccl"] is None:
        _state["nccl"] = NcclAllreduce()
    return _state["nccl"]


def use_local_gpu(cupy):
    """Make GPU ``local_rank() % device count`` current (so ranks on one machine share its GPUs);
    called whenever the cupy backend is chosen under MPI."""
    cupy.cuda.Device(local_rank() % cupy.cuda.runtime.getDeviceCount()).use()


def _abort_on_error(kind, value, tb):
    """sys.excepthook under MPI: show the error, then end every rank (a rank left waiting hangs)."""
    sys.__excepthook__(kind, value, tb)
    sys.stderr.flush()
    comm().Abort(130 if issubclass(kind, KeyboardInterrupt) else 1)


def _init():
    """At import under mpiexec: quiet the other ranks' stdout and make any rank's error end the job."""
    if not launched():
        return
    sys.excepthook = _abort_on_error
    backend.ON_CUPY.append(use_local_gpu)
    if backend.get_backend() == "cupy":  # MINICNN_BACKEND=cupy chose it before this module loaded
        use_local_gpu(backend._import_cupy())
    from threadpoolctl import threadpool_limits
    threadpool_limits(threads_per_rank(), user_api="blas")  # BLAS too, beside the worker threads
    if rank() != 0 and os.environ.get("MINICNN_QUIET_RANKS", "1") != "0":
        sys.stdout = open(os.devnull, "w")  # noqa: SIM115 (kept for the life of the process)


_init()
