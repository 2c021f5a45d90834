"""Fashion-MNIST from the real release files in ../shared/data, when present."""
import numpy as np

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
