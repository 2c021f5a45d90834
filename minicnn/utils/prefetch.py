"""Batches produced on a worker thread ahead of the training step.

    with Prefetcher(iterator, steps=len(iterator)) as batches:
        for x, y in batches:
            train_on(x, y)

While the training step runs, the worker builds the next batches (augmentation is mostly NumPy
copies and arithmetic, which release the GIL), so the two overlap. The batches come in exactly
the order the source yields them; an exception raised by the source is raised in the consumer
at the batch where it happened; closing early (``close``, leaving the ``with``, or dropping the
object) stops the worker after at most the batch it is building.
"""
import queue
import threading

_BATCH, _END, _ERROR = "batch", "end", "error"


def _produce(source, steps, out, stop):
    """The worker: put up to ``steps`` items of ``source`` on ``out``, then an end or error mark.

    It holds no reference to the Prefetcher, so dropping that object lets it be collected and closed.
    """
    try:
        count = 0
        while steps is None or count < steps:
            if stop.is_set():
                return
            try:
                item = next(source)
            except StopIteration:
                break
            out.put((_BATCH, item))
            count += 1
        out.put((_END, None))
    except BaseException as error:  # the consumer re-raises it; the worker must not die silently
        out.put((_ERROR, error))


class Prefetcher:
    """Iterate ``source`` on one worker thread, up to ``queue_size`` items ahead of the consumer.

    Args:
        source: an iterable (a generator, a flow iterator, a list of batches...); ``iter(source)``
            is taken here and then advanced only by the worker.
        steps: how many items to take, or None for all of them (until StopIteration).
        queue_size: how many finished items may wait (default 2).

    Raises:
        TypeError: if ``source`` is not iterable.
        ValueError: if ``steps`` is negative or ``queue_size`` below 1.
    """

    def __init__(self, source, steps=None, queue_size=2):
        if steps is not None and (isinstance(steps, bool) or not isinstance(steps, int) or steps < 0):
            raise ValueError(f"Prefetcher: steps must be None or an integer >= 0, got {steps!r}.")
        if isinstance(queue_size, bool) or not isinstance(queue_size, int) or queue_size < 1:
            raise ValueError(f"Prefetcher: queue_size must be an integer >= 1, got {queue_size!r}.")
        self._queue = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._done = False
        self._thread = threading.Thread(target=_produce, args=(iter(source), steps, self._queue, self._stop),
                                        name="minicnn-prefetch", daemon=True)
        self._thread.start()

    def __iter__(self):
        return self

    def __next__(self):
        if self._done:
            raise StopIteration
        kind, item = self._queue.get()
        if kind == _BATCH:
            return item
        self._done = True
        self._thread.join()
        if kind == _ERROR:
            raise item
        raise StopIteration

    def close(self):
        """Stop the worker and wait for it: at most the item it is building is lost."""
        self._done = True
        self._stop.set()
        # Empty the queue so a worker blocked on a full queue can put its item and see the stop.
        while self._thread.is_alive():
            try:
                self._queue.get(timeout=0.01)
            except queue.Empty:
                pass
        self._thread.join()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()

    def __del__(self):
        if getattr(self, "_thread", None) is not None and not self._done:
            self._stop.set()
            # Unblock the worker without waiting for it (a finaliser must not block).
            try:
                while True:
                    self._queue.get_nowait()
            except queue.Empty:
                pass
