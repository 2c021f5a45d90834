"""The classic Keras MNIST CNN on Fashion-MNIST, trained on randomly shifted and flipped images.

    python examples/fashion_mnist_augmented.py                  # cached or downloaded Fashion-MNIST
    python examples/fashion_mnist_augmented.py --data ~/fashion-mnist --epochs 12 --plot

The model, optimizer and data are those of fashion_mnist_conv.py; only the training images differ:
each epoch, ImageDataGenerator moves every image by up to 10% of its width and height and flips
half of them left to right, so the network never sees the same picture twice. It trains on the
first 90% of the training set and validates on the last 10%, as fashion_mnist_conv.py's
validation_split=0.1 does. The transforms run on a worker thread, ahead of the training step.
"""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, parser, prepare_images, report, setup  # noqa: E402
from fashion_mnist_conv import DATA_HELP, load  # noqa: E402
from mnist_conv import build_model  # noqa: E402

from minicnn.preprocessing.image import ImageDataGenerator  # noqa: E402


def main(argv=None):
    args = parser(__doc__.splitlines()[0], data_metavar="PATH", data_help=DATA_HELP).parse_args(argv)
    setup(args)
    data, description = load(args.data)
    (x_train, _), (x_test, _) = data
    print(f"{description} ({len(x_train)} train / {len(x_test)} test)")
    (x_train, y_train), test = prepare_images(limit(data, args.limit))
    cut = len(x_train) - len(x_train) // 10  # the last 10% held out, as validation_split=0.1 would
    x_train, y_train, x_val, y_val = x_train[:cut], y_train[:cut], x_train[cut:], y_train[cut:]

    datagen = ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True)
    model = build_model()
    model.summary()
    model.compile(loss="categorical_crossentropy", optimizer="adadelta", metrics=["accuracy"])
    start = time.perf_counter()
    # A flow is a Sequence: fit takes len(flow) batches an epoch, each a fresh random transform.
    history = model.fit(datagen.flow(x_train, y_train, batch_size=args.batch_size), epochs=args.epochs,
                        verbose=1, validation_data=(x_val, y_val))
    report(model, args, history, test, time.perf_counter() - start)


if __name__ == "__main__":
    main()
