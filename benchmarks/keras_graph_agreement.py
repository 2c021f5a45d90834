"""Functional-API graphs in minicnn and in Keras 3, from the same weights: predictions, three
training steps and the weights they leave.

    python benchmarks/keras_graph_agreement.py --keras-python /path/to/venv/bin/python

Each graph is written once (GRAPHS below) against the names the two frameworks share
(``keras.Input``, ``keras.Model``, ``layers.Conv2D``...) and built in both: here with
``import minicnn as keras``, in a child process with Keras 3 (KERAS_BACKEND=torch). Every layer is
named, so minicnn's initial weights are copied into Keras layer by layer (into the layers of a
nested model too). Then, on one fixed batch: predictions; three ``train_on_batch`` steps, each
returning the loss (and with several outputs, each output's loss and the metrics) before its
update; the final weights (BatchNormalization's moving statistics included); predictions and
``evaluate(return_dict=True)`` after training. The table gives the largest absolute differences,
in float32. ``--plain`` runs minicnn on its plain steps instead of the tuned CPU ones;
``--graphs residual nested`` runs only those. Keras is never a dependency: give the Python of a
separate environment that has it (e.g. torch==2.13.0 and keras).
"""
import argparse
import json
import sys

import numpy as np

from common import header, keras_side

GRAPHS = '''
def residual(keras, layers):
    """conv-BN-relu, conv-BN, add, relu, global average pooling, dense softmax."""
    inp = keras.Input((6, 6, 3), name="image")
    x = layers.Conv2D(4, 3, padding="same", name="conv_a")(inp)
    x = layers.BatchNormalization(name="bn_a")(x)
    x = layers.Activation("relu", name="relu_a")(x)
    y = layers.Conv2D(4, 3, padding="same", name="conv_b")(x)
    y = layers.BatchNormalization(name="bn_b")(y)
    z = layers.Add(name="add")([x, y])
    z = layers.Activation("relu", name="relu_out")(z)
    z = layers.GlobalAveragePooling2D(name="gap")(z)
    return keras.Model(inp, layers.Dense(3, activation="softmax", name="probs")(z), name="residual")


def inception(keras, layers):
    """Four branches from one input (1x1; 1x1 then 3x3; 3x3 max pool then 1x1; 5x5), concatenated."""
    inp = keras.Input((6, 6, 3), name="image")
    b1 = layers.Conv2D(2, 1, activation="relu", name="b1_1x1")(inp)
    b2 = layers.Conv2D(2, 1, activation="relu", name="b2_1x1")(inp)
    b2 = layers.Conv2D(3, 3, padding="same", activation="relu", name="b2_3x3")(b2)
    b3 = layers.MaxPooling2D(3, strides=1, padding="same", name="b3_pool")(inp)
    b3 = layers.Conv2D(2, 1, activation="relu", name="b3_1x1")(b3)
    b4 = layers.Conv2D(1, 5, padding="same", activation="relu", name="b4_5x5")(inp)
    x = layers.Concatenate(name="concat")([b1, b2, b3, b4])
    x = layers.Flatten(name="flatten")(x)
    return keras.Model(inp, layers.Dense(3, activation="softmax", name="probs")(x), name="inception")


def two_inputs(keras, layers):
    """An image through a convolution and a vector through a dense layer, concatenated."""
    img = keras.Input((6, 6, 1), name="image")
    vec = keras.Input((5,), name="vector")
    x = layers.Conv2D(2, 3, activation="relu", name="conv")(img)
    x = layers.MaxPooling2D(name="pool")(x)
    x = layers.Flatten(name="flatten")(x)
    v = layers.Dense(4, activation="relu", name="vec_dense")(vec)
    x = layers.Concatenate(name="concat")([x, v])
    return keras.Model([img, vec], layers.Dense(3, activation="softmax", name="probs")(x), name="two_inputs")


def two_outputs(keras, layers):
    """A shared trunk, a softmax classification head "cls" and a linear regression head "reg"."""
    inp = keras.Input((6, 6, 1), name="image")
    x = layers.Conv2D(3, 3, activation="relu", name="conv")(inp)
    x = layers.Flatten(name="flatten")(x)
    h = layers.Dense(8, activation="relu", name="trunk")(x)
    cls = layers.Dense(3, activation="softmax", name="cls")(h)
    reg = layers.Dense(2, name="reg")(h)
    return keras.Model(inp, [cls, reg], name="two_outputs")


def siamese_conv(keras, layers):
    """One Conv2D and one Dense applied to two images; the squared difference of the codes."""
    left = keras.Input((6, 6, 1), name="left")
    right = keras.Input((6, 6, 1), name="right")
    conv = layers.Conv2D(3, 3, activation="relu", name="shared_conv")
    gap = layers.GlobalAveragePooling2D(name="shared_gap")
    code = layers.Dense(4, name="shared_code")
    a, b = code(gap(conv(left))), code(gap(conv(right)))
    d = layers.Subtract(name="diff")([a, b])
    d2 = layers.Multiply(name="squared")([d, d])
    return keras.Model([left, right], layers.Dense(1, activation="sigmoid", name="same")(d2), name="siamese_conv")


def shared_dense_concat(keras, layers):
    """One Dense applied to two vectors, the codes concatenated (the first code also skips ahead)."""
    u = keras.Input((5,), name="u")
    v = keras.Input((5,), name="v")
    shared = layers.Dense(4, activation="relu", name="shared")
    su, sv = shared(u), shared(v)
    x = layers.Concatenate(name="concat")([su, sv])
    x = layers.Dense(4, activation="relu", name="mix")(x)
    x = layers.Add(name="skip")([x, su])
    return keras.Model([u, v], layers.Dense(3, activation="softmax", name="probs")(x), name="shared_dense_concat")


def _encoder(keras, layers):
    inp = keras.Input((6, 6, 1), name="enc_in")
    x = layers.Conv2D(3, 3, name="enc_conv")(inp)
    x = layers.BatchNormalization(name="enc_bn")(x)
    x = layers.Activation("relu", name="enc_relu")(x)
    x = layers.Flatten(name="enc_flatten")(x)
    return keras.Model(inp, layers.Dense(4, activation="relu", name="enc_dense")(x), name="encoder")


def nested(keras, layers):
    """An encoder Model called inside an outer Model, then a dense softmax."""
    encoder = _encoder(keras, layers)
    inp = keras.Input((6, 6, 1), name="image")
    return keras.Model(inp, layers.Dense(3, activation="softmax", name="probs")(encoder(inp)), name="nested")


def nested_shared(keras, layers):
    """The encoder Model called on two inputs (two nodes of one nested model), codes concatenated."""
    encoder = _encoder(keras, layers)
    left = keras.Input((6, 6, 1), name="left")
    right = keras.Input((6, 6, 1), name="right")
    x = layers.Concatenate(name="concat")([encoder(left), encoder(right)])
    return keras.Model([left, right], layers.Dense(3, activation="softmax", name="probs")(x), name="nested_shared")
'''

CCE = "categorical_crossentropy"
CASES = [  # (graph, compile keyword arguments, the targets of each output: onehot, binary or normal)
    ("residual", {"loss": CCE, "metrics": ["accuracy"]}, ["onehot"]),
    ("inception", {"loss": CCE, "metrics": ["accuracy"]}, ["onehot"]),
    ("two_inputs", {"loss": CCE, "metrics": ["accuracy"]}, ["onehot"]),
    ("two_outputs", {"loss": {"cls": CCE, "reg": "mse"}, "loss_weights": {"cls": 1.0, "reg": 0.5},
                     "metrics": {"cls": ["accuracy"], "reg": ["mae"]}}, ["onehot", "normal"]),
    ("siamese_conv", {"loss": "binary_crossentropy", "metrics": ["accuracy"]}, ["binary"]),
    ("shared_dense_concat", {"loss": CCE}, ["onehot"]),
    ("nested", {"loss": CCE, "metrics": ["accuracy"]}, ["onehot"]),
    ("nested_shared", {"loss": CCE}, ["onehot"]),
]
OPTIMIZERS = ["SGD(0.1, momentum=0.9)", "Adam(0.01)"]
STEPS = 3
BATCH = 8

# The Keras side, run in the other interpreter: the same graphs, minicnn's weights, the same steps.
KERAS_SIDE = """
import json, sys, warnings, numpy as np, keras
from keras import layers
warnings.simplefilter("ignore")
exec(sys.argv[3])
d = np.load(sys.argv[1])
runs = json.loads(str(d["runs"]))

def named(model, prefix=""):
    found = {}
    for layer in model.layers:
        if isinstance(layer, keras.Model):
            found.update(named(layer, prefix + layer.name + "/"))
        else:
            found[prefix + layer.name] = layer
    return found

out = {"versions": np.array(f"keras {keras.__version__}, torch {__import__('torch').__version__}")}
for r, run in enumerate(runs):
    keras.utils.set_random_seed(0)
    model = globals()[run["graph"]](keras, layers)
    for name, layer in named(model).items():
        n = int(d[f"{r}/n/{name}"])
        if n:
            layer.set_weights([d[f"{r}/w/{name}/{i}"] for i in range(n)])
    xs = [d[f"{r}/x{i}"] for i in range(run["n_in"])]
    ys = [d[f"{r}/y{i}"] for i in range(run["n_out"])]
    x, y = (xs if len(xs) > 1 else xs[0]), (ys if len(ys) > 1 else ys[0])
    model.compile(optimizer=eval("keras.optimizers." + run["optimizer"]), **run["compile"])
    p = model.predict(x, verbose=0)
    for i, a in enumerate(p if isinstance(p, list) else [p]):
        out[f"{r}/p0_{i}"] = a
    for s in range(run["steps"]):
        out[f"{r}/step{s}"] = np.array(json.dumps(model.train_on_batch(x, y, return_dict=True)))
    for name, layer in named(model).items():
        for i, w in enumerate(layer.get_weights()):
            out[f"{r}/w/{name}/{i}"] = w
    p = model.predict(x, verbose=0)
    for i, a in enumerate(p if isinstance(p, list) else [p]):
        out[f"{r}/p1_{i}"] = a
    out[f"{r}/eval"] = np.array(json.dumps(model.evaluate(x, y, verbose=0, return_dict=True)))
    out[f"{r}/layers"] = np.array(json.dumps([l.name for l in model.layers]))
np.savez(sys.argv[2], **out)
"""


def named_layers(model, prefix=""):
    """Every layer that is not a model, by ``outer/inner`` name (a nested model's layers under its name)."""
    import minicnn
    found = {}
    for layer in model.layers:
        if isinstance(layer, minicnn.Model):
            found.update(named_layers(layer, prefix + layer.name + "/"))
        else:
            found[prefix + layer.name] = layer
    return found


def targets(kinds, shapes, rng):
    ys = []
    for kind, shape in zip(kinds, shapes):
        if kind == "onehot":
            ys.append(np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], BATCH)])
        elif kind == "binary":
            ys.append(rng.integers(0, 2, (BATCH, *shape)).astype(np.float32))
        else:
            ys.append(rng.standard_normal((BATCH, *shape)).astype(np.float32))
    return ys


def as_logs(model, result):
    """train_on_batch's return value as a dict keyed by the names of ``model.metrics_names``."""
    return dict(zip(model.metrics_names, result)) if isinstance(result, list) else {"loss": result}


def minicnn_side(seed):
    """Inputs and initial weights for every (graph, optimizer) run, and minicnn's results (or the error)."""
    import traceback
    import minicnn as keras
    from minicnn import layers, optimizers  # noqa: F401  (optimizers: named in the runs, evaluated)
    from minicnn.utils import set_random_seed
    graphs = {}
    exec(GRAPHS, graphs)
    rng = np.random.default_rng(seed)
    runs, arrays, results = [], {}, []
    for graph, compile_kwargs, kinds in CASES:
        for opt in OPTIMIZERS:
            r = len(runs)
            layers.clear_session()
            set_random_seed(seed)
            model = graphs[graph](keras, layers)
            xs = [rng.standard_normal((BATCH, *t.shape[1:])).astype(np.float32) for t in model.inputs]
            ys = targets(kinds, [t.shape[1:] for t in model.outputs], rng)
            runs.append({"graph": graph, "optimizer": opt, "compile": compile_kwargs, "steps": STEPS,
                         "n_in": len(xs), "n_out": len(ys)})
            arrays.update({f"{r}/x{i}": a for i, a in enumerate(xs)})
            arrays.update({f"{r}/y{i}": a for i, a in enumerate(ys)})
            for name, layer in named_layers(model).items():
                weights = layer.get_weights()
                arrays[f"{r}/n/{name}"] = np.array(len(weights))
                arrays.update({f"{r}/w/{name}/{i}": w for i, w in enumerate(weights)})
            x, y = (xs if len(xs) > 1 else xs[0]), (ys if len(ys) > 1 else ys[0])
            res = {"layers": [l.name for l in model.layers]}
            try:
                model.compile(optimizer=eval("optimizers." + opt), **compile_kwargs)
                res["p0"] = _as_list(model.predict(x))
                res["steps"] = [as_logs(model, model.train_on_batch(x, y)) for _ in range(STEPS)]
                res["weights"] = {f"{name}/{i}": w for name, layer in named_layers(model).items()
                                  for i, w in enumerate(layer.get_weights())}
                res["p1"] = _as_list(model.predict(x))
                res["eval"] = model.evaluate(x, y, verbose=0, return_dict=True)
            except Exception:  # a failing graph is a finding: report it and go on with the others
                res["error"] = traceback.format_exc()
            results.append(res)
    arrays["runs"] = np.array(json.dumps(runs))
    return runs, arrays, results


def _as_list(p):
    return list(p.values()) if isinstance(p, dict) else p if isinstance(p, list) else [p]


def max_diff(a, b):
    return max((float(np.abs(np.asarray(x, np.float64) - np.asarray(y, np.float64)).max()) for x, y in zip(a, b)),
               default=float("nan"))


def worst(diffs):
    """The largest of {name: difference} as a cell: the number, and the name when it is above 1e-5."""
    if not diffs:
        return "nan"
    name = max(diffs, key=diffs.get)
    return f"{diffs[name]:.1e}" + (f" ({name})" if diffs[name] > 1e-5 else "")


def log_diff(ours, theirs):
    """{log name: difference} over the names both have, and the names only one has."""
    return {k: abs(ours[k] - theirs[k]) for k in theirs if k in ours}, sorted(set(ours) ^ set(theirs))


def compare(run, r, ours, theirs):
    """One table row's cells, and notes for anything that differs beyond numbers."""
    notes = []
    klayers = json.loads(str(theirs[f"{r}/layers"]))
    if klayers != ours["layers"]:
        notes.append(f"model.layers differ: minicnn {ours['layers']}, Keras {klayers}")
    if "error" in ours:
        return None, notes + ["minicnn failed:\n" + ours["error"]]
    n_out = run["n_out"]
    p0 = max_diff(ours["p0"], [theirs[f"{r}/p0_{i}"] for i in range(n_out)])
    steps, odd_names = [], set()
    for s, logs in enumerate(ours["steps"]):
        diffs, odd = log_diff(logs, json.loads(str(theirs[f"{r}/step{s}"])))
        steps.append(worst(diffs))
        odd_names.update(odd)
    if odd_names:
        notes.append(f"train_on_batch log names only one side has: {sorted(odd_names)}")
    missing = [k for k in ours["weights"] if f"{r}/w/{k}" not in theirs]
    if missing:
        notes.append(f"weights Keras lacks: {missing}")
    w = worst({k: max_diff([a], [theirs[f"{r}/w/{k}"]]) for k, a in ours["weights"].items() if k not in missing})
    p1 = max_diff(ours["p1"], [theirs[f"{r}/p1_{i}"] for i in range(n_out)])
    diffs, odd = log_diff(ours["eval"], json.loads(str(theirs[f"{r}/eval"])))
    if odd:
        notes.append(f"evaluate log names only one side has: {odd}")
    losses = ", ".join(f"{logs['loss']:.5f}" for logs in ours["steps"])
    return (p0, steps, w, p1, worst(diffs), losses), notes


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--graphs", nargs="+", choices=[c[0] for c in CASES], help="only these graphs")
    p.add_argument("--plain", action="store_true", help="minicnn's plain steps (minicnn.set_fast_path(False))")
    args = p.parse_args()
    print(header(args))
    if args.plain:
        import minicnn
        minicnn.set_fast_path(False)
    if args.graphs:
        CASES[:] = [c for c in CASES if c[0] in args.graphs]
    runs, arrays, ours = minicnn_side(args.seed)
    theirs = keras_side(args.keras_python, KERAS_SIDE, arrays, GRAPHS)
    print(f"Keras side: {theirs['versions']}, KERAS_BACKEND=torch; float32, batch {BATCH}, {STEPS} train_on_batch "
          f"steps; minicnn on its {'plain' if args.plain else 'tuned CPU'} steps")
    print("| graph | optimizer | predictions | logs step 1 | step 2 | step 3 | final weights | predictions after "
          "| evaluate after | minicnn's losses |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    all_notes = []
    for r, run in enumerate(runs):
        cells, notes = compare(run, r, ours[r], theirs)
        if cells is None:
            print(f"| {run['graph']} | {run['optimizer']} | minicnn failed (below) | | | | | | | |")
        else:
            p0, steps, w, p1, ev, losses = cells
            print(f"| {run['graph']} | {run['optimizer']} | {p0:.1e} | " + " | ".join(steps) +
                  f" | {w} | {p1:.1e} | {ev} | {losses} |")
        all_notes += [f"{run['graph']}, {run['optimizer']}: {n}" for n in notes]
    print("Cells: the largest absolute difference, minicnn against Keras, over every output, every logged value "
          "(loss, each output's loss, metrics) or every weight array (`layer/index` in get_weights order), named "
          "when above 1e-5. A convolution's bias that feeds BatchNormalization has a zero gradient (the batch mean "
          "removes it): both frameworks see rounding noise (about 1e-8) there, which Adam scales up to steps of "
          "about its learning rate, so those biases differ after Adam without any error in either.")
    for note in dict.fromkeys(all_notes):
        print(note)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
