"""The classic Keras MNIST CNN, trained on Fashion-MNIST (28x28 images of clothing, 10 classes).

    python examples/fashion_mnist_conv.py                       # cached or downloaded Fashion-MNIST
    python examples/fashion_mnist_conv.py --data sample         # the embedded 2,000 images (offline)
    python examples/fashion_mnist_conv.py --data ~/fashion-mnist --epochs 12 --plot

With no --data it uses the copy in the data directory (``$MINICNN_DATA``, else
``~/.minicnn/datasets``), downloading it there if it can, else ``../shared/data/fashion-mnist``
beside the repository when that folder exists, else the 2,000-image sample shipped with minicnn
(``fashion_mnist.load_sample()``), and says which.
"""
import os
import sys
from pathlib import Path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, load_from, parser, prepare_images, setup, train_and_report  # noqa: E402
from mnist_conv import build_model  # noqa: E402

from minicnn.datasets import fashion_mnist  # noqa: E402

SHARED_COPY = Path(__file__).resolve().parents[2] / "shared" / "data" / "fashion-mnist"
DATA_HELP = ("a folder with the four Fashion-MNIST IDX files (gzipped or not), a Keras-layout .npz, or "
             "'sample' (embedded, 2,000 images). Default: the data directory (downloading if needed), else "
             "../shared/data/fashion-mnist, else the sample")
SAMPLE_TEXT = "Training on the embedded 2,000-image Fashion-MNIST sample"


def load(path):
    """``(data, description)``: from ``path`` ('sample': the embedded sample), else the cache or a
    download, else the shared copy, else the embedded sample (saying why).

    Raises SystemExit with the reason when a given path holds no readable copy.
    """
    if path == "sample":
        return fashion_mnist.load_sample(), SAMPLE_TEXT + ", as asked"
    if path:
        return load_from(fashion_mnist.load_data, path), f"Training on Fashion-MNIST from {path}"
    try:
        return fashion_mnist.load_data(), "Training on Fashion-MNIST from the data directory"
    except OSError:  # DatasetNotFoundError, or a failed download
        if SHARED_COPY.is_dir():
            return fashion_mnist.load_data(path=SHARED_COPY), \
                f"Training on Fashion-MNIST from {SHARED_COPY} (not in the data directory, and no download)"
        return fashion_mnist.load_sample(), (
            f"{SAMPLE_TEXT}: Fashion-MNIST is not in the data directory and could not be downloaded; "
            "--data PATH reads your copy (--help says what it takes)")


def main(argv=None):
    args = parser(__doc__.splitlines()[0], data_metavar="PATH|sample", data_help=DATA_HELP).parse_args(argv)
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
