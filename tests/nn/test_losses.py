"""The loss ops: float64 numerical gradients of every loss, values and gradients against Keras 3
(recorded below) and against plain per-row loops, each row's loss (the ``*_rows`` functions),
Keras's reduction over outputs beyond (N, K) and with sample weights, and finite results for huge
logits."""
import math

import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.nn import losses as ops, regression_losses as reg
from minicnn.nn.activations import softmax_forward
from minicnn.utils.gradcheck import numerical_gradient, relative_error

TOL = 1e-6

# Inputs and what Keras 3.15.1 (torch backend) gives for them: the loss, and its gradient with
# respect to y_pred by torch's autograd (benchmarks/keras_losses.py prints these). Keras computes
# some of them in float32, so they are compared to 1e-6.
Y = np.array([[0.1, 0.6, 0.3], [0.5, 0.25, 0.25]])
P = np.array([[0.2, 0.5, 0.3], [0.7, 0.2, 0.1]])
Z = np.array([[2.0, -1.0, 0.5], [-3.0, 4.0, 1.0]])
YB = np.array([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]])
YR = np.array([[1.5, -2.0, 0.0], [3.0, 0.25, -1.0]])
PR = np.array([[1.0, 0.5, 0.3], [-1.0, 0.5, -1.2]])
KERAS = {
    "cce": (ops.categorical_crossentropy, Y, P, 1.0471835821017803,
            [[0.25, -0.1, 0.0], [0.14285714285714296, -0.125, -0.75]]),
    "cce_logits": (ops.categorical_crossentropy_from_logits, Y, Z, 3.3953834531764016,
                   [[0.34279851729463795, -0.2804437133646563, -0.06235480392998165],
                    [-0.2495660593525552, 0.35087370277788416, -0.10130764342532891]]),
    "scce_logits": (ops.categorical_crossentropy_from_logits, np.eye(3)[[1, 0]], Z, 5.145383453176402,
                    [[0.39279851729463794, -0.4804437133646563, 0.08764519607001835],
                     [-0.4995660593525552, 0.47587370277788416, 0.02369235657467109]]),
    "bce_logits": (ops.binary_crossentropy_from_logits, YB, Z, 0.882377564907074,
                   [[-0.01986715426244027, 0.04482357156417901, -0.06292344667495568],
                    [0.00790431243182799, 0.16366896988403334, -0.04482357156417901]]),
    "bce": (ops.binary_crossentropy, YB, P, 1.2060432434082031,
            [[-0.8333333581686019, 0.3333333432674408, -0.5555555721124013],
             [0.5555555721124013, 0.20833333954215047, -1.6666667163372038]]),
    "mse": (ops.mean_squared_error, YR, PR, 3.782083511352539,
            [[-0.1666666716337204, 0.833333358168602, 0.10000000298023223],
             [-1.3333333730697632, 0.0833333358168602, -0.06666666865348815]]),
    "mae": (reg.mean_absolute_error, YR, PR, 1.2916666269302368,
            [[-1 / 6, 1 / 6, 1 / 6], [-1 / 6, 1 / 6, -1 / 6]]),
    "mape": (reg.mean_absolute_percentage_error, YR, PR, 50000067.222225666,
             [[-1.111111068725586e+01, 8.333333015441895e+00, 1.666666583611551e+08],
              [-5.555555343627930e+00, 6.666666412353516e+01, -1.666666603088379e+01]]),
    "huber": (reg.huber, YR, PR, 0.9535416960716248,
              [[-0.0833333358168602, 0.1666666716337204, 0.05000000149011612],
               [-0.1666666716337204, 0.0416666679084301, -0.03333333432674408]]),
    "huber_0.5": (lambda y, p: reg.huber(y, p, delta=0.5), YR, PR, 0.536874994635582,
                  [[-0.0833333358168602, 0.0833333358168602, 0.05000000149011612],
                   [-0.0833333358168602, 0.0416666679084301, -0.03333333432674408]]),
    "kld": (reg.kl_divergence, Y, P, 0.07835033425343149,
            [[-0.25, -0.6, -0.5], [-0.35714285714285715, -0.625, -1.25]]),
}


@pytest.mark.parametrize("name", sorted(KERAS))
def test_value_and_gradient_match_keras(name):
    fn, y, p, value, grad = KERAS[name]
    loss, dp = fn(y, p)
    assert float(loss) == pytest.approx(value, rel=1e-6)
    np.testing.assert_allclose(dp, grad, rtol=1e-6, atol=1e-12)


# -- the same losses as plain loops over rows, straight from their definitions --------------------

def rows_mean(row_loss, y, p):
    """Keras's reduction: a loss per row of the last axis, averaged over all rows."""
    y2, p2 = y.reshape(-1, y.shape[-1]), p.reshape(-1, p.shape[-1])
    return sum(row_loss(a, b) for a, b in zip(y2, p2)) / len(y2)


def ref_cce_logits(y, z):
    return -sum(t * (zi - max(z) - math.log(sum(math.exp(v - max(z)) for v in z))) for t, zi in zip(y, z))


def ref_bce_logits(y, z):
    return sum(-t * math.log(1 / (1 + math.exp(-v))) - (1 - t) * math.log(1 - 1 / (1 + math.exp(-v)))
               for t, v in zip(y, z)) / len(z)


def ref_huber(y, p, delta=1.0):
    return sum(0.5 * (b - a) ** 2 if abs(b - a) <= delta else delta * (abs(b - a) - 0.5 * delta)
               for a, b in zip(y, p)) / len(p)


def ref_kld(y, p):
    clip = lambda v: min(max(v, 1e-7), 1.0)  # noqa: E731
    return sum(clip(a) * math.log(clip(a) / clip(b)) for a, b in zip(y, p))


REFS = {
    ops.categorical_crossentropy_from_logits: ref_cce_logits,
    ops.binary_crossentropy_from_logits: ref_bce_logits,
    reg.mean_absolute_error: lambda y, p: sum(abs(b - a) for a, b in zip(y, p)) / len(p),
    reg.mean_absolute_percentage_error: lambda y, p: 100 * sum(abs(b - a) / max(abs(a), 1e-7)
                                                               for a, b in zip(y, p)) / len(p),
    reg.huber: ref_huber,
    reg.kl_divergence: ref_kld,
}


def draw(shape, seed, fn):
    """Targets and predictions fit for ``fn``; differences at least 0.01 from 0 and 0.1 from ±1 (kinks)."""
    rng = np.random.default_rng(seed)
    if fn is reg.kl_divergence:
        y = rng.dirichlet(np.ones(shape[-1]), size=shape[:-1])
        return y, rng.uniform(0.05, 0.95, shape)
    if fn in (ops.categorical_crossentropy_from_logits, ops.binary_crossentropy_from_logits):
        y = rng.random(shape)
        return y, rng.standard_normal(shape) * 4
    y = rng.standard_normal(shape) * 2
    d = rng.uniform(0.01, 0.5, shape) * rng.choice([-1, 1], shape) + rng.choice([0.0, 1.6, -1.6], shape)
    return y, y + d


SHAPES = st.sampled_from([(1, 1), (3, 4), (2, 3, 5), (2, 2, 1, 3)])


@pytest.mark.parametrize("fn", list(REFS), ids=lambda f: f.__name__)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_values_match_plain_loops_over_rows(fn, shape, seed):
    y, p = draw(shape, seed, fn)
    loss, _ = fn(y, p)
    assert float(loss) == pytest.approx(rows_mean(REFS[fn], y, p), rel=1e-9, abs=1e-14)


@pytest.mark.parametrize("fn", [*REFS, ops.categorical_crossentropy, ops.binary_crossentropy,
                                ops.mean_squared_error], ids=lambda f: f.__name__)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_gradients_match_central_differences_in_float64(fn, shape, seed):
    y, p = draw(shape, seed, fn)
    if fn in (ops.categorical_crossentropy, ops.binary_crossentropy):
        p = np.random.default_rng(seed).uniform(0.05, 0.95, shape)
    _, dp = fn(y, p)
    assert dp.dtype == np.float64 and dp.shape == p.shape
    numeric = numerical_gradient(lambda: float(fn(y, p)[0]), p)
    assert relative_error(dp, numeric) < TOL


@given(delta=st.sampled_from([0.3, 1.0, 2.5]), seed=st.integers(0, 2**16))
def test_huber_gradient_for_any_delta(delta, seed):
    y, p = draw((3, 4), seed, reg.huber)
    p = p + np.where(np.isclose(np.abs(p - y), delta, atol=1e-3), 0.01, 0)  # away from the kink
    _, dp = reg.huber(y, p, delta)
    numeric = numerical_gradient(lambda: float(reg.huber(y, p, delta)[0]), p)
    assert relative_error(dp, numeric) < TOL
    assert float(reg.huber(y, p, delta)[0]) == pytest.approx(rows_mean(lambda a, b: ref_huber(a, b, delta), y, p))


@given(N=st.integers(1, 4), K=st.integers(2, 5), seed=st.integers(0, 2**16))
def test_fused_softmax_gradient_averages_over_rows_beyond_the_batch(N, K, seed):
    # Outputs (N, 3, K): Keras averages over the N * 3 rows, not over N alone.
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((N, 3, K)) * 3
    y = np.eye(K)[rng.integers(0, K, (N, 3))]
    loss, _ = ops.categorical_crossentropy(y, softmax_forward(z))
    assert float(loss) == pytest.approx(rows_mean(ref_cce_logits, y, z), rel=1e-9)
    assert float(ops.crossentropy_value(y, softmax_forward(z))) == pytest.approx(float(loss), rel=1e-12)
    numeric = numerical_gradient(lambda: float(ops.categorical_crossentropy(y, softmax_forward(z))[0]), z)
    assert relative_error(ops.softmax_crossentropy_backward(y, softmax_forward(z)), numeric) < TOL


def test_keras_reduction_beyond_two_axes():
    # Keras 3 (torch, float32) on rng(0) draws: categorical crossentropy of (2, 3, 5) probabilities
    # is 4.760096549987793, the mean over the 6 rows (dividing by the batch of 2 would give 14.28).
    rng = np.random.default_rng(0)
    for shape in [(4, 3), (2, 3, 5)]:
        y, p = rng.random(shape), rng.random(shape)
    assert float(ops.categorical_crossentropy(y, p)[0]) == pytest.approx(4.760096549987793, rel=1e-6)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_logits_losses_stay_finite_and_exact_for_huge_logits(dtype):
    z = np.array([[1000.0, -1000.0, 0.0], [-1e4, 1e4, 3.0]], dtype=dtype)
    y = np.array([[0, 0, 1], [1, 0, 0]], dtype=dtype)
    loss, dz = ops.categorical_crossentropy_from_logits(y, z)
    assert float(loss) == pytest.approx((1000 + 2e4) / 2)  # Keras 3: 10500.0
    np.testing.assert_allclose(dz, [[0.5, 0, -0.5], [-0.5, 0.5, 0]], atol=1e-7)
    assert dz.dtype == dtype
    zb = np.array([[1000.0, -1000.0], [50.0, -50.0]], dtype=dtype)
    yb = np.array([[0, 1], [1, 0]], dtype=dtype)
    loss, dz = ops.binary_crossentropy_from_logits(yb, zb)
    assert float(loss) == pytest.approx(500.0)  # Keras 3: 500.0
    np.testing.assert_allclose(dz, [[0.25, -0.25], [0, 0]], atol=1e-7)
    assert dz.dtype == dtype and np.isfinite(dz).all()


def test_kinks_and_clips_pass_keras_gradients():
    # |d| at d = 0 passes 0 (MAE, MAPE); KL divergence passes nothing where y_pred was clipped.
    _, g = reg.mean_absolute_error(np.array([[1.0, 2.0]]), np.array([[1.0, 3.0]]))
    np.testing.assert_array_equal(g, [[0, 0.5]])  # Keras 3: [[-0., 0.5]]
    _, g = reg.kl_divergence(np.array([[0.0, 0.3, 0.7], [0.5, 0.5, 0.0]]),
                             np.array([[0.2, 0.0, 0.8], [0.1, 1.2, -0.1]]))
    # Keras 3: [[-2.5e-07, 0, -0.4375], [-2.5, 0, 0]]
    np.testing.assert_allclose(g, [[-2.5e-07, 0, -0.4375], [-2.5, 0, 0]], rtol=1e-12)


# -- each row's loss (the *_rows functions), Keras's reduction, and its rank rule -----------------

ROWS = {  # the batch-mean function: its rows function, or one with delta
    ops.categorical_crossentropy_from_logits: ops.categorical_crossentropy_from_logits_rows,
    ops.binary_crossentropy_from_logits: ops.binary_crossentropy_from_logits_rows,
    reg.mean_absolute_error: reg.mean_absolute_error_rows,
    reg.mean_absolute_percentage_error: reg.mean_absolute_percentage_error_rows,
    reg.huber: reg.huber_rows,
    reg.kl_divergence: reg.kl_divergence_rows,
}


@pytest.mark.parametrize("fn", list(ROWS), ids=lambda f: f.__name__)
@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_rows_match_plain_loops_and_average_to_the_batch_loss(fn, shape, seed):
    y, p = draw(shape, seed, fn)
    rows = ROWS[fn](y, p)
    assert rows.shape == shape[:-1]
    expected = [REFS[fn](a, b) for a, b in zip(y.reshape(-1, shape[-1]), p.reshape(-1, shape[-1]))]
    np.testing.assert_allclose(rows.reshape(-1), expected, rtol=1e-9, atol=1e-14)
    assert float(rows.mean()) == pytest.approx(float(fn(y, p)[0]), rel=1e-12, abs=1e-15)


def ref_cce(y, p):
    """Crossentropy on probabilities from its definition: rescale the row, clip, -sum(y log q)."""
    q = [min(max(v / max(sum(p), 1e-7), 1e-7), 1 - 1e-7) for v in p]
    return -sum(t * math.log(v) for t, v in zip(y, q))


def ref_bce(y, p):
    clip = lambda v: min(max(v, 1e-7), 1 - 1e-7)  # noqa: E731
    return -sum(t * math.log(clip(v)) + (1 - t) * math.log(1 - clip(v)) for t, v in zip(y, p)) / len(p)


@given(shape=SHAPES, seed=st.integers(0, 2**16))
def test_probability_rows_match_plain_loops(shape, seed):
    rng = np.random.default_rng(seed)
    y, p = rng.random(shape), rng.uniform(0.0, 1.0, shape)
    flat = list(zip(y.reshape(-1, shape[-1]), p.reshape(-1, shape[-1])))
    for rows_fn, ref, mean_fn in [(ops.categorical_crossentropy_rows, ref_cce, ops.categorical_crossentropy),
                                  (ops.binary_crossentropy_rows, ref_bce, ops.binary_crossentropy),
                                  (ops.mean_squared_error_rows, lambda a, b: np.mean((b - a) ** 2),
                                   ops.mean_squared_error)]:
        rows = rows_fn(y, p)
        np.testing.assert_allclose(rows.reshape(-1), [ref(a, b) for a, b in flat], rtol=1e-9)
        assert float(rows.mean()) == pytest.approx(float(mean_fn(y, p)[0]), rel=1e-12)


@given(N=st.integers(1, 5), K=st.integers(1, 6), extra=st.sampled_from([(), (3,)]), seed=st.integers(0, 2**16))
def test_sparse_rows_are_the_one_hot_rows(N, K, extra, seed):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, (N, *extra))
    z = rng.standard_normal((N, *extra, K)) * 4
    onehot = ops.sparse_to_onehot(labels, K, np.float64)
    assert onehot.shape == (N, *extra, K) and (onehot.argmax(axis=-1) == labels).all()
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy_from_logits_rows(labels.astype(float), z),
                               ops.categorical_crossentropy_from_logits_rows(onehot, z), rtol=1e-12)
    p = softmax_forward(z)
    np.testing.assert_allclose(ops.sparse_categorical_crossentropy_rows(labels, p),
                               ops.categorical_crossentropy_rows(onehot, p), rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_rows_and_reduction_keep_the_dtype(dtype):
    y, p = np.array([[0.0, 1.0], [1.0, 0.0]], dtype=dtype), np.array([[0.3, 0.7], [0.6, 0.4]], dtype=dtype)
    for fn in [ops.categorical_crossentropy_rows, ops.categorical_crossentropy_from_logits_rows,
               ops.binary_crossentropy_rows, ops.binary_crossentropy_from_logits_rows, ops.mean_squared_error_rows,
               reg.mean_absolute_error_rows, reg.mean_absolute_percentage_error_rows, reg.huber_rows,
               reg.kl_divergence_rows]:
        assert fn(y, p).dtype == dtype, fn.__name__
    assert ops.sparse_categorical_crossentropy_rows(np.array([1, 0]), p).dtype == dtype
    values = ops.mean_squared_error_rows(y, p)
    for reduction in ops.REDUCTIONS:
        assert ops.reduce(values, np.array([1.0, 3.0]), reduction).dtype == dtype


def test_reduce_matches_keras_formulas():
    """Keras 3's reduce_weighted_values, written out: values times weights, then the sum, the sum
    over the number of values, or over the sum of the weights; nothing for "none"/None."""
    v = np.array([[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]])  # (N=2, H=3): a loss per position
    w = np.array([0.5, 2.0])
    wv = v * w[:, None]
    assert float(ops.reduce(v)) == 3.5
    assert float(ops.reduce(v, reduction="mean")) == 3.5
    assert float(ops.reduce(v, reduction="sum")) == 21.0
    assert float(ops.reduce(v, w)) == pytest.approx(wv.sum() / 6)
    assert float(ops.reduce(v, w.reshape(2, 1))) == pytest.approx(wv.sum() / 6)
    assert float(ops.reduce(v, w, "sum")) == pytest.approx(wv.sum())
    assert float(ops.reduce(v, w, "mean_with_sample_weight")) == pytest.approx(wv.sum() / (3 * w.sum()))
    assert float(ops.reduce(v, reduction="mean_with_sample_weight")) == 3.5  # no weights: the mean
    np.testing.assert_array_equal(ops.reduce(v, w, "none"), wv)
    np.testing.assert_array_equal(ops.reduce(v, None, None), v)
    assert float(ops.reduce(v, 2.0)) == 7.0  # one number weighs everything
    per_value = np.arange(6.0).reshape(2, 3)
    assert float(ops.reduce(v, per_value, "sum")) == (v * per_value).sum()
    out = ops.reduce(v)
    assert isinstance(out, np.ndarray) and out.shape == ()


def test_reduce_of_nothing_is_zero_not_nan():
    """Weights that are all 0 give 0, as Keras's divide_no_nan does. For an empty batch Keras 3
    returns the empty array of losses, which float() refuses; here it is 0, a number like any batch's."""
    assert float(ops.reduce(np.zeros((0,)))) == 0.0
    assert float(ops.reduce(np.array([1.0, 2.0]), np.zeros(2), "mean_with_sample_weight")) == 0.0


def test_reduce_follows_keras_rank_rule_for_weights():
    """Weights (N, 1) with losses (N,): Keras gives the losses a last axis of 1 ("none" keeps it)."""
    v, w = np.array([1.0, 2.0, 3.0]), np.array([[1.0], [0.0], [2.0]])
    assert ops.reduce(v, w, "none").shape == (3, 1)
    assert float(ops.reduce(v, w)) == pytest.approx(7 / 3)


@pytest.mark.parametrize("weight", [np.ones(3), np.ones((2, 2)), np.ones((2, 3, 1, 1))])
def test_reduce_refuses_weights_that_fit_nothing(weight):
    with pytest.raises(ValueError, match=r"sample_weight of shape .* fits neither the samples nor the losses"):
        ops.reduce(np.ones((2, 3)), weight)


def test_same_rank_is_keras_squeeze_or_expand():
    a1, a2, b2, b3 = np.zeros(4), np.zeros((4, 1)), np.zeros((4, 3)), np.zeros((4, 3, 1))
    shapes = lambda pair: tuple(x.shape for x in pair)  # noqa: E731
    assert shapes(ops.same_rank(a1, a2)) == ((4, 1), (4, 1))  # a 1-D array gets the axis
    assert shapes(ops.same_rank(a2, a1)) == ((4, 1), (4, 1))
    assert shapes(ops.same_rank(b2, b3)) == ((4, 3), (4, 3))  # else the axis of 1 goes
    assert shapes(ops.same_rank(b3, b2)) == ((4, 3), (4, 3))
    assert shapes(ops.same_rank(a1, b2)) == ((4,), (4, 3))  # anything else is left alone
