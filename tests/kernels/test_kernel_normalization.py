"""kernels/normalization.cu on the CPU shim against the NumPy op: minicnn.nn.layer_norm on the view
(N, A, G, Cg, B) that the kernels normalise over A, Cg and B, in float64. Every kernel on its own,
with segments shorter than a row, longer, and of one element."""
import numpy as np
from hypothesis import given, settings, strategies as st

import kernel_refs as ref
from minicnn.nn.layer_norm import layernorm_backward, layernorm_forward

REALS = {"float": np.float32, "double": np.float64}
EPS = 1e-3
examples = settings(max_examples=30, deadline=None)
views = st.tuples(st.integers(1, 3), st.integers(1, 5), st.integers(1, 3), st.integers(1, 3), st.integers(1, 4))
common = dict(view=views, real=st.sampled_from(list(REALS)), launch=ref.launches, L=st.sampled_from([1, 3, 7, 64]),
              offset=st.sampled_from([0.0, 50.0]), seed=st.integers(0, 2**32 - 1))


def _close(actual, expected, dtype):
    # float32 kernels against float64 of the same inputs; the offset draws cost float32 a few digits.
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-10, "atol": 1e-10}
    np.testing.assert_allclose(actual, expected, **tol)


def _rows(a):
    """(N, A, G, Cg, B) -> (N*G, A*Cg*B): each row's elements in the kernels' order j = (a*Cg + k)*B + b."""
    N, A, G, Cg, B = a.shape
    return a.transpose(0, 2, 1, 3, 4).reshape(N * G, A * Cg * B)


def _draw(view, dtype, offset, seed):
    """x, dy (the view's shape), gamma, beta (G*Cg,), and the op's forward and backward in float64."""
    rng = np.random.default_rng(seed)
    x = (offset + rng.standard_normal(view)).astype(dtype)
    dy = rng.standard_normal(view).astype(dtype)
    gamma, beta = rng.standard_normal((2, view[2] * view[3])).astype(dtype)
    shape = (1, 1, view[2], view[3], 1)
    y, cache = layernorm_forward(x.astype(np.float64), gamma.astype(np.float64).reshape(shape),
                                 beta.astype(np.float64).reshape(shape), (1, 3, 4), EPS)
    return x, dy, gamma, beta, y, cache, layernorm_backward(dy.astype(np.float64), cache)


def _stats(x):
    """Each row's mean and rstd, in float64."""
    rows = _rows(x.astype(np.float64))
    return rows.mean(axis=1), 1 / np.sqrt(rows.var(axis=1) + EPS)


def _segments(count, L):
    return -(-count // L)


@examples
@given(**common)
def test_forward(shim, view, real, launch, L, offset, seed):
    dtype = REALS[real]
    x, _, gamma, beta, y_ref, _, _ = _draw(view, dtype, offset, seed)
    N, A, G, Cg, B = view
    R, count = N * G, A * Cg * B
    S = _segments(count, L)
    lib = shim("normalization", real)

    part = np.full((2, S, R), np.nan, dtype=dtype)
    lib.launch("norm_moments", *ref.grid_for(S * R, launch), x, part, N, A, G, Cg, B, S, L)
    pad = np.full((R, S * L), np.nan)
    pad[:, :count] = _rows(x.astype(np.float64))
    segs = pad.reshape(R, S, L)
    _close(part[0].T, np.nanmean(segs, axis=2), dtype)
    _close(part[1].T, np.nansum((segs - np.nanmean(segs, axis=2, keepdims=True)) ** 2, axis=2), dtype)

    mean, rstd = np.full(R, np.nan, dtype=dtype), np.full(R, np.nan, dtype=dtype)
    lib.launch("norm_stats", *ref.grid_for(R, launch), part, mean, rstd, R, S, L, count, EPS)
    mean_ref, rstd_ref = _stats(x)
    _close(mean, mean_ref, dtype)
    _close(rstd, rstd_ref, dtype)

    y = np.full(view, np.nan, dtype=dtype)
    lib.launch("norm_forward", *ref.grid_for(y.size, launch), x, mean, rstd, gamma, beta, y, N, A, G, Cg, B)
    _close(y, y_ref, dtype)


@examples
@given(**common)
def test_backward(shim, view, real, launch, L, offset, seed):
    dtype = REALS[real]
    x, dy, gamma, _, _, _, (dx_ref, dgamma_ref, dbeta_ref) = _draw(view, dtype, offset, seed)
    N, A, G, Cg, B = view
    R, count = N * G, A * Cg * B
    mean, rstd = (s.astype(dtype) for s in _stats(x))
    lib = shim("normalization", real)

    S = _segments(count, L)
    part = np.full((2, S, R), np.nan, dtype=dtype)
    lib.launch("norm_backward_sums", *ref.grid_for(S * R, launch), dy, x, mean, rstd, gamma, part,
               N, A, G, Cg, B, S, L)
    g = _rows(dy.astype(np.float64) * gamma.reshape(1, 1, G, Cg, 1))
    x_hat = (_rows(x.astype(np.float64)) - mean[:, None]) * rstd[:, None]
    sums = part.sum(axis=1)
    _close(sums[0], g.sum(axis=1), dtype)
    _close(sums[1], (g * x_hat).sum(axis=1), dtype)

    dx = np.full(view, np.nan, dtype=dtype)
    lib.launch("norm_backward", *ref.grid_for(dx.size, launch), dy, x, mean, rstd, gamma, sums, dx, N, A, G, Cg, B)
    _close(dx, dx_ref, dtype)

    S = _segments(N * A * B, L)
    part = np.full((2, S, G * Cg), np.nan, dtype=dtype)
    lib.launch("norm_param_sums", *ref.grid_for(S * G * Cg, launch), dy, x, mean, rstd, part, N, A, G, Cg, B, S, L)
    dgamma, dbeta = part.sum(axis=1)
    _close(dgamma, dgamma_ref.reshape(-1), dtype)
    _close(dbeta, dbeta_ref.reshape(-1), dtype)


def test_a_constant_row_normalises_to_beta(shim):
    """Zero variance: rstd is 1/sqrt(eps), y is beta exactly, and no NaN from 0/0."""
    x = np.full((2, 1, 1, 5, 1), 3.0)
    part, mean, rstd = np.empty((2, 1, 2)), np.empty(2), np.empty(2)
    lib = shim("normalization", "double")
    lib.launch("norm_moments", 1, 32, x, part, 2, 1, 1, 5, 1, 1, 64)
    lib.launch("norm_stats", 1, 32, part, mean, rstd, 2, 1, 64, 5, EPS)
    y = np.empty_like(x)
    lib.launch("norm_forward", 1, 32, x, mean, rstd, np.full(5, 2.0), np.arange(5.0), y, 2, 1, 1, 5, 1)
    np.testing.assert_array_equal(mean, [3, 3])
    np.testing.assert_allclose(rstd, 1 / np.sqrt(EPS))
    np.testing.assert_array_equal(y.reshape(2, 5), [np.arange(5.0)] * 2)
