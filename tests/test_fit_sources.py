"""fit, evaluate and predict on generators, iterators and Sequences (Keras 2's fit_generator too),
steps_per_epoch, validation generators, validation_freq: each against the same run on arrays."""
import numpy as np
import pytest

from minicnn import Sequential
from minicnn.layers import Dense
from minicnn.optimizers import SGD
from minicnn.utils import Sequence, set_random_seed


def data(n=48, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[(x[:, 0] > 0).astype(int) + (x[:, 1] > 0)]


def model():
    set_random_seed(4)
    m = Sequential([Dense(8, activation="relu", input_dim=5), Dense(3, activation="softmax")])
    m.compile(SGD(0.1), "categorical_crossentropy", metrics=["accuracy"])
    return m


class Batches(Sequence):
    def __init__(self, x, y, batch_size):
        self.x, self.y, self.batch_size, self.ends = x, y, batch_size, 0

    def __len__(self):
        return -(-len(self.x) // self.batch_size)

    def __getitem__(self, i):
        sl = slice(i * self.batch_size, (i + 1) * self.batch_size)
        return self.x[sl], self.y[sl]

    def on_epoch_end(self):
        self.ends += 1


def endless(x, y, batch_size):
    while True:
        for i in range(0, len(x), batch_size):
            yield x[i:i + batch_size], y[i:i + batch_size]


def assert_same(a, b):
    for u, v in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-6, atol=1e-7)


@pytest.mark.parametrize("kind", ["sequence", "generator", "fit_generator"])
def test_sources_train_as_the_same_batches_of_arrays_do(kind):
    x, y = data()
    (xv, yv) = data(20, seed=1)
    reference = model()
    ref_history = reference.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0, validation_data=(xv, yv))
    trained = model()
    seq = Batches(x, y, 8)
    if kind == "sequence":
        history = trained.fit(seq, epochs=3, verbose=0, validation_data=Batches(xv, yv, 32))
        assert seq.ends == 3  # on_epoch_end after every epoch
    elif kind == "generator":
        history = trained.fit(endless(x, y, 8), steps_per_epoch=6, epochs=3, verbose=0,
                              validation_data=endless(xv, yv, 32), validation_steps=1)
    else:
        history = trained.fit_generator(endless(x, y, 8), steps_per_epoch=6, epochs=3, verbose=0, workers=4,
                                        use_multiprocessing=True, max_queue_size=3, validation_data=(xv, yv))
    assert_same(trained, reference)
    for key, values in ref_history.history.items():
        np.testing.assert_allclose(history.history[key], values, rtol=1e-6)
    np.testing.assert_allclose(trained.evaluate(Batches(xv, yv, 7), verbose=0), reference.evaluate(xv, yv, verbose=0),
                               rtol=1e-6)
    np.testing.assert_allclose(trained.evaluate_generator(endless(xv, yv, 5), steps=4),
                               reference.evaluate(xv, yv, verbose=0), rtol=1e-6)
    np.testing.assert_array_equal(trained.predict(Batches(xv, yv, 6)), trained.predict(xv))
    np.testing.assert_array_equal(trained.predict_generator(endless(xv, yv, 10), steps=2), trained.predict(xv))


def test_steps_per_epoch_and_validation_freq_with_arrays():
    x, y = data()
    m = model()
    history = m.fit(x, y, batch_size=8, epochs=4, steps_per_epoch=2, validation_data=data(10, 2),
                    validation_freq=2, verbose=0)
    assert len(history.history["loss"]) == 4 and len(history.history["val_loss"]) == 2
    reference = model()
    for epoch in range(4):  # two batches of the shuffled data per epoch: 16 samples each
        reference.fit(x, y, batch_size=8, epochs=epoch + 1, initial_epoch=epoch, steps_per_epoch=2, verbose=0)
    history = model().fit(x, y, batch_size=8, epochs=3, validation_data=data(10, 2), validation_freq=[1, 3], verbose=0)
    assert len(history.history["val_loss"]) == 2


def test_a_generator_needs_steps_and_clear_errors():
    x, y = data()
    m = model()
    with pytest.raises(ValueError, match="steps_per_epoch=..."):
        m.fit(endless(x, y, 8), epochs=1, verbose=0)
    with pytest.raises(ValueError, match="leave y, sample_weight and validation_split out"):
        m.fit(Batches(x, y, 8), y, verbose=0)
    with pytest.raises(ValueError, match="validation_freq must be"):
        m.fit(x, y, validation_freq=0, verbose=0)
    with pytest.raises(ValueError, match="must be x, \\(x, y\\) or \\(x, y, sample_weight\\)"):
        m.fit((b + (1, 2) for b in endless(x, y, 8)), steps_per_epoch=2, verbose=0)
    bad = (np.ones((4, 7), np.float32), y[:4])
    with pytest.raises(ValueError, match="per-sample shape \\(7,\\)"):
        m.fit(iter([bad]), steps_per_epoch=1, verbose=0)


def test_an_error_in_the_generator_reaches_fit():
    def broken():
        x, y = data()
        yield x[:8], y[:8]
        raise OSError("disk gone")
    with pytest.raises(OSError, match="disk gone"):
        model().fit(broken(), steps_per_epoch=3, verbose=0)
