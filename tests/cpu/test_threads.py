"""Worker threads, chunks and scratch buffers: results never depend on the number of threads or on
other calls running at once, BLAS runs one thread per product, each chunk runs once, and scratch
belongs to the calling thread."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from minicnn.cpu import dense, dropout, threads
from minicnn.cpu.workspace import Workspace, workspace
from minicnn.nn import dense as plain_dense
from minicnn.utils import set_random_seed


@pytest.fixture
def n_threads():
    yield threads.set_num_threads
    threads.set_num_threads(threads.default_num_threads())


def blas_threads():
    """The largest thread count of the BLAS libraries loaded, as this thread sees it."""
    from threadpoolctl import ThreadpoolController
    return max(lib.num_threads for lib in ThreadpoolController().select(user_api="blas").lib_controllers)


@pytest.fixture
def blas_set_by_the_main_thread():
    """BLAS's thread count set once from the main thread, as a program does with threadpoolctl (and
    minicnn.distributed under mpiexec): threadpoolctl >= 3.8 then ignores OpenBLAS limits set from
    other threads, unless they take control."""
    threadpoolctl = pytest.importorskip("threadpoolctl")
    threadpoolctl.threadpool_limits(blas_threads(), user_api="blas")
    yield
    clear = getattr(getattr(threadpoolctl, "OpenBLASController", None), "clear_controlling_thread", None)
    if clear is not None:
        clear(force=True)


def alone_and_at_once(call, n_threads):
    """call()'s results: alone with 1, 2 and 3 workers, then from 6 threads at once (2 workers)."""
    results = []
    for n in (1, 2, 3):
        n_threads(n)
        results.append(call())
    n_threads(2)
    with ThreadPoolExecutor(6) as pool:
        results += list(pool.map(lambda _: call(), range(12)))
    return results


@pytest.mark.parametrize("n", [1, 2])
def test_blas_runs_one_thread_per_product_in_every_thread(n, n_threads, blas_set_by_the_main_thread):
    # A BLAS cuts a product among its threads and rounds it by the cut: every chunk must see BLAS
    # at one thread, whichever thread calls and however many workers there are.
    n_threads(n)
    seen = []

    def call():
        seen.extend(threads.run_chunks(lambda lo, hi, t: blas_threads(), 4, 1))
    call()
    other = threading.Thread(target=call)
    other.start()
    other.join()
    assert seen == [1] * 8


def test_dense_products_do_not_depend_on_threads_or_other_calls(n_threads, blas_set_by_the_main_thread):
    # Products large enough to be split over the workers, and for a BLAS to cut among its threads.
    rng = np.random.default_rng(5)
    x, Wk, b = (rng.standard_normal(s, dtype=np.float32) for s in [(96, 1024), (1024, 64), (64,)])
    dy = rng.standard_normal((96, 64), dtype=np.float32)
    assert x.shape[0] * Wk.size > dense.SPLIT_ABOVE

    def call():
        with threads.cpu_threads():
            y, cache = dense.dense_forward(x, Wk, b)
            return (y, *dense.dense_backward(dy, cache))
    first, *others = alone_and_at_once(call, n_threads)
    for other in others:
        for a, b_ in zip(first, other):
            assert np.array_equal(a, b_)


@pytest.mark.parametrize("N, step", [(32, 3), (128, 3), (7, 7), (7, 2), (5, 1), (1, 4), (100, 64)])
def test_chunks_cover_the_range_in_balanced_pieces(N, step):
    chunks = threads.chunk_bounds(N, step)
    assert [lo for lo, _ in chunks] == [0] + [hi for _, hi in chunks[:-1]] and chunks[-1][1] == N
    sizes = [hi - lo for lo, hi in chunks]
    assert max(sizes) <= step and max(sizes) - min(sizes) <= 1
    # An even number of chunks (two workers get equal shares) unless that would need empty ones.
    assert len(chunks) == 1 or len(chunks) % 2 == 0 or len(chunks) == N
    assert threads.chunk_bounds(0, step) == []


def test_run_chunks_calls_every_chunk_once_and_returns_results_in_order(n_threads):
    seen = []
    n_threads(2)
    results = threads.run_chunks(lambda lo, hi, t: seen.append((lo, hi, t)) or (lo, hi), 32, 3)
    assert results == threads.chunk_bounds(32, 3)
    assert sorted((lo, hi) for lo, hi, _ in seen) == results  # each chunk once, whoever ran it
    assert {t for _, _, t in seen} <= {0, 1}


@pytest.mark.parametrize("n", [1, 2])
def test_split_dense_products_match_the_plain_products(n, n_threads, monkeypatch):
    monkeypatch.setattr(dense, "SPLIT_ABOVE", 0)
    n_threads(n)
    rng = np.random.default_rng(2)
    x, Wk, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
    dy = rng.standard_normal((7, 3))
    y, cache = dense.dense_forward(x, Wk, b)
    want_y, want_cache = plain_dense.dense_forward(x, Wk, b)
    np.testing.assert_allclose(y, want_y, rtol=1e-13)
    for got, want in zip(dense.dense_backward(dy, cache), plain_dense.dense_backward(dy, want_cache)):
        np.testing.assert_allclose(got, want, rtol=1e-13)


def test_dropout_masks_do_not_depend_on_the_thread_count(n_threads):
    x = np.random.default_rng(4).standard_normal((64, 40, 40)).astype(np.float32)
    results = []
    for n in (1, 2, 3):
        n_threads(n)
        set_random_seed(11)
        results.append(dropout.dropout_forward(x, 0.3))
    y, mask = results[0]
    for other_y, other_mask in results[1:]:
        assert np.array_equal(y, other_y) and np.array_equal(mask, other_mask)
    # The mask is 0 or 1/(1-rate), drops about 30% (binomial sd 0.0011 here) and y = x * mask.
    assert set(np.unique(mask)) == {np.float32(0), np.float32(1 / 0.7)}
    assert abs((mask == 0).mean() - 0.3) < 0.006
    assert mask.dtype == np.float32 and np.array_equal(y, x * mask)
    assert not np.array_equal(mask[:32], mask[32:])  # the two halves come from different streams


def test_workspace_gives_a_smaller_request_the_same_memory():
    ws = Workspace()
    big = ws.get("cols", (4, 6), np.float32)
    small = ws.get("cols", (3, 5), np.float32)
    assert small.shape == (3, 5) and np.shares_memory(big, small)
    larger = ws.get("cols", (5, 6), np.float32)
    assert larger.shape == (5, 6) and not np.shares_memory(big, larger)
    assert ws.get("cols", (2, 2), np.float64).dtype == np.float64


def test_each_calling_thread_has_its_own_workspace_per_owner():
    class Owner:
        pass
    owner, other = Owner(), Owner()
    mine = workspace(owner)
    assert workspace(owner) is mine and workspace(other) is not mine
    theirs = []
    t = threading.Thread(target=lambda: theirs.append(workspace(owner)))
    t.start()
    t.join()
    assert theirs[0] is not mine
