"""SpatialDropout2D, GaussianNoise and GaussianDropout: the identity at inference, noise only in
training, expectations kept, float64 gradient checks with the draws replayed, errors and configs."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import Sequential
from minicnn.layers import (Conv2D, Dense, Flatten, GaussianDropout, GaussianNoise, MaxPooling2D, SpatialDropout2D,
                            UpSampling2D)
from minicnn.utils import check_gradients, set_random_seed

LAYERS = [lambda: SpatialDropout2D(0.4), lambda: SpatialDropout2D(0.4, data_format="channels_first"),
          lambda: GaussianNoise(0.3), lambda: GaussianDropout(0.4)]


@pytest.mark.parametrize("make", LAYERS)
def test_identity_at_inference_and_noisy_in_training(make):
    x = np.random.default_rng(0).standard_normal((8, 3, 4, 5)).astype(np.float32)
    layer = make()
    layer.build(x.shape[1:])
    y, cache = layer.forward(x, training=False)
    assert y is x and cache is None and layer(x) is x
    dx, grads = layer.backward(x, cache)
    assert dx is x and grads == {}
    y, _ = layer.forward(x, training=True)
    assert y.shape == x.shape and y.dtype == np.float32 and not np.array_equal(y, x)


@pytest.mark.parametrize("make", [lambda: SpatialDropout2D(0.0), lambda: GaussianNoise(0),
                                  lambda: GaussianDropout(0.0)])
def test_rate_zero_is_the_identity_in_training_too(make):
    x = np.ones((2, 3, 3, 2), dtype=np.float32)
    layer = make()
    layer.build(x.shape[1:])
    assert layer.forward(x, training=True)[0] is x


@pytest.mark.parametrize("make", LAYERS)
def test_training_keeps_the_mean(make):
    set_random_seed(0)
    x = np.full((4000, 2, 2, 5), 2.0)
    layer = make()
    layer.build(x.shape[1:])
    y, _ = layer.forward(x, training=True)
    assert abs(y.mean() - 2.0) < 0.05, y.mean()


@given(st.sampled_from(LAYERS[:2] + [lambda: SpatialDropout2D(0.9)]))
def test_spatial_dropout_zeroes_whole_channels(make):
    set_random_seed(1)
    layer = make()
    channels_first = layer.data_format == "channels_first"
    x = np.random.default_rng(1).standard_normal((30, 4, 3, 6)) + 10  # no zero of its own
    layer.build(x.shape[1:])
    y, mask = layer.forward(x, training=True)
    assert mask.shape == ((30, 4, 1, 1) if channels_first else (30, 1, 1, 6))
    maps = (y != 0) if channels_first else (y != 0).transpose(0, 3, 1, 2)  # (N, C, H, W)
    maps = maps.reshape(30, maps.shape[1], -1)
    assert (maps.all(axis=2) | ~maps.any(axis=2)).all() and 0 < (~maps.any(axis=2)).sum() < maps[..., 0].size
    np.testing.assert_allclose(y[y != 0], (x / (1 - layer.rate))[y != 0])


@given(st.sampled_from([lambda: SpatialDropout2D(0.5, dtype="float64"),
                        lambda: SpatialDropout2D(0.3, data_format="channels_first", dtype="float64"),
                        lambda: GaussianNoise(1.5, dtype="float64"), lambda: GaussianDropout(0.6, dtype="float64")]),
       st.integers(1, 3), st.integers(1, 3))
def test_gradients_in_training(make, H, C):
    set_random_seed(2)
    x = np.random.default_rng(2).standard_normal((3, H, 2, C))
    errors = check_gradients(make(), x, training=True)
    assert max(errors.values()) < 1e-7, errors


@pytest.mark.parametrize("make, error, says", [
    (lambda: SpatialDropout2D(1.0), ValueError, "rate must be in [0, 1), got 1.0"),
    (lambda: SpatialDropout2D(), TypeError, "rate must be a number"),
    (lambda: SpatialDropout2D("0.5"), TypeError, "rate must be a number"),
    (lambda: SpatialDropout2D(0.5, data_format="NCHW"), ValueError, "data_format"),
    (lambda: GaussianDropout(-0.1), ValueError, "rate must be in [0, 1)"),
    (lambda: GaussianDropout(float("nan")), ValueError, "rate must be in [0, 1)"),
    (lambda: GaussianNoise(-1), ValueError, "non-negative finite"),
    (lambda: GaussianNoise(float("inf")), ValueError, "non-negative finite"),
    (lambda: GaussianNoise(), TypeError, "GaussianNoise needs stddev"),
    (lambda: GaussianNoise(0.1, seed=-3), ValueError, "seed must be a non-negative integer"),
    (lambda: GaussianDropout(0.1, seed=1.5), TypeError, "seed must be a non-negative integer"),
])
def test_bad_arguments_are_named(make, error, says):
    with pytest.raises(error) as info:
        make()
    assert says in str(info.value)


def test_spatial_dropout_wants_images():
    with pytest.raises(ValueError, match="expects images"):
        SpatialDropout2D(0.5).build((10,))


def test_keras_one_and_two_spellings_and_configs():
    assert SpatialDropout2D(p=0.2, dim_ordering="th").data_format == "channels_first"
    assert GaussianNoise(sigma=0.5).stddev == 0.5 and GaussianDropout(p=0.3).rate == 0.3
    for layer in (SpatialDropout2D(0.2, seed=3), GaussianNoise(0.5, seed=0), GaussianDropout(0.3)):
        config = layer.get_config()
        assert type(layer).from_config(config).get_config() == config
    assert GaussianNoise(0.5, seed=0).get_config()["seed"] == 0


def test_trains_on_the_fast_path_with_upsampling():
    # channels-last: the planner's tuned steps run around these layers.
    set_random_seed(3)
    x = np.random.default_rng(3).standard_normal((16, 6, 6, 1)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[np.arange(16) % 2]
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(6, 6, 1)), SpatialDropout2D(0.25),
                        UpSampling2D(interpolation="bilinear"), GaussianNoise(0.1), MaxPooling2D(), UpSampling2D(),
                        Flatten(), GaussianDropout(0.2), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    losses = model.fit(x, y, batch_size=8, epochs=3, verbose=0).history["loss"]
    tuned = {type(step).__name__ for step in model._plan().steps}
    assert {"FastUpSampling2D", "FastGaussianNoise", "FastGaussianDropout", "FastSpatialDropout2D"} <= tuned, tuned
    assert np.isfinite(losses).all()
    np.testing.assert_array_equal(model.predict(x), model.predict(x))  # no noise at inference
