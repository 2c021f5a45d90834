"""Losses and metrics written by their user: a loss function in ops and a Loss subclass train as
the built-in loss they re-implement (sample weights included), a focal loss's gradient against
central differences, a metric function in ops, a stateful keras.metrics.Metric reset per epoch
and per evaluate, and keras.metrics.Mean."""
import numpy as np
import pytest

import minicnn as keras
from minicnn import layers as L, ops
from minicnn.optimizers import SGD
from minicnn.user_losses import LossFunctionWrapper, value_and_gradient
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient


def my_mse(y_true, y_pred):
    return ops.mean(ops.square(y_pred - y_true), axis=-1)


class MyCategoricalCrossentropy(keras.losses.Loss):
    def call(self, y_true, y_pred):
        y_pred = y_pred / ops.sum(y_pred, axis=-1, keepdims=True)
        return -ops.sum(y_true * ops.log(ops.clip(y_pred, 1e-7, 1 - 1e-7)), axis=-1)


def _model(activation, outputs):
    return keras.Sequential([L.Dense(6, activation="tanh", input_shape=(4,)), L.Dense(outputs, activation=activation)])


@pytest.mark.parametrize("weighted", [False, True], ids=["unweighted", "sample_weight"])
@pytest.mark.parametrize("case", ["mse_function", "cce_subclass"])
def test_a_loss_in_ops_trains_as_the_builtin_it_reimplements(case, weighted):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((24, 4)).astype("float32")
    if case == "mse_function":
        ours, builtin, activation, y = my_mse, "mse", None, rng.standard_normal((24, 3)).astype("float32")
    else:
        ours, builtin, activation = MyCategoricalCrossentropy(), "categorical_crossentropy", "softmax"
        y = np.eye(3, dtype="float32")[rng.integers(0, 3, 24)]
    weight = rng.uniform(0.2, 2.0, 24).astype("float32") if weighted else None
    set_random_seed(0)
    a, b = _model(activation, 3), _model(activation, 3)
    b.set_weights(a.get_weights())
    a.compile(SGD(0.1, momentum=0.5), loss=ours)
    b.compile(SGD(0.1, momentum=0.5), loss=builtin)
    ha = a.fit(x, y, sample_weight=weight, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    hb = b.fit(x, y, sample_weight=weight, batch_size=8, epochs=3, shuffle=False, verbose=0).history
    np.testing.assert_allclose(ha["loss"], hb["loss"], rtol=1e-5)
    for p, q in zip(a.get_weights(), b.get_weights()):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, q, rtol=1e-4, atol=1e-6)
    np.testing.assert_allclose(a.evaluate(x, y, sample_weight=weight, verbose=0),
                               b.evaluate(x, y, sample_weight=weight, verbose=0), rtol=1e-5)


def focal_loss(y_true, y_pred, gamma=2.0, alpha=0.25):
    p = ops.clip(y_pred, 1e-7, 1 - 1e-7)
    pt = y_true * p + (1 - y_true) * (1 - p)
    at = y_true * alpha + (1 - y_true) * (1 - alpha)
    return ops.mean(-at * ops.power(1 - pt, gamma) * ops.log(pt), axis=-1)


def test_a_focal_loss_gradient_matches_central_differences():
    rng = np.random.default_rng(1)
    y_pred = rng.uniform(0.05, 0.95, (5, 3))
    y_true = (rng.uniform(size=(5, 3)) > 0.5).astype("float64")

    def by_hand():
        pt = y_true * y_pred + (1 - y_true) * (1 - y_pred)
        at = y_true * 0.25 + (1 - y_true) * 0.75
        return float(np.mean(np.mean(-at * (1 - pt) ** 2 * np.log(pt), axis=-1)))
    value, grad = value_and_gradient(LossFunctionWrapper(focal_loss), y_true, y_pred)
    assert float(value) == pytest.approx(by_hand(), rel=1e-12)
    assert grad.dtype == np.float64 and grad.shape == y_pred.shape
    np.testing.assert_allclose(grad, numerical_gradient(by_hand, y_pred), rtol=1e-6, atol=1e-10)
    with keras.GradientTape() as tape:  # the same through a tape around a loss object
        p = keras.ops.convert_to_tensor(y_pred)
        tape.watch(p)
        loss = LossFunctionWrapper(focal_loss)(y_true, p)
    np.testing.assert_allclose(tape.gradient(loss, p).numpy(), grad, rtol=1e-12)


def test_a_loss_that_ignores_y_pred_is_refused_with_its_name():
    def broken(y_true, y_pred):
        return ops.mean(y_true, axis=-1)
    model = _model(None, 2)
    model.compile("sgd", loss=broken)
    with pytest.raises(ValueError, match="broken"):
        model.fit(np.ones((4, 4), "float32"), np.ones((4, 2), "float32"), verbose=0)


def mean_abs_err(y_true, y_pred):
    return ops.mean(ops.abs(y_true - y_pred), axis=-1)


def test_a_metric_function_in_ops_logs_as_the_builtin():
    rng = np.random.default_rng(2)
    x, y = rng.standard_normal((20, 4)).astype("float32"), rng.standard_normal((20, 3)).astype("float32")
    set_random_seed(0)
    model = _model(None, 3)
    model.compile(SGD(0.05), loss="mse", metrics=["mae", mean_abs_err])
    history = model.fit(x, y, batch_size=5, epochs=2, validation_data=(x, y), verbose=0).history
    np.testing.assert_allclose(history["mean_abs_err"], history["mae"], rtol=1e-6)
    np.testing.assert_allclose(history["val_mean_abs_err"], history["val_mae"], rtol=1e-6)
    results = dict(zip(model.metrics_names, model.evaluate(x, y, verbose=0)))
    assert results["mean_abs_err"] == pytest.approx(np.abs(model.predict(x, verbose=0) - y).mean(), rel=1e-5)


class TruePositives(keras.metrics.Metric):
    def __init__(self, name="true_positives", **kwargs):
        super().__init__(name=name, **kwargs)
        self.count = self.add_weight(name="count", initializer="zeros")

    def update_state(self, y_true, y_pred, sample_weight=None):
        hits = ops.logical_and(ops.greater(y_pred, 0.5), ops.greater(y_true, 0.5))
        self.count.assign_add(ops.sum(ops.cast(hits, "float32")))

    def result(self):
        return self.count


def test_a_stateful_metric_is_reset_per_epoch_and_per_evaluate_and_logs_its_result():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((30, 4)).astype("float32")
    y = (rng.uniform(size=(30, 1)) > 0.5).astype("float32")  # targets of shape (N, 1)
    set_random_seed(0)
    model = _model("sigmoid", 1)
    model.trainable = False  # the weights stay, so each epoch's count is the same
    model.compile(SGD(0.1), loss="binary_crossentropy", metrics=[TruePositives()])
    hand = float(np.sum((model.predict(x, verbose=0) > 0.5) & (y > 0.5)))
    assert 0 < hand < 30
    history = model.fit(x, y, batch_size=7, epochs=3, validation_data=(x[:12], y[:12]), verbose=0).history
    assert history["true_positives"] == [hand] * 3
    val_hand = float(np.sum((model.predict(x[:12], verbose=0) > 0.5) & (y[:12] > 0.5)))
    assert history["val_true_positives"] == [val_hand] * 3
    for _ in range(2):
        results = dict(zip(model.metrics_names, model.evaluate(x, y, batch_size=4, verbose=0)))
        assert results["true_positives"] == hand


def test_keras_metrics_mean_in_a_custom_loop():
    mean = keras.metrics.Mean()
    assert mean.name == "mean" and mean.result() == 0.0
    mean.update_state(np.array([1.0, 2.0, 3.0]))
    mean.update_state(keras.ops.convert_to_tensor(np.array(7.0, "float32")))
    assert mean.result() == pytest.approx(13 / 4)
    mean.reset_state()
    mean.update_state(np.array([1.0, 3.0]), sample_weight=np.array([3.0, 1.0]))
    assert mean.result() == pytest.approx(1.5)
    assert mean(np.array([10.0])) == pytest.approx((1 * 3 + 3 + 10) / 5)
    assert [v.numpy().item() for v in mean.variables] == [16.0, 5.0]
