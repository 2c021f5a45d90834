"""Writes keras_layout.json: what Keras 3's TensorBoard callback writes, run by run and tag by tag.

For each update_freq ("epoch", "batch", 2) it trains the tests' tiny model with Keras 3 on the
TensorFlow backend (Keras's callback writes through tf.summary, so it needs TensorFlow), reads the
event files back with TensorBoard's EventAccumulator, and records each tag's plugin and steps, and
the values of the learning rate. tests/callbacks/test_tensorboard.py compares minicnn's files with
it. Run it where keras>=3 and tensorflow-cpu are installed (not a minicnn dependency):

    python tests/data/tensorboard/make_keras_layout.py    # writes keras_layout.json beside itself
"""
import json
import os
import sys
import tempfile
from pathlib import Path

os.environ["KERAS_BACKEND"] = "tensorflow"

import keras  # noqa: E402
import numpy as np  # noqa: E402
from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402


def model():
    """The tests' model: the same names, so the same histogram tags."""
    net = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
                            keras.layers.Flatten(name="flat"), keras.layers.Dense(3, activation="softmax", name="out")],
                           name="net")
    net.compile(keras.optimizers.SGD(0.05), "categorical_crossentropy", metrics=["accuracy"])
    return net


def data():
    """40 samples: 30 for training (3 batches of 10), 10 held out by validation_split=0.25."""
    x = np.random.RandomState(0).rand(40, 6, 6, 1).astype("float32")
    return x, np.eye(3, dtype="float32")[np.arange(40) % 3]


def layout(folder):
    """``{run: {tag: {"plugin", "steps"[, "values"]}}}`` of the event files under ``folder``."""
    runs = {}
    for run in sorted(os.listdir(folder)):
        acc = event_accumulator.EventAccumulator(os.path.join(folder, run),
                                                 size_guidance={event_accumulator.TENSORS: 0})
        acc.Reload()
        tags = {}
        for tag in acc.Tags()["tensors"]:
            events = acc.Tensors(tag)
            entry = {"plugin": acc.SummaryMetadata(tag).plugin_data.plugin_name, "steps": [e.step for e in events]}
            if tag == "epoch_learning_rate":
                entry["values"] = [float(tensor_util.make_ndarray(e.tensor_proto)) for e in events]
            tags[tag] = entry
        runs[run] = tags
    return runs


def main():
    x, y = data()
    result = {"keras": keras.__version__, "settings": "fit(x, y, batch_size=10, epochs=3, validation_split=0.25), "
              "TensorBoard(histogram_freq=2, update_freq=...)", "update_freq": {}}
    for freq in ("epoch", "batch", 2):
        keras.utils.set_random_seed(0)
        with tempfile.TemporaryDirectory() as folder:
            model().fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0,
                        callbacks=[keras.callbacks.TensorBoard(folder, histogram_freq=2, update_freq=freq)])
            result["update_freq"][str(freq)] = layout(folder)
    out = Path(__file__).with_name("keras_layout.json")
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
