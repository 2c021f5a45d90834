"""Code a user writes (custom layers, a Lambda layer, losses written with keras.ops), trained in minicnn
and in Keras 3 from the same weights on the same batches, step by step.

    python benchmarks/keras_user_code_agreement.py --keras-python /path/to/venv/bin/python

The models and losses are one piece of source (``SOURCE``), run twice: here with ``keras`` bound to
``minicnn`` (``import minicnn as keras``), and in a child process (KERAS_BACKEND=torch) with the real
``keras``. The cases:

- ``custom_layers``: a small CNN with three layers of one's own: ``LayerScale`` (a per-channel
  weight from ``add_weight``, ConvNeXt's), ``Antirectifier`` (keras.io's example without its
  kernel: mean, concatenate, relu, sqrt, no weights) and ``MyDense`` (kernel and bias from
  ``add_weight``, ``ops.matmul``); built-in crossentropy;
- ``lambda_siamese``: Keras 2's ``mnist_siamese.py`` in small: a shared Dense pair on two inputs,
  the euclidean distance as a ``Lambda``, trained with its contrastive loss (a function of ops);
- ``focal_loss``: built-in layers (Conv2D, MaxPooling2D, Dense) trained with a categorical focal
  loss written as a function of ops.

minicnn builds each model; its initial weights are copied into Keras's (``set_weights``); both run
``train_on_batch`` on the same three batches (float32, batch 8) with SGD(0.1, momentum=0.9) and
with Adam(0.01). The table gives, before training and after each step, the largest absolute
difference of the predictions on a fourth batch, of the step's loss, and of every weight (the worst
array named). A second table compares the gradients of the loss on each batch at the initial
weights (minicnn's GradientTape against torch autograd of Keras's ``compute_loss``), which tells
the gradients themselves from what an optimizer makes of their rounding. Keras is never a
dependency: give the Python of a separate environment that has it.
"""
import argparse
import sys

import numpy as np

from common import header, keras_side

import minicnn

SOURCE = '''
EPSILON = 1e-7  # keras.backend.epsilon()


class LayerScale(keras.layers.Layer):
    """ConvNeXt's learned per-channel scale of a residual branch."""

    def __init__(self, init_value, **kwargs):
        super().__init__(**kwargs)
        self.init_value = init_value

    def build(self, input_shape):
        self.gamma = self.add_weight(name="gamma", shape=(input_shape[-1],),
                                     initializer=keras.initializers.Constant(self.init_value), trainable=True)

    def call(self, inputs):
        return inputs * self.gamma


class Antirectifier(keras.layers.Layer):
    """keras.io's Antirectifier without its kernel: the centred input's positive and negative parts,
    side by side, scaled to unit length."""

    def call(self, inputs):
        x = inputs - keras.ops.mean(inputs, axis=-1, keepdims=True)
        x = keras.ops.concatenate([keras.ops.relu(x), keras.ops.relu(-x)], axis=-1)
        return x / keras.ops.sqrt(keras.ops.sum(keras.ops.square(x), axis=-1, keepdims=True) + EPSILON)


class MyDense(keras.layers.Layer):
    def __init__(self, units, **kwargs):
        super().__init__(**kwargs)
        self.units = units

    def build(self, input_shape):
        self.kernel = self.add_weight(name="kernel", shape=(input_shape[-1], self.units),
                                      initializer="glorot_uniform", trainable=True)
        self.bias = self.add_weight(name="bias", shape=(self.units,), initializer="zeros", trainable=True)

    def call(self, inputs):
        return keras.ops.relu(keras.ops.matmul(inputs, self.kernel) + self.bias)


def euclidean_distance(vects):
    x, y = vects
    sum_square = keras.ops.sum(keras.ops.square(x - y), axis=1, keepdims=True)
    return keras.ops.sqrt(keras.ops.maximum(sum_square, EPSILON))


def contrastive_loss(y_true, y_pred):
    margin = 1.0
    square_pred = keras.ops.square(y_pred)
    margin_square = keras.ops.square(keras.ops.maximum(margin - y_pred, 0.0))
    return keras.ops.mean(y_true * square_pred + (1.0 - y_true) * margin_square)


def focal_loss(y_true, y_pred):
    gamma = 2.0
    p = keras.ops.clip(y_pred, EPSILON, 1.0 - EPSILON)
    return keras.ops.sum(-y_true * keras.ops.power(1.0 - p, gamma) * keras.ops.log(p), axis=-1)


def build_custom_layers():
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = LayerScale(0.5, name="scale")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = Antirectifier(name="antirectifier")(x)
    x = MyDense(16, name="my_dense")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs), "categorical_crossentropy"


def build_lambda_siamese():
    hidden, embed = keras.layers.Dense(16, activation="relu", name="hidden"), keras.layers.Dense(8, name="embed")
    a, b = keras.Input((12,)), keras.Input((12,))
    pair = [embed(hidden(a)), embed(hidden(b))]  # one pair of Dense layers, shared by both inputs
    distance = keras.layers.Lambda(euclidean_distance, output_shape=(1,), name="distance")(pair)
    return keras.Model([a, b], distance), contrastive_loss


def build_focal_loss():
    inputs = keras.Input((10, 10, 2))
    x = keras.layers.Conv2D(4, 3, activation="relu", name="conv")(inputs)
    x = keras.layers.MaxPooling2D(name="pool")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    outputs = keras.layers.Dense(3, activation="softmax", name="probs")(x)
    return keras.Model(inputs, outputs), focal_loss
'''

CASES = ["custom_layers", "lambda_siamese", "focal_loss"]
OPTIMIZERS = ["keras.optimizers.SGD(learning_rate=0.1, momentum=0.9)", "keras.optimizers.Adam(learning_rate=0.01)"]
STEPS, BATCH = 3, 8

KERAS_SIDE = """
import sys, warnings, numpy as np, torch, keras
warnings.simplefilter("ignore")
d = np.load(sys.argv[1])
namespace = {"keras": keras}
exec(str(d["source"]), namespace)
model, loss = namespace["build_" + str(d["case"])]()
model.set_weights([d[f"w{i}"] for i in range(int(d["n_weights"]))])
model.compile(optimizer=eval(str(d["optimizer"])), loss=loss)
n_inputs = int(d["n_inputs"])
batch = lambda name: [d[f"{name}_{j}"] for j in range(n_inputs)]
out = {"versions": np.array(f"keras {keras.__version__}, torch {torch.__version__}")}
out["pred0"] = model.predict(batch("eval"), verbose=0)
for step in range(int(d["steps"])):  # each batch's gradients at the initial weights
    x = [torch.tensor(a) for a in batch(f"x{step}")]
    y_pred = model(x if n_inputs > 1 else x[0], training=True)
    compiled_loss = model.compute_loss(x, torch.tensor(d[f"y{step}"]), y_pred)
    for i, g in enumerate(torch.autograd.grad(compiled_loss, [w.value for w in model.trainable_weights])):
        out[f"grad{step}_{i}"] = g.numpy()
for step in range(int(d["steps"])):
    out[f"loss{step + 1}"] = np.array(model.train_on_batch(batch(f"x{step}"), d[f"y{step}"]))
    out[f"pred{step + 1}"] = model.predict(batch("eval"), verbose=0)
    for i, w in enumerate(model.get_weights()):
        out[f"w{step + 1}_{i}"] = w
np.savez(sys.argv[2], **out)
"""


def build(case):
    """``(model, loss)`` of ``case``, from SOURCE run with ``keras`` bound to minicnn."""
    namespace = {"keras": minicnn}
    exec(SOURCE, namespace)
    return namespace["build_" + case]()


def data(case, rng):
    """Three training batches and an evaluation batch: ``[(inputs, targets)]``, inputs a list."""
    batches = []
    for _ in range(STEPS + 1):
        if case == "lambda_siamese":
            xs = [rng.standard_normal((BATCH, 12)).astype(np.float32) for _ in range(2)]
            y = rng.integers(0, 2, (BATCH, 1)).astype(np.float32)  # 1: a similar pair
        else:
            xs = [rng.uniform(0, 1, (BATCH, 10, 10, 2)).astype(np.float32)]
            y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, BATCH)]
        batches.append((xs, y))
    return batches


def one(x):
    return x[0] if len(x) == 1 else x


def run(keras_python, case, optimizer, seed):
    """The rows of one case and optimizer: (step, loss minicnn, loss Keras, |dloss|, |dpred|, |dw|, worst)."""
    minicnn.utils.set_random_seed(seed)
    model, loss = build(case)
    batches = data(case, np.random.default_rng(seed))
    w0 = model.get_weights()
    inputs = {"source": np.array(SOURCE), "case": np.array(case), "optimizer": np.array(optimizer),
              "n_weights": np.array(len(w0)), "n_inputs": np.array(len(batches[0][0])), "steps": np.array(STEPS),
              **{f"w{i}": w for i, w in enumerate(w0)},
              **{f"eval_{j}": x for j, x in enumerate(batches[-1][0])}}
    for step, (xs, y) in enumerate(batches[:STEPS]):
        inputs.update({f"x{step}_{j}": x for j, x in enumerate(xs)}, **{f"y{step}": y})
    theirs = keras_side(keras_python, KERAS_SIDE, inputs)

    names = weight_names(model)
    grads, scale = [0.0] * len(w0), 0.0
    for step, (xs, y) in enumerate(batches[:STEPS]):  # each batch's gradients at the initial weights
        with minicnn.GradientTape() as tape:
            compiled_loss = minicnn.losses.get(loss)(y, model(one(xs), training=True))
        for i, g in enumerate(tape.gradient(compiled_loss, model.trainable_weights)):
            grads[i] = max(grads[i], diff(g, theirs[f"grad{step}_{i}"]))
            scale = max(scale, float(np.abs(theirs[f"grad{step}_{i}"]).max()))
    gradient = (max(grads), names[int(np.argmax(grads))], scale)

    model.compile(optimizer=eval(optimizer, {"keras": minicnn}), loss=loss)
    x_eval = one(batches[-1][0])
    rows = [(0, None, None, None, diff(model.predict(x_eval, verbose=0), theirs["pred0"]), None, "")]
    for step, (xs, y) in enumerate(batches[:STEPS], start=1):
        ours = float(np.asarray(model.train_on_batch(one(xs), y)))
        keras_loss = float(theirs[f"loss{step}"])
        weights = [diff(w, theirs[f"w{step}_{i}"]) for i, w in enumerate(model.get_weights())]
        worst = int(np.argmax(weights))
        rows.append((step, ours, keras_loss, abs(ours - keras_loss), diff(model.predict(x_eval, verbose=0),
                                                                          theirs[f"pred{step}"]),
                     weights[worst], names[worst]))
    return rows, gradient, str(theirs["versions"]), len(w0)


def weight_names(model):
    """``layer/index`` for each array of ``model.get_weights()``, in its order."""
    names = [f"{layer.name}/{j}" for layer in model.layers for j in range(len(layer.get_weights()))]
    if len(names) != len(model.get_weights()):
        raise AssertionError(f"model.layers hold {len(names)} arrays, get_weights() {len(model.get_weights())}")
    return names


def diff(a, b):
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise AssertionError(f"shapes differ: minicnn {a.shape}, Keras {b.shape}")
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cases", nargs="+", choices=CASES, default=CASES)
    args = p.parse_args()
    print(header(args))
    print("| case | optimizer | step | loss minicnn | loss Keras | loss diff | predictions diff | weights diff "
          "(worst array) |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    versions, gradients = None, {}
    for case in args.cases:
        for optimizer in OPTIMIZERS:
            rows, gradients[case], versions, n_weights = run(args.keras_python, case, optimizer, args.seed)
            short = optimizer.replace("keras.optimizers.", "").replace("learning_rate=", "")
            for step, ours, theirs, dloss, dpred, dw, worst in rows:
                if step == 0:
                    print(f"| {case} ({n_weights} arrays) | {short} | before | | | | {dpred:.1e} | |")
                else:
                    print(f"| | | {step} | {ours:.6f} | {theirs:.6f} | {dloss:.1e} | {dpred:.1e} "
                          f"| {dw:.1e} ({worst}) |")
            sys.stdout.flush()
    print()
    print("Gradients of the loss on each of the three batches at the initial weights (minicnn: GradientTape; "
          "Keras: torch autograd of model.compute_loss):")
    print("| case | max abs gradient difference (worst array) | max abs gradient |")
    print("| --- | --- | --- |")
    for case, (worst, name, scale) in gradients.items():
        print(f"| {case} | {worst:.1e} ({name}) | {scale:.2g} |")
    print(f"Keras side: {versions}, KERAS_BACKEND=torch")


if __name__ == "__main__":
    main()
