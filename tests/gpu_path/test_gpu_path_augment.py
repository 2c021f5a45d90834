"""ImageDataGenerator on minicnn's CuPy code path (run on the CPU by tests/fakecupy.py): batches of
device images are built on the device, never read back, and equal the NumPy path's."""
import numpy as np
import pytest

from minicnn.preprocessing.affine import FILL_MODES
from minicnn.preprocessing.image import ImageDataGenerator
from minicnn.utils.prefetch import Prefetcher


@pytest.mark.parametrize("fill_mode", FILL_MODES)
def test_device_batches_equal_host_batches(fake_cupy, fill_mode):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (20, 8, 7, 3), dtype=np.uint8)
    y = rng.integers(0, 10, 20)
    options = dict(rotation_range=30, width_shift_range=0.2, height_shift_range=2, shear_range=10,
                   zoom_range=0.2, channel_shift_range=20, horizontal_flip=True, vertical_flip=True,
                   fill_mode=fill_mode, cval=5, rescale=1 / 255, featurewise_center=True, samplewise_center=True,
                   samplewise_std_normalization=True)
    host, device = ImageDataGenerator(**options), ImageDataGenerator(**options)
    x_dev = fake_cupy.asarray(x)
    host.fit(x)
    device.fit(x_dev)
    np.testing.assert_allclose(device.mean, host.mean, rtol=1e-6)
    expected = list(Prefetcher(host.flow(x, y, batch_size=8, seed=3), steps=4))
    fake_cupy.transfers.reset()
    got = list(Prefetcher(device.flow(x_dev, y, batch_size=8, seed=3), steps=4))
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    for (xb, yb), (eb, ey) in zip(got, expected):
        assert type(xb).__module__ == "cupy" and xb.dtype == np.float32
        np.testing.assert_array_equal(yb, ey)
        np.testing.assert_allclose(xb.get(), eb, atol=2e-5)


def test_flips_alone_stay_on_the_device(fake_cupy):
    x = np.random.default_rng(1).uniform(size=(6, 4, 5, 1)).astype(np.float32)
    g = ImageDataGenerator(horizontal_flip=True, vertical_flip=True)
    got = g.random_transform(fake_cupy.asarray(x), seed=2)
    assert type(got).__module__ == "cupy" and fake_cupy.transfers.count == 0
    np.testing.assert_array_equal(got.get(), g.random_transform(x, seed=2))
