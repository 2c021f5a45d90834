"""What the tape costs: the tutorial CNN trained one batch at a time, written five ways, timed in one run.

    python benchmarks/bench_tape.py                    # batch 128, 3 rounds of 10 steps
    python benchmarks/bench_tape.py --batch 32 --rounds 5 --steps 20

1. ``Sequential``, ``train_on_batch``: the planner's steps, no tape (the reference).
2. A subclassed ``keras.Model`` whose ``call`` is a chain of layer calls: traced once into the same
   graph (minicnn.subclassing), so it should cost what 1 costs.
3. The same subclassed model whose ``call`` reads the batch size from its tensor (``ops.reshape(h,
   (h.shape[0], -1))`` for Flatten): Python that looks at values, so the trace fails and ``call``
   runs on the tape, each layer one record.
4. A custom training loop, Keras's guide shape: ``GradientTape``, ``model(x, training=True)`` (the
   Sequential as one record), a loss object, ``tape.gradient``, ``optimizer.apply_gradients``.
5. The two Dense layers written as custom layers (``add_weight`` + ``ops.matmul`` in ``call``): every
   op of theirs a record on a tape.

Each round runs every variant's steps in turn (so a noisy neighbour hits all alike); the table gives
the median round's milliseconds per step and the ratio to 1. All start from the same weights and use
Adadelta, as the tutorial; the data are real Fashion-MNIST images where ../shared/data has them.
"""
import argparse
import statistics
import time

import numpy as np

from common import fashion_batches, header, minicnn_model

import minicnn
from minicnn import ops
from minicnn.layers import Conv2D, Dense, Dropout, Flatten, Layer, MaxPooling2D


class Net(minicnn.Model):
    """The tutorial CNN as a subclassed model; ``tape_op``: its call reads the batch size (not traceable)."""

    def __init__(self, tape_op=False, dense=Dense):
        super().__init__()
        self.tape_op = tape_op
        self.conv1 = Conv2D(32, (3, 3), activation="relu")
        self.conv2 = Conv2D(32, (3, 3), activation="relu")
        self.pool = MaxPooling2D((2, 2))
        self.drop1, self.flat, self.drop2 = Dropout(0.25), Flatten(), Dropout(0.5)
        self.dense1 = dense(128, activation="relu")
        self.dense2 = dense(10, activation="softmax")

    def call(self, x, training=False):
        h = self.drop1(self.pool(self.conv2(self.conv1(x))), training=training)
        # the same model; reading the batch size (None when traced) makes call run on the tape
        h = ops.reshape(h, (h.shape[0], -1)) if self.tape_op else self.flat(h)
        return self.dense2(self.drop2(self.dense1(h), training=training))


class TapeDense(Layer):
    """Dense as a custom layer: add_weight in build, ops in call."""

    def __init__(self, units, activation=None, **kwargs):
        super().__init__(**kwargs)
        self.units, self.activation = units, activation

    def build(self, input_shape):
        self.kernel = self.add_weight(shape=(input_shape[-1], self.units), initializer="glorot_uniform", name="kernel")
        self.bias = self.add_weight(shape=(self.units,), initializer="zeros", name="bias")

    def call(self, x):
        z = ops.matmul(x, self.kernel) + self.bias
        return ops.relu(z) if self.activation == "relu" else ops.softmax(z)


def variants(x, y, batch):
    """name -> (model, one training step on batch ``i``)."""
    reference = minicnn_model()
    weights = reference.get_weights()

    def compiled(model):
        model.compile(optimizer="adadelta", loss="categorical_crossentropy")
        model(x[:batch])  # build
        model.set_weights(weights)
        return model

    loop_model = compiled(minicnn_model())
    loss_fn = minicnn.losses.CategoricalCrossentropy()

    def custom_loop(xb, yb):
        with minicnn.GradientTape() as tape:
            loss = loss_fn(yb, loop_model(xb, training=True))
        grads = tape.gradient(loss, loop_model.trainable_weights)
        loop_model.optimizer.apply_gradients(zip(grads, loop_model.trainable_weights))

    models = {"1 Sequential": compiled(reference), "2 subclassed, traced": compiled(Net()),
              "3 subclassed, on the tape": compiled(Net(tape_op=True)),
              "5 Dense as custom layers": compiled(Net(dense=TapeDense))}
    steps = {name: m.train_on_batch for name, m in models.items()}
    steps["4 GradientTape loop"] = custom_loop
    from minicnn import subclassing
    traced = {name: subclassing.traced(m) for name, m in models.items() if isinstance(m, Net)}
    return dict(sorted(steps.items())), traced


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    print(header(args))
    x, y, source = fashion_batches(args.batch * args.steps)
    print(f"data: {source}")
    steps, traced = variants(x, y, args.batch)
    print("traced into the graph: " + ", ".join(f"{k}: {v}" for k, v in traced.items()))
    times = {name: [] for name in steps}
    for name, step in steps.items():  # warm-up: plans, workspaces, optimizer slots
        step(x[:args.batch], y[:args.batch])
    for _ in range(args.rounds):
        for name, step in steps.items():
            start = time.perf_counter()
            for i in range(args.steps):
                step(x[i * args.batch:(i + 1) * args.batch], y[i * args.batch:(i + 1) * args.batch])
            times[name].append((time.perf_counter() - start) / args.steps * 1e3)
    base = statistics.median(times["1 Sequential"])
    print(f"\n| variant (batch {args.batch}) | ms per step (median of {args.rounds} rounds) | rounds | x Sequential |")
    print("| --- | --- | --- | --- |")
    for name, t in times.items():
        med = statistics.median(t)
        print(f"| {name} | {med:.1f} | {', '.join(f'{v:.1f}' for v in t)} | {med / base:.2f} |")


if __name__ == "__main__":
    np.random.seed(0)
    main()
