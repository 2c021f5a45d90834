"""keras.layers.Lambda: Keras 2's siamese network (two inputs, a shared base, the euclidean distance
as a Lambda, a contrastive loss function in compile) trains and its gradients match central
differences; a saved model stores the function's name, never its code."""
import json

import numpy as np
import pytest

import minicnn as keras
from minicnn import backend as K, layers as L, ops
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient


def euclidean_distance(vects):
    x, y = vects
    if hasattr(K, "sum"):  # Keras 2's backend functions, where minicnn has them
        sum_square = K.sum(K.square(x - y), axis=1, keepdims=True)
        return K.sqrt(K.maximum(sum_square, K.epsilon()))
    sum_square = ops.sum(ops.square(x - y), axis=1, keepdims=True)
    return ops.sqrt(ops.maximum(sum_square, 1e-7))


def contrastive_loss(y_true, y_pred, margin=1.0):
    return ops.mean(y_true * ops.square(y_pred) + (1 - y_true) * ops.square(ops.maximum(margin - y_pred, 0.0)))


def siamese(dtype="float32"):
    kw = dict(dtype=dtype)
    base = keras.Sequential([L.Dense(8, activation="tanh", input_shape=(6,), **kw), L.Dense(4, **kw)])
    a, b = keras.Input((6,), dtype=dtype), keras.Input((6,), dtype=dtype)
    distance = L.Lambda(euclidean_distance, output_shape=(1,), **kw)([base(a), base(b)])
    return keras.Model([a, b], distance)


def pairs(n, seed=0):
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, 6)).astype("float32")
    same = rng.integers(0, 2, n)
    b = np.where(same[:, None] == 1, a + 0.1 * rng.standard_normal((n, 6)), rng.standard_normal((n, 6)))
    return a, b.astype("float32"), same.astype("float32")


def test_the_siamese_network_trains_with_a_contrastive_loss_function():
    set_random_seed(0)
    model = siamese()
    model.compile(optimizer="rmsprop", loss=contrastive_loss)
    a, b, same = pairs(128)
    history = model.fit([a, b], same, batch_size=32, epochs=6, verbose=0)
    assert history.history["loss"][-1] < 0.85 * history.history["loss"][0]
    d = model.predict([a, b], verbose=0)
    assert d.shape == (128, 1) and d.dtype == np.float32
    assert d[same == 1].mean() < d[same == 0].mean()
    # the Lambda computes the distance of the shared base's outputs
    base = model.layers[2]
    np.testing.assert_allclose(d[:, 0], np.linalg.norm(base.predict(a, verbose=0) - base.predict(b, verbose=0),
                                                       axis=1), rtol=1e-4, atol=1e-5)


def test_the_siamese_gradients_match_central_differences():
    set_random_seed(1)
    model = siamese("float64")
    a, b, same = (v.astype("float64") for v in pairs(5, seed=1))

    def loss():
        d = np.asarray(model([a, b]))[:, 0]
        return float(np.mean(same * d ** 2 + (1 - same) * np.maximum(1.0 - d, 0) ** 2))
    with keras.GradientTape() as tape:
        tape.watch([a, b])
        value = contrastive_loss(same[:, None], model([a, b], training=True))
    sources = [a, b] + model.trainable_weights
    grads = tape.gradient(value, sources)
    assert float(value) == pytest.approx(loss())
    for g, s in zip(grads, sources):
        np.testing.assert_allclose(g.numpy(), numerical_gradient(loss, s), rtol=1e-6, atol=1e-9)


def test_a_saved_lambda_needs_its_function_from_custom_objects(tmp_path):
    set_random_seed(2)
    model = siamese()
    model.compile(optimizer="rmsprop", loss=contrastive_loss)
    a, b, same = pairs(16)
    model.fit([a, b], same, epochs=1, verbose=0)
    path = str(tmp_path / "siamese.npz")
    model.save(path)
    with pytest.raises(ValueError, match="euclidean_distance") as info:
        keras.models.load_model(path, custom_objects={"contrastive_loss": contrastive_loss})
    assert "custom_objects" in str(info.value)
    loaded = keras.models.load_model(path, custom_objects={"euclidean_distance": euclidean_distance,
                                                           "contrastive_loss": contrastive_loss})
    np.testing.assert_array_equal(loaded.predict([a, b], verbose=0), model.predict([a, b], verbose=0))
    loaded.fit([a, b], same, epochs=1, verbose=0)  # and it goes on training with the restored loss


def test_a_lambda_config_holding_code_is_refused():
    model = keras.Sequential([L.Dense(2, input_shape=(3,)), L.Lambda(ops.relu)])
    config = json.loads(model.to_json())
    entry = [e for e in config["config"]["layers"] if e["class_name"] == "Lambda"][0]
    entry["config"]["function"] = ["4wEAAAAAAAAA...", None, None]  # Keras 2 stored marshalled bytecode so
    with pytest.raises(ValueError, match="never runs code"):
        keras.models.model_from_json(json.dumps(config))


@pytest.mark.parametrize("output_shape", [(2, 3), lambda s: (s[0], 2, 3)], ids=["tuple", "function"])
def test_lambda_output_shape_as_a_tuple_or_a_function(output_shape):
    calls = []

    def to_matrix(x, rows=2):
        calls.append(1)
        return ops.reshape(x, (-1, rows, 3))
    inputs = keras.Input((6,))
    out = L.Lambda(to_matrix, output_shape=output_shape, arguments={"rows": 2})(inputs)
    assert out.shape == (None, 2, 3) and not calls  # the shape was given: no call to infer it
    model = keras.Model(inputs, L.Dense(1)(L.Flatten()(out)))
    assert model.predict(np.ones((4, 6), "float32"), verbose=0).shape == (4, 1)
    inferred = L.Lambda(to_matrix)(keras.Input((6,)))
    assert inferred.shape == (None, 2, 3)


def test_lambda_arguments_and_its_errors():
    layer = L.Lambda(lambda x, k: x * k, arguments={"k": 3.0})
    np.testing.assert_allclose(np.asarray(layer(np.ones((2, 2), "float32"))), np.full((2, 2), 3.0))
    with pytest.raises(TypeError, match="needs a function"):
        L.Lambda("relu")
    with pytest.raises(TypeError, match="arguments must be a dict"):
        L.Lambda(ops.relu, arguments=[1])
