"""Write the Keras 3 files that tests/test_keras_files.py reads (run with Keras 3, not minicnn):

    KERAS_BACKEND=torch python tests/data/keras_files/make_files.py

Small models (8x8 inputs, a few filters) keep every file a few KB. Each model is trained a few
steps so its optimizer state and BatchNormalization statistics are not the initial ones; then
one more training step on a fixed batch records what Keras computes next, so a test can check
that minicnn continues training from the restored state exactly as Keras does.

Outputs (beside this script): cnn.keras, bn.h5, residual.keras, residual.weights.h5,
lambda.keras, expected.npz (inputs, predictions, weights after one more step); and, from
custom_files(): custom.keras and custom.h5 (a registered layer of one's own holding sublayers,
compiled with a loss function of one's own), subclassed.weights.h5 (a subclassed keras.Model),
antirectifier.keras (keras.io's Antirectifier, an initializer in its config) and custom_expected.npz. tests/test_keras_files.py defines the same classes with minicnn.
"""
import os

os.environ.setdefault("KERAS_BACKEND", "torch")
import keras  # noqa: E402
import numpy as np  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
L = keras.layers


def cnn():
    """The tutorial CNN (Conv2D, MaxPooling2D, Dropout, Flatten, Dense), small."""
    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, activation="relu"), L.MaxPooling2D(),
                             L.Dropout(0.25), L.Flatten(), L.Dense(8, activation="relu"), L.Dropout(0.5),
                             L.Dense(3, activation="softmax")], name="cnn")


def bn():
    return keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, use_bias=False, kernel_regularizer="l2"),
                             L.BatchNormalization(), L.ReLU(), L.GlobalAveragePooling2D(),
                             L.Dense(3, activation="softmax")], name="bn")


def residual():
    """A residual graph: a shared layer, a nested model, Add and Concatenate merges."""
    inner_in = keras.Input((8, 8, 4))
    inner = keras.Model(inner_in, L.Conv2D(4, 1, activation="relu")(inner_in), name="inner")
    x = keras.Input((8, 8, 1), name="image")
    a = L.Conv2D(4, 3, padding="same", activation="relu")(x)
    shared = L.Conv2D(4, 3, padding="same")
    b = shared(a)
    c = shared(L.Activation("relu")(b))
    s = L.Add()([a, c, inner(a)])
    y = L.Concatenate()([L.BatchNormalization()(s), a])
    y = L.Dense(3, activation="softmax")(L.GlobalAveragePooling2D()(y))
    return keras.Model(x, y, name="residual")


@keras.saving.register_keras_serializable(package="minicnn_tests")
class ResBlock(L.Layer):
    """A layer of one's own with sublayers as attributes and weights of its own (a non-trainable one
    made first, so the file shows that Keras writes the trainable ones first)."""

    def __init__(self, filters, **kwargs):
        super().__init__(**kwargs)
        self.filters = filters
        self.conv = L.Conv2D(filters, 3, padding="same", use_bias=False)
        self.bn = L.BatchNormalization()

    def build(self, input_shape):
        self.shift = self.add_weight(shape=(self.filters,), initializer=keras.initializers.Constant(0.1),
                                     trainable=False, name="shift")
        self.gain = self.add_weight(shape=(self.filters,), initializer="ones", name="gain")

    def call(self, x, training=None):
        h = self.bn(self.conv(x), training=training)
        return keras.ops.relu(h * self.gain + self.shift + x)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters}


def squared_error(y_true, y_pred):
    """A loss function of one's own (saved by name)."""
    return keras.ops.mean(keras.ops.square(y_true - y_pred), axis=-1)


class MLPBlock(L.Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.linear_1 = L.Dense(8)
        self.linear_2 = L.Dense(4)

    def call(self, x):
        return self.linear_2(keras.ops.relu(self.linear_1(x)))


class Subclassed(keras.Model):
    """Weights at block/linear_1, extra/dense, and (its attribute sorts after "layers") layers/dense_1."""

    def __init__(self):
        super().__init__()
        self.block = MLPBlock()
        self.extra = [L.Dense(4, activation="relu")]
        self.out = L.Dense(3)

    def call(self, x):
        return self.out(self.extra[0](self.block(x)))


class Antirectifier(L.Layer):
    """keras.io's example layer: its initializer is saved as Keras's object (``HeNormal`` with a seed)."""

    def __init__(self, initializer="he_normal", **kwargs):
        super().__init__(**kwargs)
        self.initializer = keras.initializers.get(initializer)

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1] * 2, input_shape[-1]), initializer=self.initializer,
                                      name="kernel")

    def call(self, x):
        x = x - keras.ops.mean(x, axis=-1, keepdims=True)
        return keras.ops.matmul(keras.ops.concatenate([keras.ops.relu(x), keras.ops.relu(-x)], axis=-1), self.kernel)

    def get_config(self):
        return {**super().get_config(), "initializer": keras.initializers.serialize(self.initializer)}


def custom_files():
    rng = np.random.default_rng(1)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    keras.utils.set_random_seed(1)
    out = {"x": x, "y": y}
    model = keras.Sequential([keras.Input((8, 8, 1)), L.Conv2D(4, 3, padding="same"), ResBlock(4),
                              L.GlobalAveragePooling2D(), L.Dense(3, activation="softmax")], name="custom")
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss=squared_error, metrics=["accuracy"])
    model.fit(x, y, batch_size=8, epochs=2, verbose=0)
    model.save(os.path.join(HERE, "custom.keras"))
    model.save(os.path.join(HERE, "custom.h5"))
    out["custom_predict"] = model.predict(x, verbose=0)
    out["custom_evaluate"] = np.array(model.evaluate(x, y, verbose=0))
    flat = x.reshape(16, -1)
    sub = Subclassed()
    sub.compile(optimizer=keras.optimizers.Adam(1e-2), loss="categorical_crossentropy")
    sub.fit(flat, y, batch_size=8, epochs=2, verbose=0)
    sub.save_weights(os.path.join(HERE, "subclassed.weights.h5"))
    out["subclassed_predict"] = sub.predict(flat, verbose=0)
    anti = keras.Sequential([keras.Input((6,)), L.Dense(4), Antirectifier(), L.Dense(3)], name="anti")
    anti.save(os.path.join(HERE, "antirectifier.keras"))
    out["antirectifier_predict"] = anti.predict(flat[:, :6], verbose=0)
    np.savez_compressed(os.path.join(HERE, "custom_expected.npz"), **out, keras_version=np.array(keras.__version__))


def main():
    rng = np.random.default_rng(0)
    x = rng.random((16, 8, 8, 1), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 16)]
    keras.utils.set_random_seed(0)
    out = {"x": x, "y": y}
    for name, make, opt, file in [("cnn", cnn, keras.optimizers.Adam(1e-2), "cnn.keras"),
                                  ("bn", bn, keras.optimizers.Adam(1e-2), "bn.h5"),
                                  ("residual", residual, keras.optimizers.SGD(0.1, momentum=0.9), "residual.keras")]:
        model = make()
        model.compile(optimizer=opt, loss="categorical_crossentropy", metrics=["accuracy"])
        model.fit(x, y, batch_size=8, epochs=2, verbose=0)
        model.save(os.path.join(HERE, file))
        if name == "residual":
            model.save_weights(os.path.join(HERE, "residual.weights.h5"))
        out[f"{name}_predict"] = model.predict(x, verbose=0)
        if name != "cnn":  # the CNN's dropout draws differ between frameworks; the others are deterministic
            model.train_on_batch(x, y)
            out[f"{name}_after_step"] = model.predict(x, verbose=0)
    inputs = keras.Input((4,))
    lam = keras.Model(inputs, L.Lambda(lambda t: t * 2.0)(inputs))
    lam.save(os.path.join(HERE, "lambda.keras"))
    np.savez_compressed(os.path.join(HERE, "expected.npz"), **out, keras_version=np.array(keras.__version__))
    custom_files()
    for f in sorted(os.listdir(HERE)):
        print(f, os.path.getsize(os.path.join(HERE, f)))


if __name__ == "__main__":
    main()
