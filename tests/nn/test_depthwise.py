"""The depthwise convolution against a naive loop reference, and its backward against central
differences, on configurations hypothesis draws."""
import numpy as np
from hypothesis import given, strategies as st

import reference
from minicnn.nn.conv import conv2d_forward
from minicnn.nn.depthwise import depthwise_conv2d_backward, depthwise_conv2d_forward
from minicnn.utils.gradcheck import numerical_gradient, relative_error


@st.composite
def depthwise_configs(draw, small=False):
    """N, H, W, C, KH, KW, M, strides, padding, dilation, bias, the input grown to hold a valid
    dilated window."""
    KH, KW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    strides = draw(st.tuples(st.integers(1, 3), st.integers(1, 3)))
    dh, dw = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2)]))
    padding = draw(st.sampled_from(["valid", "same"]))
    most = 4 if small else 7
    H = max(draw(st.integers(1, most)), (KH - 1) * dh + 1)
    W = max(draw(st.integers(1, most)), (KW - 1) * dw + 1)
    N, C, M = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return N, H, W, C, KH, KW, M, strides, padding, (dh, dw), draw(st.booleans())


def draw_arrays(cfg, seed):
    N, H, W, C, KH, KW, M, *_, bias = cfg
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, H, W, C)), rng.standard_normal((KH, KW, C, M)),
            rng.standard_normal(C * M) if bias else None)


@given(depthwise_configs())
def test_forward_matches_naive_loops(cfg):
    *_, strides, padding, dilation, _ = cfg
    x, Wk, b = draw_arrays(cfg, 0)
    y, _ = depthwise_conv2d_forward(x, Wk, b, strides, padding, dilation)
    np.testing.assert_allclose(y, reference.depthwise_conv2d(x, Wk, b, strides, padding, dilation),
                               rtol=1e-10, atol=1e-10)


@given(depthwise_configs(small=True))
def test_backward_matches_central_differences(cfg):
    *_, strides, padding, dilation, _ = cfg
    x, Wk, b = draw_arrays(cfg, 1)
    y, cache = depthwise_conv2d_forward(x, Wk, b, strides, padding, dilation)
    R = np.random.default_rng(2).standard_normal(y.shape)

    def loss():
        return float((depthwise_conv2d_forward(x, Wk, b, strides, padding, dilation)[0] * R).sum())
    dx, dW, db = depthwise_conv2d_backward(R, cache)
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    assert relative_error(dW, numerical_gradient(loss, Wk)) < 1e-7
    if b is not None:
        assert relative_error(db, numerical_gradient(loss, b)) < 1e-7


def test_is_a_conv2d_with_a_block_diagonal_kernel():
    # Output channel c*M + m reads input channel c only: Keras's order.
    rng = np.random.default_rng(3)
    C, M = 3, 2
    x, Wk = rng.standard_normal((2, 6, 5, C)), rng.standard_normal((3, 3, C, M))
    full = np.zeros((3, 3, C, C * M))
    for c in range(C):
        full[:, :, c, c * M:(c + 1) * M] = Wk[:, :, c]
    y, _ = depthwise_conv2d_forward(x, Wk, None, (2, 1), "same")
    np.testing.assert_allclose(y, conv2d_forward(x, full, None, (2, 1), "same")[0], rtol=1e-12, atol=1e-12)


def test_float32_stays_float32():
    rng = np.random.default_rng(4)
    x = rng.standard_normal((2, 5, 5, 4)).astype(np.float32)
    Wk = rng.standard_normal((3, 3, 4, 2)).astype(np.float32)
    y, cache = depthwise_conv2d_forward(x, Wk, np.zeros(8, np.float32), (1, 1), "same")
    dx, dW, db = depthwise_conv2d_backward(y, cache)
    assert {a.dtype for a in (y, dx, dW, db)} == {np.dtype(np.float32)}
