"""Train the same model from the same weights in minicnn and in Keras 3, step by step, and compare.

    python benchmarks/keras_agreement.py --keras-python /path/to/venv/bin/python

Keras is a peer for this check only, never a dependency: give the Python of a separate
environment that has it (e.g. `python -m venv kenv && kenv/bin/pip install torch==2.13.0 keras`);
it runs with KERAS_BACKEND=torch in a child process. The model is the tutorial CNN without
dropout (so both runs are deterministic), on 256 MNIST digits, batch 32, no shuffling, 2 epochs.
The ``*_logits`` rows end in a linear layer and train with
``CategoricalCrossentropy(from_logits=True)`` in both frameworks; the others end in a softmax.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import header

from minicnn import Sequential, losses, optimizers
from minicnn.datasets import mnist
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.utils import set_random_seed

OPTIMIZERS = {  # name: (minicnn optimizer, Keras constructor expression[, True: train on logits])
    "adadelta": (lambda: optimizers.Adadelta(), "keras.optimizers.Adadelta(learning_rate=1.0, rho=0.95, epsilon=1e-7)"),
    "sgd": (lambda: optimizers.SGD(0.01), "keras.optimizers.SGD(0.01)"),
    "sgd_momentum": (lambda: optimizers.SGD(0.01, momentum=0.9), "keras.optimizers.SGD(0.01, momentum=0.9)"),
    "sgd_nesterov": (lambda: optimizers.SGD(0.01, momentum=0.9, nesterov=True),
                     "keras.optimizers.SGD(0.01, momentum=0.9, nesterov=True)"),
    "sgd_nesterov_lr0.05": (lambda: optimizers.SGD(0.05, momentum=0.9, nesterov=True),
                            "keras.optimizers.SGD(0.05, momentum=0.9, nesterov=True)"),
    "rmsprop": (lambda: optimizers.RMSprop(), "keras.optimizers.RMSprop()"),
    "adam": (lambda: optimizers.Adam(), "keras.optimizers.Adam()"),
    "adagrad": (lambda: optimizers.Adagrad(), "keras.optimizers.Adagrad()"),
    "adagrad_lr0.05": (lambda: optimizers.Adagrad(0.05), "keras.optimizers.Adagrad(0.05)"),
    "adamax": (lambda: optimizers.Adamax(), "keras.optimizers.Adamax()"),
    "nadam": (lambda: optimizers.Nadam(), "keras.optimizers.Nadam()"),
    "adamw": (lambda: optimizers.AdamW(), "keras.optimizers.AdamW()"),
    "adamw_wd0.5": (lambda: optimizers.AdamW(weight_decay=0.5), "keras.optimizers.AdamW(weight_decay=0.5)"),
    # The tutorial CNN's gradients here: per-array norms 0.1-1.1, together about 1.2, values up to 0.13.
    "sgd_momentum_clipnorm0.2": (lambda: optimizers.SGD(0.01, momentum=0.9, clipnorm=0.2),
                                 "keras.optimizers.SGD(0.01, momentum=0.9, clipnorm=0.2)"),
    "sgd_momentum_global_clipnorm0.5": (lambda: optimizers.SGD(0.01, momentum=0.9, global_clipnorm=0.5),
                                        "keras.optimizers.SGD(0.01, momentum=0.9, global_clipnorm=0.5)"),
    "rmsprop_clipvalue0.01": (lambda: optimizers.RMSprop(clipvalue=0.01), "keras.optimizers.RMSprop(clipvalue=0.01)"),
    "sgd_momentum_weight_decay0.5": (lambda: optimizers.SGD(0.01, momentum=0.9, weight_decay=0.5),
                                     "keras.optimizers.SGD(0.01, momentum=0.9, weight_decay=0.5)"),
    "sgd_logits": (lambda: optimizers.SGD(0.01), "keras.optimizers.SGD(0.01)", True),
    "adam_logits": (lambda: optimizers.Adam(), "keras.optimizers.Adam()", True),
}

KERAS_SIDE = """
import sys, numpy as np, keras
from keras import layers
d = np.load(sys.argv[1])
m = keras.Sequential([keras.Input((28, 28, 1)), layers.Conv2D(32, 3, activation="relu"),
    layers.Conv2D(32, 3, activation="relu"), layers.MaxPooling2D(), layers.Flatten(),
    layers.Dense(128, activation="relu"), layers.Dense(10, activation=sys.argv[4])])
m.set_weights([d[f"w{i}"] for i in range(int(d["n"]))])
m.compile(optimizer=eval(sys.argv[3]), loss=keras.losses.CategoricalCrossentropy(from_logits=sys.argv[4] == "linear"))
h = m.fit(d["x"], d["y"], batch_size=32, epochs=2, shuffle=False, verbose=0)
np.savez(sys.argv[2], loss=np.array(h.history["loss"]), **{f"w{i}": w for i, w in enumerate(m.get_weights())})
"""


def model(last="softmax"):
    return Sequential([Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)), Conv2D(32, 3, activation="relu"),
                       MaxPooling2D(), Flatten(), Dense(128, activation="relu"), Dense(10, activation=last)])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--optimizers", nargs="+", choices=sorted(OPTIMIZERS), default=list(OPTIMIZERS))
    args = p.parse_args()
    print(header(args))
    (x, y), _ = mnist.load_sample()
    x = x[:256].reshape(-1, 28, 28, 1).astype(np.float32) / 255
    y = np.eye(10, dtype=np.float32)[y[:256]]
    set_random_seed(args.seed)
    print("| optimizer | max abs weight difference / max abs weight (worst array) | epoch losses minicnn | Keras |")
    print("| --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.optimizers:
            ours, theirs, *logits = OPTIMIZERS[name]
            last = "linear" if logits else "softmax"
            m = model(last)
            w0 = m.get_weights()
            init, out = os.path.join(tmp, "init.npz"), os.path.join(tmp, "out.npz")
            np.savez(init, x=x, y=y, n=len(w0), **{f"w{i}": w for i, w in enumerate(w0)})
            subprocess.run([args.keras_python, "-c", KERAS_SIDE, init, out, theirs, last], check=True,
                           env={**os.environ, "KERAS_BACKEND": "torch"})
            m.compile(optimizer=ours(), loss=losses.CategoricalCrossentropy(from_logits=bool(logits)))
            h = m.fit(x, y, batch_size=32, epochs=2, shuffle=False, verbose=0)
            k = np.load(out)
            diff = max(float(np.abs(a - k[f"w{i}"]).max() / np.abs(k[f"w{i}"]).max())
                       for i, a in enumerate(m.get_weights()))
            ours_loss = ", ".join(f"{v:.7f}" for v in h.history["loss"])
            keras_loss = ", ".join(f"{v:.7f}" for v in k["loss"])
            print(f"| {name} | {diff:.1e} | {ours_loss} | {keras_loss} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
