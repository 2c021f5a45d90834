"""UpSampling2D, Cropping2D and the noise layers on the fake CuPy (tests/fakecupy.py): results,
gradients and draws stay on the device, nothing goes to the host, the values are NumPy's, and the
float64 gradient checks pass with the GPU draws replayed. They are plain CuPy expressions (no
kernel): each makes a handful of passes, counted here so a regression shows."""
import numpy as np
import pytest

from minicnn.backend import to_numpy
from minicnn.layers import Cropping2D, GaussianDropout, GaussianNoise, SpatialDropout2D, UpSampling2D
from minicnn.nn.activations import mish_backward, mish_forward, relu6_backward, relu6_forward
from minicnn.utils import check_gradients, set_random_seed

DETERMINISTIC = {
    "nearest": lambda f: UpSampling2D((2, 3), data_format=f),
    "bilinear": lambda f: UpSampling2D((3, 2), interpolation="bilinear", data_format=f),
    "cropping": lambda f: Cropping2D(((1, 0), (2, 1)), data_format=f),
}
RANDOM = {
    "spatial_dropout": lambda f: SpatialDropout2D(0.4, data_format=f),
    "gaussian_noise": lambda f: GaussianNoise(0.5),
    "gaussian_dropout": lambda f: GaussianDropout(0.3),
}
# The calls over device memory the fake records for one forward and one backward (channels-last):
# two small matrix products each way for bilinear, one sum for nearest's backward. (The copies of
# slicing and reshaping are not counted: one per direction each.)
MOST_PASSES = {"nearest": 1, "bilinear": 4, "cropping": 0}


def host_input(data_format):
    x = np.random.default_rng(0).standard_normal((2, 4, 5, 3)).astype(np.float32)
    return x.transpose(0, 3, 1, 2).copy() if data_format == "channels_first" else x


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("name", sorted(DETERMINISTIC))
def test_deterministic_layers_on_the_device_give_numpys_results(fake_cupy, name, data_format):
    x = host_input(data_format)
    layer = DETERMINISTIC[name](data_format)
    layer.build(x.shape[1:])
    y, cache = layer.forward(x)
    dx, _ = layer.backward(y, cache)
    x_d = fake_cupy.asarray(x)
    fake_cupy.transfers.reset()
    fake_cupy.passes.clear()
    y_d, cache_d = layer.forward(x_d)
    dx_d, grads = layer.backward(y_d, cache_d)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    if data_format == "channels_last":
        assert len(fake_cupy.passes) <= MOST_PASSES[name], fake_cupy.passes
    for got, want in [(y_d, y), (dx_d, dx)]:
        assert type(got).__module__ == "cupy" and got.dtype == np.float32
        np.testing.assert_allclose(got.get(), want, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("name", sorted(RANDOM))
def test_random_layers_draw_on_the_device(fake_cupy, name):
    set_random_seed(0)
    x_d = fake_cupy.asarray(host_input("channels_last"))
    layer = RANDOM[name]("channels_last")
    layer.build(x_d.shape[1:])
    fake_cupy.transfers.reset()
    assert layer.forward(x_d, training=False)[0] is x_d
    y_d, cache = layer.forward(x_d, training=True)
    dx_d, _ = layer.backward(y_d, cache)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    assert type(y_d).__module__ == "cupy" and type(dx_d).__module__ == "cupy" and y_d.dtype == np.float32
    assert not np.array_equal(y_d.get(), x_d.get())


@pytest.mark.parametrize("data_format", ["channels_last", "channels_first"])
@pytest.mark.parametrize("make", [*DETERMINISTIC.values(), *RANDOM.values()])
def test_gradients_on_the_gpu_path(fake_cupy, make, data_format):
    set_random_seed(1)
    x = fake_cupy.asarray(host_input(data_format).astype(np.float64))
    layer = make(data_format)
    layer.dtype = np.dtype("float64")
    errors = check_gradients(layer, x, training=True)
    assert max(errors.values()) < 1e-7, errors


def test_relu6_and_mish_on_the_device(fake_cupy):
    x = np.linspace(-8, 8, 40)
    x_d = fake_cupy.asarray(x)
    for forward, backward, saved in [(relu6_forward, relu6_backward, "y"), (mish_forward, mish_backward, "x")]:
        fake_cupy.transfers.reset()
        y_d = forward(x_d)
        dx_d = backward(fake_cupy.ones_like(x_d), y_d if saved == "y" else x_d)
        assert fake_cupy.transfers.count == 0 and type(dx_d).__module__ == "cupy"
        np.testing.assert_allclose(to_numpy(y_d), forward(x))
        np.testing.assert_allclose(to_numpy(dx_d), backward(np.ones_like(x), forward(x) if saved == "y" else x))
