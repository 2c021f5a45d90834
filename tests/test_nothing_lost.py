"""Nothing is lost: saves are atomic, bad model files are refused with a clear error (and never
unpickled), and Ctrl-C during fit keeps the last completed batch, the History so far and the
checkpoints already written.
"""
import json
import os
import signal
import zipfile

import numpy as np
import pytest

from minicnn import Sequential, saving
from minicnn.callbacks import Callback, ModelCheckpoint
from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from minicnn.models import load_model
from minicnn.utils import set_random_seed, to_categorical


def small_model(seed=0, compile=True):
    set_random_seed(seed)
    model = Sequential([Conv2D(3, (3, 3), activation="relu", input_shape=(6, 6, 1)), MaxPooling2D(),
                        Flatten(), Dropout(0.25), Dense(3, activation="softmax")])
    if compile:
        model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def small_data(n=48):
    rng = np.random.default_rng(0)
    return rng.random((n, 6, 6, 1), dtype=np.float32), to_categorical(np.arange(n) % 3, 3)


def assert_same_weights(a, b):
    assert len(a) == len(b)
    for wa, wb in zip(a, b):
        np.testing.assert_array_equal(wa, wb)


# -- atomic saves --------------------------------------------------------------------------------

def breaking_writer(monkeypatch, exc, fail_on_call=1):
    """Make np.savez/np.savez_compressed write some bytes and then raise ``exc`` on call ``fail_on_call``."""
    calls = {"n": 0}
    real = np.savez

    def writer(file, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] < fail_on_call:
            return real(file, *args, **kwargs)
        file.write(b"PK\x03\x04" + b"half a model " * 100)
        raise exc

    monkeypatch.setattr(np, "savez", writer)
    monkeypatch.setattr(np, "savez_compressed", writer)
    return calls


@pytest.mark.parametrize("exc", [OSError(28, "No space left on device"), KeyboardInterrupt()])
@pytest.mark.parametrize("method", ["save", "save_weights"])
def test_interrupted_save_keeps_the_previous_file(tmp_path, monkeypatch, method, exc):
    path = tmp_path / "model.npz"
    old = small_model(seed=1)
    getattr(old, method)(path)
    before = path.read_bytes()
    new = small_model(seed=2)
    breaking_writer(monkeypatch, exc)
    with pytest.raises(type(exc)):
        getattr(new, method)(path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.npz"], "a temporary file was left behind"
    loaded = load_model(path) if method == "save" else small_model(seed=3)
    if method == "save_weights":
        loaded.load_weights(path)
    assert_same_weights(loaded.get_weights(), old.get_weights())


def test_interrupted_first_save_leaves_nothing(tmp_path, monkeypatch):
    breaking_writer(monkeypatch, OSError(5, "I/O error"))
    with pytest.raises(OSError):
        small_model().save(tmp_path / "model.npz")
    assert os.listdir(tmp_path) == []


def test_interrupted_checkpoint_keeps_the_previous_one(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.npz"
    x, y = small_data()

    class Record(Callback):
        def on_epoch_end(self, epoch, logs=None):
            self.weights = self.model.get_weights()

    record = Record()
    model = small_model()
    model.fit(x, y, epochs=1, batch_size=16, verbose=0, callbacks=[ModelCheckpoint(path), record])
    before = path.read_bytes()
    breaking_writer(monkeypatch, OSError(28, "No space left on device"))
    with pytest.raises(OSError):
        model.fit(x, y, epochs=2, batch_size=16, verbose=0, callbacks=[ModelCheckpoint(path)])
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["ckpt.npz"]
    assert_same_weights(load_model(path).get_weights(), record.weights)


def test_save_replaces_atomically_and_keeps_the_mode(tmp_path):
    path = tmp_path / "model.npz"
    small_model(seed=1).save(path)
    os.chmod(path, 0o640)
    model = small_model(seed=2)
    model.save(path)
    assert os.listdir(tmp_path) == ["model.npz"]
    assert os.stat(path).st_mode & 0o777 == 0o640
    assert_same_weights(load_model(path).get_weights(), model.get_weights())
    with pytest.raises(FileExistsError, match="overwrite=True"):
        model.save(path, overwrite=False)


# -- refusing bad files --------------------------------------------------------------------------

@pytest.fixture
def good_file(tmp_path):
    path = tmp_path / "good.npz"
    model = small_model()
    model.save(path)
    return path, model


def refused(path, *words, load=None):
    """Loading ``path`` raises ValueError naming the file and the given words."""
    with pytest.raises(ValueError) as info:
        (load or load_model)(path)
    message = str(info.value)
    assert str(path) in message, message
    for w in words:
        assert w.lower() in message.lower(), f"{w!r} not in {message!r}"
    return message


def rewrite(path, out, **changes):
    """Copy the .npz at ``path`` to ``out`` with entries replaced (None deletes)."""
    with np.load(path) as data:
        arrays = {k: data[k] for k in data.files}
    for k, v in changes.items():
        if v is None:
            arrays.pop(k)
        else:
            arrays[k] = v
    np.savez(out, **arrays)
    return out


@pytest.mark.parametrize("keep", [0, 3, 100, 0.5, -1, -22])
def test_truncated_file(good_file, tmp_path, keep):
    path, _ = good_file
    data = path.read_bytes()
    n = int(len(data) * keep) if isinstance(keep, float) else (keep if keep >= 0 else len(data) + keep)
    bad = tmp_path / "truncated.npz"
    bad.write_bytes(data[:n])
    refused(bad, "minicnn model file")


def test_corrupt_bytes_are_refused_or_harmless(good_file, tmp_path):
    """Flip bytes across the file: each load either fails with a ValueError naming the file or
    gives back exactly the saved weights (a flipped timestamp changes nothing)."""
    path, model = good_file
    data = bytearray(path.read_bytes())
    bad = tmp_path / "corrupt.npz"
    outcomes = {"refused": 0, "harmless": 0}
    for pos in range(0, len(data), max(1, len(data) // 400)):
        flipped = bytearray(data)
        flipped[pos] ^= 0xFF
        bad.write_bytes(flipped)
        try:
            loaded = load_model(bad)
        except ValueError as e:
            assert str(bad) in str(e), f"byte {pos}: {e}"
            outcomes["refused"] += 1
            continue
        assert_same_weights(loaded.get_weights(), model.get_weights())
        outcomes["harmless"] += 1
    assert outcomes["refused"] > 0.8 * sum(outcomes.values())


def test_foreign_files(tmp_path):
    npz = tmp_path / "random.npz"
    np.savez(npz, a=np.arange(3), b=np.ones((2, 2)))
    refused(npz, "not a minicnn model file", "minicnn_format", "config")
    text = tmp_path / "notes.npz"
    text.write_text("these are not weights\n")
    refused(text, "not a minicnn model file", ".npz (zip) archive")
    archive = tmp_path / "photos.npz"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("photo.jpg", b"\xff\xd8\xff\xe0 not really")
    refused(archive, "not a minicnn model file")
    npy = tmp_path / "array.npz"
    with open(npy, "wb") as f:
        np.save(f, np.arange(10))
    refused(npy, "not a minicnn model file")
    empty = tmp_path / "empty.npz"
    empty.write_bytes(b"")
    refused(empty, "not a minicnn model file")
    with pytest.raises(FileNotFoundError, match="missing.npz"):
        load_model(tmp_path / "missing.npz")
    refused(tmp_path, "minicnn model file")  # a folder


@pytest.mark.parametrize("marker", [np.array(saving.FORMAT_VERSION + 1), np.array(0), np.array("1"), np.array([1, 1])])
def test_other_format_version(good_file, tmp_path, marker):
    path, _ = good_file
    other = rewrite(path, tmp_path / "other.npz", minicnn_format=marker)
    refused(other, "file format", f"reads format {saving.FORMAT_VERSION}")
    refused(other, "file format", load=small_model().load_weights)


@pytest.mark.parametrize("config", ["not json", "[1, 2]", "{}", json.dumps({"model": {"layers": [{"oops": 1}]}}),
                                    json.dumps({"model": {"layers": [{"class_name": "Dense", "config": {"units": -1}}]}}),
                                    json.dumps({"model": {"layers": [{"class_name": "eval", "config": {}}]}})])
def test_bad_config(good_file, tmp_path, config):
    path, _ = good_file
    refused(rewrite(path, tmp_path / "bad.npz", config=np.array(config)), "config")


def test_architecture_mismatch(good_file, tmp_path):
    path, _ = good_file
    other = Sequential([Dense(3, input_shape=(4,))])
    refused(path, "layers", "Conv2D", "Dense", load=other.load_weights)
    wrong_shape = rewrite(path, tmp_path / "shape.npz", layer_0_0=np.zeros((5, 5, 1, 3), np.float32))
    refused(wrong_shape, "architecture", "(3, 3, 1, 3)", "(5, 5, 1, 3)")
    refused(wrong_shape, "architecture", load=small_model().load_weights)
    missing = rewrite(path, tmp_path / "missing.npz", layer_4_1=None)
    refused(missing, "missing", "layer 4")
    bad_state = rewrite(path, tmp_path / "state.npz", optimizer_0=np.zeros(4))
    refused(bad_state, "optimizer state", "compile=False")
    assert load_model(bad_state, compile=False).get_weights()[0].shape == (3, 3, 1, 3)


class MakesMarker:
    """Unpickling this object creates a file: proof that the loader ran code."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


@pytest.mark.parametrize("entry", ["layer_0_0", "minicnn_format", "config", "extra"])
def test_pickled_object_array_is_refused_unread(good_file, tmp_path, entry):
    path, _ = good_file
    marker = tmp_path / "pwned"
    evil = rewrite(path, tmp_path / "evil.npz", **{entry: np.array([MakesMarker(marker)], dtype=object)})
    refused(evil, "pickled", "refused")
    refused(evil, "pickled", load=small_model().load_weights)
    assert not marker.exists(), "loading the model file ran code"
    # The payload is real: a loader that allows pickles would have created the marker.
    with np.load(evil, allow_pickle=True) as data:
        data[entry]
    assert marker.exists()


# -- Ctrl-C during fit ---------------------------------------------------------------------------

class SendSigint(Callback):
    """Send SIGINT ``times`` times during training batch ``batch`` of epoch ``epoch``: at its end
    (``where="end"``), at its start, or in the middle of its forward pass."""

    def __init__(self, epoch, batch, times=1, where="end"):
        self.at, self.times, self.where, self.epoch, self.batches_done = (epoch, batch), times, where, 0, []

    def _send(self):
        for _ in range(self.times):
            os.kill(os.getpid(), signal.SIGINT)

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_begin(self, batch, logs=None):
        if (self.epoch, batch) != self.at or self.where == "end":
            return
        if self.where == "start":
            self._send()
            return
        layer = self.model.layers[2]         # Flatten, between the convolution and the Dense layer
        original = layer.forward

        def forward(x, training=False):
            del layer.forward                # back to the class's method
            self._send()
            return original(x, training=training)

        layer.forward = forward

    def on_train_batch_end(self, batch, logs=None):
        self.batches_done.append((self.epoch, batch))
        if (self.epoch, batch) == self.at and self.where == "end":
            self._send()


class StopAt(Callback):
    """The replay: stop after training batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch):
        self.at, self.epoch = (epoch, batch), 0

    def on_epoch_begin(self, epoch, logs=None):
        self.epoch = epoch

    def on_train_batch_end(self, batch, logs=None):
        if (self.epoch, batch) == self.at:
            self.model.stop_training = True


class EpochWeights(Callback):
    def __init__(self):
        self.weights = {}

    def on_epoch_end(self, epoch, logs=None):
        self.weights[epoch] = self.model.get_weights()


@pytest.mark.parametrize("at, where", [((1, 3), "end"), ((0, 0), "end"), ((2, 4), "end"), ((1, 0), "start"),
                                       ((1, 2), "forward"), ((0, 4), "forward")])
def test_ctrl_c_keeps_the_last_completed_batch(tmp_path, capsys, at, where):
    x, y = small_data()                     # 36 training samples, batch 8: 5 batches an epoch
    ckpt = tmp_path / "epoch{epoch}.npz"
    handler_before = signal.getsignal(signal.SIGINT)
    sigint, epochs = SendSigint(*at, where=where), EpochWeights()
    model = small_model(seed=7)
    try:
        history = model.fit(x, y, batch_size=8, epochs=4, verbose=1, validation_split=0.25,
                            callbacks=[sigint, ModelCheckpoint(str(ckpt)), epochs])
    except KeyboardInterrupt:
        pytest.fail("Ctrl-C during fit escaped as KeyboardInterrupt instead of stopping at the batch end")
    assert signal.getsignal(signal.SIGINT) is handler_before
    assert sigint.batches_done[-1] == at, "training went on after Ctrl-C"
    assert "interrupted" in capsys.readouterr().out.lower()

    # The History holds the completed epochs only.
    completed = at[0]
    assert history.epoch == list(range(completed))
    assert all(len(v) == completed for v in history.history.values())

    # The weights are those of a run that trains exactly up to that batch.
    replay = small_model(seed=7)
    replay.fit(x, y, batch_size=8, epochs=4, verbose=0, validation_split=0.25, callbacks=[StopAt(*at)])
    assert_same_weights(model.get_weights(), replay.get_weights())

    # Checkpoints written before are intact and loadable; none was written for the cut epoch.
    assert sorted(os.listdir(tmp_path)) == [f"epoch{e + 1}.npz" for e in range(completed)]
    for e in range(completed):
        assert_same_weights(load_model(tmp_path / f"epoch{e + 1}.npz").get_weights(), epochs.weights[e])

    # And training can simply go on.
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)


@pytest.mark.parametrize("where", ["end", "forward"])
def test_second_ctrl_c_interrupts_at_once(where):
    x, y = small_data()
    handler_before = signal.getsignal(signal.SIGINT)
    sigint = SendSigint(1, 2, times=2, where=where)
    model = small_model()
    with pytest.raises(KeyboardInterrupt):
        model.fit(x, y, batch_size=8, epochs=3, verbose=0, callbacks=[sigint])
    # At once: within the batch (mid-forward, it never reaches its end).
    assert sigint.batches_done[-1] == ((1, 2) if where == "end" else (1, 1))
    assert signal.getsignal(signal.SIGINT) is handler_before
    # The model is still whole: it predicts and trains.
    assert np.isfinite(model.predict(x)).all()
    model.fit(x, y, batch_size=8, epochs=1, verbose=0)
