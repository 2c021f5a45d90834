"""The classic Keras MNIST CNN, trained with minicnn.

    python examples/mnist_conv.py                  # full MNIST if cached/downloadable, else the embedded sample
    python examples/mnist_conv.py --data sample    # the embedded 10k sample (no network, no files)
    python examples/mnist_conv.py --data ~/mnist.npz --epochs 12 --plot
    python examples/mnist_conv.py --tensorboard logs   # then: tensorboard --logdir logs

Like the README's first example, it saves the trained model to ``mnist_cnn.npz`` in the current
folder (``--save PATH`` elsewhere, ``--no-save`` not at all) and prints where.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import run_mnist_example  # noqa: E402

from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D  # noqa: E402
from minicnn.models import Sequential  # noqa: E402


def build_model():
    """Two 3x3 convolutions, max pooling, dropout, a 128-unit hidden layer: 600,810 parameters."""
    model = Sequential()
    model.add(Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)))
    model.add(Conv2D(32, (3, 3), activation="relu"))
    model.add(MaxPooling2D(pool_size=(2, 2)))
    model.add(Dropout(0.25))
    model.add(Flatten())
    model.add(Dense(128, activation="relu"))
    model.add(Dropout(0.5))
    model.add(Dense(10, activation="softmax"))
    return model


def main(argv=None):
    run_mnist_example(__doc__.splitlines()[0], build_model, "adadelta", argv=argv, save="mnist_cnn.npz")


if __name__ == "__main__":
    main()
