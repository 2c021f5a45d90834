"""LambdaCallback: each function is called at its hook, with Keras's arguments, during a real fit."""
import numpy as np
import pytest

from minicnn import Sequential
from minicnn.callbacks import LambdaCallback
from minicnn.layers import Dense


def fit(callback, epochs=2):
    rng = np.random.default_rng(0)
    x, y = rng.random((10, 3), dtype=np.float32), rng.random((10, 1), dtype=np.float32)
    model = Sequential([Dense(1, input_dim=3)])
    model.compile(optimizer="sgd", loss="mse")
    return model.fit(x, y, batch_size=4, epochs=epochs, verbose=0, callbacks=[callback])


def test_every_function_is_called_at_its_hook_with_its_arguments():
    calls = []
    callback = LambdaCallback(
        on_epoch_begin=lambda epoch, logs: calls.append(("epoch_begin", epoch)),
        on_epoch_end=lambda epoch, logs: calls.append(("epoch_end", epoch, sorted(logs))),
        on_batch_begin=lambda b, l: calls.append(("batch_begin", b)),  # Keras 2's names, positional logs
        on_batch_end=lambda b, l: calls.append(("batch_end", b, sorted(l))),
        on_train_begin=lambda logs: calls.append(("train_begin",)),
        on_train_end=lambda logs: calls.append(("train_end",)))
    history = fit(callback)
    batches = [("batch_begin", 0), ("batch_end", 0, ["loss"]), ("batch_begin", 1), ("batch_end", 1, ["loss"]),
               ("batch_begin", 2), ("batch_end", 2, ["loss"])]
    assert calls == [("train_begin",), ("epoch_begin", 0), *batches, ("epoch_end", 0, ["loss"]),
                     ("epoch_begin", 1), *batches, ("epoch_end", 1, ["loss"]), ("train_end",)]
    assert len(history.history["loss"]) == 2


def test_keras_3_names_and_any_other_hook_by_keyword():
    seen = []
    callback = LambdaCallback(on_train_batch_end=lambda batch, logs: seen.append((batch, logs["loss"])),
                              on_train_batch_begin=lambda batch, logs: seen.append(batch))
    fit(callback, epochs=1)
    assert [s for s in seen if isinstance(s, int)] == [0, 1, 2]
    losses = [s for s in seen if isinstance(s, tuple)]
    assert [b for b, _ in losses] == [0, 1, 2] and all(np.isfinite(v) for _, v in losses)


def test_a_callback_without_functions_does_nothing_and_errors_are_clear():
    assert fit(LambdaCallback(), epochs=1).history["loss"]
    with pytest.raises(TypeError, match="'on_epoch_ends' is not a callback hook"):
        LambdaCallback(on_epoch_ends=print)
    with pytest.raises(TypeError, match="on_epoch_end must be a function, got 3"):
        LambdaCallback(on_epoch_end=3)
