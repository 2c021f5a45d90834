"""keras.ops' neural-network functions (minicnn/ops/nn.py): activations against their formulas in
NumPy, conv/depthwise_conv/conv_transpose/pooling against the naive loops of tests/reference.py
over paddings, strides, dilations and both data formats drawn by hypothesis, one_hot and the
crossentropies against NumPy; gradients on the tape against central differences, on NumPy and the
fake CuPy."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import reference
from minicnn import backend, ops
from minicnn.tape import GradientTape
from ops.checks import away_from_zero, check_op, distinct


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


def _softplus(x):
    return np.log1p(np.exp(x))


_erf = np.vectorize(math.erf)
SELU_ALPHA, SELU_SCALE = 1.6732632423543772, 1.0507009873554805

ACTIVATIONS = {
    "relu": lambda x: np.maximum(x, 0), "relu6": lambda x: np.clip(x, 0, 6), "sigmoid": _sigmoid,
    "tanh": np.tanh, "elu": lambda x: np.where(x > 0, x, np.expm1(x)),
    "selu": lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * np.expm1(x)), "softplus": _softplus,
    "softsign": lambda x: x / (1 + np.abs(x)), "silu": lambda x: x * _sigmoid(x), "swish": lambda x: x * _sigmoid(x),
    "hard_sigmoid": lambda x: np.clip(x / 6 + 0.5, 0, 1), "hard_silu": lambda x: x * np.clip(x / 6 + 0.5, 0, 1),
    "hard_swish": lambda x: x * np.clip(x / 6 + 0.5, 0, 1), "leaky_relu": lambda x: np.where(x > 0, x, 0.2 * x),
    "gelu": lambda x: 0.5 * x * (1 + np.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3))),
    "log_sigmoid": lambda x: -np.log1p(np.exp(-x)), "mish": lambda x: x * np.tanh(_softplus(x)),
}


@settings(max_examples=3)
@pytest.mark.parametrize("name", sorted(ACTIVATIONS))
@given(shape=st.lists(st.integers(1, 3), max_size=3).map(tuple))
def test_activations_match_their_formulas(device, name, shape):
    x = away_from_zero(shape, 1, high=4.0) * (2.0 if name == "relu6" else 1.0)  # relu6: both caps reached
    check_op(device, getattr(ops, name), x, reference=ACTIVATIONS[name], rtol=1e-9)


def test_activation_options_by_keras_names(device):
    x = away_from_zero((2, 3), 2)
    check_op(device, lambda x: ops.gelu(x, approximate=False), x,
             reference=lambda x: 0.5 * x * (1 + _erf(x / math.sqrt(2))), rtol=1e-9)
    check_op(device, lambda x: ops.leaky_relu(x, negative_slope=0.3), x,
             reference=lambda x: np.where(x > 0, x, 0.3 * x))
    check_op(device, lambda x: ops.elu(x, alpha=0.5), x, reference=lambda x: np.where(x > 0, x, 0.5 * np.expm1(x)))


@settings(max_examples=10)
@given(shape=st.lists(st.integers(1, 3), min_size=1, max_size=3).map(tuple), data=st.data())
def test_softmax_and_log_softmax_along_any_axis(device, shape, data):
    axis = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = away_from_zero(shape, 3, high=3.0)

    def log_softmax(x):
        z = x - x.max(axis=axis, keepdims=True)
        return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))
    check_op(device, lambda x: ops.softmax(x, axis=axis), x, reference=lambda x: np.exp(log_softmax(x)))
    check_op(device, lambda x: ops.log_softmax(x, axis=axis), x, reference=log_softmax)


@st.composite
def conv_configs(draw):
    """N, H, W, C, KH, KW, F, strides, padding, dilation, data_format: what keras.ops.conv takes."""
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = draw(st.sampled_from([1, 2, (1, 2), (2, 1)]))
    dilation = draw(st.sampled_from([1, 2, (1, 2)])) if strides == 1 else 1
    dh, dw = (dilation, dilation) if isinstance(dilation, int) else dilation
    padding = draw(st.sampled_from(["valid", "same", "SAME"]))
    H = draw(st.integers((KH - 1) * dh + 1, (KH - 1) * dh + 3))
    W = draw(st.integers((KW - 1) * dw + 1, (KW - 1) * dw + 3))
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 2)), draw(st.integers(1, 2))
    return N, H, W, C, KH, KW, F, strides, padding, dilation, draw(st.sampled_from(["channels_last", "channels_first"]))


def _pair(v):
    return (v, v) if isinstance(v, int) else tuple(v)


def _channels(fn, data_format):
    """``fn`` of channels-last images, as one of images in ``data_format`` (the reference's loops are channels-last)."""
    if data_format == "channels_last":
        return fn
    return lambda x, *rest: np.transpose(fn(np.transpose(x, (0, 2, 3, 1)), *rest), (0, 3, 1, 2))


def _image(N, H, W, C, data_format, seed):
    x = away_from_zero((N, H, W, C), seed)
    return x if data_format == "channels_last" else np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))


@settings(max_examples=12)
@given(cfg=conv_configs())
def test_conv_against_naive_loops(device, cfg):
    N, H, W, C, KH, KW, F, strides, padding, dilation, data_format = cfg
    x, k = _image(N, H, W, C, data_format, 4), away_from_zero((KH, KW, C, F), 5)
    ref = _channels(lambda x, k: reference.conv2d(x, k, None, _pair(strides), padding.lower(), _pair(dilation)),
                    data_format)
    check_op(device, lambda x, k: ops.conv(x, k, strides, padding, data_format, dilation), x, k, reference=ref)


@settings(max_examples=8)
@given(cfg=conv_configs())
def test_depthwise_conv_against_naive_loops(device, cfg):
    N, H, W, C, KH, KW, M, strides, padding, dilation, data_format = cfg
    x, k = _image(N, H, W, C, data_format, 6), away_from_zero((KH, KW, C, M), 7)
    ref = _channels(lambda x, k: reference.depthwise_conv2d(x, k, None, _pair(strides), padding.lower(),
                                                            _pair(dilation)), data_format)
    check_op(device, lambda x, k: ops.depthwise_conv(x, k, strides, padding, data_format, dilation), x, k,
             reference=ref)


@settings(max_examples=8)
@given(cfg=conv_configs())
def test_conv_transpose_against_keras_definition(device, cfg):
    N, H, W, C, KH, KW, F, strides, padding, dilation, data_format = cfg
    x, k = _image(N, H, W, C, data_format, 8), away_from_zero((KH, KW, F, C), 9)
    ref = _channels(lambda x, k: reference.conv2d_transpose(x, k, None, _pair(strides), padding.lower(), None,
                                                            _pair(dilation)), data_format)
    check_op(device, lambda x, k: ops.conv_transpose(x, k, strides, padding, None, data_format, dilation), x, k,
             reference=ref)


@st.composite
def pool_configs(draw):
    PH, PW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = draw(st.sampled_from([None, 1, 2, (1, 2)]))
    padding = draw(st.sampled_from(["valid", "same"]))
    H, W = draw(st.integers(PH, PH + 3)), draw(st.integers(PW, PW + 3))
    return draw(st.integers(1, 2)), H, W, draw(st.integers(1, 2)), (PH, PW), strides, padding, \
        draw(st.sampled_from(["channels_last", "channels_first"]))


@settings(max_examples=12)
@pytest.mark.parametrize("kind", ["max", "average"])
@given(cfg=pool_configs())
def test_pooling_against_naive_loops(device, kind, cfg):
    N, H, W, C, pool, strides, padding, data_format = cfg
    x = distinct((N, H, W, C), 10)  # distinct: each window has one maximum
    x = x if data_format == "channels_last" else np.ascontiguousarray(np.transpose(x, (0, 3, 1, 2)))
    ref = _channels(lambda x: reference.pool2d(x, pool, _pair(strides or pool), padding, kind), data_format)
    op = ops.max_pool if kind == "max" else ops.average_pool
    check_op(device, lambda x: op(x, pool, strides, padding, data_format), x, reference=ref)


def test_data_format_none_follows_the_global_setting(device):
    x, k = away_from_zero((1, 2, 4, 4), 11), away_from_zero((3, 3, 2, 1), 12)
    backend.set_image_data_format("channels_first")
    try:
        ref = _channels(lambda x, k: reference.conv2d(x, k, None, (1, 1), "valid"), "channels_first")
        check_op(device, lambda x, k: ops.conv(x, k), x, k, reference=ref)
        check_op(device, lambda x: ops.max_pool(x, 2), x,
                 reference=_channels(lambda x: reference.pool2d(x, (2, 2), (2, 2), "valid", "max"), "channels_first"))
    finally:
        backend.set_image_data_format("channels_last")


def test_conv_errors_name_the_problem():
    with pytest.raises(ValueError, match="padding"):
        ops.conv(np.ones((1, 3, 3, 1)), np.ones((2, 2, 1, 1)), padding="full")
    with pytest.raises(ValueError, match="shape"):
        ops.conv(np.ones((3, 3, 1)), np.ones((2, 2, 1, 1)))


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_one_hot_against_numpy_and_without_gradient(device, axis):
    labels = np.array([[0, 2], [1, 3]])
    expected = np.moveaxis(np.eye(4, dtype=np.float32)[labels], -1, axis)
    with device.on():
        y = ops.one_hot(device.put(labels), 4, axis=axis)
        assert device.get(y).dtype == np.float32
        np.testing.assert_array_equal(device.get(y), expected)
    assert ops.one_hot(labels, 4, dtype="int32").dtype == np.int32


def _keras_cce(t, p, axis=-1):
    p = np.clip(p / p.sum(axis=axis, keepdims=True), 1e-7, 1 - 1e-7)
    return -(t * np.log(p)).sum(axis=axis)


def _log_softmax(z, axis=-1):
    z = z - z.max(axis=axis, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=axis, keepdims=True))


def test_crossentropies_against_their_definitions(device):
    rng = np.random.default_rng(13)
    logits = rng.standard_normal((4, 3))
    probs = np.exp(_log_softmax(logits)) * 1.5  # not normalised: Keras normalises first
    labels = np.array([0, 2, 1, 2])
    t = np.eye(3)[labels]
    check_op(device, lambda p: ops.categorical_crossentropy(t, p), probs, reference=lambda p: _keras_cce(t, p))
    check_op(device, lambda z: ops.categorical_crossentropy(t, z, from_logits=True), logits,
             reference=lambda z: -(t * _log_softmax(z)).sum(-1))
    check_op(device, lambda z: ops.categorical_crossentropy(t.T, z, from_logits=True, axis=0), logits.T.copy(),
             reference=lambda z: -(t.T * _log_softmax(z, axis=0)).sum(0))
    check_op(device, lambda z: ops.sparse_categorical_crossentropy(labels, z, from_logits=True), logits,
             reference=lambda z: -(t * _log_softmax(z)).sum(-1))
    check_op(device, lambda p: ops.sparse_categorical_crossentropy(labels[:, None], p), probs,
             reference=lambda p: _keras_cce(t, p))
    y = rng.random((4, 3)) > 0.5
    yt = y.astype(np.float64)
    p = _sigmoid(logits)
    check_op(device, lambda p: ops.binary_crossentropy(yt, p), p,
             reference=lambda p: -(yt * np.log(p) + (1 - yt) * np.log(1 - p)))
    check_op(device, lambda z: ops.binary_crossentropy(yt, z, from_logits=True), logits,
             reference=lambda z: -(yt * np.log(_sigmoid(z)) + (1 - yt) * np.log(1 - _sigmoid(z))))


def test_float32_in_float32_out_for_nn_ops():
    x = away_from_zero((1, 4, 4, 2), 14).astype(np.float32)
    k = np.ones((2, 2, 2, 3), np.float32)
    for y in (ops.relu(x), ops.gelu(x), ops.softmax(x), ops.log_softmax(x), ops.conv(x, k), ops.max_pool(x, 2),
              ops.average_pool(x, 2), ops.categorical_crossentropy(ops.softmax(x), ops.softmax(x))):
        assert type(y) is np.ndarray and y.dtype == np.float32


def test_a_conv_on_the_tape_trains_a_kernel_toward_a_target():
    """The tape's gradient through conv, relu and a mean is a descent direction."""
    x, k = away_from_zero((2, 5, 5, 1), 15), away_from_zero((3, 3, 1, 2), 16) * 0.1
    target = np.ones((2, 3, 3, 2))

    def loss():
        return float(np.mean((ops.relu(ops.conv(x, k)) - target) ** 2))
    before = loss()
    for _ in range(5):
        with GradientTape() as tape:
            tape.watch(k)
            value = ops.mean(ops.square(ops.subtract(ops.relu(ops.conv(x, k)), target)))
        k -= 0.1 * tape.gradient(value, k).numpy()
    assert loss() < before
