"""Conv2DTranspose, DepthwiseConv2D and SeparableConv2D in minicnn and in Keras 3, on the same inputs and weights.

    python benchmarks/keras_conv_agreement.py --keras-python /path/to/venv/bin/python

As benchmarks/keras_layers_agreement.py (whose Keras side this runs): each case is one constructor
call, spelled the same for both, evaluated with minicnn.layers here and with keras.layers in a child
process (KERAS_BACKEND=torch), with the same input x and weights (random, the bias included). The
table gives the largest absolute difference of the outputs and of the input gradients of sum(y * R)
for a random R (Keras's by torch autograd), in float32 and in float64, and the largest |y| for scale.
"""
import functools
import json

import numpy as np

from common import agreement_runs, keras_side
from keras_layers_agreement import KERAS_SIDE

from minicnn import layers

IMAGES, IMAGES_CF = (3, 7, 8, 4), (3, 4, 7, 8)
CASES = [  # (constructor call, input shape)
    ("Conv2DTranspose(5, 3)", IMAGES),
    ('Conv2DTranspose(5, 3, strides=2, padding="same")', IMAGES),
    ('Conv2DTranspose(5, 4, strides=2, padding="same")', IMAGES),
    ('Conv2DTranspose(5, 4, strides=2, padding="same", output_padding=1)', IMAGES),
    ('Conv2DTranspose(5, (3, 2), strides=(2, 3), output_padding=(1, 2))', IMAGES),
    ("Conv2DTranspose(5, 1, strides=3)", IMAGES),
    ('Conv2DTranspose(5, (3, 2), dilation_rate=(2, 3), padding="same", activation="relu")', IMAGES),
    ('Conv2DTranspose(4, 3, strides=2, padding="same", data_format="channels_first")', IMAGES_CF),
    ("DepthwiseConv2D(3)", IMAGES),
    ('DepthwiseConv2D(3, strides=2, padding="same", depth_multiplier=2)', IMAGES),
    ('DepthwiseConv2D((3, 2), dilation_rate=(2, 1), padding="same", depth_multiplier=3, activation="relu")', IMAGES),
    ('DepthwiseConv2D(3, depth_multiplier=2, data_format="channels_first")', IMAGES_CF),
    ("SeparableConv2D(6, 3)", IMAGES),
    ('SeparableConv2D(6, 3, strides=2, padding="same", depth_multiplier=2, activation="relu")', IMAGES),
    ('SeparableConv2D(6, 2, dilation_rate=2, padding="same")', IMAGES),
    ('SeparableConv2D(6, 3, padding="same", data_format="channels_first")', IMAGES_CF),
]


def minicnn_side(dtype, seed):
    """Inputs, weights and R for every case, and minicnn's output and input gradient."""
    namespace = {name: functools.partial(getattr(layers, name), dtype=dtype) for name in layers.__all__}
    rng = np.random.default_rng(seed)
    inputs, results = {"cases": np.array(json.dumps([c for c, _ in CASES])), "dtype": np.array(dtype)}, []
    for i, (call, shape) in enumerate(CASES):
        layer = eval(call, namespace)
        layer.build(shape[1:])
        for name in layer.params:
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape) * 0.5
        x = rng.standard_normal(shape).astype(dtype)
        y, cache = layer.forward(x)
        r = rng.standard_normal(y.shape).astype(dtype)
        dx, _ = layer.backward(r, cache)
        weights = layer.get_weights()
        inputs.update({f"x{i}": x, f"r{i}": r, f"n{i}": np.array(len(weights)),
                       **{f"w{i}_{j}": w for j, w in enumerate(weights)}})
        results.append((y, dx))
    return inputs, results


def run(keras_python, dtype, seed):
    inputs, ours = minicnn_side(dtype, seed)
    theirs = keras_side(keras_python, KERAS_SIDE, inputs)
    rows = []
    for i, (y, dx) in enumerate(ours):
        ky, kdx = theirs[f"y{i}"], theirs[f"dx{i}"]
        assert ky.shape == y.shape and kdx.shape == dx.shape, (CASES[i][0], ky.shape, y.shape)
        rows.append((float(np.abs(y - ky).max()), float(np.abs(dx - kdx).max()), float(np.abs(ky).max()),
                     y.shape[1:]))
    return rows, str(theirs["versions"])


def main():
    f32, f64 = agreement_runs(__doc__, run)
    print("| layer (the same call in both) | input | output | max abs diff y, float32 | dx, float32 "
          "| y, float64 | dx, float64 | max abs y |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for (call, shape), (y32, dx32, scale, out), (y64, dx64, _, _) in zip(CASES, f32, f64):
        print(f"| `{call}` | {shape} | {out} | {y32:.1e} | {dx32:.1e} | {y64:.1e} | {dx64:.1e} | {scale:.2g} |")


if __name__ == "__main__":
    main()
