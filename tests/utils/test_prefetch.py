"""Prefetcher: the same items in the same order as the source, produced ahead on one thread;
the source's exceptions reach the consumer; stopping early never hangs."""
import threading
import time

import numpy as np
import pytest

from minicnn.utils.prefetch import Prefetcher

TIMEOUT = 10  # seconds: a hang fails the test instead of blocking the run


def run_with_timeout(fn):
    """Run fn on a thread; fail if it has not returned after TIMEOUT seconds."""
    result, error = [], []
    thread = threading.Thread(target=lambda: _capture(fn, result, error), daemon=True)
    thread.start()
    thread.join(TIMEOUT)
    assert not thread.is_alive(), f"still running after {TIMEOUT} s: a hang"
    if error:
        raise error[0]
    return result[0]


def _capture(fn, result, error):
    try:
        result.append(fn())
    except BaseException as e:  # handed to the test thread
        error.append(e)


def batches(seed, n=7):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        yield rng.standard_normal((4, 3)), rng.integers(0, 10, 4)


def test_same_batches_in_the_same_order_as_the_source():
    direct = list(batches(0))
    fetched = run_with_timeout(lambda: list(Prefetcher(batches(0), queue_size=2)))
    assert len(fetched) == len(direct)
    for (x, y), (fx, fy) in zip(direct, fetched):
        np.testing.assert_array_equal(fx, x)
        np.testing.assert_array_equal(fy, y)


def test_steps_takes_that_many_items_of_an_endless_source():
    def endless():
        i = 0
        while True:
            yield i
            i += 1
    assert run_with_timeout(lambda: list(Prefetcher(endless(), steps=5))) == [0, 1, 2, 3, 4]
    assert run_with_timeout(lambda: list(Prefetcher(range(3), steps=10))) == [0, 1, 2]
    assert run_with_timeout(lambda: list(Prefetcher([], steps=None))) == []


def test_the_worker_runs_ahead_of_the_consumer():
    produced = []

    def source():
        for i in range(10):
            produced.append(i)
            yield i
    with Prefetcher(source(), queue_size=3) as p:
        assert next(p) == 0
        deadline = time.monotonic() + TIMEOUT
        # While the consumer does nothing, the worker fills the queue (3) and holds one more.
        while len(produced) < 5 and time.monotonic() < deadline:
            time.sleep(0.005)
        time.sleep(0.05)
        assert len(produced) == 5


def test_an_exception_in_the_source_is_raised_in_the_consumer_at_its_place():
    def failing():
        yield 1
        yield 2
        raise KeyError("bad batch 3")

    def consume():
        got = []
        p = Prefetcher(failing())
        with pytest.raises(KeyError, match="bad batch 3") as info:
            for item in p:
                got.append(item)
        assert "failing" in "".join(str(f.name) for f in info.traceback)  # the source's frame is kept
        with pytest.raises(StopIteration):
            next(p)
        return got
    assert run_with_timeout(consume) == [1, 2]


@pytest.mark.parametrize("how", ["close", "with", "drop"])
def test_stopping_early_ends_the_worker(how):
    def endless():
        while True:
            yield np.zeros(1000)

    def consume():
        p = Prefetcher(endless(), queue_size=2)
        thread = p._thread
        if how == "with":
            with p:
                next(p)
        else:
            next(p)
            if how == "close":
                p.close()
                with pytest.raises(StopIteration):
                    next(p)
            else:
                del p
        thread.join(TIMEOUT)
        return thread.is_alive()
    assert run_with_timeout(consume) is False


def test_close_waits_for_a_slow_item_then_returns():
    def slow():
        yield 0
        time.sleep(0.2)
        yield 1
    p = Prefetcher(slow(), queue_size=1)
    assert next(p) == 0
    run_with_timeout(p.close)
    assert not p._thread.is_alive()


@pytest.mark.parametrize("kwargs, match", [({"steps": -1}, "steps"), ({"steps": 1.5}, "steps"),
                                           ({"queue_size": 0}, "queue_size")])
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        Prefetcher([1, 2], **kwargs)
    with pytest.raises(TypeError):
        Prefetcher(5)
