"""The MNIST examples end to end with ``--backend cupy``, on the fake GPU: the tutorial CNN at full
size (28x28 images, 32 filters), summary, fit with validation and the progress bar, evaluate."""
import importlib
import re
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
QUICK = ["--backend", "cupy", "--data", "sample", "--limit", "64", "--epochs", "1", "--batch-size", "32",
         "--seed", "0", "--no-save"]


@pytest.mark.parametrize("name, kernels", [
    ("mnist_conv", {"im2col", "col2im", "maxpool_forward", "maxpool_backward", "adadelta_update"}),
    ("mnist_single_conv_adam", {"im2col", "maxpool_forward", "maxpool_backward", "adam_update"}),
    ("mnist_batchnorm", {"im2col", "col2im", "maxpool_forward", "maxpool_backward", "adadelta_update"}),
    ("mnist_three_conv_same_rmsprop", {"im2col", "col2im", "maxpool_forward", "maxpool_backward", "rmsprop_update"}),
])
def test_mnist_example_trains_on_the_gpu_path(fake_cupy, monkeypatch, capsys, name, kernels):
    monkeypatch.syspath_prepend(str(EXAMPLES))
    importlib.import_module(name).main(QUICK)
    out = capsys.readouterr().out
    assert "backend cupy" in out, out[-2000:]
    accuracy = float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1))
    assert 0 <= accuracy <= 1
    assert kernels <= set(fake_cupy.launches), set(fake_cupy.launches)
    # 2 training steps, with progress lines: the logs come back per shown line, never per kernel.
    assert fake_cupy.transfers.count <= 12, fake_cupy.transfers.log
