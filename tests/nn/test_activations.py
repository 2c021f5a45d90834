"""Each activation against its formula written per element with the standard library's math, its
backward against central differences, and the dtype and overflow behaviour of both."""
import math
import warnings

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import activations as public
from minicnn.nn import activations as ops
from minicnn.utils.gradcheck import numerical_gradient, relative_error

SELU = (1.6732632423543772848170429916717, 1.0507009873554804934193349852946)

# name: the function of one float, independent of minicnn's array code.
SCALAR = {
    "linear": lambda v: v,
    "relu": lambda v: max(v, 0.0),
    "sigmoid": lambda v: 1 / (1 + math.exp(-v)),
    "tanh": math.tanh,
    "elu": lambda v: v if v > 0 else math.exp(v) - 1,
    "selu": lambda v: SELU[1] * (v if v > 0 else SELU[0] * (math.exp(v) - 1)),
    "softplus": lambda v: math.log1p(math.exp(v)),
    "softsign": lambda v: v / (1 + abs(v)),
    "silu": lambda v: v / (1 + math.exp(-v)),
    "swish": lambda v: v / (1 + math.exp(-v)),
    "gelu": lambda v: 0.5 * v * math.erfc(-v / math.sqrt(2)),  # = x/2 (1 + erf(x/sqrt 2)), exact for x << 0
    "hard_sigmoid": lambda v: min(max(v + 3, 0.0), 6.0) / 6,  # relu6(x + 3) / 6
    "exponential": math.exp,
    "leaky_relu": lambda v: v if v > 0 else 0.2 * v,
    "relu6": lambda v: min(max(v, 0.0), 6.0),
    "mish": lambda v: v * math.tanh(math.log1p(math.exp(v)) if v < 30 else v),  # softplus(v) = v past 30
}
ELEMENTWISE = sorted(SCALAR)
TAKES_INPUT = {"silu", "swish", "gelu", "mish"}


def spaced(n, seed, scale=1.0):
    """Values in about [-4, 4] * scale, none within 1e-3 of a kink (0, +-3 for hard_sigmoid, 6 for relu6)."""
    v = np.random.default_rng(seed).uniform(-4, 4, n) * scale
    return np.where(np.min(np.abs(v[:, None] - [0, 3, -3, 6]), axis=1) < 1e-3, v + 0.01, v)


def backward_input(name, x, y):
    return x if name in TAKES_INPUT else y


def test_the_registry_says_which_backward_takes_the_input():
    assert {n for n, (_, _, takes_input) in ops.ACTIVATIONS.items() if takes_input} == TAKES_INPUT
    assert set(ops.ACTIVATIONS) == set(SCALAR) | {"softmax"}


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_forward_matches_the_scalar_formula(name):
    x = np.concatenate([spaced(200, 0), [-30.0, -8.0, 8.0, 30.0]])
    forward = ops.get(name)[0]
    # gelu(-30) = -15 erfc(21.2): erfc loses about z**2 ulps there (minicnn/nn/erf.py).
    rtol = 5e-13 if name == "gelu" else 1e-13
    np.testing.assert_allclose(forward(x), [SCALAR[name](v) for v in x], rtol=rtol, atol=1e-300)


@pytest.mark.parametrize("name", ELEMENTWISE)
def test_backward_matches_central_differences(name):
    forward, backward, _ = ops.get(name)
    x = spaced(40, 1)
    dy = np.random.default_rng(2).standard_normal(x.shape)
    dx = backward(dy, backward_input(name, x, forward(x)))
    numeric = numerical_gradient(lambda: float((forward(x) * dy).sum()), x)
    assert relative_error(dx, numeric) < 1e-8


@pytest.mark.parametrize("name", ELEMENTWISE + ["softmax"])
def test_float32_in_float32_out_both_ways(name):
    forward, backward, _ = ops.get(name)
    x = spaced(12, 3).astype(np.float32).reshape(3, 4)
    y = forward(x)
    assert y.dtype == np.float32
    assert backward(np.ones_like(y), backward_input(name, x, y)).dtype == np.float32


@pytest.mark.parametrize("name", sorted(set(ELEMENTWISE) - {"exponential"}))
def test_extreme_inputs_stay_finite_without_warnings(name):
    forward, backward, _ = ops.get(name)
    x = np.array([-1e4, -700.0, -50.0, 50.0, 700.0, 1e4], dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = forward(x)
        dx = backward(np.ones_like(y), backward_input(name, x, y))
    assert np.all(np.isfinite(y)) and np.all(np.isfinite(dx)), (y, dx)


def test_gelu_tanh_approximation():
    x = spaced(30, 4)
    c = math.sqrt(2 / math.pi)
    expected = [0.5 * v * (1 + math.tanh(c * (v + 0.044715 * v ** 3))) for v in x]
    np.testing.assert_allclose(ops.gelu_forward(x, approximate=True), expected, rtol=1e-13)
    dy = np.ones_like(x)
    numeric = numerical_gradient(lambda: float(ops.gelu_forward(x, approximate=True).sum()), x)
    assert relative_error(ops.gelu_backward(dy, x, approximate=True), numeric) < 1e-8
    # The approximation is close to the exact GELU, not equal to it.
    assert 1e-5 < np.abs(ops.gelu_forward(x, True) - ops.gelu_forward(x)).max() < 1e-3


@pytest.mark.parametrize("x, kwargs, expected", [
    # The examples of keras.activations.relu's docstring (Keras 3).
    ([-10, -5, 0.0, 5, 10], {}, [0, 0, 0, 5, 10]),
    ([-10, -5, 0.0, 5, 10], {"negative_slope": 0.5}, [-5, -2.5, 0, 5, 10]),
    ([-10, -5, 0.0, 5, 10], {"max_value": 5.0}, [0, 0, 0, 5, 5]),
    ([-10, -5, 0.0, 5, 10], {"threshold": 5.0}, [0, 0, 0, 0, 10]),
    ([-10, -5, 0.0, 5, 10], {"negative_slope": 0.5, "max_value": 4.0, "threshold": 1.0}, [-5.5, -3, -0.5, 4, 4]),
])
def test_relu_options_as_keras_documents_them(x, kwargs, expected):
    np.testing.assert_allclose(public.relu(np.array(x), **kwargs), expected)


@given(st.sampled_from([0.0, 0.1, 0.5]), st.sampled_from([None, 1.5, 6.0]), st.sampled_from([0.0, 0.7, -0.4]))
def test_relu_options_backward(negative_slope, max_value, threshold):
    x = spaced(40, 5)
    x = np.where(np.min(np.abs(x[:, None] - [threshold, max_value or 0.0]), axis=1) < 1e-3, x + 0.01, x)
    options = (negative_slope, max_value, threshold)
    expected = [(v if v > threshold else 0.0) for v in x]
    if max_value is not None:
        expected = [min(max(v, 0.0), max_value) for v in expected]
    expected = [e - negative_slope * max(threshold - v, 0.0) for e, v in zip(expected, x)]
    np.testing.assert_allclose(ops.relu_general_forward(x, *options), expected, rtol=1e-14)
    numeric = numerical_gradient(lambda: float(ops.relu_general_forward(x, *options).sum()), x)
    np.testing.assert_allclose(ops.relu_general_backward(np.ones_like(x), x, *options), numeric, atol=1e-8)


@given(st.sampled_from([0.5, 1.0, 2.0]), st.sampled_from([0.0, 0.1, 0.3]))
def test_elu_alpha_and_leaky_slope(alpha, slope):
    x = spaced(30, 6)
    np.testing.assert_allclose(ops.elu_forward(x, alpha), [v if v > 0 else alpha * math.expm1(v) for v in x],
                               rtol=1e-14)
    y = ops.elu_forward(x, alpha)
    numeric = numerical_gradient(lambda: float(ops.elu_forward(x, alpha).sum()), x)
    assert relative_error(ops.elu_backward(np.ones_like(x), y, alpha), numeric) < 1e-8
    y = ops.leaky_relu_forward(x, slope)
    np.testing.assert_allclose(y, [v if v > 0 else slope * v for v in x], rtol=1e-14)
    np.testing.assert_allclose(ops.leaky_relu_backward(np.ones_like(x), y, slope), np.where(x > 0, 1, slope))


def test_hard_sigmoid_is_keras_3s_not_keras_2s():
    x = np.array([-3.5, -2.6, -1.0, 0.0, 2.0, 2.6, 3.5])
    np.testing.assert_allclose(public.hard_sigmoid(x), [0, 0.4 / 6, 2 / 6, 0.5, 5 / 6, 5.6 / 6, 1])
    assert public.hard_sigmoid(np.array([-2.6]))[0] > 0  # Keras 2's 0.2x + 0.5 would be 0 there


def test_the_public_functions_take_lists_and_keep_array_dtypes():
    out = public.gelu([-1.0, 0.0, 1.0])
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [SCALAR["gelu"](v) for v in (-1.0, 0.0, 1.0)], rtol=1e-6)
    assert public.elu(np.zeros(3)).dtype == np.float64
    np.testing.assert_allclose(public.softmax(np.array([[1.0, 1.0], [0.0, math.log(3)]])), [[0.5, 0.5], [0.25, 0.75]])
    np.testing.assert_allclose(public.leaky_relu(np.array([-1.0])), [-0.2])  # Keras 3's default for the function


def test_get_and_serialize():
    assert public.get("swish") is public.silu and public.swish is public.silu
    assert public.get(None) is public.linear and public.get(public.gelu) is public.gelu
    assert public.serialize(public.swish) == "silu" and public.serialize(public.elu) == "elu"
    for name in ops.ACTIVATIONS:
        assert public.get(name) is public.get(public.serialize(public.get(name)))
    with pytest.raises(ValueError, match="relu6"):  # the valid names are listed
        public.get("relu7")
    with pytest.raises(TypeError, match="minicnn.activations"):
        public.get(np.tanh)


def test_relu6_is_relu_capped_at_6_and_the_relu_layers_max_value_6():
    x = np.array([-7.0, -0.5, 0.5, 5.5, 6.5, 100.0])
    numeric = numerical_gradient(lambda: float(public.relu6(x).sum()), x)
    np.testing.assert_allclose(ops.relu6_backward(np.ones_like(x), public.relu6(x)), numeric, atol=1e-8)
    np.testing.assert_array_equal(public.relu6(x), [0, 0, 0.5, 5.5, 6, 6])
    np.testing.assert_array_equal(public.relu6(x), public.relu(x, max_value=6.0))
    dy = np.ones_like(x)
    np.testing.assert_array_equal(ops.relu6_backward(dy, public.relu6(x)), [0, 0, 1, 1, 0, 0])
    np.testing.assert_array_equal(ops.relu6_backward(dy, public.relu6(x)),
                                  ops.relu_general_backward(dy, x, 0.0, 6.0, 0.0))
    # At the caps themselves the gradient is 0, as torch's relu6 (Keras 3's on its torch backend) has it.
    np.testing.assert_array_equal(ops.relu6_backward(np.ones(2), np.array([0.0, 6.0])), [0, 0])


def test_mish_values_from_the_paper():
    # mish(1) = tanh(log(1 + e)); mish has its minimum, about -0.30884, near x = -1.19.
    np.testing.assert_allclose(public.mish(np.array([1.0]))[0], math.tanh(math.log1p(math.e)), rtol=1e-14)
    x = np.linspace(-3, 1, 40001)
    assert abs(public.mish(x).min() - -0.30884) < 1e-5
    assert abs(x[public.mish(x).argmin()] - -1.1924) < 1e-3
