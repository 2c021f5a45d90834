"""kernels/optimizers.cu on the CPU shim against the update rules written in NumPy (float64)."""
import numpy as np
from hypothesis import given, settings, strategies as st

import kernel_refs as ref

REALS = {"float": np.float32, "double": np.float64}
examples = settings(max_examples=25, deadline=None)
sizes = st.integers(1, 300)
common = dict(n=sizes, real=st.sampled_from(list(REALS)), launch=ref.launches, seed=st.integers(0, 2**32 - 1))


def _arrays(seed, n, dtype, k, positive=()):
    rng = np.random.default_rng(seed)
    out = [rng.standard_normal(n).astype(dtype) for _ in range(k)]
    for i in positive:  # second-moment states are non-negative
        out[i] = np.abs(out[i])
    return out


def _close(actual, expected, dtype):
    # float32 kernels against a float64 reference of float32 inputs: a few ulps apart.
    tol = {"rtol": 2e-5, "atol": 2e-6} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-14}
    np.testing.assert_allclose(actual, expected, **tol)


@examples
@given(**common, lr=st.sampled_from([0.01, 0.5]), momentum=st.sampled_from([0.0, 0.9]), nesterov=st.booleans())
def test_sgd(shim, n, real, launch, seed, lr, momentum, nesterov):
    dtype = REALS[real]
    w, g, m = _arrays(seed, n, dtype, 3)
    lib = shim("optimizers", real)
    if momentum == 0 and not nesterov:
        w_ref, _ = ref.sgd(w.astype(float), g.astype(float), None, lr, 0, False)
        lib.launch("sgd_update", *ref.grid_for(n, launch), w, g, n, lr)
    else:
        w_ref, m_ref = ref.sgd(w.astype(float), g.astype(float), m.astype(float), lr, momentum, nesterov)
        lib.launch("sgd_momentum_update", *ref.grid_for(n, launch), w, g, m, n, lr, momentum, int(nesterov))
        _close(m, m_ref, dtype)
    _close(w, w_ref, dtype)


@examples
@given(**common, t=st.integers(1, 50))
def test_adam(shim, n, real, launch, seed, t):
    dtype = REALS[real]
    w, g, m, v = _arrays(seed, n, dtype, 4, positive=(3,))
    lr, beta_1, beta_2, epsilon = 1e-3, 0.9, 0.999, 1e-7
    w_ref, m_ref, v_ref = ref.adam(*(a.astype(float) for a in (w, g, m, v)), lr, beta_1, beta_2, epsilon, t)
    alpha = lr * np.sqrt(1 - beta_2**t) / (1 - beta_1**t)
    shim("optimizers", real).launch("adam_update", *ref.grid_for(n, launch), w, g, m, v, n,
                                    alpha, beta_1, beta_2, epsilon)
    for actual, expected in [(w, w_ref), (m, m_ref), (v, v_ref)]:
        _close(actual, expected, dtype)


@examples
@given(**common)
def test_rmsprop(shim, n, real, launch, seed):
    dtype = REALS[real]
    w, g, v = _arrays(seed, n, dtype, 3, positive=(2,))
    lr, rho, epsilon = 1e-3, 0.9, 1e-7
    w_ref, v_ref = ref.rmsprop(*(a.astype(float) for a in (w, g, v)), lr, rho, epsilon)
    shim("optimizers", real).launch("rmsprop_update", *ref.grid_for(n, launch), w, g, v, n, lr, rho, epsilon)
    _close(w, w_ref, dtype)
    _close(v, v_ref, dtype)


@examples
@given(**common)
def test_adadelta(shim, n, real, launch, seed):
    dtype = REALS[real]
    w, g, a, b = _arrays(seed, n, dtype, 4, positive=(2, 3))
    lr, rho, epsilon = 1.0, 0.95, 1e-7
    w_ref, a_ref, b_ref = ref.adadelta(*(x.astype(float) for x in (w, g, a, b)), lr, rho, epsilon)
    shim("optimizers", real).launch("adadelta_update", *ref.grid_for(n, launch), w, g, a, b, n, lr, rho, epsilon)
    for actual, expected in [(w, w_ref), (a, a_ref), (b, b_ref)]:
        _close(actual, expected, dtype)

