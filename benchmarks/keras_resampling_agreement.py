"""Issue 22's resampling, cropping, noise and activation layers in minicnn and in Keras 3.

    python benchmarks/keras_resampling_agreement.py --keras-python /path/to/venv/bin/python

Two tables. The first: each deterministic case is one constructor call, spelled the same for both
(so the spelling is checked too), evaluated with minicnn.layers here and with keras.layers in a
child process (KERAS_BACKEND=torch) on the same input x; it gives the largest absolute difference
of the outputs and of the input gradients of sum(y * R) for a random R (Keras's by torch
autograd), in float32 and in float64. The random layers are in it at inference (training=False),
where both must be the identity. The second: the random layers in training, whose draws cannot
match, compared by the statistics of their noise on a large batch, with the value the definition
gives. Keras is never a dependency: give the Python of a separate environment that has it.
"""
import argparse
import functools
import json

import numpy as np

from common import header, keras_side

from minicnn import layers
from minicnn.utils import set_random_seed

IMAGES, IMAGES_CF, FLAT = (3, 7, 8, 4), (3, 4, 7, 8), (4, 40)
CASES = [  # (constructor call, input shape, input scale)
    ("UpSampling2D()", IMAGES, 1.0),
    ("UpSampling2D((3, 2))", IMAGES, 1.0),
    ('UpSampling2D(interpolation="bilinear")', IMAGES, 1.0),
    ('UpSampling2D((3, 2), interpolation="bilinear")', IMAGES, 1.0),
    ('UpSampling2D((1, 4), interpolation="bilinear")', IMAGES, 1.0),
    ('UpSampling2D((2, 3), data_format="channels_first")', IMAGES_CF, 1.0),
    ('UpSampling2D((3, 3), interpolation="bilinear", data_format="channels_first")', IMAGES_CF, 1.0),
    ("Cropping2D(2)", IMAGES, 1.0),
    ("Cropping2D((1, 3))", IMAGES, 1.0),
    ("Cropping2D(((1, 0), (2, 3)))", IMAGES, 1.0),
    ('Cropping2D(((0, 2), (1, 1)), data_format="channels_first")', IMAGES_CF, 1.0),
    ('Activation("relu6")', FLAT, 5.0),
    ('Activation("mish")', FLAT, 3.0),
    ('Dense(6, activation="mish")', FLAT, 1.0),
    ('Conv2D(5, 3, activation="relu6")', IMAGES, 4.0),
    ("ReLU(6.0)", FLAT, 5.0),  # MobileNet's spelling: max_value given positionally
    ("SpatialDropout2D(0.3)", IMAGES, 1.0),
    ('SpatialDropout2D(0.3, data_format="channels_first")', IMAGES_CF, 1.0),
    ("GaussianNoise(0.5)", FLAT, 1.0),
    ("GaussianDropout(0.3)", FLAT, 1.0),
]

# The random layers in training: (call, input shape); statistics of their draws on x = 2 everywhere.
RANDOM = [("SpatialDropout2D(0.3)", (500, 4, 4, 20)),
          ('SpatialDropout2D(0.3, data_format="channels_first")', (500, 20, 4, 4)),
          ("GaussianNoise(0.5)", (200, 500)), ("GaussianDropout(0.3)", (200, 500))]

KERAS_SIDE = """
import json, sys, warnings, numpy as np, torch, keras
from keras import layers
warnings.simplefilter("ignore")
d = np.load(sys.argv[1])
cases, dtype = json.loads(str(d["cases"])), str(d["dtype"])
keras.config.set_floatx(dtype)
keras.utils.set_random_seed(0)
out = {"versions": np.array(f"keras {keras.__version__}, torch {torch.__version__}")}
for i, call in enumerate(cases):
    layer = eval("layers." + call)
    x = torch.tensor(d[f"x{i}"], requires_grad=True)
    layer(x)  # builds
    n = int(d[f"n{i}"])
    if n:
        layer.set_weights([d[f"w{i}_{j}"] for j in range(n)])
    y = layer(x, training=bool(d[f"t{i}"]))
    (y * torch.tensor(d[f"r{i}"])).sum().backward()
    out[f"y{i}"], out[f"dx{i}"] = y.detach().numpy(), x.grad.numpy()
np.savez(sys.argv[2], **out)
"""


def namespace(dtype):
    return {name: functools.partial(getattr(layers, name), dtype=dtype) for name in layers.__all__}


def minicnn_case(layer, x, r, training):
    y, cache = layer.forward(x, training=training)
    dx, _ = layer.backward(r, cache)
    return y, dx


def inputs_and_ours(dtype, seed):
    """Inputs, weights, R and training flag of every case (deterministic ones, then the random
    ones in training), and minicnn's outputs and input gradients."""
    rng = np.random.default_rng(seed)
    calls = [c for c, _, _ in CASES] + [c for c, _ in RANDOM]
    inputs, results = {"cases": np.array(json.dumps(calls)), "dtype": np.array(dtype)}, []
    set_random_seed(seed)
    for i, (call, shape, scale) in enumerate(CASES + [(c, s, None) for c, s in RANDOM]):
        layer = eval(call, namespace(dtype))
        layer.build(shape[1:])
        for name in layer.params:
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape) * 0.5
        training = scale is None
        x = np.full(shape, 2.0, dtype) if training else (rng.standard_normal(shape) * scale).astype(dtype)
        r = rng.standard_normal((shape[0], *layer.output_shape)).astype(dtype)
        y, dx = minicnn_case(layer, x, r, training)
        weights = layer.get_weights()
        inputs.update({f"x{i}": x, f"r{i}": r, f"t{i}": np.array(training), f"n{i}": np.array(len(weights)),
                       **{f"w{i}_{j}": w for j, w in enumerate(weights)}})
        results.append((y, dx))
    return inputs, results


def statistics(call, x, r, y, dx):
    """What the definition fixes about one training draw: for the dropouts, the fraction dropped
    and the kept scale (SpatialDropout2D: whether whole maps go); for the Gaussian ones, the mean
    and standard deviation of the noise; and whether dx is R times the draw."""
    if call.startswith("SpatialDropout2D"):
        cf = "channels_first" in call
        maps = (y != 0) if cf else np.moveaxis(y != 0, -1, 1)
        maps = maps.reshape(*maps.shape[:2], -1)
        whole = bool((maps.all(axis=2) | ~maps.any(axis=2)).all())
        kept = y[y != 0] / x[y != 0]
        stats = {"dropped": 1 - maps.all(axis=2).mean(), "kept scale": kept.mean(), "whole maps": whole}
        draw = y / x
    elif call.startswith("GaussianNoise"):
        n = (y - x).astype(np.float64)
        stats = {"noise mean": n.mean(), "noise std": n.std()}
        draw = np.ones_like(x)
    else:
        m = (y / x).astype(np.float64)
        stats = {"multiplier mean": m.mean(), "multiplier std": m.std()}
        draw = y / x
    stats["max |dx - R*draw|"] = float(np.abs(dx - r * draw).max())
    return stats


EXPECTED = {"dropped": 0.3, "kept scale": 1 / 0.7, "whole maps": True, "noise mean": 0.0, "noise std": 0.5,
            "multiplier mean": 1.0, "multiplier std": (0.3 / 0.7) ** 0.5, "max |dx - R*draw|": 0.0}


def run(keras_python, dtype, seed):
    inputs, ours = inputs_and_ours(dtype, seed)
    theirs = keras_side(keras_python, KERAS_SIDE, inputs)
    rows, stats = [], []
    for i, (y, dx) in enumerate(ours):
        ky, kdx = theirs[f"y{i}"], theirs[f"dx{i}"]
        assert ky.shape == y.shape and kdx.shape == dx.shape, (i, ky.shape, y.shape)
        if i < len(CASES):
            rows.append((float(np.abs(y - ky).max()), float(np.abs(dx - kdx).max()), float(np.abs(ky).max())))
        else:
            x, r = inputs[f"x{i}"], inputs[f"r{i}"]
            call = RANDOM[i - len(CASES)][0]
            stats.append((statistics(call, x, r, y, dx), statistics(call, x, r, ky, kdx)))
    return rows, stats, str(theirs["versions"])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(header(args))
    f32, stats, versions = run(args.keras_python, "float32", args.seed)
    f64, _, _ = run(args.keras_python, "float64", args.seed)
    print(f"Keras side: {versions}, KERAS_BACKEND=torch\n")
    print("| layer (the same call in both; the random ones at inference) | input | max abs diff y, float32 "
          "| dx, float32 | y, float64 | dx, float64 | max abs y |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (call, shape, _), (y32, dx32, scale), (y64, dx64, _) in zip(CASES, f32, f64):
        print(f"| `{call}` | {shape} | {y32:.1e} | {dx32:.1e} | {y64:.1e} | {dx64:.1e} | {scale:.2g} |")
    print("\nThe random layers in training (float32, x = 2 everywhere; dx of sum(y * R)):\n")
    print("| layer | input | statistic | minicnn | Keras 3 | by definition |")
    print("| --- | --- | --- | --- | --- | --- |")
    for (call, shape), (ours, theirs) in zip(RANDOM, stats):
        for name in ours:
            fmt = (lambda v: str(v)) if isinstance(ours[name], bool) else (lambda v: f"{v:.4f}")
            print(f"| `{call}` | {shape} | {name} | {fmt(ours[name])} | {fmt(theirs[name])} | "
                  f"{fmt(EXPECTED[name])} |")


if __name__ == "__main__":
    main()
