"""minicnn.cuda's wrappers against the NumPy references, once on the CPU shim and once on a GPU.

The shim run checks what the GPU run cannot check without a GPU: the argument order and types
each wrapper hands the kernels, the options it compiles with, and the shapes it returns.
"""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import kernel_refs as ref
from minicnn import cuda
from minicnn.backend import to_numpy

examples = settings(max_examples=25, deadline=None)
dtypes = st.sampled_from([np.float32, np.float64])
seeds = st.integers(0, 2**32 - 1)


def _geometry_args(g):
    return g.sh, g.sw, g.pt, g.pl


@examples
@given(g=ref.geometries(), dtype=dtypes, seed=seeds)
def test_im2col_col2im(cp, g, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g.N, g.H, g.W, g.C)).astype(dtype)
    cols = cuda.im2col(cp.asarray(x), g.KH, g.KW, *_geometry_args(g), g.OH, g.OW)
    assert cols.dtype == dtype
    np.testing.assert_array_equal(to_numpy(cols), ref.im2col(x, g))
    c = rng.standard_normal(cols.shape).astype(dtype)
    dx = cuda.col2im(cp.asarray(c), x.shape, g.KH, g.KW, *_geometry_args(g), g.OH, g.OW)
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_allclose(to_numpy(dx), ref.col2im(c, g), **ref.tolerance(dtype))


@examples
@given(g=ref.geometries(max_kernel=3), dtype=dtypes, ties=st.booleans(), seed=seeds)
def test_maxpool(cp, g, dtype, ties, seed):
    rng = np.random.default_rng(seed)
    x = ref.inputs(rng, (g.N, g.H, g.W, g.C), dtype, ties)
    y, argmax = cuda.maxpool_forward(cp.asarray(x), g.KH, g.KW, *_geometry_args(g), g.OH, g.OW)
    y_ref, argmax_ref = ref.maxpool(x, g)
    np.testing.assert_array_equal(to_numpy(y), y_ref)
    np.testing.assert_array_equal(to_numpy(argmax), argmax_ref)
    dy = rng.standard_normal(y_ref.shape).astype(dtype)
    dx = cuda.maxpool_backward(cp.asarray(dy), argmax, x.shape, g.KH, g.KW, *_geometry_args(g))
    assert dx.shape == x.shape and dx.dtype == dtype
    np.testing.assert_allclose(to_numpy(dx), ref.maxpool_backward(dy, argmax_ref, g), **ref.tolerance(dtype))


@examples
@given(g=ref.geometries(max_kernel=3), dtype=dtypes, seed=seeds)
def test_avgpool(cp, g, dtype, seed):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((g.N, g.H, g.W, g.C)).astype(dtype)
    y = cuda.avgpool_forward(cp.asarray(x), g.KH, g.KW, *_geometry_args(g), g.OH, g.OW)
    np.testing.assert_allclose(to_numpy(y), ref.avgpool(x, g), **ref.tolerance(dtype))
    dy = rng.standard_normal(y.shape).astype(dtype)
    dx = cuda.avgpool_backward(cp.asarray(dy), x.shape, g.KH, g.KW, *_geometry_args(g))
    np.testing.assert_allclose(to_numpy(dx), ref.avgpool_backward(dy, g), **ref.tolerance(dtype))


def _close(actual, expected, dtype):
    tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(to_numpy(actual), expected, **tol)


@examples
@given(n=st.integers(1, 1000), dtype=dtypes, seed=seeds, momentum=st.sampled_from([0.0, 0.9]),
       nesterov=st.booleans(), t=st.integers(1, 20))
def test_optimizer_updates(cp, n, dtype, seed, momentum, nesterov, t):
    rng = np.random.default_rng(seed)
    w, g, m = rng.standard_normal((3, n)).astype(dtype)
    v, a, b = np.abs(rng.standard_normal((3, n))).astype(dtype)  # second moments are non-negative
    host = [x.astype(np.float64) for x in (w, g, m, v, a, b)]

    W, G, M = (cp.array(x) for x in (w, g, m))
    cuda.sgd_update(W, G, 0.1, m=M if momentum or nesterov else None, momentum=momentum, nesterov=nesterov)
    w_ref, m_ref = ref.sgd(host[0], host[1], host[2] if momentum or nesterov else None, 0.1, momentum, nesterov)
    _close(W, w_ref, dtype)
    if m_ref is not None:
        _close(M, m_ref, dtype)

    W, G, M, V = (cp.array(x) for x in (w, g, m, v))
    cuda.adam_update(W, G, M, V, 1e-3, 0.9, 0.999, 1e-7, t)
    for actual, expected in zip((W, M, V), ref.adam(*host[:4], 1e-3, 0.9, 0.999, 1e-7, t)):
        _close(actual, expected, dtype)

    W, G, V = (cp.array(x) for x in (w, g, v))
    cuda.rmsprop_update(W, G, V, 1e-3, 0.9, 1e-7)
    for actual, expected in zip((W, V), ref.rmsprop(host[0], host[1], host[3], 1e-3, 0.9, 1e-7)):
        _close(actual, expected, dtype)

    W, G, A, B = (cp.array(x) for x in (w, g, a, b))
    cuda.adadelta_update(W, G, A, B, 1.0, 0.95, 1e-7)
    for actual, expected in zip((W, A, B), ref.adadelta(host[0], host[1], host[4], host[5], 1.0, 0.95, 1e-7)):
        _close(actual, expected, dtype)


def test_errors(cp):
    x = cp.zeros((2, 3, 3, 1), dtype=np.float32)
    with pytest.raises(TypeError, match="float32 or float64"):
        cuda.im2col(x.astype(np.int32), 2, 2, 1, 1, 0, 0, 2, 2)
    with pytest.raises(ValueError, match="4-D"):
        cuda.maxpool_forward(x[0], 2, 2, 1, 1, 0, 0, 2, 2)
    with pytest.raises(ValueError, match="C-contiguous"):
        cuda.sgd_update(x, x.astype(np.float64), 0.1)
    with pytest.raises(ValueError, match="velocity"):
        cuda.sgd_update(x, x, 0.1, momentum=0.9)
    empty = cuda.im2col(cp.zeros((0, 3, 3, 1), dtype=np.float32), 2, 2, 1, 1, 0, 0, 2, 2)
    assert empty.shape == (0, 4)
