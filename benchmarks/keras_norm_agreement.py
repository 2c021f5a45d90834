"""LayerNormalization, GroupNormalization, Rescaling and the random preprocessing layers in minicnn
and in Keras 3, on the same inputs, weights and random draws.

    python benchmarks/keras_norm_agreement.py --keras-python /path/to/venv/bin/python

Each case is one constructor call, spelled the same for both (so the spelling is checked too),
evaluated with minicnn.layers here and with keras.layers in a child process (KERAS_BACKEND=torch).
Both get the same input x and weights; a random layer runs in training mode, and Keras gets the
parameters minicnn drew (flip coins, angles, shifts, zooms, contrast factors), handed to its own
``transform_images`` as the transformation its ``get_random_transformation`` would have drawn,
so the comparison covers Keras's matrices, interpolation and border rules. The table gives the
largest absolute difference of the outputs and of the input gradients of sum(y * R) for a random
R (Keras's by torch autograd), in float32 and float64, and the largest |y| for scale. Keras is
never a dependency: give the Python of a separate environment that has it (torch and keras).
"""
import functools
import json
import re

import numpy as np

from common import agreement_runs, keras_side

from minicnn import layers

IMAGES, IMAGES_CF, FLAT = (3, 7, 8, 4), (3, 4, 7, 8), (4, 40)
CASES = [  # (constructor call, input shape, input scale)
    ("LayerNormalization()", IMAGES, 3.0),
    ("LayerNormalization(axis=[1, 2, 3])", IMAGES, 3.0),
    ("LayerNormalization(axis=1, epsilon=1e-5)", IMAGES, 3.0),
    ("LayerNormalization(axis=[1, 3], center=False)", IMAGES, 3.0),
    ("LayerNormalization(epsilon=0.1, scale=False)", FLAT, 0.3),
    ("GroupNormalization(groups=2)", IMAGES, 3.0),
    ("GroupNormalization(groups=-1, epsilon=1e-5)", IMAGES, 3.0),
    ("GroupNormalization(groups=1, center=False)", IMAGES, 3.0),
    ("GroupNormalization(groups=2, axis=1)", IMAGES_CF, 3.0),
    ("GroupNormalization(groups=4, scale=False)", FLAT, 3.0),
    ("Rescaling(1 / 255)", IMAGES, 100.0),
    ("Rescaling(1 / 127.5, offset=-1)", IMAGES, 100.0),
    ("Rescaling([0.5, 1.0, 2.0, 4.0], offset=[0.0, 1.0, 0.0, -1.0])", IMAGES, 1.0),
    ('RandomFlip("horizontal")', IMAGES, 1.0),
    ("RandomFlip()", IMAGES, 1.0),
    ('RandomFlip("vertical", data_format="channels_first")', IMAGES_CF, 1.0),
    *[(f'RandomRotation(0.3, fill_mode="{m}")', IMAGES, 1.0) for m in ("reflect", "wrap", "constant", "nearest")],
    ('RandomRotation((-0.2, 0.4), fill_mode="constant", fill_value=0.5, interpolation="nearest")', IMAGES, 1.0),
    ('RandomRotation(0.5, data_format="channels_first")', IMAGES_CF, 1.0),
    ("RandomTranslation(0.3, (-0.2, 0.4))", IMAGES, 1.0),
    ('RandomTranslation(0.5, 0.5, fill_mode="wrap", interpolation="nearest")', IMAGES, 1.0),
    ("RandomZoom(0.4)", IMAGES, 1.0),
    ('RandomZoom((-0.5, 0.2), (0.1, 0.6), fill_mode="constant")', IMAGES, 1.0),
    ('RandomZoom(0.5, fill_mode="nearest", interpolation="nearest")', IMAGES, 1.0),
    ("RandomContrast(0.5)", IMAGES, 100.0),
    ("RandomContrast((0.2, 0.8), value_range=(-1, 1))", IMAGES, 1.0),
]

# The Keras side turns minicnn's draws (p0, p1) into the transformation each layer's
# get_random_transformation returns, and runs transform_images on it.
KERAS_SIDE = """
import json, sys, warnings, numpy as np, torch, keras
from keras import layers
warnings.simplefilter("ignore")
d = np.load(sys.argv[1])
cases, dtype = json.loads(str(d["cases"])), str(d["dtype"])
keras.config.set_floatx(dtype)
out = {"versions": np.array(f"keras {keras.__version__}, torch {torch.__version__}")}

def transformation(layer, x, p):
    t = lambda a, *shape: torch.tensor(a).reshape(*shape)
    cf = getattr(layer, "data_format", "channels_last") == "channels_first"
    N, H, W = x.shape[0], x.shape[2 if cf else 1], x.shape[3 if cf else 2]
    name = type(layer).__name__
    if name == "RandomFlip":
        return {"flips": t(p[0], N, 1, 1, 1), "input_shape": x.shape}
    if name == "RandomRotation":
        zero, one = torch.zeros(N, dtype=x.dtype), torch.ones(N, dtype=x.dtype)  # Keras draws in floatx
        matrix = layer._compute_affine_matrix(0.5, 0.5, t(p[0], N).to(x.dtype), zero, zero, one, zero, zero, H, W)
        return {"rotation_matrix": matrix, "image_height": H, "image_width": W, "batch_size": N}
    if name == "RandomTranslation":  # minicnn draws (down, right) in pixels
        return {"translations": torch.stack([t(p[1], N), t(p[0], N)], 1).float(), "input_shape": x.shape}
    if name == "RandomZoom":  # minicnn draws (height zoom, width zoom)
        return {"height_zoom": t(p[0], N, 1), "width_zoom": t(p[1], N, 1), "input_shape": x.shape}
    if name == "RandomContrast":
        return {"contrast_factor": t(p[0], N, 1, 1, 1).to(x.dtype)}
    return None

def run(i, call):
    layer = eval("layers." + call)
    x = torch.tensor(d[f"x{i}"], requires_grad=True)
    n, draws = int(d[f"n{i}"]), int(d[f"p{i}"])
    if draws:
        y = layer.transform_images(x, transformation(layer, x, [d[f"p{i}_{j}"] for j in range(draws)]),
                                   training=True)
    else:
        layer(x)  # builds
        if n:
            layer.set_weights([d[f"w{i}_{j}"] for j in range(n)])
        y = layer(x)
    (y * torch.tensor(d[f"r{i}"])).sum().backward()
    return y.detach().numpy(), x.grad.numpy()

for i, call in enumerate(cases):
    try:
        out[f"y{i}"], out[f"dx{i}"] = run(i, call)
    except Exception as e:  # reported in the table: Keras's torch backend refuses some calls
        out[f"error{i}"] = np.array(str(e))
np.savez(sys.argv[2], **out)
"""


def minicnn_side(dtype, seed):
    """Inputs, weights, draws and R for every case, and minicnn's output and input gradient."""
    namespace = {name: functools.partial(getattr(layers, name), dtype=dtype) for name in layers.__all__}
    rng = np.random.default_rng(seed)
    inputs, results = {"cases": np.array(json.dumps([c for c, _, _ in CASES])), "dtype": np.array(dtype)}, []
    for i, (call, shape, scale) in enumerate(CASES):
        layer = eval(call, namespace)
        layer.build(shape[1:])
        for name in layer.params:  # random weights
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape) * 0.5 + (name == "gamma")
        x = (rng.standard_normal(shape) * scale).astype(dtype)
        draws = ()
        if hasattr(layer, "_draw"):  # a random layer: its first draws from a seed, given to Keras too
            N, H, W = (shape[0], *shape[1:3]) if layer.data_format == "channels_last" else (shape[0], *shape[2:])
            draws = layer._draw(np.random.default_rng(seed + i), N, H, W)
            draws = draws if isinstance(draws, tuple) else (draws,)
            layer._rng = np.random.default_rng(seed + i)
        y, cache = layer.forward(x, training=True)
        r = rng.standard_normal(y.shape).astype(dtype)
        dx, _ = layer.backward(r, cache)
        weights = layer.get_weights()
        inputs.update({f"x{i}": x, f"r{i}": r, f"n{i}": np.array(len(weights)), f"p{i}": np.array(len(draws)),
                       **{f"w{i}_{j}": w for j, w in enumerate(weights)},
                       **{f"p{i}_{j}": np.asarray(p) for j, p in enumerate(draws)}})
        results.append((y, dx))
    return inputs, results


def run(keras_python, dtype, seed):
    inputs, ours = minicnn_side(dtype, seed)
    theirs = keras_side(keras_python, KERAS_SIDE, inputs)
    rows = []
    for i, (y, dx) in enumerate(ours):
        if f"error{i}" in theirs:  # the line that says why, without the terminal's colour codes
            lines = [re.sub(r"\x1b\[[0-9;]*m", "", line).strip() for line in str(theirs[f"error{i}"]).splitlines()]
            rows.append(next(line for line in lines if line and not line.startswith("Exception encountered")))
            continue
        ky, kdx = theirs[f"y{i}"], theirs[f"dx{i}"]
        assert ky.shape == y.shape and kdx.shape == dx.shape, (CASES[i][0], ky.shape, y.shape)
        rows.append((float(np.abs(y - ky).max()), float(np.abs(dx - kdx).max()), float(np.abs(ky).max())))
    return rows, str(theirs["versions"])


def main():
    f32, f64 = agreement_runs(__doc__, run)
    print("| layer (the same call in both) | input | max abs diff y, float32 | dx, float32 "
          "| y, float64 | dx, float64 | max abs y |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (call, shape, _), row32, row64 in zip(CASES, f32, f64):
        if isinstance(row32, str):
            print(f"| `{call}` | {shape} | Keras raised: {row32[:90]} | | | | |")
            continue
        (y32, dx32, scale), (y64, dx64, _) = row32, row64
        print(f"| `{call}` | {shape} | {y32:.1e} | {dx32:.1e} | {y64:.1e} | {dx64:.1e} | {scale:.2g} |")


if __name__ == "__main__":
    main()
