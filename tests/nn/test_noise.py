"""The noise ops: the law of each draw (moments, the dropped fraction), the expectation kept, what
the backward multiplies by, dtypes, and repeatability under set_random_seed."""
import numpy as np
import pytest

from minicnn.nn import noise
from minicnn.utils import set_random_seed


@pytest.mark.parametrize("rate", [0.1, 0.5, 0.8])
def test_spatial_dropout_drops_whole_maps_at_the_rate(rate):
    set_random_seed(0)
    x = np.random.default_rng(0).standard_normal((400, 3, 4, 25)).astype(np.float32)
    y, mask = noise.spatial_dropout_forward(x, rate, (400, 1, 1, 25))
    assert mask.shape == (400, 1, 1, 25) and mask.dtype == np.float32 and y.dtype == np.float32
    assert set(np.unique(mask)) == {np.float32(0), np.float32(1 / (1 - rate))}
    assert abs((mask == 0).mean() - rate) < 0.02  # 10000 draws: 4 standard deviations at rate 0.5
    np.testing.assert_array_equal(y, x * mask)
    np.testing.assert_array_equal(noise.spatial_dropout_backward(x, mask), x * mask)
    # A dropped map is zero everywhere, a kept one scaled everywhere.
    kept = (y != 0).reshape(400, 12, 25)
    assert (kept.all(axis=1) | ~kept.any(axis=1)).all()
    assert abs(mask.mean() - 1) < 0.05  # E[mask] = 1: the expectation of y is x


def test_gaussian_noise_moments_and_identity_gradient_in_float32():
    set_random_seed(1)
    x = np.full((200, 500), 3.0, dtype=np.float32)
    y = noise.gaussian_noise_forward(x, 0.5)
    assert y.dtype == np.float32 and y.shape == x.shape
    n = (y - x).astype(np.float64).ravel()
    # 1e5 draws: the sample mean's standard error is 0.0016, the std's 0.0011.
    assert abs(n.mean()) < 0.008 and abs(n.std() - 0.5) < 0.006
    assert abs(np.mean(((n - n.mean()) / n.std()) ** 4) - 3) < 0.1  # Gaussian kurtosis


@pytest.mark.parametrize("rate", [0.2, 0.5])
def test_gaussian_dropout_multiplies_by_mean_one_noise_of_dropouts_variance(rate):
    set_random_seed(2)
    x = np.random.default_rng(3).standard_normal((200, 500))
    y, m = noise.gaussian_dropout_forward(x, rate)
    assert m.shape == x.shape
    np.testing.assert_array_equal(y, x * m)
    assert abs(m.mean() - 1) < 0.01 and abs(m.var() - rate / (1 - rate)) < 0.01
    np.testing.assert_array_equal(noise.gaussian_dropout_backward(x, m), x * m)
    assert noise.gaussian_dropout_forward(x.astype(np.float32), rate)[1].dtype == np.float32


def test_the_same_seed_gives_the_same_draws():
    x = np.zeros((3, 2, 2, 4))
    draws = []
    for _ in range(2):
        set_random_seed(7)
        draws.append([noise.gaussian_noise_forward(x, 1.0), noise.gaussian_dropout_forward(x + 1, 0.3)[1],
                      noise.spatial_dropout_forward(x, 0.5, (3, 1, 1, 4))[1]])
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    set_random_seed(8)
    assert not np.array_equal(noise.gaussian_noise_forward(x, 1.0), draws[0][0])
