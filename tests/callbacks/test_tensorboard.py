"""TensorBoard: the event files read back with TensorBoard's own EventAccumulator, against what Keras 3
wrote for the same model and settings (tests/data/tensorboard/keras_layout.json, made by the script
beside it), the History of the same run, and tensorboard's own histogram summary."""
import json
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("tensorboard")

from tensorboard.backend.event_processing import event_accumulator  # noqa: E402
from tensorboard.plugins.histogram.summary_v2 import histogram_pb  # noqa: E402
from tensorboard.util import tensor_util  # noqa: E402

import minicnn as keras  # noqa: E402
from minicnn import distributed  # noqa: E402
from minicnn.callbacks import LambdaCallback, TensorBoard  # noqa: E402
from minicnn.callbacks import tensorboard as tensorboard_module  # noqa: E402

KERAS = json.loads((Path(__file__).resolve().parents[1] / "data" / "tensorboard" / "keras_layout.json").read_text())


def model(lr=0.05, decay=0.0):
    """The model of keras_layout.json: named layers, so the histogram tags are Keras's."""
    net = keras.Sequential([keras.Input((6, 6, 1)), keras.layers.Conv2D(2, 3, activation="relu", name="conv"),
                            keras.layers.Flatten(name="flat"), keras.layers.Dense(3, activation="softmax", name="out")],
                           name="net")
    net.compile(keras.optimizers.SGD(lr, decay=decay), "categorical_crossentropy", metrics=["accuracy"])
    return net


def fit(folder, net=None, extra=(), **options):
    """keras_layout.json's run: 30 training samples in batches of 10, 10 held out, 3 epochs."""
    keras.utils.set_random_seed(0)
    x = np.random.RandomState(0).rand(40, 6, 6, 1).astype("float32")
    y = np.eye(3, dtype="float32")[np.arange(40) % 3]
    net = net or model()
    history = net.fit(x, y, batch_size=10, epochs=3, validation_split=0.25, verbose=0,
                      callbacks=[TensorBoard(folder, **options), *extra])
    return net, history


def read(folder):
    """``{run: {tag: (plugin, [(step, value), ...])}}`` of the event files, read by TensorBoard."""
    runs = {}
    for run in sorted(p.name for p in Path(folder).iterdir()):
        acc = event_accumulator.EventAccumulator(str(Path(folder) / run), size_guidance={event_accumulator.TENSORS: 0})
        acc.Reload()
        runs[run] = {tag: (acc.SummaryMetadata(tag).plugin_data.plugin_name,
                           [(e.step, tensor_util.make_ndarray(e.tensor_proto)) for e in acc.Tensors(tag)])
                     for tag in acc.Tags()["tensors"]}
    return runs


def layout(runs):
    return {run: {tag: {"plugin": plugin, "steps": [s for s, _ in events]} for tag, (plugin, events) in tags.items()}
            for run, tags in runs.items()}


def keras_layout(freq):
    return {run: {tag: {k: v for k, v in entry.items() if k != "values"} for tag, entry in tags.items()}
            for run, tags in KERAS["update_freq"][freq].items()}


def values(runs, run, tag):
    return [float(v) for _, v in runs[run][tag][1]]


@pytest.mark.parametrize("freq", ["epoch", "batch"])
def test_runs_tags_plugins_and_steps_are_those_keras_writes(tmp_path, freq):
    fit(tmp_path, histogram_freq=2, update_freq=freq)
    assert layout(read(tmp_path)) == keras_layout(freq)


def test_every_nth_batch_as_keras_and_every_epoch(tmp_path):
    fit(tmp_path, histogram_freq=2, update_freq=2)
    ours, theirs = layout(read(tmp_path)), keras_layout("2")
    for tag in ("batch_loss", "batch_accuracy"):
        assert ours["train"][tag] == theirs["train"][tag] == {"plugin": "scalars", "steps": [2, 4, 6, 8]}
    # Keras 3 keeps an epoch's summaries only where its last batch number is a multiple of N (here
    # epoch 1, batch 6); minicnn writes every epoch, as with update_freq="epoch".
    assert theirs["train"]["epoch_loss"]["steps"] == [1] and "net/conv/kernel/histogram" not in theirs["train"]
    assert ours == keras_layout("epoch") | {"train": keras_layout("batch")["train"] | {
        "batch_loss": theirs["train"]["batch_loss"], "batch_accuracy": theirs["train"]["batch_accuracy"]}}


def test_epoch_values_are_the_history_and_the_learning_rate_keras_logs(tmp_path):
    net, history = fit(tmp_path)
    runs = read(tmp_path)
    for name in ("loss", "accuracy"):
        np.testing.assert_allclose(values(runs, "train", f"epoch_{name}"), history.history[name], rtol=1e-6)
        np.testing.assert_allclose(values(runs, "validation", f"epoch_{name}"), history.history[f"val_{name}"],
                                   rtol=1e-6)
        np.testing.assert_allclose(values(runs, "validation", f"evaluation_{name}_vs_iterations"),
                                   history.history[f"val_{name}"], rtol=1e-6)
    assert net.optimizer.iterations == 9
    expected_lr = KERAS["update_freq"]["epoch"]["train"]["epoch_learning_rate"]["values"]
    np.testing.assert_allclose(values(runs, "train", "epoch_learning_rate"), expected_lr, rtol=1e-6)
    assert expected_lr == pytest.approx([0.05] * 3)
    (plugin, [(step, text)]) = runs["train"]["keras"]
    from minicnn.keras_files.legacy_h5 import model_config_keras2
    assert (plugin, step) == ("graph_keras_model", 0) and json.loads(text.item()) == model_config_keras2(net)


def test_the_learning_rate_is_the_decayed_one(tmp_path):
    fit(tmp_path, net=model(lr=0.1, decay=0.5))
    # Keras 2's decay: the next step's rate, lr / (1 + decay * iterations), at iterations 3, 6, 9.
    np.testing.assert_allclose(values(read(tmp_path), "train", "epoch_learning_rate"),
                               [0.1 / (1 + 0.5 * t) for t in (3, 6, 9)], rtol=1e-6)


def test_batch_values_are_the_running_logs_at_the_global_batch(tmp_path):
    seen = {}
    counter = iter(range(1, 100))
    recorder = LambdaCallback(on_batch_end=lambda batch, logs: seen.__setitem__(next(counter), dict(logs)))
    _, history = fit(tmp_path, update_freq="batch", extra=[recorder])
    runs = read(tmp_path)
    for name in ("loss", "accuracy"):
        steps = [s for s, _ in runs["train"][f"batch_{name}"][1]]
        assert steps == list(range(1, 10))
        np.testing.assert_allclose(values(runs, "train", f"batch_{name}"), [seen[s][name] for s in steps], rtol=1e-6)
        # the running mean at an epoch's last batch is the epoch's value
        np.testing.assert_allclose(values(runs, "train", f"batch_{name}")[2::3], history.history[name], rtol=1e-6)


def test_histograms_are_tensorboards_of_the_weights_at_those_epochs(tmp_path):
    kept = {}
    net = model()
    keep = LambdaCallback(on_epoch_end=lambda epoch, logs: kept.__setitem__(epoch, net.get_weights()))
    fit(tmp_path, net=net, extra=[keep], histogram_freq=2)
    train = read(tmp_path)["train"]
    tags = ["net/conv/kernel/histogram", "net/conv/bias/histogram", "net/out/kernel/histogram",
            "net/out/bias/histogram"]
    assert sorted(t for t in train if t.endswith("/histogram")) == sorted(tags)
    for i, tag in enumerate(tags):
        plugin, events = train[tag]
        assert plugin == "histograms" and [s for s, _ in events] == [0, 2]
        for step, buckets in events:
            expected = tensor_util.make_ndarray(histogram_pb(tag, kept[step][i]).value[0].tensor)
            assert buckets.dtype == np.float64 and buckets.shape == (30, 3)
            np.testing.assert_array_equal(buckets, expected)


@pytest.mark.parametrize("data", [np.random.default_rng(1).standard_normal((50, 7)), np.full(5, 2.5), np.zeros(0),
                                  np.arange(30.0), np.array([1.0, np.nan, 3.0, np.inf])])
def test_histogram_buckets_are_tensorboards(data):
    finite = data[np.isfinite(data)]
    expected = tensor_util.make_ndarray(histogram_pb("w", finite).value[0].tensor)
    np.testing.assert_array_equal(tensorboard_module.histogram_buckets(data), expected)


def test_a_functional_model_names_weights_by_layer(tmp_path, monkeypatch):
    monkeypatch.setattr(tensorboard_module, "_warned", set())
    inputs = keras.Input((4,))
    hidden = keras.layers.Dense(3, name="hidden")(inputs)
    net = keras.Model(inputs, keras.layers.Dense(2, name="top")(hidden))
    net.compile("sgd", "mse")
    assert [p for p, _ in tensorboard_module.weight_paths(net)] == ["hidden/kernel", "hidden/bias", "top/kernel",
                                                                    "top/bias"]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        net.fit(np.ones((8, 4), "float32"), np.ones((8, 2), "float32"), epochs=1, verbose=0,
                callbacks=[TensorBoard(tmp_path, histogram_freq=1)])
    train = read(tmp_path)["train"]
    assert {t for t in train if t.endswith("histogram")} == {f"{p}/histogram" for p in
                                                             ["hidden/kernel", "hidden/bias", "top/kernel", "top/bias"]}
    # The Graphs tab gets Keras 2's JSON of this functional model, which TensorBoard's converter draws.
    from tensorboard.plugins.graph import keras_util
    (_, [(_, text)]) = train["keras"]
    nodes = {n.name.split("/")[-1] for n in keras_util.keras_model_to_graph_def(json.loads(text.item())).node}
    assert {"hidden", "top"} <= nodes
    assert not any("write_graph skipped" in str(w.message) for w in caught)


def test_only_rank_0_writes(tmp_path, monkeypatch):
    monkeypatch.setattr(distributed, "is_main", lambda: False)
    _, history = fit(tmp_path / "logs", histogram_freq=1, update_freq="batch")
    assert len(history.history["loss"]) == 3 and not (tmp_path / "logs").exists()


def test_a_second_fit_writes_new_files_counting_batches_from_one(tmp_path):
    callback_runs = []
    net = model()
    x, y = np.ones((20, 6, 6, 1), "float32"), np.eye(3, dtype="float32")[np.arange(20) % 3]
    board = TensorBoard(tmp_path, update_freq="batch")
    for _ in range(2):
        net.fit(x, y, batch_size=10, epochs=1, verbose=0, callbacks=[board])
        callback_runs.append(sorted(p.name for p in (tmp_path / "train").iterdir()))
    assert len(callback_runs[0]) == 1 and len(callback_runs[1]) == 2
    assert [s for s, _ in read(tmp_path)["train"]["batch_loss"][1]] == [1, 2, 1, 2]


def test_the_missing_package_is_named_with_the_pip_command(monkeypatch):
    for name in [n for n in sys.modules if n == "tensorboard" or n.startswith("tensorboard.")]:
        monkeypatch.setitem(sys.modules, name, None)
    with pytest.raises(ImportError, match=r"pip install 'minicnn\[tensorboard\]'"):
        TensorBoard()


def test_minicnn_and_the_other_callbacks_work_without_tensorboard(tmp_path):
    code = ("import sys; sys.modules['tensorboard'] = None\n"
            "import numpy as np, minicnn as keras\n"
            "from minicnn.callbacks import CSVLogger, TensorBoard\n"
            "m = keras.Sequential([keras.layers.Dense(1, input_shape=(2,))]); m.compile('sgd', 'mse')\n"
            "x, y = np.ones((4, 2), 'float32'), np.ones((4, 1), 'float32')\n"
            "m.fit(x, y, verbose=0, callbacks=[CSVLogger('log.csv')])\n"
            "try:\n    TensorBoard()\nexcept ImportError as e:\n    print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'minicnn[tensorboard]'" in done.stdout and (tmp_path / "log.csv").is_file()


@pytest.mark.parametrize("kwargs, error, match", [
    ({"update_freq": 0}, ValueError, "update_freq must be 'epoch', 'batch' or an integer >= 1"),
    ({"update_freq": "step"}, ValueError, "update_freq"),
    ({"histogram_freq": -1}, ValueError, "histogram_freq must be an integer >= 0"),
    ({"histogram_freq": 1.5}, ValueError, "histogram_freq"),
    ({"profile_batch": (5, 2)}, ValueError, "profile_batch must be"),
    ({"profile_batch": "a,b"}, ValueError, "profile_batch must be"),
    ({"log_dir": 3}, TypeError, "log_dir must be a folder path"),
    ({"write_histograms": True}, TypeError, "unexpected argument.*write_histograms"),
])
def test_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        TensorBoard(**kwargs)


@pytest.mark.parametrize("kwargs, match", [
    ({"write_images": True}, "write_images=True is ignored"),
    ({"profile_batch": "10,20"}, "no profiler"),
    ({"profile_batch": 2}, "no profiler"),
    ({"embeddings_freq": 1}, "no Embedding layer"),
    ({"write_grads": True, "batch_size": 32}, "ignores batch_size, write_grads, as tf.keras 2 did"),
])
def test_what_minicnn_cannot_do_warns_once(kwargs, match, monkeypatch):
    monkeypatch.setattr(tensorboard_module, "_warned", set())
    with pytest.warns(UserWarning, match=match):
        TensorBoard(**kwargs)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        TensorBoard(**kwargs)
    assert not caught


def test_a_log_dir_that_is_a_file_is_named(tmp_path):
    (tmp_path / "taken").write_text("")
    with pytest.raises(OSError, match="cannot write its event files to .*taken"):
        fit(tmp_path / "taken")


def test_the_example_logs_to_tensorboard_when_asked(tmp_path, monkeypatch):
    monkeypatch.syspath_prepend(str(Path(__file__).resolve().parents[2] / "examples"))
    monkeypatch.chdir(tmp_path)
    from mnist_conv import main
    main(["--data", "sample", "--epochs", "2", "--limit", "200", "--seed", "0", "--no-save"])
    assert not (tmp_path / "logs").exists()
    main(["--data", "sample", "--epochs", "2", "--limit", "200", "--seed", "0", "--no-save", "--tensorboard", "logs"])
    runs = read(tmp_path / "logs")
    for run in ("train", "validation"):
        assert [step for step, _ in runs[run]["epoch_loss"][1]] == [0, 1]
    assert {"epoch_accuracy", "epoch_learning_rate", "keras"} <= set(runs["train"])
