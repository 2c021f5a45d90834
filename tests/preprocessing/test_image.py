"""ImageDataGenerator: Keras 2's options, ranges and processing order, checked against direct
NumPy computations; the errors name the fix."""
import numpy as np
import pytest

from minicnn import backend
from minicnn.preprocessing import image
from minicnn.preprocessing.image import ImageDataGenerator


def dot_image(H=15, W=15, row=7, col=7):
    x = np.zeros((H, W, 1), np.float32)
    x[row, col] = 1
    return x


def moved(generator, seeds=range(40), x=None):
    """The set of (rows, cols) displacements of a single bright pixel over a few random draws."""
    x = dot_image() if x is None else x
    start = np.argwhere(x[..., 0] == 1)[0]
    return {tuple((np.argwhere(generator.random_transform(x, seed=s)[..., 0] == 1)[0] - start).tolist())
            for s in seeds}


def test_importable_as_keras_spells_it():
    from minicnn.preprocessing.image import ImageDataGenerator as G
    import minicnn.preprocessing
    assert G is minicnn.preprocessing.image.ImageDataGenerator is image.ImageDataGenerator


def test_width_shift_moves_columns_and_height_shift_moves_rows():
    assert moved(ImageDataGenerator(width_shift_range=[3])) == {(0, -3), (0, 3)}
    assert moved(ImageDataGenerator(height_shift_range=[2])) == {(-2, 0), (2, 0)}


@pytest.mark.parametrize("spec, size, check", [
    (0.25, 8, lambda t: np.abs(t).max() <= 2 and np.abs(t).max() > 1.5 and len(set(t)) > 50),  # fraction
    (2.0, 8, lambda t: np.abs(t).max() <= 2 and np.abs(t).max() > 1.5 and len(set(t)) > 50),   # pixels
    (2, 8, lambda t: set(t) == {-1.0, 0.0, 1.0}),                                              # whole pixels
    ([0.25, 0.5], 8, lambda t: set(t) == {-4.0, -2.0, 2.0, 4.0}),                               # fractions
    ([1, 3], 8, lambda t: set(t) == {-3.0, -1.0, 1.0, 3.0}),                                    # pixels
])
def test_shift_ranges_read_as_keras_2_reads_them(spec, size, check):
    g = ImageDataGenerator(width_shift_range=spec, height_shift_range=spec)
    draws = [g.get_random_transform((size, size, 1), seed=s) for s in range(200)]
    assert check([d["tx"] for d in draws]) and check([d["ty"] for d in draws])


def test_fraction_shift_scales_by_its_own_axis():
    g = ImageDataGenerator(width_shift_range=[0.5], height_shift_range=[0.25])
    draws = [g.get_random_transform((8, 20, 1), seed=s) for s in range(30)]
    assert {abs(d["tx"]) for d in draws} == {10.0} and {abs(d["ty"]) for d in draws} == {2.0}


def test_zoom_rotation_and_shear_ranges():
    g = ImageDataGenerator(zoom_range=0.2, rotation_range=30, shear_range=10)
    draws = [g.get_random_transform((8, 8, 1), seed=s) for s in range(200)]
    for key, low, high in (("zx", 0.8, 1.2), ("zy", 0.8, 1.2), ("theta", -30, 30), ("shear", -10, 10)):
        values = np.array([d[key] for d in draws])
        assert values.min() >= low and values.max() <= high and values.max() - values.min() > 0.8 * (high - low)
    assert not np.allclose([d["zx"] for d in draws], [d["zy"] for d in draws])  # drawn apart
    pair = [ImageDataGenerator(zoom_range=[0.5, 0.6]).get_random_transform((8, 8, 1), seed=s)["zx"] for s in range(50)]
    assert 0.5 <= min(pair) and max(pair) <= 0.6
    neutral = ImageDataGenerator().get_random_transform((8, 8, 1), seed=0)
    assert neutral == {"theta": 0.0, "tx": 0.0, "ty": 0.0, "shear": 0.0, "zx": 1.0, "zy": 1.0,
                       "flip_horizontal": False, "flip_vertical": False,
                       "channel_shift_intensity": None, "brightness": None}


def test_flips_happen_about_half_the_time_and_only_when_asked():
    g = ImageDataGenerator(horizontal_flip=True)
    x = np.random.default_rng(0).uniform(size=(400, 4, 5, 1)).astype(np.float32)
    y = g.random_transform(x, seed=1)
    flipped = np.array([np.array_equal(a, b[:, ::-1]) for a, b in zip(y, x)])
    same = np.array([np.array_equal(a, b) for a, b in zip(y, x)])
    assert (flipped | same).all() and 150 < flipped.sum() < 250
    assert not any(d["flip_vertical"] for d in (g.get_random_transform((4, 5, 1), seed=s) for s in range(20)))


def test_apply_transform_of_one_image_and_of_a_batch():
    g = ImageDataGenerator(fill_mode="constant", cval=-1)
    x = np.random.default_rng(0).uniform(size=(3, 5, 6, 2)).astype(np.float32)
    one = g.apply_transform(x[1], {"tx": 1, "flip_vertical": True})
    expected = np.full_like(x[1], -1)
    expected[:, :5] = x[1, :, 1:]
    np.testing.assert_array_equal(one, expected[::-1])
    batch = g.apply_transform(x, {"tx": np.array([0, 1, 0]), "flip_vertical": np.array([False, True, False])})
    np.testing.assert_array_equal(batch, np.stack([x[0], one, x[2]]))


def test_channels_first_gives_the_channels_last_result_transposed():
    x = np.random.default_rng(1).uniform(size=(4, 6, 5, 3)).astype(np.float32)
    options = dict(rotation_range=20, width_shift_range=0.2, zoom_range=0.1, horizontal_flip=True,
                   channel_shift_range=0.1, fill_mode="reflect")
    last = ImageDataGenerator(**options).random_transform(x, seed=3)
    first = ImageDataGenerator(data_format="channels_first", **options).random_transform(x.transpose(0, 3, 1, 2), seed=3)
    np.testing.assert_allclose(first, last.transpose(0, 3, 1, 2), atol=1e-6)
    backend.set_image_data_format("channels_first")
    assert ImageDataGenerator().data_format == "channels_first"  # None follows the global setting


def test_channel_shift_adds_to_every_channel_within_the_image_range():
    x = np.random.default_rng(2).uniform(0, 1, (6, 4, 4, 3)).astype(np.float32)
    g = ImageDataGenerator(channel_shift_range=0.5)
    intensities = np.array([g.get_random_transform(x[0].shape, seed=s)["channel_shift_intensity"] for s in range(6)])
    y = g.apply_transform(x, {"channel_shift_intensity": intensities})
    expected = np.clip(x + intensities[:, None, None, None].astype(np.float32), x.min(axis=(1, 2, 3), keepdims=True),
                       x.max(axis=(1, 2, 3), keepdims=True))
    np.testing.assert_allclose(y, expected, atol=1e-7)


def test_standardize_order_rescale_then_samplewise_then_featurewise():
    rng = np.random.default_rng(3)
    x = rng.integers(0, 256, (50, 6, 6, 3)).astype(np.float32)
    g = ImageDataGenerator(rescale=1 / 255, featurewise_center=True, featurewise_std_normalization=True)
    g.fit(x)
    mean = (x / 255).mean(axis=(0, 1, 2))
    std = (x / 255).std(axis=(0, 1, 2))
    np.testing.assert_allclose(g.mean.reshape(-1), mean, rtol=1e-5)
    np.testing.assert_allclose(g.std.reshape(-1), std, rtol=1e-4)
    assert g.mean.shape == (1, 1, 3)
    np.testing.assert_allclose(g.standardize(x.copy()), (x / 255 - mean) / (std + 1e-6), atol=1e-5)
    s = ImageDataGenerator(rescale=2.0, samplewise_center=True, samplewise_std_normalization=True).standardize(x.copy())
    scaled = 2 * x
    expected = (scaled - scaled.mean(axis=(1, 2, 3), keepdims=True)) / (scaled.std(axis=(1, 2, 3), keepdims=True) + 1e-6)
    np.testing.assert_allclose(s, expected, atol=1e-5)


def test_transforms_fill_before_rescale():
    # Keras 2 augments, then standardizes: a constant fill is in input units and is rescaled too.
    x = np.full((1, 4, 4, 1), 100, np.uint8)
    it = ImageDataGenerator(width_shift_range=[1], fill_mode="constant", cval=255, rescale=1 / 255).flow(x, seed=0)
    batch = next(it)
    assert batch.dtype == np.float32
    assert sorted(np.unique(batch).tolist()) == pytest.approx([100 / 255, 1.0])


def test_zca_whitening_decorrelates_the_fitted_data():
    x = np.random.default_rng(4).standard_normal((400, 3, 3, 1)).astype(np.float32)
    x[..., 0] += x[:, :1, :1, 0] * 2  # correlate every pixel with the first
    with pytest.warns(UserWarning, match="zca_whitening"):
        g = ImageDataGenerator(zca_whitening=True, zca_epsilon=1e-9)
    g.fit(x)
    white = g.standardize(x.copy()).reshape(400, -1)
    # Keras 2's ZCA whitens the second moment of the centred data: W^T W / N = I.
    np.testing.assert_allclose(white.T @ white / len(white), np.eye(9), atol=1e-4)


def test_fit_with_augment_learns_from_transformed_copies():
    x = np.random.default_rng(5).uniform(0, 1, (30, 5, 5, 1)).astype(np.float32)
    x[:, :, :2] += 5  # bright left columns: flips move them, so the per-channel mean stays
    g = ImageDataGenerator(featurewise_center=True, horizontal_flip=True, fill_mode="constant")
    g.fit(x, augment=True, rounds=3, seed=0)
    np.testing.assert_allclose(g.mean.reshape(()), x.mean(), rtol=1e-5)
    g = ImageDataGenerator(featurewise_center=True, width_shift_range=[2], fill_mode="constant", cval=0)
    g.fit(x, augment=True, rounds=2, seed=0)
    assert g.mean.reshape(()) < 0.9 * x.mean()  # the shifts brought in zeros


def test_preprocessing_function_runs_on_each_image_after_the_transforms_before_rescale():
    seen = []

    def record(img):
        seen.append(img.shape)
        return img + 1
    x = np.zeros((3, 4, 5, 3), np.uint8)
    batch = next(ImageDataGenerator(preprocessing_function=record, rescale=0.5).flow(x, batch_size=3, seed=0))
    assert seen == [(4, 5, 3)] * 3
    np.testing.assert_array_equal(batch, np.full(x.shape, 0.5, np.float32))


@pytest.mark.parametrize("kwargs, error, match", [
    ({"rotation_range": -10}, ValueError, "rotation_range must be a finite number >= 0"),
    ({"shear_range": "5"}, TypeError, "shear_range must be a number"),
    ({"width_shift_range": -0.1}, ValueError, "width_shift_range must be a finite number >= 0"),
    ({"height_shift_range": -2}, ValueError, "height_shift_range must be >= 0"),
    ({"width_shift_range": []}, TypeError, "non-empty 1-D list"),
    ({"width_shift_range": True}, TypeError, "width_shift_range must be a float"),
    ({"zoom_range": -0.1}, ValueError, "zoom_range must be >= 0"),
    ({"zoom_range": 1.5}, ValueError, "must be at most 1"),
    ({"zoom_range": [1.2, 0.8]}, ValueError, "lower <= upper"),
    ({"zoom_range": [1, 2, 3]}, TypeError, r"pair \[lower, upper\]"),
    ({"fill_mode": "mirror"}, ValueError, r"unknown fill_mode 'mirror'; use one of \['nearest', 'constant'"),
    ({"cval": "zero"}, TypeError, "cval must be a finite number"),
    ({"validation_split": 1.0}, ValueError, r"validation_split must be a fraction in \[0, 1\)"),
    ({"validation_split": -0.2}, ValueError, "validation_split"),
    ({"interpolation_order": 3}, ValueError, "interpolation_order must be 1 .bilinear. or 0"),
    ({"data_format": "NHWC"}, ValueError, "data_format must be 'channels_last' or 'channels_first'"),
    ({"brightness_range": (0.5, 1.5)}, ValueError, "brightness_range is not supported"),
    ({"rescale": "1/255"}, TypeError, "rescale must be a number"),
    ({"dtype": "int32"}, TypeError, "dtype must be a float type"),
    ({"preprocessing_function": 3}, TypeError, "preprocessing_function must be a function"),
])
def test_bad_options_name_the_fix(kwargs, error, match):
    with pytest.raises(error, match=match):
        ImageDataGenerator(**kwargs)


def test_featurewise_options_without_fit_say_to_fit():
    x = np.zeros((4, 3, 3, 1))
    for options in ({"featurewise_center": True}, {"featurewise_std_normalization": True}):
        with pytest.warns(UserWarning) if "featurewise_std_normalization" in options else _no_warning():
            g = ImageDataGenerator(**options)
        with pytest.raises(ValueError, match=r"call datagen.fit\(x_train\) before drawing batches"):
            next(g.flow(x))
        with pytest.raises(ValueError, match="fit"):
            g.standardize(x)


class _no_warning:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_implied_options_warn_as_keras_does():
    with pytest.warns(UserWarning, match="`featurewise_std_normalization`, which overrides setting of `featurewise_center`"):
        g = ImageDataGenerator(featurewise_std_normalization=True)
    assert g.featurewise_center
    with pytest.warns(UserWarning, match="samplewise_center"):
        assert ImageDataGenerator(samplewise_std_normalization=True).samplewise_center


def test_bad_inputs_to_methods():
    g = ImageDataGenerator()
    with pytest.raises(ValueError, match=r"4-D array of images .* pass x\[\.\.\., None\]"):
        g.fit(np.zeros((5, 28, 28)))
    with pytest.raises(ValueError, match="rounds must be an integer >= 1"):
        g.fit(np.zeros((5, 2, 2, 1)), augment=True, rounds=0)
    with pytest.raises(ValueError, match="one image .3-D. or a batch"):
        g.random_transform(np.zeros((2, 2)))
    with pytest.raises(ValueError, match="'brightness' is not supported"):
        g.apply_transform(np.zeros((2, 2, 1)), {"brightness": 1.2})
    with pytest.raises(NotImplementedError, match=r"datagen.flow\(x, y\)"):
        g.flow_from_directory("images/")
