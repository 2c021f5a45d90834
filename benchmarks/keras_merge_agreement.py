"""The merge layers (Add, Subtract, Multiply, Average, Maximum, Minimum, Concatenate) in minicnn and
in Keras 3, on the same inputs.

    python benchmarks/keras_merge_agreement.py --keras-python /path/to/venv/bin/python

Each case is one constructor call, spelled the same for both, applied to a list of inputs with
minicnn.layers here and with keras.layers in a child process (KERAS_BACKEND=torch). The table gives
the largest absolute difference of the outputs and of every input's gradient of sum(y * R) for a
random R (Keras's by torch autograd), in float32 and in float64, and the largest |y| for scale.
Cases marked "ties" draw integers from {-1, 0, 1}, so maximum and minimum meet many ties and the
gradient checks the tie rule. Keras is never a dependency: give the Python of a separate
environment that has it (e.g. torch==2.13.0 and keras).
"""
import functools
import json

import numpy as np

from common import agreement_runs, keras_side

from minicnn import layers

SAME = [(4, 6, 3)] * 2
BROADCAST = [(4, 3), (4, 6, 3), (4, 6, 1)]  # per-sample ranks 1 and 2, size-1 axes
CASES = [  # (constructor call, batched input shapes, "ties" or "")
    ("Add()", SAME, ""),
    ("Add()", BROADCAST, ""),
    ("Subtract()", SAME, ""),
    ("Subtract()", [(4, 3), (4, 6, 1)], ""),
    ("Multiply()", [(4, 6, 3)] * 3, ""),
    ("Multiply()", BROADCAST, ""),
    ("Average()", [(4, 6, 3)] * 3, ""),
    ("Average()", BROADCAST, ""),
    ("Maximum()", [(4, 6, 3)] * 3, ""),
    ("Maximum()", [(4, 6, 3)] * 3, "ties"),
    ("Maximum()", BROADCAST, "ties"),
    ("Minimum()", [(4, 6, 3)] * 3, ""),
    ("Minimum()", [(4, 6, 3)] * 3, "ties"),
    ("Minimum()", BROADCAST, "ties"),
    ("Concatenate()", [(4, 6, 3), (4, 6, 2)], ""),
    ("Concatenate(axis=-1)", [(4, 5), (4, 2), (4, 1)], ""),
    ("Concatenate(axis=1)", [(4, 2, 3), (4, 6, 3)], ""),
    ("Concatenate(axis=2)", [(4, 6, 3, 2), (4, 6, 1, 2)], ""),
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
    xs = [torch.tensor(d[f"x{i}_{j}"], requires_grad=True) for j in range(int(d[f"n{i}"]))]
    y = layer(xs)
    (y * torch.tensor(d[f"r{i}"])).sum().backward()
    out[f"y{i}"] = y.detach().numpy()
    for j, x in enumerate(xs):
        out[f"dx{i}_{j}"] = x.grad.numpy()
np.savez(sys.argv[2], **out)
"""


def minicnn_side(dtype, seed):
    """Inputs and R for every case, and minicnn's output and input gradients."""
    namespace = {name: functools.partial(getattr(layers, name), dtype=dtype) for name in layers.__all__}
    rng = np.random.default_rng(seed)
    inputs, results = {"cases": np.array(json.dumps([c for c, _, _ in CASES])), "dtype": np.array(dtype)}, []
    for i, (call, shapes, ties) in enumerate(CASES):
        layer = eval(call, namespace)
        layer.build([s[1:] for s in shapes])
        xs = [(rng.integers(-1, 2, s) if ties else rng.standard_normal(s)).astype(dtype) for s in shapes]
        y, cache = layer.forward(xs)
        r = rng.standard_normal(y.shape).astype(dtype)
        dxs, _ = layer.backward(r, cache)
        inputs.update({f"r{i}": r, f"n{i}": np.array(len(xs)), **{f"x{i}_{j}": x for j, x in enumerate(xs)}})
        results.append((y, dxs))
    return inputs, results


def run(keras_python, dtype, seed):
    inputs, ours = minicnn_side(dtype, seed)
    theirs = keras_side(keras_python, KERAS_SIDE, inputs)
    rows = []
    for i, (y, dxs) in enumerate(ours):
        ky, kdxs = theirs[f"y{i}"], [theirs[f"dx{i}_{j}"] for j in range(len(dxs))]
        assert ky.shape == y.shape, (CASES[i][0], ky.shape, y.shape)
        assert [k.shape for k in kdxs] == [dx.shape for dx in dxs], (CASES[i][0], [k.shape for k in kdxs])
        # Differences in float64 (Keras may compute in another dtype: the mark says so).
        y64, ky64 = y.astype(np.float64), ky.astype(np.float64)
        rows.append((float(np.abs(y64 - ky64).max()),
                     max(float(np.abs(dx.astype(np.float64) - k).max()) for dx, k in zip(dxs, kdxs)),
                     float(np.abs(ky64).max()), "" if ky.dtype == y.dtype else f" ({ky.dtype} in Keras)"))
    return rows, str(theirs["versions"])


def main():
    f32, f64 = agreement_runs(__doc__, run)
    print("| layer (the same call in both) | inputs | max abs diff y, float32 | dx (all inputs), float32 "
          "| y, float64 | dx, float64 | max abs y |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (call, shapes, ties), (y32, dx32, scale, _), (y64, dx64, _, mark) in zip(CASES, f32, f64):
        given = ", ".join(str(s) for s in shapes) + (" (ties)" if ties else "")
        print(f"| `{call}` | {given} | {y32:.1e} | {dx32:.1e} | {y64:.1e}{mark} | {dx64:.1e} | {scale:.2g} |")
    if any(row[3] for row in f32 + f64):
        print("(float32 in Keras): Keras's own output dtype for float64 inputs; keras.backend.result_type maps "
              "64-bit dtypes to 32-bit, as JAX does by default, and minicnn keeps float64.")


if __name__ == "__main__":
    main()
