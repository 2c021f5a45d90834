"""The upsampling ops against loops over output pixels written from Keras 3's rule (half-pixel
centres, clamped at the borders), their backward against central differences and as the adjoint."""
import math

import numpy as np
from hypothesis import given, strategies as st

from minicnn.nn.resampling import interpolation_matrix, upsample2d_backward, upsample2d_forward
from minicnn.utils.gradcheck import numerical_gradient, relative_error


def naive_upsample(x, size, interpolation):
    """y[n, i, j, c] one output pixel at a time, from the source point each samples."""
    N, H, W, C = x.shape
    sh, sw = size
    y = np.zeros((N, H * sh, W * sw, C))
    for i in range(H * sh):
        for j in range(W * sw):
            if interpolation == "nearest":
                y[:, i, j] = x[:, i // sh, j // sw]
                continue
            # TensorFlow's half_pixel_centers: source point, its floor clamped to the image, the
            # next pixel clamped to the last one, weights from the distance to the floor.
            u, v = (i + 0.5) / sh - 0.5, (j + 0.5) / sw - 0.5
            top, left = max(math.floor(u), 0), max(math.floor(v), 0)
            bottom, right = min(math.ceil(u), H - 1), min(math.ceil(v), W - 1)
            a, b = u - math.floor(u), v - math.floor(v)
            y[:, i, j] = ((1 - a) * ((1 - b) * x[:, top, left] + b * x[:, top, right])
                          + a * ((1 - b) * x[:, bottom, left] + b * x[:, bottom, right]))
    return y


configs = st.tuples(st.integers(1, 2), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3),
                    st.tuples(st.integers(1, 4), st.integers(1, 4)), st.sampled_from(["nearest", "bilinear"]))


@given(configs)
def test_forward_matches_the_loops(cfg):
    N, H, W, C, size, interpolation = cfg
    x = np.random.default_rng(0).standard_normal((N, H, W, C))
    np.testing.assert_allclose(upsample2d_forward(x, size, interpolation), naive_upsample(x, size, interpolation),
                               rtol=1e-13, atol=1e-13)


@given(configs)
def test_backward_is_the_adjoint_and_the_numerical_gradient(cfg):
    N, H, W, C, size, interpolation = cfg
    rng = np.random.default_rng(1)
    x = rng.standard_normal((N, H, W, C))
    dy = rng.standard_normal((N, H * size[0], W * size[1], C))
    dx = upsample2d_backward(dy, size, interpolation)
    assert dx.shape == x.shape
    # Both are linear: <up(x), dy> == <x, up^T(dy)>.
    assert np.isclose((upsample2d_forward(x, size, interpolation) * dy).sum(), (x * dx).sum(), rtol=1e-12)
    numeric = numerical_gradient(lambda: float((upsample2d_forward(x, size, interpolation) * dy).sum()), x)
    assert relative_error(dx, numeric) < 1e-8


def test_bilinear_values_worked_by_hand():
    # Row [0, 1, 2] twice as wide: samples at -0.25 (clamped to 0), 0.25, 0.75, 1.25, 1.75, 2.25 (-> 2).
    x = np.array([0.0, 1.0, 2.0]).reshape(1, 1, 3, 1)
    np.testing.assert_allclose(upsample2d_forward(x, (1, 2), "bilinear").ravel(), [0, 0.25, 0.75, 1.25, 1.75, 2])
    # Three times: samples at -1/3, 0, 1/3, 2/3, 1, 4/3.
    x = np.array([0.0, 3.0]).reshape(1, 2, 1, 1)
    np.testing.assert_allclose(upsample2d_forward(x, (3, 1), "bilinear").ravel(), [0, 0, 1, 2, 3, 3])


def test_interpolation_rows_sum_to_one_with_two_taps_at_most():
    for n, s in [(1, 3), (4, 2), (5, 3), (7, 4)]:
        A = interpolation_matrix(n, s)
        assert A.shape == (n * s, n) and not A.flags.writeable
        np.testing.assert_allclose(A.sum(axis=1), 1)
        assert ((A != 0).sum(axis=1) <= 2).all()


def test_dtype_is_kept_both_ways():
    x = np.random.default_rng(2).standard_normal((2, 3, 4, 2)).astype(np.float32)
    for interpolation in ("nearest", "bilinear"):
        y = upsample2d_forward(x, (2, 3), interpolation)
        assert y.dtype == np.float32 and y.flags.c_contiguous
        assert upsample2d_backward(y, (2, 3), interpolation).dtype == np.float32
