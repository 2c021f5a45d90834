"""The classic Keras MNIST CNN, trained on Fashion-MNIST (28x28 images of clothing, 10 classes).

    python examples/fashion_mnist_conv.py                       # cached or downloaded Fashion-MNIST
    python examples/fashion_mnist_conv.py --data ~/fashion-mnist --epochs 12 --plot

With no --data it uses the copy in the data directory (``$MINICNN_DATA``, else
``~/.minicnn/datasets``), downloading it there if it can, else ``../shared/data/fashion-mnist``
beside the repository when that folder exists.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, load_from, parser, prepare_images, setup, train_and_report  # noqa: E402
from mnist_conv import build_model  # noqa: E402

from minicnn.datasets import fashion_mnist  # noqa: E402

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"
DATA_HELP = ("a folder with the four Fashion-MNIST IDX files (gzipped or not), or a Keras-layout .npz. "
             "Default: the data directory (downloading if needed), else ../shared/data/fashion-mnist")


def load(path):
    """``(data, description)``: from ``path``, else the cache or a download, else the shared copy.

    Raises SystemExit with what to do when no copy can be found.
    """
    if path:
        return load_from(fashion_mnist.load_data, path), f"Training on Fashion-MNIST from {path}"
    try:
        return fashion_mnist.load_data(), "Training on Fashion-MNIST from the data directory"
    except OSError as e:  # DatasetNotFoundError, or a failed download
        if SHARED_COPY.is_dir():
            return fashion_mnist.load_data(path=SHARED_COPY), \
                f"Training on Fashion-MNIST from {SHARED_COPY} (not in the data directory, and no download)"
        raise SystemExit(f"No Fashion-MNIST found, and none in {SHARED_COPY}.\n{e}\n"
                         "Or pass --data PATH, a folder holding the four IDX files.") from None


def main(argv=None):
    args = parser(__doc__.splitlines()[0], data_metavar="PATH", data_help=DATA_HELP).parse_args(argv)
    setup(args)
    data, description = load(args.data)
    (x_train, _), (x_test, _) = data
    print(f"{description} ({len(x_train)} train / {len(x_test)} test)")
    train, test = prepare_images(limit(data, args.limit))

    model = build_model()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    train_and_report(model, args, train, test)

    predicted = model.predict(test[0][:5]).argmax(axis=1)
    names = [f"{fashion_mnist.CLASS_NAMES[p]} ({fashion_mnist.CLASS_NAMES[t]})"
             for p, t in zip(predicted, test[1][:5].argmax(axis=1))]
    print("First test images, predicted (true): " + ", ".join(names))


if __name__ == "__main__":
    main()
