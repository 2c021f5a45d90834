"""The merge ops and layers on the fake CuPy (tests/fakecupy.py): results and gradients stay on the
device, nothing goes to the host, and the values are NumPy's."""
import numpy as np
import pytest

from minicnn.layers import Add, Concatenate, Maximum
from minicnn.nn import merge

SHAPES = {"subtract": [(3,), (4, 3)]}  # the others take three inputs, with broadcasting and a tie


def host_inputs(op):
    rng = np.random.default_rng(0)
    shapes = SHAPES.get(op, [(3,), (4, 3), (4, 1)])
    xs = [np.round(rng.standard_normal((2, *s))).astype(np.float32) for s in shapes]  # rounded: ties
    return xs, rng.standard_normal((2, 4, 3)).astype(np.float32)


def on_device(fake, arrays):
    return [fake.asarray(a) for a in arrays]


def assert_device_and_equal(device, host):
    assert type(device).__module__ == "cupy" and device.dtype == host.dtype
    np.testing.assert_array_equal(device.get(), host)


@pytest.mark.parametrize("op", sorted(merge.ELEMENTWISE))
def test_elementwise_ops_on_the_device_give_numpys_results(fake_cupy, op):
    forward, backward = merge.ELEMENTWISE[op]
    xs, dy = host_inputs(op)
    y, cache = forward(xs)
    dxs = backward(dy, cache)
    xs_d, dy_d = on_device(fake_cupy, xs), fake_cupy.asarray(dy)
    fake_cupy.transfers.reset()
    y_d, cache_d = forward(xs_d)
    dxs_d = backward(dy_d, cache_d)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    assert_device_and_equal(y_d, y)
    for dx_d, dx in zip(dxs_d, dxs):
        assert_device_and_equal(dx_d, dx)


def test_concatenate_on_the_device(fake_cupy):
    xs = [np.random.default_rng(i).standard_normal((2, 3, i + 1)).astype(np.float32) for i in range(3)]
    y, cache = merge.concatenate_forward(on_device(fake_cupy, xs), -1)
    dxs = merge.concatenate_backward(y, cache)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    assert_device_and_equal(y, np.concatenate(xs, axis=-1))
    for dx, x in zip(dxs, xs):
        assert_device_and_equal(dx, x)


@pytest.mark.parametrize("layer", [Add(), Maximum(), Concatenate(axis=1)])
def test_layers_on_the_device(fake_cupy, layer):
    xs = [np.random.default_rng(i).standard_normal((2, 3, 2)).astype(np.float32) for i in range(2)]
    layer.build([x.shape[1:] for x in xs])
    y, cache = layer.forward(xs)
    dxs, _ = layer.backward(y, cache)
    y_d, cache_d = layer.forward(on_device(fake_cupy, xs))
    dxs_d, grads = layer.backward(y_d, cache_d)
    assert fake_cupy.transfers.count == 0 and grads == {}
    assert_device_and_equal(y_d, y)
    for dx_d, dx in zip(dxs_d, dxs):
        assert_device_and_equal(dx_d, dx)
