"""UpSampling2D and Cropping2D: float64 gradient checks over drawn factors, croppings and formats,
values against slicing and repetition, Keras's argument forms, errors, and a save/load round trip
of a model with every layer and activation of this part of issue 22."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn.layers import (Conv2D, Cropping2D, Dense, Flatten, GaussianDropout, GaussianNoise, ReLU,
                            SpatialDropout2D, UpSampling2D)
from minicnn.models import Sequential, load_model
from minicnn.utils import check_gradients, set_random_seed

FORMATS = st.sampled_from(["channels_last", "channels_first"])


def image(shape_hwc, data_format, seed=0):
    x = np.random.default_rng(seed).standard_normal((2, *shape_hwc))
    return x.transpose(0, 3, 1, 2).copy() if data_format == "channels_first" else x


@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 3), st.integers(1, 3),
       st.sampled_from(["nearest", "bilinear"]), FORMATS)
def test_upsampling_gradients(H, W, sh, sw, interpolation, data_format):
    layer = UpSampling2D((sh, sw), data_format=data_format, interpolation=interpolation, dtype="float64")
    errors = check_gradients(layer, image((H, W, 2), data_format))
    assert max(errors.values()) < 1e-7, errors


croppings = st.one_of(st.integers(0, 1), st.tuples(st.integers(0, 2), st.integers(0, 2)),
                      st.tuples(st.tuples(st.integers(0, 2), st.integers(0, 2)),
                                st.tuples(st.integers(0, 2), st.integers(0, 2))))


@given(croppings, FORMATS)
def test_cropping_gradients_and_values(cropping, data_format):
    layer = Cropping2D(cropping, data_format=data_format, dtype="float64")
    x = image((5, 6, 2), data_format)
    errors = check_gradients(layer, x)
    assert max(errors.values()) < 1e-7, errors
    (t, b), (l, r) = layer.cropping
    y = layer(x)
    want = x[:, :, t:5 - b, l:6 - r] if data_format == "channels_first" else x[:, t:5 - b, l:6 - r]
    np.testing.assert_array_equal(y, want)
    assert y.shape[1:] == layer.output_shape
    if (t, b, l, r) != (0, 0, 0, 0):
        assert not np.shares_memory(y, x)  # the next step may write into it


def test_keras_three_cropping_forms():
    assert Cropping2D(2).cropping == ((2, 2), (2, 2))
    assert Cropping2D((1, 3)).cropping == ((1, 1), (3, 3))
    assert Cropping2D(((0, 1), (2, 3))).cropping == ((0, 1), (2, 3))
    assert Cropping2D(((1, 2), 3)).cropping == ((1, 2), (3, 3))  # as Keras: each entry an int or a pair
    assert Cropping2D().cropping == ((0, 0), (0, 0))


def test_upsampling_values_in_both_formats():
    x = np.arange(6, dtype=np.float32).reshape(1, 2, 3, 1)
    np.testing.assert_array_equal(UpSampling2D((2, 1))(x)[0, :, :, 0], [[0, 1, 2], [0, 1, 2], [3, 4, 5], [3, 4, 5]])
    for interpolation in ("nearest", "bilinear"):
        last = UpSampling2D((3, 2), interpolation=interpolation)(image((3, 4, 2), "channels_last"))
        first = UpSampling2D((3, 2), interpolation=interpolation, data_format="channels_first")(
            image((3, 4, 2), "channels_first"))
        np.testing.assert_allclose(first.transpose(0, 2, 3, 1), last, rtol=1e-12)
        assert last.shape == (2, 9, 8, 2)
    assert UpSampling2D(3).size == (3, 3) and UpSampling2D(interpolation="BILINEAR").interpolation == "bilinear"


@pytest.mark.parametrize("make, error, says", [
    (lambda: UpSampling2D(0), ValueError, "size must be a positive integer"),
    (lambda: UpSampling2D((2, 2, 2)), ValueError, "size must be an integer or a tuple of 2"),
    (lambda: UpSampling2D(1.5), ValueError, "size must be an integer"),
    (lambda: UpSampling2D(interpolation="bicubic"), ValueError, "Keras 3 has it; minicnn does not"),
    (lambda: UpSampling2D(interpolation="cubic"), ValueError, "'nearest' or 'bilinear', got 'cubic'"),
    (lambda: UpSampling2D(interpolation=None), TypeError, "'nearest' or 'bilinear'"),
    (lambda: UpSampling2D(data_format="NHWC"), ValueError, "data_format must be"),
    (lambda: Cropping2D(-1), ValueError, "non-negative integer"),
    (lambda: Cropping2D((1, 2, 3)), ValueError, "((top, bottom), (left, right))"),
    (lambda: Cropping2D(((1, 2, 3), (0, 0))), ValueError, "pair of integers"),
    (lambda: Cropping2D(1.0), TypeError, "non-negative integer"),
])
def test_bad_arguments_are_named(make, error, says):
    with pytest.raises(error, match=None) as info:
        make()
    assert says in str(info.value)


def test_errors_at_build():
    with pytest.raises(ValueError, match=r"removes 4 of 4 rows"):
        Cropping2D(((1, 3), (0, 0))).build((4, 5, 1))
    with pytest.raises(ValueError, match="expects images"):
        UpSampling2D().build((4, 5))
    with pytest.raises(ValueError, match="expects images"):
        Cropping2D().build((4,))


def every_layer():
    """Each layer of this part of issue 22 with its options off their defaults, and relu6 and mish."""
    cf = "channels_first"
    return Sequential([
        Conv2D(3, 3, padding="same", activation="relu6", input_shape=(2, 6, 5), data_format=cf),
        UpSampling2D((2, 3), interpolation="bilinear", data_format=cf),
        Cropping2D(((1, 2), (3, 0)), data_format=cf),  # (3, 9, 12)
        SpatialDropout2D(0.3, data_format=cf, seed=4),
        GaussianNoise(0.2, seed=1), UpSampling2D(data_format=cf), GaussianDropout(0.25), ReLU(6.0),
        Conv2D(2, 3, strides=2, activation="mish", data_format=cf), Cropping2D(1, data_format=cf),
        Flatten(data_format=cf), Dense(3, activation="softmax")], name="issue22_resampling")


def test_round_trip_through_load_model(tmp_path):
    rng = np.random.default_rng(5)
    x = rng.standard_normal((12, 2, 6, 5)).astype(np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)]
    set_random_seed(3)
    model = every_layer()
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    model.fit(x, y, batch_size=4, epochs=1, verbose=0)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert [layer.get_config() for layer in loaded.layers] == [layer.get_config() for layer in model.layers]
    np.testing.assert_array_equal(model.predict(x), loaded.predict(x))
    for m in (model, loaded):  # the noise comes from the seeded generator: the same continued training
        set_random_seed(6)
        m.fit(x, y, batch_size=4, epochs=1, verbose=0)
    for a, b in zip(model.get_weights(), loaded.get_weights()):
        np.testing.assert_array_equal(a, b)
