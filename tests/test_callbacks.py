"""Callbacks driven by a fake model and a scripted training loop.

The expected stops, learning rates, saved files, messages and CSV contents were recorded from
Keras 3.15.1's callbacks running the same scripted loops (with KERAS_BACKEND=torch); where
minicnn deliberately differs (TerminateOnNaN names the epoch too) the test says so.
"""
import math
import os
import re

import numpy as np
import pytest

from minicnn import callbacks as C


class FakeOptimizer:
    def __init__(self, learning_rate):
        self.learning_rate = learning_rate


class FakeModel:
    """The interface callbacks may use: stop_training, optimizer, weights, save, save_weights."""

    def __init__(self, lr=1.0):
        self.stop_training = False
        self.optimizer = FakeOptimizer(lr)
        self.weights = None
        self.saved = []

    def get_weights(self):
        return [self.weights]

    def set_weights(self, weights):
        self.weights = weights[0]

    def save(self, path):
        self.saved.append(os.path.basename(path))
        with open(path, "w") as f:
            f.write("model")

    def save_weights(self, path):
        self.save(path)


def fit(callbacks, epoch_logs, steps=3, batch_logs=None, model=None):
    """A training loop as the model runs it; each epoch's weights are the marker 'w<epoch>'."""
    model = model or FakeModel()
    cbs = C.CallbackList(callbacks, model=model,
                         params={"epochs": len(epoch_logs), "steps": steps, "verbose": 0})
    run = {"lrs": [], "epochs": 0, "model": model}
    cbs.on_train_begin()
    logs = {}
    for epoch, logs in enumerate(epoch_logs):
        model.weights = f"w{epoch}"
        cbs.on_epoch_begin(epoch)
        run["lrs"].append(model.optimizer.learning_rate)
        for batch in range(steps):
            cbs.on_train_batch_begin(batch)
            cbs.on_train_batch_end(batch, (batch_logs or {}).get((epoch, batch), {"loss": 1.0}))
            if model.stop_training:
                break
        cbs.on_epoch_end(epoch, dict(logs))
        run["epochs"] += 1
        if model.stop_training:
            break
    cbs.on_train_end(dict(logs))
    return run


def series(name, values):
    return [{name: v} for v in values]


# -- the base class, the list, History ---------------------------------------------------------

class Recorder(C.Callback):
    def __init__(self):
        self.calls = []

    def __getattribute__(self, name):
        attr = object.__getattribute__(self, name)
        if name.startswith("on_") and callable(attr):
            calls = object.__getattribute__(self, "calls")

            def hook(*args, **kwargs):
                calls.append((name, *args, *kwargs.values()))
                return attr(*args, **kwargs)
            return hook
        return attr


def test_hooks_fire_in_order_with_sorted_float_logs():
    rec = Recorder()
    model = FakeModel()
    fit([rec], [{"val_loss": np.float32(0.5), "loss": np.float64(0.25), "accuracy": 1}], steps=2, model=model)
    names = [c[0] for c in rec.calls]
    assert names == ["on_train_begin", "on_epoch_begin",
                     "on_train_batch_begin", "on_batch_begin", "on_train_batch_end", "on_batch_end",
                     "on_train_batch_begin", "on_batch_begin", "on_train_batch_end", "on_batch_end",
                     "on_epoch_end", "on_train_end"]
    epoch_end = next(c for c in rec.calls if c[0] == "on_epoch_end")
    assert epoch_end[1] == 0
    logs = epoch_end[2]
    assert list(logs) == ["accuracy", "loss", "val_loss"]  # sorted, as Keras 3 hands them over
    assert all(type(v) is float for v in logs.values())
    assert rec.model is model and rec.params == {"epochs": 1, "steps": 2, "verbose": 0}


def test_old_batch_hooks_run_for_training_batches():
    seen = []

    class Old(C.Callback):
        def on_batch_end(self, batch, logs={}):
            seen.append((batch, logs.get("loss")))

    fit([Old()], [{"loss": 1.0}], steps=2, batch_logs={(0, 1): {"loss": 0.5}})
    assert seen == [(0, 1.0), (1, 0.5)]


def test_other_hooks_dispatch():
    rec = Recorder()
    cbs = C.CallbackList([rec])
    cbs.on_test_begin()
    cbs.on_test_batch_begin(0)
    cbs.on_test_batch_end(0, {"loss": 1})
    cbs.on_test_end({"loss": 1})
    cbs.on_predict_begin()
    cbs.on_predict_batch_begin(0)
    cbs.on_predict_batch_end(0)
    cbs.on_predict_end()
    assert [c[0] for c in rec.calls] == [
        "on_test_begin", "on_test_batch_begin", "on_test_batch_end", "on_test_end",
        "on_predict_begin", "on_predict_batch_begin", "on_predict_batch_end", "on_predict_end"]
    with pytest.raises(TypeError, match="Callback instances"):
        C.CallbackList([lambda: None])


def test_wants_batch_logs_only_for_callbacks_that_read_them():
    assert not C.CallbackList([C.History(), C.EarlyStopping(), C.ModelCheckpoint("x")]).wants_batch_logs()
    assert C.CallbackList([C.History(), C.TerminateOnNaN()]).wants_batch_logs()
    assert C.CallbackList([C.ModelCheckpoint("x", save_freq=10)]).wants_batch_logs()

    class Custom(C.Callback):
        def on_train_batch_end(self, batch, logs=None):
            pass
    assert C.CallbackList([Custom()]).wants_batch_logs()


def test_history_records_epochs_and_answers_both_accuracy_spellings():
    history = C.History()
    model = FakeModel()
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 2.0, "val_accuracy": 0.25}
            for e in range(3)]
    fit([history], logs, model=model)
    h = history.history
    assert list(h.keys()) == ["accuracy", "loss", "val_accuracy", "val_loss"]  # each once
    assert history.epoch == [0, 1, 2] and model.history is history
    assert h["acc"] is h["accuracy"] and h["acc"] == [0.5, 0.6, 0.7]
    assert h["val_acc"] == [0.25] * 3 and h.get("val_acc") == [0.25] * 3
    assert "acc" in h and "val_acc" in h and "accuracy" in h and "lr" not in h
    assert h.get("missing", "default") == "default"
    with pytest.raises(KeyError):
        h["val_missing"]

    history = C.History()
    fit([history], [{"loss": 1.0, "acc": 0.5}])
    assert list(history.history) == ["acc", "loss"] and history.history["accuracy"] == [0.5]


def test_get_log_and_metric_alias():
    assert C.metric_alias("val_acc") == "val_accuracy" and C.metric_alias("accuracy") == "acc"
    assert C.metric_alias("loss") is None and C.metric_alias("val_loss") is None
    assert C.get_log({"val_accuracy": 0.9}, "val_acc") == 0.9
    assert C.get_log({"acc": 0.9}, "accuracy") == 0.9
    assert C.get_log({"acc": 0.9}, "val_acc") is None and C.get_log(None, "loss", 1) == 1


# -- EarlyStopping -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, values, epochs, out, weights, stopped", [
    ({"patience": 2, "restore_best_weights": True, "verbose": 1}, [1.0, .8, .85, .9, .7, .6], 4,
     "Epoch 4: early stopping\nRestoring model weights from the end of the best epoch: 2.\n", "w1", True),
    ({"monitor": "loss", "patience": 1, "min_delta": 0.1, "verbose": 1}, [1.0, .95, .85, .7, .69, .5], 2,
     "Epoch 2: early stopping\n", "w1", True),
    ({"monitor": "val_accuracy", "mode": "max", "baseline": 0.5, "patience": 2, "verbose": 1,
      "restore_best_weights": True}, [.3, .4, .45, .6, .7], 5,
     "Restoring model weights from the end of the best epoch: 5.\n", "w4", False),
    ({"monitor": "val_accuracy", "mode": "max", "baseline": 0.5, "patience": 2, "verbose": 1},
     [.3, .55, .6, .6, .6, .6], 5, "Epoch 5: early stopping\n", "w4", True),
    ({"monitor": "loss", "start_from_epoch": 2, "verbose": 1}, [1, 2, 3, 4, 5], 4,
     "Epoch 4: early stopping\n", "w3", True),
    ({"monitor": "loss", "patience": 10, "restore_best_weights": True, "verbose": 1}, [1, .5, .7], 3,
     "Restoring model weights from the end of the best epoch: 2.\n", "w1", False),
    ({"monitor": "loss", "patience": 1, "verbose": 1}, [1, math.nan, math.nan, .5], 2,
     "Epoch 2: early stopping\n", "w1", True),
])
def test_early_stopping_matches_keras(capsys, kwargs, values, epochs, out, weights, stopped):
    name = kwargs.get("monitor", "val_loss")
    run = fit([C.EarlyStopping(**kwargs)], series(name, values))
    assert run["epochs"] == epochs
    assert capsys.readouterr().out == out
    assert run["model"].weights == weights and run["model"].stop_training is stopped


def test_early_stopping_is_reusable_across_fits():
    es = C.EarlyStopping(monitor="loss", patience=0)
    assert fit([es], series("loss", [1, 2, 3]))["epochs"] == 2
    assert fit([es], series("loss", [1, 0.5, 0.25]))["epochs"] == 3


def test_monitor_finds_the_other_accuracy_spelling_and_auto_mode_maximises_it(capsys):
    run = fit([C.EarlyStopping(monitor="val_acc", patience=1, verbose=1, restore_best_weights=True)],
              series("val_accuracy", [0.5, 0.7, 0.6, 0.65]))
    assert run["epochs"] == 3 and run["model"].weights == "w1"
    assert "Epoch 3: early stopping" in capsys.readouterr().out
    assert C.metric_direction("val_categorical_accuracy") == "max"
    assert C.metric_direction("val_mae") == "min" and C.metric_direction("loss") == "min"


def test_missing_monitor_warns_and_does_not_stop():
    with pytest.warns(UserWarning, match=re.escape(
            "Early stopping conditioned on metric `val_loss` which is not available. "
            "Available metrics are: loss")):
        run = fit([C.EarlyStopping(patience=0)], series("loss", [1, 2]))
    assert run["epochs"] == 2 and not run["model"].stop_training


def test_auto_mode_needs_a_known_direction_and_unknown_mode_warns():
    with pytest.raises(ValueError, match="mode='max'"):
        fit([C.EarlyStopping(monitor="dice")], series("dice", [1.0]))
    with pytest.warns(UserWarning, match="mode 'biggest' is unknown, fallback to auto mode"):
        es = C.EarlyStopping(mode="biggest")
    assert es.mode == "auto"


# -- ModelCheckpoint ---------------------------------------------------------------------------

def test_checkpoint_best_only_saves_on_improvement(tmp_path, capsys):
    path = str(tmp_path / "ck" / "w.{epoch:02d}-{val_loss:.2f}.npz")
    run = fit([C.ModelCheckpoint(path, save_best_only=True, save_weights_only=True, verbose=1)],
              series("val_loss", [1.0, 0.8, 0.9, 0.5]))
    assert run["model"].saved == ["w.01-1.00.npz", "w.02-0.80.npz", "w.04-0.50.npz"]
    assert sorted(os.listdir(tmp_path / "ck")) == run["model"].saved
    d = tmp_path / "ck"
    # Deliberately not Keras 3.15.1's output, which adds a blank line before each message (it
    # leaves a terminal's bar line; minicnn writes that newline only below a live bar), a second
    # "finished saving model to" line per save, and starts from "None" where Keras 2 said "inf".
    assert capsys.readouterr().out == (
        f"Epoch 1: val_loss improved from inf to 1.00000, saving model to {d}/w.01-1.00.npz\n"
        f"Epoch 2: val_loss improved from 1.00000 to 0.80000, saving model to {d}/w.02-0.80.npz\n"
        "Epoch 3: val_loss did not improve from 0.80000\n"
        f"Epoch 4: val_loss improved from 0.80000 to 0.50000, saving model to {d}/w.04-0.50.npz\n")


def test_checkpoint_every_epoch_max_mode_threshold_and_alias(tmp_path, capsys):
    run = fit([C.ModelCheckpoint(str(tmp_path / "m{epoch}.npz"), verbose=1)], series("val_loss", [1.0, 0.8]))
    assert run["model"].saved == ["m1.npz", "m2.npz"]
    assert capsys.readouterr().out == (f"Epoch 1: saving model to {tmp_path}/m1.npz\n"
                                       f"Epoch 2: saving model to {tmp_path}/m2.npz\n")
    run = fit([C.ModelCheckpoint(str(tmp_path / "acc{epoch}-{val_acc:.2f}.npz"), monitor="val_acc",
                                 save_best_only=True, initial_value_threshold=0.5)],
              series("val_accuracy", [0.4, 0.6, 0.55, 0.7]))
    assert run["model"].saved == ["acc2-0.60.npz", "acc4-0.70.npz"]


def test_checkpoint_messages_during_a_real_fit(tmp_path, capsys):
    from minicnn import Sequential
    from minicnn.layers import Dense
    x = np.linspace(-1, 1, 64, dtype=np.float32).reshape(32, 2)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    model = Sequential([Dense(2, activation="softmax", input_dim=2)])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x, y, epochs=2, validation_split=0.25, verbose=1, callbacks=[
        C.ModelCheckpoint(str(tmp_path / "best.npz"), monitor="val_accuracy", save_best_only=True, verbose=1)])
    lines = capsys.readouterr().out.splitlines()
    assert "" not in lines
    saves = [line for line in lines if line.startswith("Epoch 1: ")]
    assert len(saves) == 1 and re.fullmatch(
        rf"Epoch 1: val_accuracy improved from -inf to \d\.\d{{5}}, saving model to {tmp_path}/best.npz", saves[0])


def test_messages_leave_a_live_bar_line_without_blank_lines(monkeypatch, capsys):
    from minicnn.utils import progbar
    monkeypatch.setattr(progbar, "_dynamic_display", lambda stream: True)
    bar = progbar.Progbar(4)
    bar.update(1)
    progbar.print_message("Epoch 1: saving model to m.npz")
    bar.update(4)
    progbar.print_message("Epoch 1: another message")
    lines = capsys.readouterr().out.split("\n")
    # The live bar line is ended once, by the first message; the finished bar ends its own line.
    assert len(lines) == 5 and lines[0].startswith("\r") and "1/4" in lines[0] and "4/4" in lines[2]
    assert lines[1] == "Epoch 1: saving model to m.npz"
    assert lines[3] == "Epoch 1: another message" and lines[4] == ""


def test_checkpoint_every_n_batches(tmp_path):
    run = fit([C.ModelCheckpoint(str(tmp_path / "b{epoch}-{batch}.npz"), save_freq=2)],
              series("val_loss", [1.0, 0.8]), steps=3)
    assert run["model"].saved == ["b1-2.npz", "b2-1.npz", "b2-3.npz"]


def test_checkpoint_errors_and_missing_monitor(tmp_path):
    with pytest.warns(UserWarning, match="Can save best model only with val_loss available."):
        run = fit([C.ModelCheckpoint(str(tmp_path / "x{epoch}.npz"), save_best_only=True)], series("loss", [1.0]))
    assert run["model"].saved == ["x1.npz"]
    with pytest.raises(KeyError, match="Failed to format this callback filepath"):
        fit([C.ModelCheckpoint(str(tmp_path / "{val_auc}.npz"))], series("val_loss", [1.0]))
    with pytest.raises(ValueError, match="Unrecognized save_freq"):
        C.ModelCheckpoint("x", save_freq="batch")


# -- learning rate callbacks -------------------------------------------------------------------

def test_scheduler_sets_the_rate_before_each_epoch(capsys):
    run = fit([C.LearningRateScheduler(lambda epoch: 0.1 / (epoch + 1), verbose=1)], series("loss", [1] * 3))
    assert run["lrs"] == [0.1, 0.05, 0.1 / 3]
    assert capsys.readouterr().out == (
        "Epoch 1: LearningRateScheduler setting learning rate to 0.1.\n"
        "Epoch 2: LearningRateScheduler setting learning rate to 0.05.\n"
        "Epoch 3: LearningRateScheduler setting learning rate to 0.03333333333333333.\n")

    def halve(epoch, lr):
        return lr * 0.5 if epoch else lr
    history = C.History()
    run = fit([C.LearningRateScheduler(halve), history], series("loss", [1] * 3))
    assert run["lrs"] == [1.0, 0.5, 0.25]
    assert history.history["learning_rate"] == [1.0, 0.5, 0.25]  # added to the epoch logs
    with pytest.raises(ValueError, match="should be a float"):
        fit([C.LearningRateScheduler(lambda epoch: "fast")], series("loss", [1]))


def test_reduce_on_plateau_with_cooldown_and_min_lr(capsys):
    run = fit([C.ReduceLROnPlateau(factor=0.5, patience=1, cooldown=1, min_lr=0.1, verbose=1)],
              series("val_loss", [1.0] * 9))
    assert run["lrs"] == [1.0, 1.0, 0.5, 0.25, 0.125, 0.1, 0.1, 0.1, 0.1]
    assert capsys.readouterr().out == "".join(
        f"Epoch {e}: ReduceLROnPlateau reducing learning rate to {lr}.\n"
        for e, lr in [(2, 0.5), (3, 0.25), (4, 0.125), (5, 0.1)])


def test_reduce_on_plateau_counts_patience_with_min_delta():
    run = fit([C.ReduceLROnPlateau(monitor="loss", factor=0.1, patience=2, min_delta=0.01)],
              series("loss", [1.0, 0.995, 0.99, 0.5, 0.499, 0.498, 0.497]))
    assert run["lrs"] == [1.0, 1.0, 1.0, 0.1, 0.1, 0.1, 1.0 * 0.1 * 0.1]


def test_reduce_on_plateau_cooldown_delays_counting():
    run = fit([C.ReduceLROnPlateau(monitor="loss", factor=0.5, patience=1, cooldown=2)],
              series("loss", [1.0] * 7))
    assert run["lrs"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]


def test_reduce_on_plateau_errors_and_missing_monitor():
    with pytest.raises(ValueError, match="factor >= 1.0"):
        C.ReduceLROnPlateau(factor=1.0)
    with pytest.warns(UserWarning, match=re.escape(
            "`val_acc` which is not available. Available metrics are: loss,learning_rate.")):
        fit([C.ReduceLROnPlateau(monitor="val_acc")], series("loss", [1.0]))


# -- TerminateOnNaN, CSVLogger -----------------------------------------------------------------

@pytest.mark.parametrize("bad, where, epochs", [(math.nan, (1, 1), 2), (math.inf, (0, 2), 1)])
def test_terminate_on_nan_stops_and_names_epoch_and_batch(capsys, bad, where, epochs):
    run = fit([C.TerminateOnNaN()], series("loss", [1.0] * 3), batch_logs={where: {"loss": bad}})
    assert run["epochs"] == epochs and run["model"].stop_training
    # Keras prints "Batch 1: Invalid loss, terminating training"; minicnn adds the 1-based epoch.
    assert capsys.readouterr().out == (
        f"Epoch {where[0] + 1}, batch {where[1]}: Invalid loss, terminating training\n")


def test_terminate_on_nan_can_raise():
    with pytest.raises(RuntimeError, match="epoch 1, batch 0"):
        fit([C.TerminateOnNaN(raise_error=True)], series("loss", [1.0]), batch_logs={(0, 0): {"loss": math.nan}})


def test_csv_logger_rows_append_and_missing_validation(tmp_path):
    path = tmp_path / "log.csv"
    logs = [{"loss": 1.0 / (e + 1), "accuracy": 0.5 + e / 10, "val_loss": 2.0 / (e + 1), "val_accuracy": 0.25}
            for e in range(3)]
    fit([C.CSVLogger(str(path))], logs)
    expected = ("epoch,accuracy,loss,val_accuracy,val_loss\r\n0,0.5,1.0,0.25,2.0\r\n1,0.6,0.5,0.25,1.0\r\n"
                "2,0.7,0.3333333333333333,0.25,0.6666666666666666\r\n")
    assert path.read_bytes().decode() == expected
    fit([C.CSVLogger(str(path), append=True, separator=";")], logs[:1])
    assert path.read_bytes().decode() == expected + "0;0.5;1.0;0.25;2.0\r\n"
    fit([C.CSVLogger(str(tmp_path / "new.csv"), append=True)], [{"loss": 0.5, "acc": 0.25}])
    assert (tmp_path / "new.csv").read_bytes().decode() == "epoch,acc,loss,val_acc,val_loss\r\n0,0.25,0.5,NA,NA\r\n"


# -- what fit takes as callbacks; BackupAndRestore's folder ---------------------------------------

def _tiny_model():
    from minicnn import Sequential
    from minicnn.layers import Dense
    model = Sequential([Dense(2, activation="softmax", input_dim=3)])
    model.compile("sgd", "categorical_crossentropy")
    x = np.random.default_rng(0).standard_normal((8, 3)).astype(np.float32)
    return model, x, np.eye(2, dtype=np.float32)[np.arange(8) % 2]


def test_fit_takes_one_callback_not_in_a_list_as_keras_does():
    """Keras 3 flattens what it is given, so one callback works; so it does here (it ended in
    ``TypeError: Value after * must be an iterable``), and nested lists are flattened too."""
    model, x, y = _tiny_model()
    one, two = Recorder(), Recorder()
    model.fit(x, y, epochs=2, verbose=0, callbacks=one)
    assert [c[0] for c in one.calls].count("on_epoch_end") == 2
    model.fit(x, y, verbose=0, callbacks=(two, [one]))
    assert [c[0] for c in two.calls].count("on_epoch_end") == 1
    assert [c[0] for c in one.calls].count("on_epoch_end") == 3
    assert C.CallbackList(one).callbacks == [one]
    with pytest.raises(TypeError, match="callbacks must be Callback instances .* got 'early'"):
        model.fit(x, y, verbose=0, callbacks=["early"])
    with pytest.raises(TypeError, match="callbacks must be Callback instances"):
        model.fit(x, y, verbose=0, callbacks=C.EarlyStopping)  # the class, not an instance


@pytest.mark.parametrize("where", ["under_a_file", "a_file"])
def test_backup_folder_that_cannot_be_written_fails_before_training(tmp_path, where):
    """Keras 3 fails at its first save, after the first epoch's work; minicnn tries the folder at
    on_train_begin, before any batch (a permission error reads the same: chmod cannot show it to
    the root user the tests may run as, so a file stands in the folder's way here)."""
    model, x, y = _tiny_model()
    (tmp_path / "file").write_text("not a folder")
    folder = tmp_path / "file" / "backup" if where == "under_a_file" else tmp_path / "file"
    counter, before = Recorder(), model.get_weights()
    with pytest.raises(OSError, match=f"BackupAndRestore cannot write its backup in backup_dir='{folder}'"):
        model.fit(x, y, epochs=2, verbose=0, callbacks=[counter, C.BackupAndRestore(folder)])
    assert [c[0] for c in counter.calls] == ["on_train_begin"]  # no batch, no epoch
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_backup_folder_made_at_the_start_is_removed_when_nothing_was_backed_up(tmp_path):
    model, x, y = _tiny_model()
    folder = tmp_path / "new" / "backup"
    with pytest.warns(UserWarning, match="trains nothing"):
        model.fit(x, y, epochs=1, initial_epoch=1, verbose=0, callbacks=C.BackupAndRestore(folder))
    assert not folder.exists() and (tmp_path / "new").is_dir()
    model.fit(x, y, epochs=2, verbose=0, callbacks=C.BackupAndRestore(folder))
    assert not folder.exists()
    kept = C.BackupAndRestore(folder, delete_checkpoint=False)
    model.fit(x, y, epochs=1, verbose=0, callbacks=kept)
    assert os.path.exists(kept.path)
