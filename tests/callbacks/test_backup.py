"""BackupAndRestore: a killed training process resumes where its backup left it, with the same result
as a run never interrupted; the backup's life cycle (kept after a failure, deleted after success);
its errors."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from minicnn import Sequential, optimizers
from minicnn.callbacks import BackupAndRestore, Callback, EarlyStopping, LambdaCallback
from minicnn.layers import Dense, Dropout
from minicnn.utils import set_random_seed

JOB = Path(__file__).with_name("backup_job.py")
TIMEOUT = 60


def backup_epoch(path):
    """The epochs completed according to the backup at ``path`` (None while there is none)."""
    try:
        with np.load(path) as data:
            return json.loads(str(data["config"]))["extra"]["epoch"]
    except (FileNotFoundError, KeyError):
        return None


def start(out, epochs=6):
    out.mkdir(exist_ok=True)
    return subprocess.Popen([sys.executable, str(JOB), str(out), "--epochs", str(epochs), "--pause", "0.03"],
                            env={**os.environ, "MINICNN_NUM_THREADS": "1"}, stderr=subprocess.PIPE, text=True)


def finish(process):
    _, err = process.communicate(timeout=TIMEOUT)
    assert process.returncode == 0, err[-3000:]


def test_a_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path):
    reference = start(tmp_path / "reference")
    killed = start(tmp_path / "killed")
    backup = tmp_path / "killed" / "backup" / "backup.npz"
    deadline = time.monotonic() + TIMEOUT
    while (backup_epoch(backup) or 0) < 2:
        assert killed.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no backup of epoch 2 appeared"
        time.sleep(0.02)
    killed.send_signal(signal.SIGKILL)
    killed.communicate(timeout=TIMEOUT)
    assert killed.returncode == -signal.SIGKILL
    reached = backup_epoch(backup)
    assert 2 <= reached < 6 and not (tmp_path / "killed" / "final.npz").exists()
    finish(start(tmp_path / "killed"))  # the same command again
    finish(reference)
    history = json.loads((tmp_path / "killed" / "history.json").read_text())
    full = json.loads((tmp_path / "reference" / "history.json").read_text())
    assert len(history["loss"]) == 6 - reached  # only the epochs run after the restart
    assert history == {k: v[reached:] for k, v in full.items()}
    resumed, uninterrupted = np.load(tmp_path / "killed" / "final.npz"), np.load(tmp_path / "reference" / "final.npz")
    for k in uninterrupted.files:  # bit for bit: same weights, optimizer state, shuffles and dropout masks
        np.testing.assert_array_equal(resumed[k], uninterrupted[k])
    assert not (tmp_path / "killed" / "backup").exists()  # deleted at the successful end


def small_model():
    set_random_seed(3)
    model = Sequential([Dense(6, activation="relu", input_dim=5), Dropout(0.5), Dense(2, activation="softmax")])
    model.compile(optimizer=optimizers.Adam(0.01), loss="categorical_crossentropy")
    return model


def data():
    rng = np.random.default_rng(0)
    return rng.random((20, 5), dtype=np.float32), np.eye(2, dtype=np.float32)[rng.integers(0, 2, 20)]


class Crash(Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_begin(self, epoch, logs=None):
        if epoch == self.epoch:
            raise RuntimeError("crash")


def test_an_exception_keeps_the_backup_and_the_next_fit_resumes_in_process(tmp_path):
    x, y = data()
    reference = small_model()
    full = reference.fit(x, y, batch_size=4, epochs=5, verbose=0).history["loss"]
    model = small_model()
    backup = BackupAndRestore(tmp_path / "b")
    with pytest.raises(RuntimeError, match="crash"):
        model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[backup, Crash(3)])
    assert backup_epoch(backup.path) == 3
    set_random_seed(99)  # whatever happened to the generator since: the backup's state comes back
    model.optimizer.learning_rate = 0.5  # as after a ReduceLROnPlateau: the backup's rate comes back
    history = model.fit(x, y, batch_size=4, epochs=5, verbose=0, callbacks=[backup])
    assert model.optimizer.learning_rate == 0.01
    assert history.history["loss"] == full[3:]
    for a, b in zip(model.get_weights(), reference.get_weights()):
        np.testing.assert_array_equal(a, b)
    assert not os.path.exists(tmp_path / "b")


def test_a_fresh_model_resumes_and_a_finished_backup_is_kept_when_asked(tmp_path):
    x, y = data()
    model = small_model()
    model.fit(x, y, batch_size=4, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert backup_epoch(tmp_path / "backup.npz") == 2
    again = small_model()
    history = again.fit(x, y, batch_size=4, epochs=3, verbose=0,
                        callbacks=[BackupAndRestore(tmp_path, delete_checkpoint=False)])
    assert len(history.history["loss"]) == 1 and again.optimizer.iterations == 15
    assert backup_epoch(tmp_path / "backup.npz") == 3
    (tmp_path / ".tmp-backup.npz-x1y2").write_bytes(b"PK")  # what a process killed mid-write leaves
    done = again.fit(x, y, batch_size=4, epochs=3, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
    assert done.history == {} and not tmp_path.exists()  # nothing left, the folder neither


def test_early_stopping_counts_as_the_end_but_ctrl_c_keeps_the_backup(tmp_path):
    x, y = data()
    stop = EarlyStopping(monitor="loss", patience=0, min_delta=10)  # stops after the second epoch
    small_model().fit(x, y, batch_size=4, epochs=6, verbose=0, callbacks=[BackupAndRestore(tmp_path / "a"), stop])
    assert not (tmp_path / "a").exists()
    at = {"epoch": 0}
    ctrl_c = LambdaCallback(on_epoch_begin=lambda epoch, logs: at.update(epoch=epoch),
                            on_batch_end=lambda batch, logs: at["epoch"] == 2 and batch == 1
                            and os.kill(os.getpid(), signal.SIGINT))
    history = small_model().fit(x, y, batch_size=4, epochs=6, verbose=0,
                                callbacks=[BackupAndRestore(tmp_path / "b"), ctrl_c])
    assert len(history.history["loss"]) == 2 and backup_epoch(tmp_path / "b" / "backup.npz") == 2


def test_errors(tmp_path):
    with pytest.raises(ValueError, match="empty backup_dir"):
        BackupAndRestore("")
    with pytest.raises(ValueError, match="save_freq=10 is not supported"):
        BackupAndRestore(tmp_path, save_freq=10)
    x, y = data()
    keep = BackupAndRestore(tmp_path, delete_checkpoint=False)
    small_model().fit(x, y, batch_size=4, epochs=1, verbose=0, callbacks=[keep])
    other = small_model()
    other.compile(optimizer="sgd", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="state of a Adam optimizer, but the model is compiled with SGD"):
        other.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
    wider = Sequential([Dense(7, input_dim=5), Dropout(0.5), Dense(2, activation="softmax")])
    wider.compile(optimizer="adam", loss="categorical_crossentropy")
    with pytest.raises(ValueError, match="does not match this model's architecture"):
        wider.fit(x, y, epochs=2, verbose=0, callbacks=[BackupAndRestore(tmp_path)])
