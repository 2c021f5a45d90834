"""The batched affine transform against a per-pixel loop that follows scipy.ndimage step by step,
and known cases exactly (shifts, flips, identity, quarter turns, zooms, each fill mode's borders)."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.preprocessing.affine import FILL_MODES, apply_affine_transform, transform_matrices


# -- the reference: one pixel at a time, as scipy.ndimage.affine_transform computes it ----------

def keras_matrix(theta, tx, ty, shear, zx, zy, H, W):
    """Keras 2's 3x3 matrix in (x, y) = (col, row), composed one factor at a time."""
    t, s = math.radians(theta), math.radians(shear)
    rotate = np.array([[math.cos(t), -math.sin(t), 0], [math.sin(t), math.cos(t), 0], [0, 0, 1]])
    shift = np.array([[1, 0, tx], [0, 1, ty], [0, 0, 1]])
    shearing = np.array([[1, -math.sin(s), 0], [0, math.cos(s), 0], [0, 0, 1]])
    zoom = np.array([[zx, 0, 0], [0, zy, 0], [0, 0, 1]])
    ox, oy = (W - 1) / 2, (H - 1) / 2
    to_centre = np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]])
    from_centre = np.array([[1, 0, -ox], [0, 1, -oy], [0, 0, 1]])
    return to_centre.dot(rotate).dot(shift).dot(shearing).dot(zoom).dot(from_centre)


def map_coordinate(c, n, mode):
    """scipy's continuous border map (ni_interpolation.c): 'constant' marks outside with None."""
    if 0 <= c <= n - 1 or mode == "nearest":
        return c
    if mode == "constant":
        return None
    if n == 1:
        return 0.0
    if mode == "reflect":  # half-sample symmetric, period 2n
        c = c % (2 * n)
        return 2 * n - 1 - c if c > n - 1 else c
    p = n - 1  # 'wrap': period n - 1, the first and last samples overlap; below 0 maps into (0, p]
    if c > p:
        return c % p
    return c % p or p


def tap(i, n, mode):
    """An integer tap index mapped inside: clamped for 'nearest', reflected for 'reflect', mirrored
    (scipy's spline boundary) for 'constant' and 'wrap', whose out-of-range taps weigh 0."""
    if mode == "nearest":
        return min(max(i, 0), n - 1)
    while not 0 <= i < n:
        if mode == "reflect":
            i = -i - 1 if i < 0 else 2 * n - 1 - i
        else:
            i = -i if i < 0 else 2 * n - 2 - i
            if n == 1:
                i = 0
    return i


def sample(img, r, c, mode, cval, order):
    H, W, _ = img.shape
    r, c = map_coordinate(r, H, mode), map_coordinate(c, W, mode)
    if r is None or c is None:
        return np.full(img.shape[2], cval)
    if order == 0:
        return img[tap(math.floor(r + 0.5), H, mode), tap(math.floor(c + 0.5), W, mode)].astype(np.float64)
    r0, c0 = math.floor(r), math.floor(c)
    fr, fc = r - r0, c - c0
    value = np.zeros(img.shape[2])
    for dr, wr in ((0, 1 - fr), (1, fr)):
        for dc, wc in ((0, 1 - fc), (1, fc)):
            value += wr * wc * img[tap(r0 + dr, H, mode), tap(c0 + dc, W, mode)]
    return value


def reference(x, params, mode, cval, order):
    """Transform each image pixel by pixel, then flip it, as Keras 2's apply_transform does."""
    N, H, W, C = x.shape
    y = np.zeros(x.shape)
    for n in range(N):
        T = keras_matrix(*(params[k][n] for k in ("theta", "tx", "ty", "shear", "zx", "zy")), H, W)
        for i in range(H):
            for j in range(W):
                src_c, src_r = T[0, 0] * j + T[0, 1] * i + T[0, 2], T[1, 0] * j + T[1, 1] * i + T[1, 2]
                y[n, i, j] = sample(x[n], src_r, src_c, mode, cval, order)
        if params["flip_horizontal"][n]:
            y[n] = y[n, :, ::-1]
        if params["flip_vertical"][n]:
            y[n] = y[n, ::-1]
    return y


def transform(x, params, mode="nearest", cval=0.0, order=1):
    T = transform_matrices(*(params[k] for k in ("theta", "tx", "ty", "shear", "zx", "zy")), x.shape[1], x.shape[2])
    return apply_affine_transform(x, T, mode, cval, order, params["flip_horizontal"], params["flip_vertical"])


def neutral(N, **changes):
    params = {"theta": np.zeros(N), "tx": np.zeros(N), "ty": np.zeros(N), "shear": np.zeros(N), "zx": np.ones(N),
              "zy": np.ones(N), "flip_horizontal": np.zeros(N, bool), "flip_vertical": np.zeros(N, bool)}
    params.update({k: np.broadcast_to(np.asarray(v), (N,)) for k, v in changes.items()})
    return params


@st.composite
def configs(draw):
    N, H, W, C = draw(st.integers(1, 3)), draw(st.integers(1, 7)), draw(st.integers(1, 7)), draw(st.integers(1, 2))
    floats = lambda lo, hi: st.lists(st.floats(lo, hi), min_size=N, max_size=N).map(np.array)  # noqa: E731
    params = {"theta": draw(floats(-180, 180)), "tx": draw(floats(-9, 9)), "ty": draw(floats(-9, 9)),
              "shear": draw(floats(-60, 60)), "zx": draw(floats(0.3, 2)), "zy": draw(floats(0.3, 2)),
              "flip_horizontal": np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N))),
              "flip_vertical": np.array(draw(st.lists(st.booleans(), min_size=N, max_size=N)))}
    return (N, H, W, C), params, draw(st.sampled_from(FILL_MODES)), draw(st.sampled_from([0, 1]))


@given(configs())
def test_matches_the_per_pixel_reference(cfg):
    shape, params, mode, order = cfg
    x = np.random.default_rng(0).uniform(-5, 5, shape)
    y = transform(x, params, mode, -2.5, order)
    expected = reference(x, params, mode, -2.5, order)
    np.testing.assert_allclose(y, expected, atol=1e-9)


@pytest.mark.parametrize("mode", FILL_MODES)
@pytest.mark.parametrize("order", [0, 1])
def test_fixed_transforms_match_the_reference(mode, order):
    x = np.random.default_rng(1).uniform(0, 255, (4, 9, 8, 3)).astype(np.float32)
    params = {"theta": np.array([0, 30, -70, 12]), "tx": np.array([2.5, 0, -1.25, 3]),
              "ty": np.array([-1, 0.5, 2, 0]), "shear": np.array([0, 20, 0, -15]),
              "zx": np.array([1, 0.8, 1.2, 1]), "zy": np.array([1, 1.1, 0.9, 1.3]),
              "flip_horizontal": np.array([True, False, True, False]),
              "flip_vertical": np.array([False, False, True, True])}
    y = transform(x, params, mode, 7.0, order)
    assert y.dtype == np.float32
    np.testing.assert_allclose(y, reference(x, params, mode, 7.0, order), atol=1e-3)


# -- known cases, exactly -----------------------------------------------------------------------

def test_whole_pixel_shift_with_constant_fill_is_a_roll_filled_with_cval():
    x = np.random.default_rng(2).uniform(0, 1, (2, 6, 7, 2))
    y = transform(x, neutral(2, tx=[2, -3], ty=[-1, 2]), "constant", cval=9.0)
    expected = np.full_like(x, 9.0)
    expected[0, 1:, :5] = x[0, :5, 2:]  # reads 2 columns right and 1 row up: content moves left, down
    expected[1, :4, 3:] = x[1, 2:, :4]
    np.testing.assert_array_equal(y, expected)


def test_flips_reverse_the_image_axes():
    x = np.random.default_rng(3).uniform(0, 1, (3, 5, 4, 2))
    y = transform(x, neutral(3, flip_horizontal=[True, False, True], flip_vertical=[False, True, True]))
    np.testing.assert_array_equal(y, np.stack([x[0, :, ::-1], x[1, ::-1], x[2, ::-1, ::-1]]))


def test_flip_comes_after_the_shift():
    x = np.random.default_rng(4).uniform(0, 1, (1, 4, 6, 1))
    y = transform(x, neutral(1, tx=1, flip_horizontal=True), "constant", cval=-1.0)
    shifted = np.full_like(x, -1.0)
    shifted[0, :, :5] = x[0, :, 1:]
    np.testing.assert_array_equal(y, shifted[:, :, ::-1])


@pytest.mark.parametrize("mode", FILL_MODES)
def test_no_rotation_and_zoom_one_is_the_identity(mode):
    x = np.random.default_rng(5).uniform(-1, 1, (2, 5, 6, 3)).astype(np.float32)
    T = transform_matrices(np.zeros(2), np.zeros(2), np.zeros(2), np.zeros(2), np.ones(2), np.ones(2), 5, 6)
    np.testing.assert_array_equal(T, np.broadcast_to(np.eye(3), (2, 3, 3)))
    np.testing.assert_array_equal(apply_affine_transform(x, T, mode, 3.0, 1), x)


@pytest.mark.parametrize("n", [5, 6])
def test_quarter_turn_is_rot90_counter_clockwise(n):
    x = np.random.default_rng(6).uniform(0, 1, (1, n, n, 2))
    y = transform(x, neutral(1, theta=90.0))
    np.testing.assert_allclose(y, np.rot90(x, 1, axes=(1, 2)), atol=1e-12)


def test_zoom_two_reads_every_other_pixel_about_the_centre():
    x = np.random.default_rng(7).uniform(0, 1, (1, 9, 9, 1))
    y = transform(x, neutral(1, zx=2.0, zy=2.0), "constant", cval=-1.0)
    expected = np.full_like(x, -1.0)
    expected[0, 2:7, 2:7] = x[0, ::2, ::2]  # output i reads 2 * i - 4 about centre 4
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("mode, shift, row", [
    ("nearest", 2, [2, 3, 4, 4, 4]), ("constant", 2, [2, 3, 4, -1, -1]),
    ("reflect", 2, [2, 3, 4, 4, 3]), ("wrap", 2, [2, 3, 4, 1, 2]),
    ("reflect", -3, [2, 1, 0, 0, 1]), ("wrap", -3, [1, 2, 3, 0, 1]),
    ("nearest", 0.5, [0.5, 1.5, 2.5, 3.5, 4]), ("constant", 0.5, [0.5, 1.5, 2.5, 3.5, -1]),
    ("reflect", 0.5, [0.5, 1.5, 2.5, 3.5, 4]), ("wrap", 0.5, [0.5, 1.5, 2.5, 3.5, 0.5]),
])
def test_borders_follow_scipy_modes(mode, shift, row):
    # scipy: 'reflect' repeats the edge (d c b a | a b c d), 'wrap' overlaps the first and last
    # samples (period n - 1: beyond 4 comes 1, before 0 comes 3).
    x = np.tile(np.arange(5.0), (1, 3, 1))[..., None]
    y = transform(x, neutral(1, tx=shift), mode, cval=-1.0)
    np.testing.assert_allclose(y[0, 1, :, 0], row)
