"""The transposed, depthwise and separable convolutions on the fake CuPy (tests/fakecupy.py): results
and gradients stay on the device, nothing goes to the host, and the values are NumPy's. Undilated,
their im2col and col2im run as the CUDA kernels of kernels/conv.cu; dilated, as CuPy expressions."""
import numpy as np
import pytest

from minicnn.backend import to_numpy
from minicnn.layers import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from minicnn.nn import conv_transpose, depthwise

CASES = {  # op: (forward, backward, arrays (x, kernels..., bias) as shapes, keyword arguments)
    "transpose same": (conv_transpose.conv2d_transpose_forward, conv_transpose.conv2d_transpose_backward,
                       [(2, 4, 5, 3), (3, 3, 4, 3), (4,)], dict(strides=(2, 2), padding="same")),
    "transpose valid, output_padding": (conv_transpose.conv2d_transpose_forward,
                                        conv_transpose.conv2d_transpose_backward,
                                        [(2, 4, 5, 3), (2, 3, 4, 3), (4,)],
                                        dict(strides=(3, 2), padding="valid", output_padding=(2, 1))),
    "transpose dilated": (conv_transpose.conv2d_transpose_forward, conv_transpose.conv2d_transpose_backward,
                          [(2, 4, 5, 3), (3, 2, 4, 3), None], dict(padding="same", dilation=(2, 1))),
    "depthwise": (depthwise.depthwise_conv2d_forward, depthwise.depthwise_conv2d_backward,
                  [(2, 6, 5, 3), (3, 3, 3, 2), (6,)], dict(strides=(2, 1), padding="same")),
    "depthwise dilated": (depthwise.depthwise_conv2d_forward, depthwise.depthwise_conv2d_backward,
                          [(2, 6, 5, 3), (2, 2, 3, 1), None], dict(dilation=(2, 2))),
    "separable": (depthwise.separable_conv2d_forward, depthwise.separable_conv2d_backward,
                  [(2, 6, 5, 3), (3, 3, 3, 2), (1, 1, 6, 4), (4,)], dict(padding="same")),
}


def assert_device_and_close(device, host):
    if host is None:
        assert device is None
        return
    assert type(device).__module__ == "cupy" and device.dtype == host.dtype == np.float32
    np.testing.assert_allclose(to_numpy(device), host, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("case", sorted(CASES))
def test_ops_on_the_device_give_numpys_results(fake_cupy, case):
    forward, backward, shapes, kwargs = CASES[case]
    rng = np.random.default_rng(0)
    host = [None if s is None else rng.standard_normal(s).astype(np.float32) for s in shapes]
    y, cache = forward(*host, **kwargs)
    dy = rng.standard_normal(y.shape).astype(np.float32)
    grads = backward(dy, cache)
    device = [None if a is None else fake_cupy.asarray(a) for a in host]
    dy_d = fake_cupy.asarray(dy)
    fake_cupy.transfers.reset()
    y_d, cache_d = forward(*device, **kwargs)
    grads_d = backward(dy_d, cache_d)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    assert_device_and_close(y_d, y)
    for g_d, g in zip(grads_d, grads):
        assert_device_and_close(g_d, g)
    if "dilated" not in case:
        assert "col2im" in fake_cupy.launches


@pytest.mark.parametrize("make", [lambda: Conv2DTranspose(3, 3, strides=2, padding="same", activation="relu"),
                                  lambda: DepthwiseConv2D(3, depth_multiplier=2, data_format="channels_first"),
                                  lambda: SeparableConv2D(4, 3, strides=2, activation="tanh")])
def test_layers_on_the_device(fake_cupy, make):
    x = np.random.default_rng(1).standard_normal((2, 6, 6, 3)).astype(np.float32)
    host, dev = make(), make()
    host.build(x.shape[1:])
    host.params = {name: to_numpy(w) for name, w in host.params.items()}  # the NumPy twin
    dev.build(x.shape[1:])  # built on the cupy backend: its weights are device arrays
    dev.set_weights(host.get_weights())
    y, cache = host.forward(x)
    dx, grads = host.backward(y, cache)
    fake_cupy.transfers.reset()
    y_d, cache_d = dev.forward(fake_cupy.asarray(x))
    dx_d, grads_d = dev.backward(y_d, cache_d)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    assert_device_and_close(y_d, y)
    assert_device_and_close(dx_d, dx)
    for name in grads:
        assert_device_and_close(grads_d[name], grads[name])
