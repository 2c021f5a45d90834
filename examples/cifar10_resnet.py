"""Keras 2's ResNet v1 for CIFAR-10 (ResNet-20 by default; any depth 6n+2), built with the functional API.

    python examples/cifar10_resnet.py                           # CIFAR-10 if found, else Fashion-MNIST
    python examples/cifar10_resnet.py --depth 32 --data ~/cifar-10-binary.tar.gz
    python examples/cifar10_resnet.py --data fashion --epochs 10 --no-augment

The network, optimizer and schedule of Keras 2's ``examples/cifar10_resnet.py`` (version 1): a
Conv2D-BatchNormalization-ReLU stem, then three stacks of n residual blocks with 16, 32 and 64
filters (the first block of the second and third stacks halves the image with strides 2 and
matches the shortcut with a 1x1 convolution), each block two 3x3 Conv2D-BN layers whose sum
with the shortcut goes through a ReLU; then AveragePooling2D(8), Flatten and a softmax Dense.
Adam at 1e-3, cut to 1e-4, 1e-5, 1e-6 and 5e-7 after epochs 80, 120, 160 and 180; images scaled
to [0, 1] minus the training set's mean image; each epoch's images shifted by up to 10% and
flipped left to right at random (``--no-augment`` to train on them as they are). As in Keras's
script, the test set is the validation data, and the default is 200 epochs of batch 32.

Data (``--data``): ``cifar10`` is CIFAR-10 from the data directory (``$MINICNN_DATA``, else
``~/.minicnn/datasets``), downloaded there if it can be; a path is CIFAR-10's binary archive or
folder, or else a Fashion-MNIST folder; ``fashion`` is Fashion-MNIST from the data directory, a
download, or ``../shared/data/fashion-mnist`` beside the repository. With no ``--data``, CIFAR-10
when it can be had, else Fashion-MNIST. Fashion-MNIST's 28x28 grey images are padded to 32x32
and repeated over three channels, so the network is the same.
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import limit, load_from, parser, positive_int, report, setup  # noqa: E402
from fashion_mnist_conv import load as load_fashion  # noqa: E402

import minicnn as keras  # noqa: E402
from minicnn.callbacks import LambdaCallback, LearningRateScheduler  # noqa: E402
from minicnn.datasets import cifar10  # noqa: E402
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Flatten,  # noqa: E402
                            Input)
from minicnn.optimizers import Adam  # noqa: E402
from minicnn.preprocessing.image import ImageDataGenerator  # noqa: E402
from minicnn.regularizers import l2  # noqa: E402
from minicnn.utils import to_categorical  # noqa: E402

NUM_CLASSES = 10
DATA_HELP = ("'cifar10', 'fashion', or a path: CIFAR-10's binary archive or folder, else a Fashion-MNIST "
             "folder. Default: CIFAR-10 when it can be found or downloaded, else Fashion-MNIST")


def lr_schedule(epoch):
    """Keras's schedule: 1e-3, divided by 10 after epochs 80, 120 and 160, and 0.5e-3 of it after 180
    (``epoch`` is 0-based, so "after 80" starts at the 82nd epoch, as in Keras's script)."""
    lr = 1e-3
    if epoch > 180:
        lr *= 0.5e-3
    elif epoch > 160:
        lr *= 1e-3
    elif epoch > 120:
        lr *= 1e-2
    elif epoch > 80:
        lr *= 1e-1
    return lr


def resnet_layer(inputs, num_filters=16, kernel_size=3, strides=1, activation="relu", batch_normalization=True):
    """Conv2D, then BatchNormalization and the activation (each optional): ResNet v1's unit.

    The convolution is "same" padded, he_normal initialised and L2-regularised (1e-4), as in Keras's
    script. Returns the output tensor.
    """
    x = Conv2D(num_filters, kernel_size=kernel_size, strides=strides, padding="same",
               kernel_initializer="he_normal", kernel_regularizer=l2(1e-4))(inputs)
    if batch_normalization:
        x = BatchNormalization()(x)
    if activation is not None:
        x = Activation(activation)(x)
    return x


def resnet_v1(input_shape, depth, num_classes=NUM_CLASSES):
    """ResNet v1 (He et al. 2015, section 4.2): ``depth`` = 6n + 2 layers, n residual blocks per stack.

    Feature maps: 32x32 with 16 filters, 16x16 with 32, 8x8 with 64. Parameters: ResNet-20 0.27M,
    ResNet-32 0.46M, ResNet-44 0.66M, ResNet-56 0.85M, ResNet-110 1.7M.

    Raises:
        ValueError: when ``depth`` is not 6n + 2 with n >= 1.
    """
    if depth < 8 or (depth - 2) % 6 != 0:
        raise ValueError(f"depth should be 6n+2 with n >= 1 (8, 14, 20, 32, 44, 56, 110...), got {depth}")
    num_filters = 16
    num_res_blocks = (depth - 2) // 6

    inputs = Input(shape=input_shape)
    x = resnet_layer(inputs)
    for stack in range(3):
        for res_block in range(num_res_blocks):
            downsample = stack > 0 and res_block == 0  # the first block of the second and third stacks
            strides = 2 if downsample else 1
            y = resnet_layer(x, num_filters=num_filters, strides=strides)
            y = resnet_layer(y, num_filters=num_filters, activation=None)
            if downsample:
                # the shortcut must change shape too: a linear 1x1 projection with the same strides
                x = resnet_layer(x, num_filters=num_filters, kernel_size=1, strides=strides, activation=None,
                                 batch_normalization=False)
            x = keras.layers.add([x, y])
            x = Activation("relu")(x)
        num_filters *= 2

    # v1 has no BatchNormalization after the last block's ReLU
    x = AveragePooling2D(pool_size=8)(x)
    y = Flatten()(x)
    outputs = Dense(num_classes, activation="softmax", kernel_initializer="he_normal")(y)
    return keras.Model(inputs=inputs, outputs=outputs, name=f"resnet{depth}v1")


def load(which):
    """``(data, description, is_cifar)`` for ``--data`` (see the module docstring).

    Raises SystemExit with the reason when the asked-for data cannot be had.
    """
    if which == "cifar10":
        return load_from(cifar10.load_data, asked="cifar10"), "Training on CIFAR-10", True
    if which == "fashion":
        data, description = load_fashion(None)
        return data, description + " (as asked)", False
    if which:
        if not os.path.exists(os.path.expanduser(which)):
            raise SystemExit(f"--data {which}: no such file or folder (--help says what --data takes).")
        try:
            data, source = cifar10.read_location(os.path.expanduser(which))
        except LookupError as no_cifar:  # then it should be a Fashion-MNIST folder
            try:
                data, description = load_fashion(which)
            except SystemExit as e:
                raise SystemExit(f"{e.code}\nNor is it CIFAR-10: {no_cifar}") from None
            return data, description, False
        except ValueError as e:  # a CIFAR-10 file, but corrupt
            raise SystemExit(f"--data {which}: {e}") from None
        return data, f"Training on CIFAR-10 from {source}", True
    try:
        return cifar10.load_data(), "Training on CIFAR-10 from the data directory", True
    except OSError:  # DatasetNotFoundError, or a failed download
        print("CIFAR-10 is neither in the data directory nor downloadable here, so this runs on Fashion-MNIST, "
              "padded to 32x32 and repeated over 3 channels (--data PATH reads your copy of CIFAR-10).")
        data, description = load_fashion(None)
        return data, description, False


def prepare(data, is_cifar):
    """uint8 images -> float32 (N, 32, 32, 3) in [0, 1] minus the training mean image; one-hot labels.

    Fashion-MNIST's (N, 28, 28) images are padded by 2 pixels on each side and repeated over three
    channels first.
    """
    (x_train, y_train), (x_test, y_test) = data
    if not is_cifar:
        x_train, x_test = (np.repeat(np.pad(x, ((0, 0), (2, 2), (2, 2)))[..., None], 3, axis=3)
                           for x in (x_train, x_test))
    x_train = x_train.astype(np.float32) / 255
    x_test = x_test.astype(np.float32) / 255
    # subtract_pixel_mean=True in Keras's script: it "improves accuracy"
    x_train_mean = x_train.mean(axis=0)
    x_train -= x_train_mean
    x_test -= x_train_mean
    return (x_train, to_categorical(y_train, NUM_CLASSES)), (x_test, to_categorical(y_test, NUM_CLASSES))


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=200, batch_size=32, data_metavar="cifar10|fashion|PATH",
               data_help=DATA_HELP)
    p.add_argument("--depth", type=positive_int, default=20, help="6n+2 layers: 8, 14, 20 (default), 32, 44, 56, 110")
    p.add_argument("--no-augment", action="store_true", help="train on the images as they are (no shifts, no flips)")
    args = p.parse_args(argv)
    if args.depth < 8 or (args.depth - 2) % 6:
        p.error(f"--depth must be 6n+2 (8, 14, 20, 32, ...), got {args.depth}")
    setup(args)
    data, description, is_cifar = load(args.data)
    (x_train, _), (x_test, _) = data
    print(f"{description} ({len(x_train)} train / {len(x_test)} test)")
    (x_train, y_train), (x_test, y_test) = prepare(limit(data, args.limit), is_cifar)
    print(f"x_train shape: {x_train.shape}, {len(x_train)} train samples, {len(x_test)} test samples")

    model = resnet_v1(input_shape=x_train.shape[1:], depth=args.depth)
    model.compile(loss="categorical_crossentropy", optimizer=Adam(learning_rate=lr_schedule(0)),
                  metrics=["accuracy"])
    model.summary()
    print(f"ResNet{args.depth}v1")

    # Keras's script also has a ReduceLROnPlateau, but the scheduler sets the rate again at each
    # epoch's start, undoing it; and a ModelCheckpoint, left out here (nothing is written to disk).
    epoch_times = []
    timer = LambdaCallback(on_epoch_begin=lambda epoch, logs: epoch_times.append(time.perf_counter()),
                           on_epoch_end=lambda epoch, logs: epoch_times.append(time.perf_counter() - epoch_times.pop()))
    callbacks = [LearningRateScheduler(lr_schedule, verbose=1), timer]
    start = time.perf_counter()
    if args.no_augment:
        print("Not using data augmentation.")
        history = model.fit(x_train, y_train, batch_size=args.batch_size, epochs=args.epochs,
                            validation_data=(x_test, y_test), shuffle=True, callbacks=callbacks)
    else:
        print("Using real-time data augmentation: shifts of up to 10%, horizontal flips.")
        # No datagen.fit: it learns only the featurewise statistics, which are not used here.
        datagen = ImageDataGenerator(width_shift_range=0.1, height_shift_range=0.1, fill_mode="nearest",
                                     horizontal_flip=True)
        history = model.fit(datagen.flow(x_train, y_train, batch_size=args.batch_size), epochs=args.epochs,
                            validation_data=(x_test, y_test), callbacks=callbacks)
    report(model, args, history, (x_test, y_test), time.perf_counter() - start)
    print(f"Seconds per epoch: {statistics.median(epoch_times):.1f} (median of {len(epoch_times)}, "
          f"with the validation pass)")


if __name__ == "__main__":
    main()
