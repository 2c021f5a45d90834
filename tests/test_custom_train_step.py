"""fit with a train_step of the user's own (minicnn/custom_step.py), as Keras's "Customizing what
happens in fit()" guide writes it, against the same loop written by hand; and the lowercase losses
on the tape (what such a train_step calls), against central differences."""
import numpy as np
import pytest

import minicnn as keras
from minicnn import layers, ops


class Regression(keras.Model):
    """A Dense trained by its own train_step (MSE by ops), with a loss tracker and a test_step."""

    def __init__(self, with_test_step=True):
        super().__init__()
        self.dense = layers.Dense(1)
        self.loss_tracker = keras.metrics.Mean(name="loss")
        self.with_test_step = with_test_step

    @property
    def metrics(self):
        return [self.loss_tracker]

    def call(self, x):
        return self.dense(x)

    def train_step(self, data):
        x, y = data
        with keras.GradientTape() as tape:
            loss = ops.mean(ops.square(self(x, training=True) - y))
        grads = tape.gradient(loss, self.trainable_weights)
        self.optimizer.apply_gradients(zip(grads, self.trainable_weights))
        self.loss_tracker.update_state(loss)
        return {"loss": self.loss_tracker.result()}

    def test_step(self, data):
        x, y = data
        self.loss_tracker.update_state(ops.mean(ops.square(self(x) - y)))
        return {"loss": self.loss_tracker.result()}


def data(n=20):
    rng = np.random.default_rng(0)
    x = rng.random((n, 3), dtype=np.float32)
    return x, (x @ np.array([[1.0], [-2.0], [0.5]], np.float32) + 0.3).astype(np.float32)


def test_fit_runs_the_train_step_as_the_hand_written_loop_does():
    x, y = data()
    model = Regression()
    model(x[:1])
    start = model.get_weights()
    model.compile(optimizer=keras.optimizers.SGD(0.1))
    history = model.fit(x, y, batch_size=8, epochs=3, shuffle=False, verbose=0)

    w, b = (a.astype(np.float64) for a in start)
    epoch_losses = []
    for _ in range(3):
        losses = []
        for lo in range(0, 20, 8):
            xb, yb = x[lo:lo + 8].astype(np.float64), y[lo:lo + 8].astype(np.float64)
            err = xb @ w + b - yb
            losses.append((float((err ** 2).mean()), len(xb)))
            w, b = w - 0.1 * xb.T @ (2 * err / err.size), b - 0.1 * (2 * err / err.size).sum(axis=0)
        epoch_losses.append(sum(v for v, _ in losses) / len(losses))  # Mean of the batch losses, reset per epoch
    np.testing.assert_allclose(model.get_weights()[0], w, rtol=1e-5)
    np.testing.assert_allclose(history.history["loss"], epoch_losses, rtol=1e-5)


def test_validation_goes_through_test_step_and_needs_one():
    x, y = data()
    model = Regression()
    model.compile(optimizer="sgd")
    history = model.fit(x, y, batch_size=10, epochs=2, validation_data=(x, y), verbose=0)
    final = float(np.mean((model.predict(x) - y) ** 2))
    assert history.history["val_loss"][-1] == pytest.approx(final, rel=1e-5)

    class NoTestStep(Regression):
        test_step = None
    bare = NoTestStep()
    bare.compile(optimizer="sgd")
    with pytest.raises(TypeError, match="no test_step"):
        bare.fit(x, y, validation_data=(x, y), verbose=0)
    with pytest.raises(TypeError, match="validation_split"):
        bare.fit(x, y, validation_split=0.2, verbose=0)


def test_a_train_step_must_return_logs_and_a_model_without_call_says_what_to_do():
    class Silent(keras.Model):
        def __init__(self):
            super().__init__()
            self.dense = layers.Dense(1)

        def train_step(self, data):
            return None
    model = Silent()
    model.compile(optimizer="sgd")
    with pytest.raises(ValueError, match="must return a dict of logs"):
        model.fit(np.ones((4, 2), np.float32), verbose=0)
    with pytest.raises(TypeError, match="has no call"):
        model.predict(np.ones((4, 2), np.float32))


@pytest.mark.parametrize("name", ["binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
                                  "mean_squared_error", "mean_absolute_error", "huber", "kl_divergence"])
def test_the_lowercase_losses_on_the_tape_give_the_numerical_gradient(name):
    rng = np.random.default_rng(1)
    y_pred = rng.random((3, 2, 4)) * 0.8 + 0.1
    y_true = {"categorical_crossentropy": np.eye(4)[rng.integers(0, 4, (3, 2))],
              "sparse_categorical_crossentropy": rng.integers(0, 4, (3, 2))}.get(name, rng.random((3, 2, 4)))
    fn = getattr(keras.losses, name)
    dy = rng.standard_normal(fn(y_true, y_pred).shape)
    t = keras.Tensor(y_pred)
    with keras.GradientTape() as tape:
        tape.watch(t)
        values = fn(y_true, t)
    np.testing.assert_allclose(values.numpy(), fn(y_true, y_pred))
    grad = tape.gradient(values, t, output_gradients=dy).numpy()
    flat = y_pred.reshape(-1)
    for i in rng.choice(flat.size, 8, replace=False):
        old = flat[i]
        flat[i] = old + 1e-6
        up = float((fn(y_true, y_pred) * dy).sum())
        flat[i] = old - 1e-6
        down = float((fn(y_true, y_pred) * dy).sum())
        flat[i] = old
        assert grad.reshape(-1)[i] == pytest.approx((up - down) / 2e-6, rel=1e-5, abs=1e-8)


def test_a_gan_with_its_own_compile_two_optimizers_and_two_tapes_trains():
    """keras.io's DCGAN shape: compile(d_optimizer, g_optimizer, loss_fn) calling super().compile(),
    keras.random with a SeedGenerator, a tape per network; each optimizer updates its own weights."""
    latent = 3
    disc = keras.Sequential([keras.Input(shape=(4,)), layers.Dense(8, activation="relu"), layers.Dense(1)])
    gen = keras.Sequential([keras.Input(shape=(latent,)), layers.Dense(4, activation="sigmoid")])

    class GAN(keras.Model):
        def __init__(self):
            super().__init__()
            self.discriminator, self.generator = disc, gen
            self.seed_generator = keras.random.SeedGenerator(1)

        def compile(self, d_optimizer, g_optimizer, loss_fn):
            super().compile()
            self.d_optimizer, self.g_optimizer, self.loss_fn = d_optimizer, g_optimizer, loss_fn

        def train_step(self, real):
            n = ops.shape(real)[0]
            fake = self.generator(keras.random.normal((n, latent), seed=self.seed_generator))
            labels = ops.concatenate([ops.ones((n, 1)), ops.zeros((n, 1))], axis=0)
            with keras.GradientTape() as tape:
                d_loss = self.loss_fn(labels, self.discriminator(ops.concatenate([fake, real], axis=0)))
            grads = tape.gradient(d_loss, self.discriminator.trainable_weights)
            self.d_optimizer.apply_gradients(zip(grads, self.discriminator.trainable_weights))
            with keras.GradientTape() as tape:
                z = keras.random.normal((n, latent), seed=self.seed_generator)
                g_loss = self.loss_fn(ops.zeros((n, 1)), self.discriminator(self.generator(z)))
            grads = tape.gradient(g_loss, self.generator.trainable_weights)
            self.g_optimizer.apply_gradients(zip(grads, self.generator.trainable_weights))
            return {"d_loss": d_loss, "g_loss": g_loss}

    gan = GAN()
    gan.compile(keras.optimizers.Adam(1e-3), keras.optimizers.Adam(1e-3),
                keras.losses.BinaryCrossentropy(from_logits=True))
    d_before, g_before = disc.get_weights(), gen.get_weights()
    history = gan.fit(np.random.default_rng(0).random((32, 4), dtype=np.float32), epochs=2, batch_size=8, verbose=0)
    assert gan.d_optimizer.iterations == gan.g_optimizer.iterations == 8
    assert set(history.history) == {"d_loss", "g_loss"} and all(np.isfinite(history.history["g_loss"]))
    assert all(not np.array_equal(a, b) for a, b in zip(disc.get_weights(), d_before))
    assert all(not np.array_equal(a, b) for a, b in zip(gen.get_weights(), g_before))
