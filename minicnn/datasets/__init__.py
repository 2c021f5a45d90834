"""Data sets in Keras's layout: ``(x_train, y_train), (x_test, y_test) = mnist.load_data()``.

    from minicnn.datasets import cifar10, fashion_mnist, mnist

Each ``load_data(path=None)`` reads your copy from ``path``, else the data directory
(``$MINICNN_DATA``, else ``~/.minicnn/datasets``), else downloads a SHA-256-checked copy there.
``cifar10.load_data()`` reads the binary version of CIFAR-10 (``cifar-10-binary.tar.gz``) into
(N, 32, 32, 3) images and (N, 1) labels, as Keras's does. ``mnist.load_sample()`` returns 10,000
real digits shipped with the package, for offline use, and ``mnist.load_default()`` picks full
MNIST when it can and the sample otherwise.
"""
from minicnn.datasets import cifar10, fashion_mnist, mnist
from minicnn.datasets._cache import DatasetNotFoundError, data_dir

__all__ = ["mnist", "fashion_mnist", "cifar10", "DatasetNotFoundError", "data_dir"]
