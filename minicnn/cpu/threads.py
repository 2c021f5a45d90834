"""Both CPU cores for the NumPy path: batch chunks on worker threads, BLAS one thread each.

Half of a NumPy CNN's time is elementwise and copy work that NumPy runs on one core. NumPy
releases the GIL inside ufuncs, copies and BLAS calls, so Python threads that each take
whole chunks of the batch (patch copy, matrix product, bias, ReLU) keep every core busy,
provided BLAS itself runs one thread per call while they do (else the threads oversubscribe
the cores and wait on each other at every small product).

The number of workers is ``MINICNN_NUM_THREADS`` (default: the number of cores); 1 turns
threading off. Only the CPU-tuned steps (minicnn.cpu) use this module.
"""
import contextlib
import itertools
import threading
from concurrent.futures import ThreadPoolExecutor

from minicnn.cpu.allocator import tune_malloc
from minicnn.distributed import threads_per_rank

_state = {"pool": None, "threads": None, "blas": None, "users": 0}
_lock = threading.Lock()
_local = threading.local()


def default_num_threads():
    """``MINICNN_NUM_THREADS``, else the cores this process may run on (shared among the ranks on
    this machine under MPI: :func:`minicnn.distributed.threads_per_rank`)."""
    return threads_per_rank()


def num_threads():
    """Worker threads for batch chunks (see :func:`default_num_threads`, :func:`set_num_threads`)."""
    if _state["threads"] is None:
        _state["threads"] = default_num_threads()
    return _state["threads"]


def set_num_threads(n):
    """Use ``n`` worker threads from now on (1: no threading)."""
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"num_threads must be a positive integer, got {n!r}.")
    with _lock:
        if _state["pool"] is not None:
            _state["pool"].shutdown()
        _state["pool"], _state["threads"] = None, n


def _pool():
    with _lock:
        if _state["pool"] is None:
            _state["pool"] = ThreadPoolExecutor(num_threads() - 1, thread_name_prefix="minicnn")
        return _state["pool"]


def _blas_controller():
    if _state["blas"] is None:
        try:
            from threadpoolctl import ThreadpoolController
            _state["blas"] = ThreadpoolController()
        except ImportError:  # without threadpoolctl, chunks run on one thread (see run_chunks)
            _state["blas"] = False
    return _state["blas"]


def in_worker():
    """True inside a chunk worker (nested parallel calls then run inline)."""
    return getattr(_local, "worker", False)


@contextlib.contextmanager
def cpu_threads():
    """The context of a whole CPU step: BLAS at one thread per call while our workers spread the
    batch over the cores (idle OpenBLAS threads spin and would steal them). Re-entrant and shared
    by calling threads: the first in limits BLAS, the last out restores it. Tunes malloc once."""
    tune_malloc()
    controller = _blas_controller() if num_threads() > 1 else False
    if not controller:
        yield
        return
    with _lock:
        if _state["users"] == 0:
            _state["limit"] = controller.limit(limits=1, user_api="blas")
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                _state.pop("limit").restore_original_limits()


def run_chunks(fn, N, step):
    """Call ``fn(lo, hi, t)`` for every chunk [lo, hi) of ``range(N)`` (at most ``step`` long) on the
    workers, ``t`` the worker (the caller is 0, so each worker can own scratch ``t``); returns the
    results in chunk order, so sums over them do not depend on the threads. Workers take the next
    chunk as they finish one: a core the host takes away for a while leaves no share waiting.
    """
    chunks = chunk_bounds(N, step)
    T = min(num_threads(), len(chunks))
    if T == 1 or in_worker():
        return [fn(lo, hi, 0) for lo, hi in chunks]
    results = [None] * len(chunks)
    # next() on an itertools.count is atomic under the GIL: each chunk index is handed out once.
    ticket = itertools.count()

    def work(t):
        _local.worker = True
        try:
            for i in ticket:
                if i >= len(chunks):
                    break
                results[i] = fn(*chunks[i], t)
        finally:
            _local.worker = False

    with cpu_threads():
        futures = [_pool().submit(work, t) for t in range(1, T)]
        work(0)
        for f in futures:
            f.result()
    return results


def chunk_bounds(N, step):
    """[(lo, hi), ...] covering range(N) in chunks of at most ``step``, sizes within one, an even
    number of them (two workers get equal shares); never dependent on the number of threads."""
    if N <= 0:
        return []
    n = -(-N // step)
    if n > 1 and n % 2:
        n = min(n + 1, N)
    return [(N * i // n, N * (i + 1) // n) for i in range(n)]


def sum_in_order(arrays):
    """a0 + a1 + ... left to right into a copy of a0: the same bits whatever the threads."""
    total = arrays[0].copy()
    for a in arrays[1:]:
        total += a
    return total


def split(N, parts=None):
    """A chunk size that splits N samples into ``parts`` (default: the worker count) near-equal chunks."""
    return max(1, -(-N // (parts or num_threads())))
