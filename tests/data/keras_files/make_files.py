"""Write the Keras 3 files that tests/test_keras_files.py reads (run with Keras 3, not minicnn):

    KERAS_BACKEND=torch python tests/data/keras_files/make_files.py

Small models (8x8 inputs, a few filters) keep every file a few KB. Each model is trained a few
steps so its optimizer state and BatchNormalization statistics are not the initial ones; then
one more training step on a fixed batch records what Keras computes next, so a test can check
that minicnn continues training from the restored state exactly as Keras does.

Outputs (beside this script): cnn.keras, bn.h5, residual.keras, residual.weights.h5,
lambda.keras, expected.npz (inputs, predictions, weights after one more step).
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
    for f in sorted(os.listdir(HERE)):
        print(f, os.path.getsize(os.path.join(HERE, f)))


if __name__ == "__main__":
    main()
