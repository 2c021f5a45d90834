"""The CPU's tuned max pooling against naive loops and the plain op: chunks, inference without an
argmax, the 2x2 tournament's ties, and the ReLU derivative applied on the pooled gradient."""
import numpy as np
from hypothesis import given, strategies as st

import reference
from minicnn.cpu import pooling as fast
from minicnn.nn import pooling as plain

from nn.test_pooling import pool_configs


@given(pool_configs(), st.booleans(), st.booleans())
def test_matches_the_reference_and_the_plain_op(cfg, training, input_relu):
    N, H, W, C, pool, strides, padding = cfg
    rng = np.random.default_rng(0)
    x = np.maximum(rng.standard_normal((N, H, W, C)), 0) if input_relu else rng.standard_normal((N, H, W, C))
    y, cache = fast.maxpool2d_forward(x, pool, strides, padding, training=training)
    np.testing.assert_allclose(y, reference.pool2d(x, pool, strides, padding, "max"), rtol=1e-12, atol=1e-12)
    assert (cache is None) == (not training)
    if training:
        dy = rng.standard_normal(y.shape)
        want = plain.maxpool2d_backward(dy, plain.maxpool2d_forward(x, pool, strides, padding)[1])
        if input_relu:
            want = want * (x > 0)
        np.testing.assert_allclose(fast.maxpool2d_backward(dy, cache, input_relu=input_relu), want, atol=1e-12)


@given(st.sampled_from([(1, 1), (2, 2), (1, 2)]), st.sampled_from(["valid", "same"]), st.integers(2, 7),
       st.integers(0, 1000))
def test_two_by_two_ties_go_to_the_first_maximum(strides, padding, size, seed):
    # 2x2 windows take a faster path (a tournament over the four positions); values drawn from
    # {0, 1, 2} tie in most windows, in every arrangement of the four positions.
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 3, (2, size, size + 1, 3)).astype(np.float64)
    y, cache = fast.maxpool2d_forward(x, (2, 2), strides, padding)
    np.testing.assert_array_equal(y, reference.pool2d(x, (2, 2), strides, padding, "max"))
    dy = rng.standard_normal(y.shape)
    np.testing.assert_allclose(fast.maxpool2d_backward(dy, cache),
                               reference.maxpool2d_grad(x, dy, (2, 2), strides, padding), atol=1e-12)
