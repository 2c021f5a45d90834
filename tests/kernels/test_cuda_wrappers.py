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
from minicnn.nn import layer_norm

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


@examples
@given(shape=st.sampled_from([(2, 3, 4, 6), (1, 5, 2, 4), (3, 1, 1, 2)]), kind=st.sampled_from(["layer", "group"]),
       trailing=st.integers(1, 3), groups=st.sampled_from([1, 2, -1]), channels_last=st.booleans(),
       weights=st.sampled_from([(True, True), (True, False), (False, True), (False, False)]),
       segment=st.sampled_from([1, 5, 64]), dtype=dtypes, seed=seeds)
def test_normalization(cp, shape, kind, trailing, groups, channels_last, weights, segment, dtype, seed):
    """Layer normalization over the trailing axes, group normalization on either channel axis: the
    views minicnn.nn.layer_norm hands the kernels, against that op on the host in float64."""
    rng = np.random.default_rng(seed)
    x, dy = rng.standard_normal((2,) + shape).astype(dtype)
    if kind == "layer":
        axes = tuple(range(4 - trailing, 4))
        D = int(np.prod(shape[4 - trailing:]))
        view = (x.size // D, 1, 1, D, 1)
        full = (1,) * (4 - trailing) + shape[4 - trailing:]
    else:
        axis = 3 if channels_last else 1
        C = shape[axis]
        G = C if groups == -1 or C % groups else groups
        view = layer_norm.group_view(shape, G, axis)
        full = (shape[axis],)
    gamma, beta = (rng.standard_normal(full).astype(dtype) if on else None for on in weights)
    host = [None if a is None else a.astype(np.float64) for a in (x, gamma, beta)]
    if kind == "layer":
        y_ref, cache = layer_norm.layernorm_forward(*host, axes, 1e-3)
        dx_ref, dgamma_ref, dbeta_ref = layer_norm.layernorm_backward(dy.astype(np.float64), cache)
    else:
        y_ref, cache = layer_norm.groupnorm_forward(*host, G, axis, 1e-3)
        dx_ref, dgamma_ref, dbeta_ref = layer_norm.groupnorm_backward(dy.astype(np.float64), cache)
    device = [None if a is None else cp.asarray(a) for a in (x, gamma, beta)]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cuda, "NORM_SEGMENT", segment)
        y, mean, rstd = cuda.norm_forward(*device, view, 1e-3)
        dx, dgamma, dbeta = cuda.norm_backward(cp.asarray(dy), device[0], mean, rstd, device[1], view,
                                               param_grads=gamma is not None or beta is not None)
    assert y.shape == dx.shape == x.shape and y.dtype == dx.dtype == dtype
    assert mean.shape == rstd.shape == (view[0] * view[2],)
    # dx is a difference of terms of size |dy| * rstd that nearly cancel (two values per group): its
    # float32 error follows those terms, not dx itself.
    terms = float(np.abs(dy).max() * to_numpy(rstd).max())
    for got, want in ((y, y_ref), (dx, dx_ref), (dgamma, dgamma_ref), (dbeta, dbeta_ref)):
        if want is not None:
            tol = ref.tolerance(dtype)
            if got is dx:
                tol = {**tol, "atol": max(tol["atol"], tol["rtol"] * terms)}
            np.testing.assert_allclose(to_numpy(got).reshape(want.shape), want, **tol)
    if gamma is None and beta is None:
        assert dgamma is None and dbeta is None


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
    with pytest.raises(ValueError, match="cannot be viewed"):
        cuda.norm_forward(x, None, None, (2, 3, 1, 2, 1), 1e-3)
    with pytest.raises(ValueError, match="gamma must hold G\\*Cg = 1 elements of x's dtype float32"):
        cuda.norm_forward(x, cp.ones(1), None, (2, 9, 1, 1, 1), 1e-3)
    y, mean, rstd = cuda.norm_forward(x[:0], None, None, (0, 9, 1, 1, 1), 1e-3)
    assert y.shape == (0, 3, 3, 1) and mean.shape == rstd.shape == (0,)
    dx, dgamma, dbeta = cuda.norm_backward(y, x[:0], mean, rstd, None, (0, 9, 1, 1, 1))
    assert dx.shape == (0, 3, 3, 1) and to_numpy(dgamma).tolist() == to_numpy(dbeta).tolist() == [0]
