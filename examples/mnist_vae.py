"""keras.io's variational autoencoder: a Sampling layer of one's own and a train_step of one's own.

    python examples/mnist_vae.py                         # full MNIST if cached/downloadable, else the sample
    python examples/mnist_vae.py --data sample --epochs 10 --plot vae.png

The code of keras.io's "Variational AutoEncoder" (fchollet), with only its imports changed: the
encoder is two 3x3 Conv2D layers with strides 2 (32 and 64 filters), a 16-unit Dense and two
Dense heads for the mean and the log-variance of a 2-D latent code, sampled by ``Sampling`` (a
custom layer: ``keras.random.normal`` and ``keras.ops``); the decoder is a Dense back to 7x7x64
and three Conv2DTranspose layers. ``VAE`` is a subclassed ``keras.Model`` whose ``train_step``
takes the reconstruction loss (binary crossentropy summed over the pixels) and the KL term under a
``GradientTape``, applies the gradients, and reports its loss trackers; Adam, batch 128. At the end
it prints the last epoch's losses and saves a PNG of digits decoded from a grid of latent codes
(``--plot PNG``, default vae_latent.png; ``--no-plot``); the picture needs matplotlib.
"""
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import figure_option, limit, load_mnist, matplotlib_missing, parser, setup  # noqa: E402

import minicnn as keras  # noqa: E402
from minicnn import layers, ops  # noqa: E402

PLOT = "vae_latent.png"
LATENT_DIM = 2


class Sampling(layers.Layer):
    """Uses (z_mean, z_log_var) to sample z, the vector encoding a digit."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.seed_generator = keras.random.SeedGenerator(1337)

    def call(self, inputs):
        z_mean, z_log_var = inputs
        batch, dim = ops.shape(z_mean)[0], ops.shape(z_mean)[1]
        epsilon = keras.random.normal(shape=(batch, dim), seed=self.seed_generator)
        return z_mean + ops.exp(0.5 * z_log_var) * epsilon


def build_encoder(latent_dim=LATENT_DIM):
    encoder_inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(32, 3, activation="relu", strides=2, padding="same")(encoder_inputs)
    x = layers.Conv2D(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Flatten()(x)
    x = layers.Dense(16, activation="relu")(x)
    z_mean = layers.Dense(latent_dim, name="z_mean")(x)
    z_log_var = layers.Dense(latent_dim, name="z_log_var")(x)
    z = Sampling()([z_mean, z_log_var])
    return keras.Model(encoder_inputs, [z_mean, z_log_var, z], name="encoder")


def build_decoder(latent_dim=LATENT_DIM):
    latent_inputs = keras.Input(shape=(latent_dim,))
    x = layers.Dense(7 * 7 * 64, activation="relu")(latent_inputs)
    x = layers.Reshape((7, 7, 64))(x)
    x = layers.Conv2DTranspose(64, 3, activation="relu", strides=2, padding="same")(x)
    x = layers.Conv2DTranspose(32, 3, activation="relu", strides=2, padding="same")(x)
    decoder_outputs = layers.Conv2DTranspose(1, 3, activation="sigmoid", padding="same")(x)
    return keras.Model(latent_inputs, decoder_outputs, name="decoder")


class VAE(keras.Model):
    def __init__(self, encoder, decoder, **kwargs):
        super().__init__(**kwargs)
        self.encoder = encoder
        self.decoder = decoder
        self.total_loss_tracker = keras.metrics.Mean(name="total_loss")
        self.reconstruction_loss_tracker = keras.metrics.Mean(name="reconstruction_loss")
        self.kl_loss_tracker = keras.metrics.Mean(name="kl_loss")

    @property
    def metrics(self):
        return [self.total_loss_tracker, self.reconstruction_loss_tracker, self.kl_loss_tracker]

    def train_step(self, data):
        with keras.GradientTape() as tape:
            z_mean, z_log_var, z = self.encoder(data)
            reconstruction = self.decoder(z)
            reconstruction_loss = ops.mean(
                ops.sum(keras.losses.binary_crossentropy(data, reconstruction), axis=(1, 2)))
            kl_loss = -0.5 * (1 + z_log_var - ops.square(z_mean) - ops.exp(z_log_var))
            kl_loss = ops.mean(ops.sum(kl_loss, axis=1))
            total_loss = reconstruction_loss + kl_loss
        grads = tape.gradient(total_loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.total_loss_tracker.update_state(total_loss)
        self.reconstruction_loss_tracker.update_state(reconstruction_loss)
        self.kl_loss_tracker.update_state(kl_loss)
        return {"loss": self.total_loss_tracker.result(),
                "reconstruction_loss": self.reconstruction_loss_tracker.result(),
                "kl_loss": self.kl_loss_tracker.result()}


def latent_grid(decoder, n=10, scale=1.5):
    """Digits decoded from an n x n grid of latent codes in [-scale, scale]^2, as one image."""
    codes = np.array([[x, y] for y in np.linspace(scale, -scale, n) for x in np.linspace(-scale, scale, n)],
                     dtype=np.float32)
    digits = decoder.predict(codes, verbose=0)[..., 0]
    return digits.reshape(n, n, 28, 28).transpose(0, 2, 1, 3).reshape(n * 28, n * 28)


def save_latent_grid(path, image, scale=1.5):
    """Write the grid as a PNG with its latent axes. Returns ``path``."""
    import matplotlib
    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    from minicnn.saving import atomic_write
    fig, ax = plt.subplots(figsize=(6, 6))
    ax.imshow(image, cmap="Greys_r", extent=(-scale, scale, -scale, scale))
    ax.set_xlabel("z[0]")
    ax.set_ylabel("z[1]")
    ax.set_title("Digits decoded from the 2-D latent space")
    fig.tight_layout()
    atomic_write(os.fspath(path), lambda f: fig.savefig(f, format="png", dpi=100))
    plt.close(fig)
    return path


def main(argv=None):
    p = parser(__doc__.splitlines()[0], epochs=30)
    figure_option(p, PLOT, "digits decoded from a grid of latent codes")
    args = p.parse_args(argv)
    setup(args)
    data, text = load_mnist(args.data)
    print(text)
    (x_train, _), (x_test, _) = limit(data, args.limit)
    mnist_digits = np.concatenate([x_train, x_test], axis=0)  # keras.io trains on all 70,000 digits
    mnist_digits = np.expand_dims(mnist_digits, -1).astype("float32") / 255

    vae = VAE(build_encoder(), build_decoder())
    vae.encoder.summary()
    vae.decoder.summary()
    vae.compile(optimizer=keras.optimizers.Adam())
    start = time.perf_counter()
    history = vae.fit(mnist_digits, epochs=args.epochs, batch_size=args.batch_size)
    logs = {k: v[-1] for k, v in history.history.items()}
    print(f"Last epoch: loss {logs['loss']:.2f} (reconstruction {logs['reconstruction_loss']:.2f}, "
          f"KL {logs['kl_loss']:.2f}); training time {time.perf_counter() - start:.1f} s")
    missing = matplotlib_missing() if args.plot else None
    if missing:
        print(missing)
    elif args.plot:
        save_latent_grid(args.plot, latent_grid(vae.decoder))
        print(f"Latent-space digits written to {os.path.abspath(args.plot)}")
    return logs


if __name__ == "__main__":
    main()
