"""Extreme numbers stay finite: softmax, log-softmax, crossentropy and sigmoid for logits up to
±1e4 and probabilities of exactly 0 and 1; batch normalization of one sample or a constant
channel; and a diverging run is reported (nan in the progress output, TerminateOnNaN), not a crash.

pytest turns RuntimeWarnings into errors here (setup.cfg), so an overflow warning fails a test.
References are computed in float64 with Python's math module, row by row, from the stable
formulas (shift by the max before exp), independently of minicnn's vectorised code.
"""
import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from minicnn import Sequential, optimizers
from minicnn.callbacks import Callback, LearningRateScheduler, TerminateOnNaN
from minicnn.layers import BatchNormalization, Conv2D, Dense, Flatten
from minicnn.nn import activations, losses
from minicnn.utils import set_random_seed, to_categorical

DTYPES = [np.float32, np.float64]
EXTREME_ROWS = [
    [1e4, -1e4, 0.0],
    [1e4, 1e4, 1e4],
    [-1e4, -1e4, -1e4],
    [-1e4, 1e4, 9999.5],
    [1e4, 0.0, -1e4],
    [0.0, 0.0, 0.0],
    [-1e4, -9999.0, -1e4],
]


# -- float64 references --------------------------------------------------------------------------

def ref_log_softmax(row):
    m = max(row)
    log_sum = math.log(math.fsum(math.exp(v - m) for v in row))
    return [v - m - log_sum for v in row]


def ref_softmax(row):
    return [math.exp(v) for v in ref_log_softmax(row)]


def ref_sigmoid(v):
    return 1 / (1 + math.exp(-v)) if v >= 0 else math.exp(v) / (1 + math.exp(v))


def clip_bounds(dtype):
    """Keras's clip range [1e-7, 1 - 1e-7] as the dtype represents it."""
    return float(dtype(losses.EPSILON)), float(dtype(1 - losses.EPSILON))


def ref_categorical_crossentropy(y_true, p, dtype):
    """Keras's: rescale each row to sum 1, clip to [1e-7, 1 - 1e-7], mean of -sum(y log q)."""
    lo, hi = clip_bounds(dtype)
    total = 0.0
    for yrow, prow in zip(y_true.tolist(), p.tolist()):
        s = math.fsum(prow)
        total -= math.fsum(yv * math.log(min(max(pv / s, lo), hi)) for yv, pv in zip(yrow, prow))
    return total / len(p)


def ref_binary_crossentropy(y_true, p, dtype):
    lo, hi = clip_bounds(dtype)
    terms = []
    for yv, pv in zip(y_true.ravel().tolist(), p.ravel().tolist()):
        pc = min(max(pv, lo), hi)
        one_minus = float(dtype(1) - dtype(pc))  # 1 - p as the dtype computes it
        terms.append(-(yv * math.log(pc) + (1 - yv) * math.log(one_minus)))
    return math.fsum(terms) / len(terms)


def tolerances(dtype, scale=1.0):
    eps = float(np.finfo(dtype).eps)
    return {"rtol": 8 * eps, "atol": 8 * eps * scale}


# -- softmax and log-softmax ---------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_softmax_and_log_softmax_at_extremes(dtype):
    x = np.array(EXTREME_ROWS, dtype=dtype)
    rows = x.astype(np.float64).tolist()
    p, logp = activations.softmax_forward(x.copy()), activations.log_softmax(x)
    assert p.dtype == dtype and logp.dtype == dtype
    assert np.isfinite(p).all() and np.isfinite(logp).all()
    np.testing.assert_allclose(p, [ref_softmax(r) for r in rows], **tolerances(dtype))
    np.testing.assert_allclose(logp, [ref_log_softmax(r) for r in rows], **tolerances(dtype, 2e4))
    np.testing.assert_allclose(p.sum(axis=-1), 1, **tolerances(dtype))


logit_rows = st.lists(st.one_of(st.floats(-1e4, 1e4), st.sampled_from([1e4, -1e4, 0.0])), min_size=1, max_size=6)


@given(st.lists(logit_rows.map(tuple), min_size=1, max_size=4).filter(lambda rs: len({len(r) for r in rs}) == 1),
       st.sampled_from(DTYPES))
def test_softmax_random_extremes(rows, dtype):
    x = np.array(rows, dtype=dtype)
    exact = x.astype(np.float64).tolist()
    p, logp = activations.softmax_forward(x.copy()), activations.log_softmax(x)
    np.testing.assert_allclose(p, [ref_softmax(r) for r in exact], **tolerances(dtype))
    np.testing.assert_allclose(logp, [ref_log_softmax(r) for r in exact], **tolerances(dtype, 2e4))
    # The backward stays finite even where probabilities are exactly 0 and 1.
    assert np.isfinite(activations.softmax_backward(np.ones_like(p), p)).all()


# -- sigmoid, tanh -------------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_sigmoid_no_overflow(dtype):
    values = [-1e4, -1000.0, -710.0, -100.0, -88.8, -20.0, -1.0, 0.0, 1.0, 20.0, 88.8, 100.0, 710.0, 1000.0, 1e4]
    x = np.array(values, dtype=dtype)
    y = activations.sigmoid_forward(x)   # a RuntimeWarning (overflow in exp) would fail here
    assert y.dtype == dtype
    # Below the dtype's smallest normal number (exp(-88) in float32) only absolute error counts.
    np.testing.assert_allclose(y, [ref_sigmoid(float(v)) for v in x], rtol=4 * np.finfo(dtype).eps,
                               atol=np.finfo(dtype).tiny)
    assert y[0] == 0 and y[-1] == 1
    assert np.isfinite(activations.sigmoid_backward(np.ones_like(y), y)).all()
    t = activations.tanh_forward(x)
    np.testing.assert_array_equal(t[[0, -1]], [-1, 1])


# -- crossentropies on probabilities 0 and 1 -----------------------------------------------------

@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_exact_zeros_and_ones(dtype):
    p = np.array([[0, 0, 1], [1, 0, 0], [0.5, 0.5, 0], [0, 1, 0]], dtype=dtype)
    y = np.array([[1, 0, 0], [1, 0, 0], [0, 0, 1], [0.2, 0.8, 0]], dtype=dtype)
    loss, dp = losses.categorical_crossentropy(y, p)
    assert np.isfinite(loss) and np.isfinite(dp).all() and dp.dtype == dtype
    assert float(loss) == pytest.approx(ref_categorical_crossentropy(y, p, dtype), rel=8 * float(np.finfo(dtype).eps))
    assert float(losses.crossentropy_value(y, p)) == pytest.approx(float(loss), rel=8 * float(np.finfo(dtype).eps))
    dz = losses.softmax_crossentropy_backward(y, p)
    assert np.isfinite(dz).all()
    # A correct, certain prediction costs nothing and passes no gradient.
    loss1, dp1 = losses.categorical_crossentropy(y[1:2], p[1:2])
    assert float(loss1) == pytest.approx(-math.log(clip_bounds(dtype)[1]), abs=1e-6)
    assert not np.any(losses.softmax_crossentropy_backward(y[1:2], p[1:2]))


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_all_zero_row(dtype):
    """A saturated sigmoid output can be all zeros: finite loss (the clip's maximum), no 0/0."""
    p = np.zeros((2, 3), dtype=dtype)
    y = np.eye(3, dtype=dtype)[:2]
    loss, dp = losses.categorical_crossentropy(y, p)
    assert float(loss) == pytest.approx(-math.log(clip_bounds(dtype)[0]), rel=1e-6)
    assert np.isfinite(dp).all()
    assert np.isfinite(losses.crossentropy_value(y, p))


@pytest.mark.parametrize("dtype", DTYPES)
def test_crossentropy_from_logits_at_extremes(dtype):
    x = np.array(EXTREME_ROWS, dtype=dtype)
    y = to_categorical(np.arange(len(x)) % 3, 3).astype(dtype)
    p = activations.softmax_forward(x.copy())
    loss, _ = losses.categorical_crossentropy(y, p)
    ref = ref_categorical_crossentropy(y, np.array([ref_softmax(r) for r in x.astype(np.float64).tolist()]), dtype)
    assert float(loss) == pytest.approx(ref, rel=1e-5)
    assert np.isfinite(losses.softmax_crossentropy_backward(y, p)).all()


@pytest.mark.parametrize("dtype", DTYPES)
def test_binary_crossentropy_exact_zeros_and_ones(dtype):
    p = np.array([[0, 1, 0, 1, 0.25]], dtype=dtype)
    y = np.array([[0, 1, 1, 0, 1]], dtype=dtype)
    loss, dp = losses.binary_crossentropy(y, p)
    assert np.isfinite(loss) and np.isfinite(dp).all()
    assert float(loss) == pytest.approx(ref_binary_crossentropy(y, p, dtype), rel=1e-6)
    # Through the sigmoid at ±1e4.
    z = np.array([[-1e4, 1e4, -1e4, 1e4, 0]], dtype=dtype)
    s = activations.sigmoid_forward(z)
    loss_s, dp_s = losses.binary_crossentropy(y, s)
    assert float(loss_s) == pytest.approx(ref_binary_crossentropy(y, np.array([[ref_sigmoid(v) for v in z[0]]]), dtype),
                                          rel=1e-6)
    assert np.isfinite(activations.sigmoid_backward(dp_s, s)).all()


# -- through a model -----------------------------------------------------------------------------

def model_with_logits(activation, units=3, dtype="float32"):
    """Dense(units) whose logits are exactly the input (identity kernel, zero bias)."""
    model = Sequential([Dense(units, activation=activation, input_shape=(units,), dtype=dtype)])
    model.set_weights([np.eye(units), np.zeros(units)])
    return model


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("loss", ["categorical_crossentropy", "sparse_categorical_crossentropy"])
def test_model_softmax_crossentropy_at_extreme_logits(dtype, loss):
    x = np.array(EXTREME_ROWS, dtype=dtype)
    labels = np.arange(len(x)) % 3
    y = labels if loss.startswith("sparse") else to_categorical(labels, 3)
    model = model_with_logits("softmax", dtype=dtype)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss=loss, metrics=["accuracy"])
    p = model.predict(x)
    np.testing.assert_allclose(p, [ref_softmax(r) for r in x.astype(np.float64).tolist()], **tolerances(np.dtype(dtype)))
    ref = ref_categorical_crossentropy(to_categorical(labels, 3), p.astype(np.float64), np.dtype(dtype).type)
    value, _ = model.evaluate(x, y, verbose=0)
    assert value == pytest.approx(ref, rel=1e-5)
    # Training takes the fused softmax-crossentropy gradient: finite loss and weights.
    assert np.isfinite(model.train_on_batch(x, y)).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_model_sigmoid_binary_crossentropy_at_extreme_logits(dtype):
    x = np.array([[-1e4], [1e4], [-1e4], [1e4], [0.0]], dtype=dtype)
    y = np.array([[0], [1], [1], [0], [1]], dtype=dtype)
    model = model_with_logits("sigmoid", units=1, dtype=dtype)
    model.compile(optimizer=optimizers.SGD(learning_rate=0.1), loss="binary_crossentropy")
    ref = ref_binary_crossentropy(y, np.array([ref_sigmoid(float(v)) for v in x.ravel()]), np.dtype(dtype).type)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(ref, rel=1e-6)
    assert np.isfinite(model.train_on_batch(x, y))
    assert all(np.isfinite(w).all() for w in model.get_weights())


def test_model_sigmoid_categorical_crossentropy_saturated():
    x = np.full((4, 3), -1e4, np.float32)
    model = model_with_logits("sigmoid")
    model.compile(optimizer="sgd", loss="categorical_crossentropy")
    loss = model.train_on_batch(x, to_categorical([0, 1, 2, 0], 3))
    assert np.isfinite(loss)


# -- batch normalization -------------------------------------------------------------------------

@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape", [(1, 5), (1, 4, 4, 3), (6, 4, 4, 3), (7, 5)])
def test_batchnorm_one_sample_or_constant_channel(dtype, shape):
    rng = np.random.default_rng(0)
    x = rng.normal(size=shape).astype(dtype) * 1e4
    x[..., 1] = 1e4           # a constant channel: zero variance
    bn = BatchNormalization(dtype=dtype)
    bn.build(shape[1:])
    y, cache = bn.forward(x, training=True)
    assert np.isfinite(y).all()
    # A zero-variance channel normalises to beta (0), whatever its value.
    np.testing.assert_allclose(y[..., 1], 0, atol=1e-6)
    dx, grads = bn.backward(rng.normal(size=shape).astype(dtype), cache)
    assert np.isfinite(dx).all()
    assert all(np.isfinite(g).all() for g in grads.values())
    assert all(np.isfinite(w).all() for w in bn.get_weights())
    assert np.isfinite(bn(x, training=False)).all()


def test_batchnorm_model_trains_with_batch_size_one():
    rng = np.random.default_rng(1)
    x = rng.random((5, 6, 6, 2), dtype=np.float32)
    x[..., 0] = 3.0
    model = Sequential([Conv2D(3, (3, 3), input_shape=(6, 6, 2)), BatchNormalization(), Flatten(),
                        Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    history = model.fit(x, to_categorical([0, 1, 0, 1, 0], 2), batch_size=1, epochs=2, verbose=0)
    assert np.isfinite(history.history["loss"]).all()
    assert all(np.isfinite(w).all() for w in model.get_weights())
    assert np.isfinite(model.predict(x)).all()


# -- diverging training --------------------------------------------------------------------------

def diverging_setup(seed=0):
    """A linear model whose loss overflows to inf at the second batch and turns nan after (lr=1e30)."""
    set_random_seed(seed)
    rng = np.random.default_rng(seed)
    x = rng.random((64, 4), dtype=np.float32) + 0.5
    y = rng.random((64, 1), dtype=np.float32)
    model = Sequential([Dense(1, input_shape=(4,))])
    model.compile(optimizer=optimizers.SGD(learning_rate=1e30), loss="mse")
    return model, x, y


class BatchLosses(Callback):
    """Records (epoch, batch, running loss) for every training batch."""

    def __init__(self):
        self.seen, self.epoch = [], 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        self.seen.append((self.epoch, batch, logs["loss"]))


def first_non_finite(records):
    return next((e, b) for e, b, loss in records if not math.isfinite(loss))


@pytest.mark.parametrize("verbose", [0, 1, 2])
def test_terminate_on_nan_stops_and_says_where(capsys, verbose):
    model, x, y = diverging_setup()
    record = BatchLosses()
    history = model.fit(x, y, batch_size=8, epochs=5, verbose=verbose, callbacks=[record, TerminateOnNaN()],
                        shuffle=False)
    epoch, batch = first_non_finite(record.seen)
    assert record.seen[-1][:2] == (epoch, batch), "training went on after the first nan"
    out = capsys.readouterr().out
    assert f"Epoch {epoch + 1}, batch {batch}: Invalid loss, terminating training" in out
    assert len(history.history["loss"]) == epoch + 1


def test_terminate_on_nan_in_a_later_epoch_names_it(capsys):
    rng = np.random.default_rng(0)
    x = rng.random((32, 4), dtype=np.float32)
    y = rng.random((32, 1), dtype=np.float32)
    model = Sequential([Dense(4, input_shape=(4,)), Dense(1)])
    model.compile(optimizer=optimizers.SGD(learning_rate=0.01), loss="mse")
    record = BatchLosses()
    blow_up = LearningRateScheduler(lambda epoch, lr: 1e30 if epoch == 2 else 0.01)
    model.fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=[blow_up, record, TerminateOnNaN()])
    epoch, batch = first_non_finite(record.seen)
    assert epoch == 2
    assert f"Epoch 3, batch {batch}: Invalid loss, terminating training" in capsys.readouterr().out
    assert record.seen[-1][:2] == (2, batch)


def test_terminate_on_nan_raise_error():
    model, x, y = diverging_setup()
    with pytest.raises(RuntimeError, match=r"NaN or Inf loss encountered at epoch 1, batch \d+"):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[TerminateOnNaN(raise_error=True)])


@pytest.mark.parametrize("verbose", [1, 2])
def test_without_terminate_on_nan_progress_shows_nan(capsys, verbose):
    model, x, y = diverging_setup()
    history = model.fit(x, y, batch_size=8, epochs=3, verbose=verbose, validation_split=0.25)
    out = capsys.readouterr().out
    assert out.count("Epoch ") == 3
    assert "loss: nan" in out and "val_loss: nan" in out
    assert len(history.history["loss"]) == 3
    assert all(math.isnan(v) for v in history.history["loss"])
    # The model is still usable: evaluate and predict run and show the nan.
    assert math.isnan(model.evaluate(x, y, verbose=0))
    assert np.isnan(model.predict(x)).all()
