"""One model serving many threads: every concurrent predict, predict_on_batch, evaluate and model(x)
equals the same call made alone; a model trains while another predicts; a second thread that
tries to train a model already training gets an error, never mixed weights."""
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from minicnn import Sequential, backend
from minicnn.callbacks import Callback
from minicnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from minicnn.utils import set_random_seed


def make_model():
    set_random_seed(0)
    model = Sequential([Conv2D(6, 3, activation="relu", input_shape=(12, 12, 1)), Conv2D(8, 3, activation="relu"),
                        MaxPooling2D(), BatchNormalization(), Dropout(0.3), Flatten(),
                        Dense(16, activation="relu"), Dense(5, activation="softmax")])
    model.compile("adam", "categorical_crossentropy", metrics=["accuracy"])
    return model


def data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.random((n, 12, 12, 1), dtype=np.float32), np.eye(5, dtype=np.float32)[rng.integers(0, 5, n)]


@pytest.mark.parametrize("fast", [True, False])
def test_concurrent_calls_equal_the_same_calls_alone(fast):
    saved = backend.fast_path()
    backend.set_fast_path(fast)
    try:
        model = make_model()
        x, y = data(64, 1)
        model.fit(x, y, epochs=1, batch_size=16, verbose=0)  # non-trivial BatchNormalization statistics
        assert [type(s).__name__ for s in model._plan().steps][0] == ("FusedConvPool" if fast else "LayerStep")
        # Each call has its own input, of several batch sizes, so that a shared buffer would show.
        inputs = [data(n, 10 + i) for i, n in enumerate([1, 7, 33, 64, 50, 19, 64, 8])]
        calls = {
            "predict": lambda x, y: model.predict(x, batch_size=16),
            "predict_on_batch": lambda x, y: model.predict_on_batch(x),
            "evaluate": lambda x, y: np.array(model.evaluate(x, y, batch_size=16, verbose=0)),
            "call": lambda x, y: model(x),
        }
        jobs = [(name, i) for name in calls for i in range(len(inputs))] * 5
        alone = {(name, i): calls[name](*inputs[i]) for name, i in set(jobs)}
        barrier = threading.Barrier(6)

        def run(job):
            name, i = job
            if job in first_of_each:
                barrier.wait(timeout=30)  # the first six calls start together
            return job, calls[name](*inputs[i])
        first_of_each = set(jobs[:6])
        with ThreadPoolExecutor(6) as pool:
            results = list(pool.map(run, jobs))
        assert len(results) == len(jobs) == 160
        different = [job for job, got in results if not np.array_equal(got, alone[job])]
        assert different == []
    finally:
        backend.set_fast_path(saved)


def test_one_model_trains_while_another_predicts():
    x, y = data(96, 2)
    trained_alone = make_model()
    trained_alone.fit(x, y, epochs=2, batch_size=16, verbose=0)
    server = make_model()
    queries = [data(40, 20 + i)[0] for i in range(6)]
    answers = [server.predict(q) for q in queries]
    stop = threading.Event()
    wrong = []

    def serve():
        while not stop.is_set():
            for q, a in zip(queries, answers):
                if not np.array_equal(server.predict(q), a):
                    wrong.append(1)
    thread = threading.Thread(target=serve)
    thread.start()
    try:
        trained = make_model()
        trained.fit(x, y, epochs=2, batch_size=16, verbose=0)
    finally:
        stop.set()
        thread.join(timeout=60)
    assert wrong == []
    for a, b in zip(trained.get_weights(), trained_alone.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_a_second_thread_cannot_train_a_model_that_is_training():
    model = make_model()
    x, y = data(32, 3)
    inside, release = threading.Event(), threading.Event()

    class Pause(Callback):
        def on_train_batch_begin(self, batch, logs=None):
            if batch == 1:
                inside.set()
                release.wait(timeout=30)
    trainer = threading.Thread(target=model.fit, args=(x, y),
                               kwargs=dict(epochs=1, batch_size=8, verbose=0, callbacks=[Pause()]))
    trainer.start()
    try:
        assert inside.wait(timeout=30)
        before = model.get_weights()
        with pytest.raises(RuntimeError, match="already training in another thread"):
            model.train_on_batch(x[:8], y[:8])
        with pytest.raises(RuntimeError, match="already training in another thread"):
            model.fit(x, y, verbose=0)
        for a, b in zip(before, model.get_weights()):  # the refused calls changed nothing
            np.testing.assert_array_equal(a, b)
    finally:
        release.set()
        trainer.join(timeout=60)
    model.train_on_batch(x[:8], y[:8])  # free again once fit has returned
