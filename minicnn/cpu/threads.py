"""Both CPU cores for the NumPy path: batch chunks on worker threads, BLAS one thread each.

Half of a NumPy CNN's time is elementwise and copy work that NumPy runs on one core. NumPy
releases the GIL inside ufuncs, copies and BLAS calls, so Python threads that each take
whole chunks of the batch (patch copy, matrix product, bias, ReLU) keep every core busy,
provided BLAS itself runs one thread per call while they do (else the threads oversubscribe
the cores and wait on each other at every small product).

Results never depend on the number of threads, nor on other calls running at the same time:
every product runs on one BLAS thread (a BLAS cuts a product among its threads, and with the cut
its rounding changes), and the work is cut into chunks by its size alone (which rows a BLAS
kernel tiles together, and the order in which partial sums are added, follow the chunks).

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
        except ImportError:  # without threadpoolctl, BLAS keeps its own thread count
            _state["blas"] = False
    return _state["blas"]


def _change_blas(change):
    """Run ``change`` (a limit, or its restore) so that it takes effect from this thread.

    OpenBLAS's own (pthreads) pool is process-wide, and threadpoolctl >= 3.8 lets only one thread
    (the first to set a limit) change it, silently ignoring the others: a call from any other thread
    would run BLAS on every core, cut each product differently and round it differently. The limit
    here is shared by all calling threads and counted under _lock, so whichever thread changes it
    takes control for the change and gives it back."""
    try:
        from threadpoolctl import OpenBLASController
        clear = OpenBLASController.clear_controlling_thread
    except (ImportError, AttributeError):  # threadpoolctl < 3.8: any thread may change it
        return change()
    clear(force=True)
    try:
        return change()
    finally:
        clear()


def in_worker():
    """True inside a chunk worker (nested parallel calls then run inline)."""
    return getattr(_local, "worker", False)


@contextlib.contextmanager
def cpu_threads():
    """The context of a whole CPU step: BLAS at one thread per call, whatever the number of workers,
    so a product is cut and rounded the same way by any thread count (and idle OpenBLAS threads,
    which spin, steal no core from our workers). Re-entrant and shared by calling threads: the
    first in limits BLAS, the last out restores it. Tunes malloc once."""
    tune_malloc()
    controller = _blas_controller()
    if not controller:
        yield
        return
    with _lock:
        if _state["users"] == 0:
            _state["limit"] = _change_blas(lambda: controller.limit(limits=1, user_api="blas"))
        _state["users"] += 1
    try:
        yield
    finally:
        with _lock:
            _state["users"] -= 1
            if _state["users"] == 0:
                limit = _state.pop("limit")
                _change_blas(limit.restore_original_limits)


def run_chunks(fn, N, step):
    """Call ``fn(lo, hi, t)`` for every chunk [lo, hi) of ``range(N)`` (at most ``step`` long) on the
    workers, ``t`` the worker (the caller is 0, so each worker can own scratch ``t``); returns the
    results in chunk order, so sums over them do not depend on the threads. Workers take the next
    chunk as they finish one: a core the host takes away for a while leaves no share waiting.
    """
    chunks = chunk_bounds(N, step)
    T = min(num_threads(), len(chunks))
    if in_worker():
        return [fn(lo, hi, 0) for lo, hi in chunks]
    if T == 1:
        with cpu_threads():
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


# The fewest chunks a piece of work is cut into: a constant, not the worker count, since the cut
# decides the rounding (see the module docstring). Two keeps two cores busy.
PARTS = 2


def split(N, parts=PARTS):
    """A chunk size that splits N samples into ``parts`` near-equal chunks."""
    return max(1, -(-N // parts))
