"""The plain pooling ops against naive loops; max-pool backward routes each gradient to the first maximum."""
import numpy as np
from hypothesis import given, strategies as st

import reference
from minicnn.nn.pooling import (avgpool2d_backward, avgpool2d_forward, global_avgpool2d_backward,
                                global_avgpool2d_forward, global_maxpool2d_backward, global_maxpool2d_forward,
                                maxpool2d_backward, maxpool2d_forward)


@st.composite
def pool_configs(draw):
    PH, PW = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    sh, sw = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    padding = draw(st.sampled_from(["valid", "same"]))
    H = draw(st.integers(PH if padding == "valid" else 1, 8))
    W = draw(st.integers(PW if padding == "valid" else 1, 8))
    return draw(st.integers(1, 2)), H, W, draw(st.integers(1, 3)), (PH, PW), (sh, sw), padding


@given(pool_configs(), st.sampled_from(["max", "avg"]))
def test_forward_matches_naive_loops(cfg, kind):
    N, H, W, C, pool, strides, padding = cfg
    x = np.random.default_rng(0).standard_normal((N, H, W, C))
    fwd = maxpool2d_forward if kind == "max" else avgpool2d_forward
    y, _ = fwd(x, pool, strides, padding)
    np.testing.assert_allclose(y, reference.pool2d(x, pool, strides, padding, kind), rtol=1e-12, atol=1e-12)


@given(pool_configs(), st.booleans())
def test_max_backward_goes_to_first_maximum(cfg, with_ties):
    N, H, W, C, pool, strides, padding = cfg
    rng = np.random.default_rng(1)
    # Rounded values make ties frequent: each window must still pick exactly one input.
    x = np.round(rng.standard_normal((N, H, W, C))) if with_ties else rng.standard_normal((N, H, W, C))
    y, cache = maxpool2d_forward(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(maxpool2d_backward(dy, cache),
                               reference.maxpool2d_grad(x, dy, pool, strides, padding), atol=1e-12)


@given(pool_configs())
def test_avg_backward_is_the_adjoint(cfg):
    N, H, W, C, pool, strides, padding = cfg
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, H, W, C))
    y, cache = avgpool2d_forward(x, pool, strides, padding)
    dy = rng.standard_normal(y.shape)
    # avg pooling is linear: <pool(x), dy> == <x, pool^T(dy)>.
    assert np.isclose((y * dy).sum(), (x * avgpool2d_backward(dy, cache)).sum())


@given(st.integers(1, 3), st.integers(1, 5), st.integers(1, 5), st.integers(1, 3), st.booleans())
def test_global_pooling_matches_loops_and_max_grad_goes_to_the_first_maximum(N, H, W, C, with_ties):
    rng = np.random.default_rng(3)
    x = rng.standard_normal((N, H, W, C))
    if with_ties:
        x = np.round(x)
    dy = rng.standard_normal((N, C))
    y, cache = global_avgpool2d_forward(x)
    np.testing.assert_allclose(y, [[np.mean(x[n, :, :, c]) for c in range(C)] for n in range(N)], rtol=1e-12)
    expected = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            expected[n, :, :, c] = dy[n, c] / (H * W)
    np.testing.assert_allclose(global_avgpool2d_backward(dy, cache), expected, rtol=1e-12)
    y, cache = global_maxpool2d_forward(x)
    expected = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            plane = x[n, :, :, c]
            assert y[n, c] == plane.max()
            first = next((h, w) for h in range(H) for w in range(W) if plane[h, w] == plane.max())  # row-major
            expected[n, first[0], first[1], c] = dy[n, c]
    np.testing.assert_array_equal(global_maxpool2d_backward(dy, cache), expected)
