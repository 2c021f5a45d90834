"""A model with custom layers (weights made by add_weight, call in keras.ops, a sublayer, an add_loss
penalty) trained the same way under `mpiexec -n N python custom_layer_job.py OUT` and in one
process: each rank saves its weights to OUT/rank<r>.npz, rank 0 writes OUT/result.json."""
import json
import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: the shared custom layers

import minicnn  # noqa: E402
from minicnn import distributed, ops  # noqa: E402
from minicnn.layers import Conv2D, Dense, Flatten, MaxPooling2D  # noqa: E402
from minicnn.utils import set_random_seed  # noqa: E402

from custom_layers import Antirectifier, GatedDense, LayerScale, Linear  # noqa: E402


class Penalised(Linear):
    """Linear with an activity penalty given to add_loss (a batch mean: each rank adds its share)."""

    def call(self, inputs):
        y = super().call(inputs)
        self.add_loss(0.01 * ops.mean(ops.square(y)))
        return y


def main(out):
    set_random_seed(5)
    rng = np.random.default_rng(0)
    kw = dict(dtype="float64")
    x = rng.standard_normal((32, 6, 6, 1))
    y = np.eye(3)[rng.integers(0, 3, 32)]
    model = minicnn.Sequential([Conv2D(3, 3, activation="relu", input_shape=(6, 6, 1), **kw), LayerScale(0.5, 3, **kw),
                                MaxPooling2D(**kw), Flatten(**kw), Penalised(8, **kw), Antirectifier(**kw),
                                GatedDense(6, **kw), Dense(3, activation="softmax", **kw)])
    model.compile(optimizer=minicnn.optimizers.SGD(0.1, momentum=0.9), loss="categorical_crossentropy",
                  metrics=["accuracy"])
    history = model.fit(x, y, batch_size=8, epochs=2, verbose=0, shuffle=False)
    evaluated = model.evaluate(x, y, batch_size=8, verbose=0)
    np.savez(os.path.join(out, f"rank{distributed.rank()}.npz"), *model.get_weights())
    if distributed.is_main():
        with open(os.path.join(out, "result.json"), "w") as f:
            json.dump({"history": history.history, "evaluate": evaluated, "size": distributed.size()}, f)


if __name__ == "__main__":
    main(sys.argv[1])
