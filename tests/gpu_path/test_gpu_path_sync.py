"""On the GPU path, values come back to the host only where they must.

A training step never waits for the GPU: no ``float()``, ``.get()``, ``bool()`` or other device-to-
host transfer, and no upload either, between the batch going in and the next one. Losses and
metric counts are summed on the device and come back once per epoch (and once per validation),
not once per step; ``predict`` brings back each batch's outputs, which is what it is for.
"""
import numpy as np
import pytest

from minicnn import optimizers
from minicnn.callbacks import Callback, TerminateOnNaN
from minicnn.utils import set_random_seed

from gpu_path_models import (ARCHITECTURES, OPTIMIZERS, activations_model, channels_first_model, compiled, data,
                             flat_model, new_layers_model, tutorial)

STEP_CASES = {
    "tutorial_dropout_adadelta": (lambda: tutorial(0.25, 0.5), optimizers.Adadelta, "categorical_crossentropy"),
    "batchnorm_adam": (ARCHITECTURES["batchnorm"], optimizers.Adam, "categorical_crossentropy"),
    "batchnorm_sgd_nesterov": (ARCHITECTURES["batchnorm"], OPTIMIZERS["sgd_nesterov"], "categorical_crossentropy"),
    "tutorial_rmsprop_sparse": (tutorial, optimizers.RMSprop, "sparse_categorical_crossentropy"),
    "sigmoid_binary": (flat_model(3, "sigmoid"), OPTIMIZERS["sgd"], "binary_crossentropy"),
    "linear_mse": (flat_model(10, "linear"), OPTIMIZERS["sgd_momentum"], "mse"),
    "channels_first": (channels_first_model, optimizers.Adam, "categorical_crossentropy"),
    "activations_decay": (activations_model, lambda: optimizers.Adam(decay=0.01), "categorical_crossentropy"),
    "new_layers": (new_layers_model, optimizers.Adam, "categorical_crossentropy"),
}


def _targets(loss, y):
    return {"sparse_categorical_crossentropy": y.argmax(axis=1), "binary_crossentropy": y[:, :3]}.get(loss, y)


@pytest.mark.parametrize("case", sorted(STEP_CASES))
def test_no_host_round_trip_inside_a_training_step(fake_cupy, case):
    make_layers, make_optimizer, loss = STEP_CASES[case]
    model = compiled(make_layers(), make_optimizer(), loss=loss, metrics=["accuracy"])
    x, y = data(8)
    if case == "channels_first":
        x = np.moveaxis(x, -1, 1).copy()
    xb, yb = fake_cupy.asarray(x), fake_cupy.asarray(_targets(loss, y).astype(np.float32))
    transfers = fake_cupy.transfers
    for step in range(3):  # the first step also creates the optimizer's slots and builds the kernels
        transfers.reset()
        loss_value, counts = model._train_step([xb], [yb])
        assert transfers.count == 0, f"step {step}: host round trips {transfers.log}"
        assert transfers.uploads == 0, f"step {step}: {transfers.uploads} uploads"
        assert type(loss_value).__module__ == "cupy" and loss_value.ndim == 0
        *metric_sums, weight_sum = counts  # the metrics' sums stay on the device; then the sample count
        assert all(type(c).__module__ == "cupy" for c in metric_sums) and weight_sum == 8
    assert np.isfinite(float(loss_value))


def _fit_transfers(fake_cupy, batch_size, epochs=2, **fit_args):
    set_random_seed(0)
    model = compiled(tutorial(0.25), "adam", metrics=["accuracy"])
    x, y = data(24)
    fake_cupy.transfers.reset()
    history = model.fit(x, y, batch_size=batch_size, epochs=epochs, verbose=0, **fit_args)
    assert all(np.all(np.isfinite(v)) for v in history.history.values())
    return fake_cupy.transfers.count


def test_fit_brings_the_logs_back_once_per_epoch_not_per_step(fake_cupy):
    # 2 epochs of 12 and of 2 steps: a loss and an accuracy per epoch either way.
    assert _fit_transfers(fake_cupy, batch_size=2) == _fit_transfers(fake_cupy, batch_size=12) == 2 * 2
    # Validation adds its own loss and accuracy, once per epoch too.
    assert _fit_transfers(fake_cupy, batch_size=2, validation_split=0.25) == 2 * 4
    assert _fit_transfers(fake_cupy, batch_size=2, validation_split=0.25, validation_batch_size=1) == 2 * 4


def test_evaluate_brings_the_results_back_once(fake_cupy):
    model = compiled(tutorial(), "sgd", metrics=["accuracy"])
    x, y = data(20)
    for batch_size in (1, 7, 20):
        fake_cupy.transfers.reset()
        loss, accuracy = model.evaluate(x, y, batch_size=batch_size, verbose=0)
        assert fake_cupy.transfers.count == 2, (batch_size, fake_cupy.transfers.log)


def test_predict_brings_back_each_batch_once(fake_cupy):
    model = compiled(tutorial(), "sgd")
    x, _ = data(20)
    fake_cupy.transfers.reset()
    out = model.predict(x, batch_size=6)
    assert type(out) is np.ndarray and out.shape == (20, 10)
    assert fake_cupy.transfers.log == ["get"] * 4


def test_batch_logs_cost_a_transfer_per_step_only_for_callbacks_that_read_them(fake_cupy):
    class ReadsBatchLogs(Callback):
        def on_train_batch_end(self, batch, logs=None):
            self.last = logs["loss"]

    model = compiled(tutorial(), "sgd", metrics=["accuracy"])
    x, y = data(12)
    for callbacks, expected in (([], 2), ([ReadsBatchLogs()], 6 * 2 + 2), ([TerminateOnNaN()], 6 * 2 + 2)):
        fake_cupy.transfers.reset()
        model.fit(x, y, batch_size=2, epochs=1, verbose=0, callbacks=callbacks)
        assert fake_cupy.transfers.count == expected, (callbacks, fake_cupy.transfers.log)

