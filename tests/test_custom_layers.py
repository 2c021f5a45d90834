"""Layers of one's own, as Keras's guides write them, train on the tape inside Sequential and
functional models: gradients against central differences (float64), keras.io's Antirectifier,
ConvNeXt's LayerScale, a VAE's Sampling with add_loss counted in fit, sublayers, output shapes,
and saving with custom_objects or registration."""
import numpy as np
import pytest

import minicnn as keras
from minicnn import layers as L, ops
from minicnn.optimizers import SGD
from minicnn.serialization import _REGISTERED, register_keras_serializable
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient

from custom_layers import Antirectifier, GatedDense, Keras2Scale, LayerScale, Linear, Sampling

F64 = dict(dtype="float64")


def _check_model_gradients(model, x, training=True):
    """The tape's d(sum(model(x) * R))/d(weights and x) against central differences."""
    rng = np.random.default_rng(1)
    r = rng.standard_normal(model(x).shape)
    with keras.GradientTape() as tape:
        tape.watch(x)
        s = ops.sum(model(x, training=training) * r)
    sources = [x] + model.trainable_weights
    grads = tape.gradient(s, sources)
    value = lambda: float((np.asarray(model(x, training=training)) * r).sum())  # noqa: E731
    for g, a in zip(grads, sources):
        assert g is not None
        np.testing.assert_allclose(g.numpy(), numerical_gradient(value, a), rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("make", [lambda: Linear(3, **F64), lambda: Keras2Scale(**F64),
                                  lambda: Antirectifier(**F64), lambda: LayerScale(0.5, 4, **F64),
                                  lambda: GatedDense(3, **F64)],
                         ids=["keras3_add_weight", "keras2_add_weight", "antirectifier", "layer_scale", "sublayer"])
def test_a_custom_layers_gradients_inside_a_sequential_match_central_differences(make):
    set_random_seed(0)
    custom = make()
    model = keras.Sequential([L.Dense(4, activation="tanh", input_shape=(3,), **F64), custom, L.Dense(2, **F64)])
    x = np.random.default_rng(0).standard_normal((5, 3))
    assert custom.trainable_weights and all(w.dtype == np.float64 for w in custom.trainable_weights)
    assert all(any(w is m for m in model.trainable_weights) for w in custom.trainable_weights)
    _check_model_gradients(model, x, training=False)
    if isinstance(custom, Keras2Scale):  # its call halves the output when training
        np.testing.assert_allclose(np.asarray(model.layers[1](model.layers[0](x), training=True)),
                                   0.5 * np.asarray(model.layers[1](model.layers[0](x))))


def test_both_add_weight_spellings_name_and_initialise_the_weights():
    layer = Keras2Scale()
    layer(np.zeros((2, 3), "float32"))
    assert list(layer.params) == ["kernel", "shift"] and layer.trainable_names == ("kernel", "shift")
    np.testing.assert_array_equal(layer.get_weights()[0], np.ones(3))
    lin = Linear(2)
    lin(np.zeros((1, 3), "float32"))
    assert [w.shape for w in lin.get_weights()] == [(3, 2), (2,)] and lin.params["w"].dtype == np.float32
    assert isinstance(lin.w, keras.ops.Variable) and lin.w.path == f"{lin.name}/w"
    with pytest.raises(ValueError, match="exists already"):
        lin.add_weight(shape=(2,), name="w")
    with pytest.raises(ValueError, match="needs a shape"):
        lin.add_weight(name="nothing")


def test_antirectifier_forward_is_keras_ios_and_it_trains():
    set_random_seed(0)
    layer = Antirectifier()
    x = np.random.default_rng(0).standard_normal((4, 6)).astype("float32")
    y = np.asarray(layer(x))
    centred = x - x.mean(axis=-1, keepdims=True)
    expected = np.concatenate([np.maximum(centred, 0), np.maximum(-centred, 0)], axis=-1) @ layer.get_weights()[0]
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)
    assert layer.built and layer.get_weights()[0].shape == (12, 6)

    set_random_seed(1)
    model = keras.Sequential([L.Dense(16, input_shape=(6,)), Antirectifier(), L.Dense(16), Antirectifier(),
                              L.Dense(3, activation="softmax")])
    model.compile(optimizer="rmsprop", loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(2)
    x = rng.standard_normal((96, 6)).astype("float32")
    y = (x[:, 0] > 0).astype(int) + (x[:, 1] > 0)
    history = model.fit(x, y, batch_size=16, epochs=8, verbose=0)
    assert history.history["loss"][-1] < 0.75 * history.history["loss"][0]
    assert all(p.dtype == np.float32 for p in model.get_weights())


def test_layer_scale_gradient_is_the_sum_of_dy_times_x():
    layer = LayerScale(1e-2, 3)
    x = np.random.default_rng(0).standard_normal((2, 4, 4, 3)).astype("float32")
    dy = np.random.default_rng(1).standard_normal(x.shape).astype("float32")
    with keras.GradientTape() as tape:
        out = layer(x)
    (dgamma,) = tape.gradient(out, layer.trainable_weights, output_gradients=dy)
    np.testing.assert_allclose(layer.get_weights()[0], np.full(3, 1e-2, "float32"))
    np.testing.assert_allclose(dgamma.numpy(), (dy * x).sum(axis=(0, 1, 2)), rtol=1e-5)
    assert dgamma.dtype == np.float32


def _vae(eps):
    inputs = keras.Input((3,), dtype="float64")
    h = L.Dense(4, activation="tanh", **F64)(inputs)
    z = Sampling(eps=eps, **F64)([L.Dense(2, **F64)(h), L.Dense(2, **F64)(h)])
    return keras.Model(inputs, L.Dense(3, **F64)(z))


def test_add_loss_the_kl_term_is_in_fits_loss_and_in_its_gradient():
    set_random_seed(0)
    rng = np.random.default_rng(0)
    n = 6
    x, y, eps = rng.standard_normal((n, 3)), rng.standard_normal((n, 3)), rng.standard_normal((n, 2))
    model = _vae(eps)
    dense_h, dense_mean, dense_log_var, dense_out = [l for l in model.layers if isinstance(l, L.Dense)]

    def by_hand():  # the MSE of the reconstruction plus the KL term, all in NumPy
        h = np.tanh(x @ dense_h.params["kernel"] + dense_h.params["bias"])
        mean = h @ dense_mean.params["kernel"] + dense_mean.params["bias"]
        log_var = h @ dense_log_var.params["kernel"] + dense_log_var.params["bias"]
        kl = -0.5 * np.mean(np.sum(1 + log_var - mean ** 2 - np.exp(log_var), axis=1))
        z = mean + np.exp(0.5 * log_var) * eps
        out = z @ dense_out.params["kernel"] + dense_out.params["bias"]
        return np.mean((out - y) ** 2) + kl
    expected_loss = by_hand()
    weights = model.trainable_weights
    expected_grads = [numerical_gradient(by_hand, w) for w in weights]
    before = [w.copy() for w in weights]
    model.compile(SGD(0.1), loss="mse")
    history = model.fit(x, y, batch_size=n, epochs=1, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(expected_loss, rel=1e-10)
    for w, w0, g in zip(weights, before, expected_grads):
        np.testing.assert_allclose(w, w0 - 0.1 * g, rtol=1e-7, atol=1e-10)
    sampling = [l for l in model.layers if isinstance(l, Sampling)][0]
    assert len(sampling.losses) == 1  # Keras's layer.losses: those of the last call
    assert model.evaluate(x, y, batch_size=n, verbose=0) == pytest.approx(by_hand(), rel=1e-10)


def test_a_custom_layer_without_super_build_is_built_and_the_next_layer_builds():
    model = keras.Sequential([L.Dense(5, input_shape=(4,)), Antirectifier(), L.Dense(2)])
    assert model.layers[1].built and model.output_shape == (None, 2)
    assert model.predict(np.ones((3, 4), "float32"), verbose=0).shape == (3, 2)


def test_a_sublayer_is_trained_through_the_layer_that_holds_it():
    set_random_seed(0)
    gated = GatedDense(3)
    model = keras.Sequential([L.Dense(4, input_shape=(3,)), gated, L.Dense(1)])
    assert [w.shape for w in gated.trainable_weights] == [(3,), (4, 3), (3,)]  # its own, then the Dense's
    assert model.count_params() == 16 + 3 + 15 + 4
    before = [w.copy() for w in gated.dense.get_weights()]
    model.compile(SGD(0.05), loss="mse")
    x = np.random.default_rng(0).standard_normal((16, 3)).astype("float32")
    model.fit(x, x.sum(axis=1, keepdims=True), epochs=2, batch_size=8, verbose=0)
    assert all(not np.array_equal(a, b) for a, b in zip(before, gated.dense.get_weights()))


class _CountingCalls(L.Layer):
    calls = 0

    def call(self, inputs):
        type(self).calls += 1
        return ops.concatenate([inputs, inputs], axis=-1)


class _WithShape(_CountingCalls):
    def compute_output_shape(self, input_shape):
        return (*input_shape[:-1], 2 * input_shape[-1])


def test_compute_output_shape_is_used_when_defined_else_inferred_from_a_call():
    inputs = keras.Input((5,))
    _WithShape.calls = 0
    out = _WithShape()(inputs)
    assert out.shape == (None, 10) and _WithShape.calls == 0
    _CountingCalls.calls = 0
    out = _CountingCalls()(inputs)
    assert out.shape == (None, 10) and _CountingCalls.calls == 1  # a call on a batch of zeros, once


def _saved_model(tmp_path, layer):
    set_random_seed(0)
    model = keras.Sequential([L.Dense(4, input_shape=(3,)), layer, L.Dense(2)])
    model.compile("adam", loss="mse")
    path = str(tmp_path / "model.npz")
    model.save(path)
    return model, path


def test_save_and_load_with_custom_objects(tmp_path):
    model, path = _saved_model(tmp_path, LayerScale(0.3, 4))
    with pytest.raises(ValueError, match="LayerScale") as info:
        keras.models.load_model(path)
    assert "custom_objects" in str(info.value)
    loaded = keras.models.load_model(path, custom_objects={"LayerScale": LayerScale})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert loaded.layers[1].projection_dim == 4 and loaded.layers[1].init_values == 0.3


def test_save_and_load_a_registered_layer(tmp_path):
    @register_keras_serializable(package="TestCustom")
    class RegisteredAntirectifier(Antirectifier):
        pass
    try:
        model, path = _saved_model(tmp_path, RegisteredAntirectifier())
        loaded = keras.models.load_model(path)
        x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
        np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
        assert type(loaded.layers[1]) is RegisteredAntirectifier
    finally:
        _REGISTERED.pop("TestCustom>RegisteredAntirectifier", None)


def test_a_custom_layer_in_a_functional_model_trains_like_its_builtin_twin():
    """Linear (matmul + bias in ops) and Dense (hand-written) from the same weights, the same steps."""
    set_random_seed(0)
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((12, 3)).astype("float32"), rng.standard_normal((12, 2)).astype("float32")

    def make(custom):
        inputs = keras.Input((3,))
        h = L.Dense(5, activation="relu")(inputs)
        h = Linear(4)(h) if custom else L.Dense(4)(h)
        return keras.Model(inputs, L.Dense(2)(L.Activation("tanh")(h)))
    custom, builtin = make(True), make(False)
    custom.set_weights(builtin.get_weights())
    for m in (custom, builtin):
        m.compile(SGD(0.1, momentum=0.9), loss="mse")
    h1 = custom.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"]
    h2 = builtin.fit(x, y, batch_size=4, epochs=3, shuffle=False, verbose=0).history["loss"]
    np.testing.assert_allclose(h1, h2, rtol=1e-5)
    for a, b in zip(custom.get_weights(), builtin.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
        assert a.dtype == np.float32


def test_save_and_load_a_layer_holding_a_sublayer(tmp_path):
    model, path = _saved_model(tmp_path, GatedDense(3))
    loaded = keras.models.load_model(path, custom_objects={"GatedDense": GatedDense})
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))


def test_set_weights_of_a_model_with_a_layer_holding_a_sublayer():
    """get_weights lists a custom layer's sublayers' weights; set_weights takes the same list back."""
    set_random_seed(0)
    model = keras.Sequential([L.Dense(4, input_shape=(3,)), GatedDense(3), L.Dense(2)])
    other = keras.Sequential([L.Dense(4, input_shape=(3,)), GatedDense(3), L.Dense(2)])
    assert len(model.get_weights()) == 2 + 3 + 2
    other.set_weights(model.get_weights())
    x = np.random.default_rng(0).standard_normal((4, 3)).astype("float32")
    np.testing.assert_array_equal(other.predict(x, verbose=0), model.predict(x, verbose=0))


def test_numpy_inside_call_is_refused_where_it_would_stop_the_gradient():
    """np.tanh on a followed Tensor cannot record: training such a layer raises, saying to use ops,
    instead of leaving its weights (and those before it) silently untrained; predict still runs."""
    class NumpyInCall(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), name="w")

        def call(self, x):
            return np.tanh(ops.matmul(x, self.w))

    class ConstantOut(keras.layers.Layer):
        def build(self, input_shape):
            self.w = self.add_weight(shape=(input_shape[-1], 2), name="w")

        def call(self, x):
            return np.zeros((len(x), 2), np.float32)

    x, y = np.ones((4, 3), np.float32), np.zeros((4, 2), np.float32)
    for layer, words in ((NumpyInCall(), r"ops\.tanh\(x\), not np\.tanh\(x\)"), (ConstantOut(), "could not train")):
        model = keras.Sequential([keras.layers.Dense(3, input_shape=(3,)), layer])
        model.compile("sgd", "mse")
        with pytest.raises(TypeError, match=words):
            model.fit(x, y, verbose=0)
        assert model.predict(x).shape == (4, 2)
