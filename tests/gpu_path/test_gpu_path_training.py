"""Training on minicnn's CuPy code path (run on the CPU by tests/fakecupy.py) against the NumPy path.

The same model with the same weights and batch is trained on both backends; the weights, the
optimizer state, the loss and the metric must agree to float32 rounding, for every optimizer,
through the CUDA kernels (built for the CPU) that the GPU path launches.
"""
import numpy as np
import pytest

import minicnn
from minicnn import optimizers
from minicnn.backend import get_array_module, to_numpy
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape, Softmax,
                            ZeroPadding2D)
from minicnn.nn.activations import ACTIVATIONS
from minicnn.utils import check_gradients, set_random_seed

from gpu_path_models import (ARCHITECTURES, FLOAT32, OPTIMIZER_KERNELS, OPTIMIZERS, activations_model,
                             assert_same_optimizer_state, assert_same_weights, channels_first_model, compiled, data,
                             flat_model, float64_model, new_layers_channels_first_model, new_layers_model, tutorial,
                             twins)

# The kernels each architecture's step must launch (the first layer needs no input gradient).
ARCHITECTURE_KERNELS = {"tutorial": {"im2col", "col2im", "maxpool_forward", "maxpool_backward"},
                        "batchnorm": {"im2col", "col2im", "avgpool_forward", "avgpool_backward"}}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("architecture", sorted(ARCHITECTURES))
def test_training_steps_match_numpy(fake_cupy, architecture, optimizer):
    set_random_seed(0)
    x, y = data()
    cpu, gpu = twins(ARCHITECTURES[architecture], OPTIMIZERS[optimizer], metrics=["accuracy"])
    assert type(gpu.weights[0]).__module__ == "cupy"
    for step in range(2):  # the second step starts from the optimizer state of the first
        got, expected = gpu.train_on_batch(x, y), cpu.train_on_batch(x, y)
        np.testing.assert_allclose(got, expected, rtol=1e-5, err_msg=f"step {step}: [loss, accuracy]")
    assert_same_weights(gpu, cpu)
    assert_same_optimizer_state(gpu, cpu)
    assert all(type(s).__module__ == "cupy" for s in gpu.optimizer.get_state()[1:])
    launched = set(fake_cupy.launches)
    assert ARCHITECTURE_KERNELS[architecture] | {OPTIMIZER_KERNELS[optimizer]} <= launched, launched


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
def test_optimizers_without_their_fused_kernel_match_numpy(fake_cupy, optimizer):
    """The plain CuPy expressions an optimizer falls back on (no kernel, or non-contiguous arrays)."""
    x, y = data()
    cpu, gpu = twins(tutorial, OPTIMIZERS[optimizer])
    gpu.optimizer._fused = False  # as when minicnn.cuda lacks the kernel
    for _ in range(2):
        gpu.train_on_batch(x, y)
        cpu.train_on_batch(x, y)
    assert_same_weights(gpu, cpu)
    assert_same_optimizer_state(gpu, cpu)
    assert OPTIMIZER_KERNELS[optimizer] not in fake_cupy.launches


def test_dropout_trains_and_replays_with_the_seed(fake_cupy):
    x, y = data()
    runs = []
    for _ in range(2):
        set_random_seed(3)
        model = compiled(tutorial(0.25, 0.5), "adadelta")
        before = model.get_weights()
        losses = [model.train_on_batch(x, y)[0] for _ in range(3)]
        assert np.all(np.isfinite(losses)), losses
        after = model.get_weights()
        assert all(np.all(np.isfinite(w)) for w in after)
        assert any(not np.array_equal(a, b) for a, b in zip(after, before))
        runs.append((losses, after))
    # The same seed on the same backend gives the same run, dropout masks included.
    assert runs[0][0] == runs[1][0]
    for a, b in zip(runs[0][1], runs[1][1]):
        np.testing.assert_array_equal(a, b)


def test_dropout_masks_are_drawn_on_the_device(fake_cupy):
    layer = Dropout(0.5)
    x = fake_cupy.ones((64, 32), dtype=np.float32)
    first, second = layer(x, training=True), layer(x, training=True)
    assert type(first).__module__ == "cupy" and first.dtype == np.float32
    a, b = to_numpy(first), to_numpy(second)
    assert set(np.unique(a)) == {0.0, 2.0} and not np.array_equal(a, b)
    assert 0.3 < (a == 0).mean() < 0.7


@pytest.mark.parametrize("case", ["sparse", "binary", "mse", "channels_first", "activations", "float64",
                                  "new_layers", "new_layers_channels_first"])
def test_other_losses_layouts_and_dtypes_match_numpy(fake_cupy, case):
    x, y = data(12)
    make, loss, targets = {
        "sparse": (tutorial, "sparse_categorical_crossentropy", y.argmax(axis=1)),
        "binary": (flat_model(3, "sigmoid"), "binary_crossentropy", y[:, :3]),
        "mse": (flat_model(10, "linear"), "mse", y),
        "channels_first": (channels_first_model, "categorical_crossentropy", y),
        "activations": (activations_model, "categorical_crossentropy", y),
        "float64": (float64_model, "categorical_crossentropy", y),
        "new_layers": (new_layers_model, "categorical_crossentropy", y),
        "new_layers_channels_first": (new_layers_channels_first_model, "categorical_crossentropy", y),
    }[case]
    inputs = np.moveaxis(x, -1, 1).copy() if "channels_first" in case else x
    cpu, gpu = twins(make, optimizers.Adam, loss=loss, metrics=["accuracy"])
    for _ in range(2):
        np.testing.assert_allclose(gpu.train_on_batch(inputs, targets), cpu.train_on_batch(inputs, targets),
                                   rtol=1e-5)
    assert_same_weights(gpu, cpu)
    np.testing.assert_allclose(gpu.predict(inputs), cpu.predict(inputs), **FLOAT32)


def _spaced(shape, seed):
    n = int(np.prod(shape))
    return ((np.random.default_rng(seed).permutation(n) - n / 2) * 1e-2 + 2.5e-3).reshape(shape)


@pytest.mark.parametrize("make", [
    lambda: Conv2D(3, (3, 2), strides=2, padding="same", activation="tanh", dtype="float64",
                   bias_initializer="random_normal"),
    lambda: Conv2D(3, (3, 2), activation="relu", dtype="float64", bias_initializer="random_normal"),
    lambda: MaxPooling2D((2, 2), dtype="float64"),
    lambda: MaxPooling2D((3, 3), strides=2, padding="same", dtype="float64"),
    lambda: AveragePooling2D((2, 2), padding="same", dtype="float64"),
    lambda: Dropout(0.4, dtype="float64"),
    lambda: BatchNormalization(dtype="float64", gamma_initializer="random_normal"),
    lambda: Activation("softmax", dtype="float64"),
    lambda: Flatten(dtype="float64"),
    lambda: Conv2D(3, (2, 2), dilation_rate=(2, 1), padding="same", activation="gelu", dtype="float64"),
    lambda: GlobalMaxPooling2D(dtype="float64"),
    lambda: GlobalAveragePooling2D(keepdims=True, dtype="float64"),
    lambda: ZeroPadding2D(((1, 0), (0, 2)), dtype="float64"),
    lambda: Reshape((-1, 4), dtype="float64"),
    lambda: Softmax(axis=(1, 2), dtype="float64"),
    lambda: ReLU(max_value=0.2, negative_slope=0.3, threshold=0.01, dtype="float64"),
    lambda: LeakyReLU(dtype="float64"),
    *[lambda name=name: Activation(name, dtype="float64") for name in sorted(ACTIVATIONS)],
], ids=["conv_same_s2", "conv_valid_relu", "maxpool", "maxpool_same_s2", "avgpool_same", "dropout",
        "batchnorm", "softmax", "flatten", "conv_dilated_gelu", "global_max", "global_avg_keepdims", "zero_padding",
        "reshape", "softmax_layer", "relu_options", "leaky_relu", *sorted(ACTIVATIONS)])
def test_layer_gradients_on_the_gpu_path(fake_cupy, make):
    """tests/test_gpu.py's float64 gradient checks; Dropout needs its GPU masks replayed."""
    x = fake_cupy.asarray(_spaced((3, 5, 4, 2), 1))
    layer = make()
    errors = check_gradients(layer, x)
    assert max(errors.values()) < 1e-6, errors
    assert all(get_array_module(p) is fake_cupy for p in layer.params.values())


def test_dense_gradients_on_the_gpu_path(fake_cupy):
    errors = check_gradients(Dense(4, activation="sigmoid", dtype="float64"), fake_cupy.asarray(_spaced((3, 6), 2)))
    assert max(errors.values()) < 1e-6, errors


def test_a_dilated_convolution_runs_plain_cupy_expressions(fake_cupy):
    """The CUDA im2col has no dilation: a dilated convolution must not launch it, and must still
    agree with the NumPy backend."""
    x = _spaced((2, 7, 6, 3), 3).astype(np.float32)
    layer = Conv2D(4, 3, dilation_rate=(2, 1), padding="same", bias_initializer="random_normal")
    layer.build(x.shape[1:])
    y, cache = layer.forward(fake_cupy.asarray(x))
    dx, grads = layer.backward(fake_cupy.ones_like(y), cache)
    assert not {"im2col", "col2im"} & set(fake_cupy.launches), fake_cupy.launches
    minicnn.set_backend("numpy")
    reference = Conv2D(4, 3, dilation_rate=(2, 1), padding="same")
    reference.build(x.shape[1:])
    reference.set_weights(layer.get_weights())
    y_cpu, cache_cpu = reference.forward(x)
    dx_cpu, grads_cpu = reference.backward(np.ones_like(y_cpu), cache_cpu)
    for got, want in [(y, y_cpu), (dx, dx_cpu), (grads["kernel"], grads_cpu["kernel"])]:
        np.testing.assert_allclose(to_numpy(got), want, **FLOAT32)
