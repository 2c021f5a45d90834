"""plot_history: a readable PNG of loss and accuracy per epoch, with or without validation."""
import os

import numpy as np
import pytest

from minicnn.callbacks import History
from minicnn.layers import Dense
from minicnn.models import Sequential
from minicnn.utils import plot_history, set_random_seed

matplotlib = pytest.importorskip("matplotlib")
from matplotlib import image as mpimg  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def read_png(path):
    """The image as an (H, W, channels) array, after checking it is a real PNG."""
    with open(path, "rb") as f:
        assert f.read(8) == PNG_SIGNATURE
    pixels = mpimg.imread(path)
    assert pixels.ndim == 3 and pixels.shape[0] > 150 and pixels.shape[1] > 300
    assert pixels.std() > 0.01  # something was drawn
    return pixels


LOSS = [1.2, 0.8, 0.6, 0.5]
ACC = [0.5, 0.7, 0.8, 0.85]


@pytest.mark.parametrize("logs", [
    {"loss": LOSS, "accuracy": ACC, "val_loss": [1.0, 0.9, 0.7, 0.7], "val_accuracy": [0.6, 0.7, 0.75, 0.8]},
    {"loss": LOSS, "acc": ACC, "val_loss": [1.0, 0.9, 0.7, 0.7], "val_acc": [0.6, 0.7, 0.75, 0.8]},
    {"loss": LOSS, "accuracy": ACC},
    {"loss": LOSS, "acc": ACC},
    {"loss": LOSS, "val_loss": [1.0, 0.9, 0.7, 0.7]},
    {"loss": [0.3]},
], ids=["accuracy+val", "acc+val", "accuracy", "acc", "loss+val", "one-epoch"])
def test_writes_a_png(tmp_path, logs):
    path = tmp_path / "history.png"
    assert plot_history(logs, path) == path
    read_png(path)


def test_acc_and_accuracy_draw_the_same_figure(tmp_path):
    keras1 = {"loss": LOSS, "acc": ACC, "val_loss": LOSS[::-1], "val_acc": ACC[::-1]}
    keras2 = {"loss": LOSS, "accuracy": ACC, "val_loss": LOSS[::-1], "val_accuracy": ACC[::-1]}
    plot_history(keras1, tmp_path / "acc.png")
    plot_history(keras2, tmp_path / "accuracy.png")
    np.testing.assert_array_equal(read_png(tmp_path / "acc.png"), read_png(tmp_path / "accuracy.png"))


def test_accuracy_adds_a_panel_and_validation_adds_lines(tmp_path):
    plot_history({"loss": LOSS}, tmp_path / "loss.png")
    plot_history({"loss": LOSS, "acc": ACC}, tmp_path / "both.png")
    plot_history({"loss": LOSS, "acc": ACC, "val_loss": LOSS[::-1], "val_acc": ACC[::-1]}, tmp_path / "val.png")
    loss_only, both, val = (read_png(tmp_path / f) for f in ("loss.png", "both.png", "val.png"))
    assert both.shape[1] > 1.5 * loss_only.shape[1]  # two panels side by side
    assert val.shape == both.shape and not np.array_equal(val, both)


def test_history_from_fit(tmp_path):
    """What the examples do: plot the History that fit returns (a str path works too)."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40, 6)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[(x[:, 0] > 0).astype(int)]
    set_random_seed(0)
    model = Sequential([Dense(4, activation="relu", input_dim=6), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="categorical_crossentropy", metrics=["acc"])
    history = model.fit(x, y, epochs=3, batch_size=10, validation_split=0.25, verbose=0)
    path = str(tmp_path / "fit.png")
    plot_history(history, path, title="a tiny run")
    read_png(path)
    plot_history(history.history, tmp_path / "dict.png", title="a tiny run")
    np.testing.assert_array_equal(read_png(path), read_png(tmp_path / "dict.png"))


@pytest.mark.parametrize("epochs", [1, 2, 4, 7, 30])
def test_the_epoch_axis_has_whole_numbers_only(tmp_path, monkeypatch, epochs):
    import matplotlib.pyplot as plt
    figures = []
    close = plt.close
    monkeypatch.setattr(plt, "close", lambda fig: (figures.append(fig), close(fig)))
    plot_history({"loss": list(np.linspace(1, 0.1, epochs)), "accuracy": list(np.linspace(0.5, 0.9, epochs))},
                 tmp_path / "h.png")
    for ax in figures[0].axes:
        lo, hi = ax.get_xlim()
        ticks = [t for t in ax.get_xticks() if lo <= t <= hi]
        assert ticks and all(t == round(t) for t in ticks), ticks


@pytest.mark.parametrize("empty", [{}, {"loss": []}, {"accuracy": [0.5]}, History()],
                         ids=["dict", "no-epochs", "no-loss", "unused-History"])
def test_empty_history_is_a_clear_error(tmp_path, empty):
    with pytest.raises(ValueError, match="no epochs"):
        plot_history(empty, tmp_path / "empty.png")
    assert not os.listdir(tmp_path)  # nothing written, no temporary file left behind


def test_replaces_an_existing_file(tmp_path):
    path = tmp_path / "history.png"
    path.write_bytes(b"old")
    plot_history({"loss": LOSS}, path)
    read_png(path)
    assert os.listdir(tmp_path) == ["history.png"]
