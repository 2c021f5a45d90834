"""Keras 2's denoising autoencoder: an encoder Model and a decoder Model, trained on noisy MNIST digits.

    python examples/mnist_autoencoder.py                    # full MNIST if cached/downloadable, else the sample
    python examples/mnist_autoencoder.py --data sample --epochs 10 --plot digits.png

The network and recipe of Keras 2's ``examples/mnist_denoising_autoencoder.py``. The encoder is two
3x3 Conv2D layers with strides 2 (32 and 64 filters, 28x28 -> 7x7), Flatten and a 16-unit Dense
latent vector; the decoder is a Dense back to 7x7x64, Reshape, two Conv2DTranspose layers with
strides 2 (64 and 32 filters, 7x7 -> 28x28) and a last Conv2DTranspose to one channel with a
sigmoid. The autoencoder is the two models composed, ``Model(inputs, decoder(encoder(inputs)))``:
they share their weights, so after training ``encoder`` alone maps digits to their latent vectors.

The inputs are the digits with Gaussian noise of mean 0.5 and standard deviation 0.5 added and
clipped to [0, 1]; the targets are the clean digits. Mean squared error, Adam, batch 128, 30
epochs, with the noisy test digits as the validation data, as in Keras's script. At the end it
prints the test mse (and the mse of the noisy inputs themselves, for scale) and saves a PNG of
the first ten test digits, noisy, denoised and clean (``--plot PNG``, default denoised.png;
``--no-plot`` for none). The picture needs matplotlib (``pip install 'minicnn[plot]'``).
"""
import os
import statistics
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import figure_option, limit, load_mnist, matplotlib_missing, parser, setup  # noqa: E402

import minicnn  # noqa: E402
from minicnn import Model  # noqa: E402
from minicnn.callbacks import LambdaCallback  # noqa: E402
from minicnn.layers import Activation, Conv2D, Conv2DTranspose, Dense, Flatten, Input, Reshape  # noqa: E402

PLOT = "denoised.png"
LATENT_DIM = 16
LAYER_FILTERS = (32, 64)
NOISE_MEAN, NOISE_STDDEV = 0.5, 0.5  # Keras's script: np.random.normal(loc=0.5, scale=0.5)
DIGITS_SHOWN = 10


def build_models(input_shape=(28, 28, 1), latent_dim=LATENT_DIM, layer_filters=LAYER_FILTERS, kernel_size=3):
    """``(encoder, decoder, autoencoder)``: 69,008 + 108,993 = 178,001 parameters for MNIST.

    The autoencoder calls the encoder and the decoder as layers, so all three share weights.
    """
    inputs = Input(shape=input_shape, name="encoder_input")
    x = inputs
    for filters in layer_filters:  # strides 2 halve the image: no pooling layers
        x = Conv2D(filters, kernel_size, strides=2, activation="relu", padding="same")(x)
    feature_shape = x.shape[1:]  # (7, 7, 64): the decoder starts from this shape
    x = Flatten()(x)
    latent = Dense(latent_dim, name="latent_vector")(x)
    encoder = Model(inputs, latent, name="encoder")

    latent_inputs = Input(shape=(latent_dim,), name="decoder_input")
    x = Dense(int(np.prod(feature_shape)))(latent_inputs)
    x = Reshape(feature_shape)(x)
    for filters in reversed(layer_filters):  # strides 2 double the image back
        x = Conv2DTranspose(filters, kernel_size, strides=2, activation="relu", padding="same")(x)
    x = Conv2DTranspose(1, kernel_size, padding="same")(x)
    outputs = Activation("sigmoid", name="decoder_output")(x)
    decoder = Model(latent_inputs, outputs, name="decoder")

    autoencoder = Model(inputs, decoder(encoder(inputs)), name="autoencoder")
    return encoder, decoder, autoencoder


def add_noise(x, rng):
    """``x`` (N, 28, 28, 1) float32 in [0, 1] plus Gaussian noise (mean 0.5, stddev 0.5), clipped to [0, 1]."""
    noise = rng.standard_normal(x.shape, dtype=np.float32)  # float32 draws: no float64 copy of the data set
    noise *= np.float32(NOISE_STDDEV)
    noise += np.float32(NOISE_MEAN)
    noise += x
    return np.clip(noise, 0.0, 1.0, out=noise)


def save_grid(path, rows, labels):
    """Write a PNG of images, one row per array of ``rows`` (each (n, 28, 28, 1) in [0, 1]),
    each row named by its entry of ``labels``. Returns ``path``.

    Raises:
        ImportError: if matplotlib is missing.
    """
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from minicnn.saving import atomic_write

    n, h, w = rows[0].shape[:3]
    gap = 2  # white pixels between digits, so that neighbours do not run together
    grid = np.ones((len(rows) * (h + gap) - gap, n * (w + gap) - gap), dtype=np.float32)
    for r, images in enumerate(rows):
        for c in range(n):
            grid[r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = images[c, :, :, 0]
    fig, ax = plt.subplots(figsize=(0.75 * n + 1.2, 0.75 * len(rows) + 0.6))
    ax.imshow(grid, cmap="gray", vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks([r * (h + gap) + h / 2 for r in range(len(rows))], labels)
    ax.set_xticks([])
    ax.tick_params(length=0)
    for side in ax.spines.values():
        side.set_visible(False)
    ax.set_title(f"The first {n} test digits", fontsize=10)
    fig.tight_layout()
    atomic_write(os.fspath(path), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return path


def epoch_timer(times):
    """A callback appending each epoch's seconds (training and validation) to ``times``."""
    start = []
    return LambdaCallback(on_epoch_begin=lambda epoch, logs: start.append(time.perf_counter()),
                          on_epoch_end=lambda epoch, logs: times.append(time.perf_counter() - start.pop()))


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=30)
    figure_option(p, PLOT, "noisy, denoised and clean test digits")
    args = p.parse_args(argv)
    setup(args)
    missing = matplotlib_missing() if args.plot else None
    if missing:
        print(missing)
    data, text = load_mnist(args.data)
    print(text)
    (x_train, _), (x_test, _) = limit(data, args.limit)
    x_train = x_train.reshape(-1, 28, 28, 1).astype(np.float32) / 255
    x_test = x_test.reshape(-1, 28, 28, 1).astype(np.float32) / 255
    rng = np.random.default_rng(args.seed)
    x_train_noisy, x_test_noisy = add_noise(x_train, rng), add_noise(x_test, rng)

    encoder, decoder, autoencoder = build_models(x_train.shape[1:])
    encoder.summary()
    decoder.summary()
    autoencoder.summary()
    autoencoder.compile(loss="mse", optimizer="adam")

    epoch_times = []
    start = time.perf_counter()
    autoencoder.fit(x_train_noisy, x_train, validation_data=(x_test_noisy, x_test), epochs=args.epochs,
                    batch_size=args.batch_size, callbacks=[epoch_timer(epoch_times)])
    train_time = time.perf_counter() - start

    mse = autoencoder.evaluate(x_test_noisy, x_test, verbose=0)
    print(f"Test mse: {mse:.4f} (the noisy inputs themselves: {float(np.mean((x_test_noisy - x_test) ** 2)):.4f})")
    print(f"Training time: {train_time:.1f} s ({args.epochs} epochs, batch {args.batch_size}, "
          f"backend {minicnn.get_backend()})")
    print(f"Seconds per epoch: {statistics.median(epoch_times):.1f} (median of {len(epoch_times)}, "
          f"with the validation pass)")
    if missing:
        print(f"No PNG written: {missing}")
    elif args.plot:
        n = min(DIGITS_SHOWN, len(x_test))
        x_decoded = autoencoder.predict(x_test_noisy[:n], verbose=0)
        save_grid(args.plot, [x_test_noisy[:n], x_decoded[:n], x_test[:n]], ["noisy", "denoised", "clean"])
        print(f"Noisy, denoised and clean test digits written to {os.path.abspath(args.plot)}")
    return mse


if __name__ == "__main__":
    main()
