"""Fashion-MNIST from the real release files in ../shared/data, when present, and the embedded sample."""
import numpy as np
import pytest

from minicnn.datasets import fashion_mnist


def test_full_release_loads_from_a_folder(shared_data, tmp_path, monkeypatch):
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))  # must be read from path=, not a cache
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=shared_data / "fashion-mnist")
    assert x_train.shape == (60000, 28, 28) and y_train.shape == (60000,)
    assert x_test.shape == (10000, 28, 28) and y_test.shape == (10000,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    # the release is balanced: 6,000 training and 1,000 test images of each of the 10 classes
    np.testing.assert_array_equal(np.bincount(y_train), [6000] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [1000] * 10)
    assert x_train.max() == 255 and x_train.min() == 0
    assert len(fashion_mnist.CLASS_NAMES) == 10


def test_embedded_sample_is_small_balanced_and_real():
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_sample()
    assert x_train.shape == (1600, 28, 28) and y_train.shape == (1600,)
    assert x_test.shape == (400, 28, 28) and y_test.shape == (400,)
    assert {a.dtype for a in (x_train, y_train, x_test, y_test)} == {np.dtype(np.uint8)}
    np.testing.assert_array_equal(np.bincount(y_train), [160] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [40] * 10)
    assert len(np.unique(x_train.reshape(1600, -1), axis=0)) == 1600  # no image twice
    from importlib import resources
    size = resources.files("minicnn.datasets").joinpath("data", fashion_mnist.SAMPLE).stat().st_size
    assert size < 900_000  # 878,145 bytes when drawn: it ships in every install


def test_embedded_sample_is_the_documented_draw_from_the_release(shared_data):
    """The module docstring's recipe, redone from the release: 160 per class of the training set and
    40 per class of the test set, drawn and shuffled with numpy.random.default_rng(0)."""
    (x_train, y_train), (x_test, y_test) = fashion_mnist.load_data(path=shared_data / "fashion-mnist")
    rng = np.random.default_rng(0)

    def draw(y, per_class):
        picks = np.concatenate([rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(10)])
        return rng.permutation(picks)

    train, test = draw(y_train, 160), draw(y_test, 40)
    (sx_train, sy_train), (sx_test, sy_test) = fashion_mnist.load_sample()
    np.testing.assert_array_equal(sx_train, x_train[train])
    np.testing.assert_array_equal(sy_train, y_train[train])
    np.testing.assert_array_equal(sx_test, x_test[test])
    np.testing.assert_array_equal(sy_test, y_test[test])


def test_not_found_message_offers_the_sample(tmp_path, monkeypatch):
    from minicnn.datasets import DatasetNotFoundError
    monkeypatch.setenv("MINICNN_DATA", str(tmp_path))
    monkeypatch.setattr(fashion_mnist, "ORIGIN", "http://127.0.0.1:9/")  # nothing listens: refused at once
    with pytest.raises(DatasetNotFoundError,
                       match=r"fashion_mnist\.load_sample\(\), the 2,000-image sample shipped with minicnn"):
        fashion_mnist.load_data()
