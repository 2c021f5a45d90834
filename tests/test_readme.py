"""The README tells a newcomer what the first run costs and what minicnn does not do for them,
and the error messages it quotes are the ones minicnn prints."""
import re
from pathlib import Path

import numpy as np
import pytest

from minicnn import Sequential
from minicnn.layers import Conv2D, Dense, Flatten

README = (Path(__file__).resolve().parents[1] / "README.md").read_text()
TEXT = " ".join(README.split())  # sentences wrap at any word


def quoted_error(start):
    """The indented error line in the README that begins with ``start``."""
    match = re.search(rf"^    (ValueError: {re.escape(start)}.*)$", README, re.MULTILINE)
    assert match, start
    return match.group(1)


def test_integer_images_are_said_to_be_converted_but_not_scaled():
    assert "converted to float32 batch by batch, but **not scaled**: divide by 255 yourself" in TEXT


def test_the_first_command_says_how_long_it_takes_and_how_to_try_it_quickly():
    assert re.search(r"That trains for 12 epochs\. On the embedded sample an epoch takes about \d+ s on 2 cores, "
                     r"so about \d+ s for 12", TEXT)
    assert "For a quick try, `python examples/mnist_conv.py --epochs 1`" in TEXT


def test_numpy_2_minicnn_info_and_the_batchnorm_momentum_are_explained():
    assert "minicnn needs NumPy 2.0 or later, for the BLAS that comes with it" in TEXT
    assert "`python -m minicnn.info` prints the versions, the BLAS and the CPU core it runs" in TEXT
    assert "`BatchNormalization(momentum=0.9)`" in TEXT


def test_quoted_single_image_error_is_the_real_one():
    model = Sequential([Conv2D(2, (3, 3), input_shape=(28, 28, 1)), Flatten(), Dense(10, activation="softmax")])
    with pytest.raises(ValueError) as info:
        model.predict(np.zeros((28, 28, 1), np.float32))
    assert f"ValueError: {info.value}" == quoted_error("x has per-sample shape (28, 1)")


def test_quoted_wrong_side_error_is_the_real_one():
    with pytest.raises(ValueError) as info:
        Sequential([Conv2D(32, (3, 3), input_shape=(1, 28, 28))])
    assert f"ValueError: {info.value}" == quoted_error("conv2d: input shape (1, 28, 28)")


def test_every_file_the_read_the_code_section_names_exists():
    section = README[README.index("## Read the code"):README.index("## Layout")]
    names = set(re.findall(r"`([\w/]+\.py)", section))
    assert len(names) > 15
    root = Path(__file__).resolve().parents[1]
    for name in names:
        if "/" in name and (root / name).is_file():
            continue
        # A name relative to the folder named before it, e.g. `ops/dense.py` or `steps.py`.
        assert list((root / "minicnn").rglob(name.split("/")[-1])), name


def test_the_functional_api_example_runs_and_is_a_residual_graph(capsys):
    section = README[README.index("## Graphs: the functional API"):]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL).group(1)
    scope = {}
    exec(code, scope)  # noqa: S102  (the README's own example)
    model = scope["model"]
    assert "Connected to" in capsys.readouterr().out
    assert [type(l).__name__ for l in model.layers].count("Add") == 1
    x = np.random.default_rng(0).random((2, 32, 32, 3), dtype=np.float32)
    assert model.predict(x).shape == (2, 10)
