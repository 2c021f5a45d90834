"""minicnn.regularizers: penalties and gradients against float64 central differences, the names and
configs Keras has, the layers' arguments, and training: the penalties join the loss (History,
evaluate) and their gradients the update, as Keras 3 does."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import Sequential, backend, optimizers, regularizers
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.models import load_model
from minicnn.regularizers import L1, L1L2, L2, l1, l1_l2, l2
from minicnn.utils import set_random_seed


def numeric_gradient(f, w, eps=1e-6):
    g = np.zeros_like(w)
    for i in np.ndindex(w.shape):
        old = w[i]
        w[i] = old + eps
        up = f(w)
        w[i] = old - eps
        down = f(w)
        w[i] = old
        g[i] = (up - down) / (2 * eps)
    return g


@given(st.sampled_from([L1(0.3), L2(0.2), L1L2(0.05, 0.7), L1L2()]), st.integers(0, 2**31),
       st.sampled_from([(7,), (3, 4), (2, 3, 2, 2)]))
def test_penalties_and_gradients_match_central_differences(reg, seed, shape):
    rng = np.random.default_rng(seed)
    # |w| >= 0.1: away from the kink of |w| at 0, where central differences do not apply
    w = rng.uniform(0.1, 2, shape) * rng.choice([-1.0, 1.0], shape)
    expected = reg.get_config().get("l1", 0) * np.abs(w).sum() + reg.get_config().get("l2", 0) * (w ** 2).sum()
    assert reg(w) == pytest.approx(expected, rel=1e-14, abs=0)
    assert reg(w).dtype == np.float64 and reg.gradient(w).dtype == np.float64
    np.testing.assert_allclose(reg.gradient(w), numeric_gradient(reg, w), rtol=1e-7, atol=1e-9)


def test_values_keras_gives_and_the_gradient_at_zero():
    assert float(L2(2.0)(np.ones((5, 5), np.float32))) == 50.0  # Keras's docstring example
    assert float(L1(0.01)(np.full((5, 5), 2.0, np.float32))) == pytest.approx(0.5)  # ... and its L1 one
    w = np.array([-1.5, 0.0, 2.0], np.float32)
    assert L1(0.5)(w).dtype == np.float32
    np.testing.assert_array_equal(L1(0.5).gradient(w), [-0.5, 0.0, 0.5])  # 0 at 0, as autograd's |w|
    np.testing.assert_array_equal(L2(0.5).gradient(w), w)


def test_names_defaults_configs_and_get():
    assert (l1, l2, l1_l2) == (L1, L2, L1L2)  # Keras 3's lowercase names are the classes
    assert L1().l1 == 0.01 and L2().l2 == 0.01 and (L1L2().l1, L1L2().l2) == (0.0, 0.0)
    assert L2(None).l2 == 0.01 and L1L2(None, 0.2).get_config() == {"l1": 0.0, "l2": 0.2}
    assert regularizers.get("l1").get_config() == {"l1": 0.01}
    assert regularizers.get("L2").get_config() == {"l2": 0.01}
    assert regularizers.get("l1_l2").get_config() == {"l1": 0.01, "l2": 0.01}  # Keras 2's l1_l2()
    assert regularizers.get("l1l2").get_config() == {"l1": 0.0, "l2": 0.0}  # Keras 3's snake case of L1L2
    config = {"l1": 0.1, "l2": 0.2}
    assert regularizers.get({"class_name": "L1L2", "config": config}).get_config() == config
    assert regularizers.get(L2).get_config() == {"l2": 0.01}
    reg = l2(0.3)
    assert regularizers.get(reg) is reg and regularizers.get(None) is None
    again = regularizers.get(regularizers.serialize(reg))
    assert type(again) is L2 and again.get_config() == {"l2": 0.3} and repr(again) == "L2(l2=0.3)"
    assert L1L2.from_config(l1_l2(l1=0.1).get_config()).get_config() == {"l1": 0.1, "l2": 0.0}


def test_errors():
    with pytest.raises(ValueError, match="Unknown regularizer 'l3'; valid names are"):
        regularizers.get("l3")
    with pytest.raises(ValueError, match="Unknown regularizer class_name 'L3'"):
        regularizers.get({"class_name": "L3", "config": {}})
    with pytest.raises(TypeError, match="needs a Regularizer subclass with __call__ and gradient"):
        regularizers.get(lambda w: 0.01 * (w ** 2).sum())
    for bad in (-0.1, float("nan"), float("inf"), "0.1", True):
        with pytest.raises(ValueError, match="Invalid value for argument l2: expected a non-negative float"):
            L2(bad)

    class Mine(regularizers.Regularizer):
        def get_config(self):
            return {}
    with pytest.raises(ValueError, match="Cannot save a model with the custom regularizer"):
        regularizers.serialize(Mine())
    with pytest.raises(NotImplementedError, match="Mine must define gradient"):
        Mine().gradient(np.ones(2))


def test_layers_take_them_in_keras_1_2_and_3_spellings_and_keep_them_in_their_config():
    dense = Dense(3, kernel_regularizer="l2", bias_regularizer=l1(0.2))
    assert type(dense.regularizers["kernel"]) is L2 and dense.regularizers["bias"].l1 == 0.2
    old = Dense(3, W_regularizer=l2(0.1), b_regularizer="l1")  # Keras 1
    assert old.regularizers["kernel"].l2 == 0.1 and type(old.regularizers["bias"]) is L1
    conv = Conv2D(2, 3, kernel_regularizer=l1_l2(l1=0.1, l2=0.2))
    config = conv.get_config()
    assert config["kernel_regularizer"] == {"class_name": "L1L2", "config": {"l1": 0.1, "l2": 0.2}}
    assert "bias_regularizer" not in config and "kernel_regularizer" not in Dense(3).get_config()
    again = Conv2D.from_config(config)
    assert again.regularizers["kernel"].get_config() == {"l1": 0.1, "l2": 0.2}
    assert Dense(3).regularizers == {}


def test_a_regularizer_on_a_weight_the_layer_lacks_is_refused_at_build():
    with pytest.raises(ValueError, match=r"dense: a bias_regularizer was given, but Dense has no 'bias' weight "
                                         r"\(its weights: kernel\)"):
        Sequential([Dense(3, use_bias=False, bias_regularizer="l2", input_dim=4)])
    with pytest.raises(ValueError, match="MaxPooling2D has no 'kernel' weight"):
        Sequential([MaxPooling2D(kernel_regularizer="l2", input_shape=(4, 4, 1))])
    with pytest.raises(ValueError, match="activity_regularizer is not supported"):
        Dense(3, activity_regularizer="l2")


def data(n=6, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, 4)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]


@pytest.mark.parametrize("fast", [True, False])
def test_one_sgd_step_with_l2_equals_the_step_by_hand(fast):
    saved = backend.fast_path()
    backend.set_fast_path(fast)
    try:
        set_random_seed(1)
        model = Sequential([Dense(3, activation="softmax", input_dim=4, kernel_regularizer=l2(0.1))])
        model.compile(optimizer=optimizers.SGD(0.5), loss="categorical_crossentropy")
        x, y = data()
        W, b = (w.astype(np.float64) for w in model.get_weights())
        z = x @ W + b
        p = np.exp(z - z.max(1, keepdims=True))
        p /= p.sum(1, keepdims=True)
        data_loss = -np.mean(np.sum(y * np.log(p), axis=1))
        dz = (p - y) / len(x)
        loss = model.train_on_batch(x, y)
        assert loss == pytest.approx(data_loss + 0.1 * (W ** 2).sum(), rel=1e-6)
        W_new, b_new = model.get_weights()
        np.testing.assert_allclose(W_new, W - 0.5 * (x.T @ dz + 2 * 0.1 * W), rtol=1e-5, atol=1e-6)
        np.testing.assert_allclose(b_new, b - 0.5 * dz.sum(0), rtol=1e-5, atol=1e-6)  # no bias regularizer
    finally:
        backend.set_fast_path(saved)


def conv_model(dtype="float64"):
    set_random_seed(2)
    return Sequential([
        Conv2D(2, 3, activation="tanh", input_shape=(5, 5, 1), dtype=dtype, kernel_regularizer=l1_l2(0.01, 0.02),
               bias_regularizer=l2(0.05)),
        Flatten(dtype=dtype), Dense(3, activation="softmax", dtype=dtype, kernel_regularizer=l1(0.03))])


def test_the_step_follows_the_gradient_of_the_loss_evaluate_reports():
    """One SGD step of rate 1 moves each weight by minus the gradient of the training loss; that
    gradient, in float64, equals the central differences of the loss test_on_batch reports."""
    model = conv_model()
    rng = np.random.default_rng(3)
    x, y = rng.standard_normal((4, 5, 5, 1)), np.eye(3)[rng.integers(0, 3, 4)]
    model.compile(optimizer=optimizers.SGD(1.0), loss="categorical_crossentropy")
    model.layers[0].params["bias"][...] = [0.3, -0.2]  # a bias worth penalizing
    before = model.get_weights()
    numeric = []
    for k, w in enumerate(before):
        def loss(wk, k=k):
            model.set_weights([*before[:k], wk, *before[k + 1:]])
            return model.test_on_batch(x, y)
        numeric.append(numeric_gradient(loss, w.copy()))
    model.set_weights(before)
    model.train_on_batch(x, y)
    for k, (w0, w1, g) in enumerate(zip(before, model.get_weights(), numeric)):
        np.testing.assert_allclose(w0 - w1, g, rtol=1e-6, atol=1e-9, err_msg=f"weight {k}")


def plain_twin(model):
    """The same layers and weights without regularizers: its loss is the data loss alone."""
    twin = Sequential([type(layer).from_config({k: v for k, v in layer.get_config().items()
                                                if not k.endswith("_regularizer")}) for layer in model.layers])
    twin.build((None, *model.input_shape[1:]))
    twin.set_weights(model.get_weights())
    twin.compile(optimizer="sgd", loss=model.loss)
    return twin


def penalty(model):
    k1, b1, k2, _ = (w.astype(np.float64) for w in model.get_weights())
    return 0.01 * np.abs(k1).sum() + 0.02 * (k1 ** 2).sum() + 0.05 * (b1 ** 2).sum() + 0.03 * np.abs(k2).sum()


def test_history_and_evaluate_report_the_data_loss_plus_the_penalties():
    model = conv_model("float32")
    rng = np.random.default_rng(4)
    x, y = rng.standard_normal((8, 5, 5, 1)).astype(np.float32), np.eye(3, dtype=np.float32)[rng.integers(0, 3, 8)]
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy")
    for _ in range(2):  # one batch per epoch: an epoch's loss is that of the weights it starts from
        want = plain_twin(model).evaluate(x, y, verbose=0) + penalty(model)
        history = model.fit(x, y, batch_size=8, epochs=1, verbose=0)
        assert history.history["loss"][0] == pytest.approx(want, rel=1e-6)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(plain_twin(model).evaluate(x, y, verbose=0)
                                                            + penalty(model), rel=1e-6)
    history = model.fit(x, y, batch_size=8, epochs=1, verbose=0, validation_data=(x, y))
    assert history.history["val_loss"][0] == pytest.approx(model.evaluate(x, y, verbose=0), rel=1e-6)


def test_a_frozen_layer_is_not_penalized():
    model = conv_model("float32")
    model.layers[0].trainable = False  # Keras penalizes trainable weights only
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy")
    x, y = np.ones((2, 5, 5, 1), np.float32), np.eye(3, dtype=np.float32)[[0, 1]]
    k2 = model.get_weights()[2].astype(np.float64)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(
        plain_twin(model).evaluate(x, y, verbose=0) + 0.03 * np.abs(k2).sum(), rel=1e-6)


def test_save_and_load_keep_the_regularizers(tmp_path):
    model = conv_model("float32")
    model.compile(optimizer=optimizers.Adam(), loss="categorical_crossentropy")
    x, y = np.ones((2, 5, 5, 1), np.float32), np.eye(3, dtype=np.float32)[[0, 1]]
    model.train_on_batch(x, y)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    assert loaded.evaluate(x, y, verbose=0) == model.evaluate(x, y, verbose=0)
    assert loaded.train_on_batch(x, y) == model.train_on_batch(x, y)
    np.testing.assert_array_equal(loaded.get_weights()[0], model.get_weights()[0])


def test_two_steps_agree_with_keras_3():
    """The losses Keras 3.15.1 (torch backend) reported for the model and digits of
    benchmarks/keras_regularizers.py (see RESULTS.md), with SGD(0.1): two train_on_batch, then evaluate."""
    from minicnn.datasets import mnist
    (x, y), _ = mnist.load_sample()
    x, y = x[:64].reshape(-1, 28, 28, 1).astype(np.float32) / 255, np.eye(10, dtype=np.float32)[y[:64]]
    set_random_seed(0)
    model = Sequential([Conv2D(4, 3, activation="relu", kernel_regularizer=l2(0.01), bias_regularizer=l1(0.01),
                               input_shape=(28, 28, 1)), MaxPooling2D(), Flatten(),
                        Dense(10, activation="softmax", kernel_regularizer=l1_l2(l1=0.001, l2=0.01))])
    model.compile(optimizer=optimizers.SGD(0.1), loss="categorical_crossentropy")
    steps = [model.train_on_batch(x[i:i + 32], y[i:i + 32]) for i in (0, 32)]
    np.testing.assert_allclose(steps, [2.7910573, 2.7712286], rtol=1e-6)
    assert model.evaluate(x, y, verbose=0) == pytest.approx(2.6289871, rel=1e-6)
