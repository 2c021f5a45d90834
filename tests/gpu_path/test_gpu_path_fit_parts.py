"""The optimizers, clipping, losses, metrics and regularizers of issue 17 on the CuPy path (the fake
CuPy): the same steps as NumPy, on the device, with no host round trip inside a training step; an
optimizer without a CUDA kernel runs its plain CuPy expressions, and AdamW runs Adam's kernel."""
import numpy as np
import pytest

from minicnn import losses, metrics, optimizers
from minicnn.layers import Conv2D, Dense, Flatten
from minicnn.regularizers import l1, l1_l2, l2
from minicnn.utils import set_random_seed

from gpu_path_models import assert_same_optimizer_state, assert_same_weights, data, flat_model, tutorial, twins

OPTIMIZER_CASES = {  # name: (optimizer, the optimizer kernel it must launch, or None for none)
    "adagrad": (lambda: optimizers.Adagrad(0.05), None),
    "adamax": (lambda: optimizers.Adamax(0.01), None),
    "nadam": (lambda: optimizers.Nadam(0.01), None),
    "adamw": (lambda: optimizers.AdamW(weight_decay=0.5), "adam_update"),
    "sgd_momentum_clipnorm": (lambda: optimizers.SGD(0.1, momentum=0.9, clipnorm=0.05), "sgd_momentum_update"),
    "adam_global_clipnorm": (lambda: optimizers.Adam(global_clipnorm=0.1), "adam_update"),
    "rmsprop_clipvalue_weight_decay": (lambda: optimizers.RMSprop(clipvalue=1e-3, weight_decay=0.1), "rmsprop_update"),
}


def _no_round_trip_in_a_step(fake_cupy, model, x, y):
    xb, yb = fake_cupy.asarray(x), fake_cupy.asarray(y)
    for step in range(2):  # the first step also creates the optimizer's slots
        fake_cupy.transfers.reset()
        model._train_step([xb], [yb])
        assert fake_cupy.transfers.count == 0, f"step {step}: host round trips {fake_cupy.transfers.log}"


@pytest.mark.parametrize("case", sorted(OPTIMIZER_CASES))
def test_optimizers_and_clipping_match_numpy_on_the_device(fake_cupy, case):
    make, kernel = OPTIMIZER_CASES[case]
    set_random_seed(0)  # weights without a gradient of float32 noise around 0 (Adam's step is ±lr there)
    x, y = data()
    cpu, gpu = twins(tutorial, make)
    assert (gpu.optimizer.kernel is None) == (kernel is None)
    for _ in range(2):
        gpu.train_on_batch(x, y)
        cpu.train_on_batch(x, y)
    assert_same_weights(gpu, cpu)
    assert_same_optimizer_state(gpu, cpu)
    launched = {name for name in fake_cupy.launches if name.endswith("_update")}
    assert launched == ({kernel} if kernel else set()), launched
    _no_round_trip_in_a_step(fake_cupy, gpu, x, y)


LOSS_CASES = {  # name: (loss, last layer's units and activation, targets from one-hot y)
    "cce_logits": (lambda: losses.CategoricalCrossentropy(from_logits=True), 10, None, lambda y: y),
    "sparse_logits": (lambda: losses.SparseCategoricalCrossentropy(from_logits=True), 10, None,
                      lambda y: y.argmax(axis=1).astype(np.float32)),
    "binary_logits": (lambda: losses.BinaryCrossentropy(from_logits=True), 3, None, lambda y: y[:, :3]),
    "mae": (lambda: "mae", 10, None, lambda y: y),
    "mape": (lambda: "mape", 10, None, lambda y: y + 1),
    "huber": (lambda: losses.Huber(delta=0.5), 10, None, lambda y: y * 3),
    "kld": (lambda: "kld", 10, "softmax", lambda y: y * 0.9 + 0.01),
}


@pytest.mark.parametrize("case", sorted(LOSS_CASES))
def test_losses_and_metrics_match_numpy_on_the_device(fake_cupy, case):
    make_loss, units, activation, targets = LOSS_CASES[case]
    set_random_seed(0)
    x, y = data()
    y = targets(y)
    metric_list = ["mae", "mse", metrics.BinaryAccuracy(threshold=0.0)]
    if case == "sparse_logits":
        metric_list += ["sparse_categorical_accuracy", metrics.SparseTopKCategoricalAccuracy(k=3)]
    elif units > 3:
        metric_list += ["categorical_accuracy", metrics.TopKCategoricalAccuracy(k=3)]
    cpu, gpu = twins(flat_model(units, activation), lambda: optimizers.SGD(0.1), loss=make_loss(), metrics=metric_list)
    for step in range(2):
        got, expected = gpu.train_on_batch(x, y), cpu.train_on_batch(x, y)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, err_msg=f"step {step}: [loss, metrics...]")
    assert_same_weights(gpu, cpu)
    _no_round_trip_in_a_step(fake_cupy, gpu, x, y)


def test_regularized_training_and_evaluation_match_numpy_on_the_device(fake_cupy):
    def layers():
        return [Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1), kernel_regularizer=l1_l2(0.01, 0.02),
                       bias_regularizer=l2(0.05)),
                Flatten(), Dense(10, activation="softmax", kernel_regularizer=l1(0.01))]
    set_random_seed(0)
    x, y = data()
    cpu, gpu = twins(layers, lambda: optimizers.SGD(0.1, momentum=0.9))
    for step in range(2):
        np.testing.assert_allclose(gpu.train_on_batch(x, y), cpu.train_on_batch(x, y), rtol=1e-5,
                                   err_msg=f"step {step}")
    assert_same_weights(gpu, cpu)
    np.testing.assert_allclose(gpu.evaluate(x, y, verbose=0), cpu.evaluate(x, y, verbose=0), rtol=1e-5)
    _no_round_trip_in_a_step(fake_cupy, gpu, x, y)
