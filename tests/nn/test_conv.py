"""The plain im2col convolution against a naive loop reference, on configurations hypothesis draws."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import reference
from minicnn.nn.conv import (col2im, conv2d_backward, conv2d_forward, conv_geometry, conv_output_length, conv_padding,
                              im2col)


@st.composite
def conv_configs(draw):
    """N, H, W, C, KH, KW, F, strides, padding, bias: any stride, valid or same padding."""
    KH, KW = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    H = draw(st.integers(KH if padding == "valid" else 1, 9))
    W = draw(st.integers(KW if padding == "valid" else 1, 9))
    N, C, F = draw(st.integers(1, 3)), draw(st.integers(1, 4)), draw(st.integers(1, 5))
    bias = draw(st.booleans())
    return N, H, W, C, KH, KW, F, (sh, sw), padding, bias


@st.composite
def dilated_conv_configs(draw):
    """conv_configs and a dilation (dh, dw), the input grown to hold a valid dilated window. The
    op takes strides and dilation at once, though the layer refuses both above 1 as Keras does."""
    N, H, W, C, KH, KW, F, strides, padding, bias = draw(conv_configs())
    dh, dw = draw(st.sampled_from([(1, 1), (2, 1), (1, 3), (2, 2)]))
    H, W = max(H, (KH - 1) * dh + 1), max(W, (KW - 1) * dw + 1)
    return N, H, W, C, KH, KW, F, strides, padding, bias, (dh, dw)


@given(dilated_conv_configs())
def test_forward_matches_naive_loops(cfg):
    N, H, W, C, KH, KW, F, strides, padding, bias, dilation = cfg
    rng = np.random.default_rng(0)
    x = rng.standard_normal((N, H, W, C))
    Wk = rng.standard_normal((KH, KW, C, F))
    b = rng.standard_normal(F) if bias else None
    y, _ = conv2d_forward(x, Wk, b, strides, padding, dilation)
    np.testing.assert_allclose(y, reference.conv2d(x, Wk, b, strides, padding, dilation), rtol=1e-10, atol=1e-10)


@given(dilated_conv_configs())
def test_col2im_is_the_adjoint_of_im2col(cfg):
    # <im2col(x), c> == <x, col2im(c)> for all x, c: the defining property of the adjoint.
    N, H, W, C, KH, KW, _, strides, padding, _, dilation = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, H, W, C))
    cols = im2col(x, KH, KW, strides, padding, dilation)
    c = rng.standard_normal(cols.shape)
    lhs = (cols * c).sum()
    rhs = (x * col2im(c, x.shape, KH, KW, strides, padding, dilation)).sum()
    assert lhs == pytest.approx(rhs, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("n,k,s,expected", [
    (28, 3, 1, (1, 1)), (28, 2, 2, (0, 0)), (5, 2, 1, (0, 1)), (6, 3, 2, (0, 1)), (7, 3, 2, (1, 1)), (1, 5, 1, (2, 2)),
])
def test_same_padding_matches_tensorflow(n, k, s, expected):
    # TensorFlow's rule: the extra row of an odd total padding goes after (bottom/right).
    assert conv_padding(n, k, s, "same") == expected
    assert conv_output_length(n, k, s, "same") == -(-n // s)


def test_backward_shapes_and_bias_gradient():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 6, 5, 3))
    Wk = rng.standard_normal((3, 2, 3, 4))
    y, cache = conv2d_forward(x, Wk, np.zeros(4), (2, 1), "same")
    dy = rng.standard_normal(y.shape)
    dx, dW, db = conv2d_backward(dy, cache)
    assert dx.shape == x.shape and dW.shape == Wk.shape
    np.testing.assert_allclose(db, dy.sum(axis=(0, 1, 2)))


@pytest.mark.parametrize("n,k,d,expected", [(7, 3, 2, (2, 2)), (6, 3, 2, (2, 2)), (5, 2, 3, (1, 2)), (2, 3, 3, (3, 3))])
def test_dilated_same_padding_uses_the_effective_kernel(n, k, d, expected):
    # TensorFlow pads a dilated kernel as one of size (k - 1) * d + 1: the output keeps the input's size.
    (OH, OW), pads = conv_geometry((1, n, n, 1), k, k, (1, 1), "same", (d, d))
    assert (OH, OW) == (n, n) and pads == (expected, expected)
    if n > (k - 1) * d:
        assert conv_geometry((1, n, n, 1), k, k, (1, 1), "valid", (d, d))[0] == (n - (k - 1) * d,) * 2
