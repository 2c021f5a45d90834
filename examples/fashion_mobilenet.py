"""A small MobileNet on Fashion-MNIST: depthwise-separable blocks, ReLU6, BatchNormalization, global pooling.

    python examples/fashion_mobilenet.py                        # cached or downloaded Fashion-MNIST
    python examples/fashion_mobilenet.py --limit 10000 --epochs 3 --seed 0

MobileNet's idea (Howard et al. 2017) at Fashion-MNIST's size. A 3x3 convolution splits into a
depthwise 3x3 convolution, which filters each channel on its own, and a 1x1 convolution, which
mixes the channels: 9C + CF weights instead of 9CF. The network:

- ``Rescaling(1/255)`` and ``RandomFlip("horizontal")`` inside the model, as the keras.io vision
  examples have them: the uint8 images go in as they are, and are flipped only in training;
- a stem ``Conv2D(32, 3)``, then four blocks of ``DepthwiseConv2D(3) - BatchNormalization -
  ReLU(6.) - Conv2D(1x1) - BatchNormalization - ReLU(6.)`` to 64, 64, 128 and 128 channels, the
  first and third with strides 2 (28x28 -> 14x14 -> 7x7);
- ``GlobalAveragePooling2D``, ``Dropout(0.2)`` and a softmax ``Dense(10)``.

37,706 parameters, against 600,810 for the tutorial CNN of ``fashion_mnist_conv.py``. The
convolutions before a BatchNormalization have no bias, which its beta would cancel. The layers
use ``momentum=0.9`` rather than Keras's 0.99, for the reason ``mnist_batchnorm.py`` gives: a
short run has too few steps for 0.99's moving statistics to forget their starting values.
Adam, sparse categorical cross-entropy on the integer labels, batch 128, 10% of the training
images held out for validation.

With no --data it uses the copy in the data directory (``$MINICNN_DATA``, else
``~/.minicnn/datasets``), downloading it there if it can, else ``../shared/data/fashion-mnist``
beside the repository when that folder exists.
"""
import os
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, parser, report, setup  # noqa: E402
from fashion_mnist_conv import DATA_HELP, load  # noqa: E402

from minicnn import Model  # noqa: E402
from minicnn.callbacks import LambdaCallback  # noqa: E402
from minicnn.datasets import fashion_mnist  # noqa: E402
from minicnn.layers import (BatchNormalization, Conv2D, Dense, DepthwiseConv2D, Dropout,  # noqa: E402
                            GlobalAveragePooling2D, Input, RandomFlip, ReLU, Rescaling)

# Suits short runs: see the module docstring.
BN_MOMENTUM = 0.9
STEM_FILTERS = 32
BLOCKS = ((64, 2), (64, 1), (128, 2), (128, 1))  # (pointwise filters, depthwise strides) of each block
TUTORIAL_CNN_PARAMS = 600_810  # examples/mnist_conv.py's build_model, which fashion_mnist_conv.py trains


def conv_bn_relu6(x, filters, kernel_size=1):
    """Conv2D (no bias) - BatchNormalization - ReLU(6.): the stem, and the pointwise half of a block."""
    x = Conv2D(filters, kernel_size, padding="same", use_bias=False)(x)
    x = BatchNormalization(momentum=BN_MOMENTUM)(x)
    return ReLU(6.0)(x)


def separable_block(x, filters, strides):
    """MobileNet's block: a depthwise 3x3 convolution (with the strides), then a pointwise 1x1 one,
    each followed by BatchNormalization and ReLU6."""
    x = DepthwiseConv2D(3, strides=strides, padding="same", use_bias=False)(x)
    x = BatchNormalization(momentum=BN_MOMENTUM)(x)
    x = ReLU(6.0)(x)
    return conv_bn_relu6(x, filters)


def mobilenet(input_shape=(28, 28, 1), num_classes=10, blocks=BLOCKS, dropout=0.2):
    """The model described in the module docstring (37,706 parameters for 28x28x1 and 10 classes);
    its input is uint8 or float images in [0, 255]."""
    inputs = Input(shape=input_shape)
    x = Rescaling(1.0 / 255)(inputs)
    x = RandomFlip("horizontal")(x)  # a mirrored shirt is still a shirt; the identity at test time
    x = conv_bn_relu6(x, STEM_FILTERS, kernel_size=3)
    for filters, strides in blocks:
        x = separable_block(x, filters, strides)
    x = GlobalAveragePooling2D()(x)
    x = Dropout(dropout)(x)
    outputs = Dense(num_classes, activation="softmax")(x)
    return Model(inputs, outputs, name="mobilenet")


def epoch_timer(times):
    """A callback appending each epoch's seconds (training and validation) to ``times``."""
    start = []
    return LambdaCallback(on_epoch_begin=lambda epoch, logs: start.append(time.perf_counter()),
                          on_epoch_end=lambda epoch, logs: times.append(time.perf_counter() - start.pop()))


def main(argv=None):
    args = parser(__doc__.splitlines()[0], epochs=10, data_metavar="PATH", data_help=DATA_HELP).parse_args(argv)
    setup(args)
    data, description = load(args.data)
    (x_train, _), (x_test, _) = data
    print(f"{description} ({len(x_train)} train / {len(x_test)} test)")
    (x_train, y_train), (x_test, y_test) = limit(data, args.limit)
    x_train, x_test = x_train[..., None], x_test[..., None]  # uint8 (N, 28, 28, 1): the model rescales

    model = mobilenet(x_train.shape[1:])
    model.summary()
    print(f"{model.count_params():,} parameters; the tutorial CNN of fashion_mnist_conv.py: {TUTORIAL_CNN_PARAMS:,}")
    model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])

    epoch_times = []
    start = time.perf_counter()
    history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs, validation_split=0.1,
                        callbacks=[epoch_timer(epoch_times)])
    report(model, args, history, (x_test, y_test), time.perf_counter() - start)
    print(f"Seconds per epoch: {statistics.median(epoch_times):.1f} (median of {len(epoch_times)}, "
          f"with the validation pass)")

    predicted = model.predict(x_test[:5], verbose=0).argmax(axis=1)
    names = [f"{fashion_mnist.CLASS_NAMES[p]} ({fashion_mnist.CLASS_NAMES[t]})" for p, t in zip(predicted, y_test[:5])]
    print("First test images, predicted (true): " + ", ".join(names))


if __name__ == "__main__":
    main()
