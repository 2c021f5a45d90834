"""The activations and layers of issue 17 in minicnn and in Keras 3, on the same inputs and weights.

    python benchmarks/keras_layers_agreement.py --keras-python /path/to/venv/bin/python

Each case is one constructor call, spelled the same for both (so the spelling is checked too),
evaluated with minicnn.layers here and with keras.layers in a child process (KERAS_BACKEND=torch).
Both get the same input x and weights; the table gives the largest absolute difference of the
outputs and of the input gradients of sum(y * R) for a random R (Keras's by torch autograd),
in float32 and in float64, and the largest |y| for scale. Keras is never a dependency: give the
Python of a separate environment that has it (e.g. torch==2.13.0 and keras).
"""
import functools
import json

import numpy as np

from common import agreement_runs, keras_side

from minicnn import layers

IMAGES, IMAGES_CF, FLAT = (3, 7, 8, 4), (3, 4, 7, 8), (4, 40)
CASES = [  # (constructor call, input shape, input scale)
    *[(f'Activation("{name}")', FLAT, 3.0) for name in
      ("elu", "selu", "softplus", "softsign", "swish", "silu", "gelu", "hard_sigmoid", "leaky_relu")],
    ('Activation("exponential")', FLAT, 1.0),
    ('Dense(6, activation="gelu")', FLAT, 1.0),
    ("GlobalAveragePooling2D()", IMAGES, 1.0),
    ('GlobalAveragePooling2D(keepdims=True, data_format="channels_first")', IMAGES_CF, 1.0),
    ("GlobalMaxPooling2D()", IMAGES, 1.0),
    ('GlobalMaxPooling2D(keepdims=True, data_format="channels_first")', IMAGES_CF, 1.0),
    ("ZeroPadding2D(2)", IMAGES, 1.0),
    ("ZeroPadding2D(((1, 0), (2, 3)))", IMAGES, 1.0),
    ('ZeroPadding2D((1, 2), data_format="channels_first")', IMAGES_CF, 1.0),
    ("Reshape((-1, 4))", IMAGES, 1.0),
    ("Reshape((8, 4, 7))", IMAGES, 1.0),
    ("Softmax()", IMAGES, 3.0),
    ("Softmax(axis=1)", IMAGES, 3.0),
    ("Softmax(axis=(1, 2))", IMAGES, 3.0),
    ("ReLU()", FLAT, 3.0),
    ("ReLU(max_value=6.0)", FLAT, 5.0),
    ("ReLU(max_value=1.0, negative_slope=0.1, threshold=0.5)", FLAT, 3.0),
    ("LeakyReLU()", FLAT, 3.0),
    ("LeakyReLU(negative_slope=0.05)", FLAT, 3.0),
    ("Conv2D(5, 3, dilation_rate=2)", IMAGES, 1.0),
    ('Conv2D(5, (3, 2), dilation_rate=(2, 3), padding="same", activation="gelu")', IMAGES, 1.0),
    ('Conv2D(5, 2, dilation_rate=3, padding="same")', IMAGES, 1.0),
    ('Conv2D(5, 3, dilation_rate=(1, 2), padding="same", data_format="channels_first")', IMAGES_CF, 1.0),
]

KERAS_SIDE = """
import json, sys, warnings, numpy as np, torch, keras
from keras import layers
warnings.simplefilter("ignore")
d = np.load(sys.argv[1])
cases, dtype = json.loads(str(d["cases"])), str(d["dtype"])
keras.config.set_floatx(dtype)
out = {"versions": np.array(f"keras {keras.__version__}, torch {torch.__version__}")}
for i, call in enumerate(cases):
    layer = eval("layers." + call)
    x = torch.tensor(d[f"x{i}"], requires_grad=True)
    layer(x)  # builds
    n = int(d[f"n{i}"])
    if n:
        layer.set_weights([d[f"w{i}_{j}"] for j in range(n)])
    y = layer(x)
    (y * torch.tensor(d[f"r{i}"])).sum().backward()
    out[f"y{i}"], out[f"dx{i}"] = y.detach().numpy(), x.grad.numpy()
np.savez(sys.argv[2], **out)
"""


def minicnn_side(dtype, seed):
    """Inputs, weights and R for every case, and minicnn's output and input gradient."""
    namespace = {name: functools.partial(getattr(layers, name), dtype=dtype) for name in layers.__all__}
    rng = np.random.default_rng(seed)
    inputs, results = {"cases": np.array(json.dumps([c for c, _, _ in CASES])), "dtype": np.array(dtype)}, []
    for i, (call, shape, scale) in enumerate(CASES):
        layer = eval(call, namespace)
        layer.build(shape[1:])
        for name in layer.params:  # random weights, the bias included
            layer.params[name][...] = rng.standard_normal(layer.params[name].shape) * 0.5
        x = (rng.standard_normal(shape) * scale).astype(dtype)
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
        rows.append((float(np.abs(y - ky).max()), float(np.abs(dx - kdx).max()), float(np.abs(ky).max())))
    return rows, str(theirs["versions"])


def main():
    f32, f64 = agreement_runs(__doc__, run)
    print("| layer (the same call in both) | input | max abs diff y, float32 | dx, float32 "
          "| y, float64 | dx, float64 | max abs y |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (call, shape, _), (y32, dx32, scale), (y64, dx64, _) in zip(CASES, f32, f64):
        print(f"| `{call}` | {shape} | {y32:.1e} | {dx32:.1e} | {y64:.1e} | {dx64:.1e} | {scale:.2g} |")


if __name__ == "__main__":
    main()
