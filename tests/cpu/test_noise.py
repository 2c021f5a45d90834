"""The tuned noise steps against the plain layers: for the Gaussian ones the same law (their draws
come from other streams), the same backward given the draw, the identity at inference, and the same
values for a seed whatever the number of worker threads; for SpatialDropout2D the same values."""
import numpy as np
import pytest

from minicnn.cpu import noise, steps, threads
from minicnn.layers import GaussianDropout, GaussianNoise, SpatialDropout2D
from minicnn.utils import set_random_seed


@pytest.fixture
def two_then_one_thread():
    yield
    threads.set_num_threads(threads.default_num_threads())


@pytest.mark.parametrize("make", [lambda: GaussianNoise(0.5), lambda: GaussianDropout(0.3)])
def test_steps_draw_the_plain_layers_law(make):
    layer = make()
    step = steps.STEPS[type(layer)](layer)
    x = np.full((400, 10, 30), 2.0, dtype=np.float32)
    for run in (layer, step):
        set_random_seed(0)
        y, cache = run.forward(x, True)
        assert y.dtype == np.float32 and y.shape == x.shape
        if isinstance(layer, GaussianNoise):
            n = (y - x).astype(np.float64)
            assert abs(n.mean()) < 0.01 and abs(n.std() - 0.5) < 0.01
            assert run.backward(x, cache)[0] is x
        else:
            assert abs(cache.mean() - 1) < 0.01 and abs(cache.std() - (0.3 / 0.7) ** 0.5) < 0.01
            np.testing.assert_array_equal(y, x * cache)
            np.testing.assert_array_equal(run.backward(x, cache)[0], x * cache)
        assert run.forward(x, False)[0] is x


def test_the_same_seed_gives_the_same_draws_with_one_or_two_threads(two_then_one_thread):
    x = np.zeros((64, 40, 40), dtype=np.float32)  # above SPLIT_ABOVE: drawn in two halves
    draws = []
    for n in (2, 1):
        threads.set_num_threads(n)
        set_random_seed(3)
        draws.append((noise.gaussian_noise_forward(x, 1.0), noise.gaussian_dropout_forward(x + 1, 0.5)[1]))
    for a, b in zip(*draws):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws[0][0][:32], draws[0][0][32:])  # the halves draw different values


@pytest.mark.parametrize("training", [True, False])
def test_spatial_dropout_step_matches_the_plain_layer(training):
    layer = SpatialDropout2D(0.4)
    layer.build((5, 6, 7))
    assert steps.FastSpatialDropout2D.takes(layer)
    assert not steps.FastSpatialDropout2D.takes(SpatialDropout2D(0.4, data_format="channels_first"))
    rng = np.random.default_rng(4)
    x = rng.standard_normal((9, 5, 6, 7)).astype(np.float32)
    dy = rng.standard_normal(x.shape).astype(np.float32)
    results = []
    for run in (layer, steps.FastSpatialDropout2D(layer)):
        set_random_seed(5)  # the same mask: the step draws it as the plain op does
        y, cache = run.forward(x, training)
        results.append((y, run.backward(dy, cache)[0]))
    for got, want in zip(results[1], results[0]):
        np.testing.assert_array_equal(got, want)
    if not training:
        assert results[1][0] is x
