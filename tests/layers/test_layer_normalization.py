"""LayerNormalization and GroupNormalization layers: gradients (float64 central differences) over
drawn shapes, axes, groups and data formats; Keras's weight layout; configs and load_model round
trips; regularizers; and an error for each bad argument."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import Sequential
from minicnn.layers import Conv2D, Dense, Flatten, GroupNormalization, LayerNormalization
from minicnn.models import load_model
from minicnn.utils import check_gradients

F64 = "float64"


def assert_small(errors):
    assert max(errors.values()) < 1e-6, errors


def x_of(shape, seed):
    # Seeds from 10: check_gradients draws its R from seed 0, and an x along R has a near-zero dx.
    return np.random.default_rng(10 + seed).standard_normal(shape) * 2 + 0.5


@given(st.sampled_from([(3, 5), (2, 3, 4), (2, 3, 4, 2)]), st.data(), st.booleans(), st.booleans())
def test_layer_normalization_gradients(shape, data, center, scale):
    ndim = len(shape)
    axes = data.draw(st.lists(st.integers(1, ndim - 1), min_size=1, max_size=ndim - 1, unique=True))
    negative = data.draw(st.booleans())
    axis = [a - ndim if negative else a for a in axes]
    layer = LayerNormalization(axis=axis if len(axis) > 1 else axis[0], center=center, scale=scale, dtype=F64,
                               gamma_initializer="random_normal", beta_initializer="random_normal")
    assert_small(check_gradients(layer, x_of(shape, 0)))


@given(st.sampled_from([1, 2, 4, -1]), st.sampled_from(["channels_last", "channels_first"]), st.booleans(),
       st.booleans(), st.sampled_from([(3, 4), (2, 3, 4)]))
def test_group_normalization_gradients(groups, data_format, center, scale, spatial):
    C = 4
    shape = (2, *spatial, C) if data_format == "channels_last" else (2, C, *spatial)
    layer = GroupNormalization(groups, axis=-1 if data_format == "channels_last" else 1, center=center, scale=scale,
                               dtype=F64, gamma_initializer="random_normal", beta_initializer="random_normal")
    assert_small(check_gradients(layer, x_of(shape, 1)))


def test_weights_are_laid_out_as_keras_lays_them():
    layer = LayerNormalization(axis=[1, 3])
    layer.build((5, 6, 7))
    assert [w.shape for w in layer.get_weights()] == [(5, 7), (5, 7)]
    layer = LayerNormalization(axis=(-1, 1), center=False)
    layer.build((5, 6, 7))
    assert [w.shape for w in layer.get_weights()] == [(5, 7)]
    layer = GroupNormalization(2, axis=1, scale=False)
    layer.build((6, 3, 3))
    assert list(layer.params) == ["beta"] and layer.params["beta"].shape == (6,)
    assert LayerNormalization().count_params() == 0  # not built: no weights yet


def test_layer_normalization_over_an_image_equals_group_normalization_with_one_group_when_weights_are_trivial():
    x = x_of((3, 4, 5, 6), 2)
    ln = LayerNormalization(axis=[1, 2, 3], dtype=F64)
    gn = GroupNormalization(1, dtype=F64)
    np.testing.assert_allclose(ln(x), gn(x), rtol=1e-12, atol=1e-12)
    per_channel = GroupNormalization(-1, dtype=F64)(x)  # instance normalization
    mean, var = x.mean(axis=(1, 2), keepdims=True), x.var(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(per_channel, (x - mean) / np.sqrt(var + 1e-3), rtol=1e-12, atol=1e-12)


def test_group_normalization_channels_first_computes_the_same():
    x = x_of((2, 5, 4, 6), 3)
    last, first = GroupNormalization(3, gamma_initializer="random_normal"), GroupNormalization(3, axis=1)
    last.build((5, 4, 6))
    first.build((6, 5, 4))
    first.set_weights(last.get_weights())
    np.testing.assert_allclose(first(x.transpose(0, 3, 1, 2)).transpose(0, 2, 3, 1), last(x), rtol=1e-5, atol=1e-5)


def test_training_and_inference_are_the_same():
    layer = LayerNormalization()
    x = x_of((4, 3, 8), 4).astype(np.float32)
    np.testing.assert_array_equal(layer.forward(x, training=True)[0], layer.forward(x, training=False)[0])
    assert not layer.stateful


@pytest.mark.parametrize("make", [
    lambda: LayerNormalization(axis=[1, 2], epsilon=1e-5, center=False, gamma_initializer="random_normal",
                               gamma_regularizer="l2"),
    lambda: LayerNormalization(),
    lambda: GroupNormalization(groups=2, axis=1, epsilon=0.01, scale=False, beta_regularizer={"class_name": "L1",
                                                                                              "config": {"l1": 0.1}}),
    lambda: GroupNormalization(groups=-1),
])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    again = type(layer).from_config(config)
    assert again.get_config() == config
    layer.build((4, 6, 4))
    assert layer.output_shape == (4, 6, 4)


def test_save_and_load_model_round_trip(tmp_path):
    model = Sequential([Conv2D(4, 3, input_shape=(6, 6, 2)), LayerNormalization(gamma_regularizer="l2"),
                        GroupNormalization(2, epsilon=1e-4, gamma_initializer="random_normal"), Flatten(), Dense(3)])
    model.compile(optimizer="sgd", loss="mse")
    x = x_of((8, 6, 6, 2), 5).astype(np.float32)
    model.fit(x, np.zeros((8, 3), np.float32), epochs=1, verbose=0)  # moves gamma and beta off 1 and 0
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [type(l).__name__ for l in loaded.layers] == [type(l).__name__ for l in model.layers]
    assert loaded.layers[1].get_config() == model.layers[1].get_config()


def test_the_regularizer_penalises_gamma():
    from minicnn import regularizers
    layer = LayerNormalization(gamma_regularizer=regularizers.L2(0.5), gamma_initializer="ones")
    layer.build((3,))
    assert [(name, reg.l2) for l, name, reg in regularizers.penalized([layer])] == [("gamma", 0.5)]


@pytest.mark.parametrize("make, shape, error, words", [
    (lambda: LayerNormalization(axis="last"), None, TypeError, "axis must be an integer"),
    (lambda: LayerNormalization(axis=[]), None, TypeError, "non-empty list"),
    (lambda: LayerNormalization(epsilon=0), None, ValueError, "epsilon must be positive"),
    (lambda: LayerNormalization(epsilon="small"), None, TypeError, "epsilon must be a number"),
    (lambda: LayerNormalization(gamma_constraint="non_neg"), None, ValueError, "no weight constraints"),
    (lambda: LayerNormalization(gamma_initializer="nope"), None, ValueError, "Unknown initializer"),
    (lambda: LayerNormalization(axis=3), (4, 5), ValueError, "out of bounds"),
    (lambda: LayerNormalization(axis=0), (4, 5), ValueError, "batch axis"),
    (lambda: LayerNormalization(axis=[1, -2]), (4, 5), ValueError, "names an axis twice"),
    (lambda: LayerNormalization(center=False, beta_regularizer="l2"), (4,), ValueError, "no 'beta' weight"),
    (lambda: GroupNormalization(groups=0), None, ValueError, "groups must be a positive integer"),
    (lambda: GroupNormalization(groups=2.0), None, ValueError, "groups must be a positive integer"),
    (lambda: GroupNormalization(axis=[1, 2]), None, TypeError, "axis must be an integer"),
    (lambda: GroupNormalization(groups=8), (3, 3, 6), ValueError, "more than the 6 channels"),
    (lambda: GroupNormalization(groups=4), (3, 3, 6), ValueError, "does not divide the 6 channels"),
    (lambda: GroupNormalization(groups=2, axis=4), (3, 3, 6), ValueError, "does not name a channel axis"),
    (lambda: GroupNormalization(groups=2, axis=0), (3, 3, 6), ValueError, "does not name a channel axis"),
])
def test_errors(make, shape, error, words):
    with pytest.raises(error, match=words):
        make().build(shape) if shape else make()
