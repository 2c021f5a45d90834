"""Stability: memory does not grow from epoch to epoch, and predict on 60,000 samples stays within
the output plus one batch's activations, whatever the batch size.

Memory is measured with tracemalloc, which sees NumPy's data allocations exactly (NumPy reports
them to it) and nothing of the rest of the process, so the bounds below can be tight.
"""
import math
import tracemalloc

import numpy as np
import pytest

from minicnn import Sequential
from minicnn.callbacks import Callback
from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from minicnn.utils import set_random_seed, to_categorical

KB, MB = 1024, 1024 * 1024


@pytest.fixture
def traced():
    """tracemalloc on for the test body, off afterwards, whatever happens."""
    tracemalloc.start()
    try:
        yield
    finally:
        tracemalloc.stop()


def small_cnn():
    set_random_seed(0)
    return Sequential([Conv2D(4, (3, 3), activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(), Flatten(),
                       Dropout(0.2), Dense(10, activation="softmax")])


def batch_activation_bytes(model, batch):
    """Bytes of one batch's activations: every layer's output, plus a convolution's input patches."""
    per_sample, shape = 0, model.input_shape[1:]
    for layer in model.layers:
        per_sample += math.prod(layer.output_shape)
        if hasattr(layer, "kernel_size"):
            per_sample += math.prod(layer.kernel_size) * shape[-1] * math.prod(layer.output_shape[:2])
        shape = layer.output_shape
    return per_sample * batch * np.dtype(np.float32).itemsize


class MemoryPerEpoch(Callback):
    """(current, peak) traced bytes at the end of every epoch."""

    def __init__(self):
        self.at_end = []

    def on_epoch_end(self, epoch, logs=None):
        self.at_end.append(tracemalloc.get_traced_memory())


def test_memory_does_not_grow_across_epochs(traced):
    rng = np.random.default_rng(0)
    x = rng.random((512, 8, 8, 1), dtype=np.float32)
    y = to_categorical(np.arange(512) % 10, 10)
    model = small_cnn()
    model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    memory = MemoryPerEpoch()
    model.fit(x, y, batch_size=64, epochs=10, verbose=0, validation_split=0.2, callbacks=[memory])
    current = [c for c, _ in memory.at_end]
    peak = [p for _, p in memory.at_end]
    # From epoch 3 on, only the History's few floats per epoch may accumulate (about 0.2 KB), plus
    # some tens of KB of interpreter noise (worker-thread bookkeeping, freed-list timing); keeping
    # one batch's activations or gradients per epoch would add over 100 KB each epoch, 700 KB in all.
    one_batch = batch_activation_bytes(model, 64)
    assert one_batch > 100 * KB
    assert peak[-1] - peak[2] < 64 * KB, f"peak grew by {peak[-1] - peak[2]} bytes over 7 epochs"
    assert current[-1] - current[2] < 64 * KB, f"memory held grew by {current[-1] - current[2]} bytes"


def test_memory_does_not_grow_across_calls(traced):
    rng = np.random.default_rng(1)
    x = rng.random((256, 8, 8, 1), dtype=np.float32)
    y = to_categorical(np.arange(256) % 10, 10)
    model = small_cnn()
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    held = []
    for _ in range(8):
        model.fit(x, y, batch_size=64, epochs=1, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x)
        held.append(tracemalloc.get_traced_memory()[0])
    # Worker threads free their scratch at varying times (tens of KB either way from round to round);
    # a leak of one batch's activations per round would add over 100 KB each round.
    grown = min(held[-3:]) - max(held[:3])
    assert grown < 32 * KB, f"memory held grew by {grown} bytes over 5 rounds ({held})"


@pytest.mark.parametrize("batch_size, dtype", [(32, np.float32), (1000, np.float32), (500, np.uint8),
                                               (100_000, np.float32)])
def test_predict_60000_in_bounded_memory(traced, batch_size, dtype):
    N = 60_000
    model = small_cnn()
    rng = np.random.default_rng(2)
    x = (rng.random((N, 8, 8, 1), dtype=np.float32) * 255).astype(dtype)
    first = model.predict(x[:100], batch_size=7)       # warm up any per-shape caches
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    out = model.predict(x, batch_size=batch_size)
    peak = tracemalloc.get_traced_memory()[1] - base
    assert out.shape == (N, 10) and out.dtype == np.float32
    # The output, plus one batch's activations (twice, for the temporaries of the ops), plus a
    # little: never a float copy of the whole input (15 MB) or of all activations (130 MB).
    one_batch = batch_activation_bytes(model, min(batch_size, N))
    bound = out.nbytes + 2 * one_batch + 256 * KB
    assert peak <= bound, f"peak {peak / MB:.1f} MB > bound {bound / MB:.1f} MB"
    # Other batch sizes put a sample in other rows of the BLAS products, and OpenBLAS rounds rows
    # differently by their place (its kernels for leftover rows): float32 ulps, through a softmax.
    np.testing.assert_allclose(out[:100], first, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(out.sum(axis=1), 1, rtol=1e-5)


def test_predict_batch_larger_than_the_data():
    model = small_cnn()
    x = np.random.default_rng(3).random((5, 8, 8, 1), dtype=np.float32)
    out = model.predict(x, batch_size=1_000_000)
    np.testing.assert_allclose(out, model.predict(x, batch_size=2), rtol=1e-5, atol=1e-7)
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    y = to_categorical([0, 1, 2, 3, 4], 10)
    history = model.fit(x, y, batch_size=1_000_000, epochs=2, verbose=0)
    assert len(history.history["loss"]) == 2
    assert np.isfinite(model.evaluate(x, y, batch_size=1_000_000, verbose=0))
