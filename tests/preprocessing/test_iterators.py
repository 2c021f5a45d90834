"""ImageDataGenerator.flow: an endless iterator and a Sequence, in Keras 2's order; labels stay
with their images; seeds repeat; subsets split as Keras splits them."""
import numpy as np
import pytest

from minicnn.preprocessing.image import ImageDataGenerator, NumpyArrayIterator
from minicnn.utils import Sequence, set_random_seed


def numbered(n, shape=(3, 4, 1)):
    """Images whose every pixel is their index, and labels equal to it, to see which is which."""
    x = np.broadcast_to(np.arange(n, dtype=np.uint8)[:, None, None, None], (n,) + shape).copy()
    return x, np.arange(n)


def ids(batch):
    x, y = batch
    assert np.array_equal(x[:, 0, 0, 0], y), "labels left their images"
    return y.tolist()


def test_flow_is_a_sequence_of_ceil_n_over_batch_size_batches():
    x, y = numbered(10)
    it = ImageDataGenerator().flow(x, y, batch_size=4, shuffle=False)
    assert isinstance(it, NumpyArrayIterator) and isinstance(it, Sequence)
    assert len(it) == 3
    assert [ids(it[i]) for i in range(3)] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
    assert it[0][0].dtype == np.float32 and it.x is x  # the images are not copied as a whole
    with pytest.raises(ValueError, match=r"Asked for batch 3, but this iterator has 3 batches"):
        it[3]


def test_shuffled_epochs_cover_every_sample_once_and_on_epoch_end_reshuffles():
    x, y = numbered(11)
    it = ImageDataGenerator().flow(x, y, batch_size=4, seed=1)
    first = sum((ids(it[i]) for i in range(len(it))), [])
    assert sorted(first) == list(range(11)) and first != list(range(11))
    assert sum((ids(it[i]) for i in range(len(it))), []) == first  # same order until the epoch ends
    it.on_epoch_end()
    second = sum((ids(it[i]) for i in range(len(it))), [])
    assert sorted(second) == list(range(11)) and second != first


@pytest.mark.parametrize("n, sizes", [(10, [4, 4, 2]), (8, [4, 4])])
def test_next_runs_forever_reshuffling_after_each_pass(n, sizes):
    x, y = numbered(n)
    it = ImageDataGenerator().flow(x, y, batch_size=4, seed=2)
    passes = [[ids(next(it)) for _ in sizes] for _ in range(3)]
    for batches in passes:
        assert [len(b) for b in batches] == sizes  # the last batch of a pass may be short, as in Keras
        assert sorted(sum(batches, [])) == list(range(n))
    assert passes[0] != passes[1] != passes[2]
    assert iter(it) is it
    assert ids(it.next())  # Keras 2's spelling
    it.reset()
    assert len(ids(next(it))) == 4  # a new pass starts


def test_the_same_seed_gives_the_same_batches():
    x = np.random.default_rng(0).integers(0, 256, (20, 6, 6, 1), dtype=np.uint8)
    make = lambda seed: ImageDataGenerator(rotation_range=20, width_shift_range=0.2,  # noqa: E731
                                           horizontal_flip=True).flow(x, batch_size=8, seed=seed)
    a, b, c = make(5), make(5), make(6)
    for _ in range(4):
        xa, xb, xc = next(a), next(b), next(c)
        np.testing.assert_array_equal(xa, xb)
    assert not np.array_equal(xa, xc)
    set_random_seed(3)
    first = next(make(None))
    set_random_seed(3)
    np.testing.assert_array_equal(next(make(None)), first)


def test_augmented_batches_are_each_image_transformed_by_its_own_draw():
    x = np.random.default_rng(1).integers(0, 256, (6, 5, 5, 3), dtype=np.uint8)
    g = ImageDataGenerator(width_shift_range=[1, 2], horizontal_flip=True, fill_mode="constant", cval=0)
    xb = next(g.flow(x, batch_size=6, shuffle=False, seed=0))
    shifted = [any(np.array_equal(xb[i], g.apply_transform(x[i].astype(np.float32), {"tx": s, "flip_horizontal": f}))
                   for s in (-2, -1, 1, 2) for f in (False, True)) for i in range(6)]
    assert all(shifted)
    assert len({xb[i].tobytes() for i in range(6)}) == 6


def test_sample_weight_is_the_third_element_and_y_none_gives_images_alone():
    x, y = numbered(5)
    w = np.linspace(0, 1, 5)
    xb, yb, wb = ImageDataGenerator().flow(x, y, batch_size=5, sample_weight=w, seed=0)[0]
    np.testing.assert_array_equal(wb, w[yb])
    images = ImageDataGenerator().flow(x, batch_size=2, shuffle=False)[0]
    assert isinstance(images, np.ndarray) and images.shape == (2, 3, 4, 1)
    labels = ImageDataGenerator().flow(x, list(range(5)), batch_size=2, shuffle=False)[1][1]
    assert labels.tolist() == [2, 3]


def test_validation_split_keeps_the_first_fraction_for_validation():
    x, y = numbered(10)
    y = y % 2  # both classes on both sides of the cut
    g = ImageDataGenerator(validation_split=0.3)
    val = g.flow(x, y, batch_size=10, shuffle=False, subset="validation")
    train = g.flow(x, y, batch_size=10, shuffle=False, subset="training")
    assert val[0][0][:, 0, 0, 0].tolist() == [0, 1, 2] and train[0][0][:, 0, 0, 0].tolist() == list(range(3, 10))
    assert len(g.flow(x, y, batch_size=4, subset="training")) == 2


def test_a_split_that_loses_a_class_is_refused_unless_asked():
    x, y = numbered(10)
    g = ImageDataGenerator(validation_split=0.5)
    with pytest.raises(ValueError, match="different classes .* shuffle them first"):
        g.flow(x, y, subset="training")
    assert len(g.flow(x, y, subset="training", ignore_class_split=True).x) == 5


@pytest.mark.parametrize("call, error, match", [
    (lambda g, x, y: g.flow(x[..., 0], y), ValueError, r"4-D array of images .* pass x\[\.\.\., None\]"),
    (lambda g, x, y: g.flow(x[0], y), ValueError, r"got shape \(3, 4, 1\)"),
    (lambda g, x, y: g.flow(x, y[:3]), ValueError, "same length; got 10 images and 3 entries in y"),
    (lambda g, x, y: g.flow(x, y, sample_weight=np.ones(2)), ValueError, "sample_weight"),
    (lambda g, x, y: g.flow(x, y, subset="validation"), ValueError,
     r"needs a validation split: create the generator with ImageDataGenerator\(validation_split=0.2"),
    (lambda g, x, y: ImageDataGenerator(validation_split=0.5).flow(x, y, subset="test"), ValueError,
     "subset must be 'training' or 'validation'"),
    (lambda g, x, y: ImageDataGenerator(validation_split=0.05).flow(x, subset="validation"), ValueError,
     "no images to draw batches from"),
    (lambda g, x, y: g.flow(x, y, batch_size=0), ValueError, "batch_size must be a positive integer"),
    (lambda g, x, y: g.flow((x, y), y), TypeError, "one array of images"),
    (lambda g, x, y: g.flow(x, y, save_to_dir="out"), ValueError, "save_to_dir is not supported"),
])
def test_bad_flow_arguments_name_the_fix(call, error, match):
    x, y = numbered(10)
    with pytest.raises(error, match=match):
        call(ImageDataGenerator(), x, y)


def test_channels_in_the_wrong_place_warn():
    with pytest.warns(UserWarning, match=r"28 channels for data_format='channels_last'.*Check the data format"):
        ImageDataGenerator().flow(np.zeros((4, 1, 28, 28)))
