"""keras.ops' core (minicnn/ops/core.py): conversions, casts, shapes, constants and stop_gradient,
against NumPy; which of them pass a gradient, on NumPy and the fake CuPy."""
import numpy as np
import pytest

from minicnn import ops
from minicnn.tape import GradientTape, Tensor
from ops.checks import distinct


def test_cast_between_floats_passes_the_gradient_back_in_the_input_dtype(device):
    x = distinct((2, 3), 1)
    R = np.random.default_rng(0).standard_normal(x.shape)
    with device.on():
        dx = device.put(x)
        with device.no_transfers(), GradientTape() as tape:
            tape.watch(dx)
            y = ops.cast(dx, "float32")
            back = ops.cast(y, np.float64)
        g = tape.gradient(back, dx, output_gradients=device.put(R))
        assert device.get(y).dtype == np.float32 and device.get(back).dtype == np.float64
        np.testing.assert_array_equal(device.get(y), x.astype(np.float32))
        assert device.get(g).dtype == np.float64
        np.testing.assert_array_equal(device.get(g), R.astype(np.float32).astype(np.float64))


@pytest.mark.parametrize("dtype", ["int32", "int64", "bool"])
def test_cast_to_integers_or_bool_stops_the_gradient(device, dtype):
    x = np.array([[1.7, -0.2, 0.0]])
    with device.on():
        dx = device.put(x)
        with device.no_transfers(), GradientTape() as tape:
            tape.watch(dx)
            y = ops.cast(dx, dtype)
            total = ops.sum(ops.multiply(ops.cast(y, "float64"), dx))
        np.testing.assert_array_equal(device.get(y), x.astype(dtype))
        # The only path left is the direct factor dx: its gradient is the cast values themselves.
        np.testing.assert_array_equal(device.get(tape.gradient(total, dx)), x.astype(dtype).astype(np.float64))


def test_stop_gradient_gives_the_values_and_no_gradient(device):
    x = distinct((3,), 2)
    with device.on():
        dx = device.put(x)
        with device.no_transfers(), GradientTape() as tape:
            tape.watch(dx)
            held = ops.stop_gradient(ops.square(dx))
            y = ops.sum(ops.multiply(held, dx))
        np.testing.assert_array_equal(device.get(held), x * x)
        np.testing.assert_allclose(device.get(tape.gradient(y, dx)), x * x)  # not 3 x**2


@pytest.mark.parametrize("name", ["zeros_like", "ones_like"])
def test_zeros_and_ones_like_keep_shape_and_dtype_and_carry_no_gradient(device, name):
    x = distinct((2, 3), 3)
    with device.on():
        dx = device.put(x)
        with GradientTape() as tape:
            tape.watch(dx)
            y = getattr(ops, name)(dx)
            z = getattr(ops, name)(dx, dtype="int32")
            total = ops.sum(ops.add(y, dx))
        np.testing.assert_array_equal(device.get(y), getattr(np, name)(x))
        assert device.get(z).dtype == np.int32
        np.testing.assert_array_equal(device.get(tape.gradient(total, dx)), np.ones_like(x))
    full = ops.full_like(x, 2.5)
    assert full.dtype == x.dtype and (full == 2.5).all()


def test_constants_are_float32_on_the_current_backend(device):
    with device.on():
        for y, expected in [(ops.zeros((2, 3)), np.zeros((2, 3))), (ops.ones(4), np.ones(4)),
                            (ops.full((2,), 7.0), np.full(2, 7.0)), (ops.eye(2, 3, k=1), np.eye(2, 3, 1))]:
            assert device.get(y).dtype == np.float32
            np.testing.assert_array_equal(device.get(y), expected)
        np.testing.assert_array_equal(device.get(ops.arange(1, 7, 2)), [1, 3, 5])
        assert device.get(ops.zeros((2,), dtype="int32")).dtype == np.int32


def test_convert_to_tensor_numbers_lists_and_arrays(device):
    with device.on():
        y = ops.convert_to_tensor([[1.0, 2.0]])
        assert device.get(y).dtype == np.float32
        on_device = device.put(np.arange(3.0))
        assert ops.convert_to_tensor(on_device) is on_device
        assert device.get(ops.convert_to_tensor(np.arange(3))).dtype == np.arange(3).dtype
        np.testing.assert_array_equal(ops.convert_to_numpy(ops.convert_to_tensor([1, 2], dtype="float64")), [1, 2])
    t = Tensor(np.ones(2))
    assert ops.convert_to_tensor(t) is t
    assert ops.convert_to_tensor(t, dtype="float32").dtype == np.float32
    with pytest.raises(ValueError, match="sparse"):
        ops.convert_to_tensor(np.ones(2), sparse=True)


def test_shape_dtype_size_and_predicates():
    x = np.zeros((2, 3), np.float32)
    assert ops.shape(x) == (2, 3) and ops.shape(Tensor(x)) == (2, 3)
    assert ops.dtype(x) == "float32" and ops.size(x) == 6
    assert ops.is_tensor(x) and ops.is_tensor(Tensor(x)) and not ops.is_tensor([1, 2])
    v = np.array([1.5, np.nan, -np.inf])
    np.testing.assert_array_equal(ops.isnan(v), np.isnan(v))
    np.testing.assert_array_equal(ops.isfinite(v), np.isfinite(v))
    np.testing.assert_array_equal(ops.floor(np.array([1.5, -1.5])), [1, -2])
    np.testing.assert_array_equal(ops.ceil(np.array([1.5, -1.5])), [2, -1])
    np.testing.assert_array_equal(ops.round(np.array([1.25, 2.5]), 1), np.round([1.25, 2.5], 1))
    assert bool(ops.all(np.array([1, 1]))) and not bool(ops.any(np.array([0, 0])))
