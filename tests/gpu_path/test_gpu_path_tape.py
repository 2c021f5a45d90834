"""The tape on minicnn's CuPy code path (the fake CuPy of tests/fakecupy.py): a model with custom
layers trains as on NumPy with no host round trip inside a training step, and a GradientTape
custom loop step gives NumPy's update."""
import numpy as np
import pytest

import minicnn
from minicnn import ops
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.utils import set_random_seed

from custom_layers import Antirectifier, GatedDense, LayerScale, Linear, Sampling
from gpu_path_models import FLOAT32, assert_same_weights, data, twins


def custom_layers_model():
    return [Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)), LayerScale(0.5, 4), MaxPooling2D(),
            Flatten(), Linear(12), Antirectifier(), GatedDense(8), Dense(10, activation="softmax")]


def test_a_custom_layer_model_trains_as_on_numpy_with_no_host_round_trip_in_a_step(fake_cupy):
    set_random_seed(0)
    x, y = data(8)
    cpu, gpu = twins(custom_layers_model, lambda: minicnn.optimizers.Adam(0.01), metrics=["accuracy"])
    assert all(type(w).__module__ == "cupy" for w in gpu.trainable_weights)
    xb, yb = fake_cupy.asarray(x), fake_cupy.asarray(y)
    for step in range(3):  # the first step also makes the optimizer's slots
        fake_cupy.transfers.reset()
        loss, counts = gpu._train_step([xb], [yb])
        assert fake_cupy.transfers.count == 0, f"step {step}: host round trips {fake_cupy.transfers.log}"
        assert fake_cupy.transfers.uploads == 0, f"step {step}: {fake_cupy.transfers.uploads} uploads"
        assert type(loss).__module__ == "cupy"
        cpu_loss, _ = cpu._train_step([x], [y])
        np.testing.assert_allclose(float(loss), float(cpu_loss), **FLOAT32)
    assert_same_weights(gpu, cpu)
    assert all(w.dtype == np.float32 for w in gpu.get_weights())


def test_add_loss_costs_no_host_round_trip_in_a_step(fake_cupy):
    minicnn.set_backend("cupy")
    inputs = minicnn.Input((4,))
    h = Dense(4, activation="tanh")(inputs)
    z = Sampling(eps=fake_cupy.asarray(np.full((8, 2), 0.1, "float32")))([Dense(2)(h), Dense(2)(h)])
    model = minicnn.Model(inputs, Dense(3)(z))
    model.compile("sgd", loss="mse")
    xb = fake_cupy.asarray(np.ones((8, 4), "float32"))
    yb = fake_cupy.asarray(np.zeros((8, 3), "float32"))
    model._train_step([xb], [yb])
    fake_cupy.transfers.reset()
    model._train_step([xb], [yb])
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log


def test_a_gradient_tape_custom_loop_step_on_the_gpu_path(fake_cupy):
    set_random_seed(1)
    x, y = data(8)
    cpu, gpu = twins(lambda: [Flatten(input_shape=(10, 10, 1)), Linear(16), Dense(10, activation="softmax")],
                     lambda: minicnn.optimizers.SGD(0.1, momentum=0.9))
    results = {}
    for name, model, xs, ys in (("gpu", gpu, fake_cupy.asarray(x), fake_cupy.asarray(y)), ("cpu", cpu, x, y)):
        minicnn.set_backend("cupy" if name == "gpu" else "numpy")
        loss_fn, optimizer = minicnn.losses.CategoricalCrossentropy(), minicnn.optimizers.SGD(0.1, momentum=0.9)
        for step in range(2):
            with minicnn.GradientTape() as tape:
                probs = model(xs, training=True)
                loss = loss_fn(ys, probs) + 0.01 * ops.sum(ops.square(model.layers[1].w))  # a penalty in ops
            grads = tape.gradient(loss, model.trainable_weights)
            if name == "gpu":
                assert all(type(g.data).__module__ == "cupy" for g in grads)
            optimizer.apply_gradients(zip(grads, model.trainable_weights))
        results[name] = float(loss)
    assert results["gpu"] == pytest.approx(results["cpu"], rel=1e-5)
    assert_same_weights(gpu, cpu)
