"""The tape (minicnn/tape.py) as keras.ops use it: Tensor operators with arrays and numbers on
either side record; a value read twice sums its gradients; persistent and nested tapes; sources
the target does not reach; ops on plain arrays with no tape stay plain arrays; float32 stays
float32. Gradients against closed forms."""
import numpy as np
import pytest

from minicnn import ops
from minicnn.tape import GradientTape, Tensor, backpropagate


def test_ops_on_plain_arrays_with_no_tape_give_plain_arrays():
    x = np.arange(6.0).reshape(2, 3)
    for y in (ops.add(x, 1.0), ops.sum(x, axis=0), ops.matmul(x, x.T), ops.reshape(x, (3, 2)), ops.relu(x),
              ops.split(x, 3, axis=1)[0], ops.getitem(x, (0, slice(1, None)))):
        assert type(y) is np.ndarray


def test_an_op_on_a_tensor_gives_a_tensor_even_with_no_tape():
    t = Tensor(np.ones(3))
    y = ops.multiply(t, 2.0)
    assert isinstance(y, Tensor)
    np.testing.assert_array_equal(y.numpy(), [2, 2, 2])


@pytest.mark.parametrize("expression, value, derivative", [
    (lambda t, a: t + a, lambda x, a: x + a, lambda x, a: np.ones_like(x)),
    (lambda t, a: a + t, lambda x, a: a + x, lambda x, a: np.ones_like(x)),
    (lambda t, a: t - a, lambda x, a: x - a, lambda x, a: np.ones_like(x)),
    (lambda t, a: a - t, lambda x, a: a - x, lambda x, a: -np.ones_like(x)),
    (lambda t, a: t * a, lambda x, a: x * a, lambda x, a: a * np.ones_like(x)),
    (lambda t, a: a * t, lambda x, a: a * x, lambda x, a: a * np.ones_like(x)),
    (lambda t, a: t / a, lambda x, a: x / a, lambda x, a: 1 / a * np.ones_like(x)),
    (lambda t, a: a / t, lambda x, a: a / x, lambda x, a: -a / x ** 2),
    (lambda t, a: t ** 2, lambda x, a: x ** 2, lambda x, a: 2 * x),
    (lambda t, a: 2.0 ** t, lambda x, a: 2.0 ** x, lambda x, a: np.log(2.0) * 2.0 ** x),
    (lambda t, a: -t, lambda x, a: -x, lambda x, a: -np.ones_like(x)),
    (lambda t, a: abs(t), lambda x, a: np.abs(x), lambda x, a: np.sign(x)),
    (lambda t, a: t[1:], lambda x, a: x[1:], lambda x, a: np.array([0.0, 1, 1])),
    (lambda t, a: t @ np.ones((3, 2)), lambda x, a: x @ np.ones((3, 2)), lambda x, a: 2 * np.ones_like(x)),
    (lambda t, a: np.ones((2, 3)) @ t, lambda x, a: np.ones((2, 3)) @ x, lambda x, a: 2 * np.ones_like(x)),
], ids=["add", "radd", "sub", "rsub", "mul", "rmul", "div", "rdiv", "pow", "rpow", "neg", "abs", "getitem",
        "matmul", "rmatmul"])
@pytest.mark.parametrize("other", ["number", "array"])
def test_tensor_operators_record_with_numbers_and_arrays_on_either_side(expression, value, derivative, other):
    x = np.array([0.5, -1.5, 2.0])
    a = 3.0 if other == "number" else np.full(3, 3.0)
    with GradientTape() as tape:
        tape.watch(x)
        t = ops.multiply(x, 1.0)  # a Tensor on the tape
        y = expression(t, a)
        assert isinstance(y, Tensor)
        total = ops.sum(y)
    np.testing.assert_allclose(y.numpy(), value(x, a))
    np.testing.assert_allclose(tape.gradient(total, x).numpy(), derivative(x, a))


def test_tensor_comparisons_give_booleans_without_gradient():
    x = np.array([0.5, -1.5, 2.0])
    with GradientTape() as tape:
        tape.watch(x)
        t = ops.multiply(x, 1.0)
        masks = [t > 0, t >= 0.5, t < 0, t <= -1.5, 0 < t, np.zeros(3) < t]
        total = ops.sum(ops.cast(masks[0], "float64"))
    for m, expected in zip(masks, [x > 0, x >= 0.5, x < 0, x <= -1.5, x > 0, x > 0]):
        assert isinstance(m, Tensor) and m.dtype == bool
        np.testing.assert_array_equal(m.numpy(), expected)
    assert tape.gradient(total, x) is None


def test_a_value_read_twice_sums_its_gradients():
    x = np.array([1.0, 2.0, -3.0])
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(ops.add(ops.multiply(x, x), ops.exp(x)) * x)  # x read four times
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 3 * x ** 2 + np.exp(x) * (1 + x))


def test_a_persistent_tape_gives_gradients_twice_and_a_plain_one_refuses():
    x = np.array([1.0, 2.0])
    with GradientTape(persistent=True) as tape:
        tape.watch(x)
        y, z = ops.sum(ops.square(x)), ops.sum(ops.exp(x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * x)
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), np.exp(x))
    with GradientTape() as once:
        once.watch(x)
        y = ops.sum(x)
    once.gradient(y, x)
    with pytest.raises(RuntimeError, match="persistent"):
        once.gradient(y, x)


def test_a_source_the_target_does_not_reach_gets_none_or_zeros():
    x, w = np.array([1.0, 2.0]), np.array([3.0, 4.0], np.float32)
    with GradientTape(persistent=True) as tape:
        tape.watch([x, w])
        y = ops.sum(ops.square(x))
        unused = ops.multiply(w, 2.0)
    assert tape.gradient(y, [x, w])[1] is None
    zero = tape.gradient(y, [x, w], unconnected_gradients="zero")[1]
    assert zero.dtype == np.float32 and (zero.numpy() == 0).all()
    assert tape.gradient(unused, x) is None


def test_nested_tapes_each_record_what_runs_inside_them():
    x, w = np.array([1.0, -2.0]), np.array([0.5, 3.0])
    with GradientTape() as outer:
        outer.watch(w)
        with GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.multiply(ops.square(x), w))
        z = ops.multiply(y, 2.0)
    np.testing.assert_allclose(inner.gradient(y, x).numpy(), 2 * x * w)
    np.testing.assert_allclose(outer.gradient(z, w).numpy(), 2 * x ** 2)


def test_backpropagate_on_records_with_a_random_upstream_gradient():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    R = np.random.default_rng(0).standard_normal((2,))
    with GradientTape() as tape:
        tape.watch(x)
        y = ops.mean(ops.square(x), axis=1)
    grads = backpropagate(tape._records, [(id(y), y.data, R)])
    np.testing.assert_allclose(grads[id(x)], R[:, None] * x)


def test_float32_in_float32_out_on_the_tape_with_python_numbers():
    x = np.array([1.0, 2.0], np.float32)
    with GradientTape() as tape:
        tape.watch(x)
        t = ops.multiply(x, 1.0)
        ys = [t + 1, 2.5 * t, t / 3, t ** 2, 1.0 - t, ops.sqrt(t), ops.mean(t), ops.softmax(t), ops.maximum(t, 1.5)]
        total = ops.sum(ops.stack([ops.sum(y) for y in ys]))
    assert all(y.dtype == np.float32 for y in ys)
    assert tape.gradient(total, x).dtype == np.float32


def test_iterating_and_reshaping_a_tensor_records():
    x = np.arange(6.0).reshape(3, 2)
    with GradientTape() as tape:
        tape.watch(x)
        t = ops.multiply(x, 1.0)
        rows = [r for r in t]
        y = ops.sum(rows[0] * 2 + rows[2]) + ops.sum(t.T.reshape(-1)[:2])
    np.testing.assert_array_equal(tape.gradient(y, x).numpy(), [[3, 2], [1, 0], [1, 1]])


def test_operators_between_device_arrays_and_tensors_record_and_stay_on_the_device(device):
    x, a = np.array([1.5, 2.0]), np.array([3.0, 1.0])
    with device.on():
        dx, da = device.put(x), device.put(a)
        with device.no_transfers(), GradientTape() as tape:
            tape.watch(dx)
            t = ops.multiply(dx, 1.0)
            outs = [da + t, da * t, t ** 2, da @ t, da - t, da / t, da < t]
            total = ops.sum(outs[0] + outs[1] + outs[2] + outs[4] + outs[5]) + outs[3]
            grad = tape.gradient(total, dx)
        assert all(isinstance(o, Tensor) for o in outs)
        np.testing.assert_array_equal(device.get(outs[6]), a < x)
        np.testing.assert_allclose(device.get(grad), 1 + a + 2 * x - 1 - a / x ** 2 + a)
