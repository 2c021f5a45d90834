"""What Keras's guides use around code of one's own: model.losses, *_variables, layer.kernel,
keras.random, compile without a loss (add_loss only), a subclassed model's name, metrics that give a
batch mean, clear errors from a custom call and from a built layer given other shapes on a tape,
and an anonymous Lambda refused at load rather than guessed."""
import numpy as np
import pytest

import minicnn as keras
from minicnn import layers, ops


class Penalty(layers.Layer):
    """The identity that adds mean(x**2) to the loss."""

    def call(self, x):
        self.add_loss(ops.mean(ops.square(x)))
        return x


def test_model_losses_and_compile_without_a_loss_train_on_add_loss_alone():
    keras.utils.set_random_seed(0)
    model = keras.Sequential([layers.Dense(3, input_shape=(4,)), Penalty()])
    x = np.random.default_rng(0).random((8, 4), dtype=np.float32)
    model.compile(keras.optimizers.SGD(0.1))  # no loss: Keras allows it when layers add one
    kernel, bias = model.layers[0].get_weights()
    expected = float(np.mean((x @ kernel + bias) ** 2))
    history = model.fit(x, epochs=1, batch_size=8, verbose=0).history
    assert history["loss"][0] == pytest.approx(expected, rel=1e-5)
    with keras.GradientTape() as tape:
        model(x, training=True)
        loss = sum(model.losses)
    assert float(loss) == pytest.approx(model.evaluate(x, verbose=0), rel=1e-5)
    grads = tape.gradient(loss, model.trainable_variables)
    z = x @ model.layers[0].get_weights()[0] + model.layers[0].get_weights()[1]
    np.testing.assert_allclose(grads[0].numpy(), x.T @ (2 * z / z.size), rtol=1e-4)
    with pytest.raises(ValueError, match="add_loss may leave it out"):
        keras.Sequential([layers.Dense(3, input_shape=(4,))]).compile("sgd")


def test_weights_by_name_variables_and_a_subclassed_models_name():
    dense = layers.Dense(3)
    dense(np.ones((1, 2), np.float32))
    assert dense.kernel.shape == (2, 3) and dense.bias.path == f"{dense.name}/bias"
    assert dense.kernel.data is dense.params["kernel"] and dense.variables == dense.weights
    with pytest.raises(AttributeError, match="no attribute 'gamma'"):
        dense.gamma  # noqa: B018
    with pytest.raises(AttributeError, match="has no output"):
        dense.output  # noqa: B018  (a property's own message survives)

    class TinyNet(keras.Model):
        def __init__(self):
            super().__init__()
            self.head = layers.Dense(2)

        def call(self, x):
            return self.head(x)
    net = TinyNet()
    net(np.ones((1, 3), np.float32))
    assert net.name.startswith("tiny_net") and len(net.trainable_variables) == 2


def test_keras_random_draws_follow_their_seeds():
    a = keras.random.normal((3, 4), seed=7)
    assert a.dtype == np.float32 and a.shape == (3, 4)
    np.testing.assert_array_equal(a, keras.random.normal((3, 4), seed=7))  # an int seed: the same draws
    gen = keras.random.SeedGenerator(1)
    first, second = keras.random.uniform((5,), seed=gen), keras.random.uniform((5,), seed=gen)
    assert not np.array_equal(first, second) and ((0 <= first) & (first < 1)).all()
    np.testing.assert_array_equal(first, keras.random.uniform((5,), seed=keras.random.SeedGenerator(1)))
    ints = keras.random.randint((100,), 2, 5, seed=3)
    assert ints.dtype == np.int32 and set(np.unique(ints)) <= {2, 3, 4}


def test_a_metric_function_may_give_the_batch_mean():
    """Keras 2's mnist_siamese accuracy is K.mean(K.equal(...)): one number per batch."""
    def accuracy(y_true, y_pred):
        return ops.mean(ops.equal(ops.round(y_pred), y_true))
    model = keras.Sequential([layers.Dense(1, activation="sigmoid", input_shape=(3,))])
    model.compile("sgd", "binary_crossentropy", metrics=[accuracy])
    rng = np.random.default_rng(1)
    x, y = rng.random((10, 3), dtype=np.float32), rng.integers(0, 2, (10, 1)).astype(np.float32)
    logs = model.evaluate(x, y, batch_size=4, verbose=0, return_dict=True)
    assert logs["accuracy"] == pytest.approx(float(np.mean(np.round(model.predict(x)) == y)))


def test_errors_from_a_custom_call_and_from_a_built_layer_on_a_tape_name_the_layer():
    class Reshaper(layers.Layer):
        def call(self, x):
            return ops.reshape(x, (5,))
    with pytest.raises(ValueError) as info:
        Reshaper(name="reshaper")(np.ones((2, 4), np.float32))
    assert any("reshaper" in note for note in getattr(info.value, "__notes__", ["reshaper"]))
    conv = layers.Conv2D(4, 3)
    conv(np.ones((1, 5, 5, 3), np.float32))
    with keras.GradientTape(), pytest.raises(ValueError, match=r"built for inputs of shape \(None, 5, 5, 3\)"):
        conv(np.ones((1, 5, 5, 2), np.float32))


def test_a_model_with_an_anonymous_lambda_saves_but_says_why_it_cannot_load(tmp_path):
    inputs = keras.Input(shape=(3,))
    model = keras.Model(inputs, layers.Lambda(lambda t: t * 2.0)(inputs))
    model.save(tmp_path / "m.npz")
    with pytest.raises(ValueError, match="anonymous lambda"):
        keras.models.load_model(tmp_path / "m.npz", custom_objects={"<lambda>": lambda t: t * 3.0})


def test_a_subclassed_models_private_layer_attributes_are_tracked_and_trained():
    """Keras tracks ``self._dense`` too: its weights are the model's and train (on the tape here)."""
    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self._hidden = layers.Dense(2)
            self.out = layers.Dense(1)

        def call(self, x):
            return self.out(ops.reshape(self._hidden(x), (x.shape[0], -1)))  # reads the batch size: on the tape

    net = Net()
    net.compile("sgd", "mse")
    x, y = np.ones((4, 3), np.float32), np.ones((4, 1), np.float32)
    net(x)
    before = net._hidden.get_weights()[0].copy()
    net.fit(x, y, verbose=0)
    assert [layer.name for layer in net.layers] == [net._hidden.name, net.out.name]
    assert len(net.trainable_weights) == 4 and not np.array_equal(net._hidden.get_weights()[0], before)
