"""Keras files, both ways, live: minicnn writes, Keras 3 reads and writes back, minicnn reads again.

    python benchmarks/keras_files_agreement.py --keras-python /work/kenv/bin/python

For each model (the tutorial CNN, a BatchNormalization model, a residual graph with a shared
layer and a nested model, and a model of every layer kind minicnn and Keras share), minicnn
trains it a few steps, then saves ``m.keras``, ``m.h5`` and ``m.weights.h5``. In a child process
Keras 3 (KERAS_BACKEND=torch) loads each with ``keras.models.load_model`` / ``load_weights``,
predicts, takes one more training step where the model is deterministic (no dropout or random
layers), and saves the model back as ``.keras`` and ``.h5``. minicnn then loads Keras's files and
predicts. The table gives the largest absolute differences (float32):

    keras(.keras), keras(.h5), keras(.weights.h5)   Keras's predictions on minicnn's files
    step                                             after one more step in each (optimizer state carried;
                                                     nan for .h5: Keras 3.15 on torch cannot train a model
                                                     loaded from a legacy .h5, Keras's own files included)
    back(.keras), back(.h5)                          minicnn on the files Keras wrote back (nan for .h5
                                                     where Keras 3.15 cannot write one: a RandomContrast
                                                     layer loaded from any .keras file, Keras's own too)
Keras is never a dependency of minicnn: give the Python of a separate environment that has it.
"""
import argparse
import os
import sys
import tempfile

import numpy as np

from common import header, keras_side

import minicnn as keras  # noqa: E402
from minicnn import layers as L  # noqa: E402


def tutorial_cnn():
    return keras.Sequential([keras.Input((28, 28, 1)), L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(),
                             L.Conv2D(8, 3, activation="relu"), L.MaxPooling2D(), L.Dropout(0.25), L.Flatten(),
                             L.Dense(32, activation="relu"), L.Dropout(0.5), L.Dense(10, activation="softmax")])


def bn_model():
    return keras.Sequential([keras.Input((12, 12, 3)), L.Conv2D(6, 3, use_bias=False), L.BatchNormalization(),
                             L.ReLU(), L.MaxPooling2D(), L.Flatten(), L.Dense(10, activation="softmax")])


def residual():
    inner_in = keras.Input((12, 12, 6))
    inner = keras.Model(inner_in, L.Conv2D(6, 1, activation="relu")(inner_in), name="inner")
    x = keras.Input((12, 12, 3), name="image")
    a = L.Conv2D(6, 3, padding="same", activation="relu")(x)
    shared = L.Conv2D(6, 3, padding="same")
    b = shared(L.BatchNormalization()(shared(a)))
    s = L.Add()([a, b, inner(a)])
    y = L.Concatenate()([L.Activation("relu")(s), a])
    return keras.Model(x, L.Dense(10, activation="softmax")(L.GlobalAveragePooling2D()(y)), name="residual")


def every_layer():
    """Every layer kind minicnn shares with Keras (random layers are the identity at inference)."""
    x = keras.Input((12, 12, 3))
    h = L.Rescaling(0.5, offset=0.1)(x)
    h = L.RandomFlip()(h)
    h = L.RandomRotation(0.1)(h)
    h = L.RandomTranslation(0.1, 0.1)(h)
    h = L.RandomZoom(0.1)(h)
    h = L.RandomContrast(0.1)(h)
    h = L.GaussianNoise(0.1)(h)
    h = L.Conv2D(4, 3, padding="same", kernel_regularizer="l2", kernel_initializer="he_normal")(h)
    h = L.LeakyReLU(0.2)(h)
    d = L.DepthwiseConv2D(3, padding="same", depth_multiplier=2)(h)
    s = L.SeparableConv2D(8, 3, padding="same", activation="relu")(h)
    m = [L.Add()([d, s]), L.Subtract()([d, s]), L.Multiply()([d, s]), L.Average()([d, s]), L.Maximum()([d, s]),
         L.Minimum()([d, s])]
    h = L.Concatenate()(m)
    h = L.LayerNormalization()(h)
    h = L.GroupNormalization(groups=4)(h)
    h = L.SpatialDropout2D(0.1)(h)
    h = L.AveragePooling2D()(L.ZeroPadding2D(1)(h))
    h = L.Conv2DTranspose(4, 3, strides=2)(L.Cropping2D(1)(h))
    h = L.UpSampling2D()(L.GaussianDropout(0.1)(h))
    h = L.GlobalMaxPooling2D()(L.Activation("tanh")(h))
    h = L.Reshape((4, 1))(h)
    h = L.Softmax(axis=1)(L.Flatten()(h))
    return keras.Model(x, L.Dense(10, activation="softmax")(h), name="every_layer")


MODELS = {"tutorial_cnn": (tutorial_cnn, (28, 28, 1), False), "batchnorm": (bn_model, (12, 12, 3), True),
          "residual": (residual, (12, 12, 3), True), "every_layer": (every_layer, (12, 12, 3), False)}

KERAS_SCRIPT = r'''
import os, sys, warnings
import numpy as np
import keras
warnings.filterwarnings("ignore")
folder, names = sys.argv[3], sys.argv[4].split(",")
data = np.load(sys.argv[1])
out = {}
for name in names:
    x, y = data[name + "_x"], data[name + "_y"]
    path = os.path.join(folder, name)
    m = keras.models.load_model(path + ".keras")
    out[name + "_keras"] = m.predict(x, verbose=0)
    h = keras.models.load_model(path + ".h5")
    out[name + "_h5"] = h.predict(x, verbose=0)
    w = keras.models.load_model(path + ".keras", compile=False)
    for v in w.weights:
        v.assign(np.zeros(v.shape, dtype=v.dtype))
    w.load_weights(path + ".weights.h5")
    out[name + "_weights"] = w.predict(x, verbose=0)
    out[name + "_iterations"] = np.array([int(m.optimizer.iterations), int(h.optimizer.iterations)])
    m.train_on_batch(x, y)
    out[name + "_step_keras"] = m.predict(x, verbose=0)
    try:  # Keras 3.15 on torch cannot train a model whose optimizer state came from a legacy .h5,
        h.train_on_batch(x, y)  # its own files included ("can only be called for the variables it
        out[name + "_step_h5"] = h.predict(x, verbose=0)  # was originally built with")
    except ValueError:
        out[name + "_step_h5"] = np.full_like(out[name + "_step_keras"], np.nan)
    m.save(path + ".back.keras")
    try:
        m.save(path + ".back.h5")
    except TypeError:  # Keras 3.15 cannot write a RandomContrast loaded from any .keras file to .h5
        os.remove(path + ".back.h5")  # (deepcopy of its config fails; its own files too): a partial file
np.savez(sys.argv[2], **out, version=np.array(keras.__version__))
'''


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(header(args))
    rng = np.random.default_rng(args.seed)
    keras.utils.set_random_seed(args.seed)
    arrays, models = {}, {}
    with tempfile.TemporaryDirectory() as folder:
        for name, (make, shape, _) in MODELS.items():
            x = rng.random((16, *shape), dtype=np.float32)
            y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 16)]
            model = make()
            model.compile(keras.optimizers.Adam(1e-2), "categorical_crossentropy", metrics=["accuracy"])
            model.fit(x, y, batch_size=8, epochs=2, verbose=0)
            path = os.path.join(folder, name)
            model.save(path + ".keras")
            model.save(path + ".h5")
            model.save_weights(path + ".weights.h5")
            arrays[name + "_x"], arrays[name + "_y"] = x, y
            models[name] = model
        sizes = {n: os.path.getsize(os.path.join(folder, n + ".keras")) for n in MODELS}
        res = keras_side(args.keras_python, KERAS_SCRIPT, arrays, folder, ",".join(MODELS))
        print(f"keras {res['version']}")
        cols = ["keras(.keras)", "keras(.h5)", "keras(.weights.h5)", "step(.keras)", "step(.h5)", "back(.keras)",
                "back(.h5)", "iterations", ".keras bytes"]
        print(f"{'model':14s}" + "".join(f"{c:>20s}" for c in cols))
        for name, model in models.items():
            x, y = arrays[name + "_x"], arrays[name + "_y"]
            ours = model.predict(x, verbose=0)
            row = [np.abs(res[name + k] - ours).max() for k in ("_keras", "_h5", "_weights")]
            if MODELS[name][2]:
                steps = []
                for suffix in (".keras", ".h5"):
                    again = keras.models.load_model(os.path.join(folder, name + suffix))
                    again.train_on_batch(x, y)
                    steps.append(np.abs(again.predict(x, verbose=0) - res[f"{name}_step_{suffix[1:]}"]).max())
                row += steps
            else:
                row += [float("nan")] * 2  # dropout and random layers draw differently in training
            for suffix in (".back.keras", ".back.h5"):
                if not os.path.exists(os.path.join(folder, name + suffix)):
                    row.append(float("nan"))
                    continue
                back = keras.models.load_model(os.path.join(folder, name + suffix))
                row.append(np.abs(back.predict(x, verbose=0) - res[name + "_step_keras"]).max())
            its = res[name + "_iterations"]
            its = f"{its[0]}/{its[1]} (ours {model.optimizer.iterations})"
            cells = [f"{v:20.2e}" for v in row] + [f"{its:>20s}",
                                                   f"{sizes[name]:20d}"]
            print(f"{name:14s}" + "".join(cells))


if __name__ == "__main__":
    sys.exit(main())
