"""Train a small regularized model from the same weights in minicnn and in Keras 3, and compare.

    python benchmarks/keras_regularizers.py --keras-python /path/to/venv/bin/python

Keras is a peer for this check only, never a dependency: give the Python of a separate
environment that has it (e.g. torch==2.13.0 and keras); it runs with KERAS_BACKEND=torch in a
child process. The model, spelled the same in both (the spelling is checked too): Conv2D(4, 3,
relu, kernel_regularizer=l2(0.01), bias_regularizer=l1(0.01)), MaxPooling2D, Flatten,
Dense(10, softmax, kernel_regularizer=l1_l2(l1=0.001, l2=0.01)), on 64 MNIST digits. Each row:
the losses ``train_on_batch`` returns for two batches of 32 (data loss plus penalties, as Keras
reports them), then ``evaluate`` on the 64 digits, the same evaluate with the regularizers left out
(the weights copied into a plain model: the difference is the penalty evaluate adds), the
penalties computed by NumPy in float64 from the final weights, and the largest weight difference
relative to the largest weight.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import header

from minicnn import Sequential, optimizers
from minicnn.datasets import mnist
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.regularizers import l1, l1_l2, l2
from minicnn.utils import set_random_seed

REGULARIZED = ('[Conv2D(4, 3, activation="relu", kernel_regularizer=l2(0.01), bias_regularizer=l1(0.01)), '
               'MaxPooling2D(), Flatten(), Dense(10, activation="softmax", '
               'kernel_regularizer=l1_l2(l1=0.001, l2=0.01))]')
PLAIN = '[Conv2D(4, 3, activation="relu"), MaxPooling2D(), Flatten(), Dense(10, activation="softmax")]'
OPTIMIZERS = {"sgd_lr0.1": ("optimizers.SGD(0.1)", "keras.optimizers.SGD(0.1)"),
              "adam": ("optimizers.Adam()", "keras.optimizers.Adam()")}

KERAS_SIDE = """
import sys, numpy as np, keras
from keras.layers import Conv2D, Dense, Flatten, MaxPooling2D
from keras.regularizers import l1, l1_l2, l2
d = np.load(sys.argv[1])
def build(layers):
    m = keras.Sequential([keras.Input((28, 28, 1)), *eval(layers)])
    m.set_weights([d[f"w{i}"] for i in range(int(d["n"]))])
    return m
m = build(sys.argv[3])
m.compile(optimizer=eval(sys.argv[5]), loss="categorical_crossentropy")
steps = [float(m.train_on_batch(d["x"][i:i + 32], d["y"][i:i + 32])) for i in (0, 32)]
ev = m.evaluate(d["x"], d["y"], verbose=0)
plain = build(sys.argv[4])
plain.set_weights(m.get_weights())
plain.compile(optimizer="sgd", loss="categorical_crossentropy")
np.savez(sys.argv[2], steps=steps, ev=ev, plain=plain.evaluate(d["x"], d["y"], verbose=0),
         **{f"w{i}": w for i, w in enumerate(m.get_weights())})
"""


def penalty(weights):
    """The model's penalties in float64: weights are kernel, bias (conv), kernel, bias (dense)."""
    k1, b1, k2, _ = (w.astype(np.float64) for w in weights)
    return 0.01 * (k1 ** 2).sum() + 0.01 * np.abs(b1).sum() + 0.001 * np.abs(k2).sum() + 0.01 * (k2 ** 2).sum()


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(header(args))
    (x, y), _ = mnist.load_sample()
    x = x[:64].reshape(-1, 28, 28, 1).astype(np.float32) / 255
    y = np.eye(10, dtype=np.float32)[y[:64]]
    print("| optimizer | framework | train_on_batch losses | evaluate | evaluate without regularizers | "
          "difference | penalties (float64) | max abs weight diff / max abs weight |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        for name, (ours, theirs) in OPTIMIZERS.items():
            set_random_seed(args.seed)
            m = Sequential(eval(REGULARIZED))
            m.build((None, 28, 28, 1))
            w0 = m.get_weights()
            init, out = os.path.join(tmp, "init.npz"), os.path.join(tmp, "out.npz")
            np.savez(init, x=x, y=y, n=len(w0), **{f"w{i}": w for i, w in enumerate(w0)})
            subprocess.run([args.keras_python, "-c", KERAS_SIDE, init, out, REGULARIZED, PLAIN, theirs], check=True,
                           env={**os.environ, "KERAS_BACKEND": "torch"})
            k = np.load(out)
            m.compile(optimizer=eval(ours), loss="categorical_crossentropy")
            steps = [float(m.train_on_batch(x[i:i + 32], y[i:i + 32])) for i in (0, 32)]
            plain = Sequential(eval(PLAIN))
            plain.build((None, 28, 28, 1))
            plain.set_weights(m.get_weights())
            plain.compile(optimizer="sgd", loss="categorical_crossentropy")
            rows = [("minicnn", steps, m.evaluate(x, y, verbose=0), plain.evaluate(x, y, verbose=0), m.get_weights()),
                    ("Keras 3", list(k["steps"]), float(k["ev"]), float(k["plain"]),
                     [k[f"w{i}"] for i in range(len(w0))])]
            diff = max(float(np.abs(a - b).max() / np.abs(b).max()) for a, b in zip(rows[0][4], rows[1][4]))
            for who, st, ev, pl, ws in rows:
                print(f"| {name} | {who} | {', '.join(f'{v:.7f}' for v in st)} | {ev:.7f} | {pl:.7f} | "
                      f"{ev - pl:.7f} | {penalty(ws):.7f} | {diff:.1e} |")
            sys.stdout.flush()


if __name__ == "__main__":
    main()
