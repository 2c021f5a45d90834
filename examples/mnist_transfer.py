"""Transfer learning: the tutorial CNN trained on MNIST digits 0-4, its frozen convolutions then reused for 5-9.

    python examples/mnist_transfer.py --data sample     # the embedded 10k sample (no network, no files)
    python examples/mnist_transfer.py --epochs 5 --plot

Keras's classic transfer-learning program. The convolutions learn strokes and corners from the
first five digits; frozen (``layer.trainable = False``), they are the features of a second model
that shares them and trains only a new dense classifier on the other five digits, labelled 0-4.
The first model keeps its accuracy, as the weights it shares did not move. --plot draws the
second training.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, load_mnist, parser, prepare_images, setup  # noqa: E402

from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D  # noqa: E402
from minicnn.models import Sequential  # noqa: E402


def feature_layers():
    """The tutorial CNN's convolutional part: two 3x3 convolutions, max pooling, dropout, flatten."""
    return Sequential([
        Conv2D(32, kernel_size=(3, 3), activation="relu", input_shape=(28, 28, 1)),
        Conv2D(32, (3, 3), activation="relu"),
        MaxPooling2D(pool_size=(2, 2)),
        Dropout(0.25),
        Flatten(),
    ], name="features")


def with_classifier(features):
    """A new model: ``features`` (shared, weights and all) under a fresh 128-unit classifier of 5 classes."""
    return Sequential([features, Dense(128, activation="relu"), Dropout(0.5), Dense(5, activation="softmax")])


def digits(data, first):
    """The samples of digits ``first`` to ``first + 4`` of prepared ``data``, labelled 0-4 (one-hot)."""
    classes = slice(first, first + 5)

    def pick(x, y):
        rows = y[:, classes].any(axis=1)
        return x[rows], y[rows, classes]  # digit d's one-hot row, cut to these columns: class d - first
    (x_train, y_train), (x_test, y_test) = data
    return pick(x_train, y_train), pick(x_test, y_test)


def train(model, args, data, what):
    """Compile, fit (the last 10% held out) and print the test accuracy on ``data``; returns fit's History."""
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    (x_train, y_train), (x_test, y_test) = data
    print(f"Training on {what}: {len(x_train)} training and {len(x_test)} test images")
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, verbose=1,
                        validation_split=0.1)
    train_time = time.perf_counter() - start
    print(f"Test accuracy on {what}: {model.evaluate(x_test, y_test, verbose=0)[1]:.4f}")
    print(f"Training time: {train_time:.1f} s ({args.epochs} epochs, batch {args.batch_size})")
    return history


def main(argv=None):
    args = parser(__doc__.splitlines()[0], epochs=5).parse_args(argv)
    setup(args)
    data, text = load_mnist(args.data)
    print(text)
    data = prepare_images(limit(data, args.limit))
    low, high = digits(data, 0), digits(data, 5)

    features = feature_layers()
    first = with_classifier(features)
    train(first, args, low, "digits 0-4")

    # Set before compile: a change of trainable counts from the next compile (training a model
    # compiled before the change raises a RuntimeError that says to compile again).
    for layer in features.layers:
        layer.trainable = False
    frozen = [w.copy() for w in features.get_weights()]
    second = with_classifier(features)
    history = train(second, args, high, "digits 5-9")

    unchanged = all(np.array_equal(a, b) for a, b in zip(frozen, features.get_weights()))
    print(f"Frozen convolution weights unchanged by the second training: {'yes' if unchanged else 'NO'}")
    assert unchanged, "the second training moved weights of layers set trainable=False"
    x_test, y_test = low[1]
    print(f"Test accuracy on digits 0-4, first model again: {first.evaluate(x_test, y_test, verbose=0)[1]:.4f}")
    if args.plot:
        from minicnn.utils import plot_history
        plot_history(history, args.plot, title="digits 5-9, convolutions frozen")
        print(f"History plot written to {args.plot}")


if __name__ == "__main__":
    main()
