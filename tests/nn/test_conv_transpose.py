"""The transposed convolution against Keras's definition written as loops, as the adjoint of Conv2D,
and its backward against central differences, on configurations hypothesis draws."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import reference
from minicnn.nn.conv import conv2d_forward
from minicnn.nn.conv_transpose import (conv2d_transpose_backward, conv2d_transpose_forward, conv_transpose_geometry,
                                        conv_transpose_length)
from minicnn.utils.gradcheck import numerical_gradient, relative_error


@st.composite
def transpose_configs(draw, small=False):
    """N, H, W, C, KH, KW, F, strides, padding, output_padding, dilation, bias. The op takes strides
    and dilation at once, though the layer refuses both above 1 as Keras does."""
    most = 3 if small else 4
    KH, KW = draw(st.integers(1, most)), draw(st.integers(1, most))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    dilation = draw(st.sampled_from([(1, 1), (2, 1), (1, 2), (2, 2)]))
    padding = draw(st.sampled_from(["valid", "same"]))
    output_padding = draw(st.one_of(st.none(), st.tuples(st.integers(0, sh - 1), st.integers(0, sw - 1))))
    H, W = draw(st.integers(2, 3 if small else 5)), draw(st.integers(2, 3 if small else 5))
    N, C, F = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    return N, H, W, C, KH, KW, F, (sh, sw), padding, output_padding, dilation, draw(st.booleans())


def draw_arrays(cfg, seed):
    N, H, W, C, KH, KW, F, *_, bias = cfg
    rng = np.random.default_rng(seed)
    return (rng.standard_normal((N, H, W, C)), rng.standard_normal((KH, KW, F, C)),
            rng.standard_normal(F) if bias else None)


@given(transpose_configs())
def test_forward_matches_keras_definition_as_loops(cfg):
    *_, strides, padding, output_padding, dilation, _ = cfg
    x, Wk, b = draw_arrays(cfg, 0)
    y, _ = conv2d_transpose_forward(x, Wk, b, strides, padding, output_padding, dilation)
    expected = reference.conv2d_transpose(x, Wk, b, strides, padding, output_padding, dilation)
    assert y.shape == expected.shape
    np.testing.assert_allclose(y, expected, rtol=1e-10, atol=1e-10)


@given(transpose_configs())
def test_is_the_adjoint_of_conv2d_with_the_same_arguments(cfg):
    # <conv_transpose(x), g> == <x, conv2d(g)>: Keras's default output size inverts Conv2D's.
    *_, strides, padding, _, dilation, _ = cfg
    x, Wk, _ = draw_arrays(cfg, 1)
    y, _ = conv2d_transpose_forward(x, Wk, None, strides, padding, None, dilation)
    g = np.random.default_rng(2).standard_normal(y.shape)
    z, _ = conv2d_forward(g, Wk, None, strides, padding, dilation)
    assert z.shape == x.shape
    assert (y * g).sum() == pytest.approx((x * z).sum(), rel=1e-10, abs=1e-10)


@given(transpose_configs(small=True))
def test_backward_matches_central_differences(cfg):
    *_, strides, padding, output_padding, dilation, _ = cfg
    x, Wk, b = draw_arrays(cfg, 3)
    y, cache = conv2d_transpose_forward(x, Wk, b, strides, padding, output_padding, dilation)
    R = np.random.default_rng(4).standard_normal(y.shape)

    def loss():
        return float((conv2d_transpose_forward(x, Wk, b, strides, padding, output_padding, dilation)[0] * R).sum())
    dx, dW, db = conv2d_transpose_backward(R, cache)
    assert relative_error(dx, numerical_gradient(loss, x)) < 1e-7
    assert relative_error(dW, numerical_gradient(loss, Wk)) < 1e-7
    if b is not None:
        assert relative_error(db, numerical_gradient(loss, b)) < 1e-7


@pytest.mark.parametrize("n,k,s,d,padding,op,expected", [
    (4, 3, 2, 1, "same", None, 8), (4, 3, 2, 1, "valid", None, 9), (4, 1, 3, 1, "valid", None, 12),
    (4, 3, 2, 1, "valid", 1, 10), (4, 3, 2, 1, "same", 1, 8), (4, 3, 2, 1, "same", 0, 7), (4, 2, 2, 1, "same", 0, 6),
    (5, 3, 1, 2, "same", None, 5), (5, 3, 1, 2, "valid", None, 9),
])
def test_output_lengths_follow_keras(n, k, s, d, padding, op, expected):
    assert conv_transpose_length(n, k, s, d, padding, op)[0] == expected


def test_float32_stays_float32_and_the_bias_gradient_sums_dy():
    rng = np.random.default_rng(5)
    x = rng.standard_normal((2, 3, 4, 3)).astype(np.float32)
    Wk = rng.standard_normal((3, 3, 4, 3)).astype(np.float32)
    y, cache = conv2d_transpose_forward(x, Wk, np.zeros(4, np.float32), (2, 2), "same", (1, 0))
    assert y.shape == (2, 6, 7, 4) and y.dtype == np.float32
    dx, dW, db = conv2d_transpose_backward(y, cache)
    assert (dx.dtype, dW.dtype, db.dtype) == (np.float32,) * 3
    np.testing.assert_allclose(db, y.sum(axis=(0, 1, 2)), rtol=1e-5)


@pytest.mark.parametrize("op", [2, 3, -1])
def test_output_padding_must_be_below_the_stride(op):
    with pytest.raises(ValueError, match="smaller than the stride 2"):
        conv_transpose_geometry((1, 4, 4, 1), 3, 3, (2, 2), "same", (op, 0))


def test_an_empty_output_is_refused():
    # "same" with an even kernel and output_padding 0 on one pixel: (1-1)*1 + 0 + 0 = 0 rows.
    with pytest.raises(ValueError, match="output length would be 0"):
        conv_transpose_length(1, 2, 1, 1, "same", 0)
