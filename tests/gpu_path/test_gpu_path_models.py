"""The model API on the GPU path: predict, evaluate, fit with validation, moving a model between
backends with its optimizer state, saving on the GPU and loading on the CPU, and mixing models
and data of both backends in one session."""
import numpy as np
import pytest

import minicnn
from minicnn import backend, callbacks, optimizers
from minicnn.layers import Dense, Dropout, Flatten
from minicnn.models import load_model
from minicnn.utils import set_random_seed

from gpu_path_models import (ARCHITECTURES, FLOAT32, SHAPE, assert_same_optimizer_state, assert_same_weights,
                             compiled, data, tutorial, twins)


def _is_on(model, module_name):
    return all(type(w).__module__.split(".")[0] == module_name for w in model.weights)


@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_predict_and_evaluate_match_numpy(fake_cupy, architecture):
    cpu, gpu = twins(ARCHITECTURES[architecture], optimizers.Adam, metrics=["accuracy"])
    x, y = data(21, seed=1)
    cpu.fit(x, y, batch_size=7, epochs=1, verbose=0, shuffle=False)  # moving statistics worth using
    gpu.set_weights(cpu.get_weights())
    np.testing.assert_allclose(gpu.predict(x, batch_size=8), cpu.predict(x, batch_size=8), **FLOAT32)
    np.testing.assert_allclose(gpu.evaluate(x, y, batch_size=8, verbose=0), cpu.evaluate(x, y, batch_size=8, verbose=0),
                               rtol=1e-5)
    np.testing.assert_allclose(gpu.test_on_batch(x, y), cpu.test_on_batch(x, y), rtol=1e-5)
    np.testing.assert_allclose(gpu.predict_on_batch(x[:3]), cpu.predict_on_batch(x[:3]), **FLOAT32)


def test_fit_with_validation_split_matches_numpy(fake_cupy):
    cpu, gpu = twins(ARCHITECTURES["batchnorm"], optimizers.RMSprop, metrics=["acc"])
    x, y = data(30, seed=2)
    histories = []
    for model in (gpu, cpu):
        set_random_seed(5)  # the same shuffling on both
        histories.append(model.fit(x, y, batch_size=8, epochs=2, validation_split=0.2, verbose=0).history)
    assert sorted(histories[0]) == sorted(histories[1]) == ["acc", "loss", "val_acc", "val_loss"]
    for key in histories[1]:
        np.testing.assert_allclose(histories[0][key], histories[1][key], rtol=1e-5, err_msg=key)
    assert_same_weights(gpu, cpu)


def test_moving_a_model_between_backends_keeps_its_optimizer_state(fake_cupy):
    x, y = data(12, seed=3)
    cpu, gpu = twins(tutorial, optimizers.Adam)
    gpu.train_on_batch(x, y)
    gpu.to("numpy")
    assert _is_on(gpu, "numpy") and backend.get_backend() == "numpy"
    launches = len(fake_cupy.launches)
    gpu.train_on_batch(x, y)
    assert len(fake_cupy.launches) == launches  # trained on the CPU
    assert all(type(s) is np.ndarray for s in gpu.optimizer.get_state()[1:])
    gpu.to("cupy")
    assert _is_on(gpu, "cupy") and backend.get_backend() == "cupy"
    gpu.train_on_batch(x, y)
    assert "adam_update" in fake_cupy.launches[launches:]
    assert all(type(s).__module__ == "cupy" for s in gpu.optimizer.get_state()[1:])
    for _ in range(3):
        cpu.train_on_batch(x, y)
    assert gpu.optimizer.iterations == cpu.optimizer.iterations == 3
    assert_same_weights(gpu, cpu)
    assert_same_optimizer_state(gpu, cpu)


@pytest.mark.parametrize("optimizer", ["adadelta", "sgd_momentum"])
def test_saved_on_the_gpu_loads_on_numpy(fake_cupy, tmp_path, optimizer):
    make_optimizer = {"adadelta": optimizers.Adadelta, "sgd_momentum": lambda: optimizers.SGD(0.05, momentum=0.9)}
    set_random_seed(1)
    model = compiled(ARCHITECTURES["batchnorm"](), make_optimizer[optimizer](), metrics=["accuracy"])
    x, y = data(16, seed=4)
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
    on_gpu = model.predict(x)
    model.save(tmp_path / "gpu.npz")

    minicnn.set_backend("numpy")
    loaded = load_model(tmp_path / "gpu.npz")
    assert _is_on(loaded, "numpy")
    np.testing.assert_allclose(loaded.predict(x), on_gpu, **FLOAT32)
    model.to("numpy")
    np.testing.assert_array_equal(loaded.predict(x), model.predict(x))
    # The optimizer state came along: both continue identically.
    for m in (loaded, model):
        m.train_on_batch(x, y)
    for a, b in zip(loaded.get_weights(), model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_weights_file_loads_into_a_gpu_model_whatever_the_backend(fake_cupy, tmp_path):
    minicnn.set_backend("numpy")
    cpu = compiled(tutorial(), "sgd")
    cpu.save_weights(tmp_path / "w.npz")
    minicnn.set_backend("cupy")
    gpu = compiled(tutorial(), "sgd")
    minicnn.set_backend("numpy")
    gpu.load_weights(tmp_path / "w.npz")
    assert _is_on(gpu, "cupy")
    x, _ = data(5)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), **FLOAT32)


def test_callbacks_on_the_gpu_path(fake_cupy, tmp_path):
    set_random_seed(7)
    x, y = data(24, seed=7)
    model = compiled(tutorial(0.25), "adam", metrics=["accuracy"])
    stop = callbacks.EarlyStopping(monitor="val_loss", patience=5, restore_best_weights=True)
    checkpoint = callbacks.ModelCheckpoint(str(tmp_path / "best.npz"), save_best_only=True)
    history = model.fit(x, y, batch_size=8, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[stop, checkpoint, callbacks.ReduceLROnPlateau(patience=5),
                                   callbacks.LearningRateScheduler(lambda epoch, lr: lr * 0.5),
                                   callbacks.TerminateOnNaN()])
    assert history.history["learning_rate"] == [5e-4, 2.5e-4, 1.25e-4]
    assert _is_on(model, "cupy")
    minicnn.set_backend("numpy")
    best = load_model(tmp_path / "best.npz")
    assert best.predict(x).shape == (24, 10)


def test_cpu_and_gpu_models_side_by_side(fake_cupy):
    """A model runs where its weights are, whatever the global backend (tests/test_gpu.py compares
    a CPU and a GPU model this way)."""
    x, y = data(12, seed=5)
    cpu, gpu = twins(tutorial, lambda: optimizers.SGD(0.1))
    assert backend.get_backend() == "cupy"
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), **FLOAT32)
    cpu.train_on_batch(x, y)
    gpu.train_on_batch(x, y)
    assert_same_weights(gpu, cpu)
    cpu.set_weights(gpu.get_weights())
    assert _is_on(cpu, "numpy")

    minicnn.set_backend("numpy")
    gpu.set_weights(cpu.get_weights())
    assert _is_on(gpu, "cupy")
    launches = len(fake_cupy.launches)
    gpu.train_on_batch(x, y)
    cpu.train_on_batch(x, y)
    assert len(fake_cupy.launches) > launches
    assert_same_weights(gpu, cpu)
    np.testing.assert_allclose(gpu.predict(x), cpu.predict(x), **FLOAT32)
    # Dropout masks for GPU arrays come from CuPy's generator whatever the global backend.
    mask = Dropout(0.5)(fake_cupy.ones((4, 4), dtype=np.float32), training=True)
    assert type(mask).__module__ == "cupy"


def test_data_already_on_the_gpu(fake_cupy):
    x, y = data(12, seed=6)
    xd, yd, labels = fake_cupy.asarray(x), fake_cupy.asarray(y), fake_cupy.asarray(y.argmax(axis=1))
    for loss, targets, device_targets in (("categorical_crossentropy", y, yd),
                                          ("sparse_categorical_crossentropy", y.argmax(axis=1), labels)):
        minicnn.set_backend("numpy")
        cpu = compiled([Flatten(input_shape=SHAPE), Dense(10, activation="softmax")], "adam", loss=loss,
                       metrics=["accuracy"])
        minicnn.set_backend("cupy")
        gpu = compiled([Flatten(input_shape=SHAPE), Dense(10, activation="softmax")], "adam", loss=loss,
                       metrics=["accuracy"])
        gpu.set_weights(cpu.get_weights())
        for model, inputs, t in ((gpu, xd, device_targets), (cpu, x, targets)):
            set_random_seed(2)
            model.fit(inputs, t, batch_size=4, epochs=1, verbose=0)
        assert_same_weights(gpu, cpu)
        np.testing.assert_allclose(gpu.evaluate(xd, device_targets, verbose=0), cpu.evaluate(x, targets, verbose=0),
                                   rtol=1e-5)
        np.testing.assert_allclose(gpu.predict(xd), cpu.predict(x), **FLOAT32)
