"""ImageDataGenerator's transforms and normalisation, minicnn against Keras 2's code, case by case.

    python benchmarks/augment_agreement.py --keras-python /path/to/venv/bin/python

Keras is a peer for this check only, never a dependency: give the Python of a separate
environment with keras, torch and scipy (Keras 3 carries Keras 2's ImageDataGenerator as
``keras.src.legacy.preprocessing.image``, which calls scipy.ndimage; tf.keras 2.x works too).
Both sides get the same images and the same transform parameters; Keras transforms one image at
a time with scipy, minicnn the whole batch at once. Printed: the largest difference per fill
mode and interpolation order (images 0-255), for square images (every transform) and non-square
ones (shifts and flips only: Keras 2 centres rotations and zooms of non-square images at a point
with x and y swapped, which minicnn does not copy), then featurewise/samplewise/ZCA
standardization, and where each generator's width_shift_range moves the content.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import header

from minicnn.preprocessing.affine import FILL_MODES
from minicnn.preprocessing.image import ImageDataGenerator

KEYS = ("theta", "tx", "ty", "shear", "zx", "zy", "flip_horizontal", "flip_vertical")

KERAS_SIDE = """
import sys, numpy as np, scipy
try:
    from keras.src.legacy.preprocessing.image import ImageDataGenerator
except ImportError:
    from keras.preprocessing.image import ImageDataGenerator
import keras
print(f"peer: keras {keras.__version__} ({keras.backend.backend()} backend), scipy {scipy.__version__}")
d = np.load(sys.argv[1])
keys, modes, out = d["keys"].tolist(), d["modes"].tolist(), {}
for i in range(int(d["n"])):
    x, p, (mode, order, cval) = d[f"x{i}"], d[f"p{i}"], d[f"m{i}"]
    g = ImageDataGenerator(fill_mode=modes[int(mode)], interpolation_order=int(order), cval=float(cval))
    out[f"y{i}"] = np.stack([g.apply_transform(img, dict(zip(keys, map(float, q)))) for img, q in zip(x, p)])
s = d["s"]
g = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255)
g.fit(s)
out["feature"] = np.stack([g.standardize(img.copy()) for img in s])
g = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True, rescale=1 / 255)
out["sample"] = np.stack([g.standardize(img.copy()) for img in s])
g = ImageDataGenerator(zca_whitening=True)
g.fit(s[:, :8, :8])
out["zca"] = np.stack([g.standardize(img.copy()) for img in s[:, :8, :8]])
dot = np.zeros((1, 15, 15, 1), np.float32)
dot[0, 7, 7, 0] = 1
g = ImageDataGenerator(width_shift_range=[4])
np.random.seed(0)
out["moved"] = np.array([np.argwhere(g.random_transform(dot[0])[..., 0] == 1)[0] - 7 for _ in range(20)])
np.savez(sys.argv[2], **out)
"""


def cases(rng):
    """(images, params, (mode, order, cval), square) per case: every fill mode and order."""
    for H, W, square in ((28, 28, True), (9, 9, True), (12, 20, False)):
        for mode in range(len(FILL_MODES)):
            for order in (0, 1):
                x = rng.uniform(0, 255, (8, H, W, 2)).astype(np.float32)
                n = len(x)
                p = np.stack([rng.uniform(-45, 45, n), rng.uniform(-6, 6, n), rng.uniform(-6, 6, n),
                              rng.uniform(-30, 30, n), rng.uniform(0.7, 1.3, n), rng.uniform(0.7, 1.3, n),
                              rng.random(n) < 0.5, rng.random(n) < 0.5], axis=1)
                if not square:
                    p[:, [0, 3]], p[:, [4, 5]] = 0, 1
                p[0, :6] = [0, 3, -2, 0, 1, 1]  # one whole-pixel shift per case
                yield x, p, np.array([mode, order, -7.0]), square


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keras-python", required=True, help="a Python with keras, torch and scipy installed")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(header(args))
    rng = np.random.default_rng(args.seed)
    all_cases = list(cases(rng))
    samples = rng.integers(0, 256, (64, 10, 10, 3)).astype(np.float32)
    data = {"n": len(all_cases), "keys": np.array(KEYS), "modes": np.array(FILL_MODES), "s": samples}
    for i, (x, p, m, _) in enumerate(all_cases):
        data.update({f"x{i}": x, f"p{i}": p, f"m{i}": m})
    with tempfile.TemporaryDirectory() as tmp:
        inputs, outputs = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(inputs, **data)
        subprocess.run([args.keras_python, "-c", KERAS_SIDE, inputs, outputs], check=True,
                       env={**os.environ, "KERAS_BACKEND": os.environ.get("KERAS_BACKEND", "torch")})
        theirs = dict(np.load(outputs))

    print("\n| images | fill_mode | order | max abs difference (0-255) |\n| --- | --- | --- | --- |")
    for i, (x, p, (mode, order, cval), square) in enumerate(all_cases):
        g = ImageDataGenerator(fill_mode=FILL_MODES[int(mode)], interpolation_order=int(order), cval=cval)
        ours = g.apply_transform(x, {k: p[:, j] for j, k in enumerate(KEYS)})
        kind = f"{x.shape[1]}x{x.shape[2]}" + ("" if square else " (shifts, flips)")
        print(f"| {kind} | {FILL_MODES[int(mode)]} | {int(order)} | {np.abs(ours - theirs[f'y{i}']).max():.2g} |")

    g = ImageDataGenerator(featurewise_center=True, featurewise_std_normalization=True, rescale=1 / 255)
    g.fit(samples)
    sample = ImageDataGenerator(samplewise_center=True, samplewise_std_normalization=True, rescale=1 / 255)
    zca = ImageDataGenerator(zca_whitening=True)
    zca.fit(samples[:, :8, :8])
    for name, ours in (("featurewise", g.standardize(samples.copy())),
                       ("samplewise", sample.standardize(samples.copy())),
                       ("zca", zca.standardize(samples[:, :8, :8].copy()))):
        key = {"featurewise": "feature", "samplewise": "sample"}.get(name, name)
        print(f"standardize {name}: max abs difference {np.abs(ours - theirs[key]).max():.2g}")
    dot = np.zeros((15, 15, 1), np.float32)
    dot[7, 7, 0] = 1
    ours = ImageDataGenerator(width_shift_range=[4])
    moved = [tuple((np.argwhere(ours.random_transform(dot)[..., 0] == 1)[0] - 7).tolist()) for _ in range(20)]
    print(f"width_shift_range=[4] moves a pixel by (rows, cols): Keras {sorted(set(map(tuple, theirs['moved'].tolist())))}, "
          f"minicnn {sorted(set(moved))}")


if __name__ == "__main__":
    sys.exit(main())
