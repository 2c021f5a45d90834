"""The preprocessing layers: the identity at inference; in training, each random layer's output for
its drawn parameters against a per-pixel loop of Keras 3's matrices and border rules, and against
ImageDataGenerator's transform where the two agree; the factor ranges Keras defines; gradients;
both data formats; configs, load_model, fit; and an error for each bad argument."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

from minicnn import Sequential
from minicnn.backend import set_image_data_format
from minicnn.layers import (Conv2D, Dense, Flatten, RandomContrast, RandomFlip, RandomRotation, RandomTranslation,
                            RandomZoom, Rescaling)
from minicnn.models import load_model
from minicnn.preprocessing.image import ImageDataGenerator
from minicnn.utils import check_gradients, set_random_seed
from nn.test_augment import resample_loops

FILL = ["reflect", "wrap", "constant", "nearest"]


def images(shape=(3, 5, 6, 2), seed=0, dtype=np.float64):
    return np.random.default_rng(seed).uniform(0, 1, shape).astype(dtype)


def keras3_matrix(a0, a1, a2, b0, b1, b2):
    """Keras 3's 8-number transform as a (N, 3, 3) matrix: output (x, y) reads (a0 x + a1 y + a2, b0 x + ...)."""
    T = np.zeros((len(a0), 3, 3))
    T[:, 0], T[:, 1], T[:, 2, 2] = np.stack([a0, a1, a2], 1), np.stack([b0, b1, b2], 1), 1
    return T


def expected_affine(layer, x, seed):
    """What Keras 3 computes for the parameters a layer seeded with ``seed`` draws first, with
    Keras 3's own formulas (base_image_preprocessing_layer._compute_affine_matrix and the layers'
    translation and zoom matrices) and ranges."""
    N, H, W, _ = x.shape
    rng = np.random.default_rng(seed)
    cx, cy = (W - 1) / 2, (H - 1) / 2
    one, zero = np.ones(N), np.zeros(N)
    if isinstance(layer, RandomRotation):
        t = np.deg2rad(rng.uniform(layer.lower * 360, layer.upper * 360, N))
        c, s = np.cos(t), np.sin(t)
        T = keras3_matrix(c, -s, cx - cx * c + cy * s, s, c, cy - cx * s - cy * c)
    elif isinstance(layer, RandomTranslation):
        th = rng.uniform(*layer.height_range, N) * H
        tw = rng.uniform(*layer.width_range, N) * W
        T = keras3_matrix(one, zero, -tw, zero, one, -th)
    else:
        zy = rng.uniform(1 + layer.height_range[0], 1 + layer.height_range[1], N)
        zx = zy if layer.width_range is None else rng.uniform(1 + layer.width_range[0], 1 + layer.width_range[1], N)
        T = keras3_matrix(zx, zero, cx * (1 - zx), zero, zy, cy * (1 - zy))
    return resample_loops(x, T, layer.fill_mode, layer.fill_value, {"bilinear": 1, "nearest": 0}[layer.interpolation])


AFFINE = [
    lambda **k: RandomRotation(0.3, **k), lambda **k: RandomRotation((-0.5, 0.1), **k),
    lambda **k: RandomTranslation(0.4, (-0.2, 0.5), **k), lambda **k: RandomTranslation((0.1, 0.3), 0.0, **k),
    lambda **k: RandomZoom(0.5, **k), lambda **k: RandomZoom((-0.4, 0.3), (0.2, 0.9), **k),
]


@given(st.sampled_from(AFFINE), st.sampled_from(FILL), st.sampled_from(["bilinear", "nearest"]), st.integers(0, 50))
def test_affine_layers_compute_keras3s_transform_of_their_draws(make, fill_mode, interpolation, seed):
    layer = make(fill_mode=fill_mode, interpolation=interpolation, fill_value=0.25, seed=seed, dtype="float64")
    x = images()
    np.testing.assert_allclose(layer(x, training=True), expected_affine(layer, x, seed), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("fill_mode", ["reflect", "nearest"])
def test_affine_layers_equal_image_data_generator_for_the_same_parameters(fill_mode):
    x = images((4, 7, 5, 3))
    N, H, W, _ = x.shape
    datagen = ImageDataGenerator(fill_mode=fill_mode, dtype="float64")
    rng = np.random.default_rng(1)
    angles = rng.uniform(-0.2 * 360, 0.2 * 360, N)
    np.testing.assert_allclose(RandomRotation(0.2, fill_mode=fill_mode, seed=1, dtype="float64")(x, training=True),
                               datagen.apply_transform(x, {"theta": angles}), rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(2)
    down, right = rng.uniform(-0.3, 0.3, N) * H, rng.uniform(-0.1, 0.1, N) * W
    np.testing.assert_allclose(RandomTranslation(0.3, 0.1, fill_mode=fill_mode, seed=2, dtype="float64")(x, True),
                               datagen.apply_transform(x, {"tx": -right, "ty": -down}), rtol=1e-10, atol=1e-10)
    rng = np.random.default_rng(3)
    zy, zx = rng.uniform(0.7, 1.3, N), rng.uniform(0.8, 1.5, N)
    np.testing.assert_allclose(RandomZoom(0.3, (-0.2, 0.5), fill_mode=fill_mode, seed=3, dtype="float64")(x, True),
                               datagen.apply_transform(x, {"zx": zx, "zy": zy}), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mode, keys", [("horizontal", ["flip_horizontal"]), ("vertical", ["flip_vertical"]),
                                        ("horizontal_and_vertical", ["flip_horizontal", "flip_vertical"])])
def test_flip_equals_image_data_generators_flips_of_the_same_coins(mode, keys):
    x = images((8, 4, 5, 2))
    flips = np.random.default_rng(4).random(8) <= 0.5
    expected = ImageDataGenerator(dtype="float64").apply_transform(x, dict.fromkeys(keys, flips))
    np.testing.assert_array_equal(RandomFlip(mode, seed=4, dtype="float64")(x, training=True), expected)


def test_contrast_of_its_draws():
    x = images((4, 3, 5, 2)) * 255
    factor = np.random.default_rng(5).uniform(0.6, 1.4, 4)[:, None, None, None]
    mean = x.mean(axis=(1, 2), keepdims=True)
    np.testing.assert_allclose(RandomContrast(0.4, seed=5, dtype="float64")(x, training=True),
                               np.clip((x - mean) * factor + mean, 0, 255), rtol=1e-12)


@pytest.mark.parametrize("make, draws, low, high", [
    (lambda: RandomRotation(0.25), lambda p: [p], -90, 90),
    (lambda: RandomRotation((-0.1, 0.3)), lambda p: [p], -36, 108),
    (lambda: RandomRotation((0.3, -0.1)), lambda p: [p], -36, 108),  # a pair is sorted, as Keras sorts it
    (lambda: RandomTranslation(0.2, 0.2), lambda p: [p[0] / 10, p[1] / 20], -0.2, 0.2),
    (lambda: RandomTranslation((-0.1, 0.3), (-0.1, 0.3)), lambda p: [p[0] / 10, p[1] / 20], -0.1, 0.3),
    (lambda: RandomZoom(0.5), lambda p: [p[0], p[1]], 0.5, 1.5),
    (lambda: RandomZoom(-0.5, (-0.3, 0.2)), lambda p: [p[1]], 0.7, 1.2),
    (lambda: RandomContrast(0.3), lambda p: [p], 0.7, 1.3),
    (lambda: RandomContrast((0.1, 0.5)), lambda p: [p], 0.9, 1.5),
])
def test_factor_ranges_are_kerass(make, draws, low, high):
    params = make()._draw(np.random.default_rng(0), 4000, 10, 20)
    for d in draws(params):
        assert low <= d.min() < low + 0.02 * (high - low) and high - 0.02 * (high - low) < d.max() <= high


def test_zoom_keeps_the_aspect_ratio_without_width_factor_and_flip_flips_half():
    zy, zx = RandomZoom(0.4)._draw(np.random.default_rng(0), 100, 5, 5)
    assert zx is zy
    assert 0.45 < RandomFlip()._draw(np.random.default_rng(0), 4000, 5, 5).mean() < 0.55


LAYERS = [lambda: RandomFlip(), lambda: RandomFlip("vertical"), lambda: RandomRotation(0.4),
          lambda: RandomRotation(0.4, fill_mode="constant", fill_value=2.0, interpolation="nearest"),
          lambda: RandomTranslation(0.3, 0.3, fill_mode="wrap"), lambda: RandomZoom(0.4, fill_mode="nearest"),
          lambda: RandomContrast(0.5, value_range=(0.1, 0.9)), lambda: Rescaling(1 / 255, 0.5),
          lambda: Rescaling([0.5, 2.0], [1.0, -1.0])]


@pytest.mark.parametrize("make", LAYERS)
def test_identity_at_inference_and_gradients_in_training(make):
    layer = make()
    layer.dtype = np.dtype("float64")
    x = images()
    if not isinstance(layer, Rescaling):
        assert layer(x) is x and layer.forward(x, training=False) == (x, None)
        assert layer.backward(x, None)[0] is x
    # draws are replayed by check_gradients (minicnn's generator), so each forward is the same map
    assert max(check_gradients(layer, x, training=True).values()) < 1e-6


@pytest.mark.parametrize("make", LAYERS)
def test_channels_first_computes_the_same(make):
    x = images((3, 5, 6, 2), dtype=np.float32)
    last, first = make(), make()
    first.data_format = "channels_first"
    if isinstance(first, Rescaling):
        first._channels_first = True
    set_random_seed(7)
    y_last = last(x, training=True)
    set_random_seed(7)
    y_first = first(x.transpose(0, 3, 1, 2), training=True)
    np.testing.assert_allclose(y_first.transpose(0, 2, 3, 1), y_last, rtol=1e-6, atol=1e-6)


def test_unseeded_draws_follow_set_random_seed_and_seeded_layers_their_own():
    x = images(dtype=np.float32)
    layer = RandomRotation(0.5)
    set_random_seed(3)
    a = layer(x, training=True)
    set_random_seed(3)
    np.testing.assert_array_equal(layer(x, training=True), a)
    assert not np.array_equal(layer(x, training=True), a)
    first, second = RandomZoom(0.5, seed=11), RandomZoom(0.5, seed=11)
    np.testing.assert_array_equal(first(x, training=True), second(x, training=True))


def test_rescaling_values_dtypes_and_channels():
    x = np.arange(24, dtype=np.uint8).reshape(1, 2, 4, 3)
    y = Rescaling(1 / 127.5, -1)(x)
    assert y.dtype == np.float32 and np.allclose(y, x / 127.5 - 1)
    layer = Rescaling([1.0, 2.0, 3.0], offset=[0.0, 0.0, 1.0])
    np.testing.assert_allclose(layer(x), x * [1, 2, 3] + [0, 0, 1])
    dx, grads = layer.backward(np.ones((1, 2, 4, 3), np.float32), None)
    assert grads == {} and np.array_equal(dx[0, 0, 0], [1, 2, 3])
    set_image_data_format("channels_first")
    np.testing.assert_allclose(Rescaling([1.0, 2.0, 3.0])(x.transpose(0, 3, 1, 2)),
                               (x * [1, 2, 3]).transpose(0, 3, 1, 2))


@pytest.mark.parametrize("make", LAYERS + [lambda: RandomZoom((-0.2, 0.1), [0.0, 0.3], seed=4),
                                           lambda: RandomFlip(data_format="channels_first", seed=1)])
def test_config_round_trip(make):
    layer = make()
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config


def test_a_model_with_them_fits_saves_and_loads(tmp_path):
    """Random layers after a layer with weights: their backward carries the gradient to it."""
    model = Sequential([Rescaling(1 / 255, input_shape=(8, 8, 1)), RandomFlip("horizontal"),
                        Conv2D(3, 3, padding="same"), RandomRotation(0.1, fill_mode="constant"),
                        RandomTranslation(0.1, 0.1), RandomZoom(0.1), RandomContrast(0.2, value_range=(-5, 5)),
                        Flatten(), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="categorical_crossentropy")
    x = images((16, 8, 8, 1), dtype=np.float32) * 255
    y = np.eye(2, dtype=np.float32)[np.arange(16) % 2]
    before = model.layers[2].get_weights()[0].copy()
    model.fit(x, y, epochs=1, batch_size=8, verbose=0)
    assert not np.array_equal(model.layers[2].get_weights()[0], before)
    model.save(tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    np.testing.assert_array_equal(loaded.predict(x, verbose=0), model.predict(x, verbose=0))
    assert [l.get_config() for l in loaded.layers] == [l.get_config() for l in model.layers]


@pytest.mark.parametrize("make, error, words", [
    (lambda: RandomFlip("diagonal"), ValueError, "mode must be one of"),
    (lambda: RandomFlip(seed=-1), ValueError, "seed must be a non-negative integer"),
    (lambda: RandomFlip(seed=1.5), TypeError, "seed must be a non-negative integer"),
    (lambda: RandomFlip(data_format="nhwc"), ValueError, "data_format must be"),
    (lambda: RandomRotation(1.5), ValueError, r"in \[-1, 1\]"),
    (lambda: RandomRotation((0.1, 0.2, 0.3)), TypeError, "pair of numbers"),
    (lambda: RandomRotation("0.1"), TypeError, "pair of numbers"),
    (lambda: RandomRotation(0.1, fill_mode="mirror"), ValueError, "fill_mode must be one of"),
    (lambda: RandomRotation(0.1, interpolation="bicubic"), ValueError, "interpolation must be one of"),
    (lambda: RandomRotation(0.1, fill_value="black"), TypeError, "fill_value must be a finite number"),
    (lambda: RandomTranslation(0.1, (-2, 0.1)), ValueError, "width_factor must be"),
    (lambda: RandomTranslation(None, 0.1), TypeError, "height_factor must be"),
    (lambda: RandomZoom(-1.0), ValueError, r"in \(-1, 1\]"),
    (lambda: RandomZoom(0.2, (-1, 0.5)), ValueError, "width_factor"),
    (lambda: RandomContrast(-0.1), ValueError, r"in \[0, 1\]"),
    (lambda: RandomContrast(1.2), ValueError, r"in \[0, 1\]"),
    (lambda: RandomContrast(0.2, value_range=(1, 0)), ValueError, "low < high"),
    (lambda: RandomContrast(0.2, value_range=255), TypeError, "value_range must be a pair"),
    (lambda: Rescaling("1/255"), TypeError, "scale must be a finite number"),
    (lambda: Rescaling(1.0, offset=[]), TypeError, "non-empty list"),
    (lambda: Rescaling(np.inf), TypeError, "finite"),
])
def test_errors(make, error, words):
    with pytest.raises(error, match=words):
        make()


@pytest.mark.parametrize("make", [RandomFlip, lambda: RandomContrast(0.1), lambda: RandomZoom(0.1)])
def test_non_images_are_refused_at_build(make):
    with pytest.raises(ValueError, match="takes batches of images"):
        make().build((28, 28))
