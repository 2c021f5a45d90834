"""The augmentation ops of the preprocessing layers: the affine resampling against a per-pixel loop
of Keras 3's documented border rules and against ImageDataGenerator where Keras 2 and 3 agree, each
backward as the exact adjoint (or central differences), and flips and contrast against loops."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.nn.augment import (FILL_MODES, affine_backward, affine_forward, contrast_backward, contrast_forward,
                                 flip_backward, flip_forward)
from minicnn.preprocessing.affine import transform_matrices
from minicnn.preprocessing.image import ImageDataGenerator
from minicnn.utils.gradcheck import numerical_gradient, relative_error


def fold(i, n, fill_mode):
    """One tap index by Keras 3's documented rules (None: outside, for "constant")."""
    if fill_mode == "constant":
        return i if 0 <= i < n else None
    if fill_mode == "nearest":
        return min(max(i, 0), n - 1)
    if fill_mode == "wrap":
        return i % n
    while not 0 <= i < n:  # reflect about the pixel edges -0.5 and n - 0.5
        i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def resample_loops(x, T, fill_mode, fill_value, order):
    """Every output pixel of every image on its own: its source point T @ (col, row, 1), its taps."""
    N, H, W, C = x.shape
    y = np.zeros_like(x)
    for n in range(N):
        for r in range(H):
            for c in range(W):
                sc, sr, _ = T[n] @ np.array([c, r, 1.0])
                if order == 0:
                    taps = [(round(sr), round(sc), 1.0)]  # Python's round: halves to even
                else:
                    r0, c0 = int(np.floor(sr)), int(np.floor(sc))
                    fr, fc = sr - r0, sc - c0
                    taps = [(r0, c0, (1 - fr) * (1 - fc)), (r0, c0 + 1, (1 - fr) * fc),
                            (r0 + 1, c0, fr * (1 - fc)), (r0 + 1, c0 + 1, fr * fc)]
                for tr, tc, w in taps:
                    i, j = fold(tr, H, fill_mode), fold(tc, W, fill_mode)
                    y[n, r, c] += w * (fill_value if i is None or j is None else x[n, i, j])
    return y


@st.composite
def transforms(draw):
    N, H, W = draw(st.integers(1, 3)), draw(st.integers(1, 6)), draw(st.integers(1, 6))
    kind = draw(st.sampled_from(["rotation", "shift", "zoom", "all"]))
    rng = np.random.default_rng(draw(st.integers(0, 99)))
    theta = rng.uniform(-180, 180, N) if kind in ("rotation", "all") else np.zeros(N)
    tx, ty = (rng.uniform(-W, W, N), rng.uniform(-H, H, N)) if kind in ("shift", "all") else (np.zeros(N),) * 2
    zx, zy = rng.uniform(0.3, 2, (2, N)) if kind in ("zoom", "all") else np.ones((2, N))
    if draw(st.booleans()):  # whole-pixel shifts: taps on exact pixels and halves
        tx, ty = np.round(tx * 2) / 2, np.round(ty * 2) / 2
    return (N, H, W, draw(st.integers(1, 3))), transform_matrices(theta, tx, ty, np.zeros(N), zx, zy, H, W)


@given(transforms(), st.sampled_from(FILL_MODES), st.sampled_from([0, 1]))
def test_affine_forward_matches_a_loop_of_keras3s_rules(cfg, fill_mode, order):
    shape, T = cfg
    x = np.random.default_rng(0).standard_normal(shape)
    y, _ = affine_forward(x, T, fill_mode, 0.5, order)
    np.testing.assert_allclose(y, resample_loops(x, T, fill_mode, 0.5, order), rtol=1e-12, atol=1e-12)


@given(transforms(), st.sampled_from(["reflect", "nearest"]))
def test_bilinear_reflect_and_nearest_equal_image_data_generators(cfg, fill_mode):
    """Where Keras 2's scipy rules give the same values as Keras 3's (bilinear, these two modes),
    the layers' resampling equals ImageDataGenerator's transform for the same parameters."""
    shape, _ = cfg
    N, H, W, C = shape
    rng = np.random.default_rng(1)
    params = {"theta": rng.uniform(-90, 90, N), "tx": rng.uniform(-2, 2, N), "ty": rng.uniform(-2, 2, N),
              "zx": rng.uniform(0.5, 1.5, N), "zy": rng.uniform(0.5, 1.5, N)}
    x = rng.standard_normal(shape)
    T = transform_matrices(params["theta"], params["tx"], params["ty"], np.zeros(N), params["zx"], params["zy"], H, W)
    expected = ImageDataGenerator(fill_mode=fill_mode, dtype="float64").apply_transform(x, params)
    np.testing.assert_allclose(affine_forward(x, T, fill_mode)[0], expected, rtol=1e-10, atol=1e-10)


@given(transforms(), st.sampled_from(FILL_MODES), st.sampled_from([0, 1]))
def test_affine_backward_is_the_adjoint(cfg, fill_mode, order):
    shape, T = cfg
    rng = np.random.default_rng(2)
    x, dy = rng.standard_normal(shape), rng.standard_normal(shape)
    y, cache = affine_forward(x, T, fill_mode, 0.0, order)  # a zero fill: the map is linear
    dx = affine_backward(dy, cache)
    assert dx.shape == x.shape
    np.testing.assert_allclose((y * dy).sum(), (x * dx).sum(), rtol=1e-10, atol=1e-10)


def test_affine_float32_stays_float32_and_fill_takes_no_gradient():
    x = np.random.default_rng(3).standard_normal((2, 5, 4, 3)).astype(np.float32)
    T = transform_matrices(np.array([30.0, -70.0]), np.zeros(2), np.zeros(2), np.zeros(2), np.ones(2) * 1.5,
                           np.ones(2), 5, 4)
    y, cache = affine_forward(x, T, "constant", 7.0, 1)
    dx = affine_backward(np.ones_like(y), cache)
    assert y.dtype == dx.dtype == np.float32
    y0, _ = affine_forward(np.zeros_like(x), T, "constant", 7.0, 1)
    # y is linear in x plus the fill's part: y(x) - y(0) is the linear part, whose adjoint is dx.
    np.testing.assert_allclose(((y - y0) * 1).sum(), (x * dx).sum(), rtol=1e-4)


@pytest.mark.parametrize("axes", [(1,), (2,), (1, 2)])
def test_flips_match_loops_and_are_their_own_adjoint(axes):
    rng = np.random.default_rng(4)
    x = rng.standard_normal((5, 3, 4, 2))
    flips = np.array([True, False, True, True, False])
    y = flip_forward(x, flips, axes)
    for n in range(5):
        expected = x[n]
        if flips[n]:
            for axis in axes:
                expected = np.flip(expected, axis - 1)
        np.testing.assert_array_equal(y[n], expected)
    dy = rng.standard_normal(y.shape)
    assert np.isclose((y * dy).sum(), (x * flip_backward(dy, flips, axes)).sum())


@given(st.integers(1, 3), st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.booleans())
def test_contrast_matches_loops_and_central_differences(N, H, W, C, clipped):
    rng = np.random.default_rng(5)
    x = rng.uniform(0, 1, (N, H, W, C))
    factor = rng.uniform(0.2, 1.8, N)
    low, high = (0.3, 0.7) if clipped else (-10.0, 10.0)
    y, cache = contrast_forward(x, factor, low, high, (1, 2))
    for n in range(N):
        for c in range(C):
            mean = x[n, :, :, c].sum() / (H * W)
            expected = np.clip((x[n, :, :, c] - mean) * factor[n] + mean, low, high)
            np.testing.assert_allclose(y[n, :, :, c], expected, rtol=1e-12, atol=1e-12)
    R = rng.standard_normal(y.shape)
    numeric = numerical_gradient(lambda: float((contrast_forward(x, factor, low, high, (1, 2))[0] * R).sum()), x)
    assert relative_error(contrast_backward(R, cache), numeric) < 1e-6
