"""The tuned nearest-upsampling backward and its step against the plain op and layer."""
import numpy as np
from hypothesis import given, strategies as st

from minicnn.cpu import resampling, steps
from minicnn.layers import UpSampling2D
from minicnn.nn.resampling import nearest_backward


@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 9),
       st.tuples(st.integers(1, 4), st.integers(1, 4)))
def test_nearest_backward_matches_the_plain_op(N, H, W, C, size):
    dy = np.random.default_rng(0).standard_normal((N, H * size[0], W * size[1], C))
    dx = resampling.nearest_backward(dy, size)
    np.testing.assert_allclose(dx, nearest_backward(dy, size), rtol=1e-13, atol=1e-13)
    assert dx.shape == (N, H, W, C) and not np.shares_memory(dx, dy)


@given(st.sampled_from([(2, 2), (3, 1), (1, 4)]), st.booleans())
def test_the_step_matches_the_layer(size, need_dx):
    layer = UpSampling2D(size, dtype="float64")
    layer.build((4, 3, 5))
    assert steps.STEPS[UpSampling2D].takes(layer)
    assert not steps.STEPS[UpSampling2D].takes(UpSampling2D(interpolation="bilinear"))
    assert not steps.STEPS[UpSampling2D].takes(UpSampling2D(data_format="channels_first"))
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4, 3, 5))
    y, cache = layer.forward(x, training=True)
    dy = rng.standard_normal(y.shape)
    step = steps.FastUpSampling2D(layer, need_dx=need_dx)
    got_y, got_cache = step.forward(x, True)
    got_dx, grads = step.backward(dy, got_cache)
    np.testing.assert_array_equal(got_y, y)
    assert grads == []
    if need_dx:
        np.testing.assert_allclose(got_dx, layer.backward(dy, cache)[0], rtol=1e-13)
    else:
        assert got_dx is None
