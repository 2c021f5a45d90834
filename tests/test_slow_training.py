"""Long training runs, excluded from the default test run: `python -m pytest -q -m slow`."""
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def run_example(name, *args):
    out = subprocess.run([sys.executable, str(EXAMPLES / name), *args], capture_output=True, text=True,
                         check=True, timeout=1800).stdout
    return float(re.search(r"Test accuracy: ([0-9.]+)", out).group(1)), out


def test_main_example_on_the_embedded_sample_reaches_tutorial_accuracy():
    # The tutorial recipe for 12 epochs on the 8,000/2,000 sample. Measured on the development
    # machine: 96.75% (seed 0); PyTorch with the same recipe and data: 97.60%.
    accuracy, out = run_example("mnist_conv.py", "--data", "sample", "--epochs", "12", "--seed", "0", "--no-save")
    assert "embedded 10k MNIST sample" in out
    assert accuracy > 0.96, out[-2000:]


def test_fashion_example_on_full_fashion_mnist(shared_data):
    accuracy, out = run_example("fashion_mnist_conv.py", "--data", str(shared_data / "fashion-mnist"),
                                "--epochs", "3", "--seed", "0")
    # Three epochs of the tutorial recipe on all 54,000 training images (12 epochs: 91.5%).
    assert accuracy > 0.88, out[-2000:]


def test_batchnorm_example_with_its_documented_command():
    # The command in the example's docstring, seeded. With Keras's default momentum 0.99 the
    # moving statistics still held 6% of their starting values after these 285 steps: 15.95%
    # test accuracy (seed 0). With the example's momentum 0.9: 97.15% (seed 0), 97.45% (seed 1),
    # 97.65% (unseeded), on the development machine.
    accuracy, out = run_example("mnist_batchnorm.py", "--data", "sample", "--epochs", "5", "--seed", "0")
    assert "embedded 10k MNIST sample" in out
    assert accuracy >= 0.97, out[-2000:]


def test_augmented_fashion_example_on_full_fashion_mnist(shared_data):
    accuracy, out = run_example("fashion_mnist_augmented.py", "--data", str(shared_data / "fashion-mnist"),
                                "--epochs", "2", "--seed", "0")
    # Two epochs of shifted and flipped images (benchmarks/RESULTS.md): 83.44% (seed 0); the same
    # two epochs without augmentation: 86.78%.
    assert accuracy > 0.80, out[-2000:]


def test_transfer_example_on_the_embedded_sample():
    out = subprocess.run([sys.executable, str(EXAMPLES / "mnist_transfer.py"), "--data", "sample", "--seed", "0"],
                         capture_output=True, text=True, check=True, timeout=1800).stdout
    low, high = (float(a) for a in re.findall(r"^Test accuracy on digits (?:0-4|5-9): ([0-9.]+)$", out, re.MULTILINE))
    # Five epochs each; digits 0-4 then 5-9 on the frozen features: 97.79% and 94.88% (seed 0),
    # 97.32% and 96.24% (seed 1), 97.99% and 95.61% (seed 2) on the development machine.
    assert low > 0.96 and high > 0.93, out[-2000:]
    assert "Frozen convolution weights unchanged by the second training: yes" in out
