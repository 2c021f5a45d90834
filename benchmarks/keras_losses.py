"""Every loss (value and gradient) and metric of minicnn against Keras 3 on the same float32 inputs.

    python benchmarks/keras_losses.py --keras-python /path/to/venv/bin/python

Keras runs with KERAS_BACKEND=torch in a child process (a peer for this check only, never a
dependency); its gradients are torch's autograd of the loss. Inputs: 64 samples of 10 outputs,
and (8, 4, 10) outputs for the reduction over rows beyond the batch; "huge" rows scale the logits
by 1000.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

import numpy as np

from common import header

from minicnn import losses, metrics

LOSSES = {  # name: (minicnn loss, Keras loss expression, inputs)
    "categorical_crossentropy": (losses.CategoricalCrossentropy, "L.CategoricalCrossentropy()", "probabilities"),
    "categorical_crossentropy (8, 4, 10)": (losses.CategoricalCrossentropy, "L.CategoricalCrossentropy()", "rows"),
    "categorical_crossentropy from_logits": (lambda: losses.CategoricalCrossentropy(from_logits=True),
                                             "L.CategoricalCrossentropy(from_logits=True)", "logits"),
    "... huge logits": (lambda: losses.CategoricalCrossentropy(from_logits=True),
                        "L.CategoricalCrossentropy(from_logits=True)", "huge"),
    "sparse_categorical_crossentropy from_logits": (lambda: losses.SparseCategoricalCrossentropy(from_logits=True),
                                                    "L.SparseCategoricalCrossentropy(from_logits=True)", "sparse"),
    "binary_crossentropy": (losses.BinaryCrossentropy, "L.BinaryCrossentropy()", "binary"),
    "binary_crossentropy from_logits": (lambda: losses.BinaryCrossentropy(from_logits=True),
                                        "L.BinaryCrossentropy(from_logits=True)", "binary_logits"),
    "... huge logits ": (lambda: losses.BinaryCrossentropy(from_logits=True),
                         "L.BinaryCrossentropy(from_logits=True)", "binary_huge"),
    "mean_squared_error": (losses.MeanSquaredError, "L.MeanSquaredError()", "regression"),
    "mean_absolute_error": (losses.MeanAbsoluteError, "L.MeanAbsoluteError()", "regression"),
    "mean_absolute_percentage_error": (losses.MeanAbsolutePercentageError, "L.MeanAbsolutePercentageError()",
                                       "regression"),
    "huber": (losses.Huber, "L.Huber()", "regression"),
    "huber delta=0.3": (lambda: losses.Huber(delta=0.3), "L.Huber(delta=0.3)", "regression"),
    "kl_divergence": (losses.KLDivergence, "L.KLDivergence()", "probabilities"),
}
METRICS = {  # name: (minicnn metric, Keras metric expression, inputs)
    "categorical_accuracy": (metrics.CategoricalAccuracy, "M.CategoricalAccuracy()", "ties"),
    "sparse_categorical_accuracy": (metrics.SparseCategoricalAccuracy, "M.SparseCategoricalAccuracy()", "sparse_ties"),
    "top_k_categorical_accuracy": (metrics.TopKCategoricalAccuracy, "M.TopKCategoricalAccuracy()", "ties"),
    "top_k_categorical_accuracy k=2": (lambda: metrics.TopKCategoricalAccuracy(k=2),
                                       "M.TopKCategoricalAccuracy(k=2)", "ties"),
    "sparse_top_k_categorical_accuracy k=3": (lambda: metrics.SparseTopKCategoricalAccuracy(k=3),
                                              "M.SparseTopKCategoricalAccuracy(k=3)", "sparse_ties"),
    "binary_accuracy": (metrics.BinaryAccuracy, "M.BinaryAccuracy()", "binary"),
    "binary_accuracy threshold=0.7": (lambda: metrics.BinaryAccuracy(threshold=0.7),
                                      "M.BinaryAccuracy(threshold=0.7)", "binary"),
    "mae": (metrics.MeanAbsoluteError, "M.MeanAbsoluteError()", "regression"),
    "mse": (metrics.MeanSquaredError, "M.MeanSquaredError()", "regression"),
}

KERAS_SIDE = """
import json, sys, numpy as np, torch, keras
L, M = keras.losses, keras.metrics
d, out = np.load(sys.argv[1]), {}
for name, (expr, kind, is_loss) in json.loads(sys.argv[3]).items():
    y, p = d[kind + "_y"], d[kind + "_p"]
    if is_loss:
        pt = torch.tensor(p, requires_grad=True)
        v = eval(expr)(torch.tensor(y), pt)
        v.backward()
        out[name + ":value"], out[name + ":grad"] = v.detach().numpy(), pt.grad.numpy()
    else:
        m = eval(expr)
        m.update_state(y[:40], p[:40])
        m.update_state(y[40:], p[40:])
        out[name + ":value"] = np.array(float(m.result()))
np.savez(sys.argv[2], **out)
"""


def inputs(seed=0):
    """(y, p) float32 pairs by kind, as the tables use them."""
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((64, 10)).astype(np.float32) * 3
    prob = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
    labels = rng.integers(0, 10, 64)
    onehot = np.eye(10, dtype=np.float32)[labels]
    soft = rng.dirichlet(np.ones(10), 64).astype(np.float32)
    rows = rng.dirichlet(np.ones(10), (8, 4)).astype(np.float32)
    bits = (rng.random((64, 10)) > 0.5).astype(np.float32)
    ties = np.round(prob, 1).astype(np.float32)  # many equal scores
    regression = rng.standard_normal((64, 10)).astype(np.float32) * 2
    rows_p = rng.dirichlet(np.ones(10), (8, 4)).astype(np.float32)
    return {"probabilities": (soft, prob.astype(np.float32)), "rows": (rows, rows_p),
            "logits": (onehot, z), "huge": (onehot, z * 1000), "sparse": (labels.astype(np.float32), z),
            "binary": (bits, 1 / (1 + np.exp(-z))), "binary_logits": (bits, z), "binary_huge": (bits, z * 1000),
            "regression": (regression, regression + rng.standard_normal((64, 10)).astype(np.float32)),
            "ties": (onehot, ties), "sparse_ties": (labels.astype(np.float32), ties)}


def ours(make, kind, data, is_loss):
    """minicnn's value (a loss, or a metric over two batches of 40 and 24) and loss gradient."""
    y, p = data[kind]
    if not is_loss:
        _, fn = metrics.get(make(), "mse")
        return (float(fn(y[:40], p[:40])) + float(fn(y[40:], p[40:]))) / 64, None
    loss = make()
    value, grad = loss.value_and_gradient(loss.prepare_targets(y, p.shape[-1], p.dtype), p)
    return float(value), grad


def relative(a, b):
    return float(np.abs(np.asarray(a, np.float64) - b).max() / max(np.abs(b).max(), 1e-30))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    args = p.parse_args()
    print(header(args))
    data = inputs()
    table = {**{k: (*v, True) for k, v in LOSSES.items()}, **{k: (*v, False) for k, v in METRICS.items()}}
    with tempfile.TemporaryDirectory() as tmp:
        given, got = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(given, **{f"{k}_{i}": a for k, (y, pr) in data.items() for i, a in (("y", y), ("p", pr))})
        spec = {name: (expr, kind, is_loss) for name, (_, expr, kind, is_loss) in table.items()}
        subprocess.run([args.keras_python, "-c", KERAS_SIDE, given, got, json.dumps(spec)], check=True,
                       env={**os.environ, "KERAS_BACKEND": "torch"})
        keras = dict(np.load(got))
    print("| loss or metric | minicnn | Keras 3 | value: relative difference | gradient: max difference / max |")
    print("| --- | --- | --- | --- | --- |")
    for name, (make, _, kind, is_loss) in table.items():
        value, grad = ours(make, kind, data, is_loss)
        theirs = float(keras[name + ":value"])
        gdiff = f"{relative(grad, keras[name + ':grad']):.1e}" if is_loss else "—"
        print(f"| {name} | {value:.7g} | {theirs:.7g} | {abs(value - theirs) / max(abs(theirs), 1e-30):.1e} | {gdiff} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
