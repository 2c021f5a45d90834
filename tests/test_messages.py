"""What minicnn says when something is missing or wrong: names it lacks, clear_session, the
unscaled-images warning's line, a gradient of the wrong shape; and the README's layout and test notes."""
import importlib
import re
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

import minicnn as keras
from minicnn import missing
from minicnn.layers import Dense, Flatten, Layer
from minicnn.optimizers import SGD, Adam

ROOT = Path(__file__).resolve().parents[1]


# -- names minicnn lacks ------------------------------------------------------------------------

@pytest.mark.parametrize("module, name, says", [
    ("minicnn.layers", "Conv2dTranspose", ["Closest in minicnn.layers: Conv2DTranspose"]),
    ("minicnn.layers", "Upsampling2D", ["Closest in minicnn.layers: UpSampling2D"]),
    ("minicnn.layers", "LayerNormalisation", ["Closest in minicnn.layers: LayerNormalization"]),
    ("minicnn.layers", "Conv2d", ["Closest in minicnn.layers: Conv2D,"]),
    ("minicnn.layers", "Lamda", ["Closest in minicnn.layers: Lambda"]),
    ("minicnn.layers", "conv2dtranspose", ["Closest in minicnn.layers: Conv2DTranspose"]),
    ("minicnn", "applications", ["no pretrained models", "none are planned"]),
    ("minicnn", "GradientTap", ["Closest in minicnn: GradientTape"]),
    ("minicnn", "Sequentail", ["Closest in minicnn: Sequential"]),
    ("minicnn.utils", "to_categorial", ["Closest in minicnn.utils: to_categorical"]),
    ("minicnn.utils", "clear_session", ["minicnn has it as minicnn.backend.clear_session"]),
    ("minicnn.backend", "suum", ["Closest in minicnn.backend: sum"]),
    ("minicnn.backend", "set_floatx", ["Closest in minicnn.backend: floatx"]),
    ("minicnn.layers", "NoSuchThing", ["dir(minicnn.layers) lists what it has"]),
])
def test_a_missing_name_says_what_comes_closest_and_what_is_planned(module, name, says):
    """Keras raises a bare AttributeError (``module 'keras.layers' has no attribute ...``). minicnn
    keeps the type, so ``hasattr`` and ``getattr(m, name, default)`` behave the same, and adds the
    closest names it has and whether the name is planned; ``from m import Name`` still gives
    Python's own ImportError, which no module can change."""
    m = importlib.import_module(module)
    with pytest.raises(AttributeError) as info:
        getattr(m, name)
    text = str(info.value)
    assert text.startswith(f"module {module!r} has no attribute {name!r}.")
    assert info.value.name == name
    for fragment in says:
        assert fragment in text, text
    assert not hasattr(m, name) and getattr(m, name, "default") == "default"


def test_a_planned_name_says_which_issue_plans_it(monkeypatch):
    """The message for a name an open issue plans (none is planned at the moment: issue 24 wrote the
    last ones), and for a misspelling of it."""
    monkeypatch.setitem(missing.ISSUES, 99, "a planned feature")
    monkeypatch.setitem(missing.PLANNED, "minicnn.layers", {"FancyPooling2D": 99})
    with pytest.raises(AttributeError, match=r"planned \(issue 99: a planned feature\)"):
        keras.layers.FancyPooling2D  # noqa: B018
    with pytest.raises(AttributeError, match=r"Planned, not in minicnn yet: FancyPooling2D \(issue 99\)"):
        keras.layers.FancyPoolin2D  # noqa: B018


def test_keras_3_top_level_classes_are_there():
    assert keras.Layer is keras.layers.Layer and keras.Loss is keras.losses.Loss
    assert keras.Metric is keras.metrics.Metric and keras.Optimizer is keras.optimizers.Optimizer


def test_what_the_issue_names_exists_or_is_explained():
    assert callable(keras.utils.plot_model)  # named as missing in the issue; written since
    assert callable(keras.layers.Conv2DTranspose)  # the issue's AttributeError; written since


def test_private_and_dunder_names_get_the_plain_message():
    """copy, pickle, doctest and pytest probe modules for dunder names: they get Python's plain text."""
    for m in (keras, keras.layers, keras.utils, keras.backend):
        with pytest.raises(AttributeError) as info:
            m.__wrapped__  # noqa: B018
        assert str(info.value).endswith("has no attribute '__wrapped__'")


@pytest.mark.parametrize("module", sorted(missing.PLANNED))
def test_planned_names_are_still_missing(module):
    """A name written since it was planned must leave missing.PLANNED, or the message would lie."""
    m = importlib.import_module(module)
    written = [name for name in missing.PLANNED[module] if name in dir(m) or name in vars(m)]
    assert written == [], f"remove {written} from minicnn.missing.PLANNED[{module!r}]"
    assert set(missing.PLANNED[module].values()) <= set(missing.ISSUES)


def test_names_said_to_be_elsewhere_are_there():
    for where in missing.ELSEWHERE.values():
        for path in where.values():
            module, _, name = path.split(",")[0].rpartition(".")
            assert hasattr(importlib.import_module(module), name), path


def test_the_lazy_submodules_still_import():
    assert keras.datasets.mnist.load_sample and keras.preprocessing.image.ImageDataGenerator


# -- keras.backend.clear_session ----------------------------------------------------------------

def test_backend_clear_session_resets_automatic_names():
    """Keras 3's keras.backend.clear_session(free_memory=True): names start again at ``dense``."""
    assert [Dense(2).name for _ in range(3)] == ["dense", "dense_1", "dense_2"]
    keras.backend.clear_session()
    assert Dense(2).name == "dense"
    keras.backend.clear_session(free_memory=False)
    assert Flatten().name == "flatten" and Dense(2).name == "dense"


def test_backend_clear_session_works_when_the_backend_is_imported_first():
    code = ("import minicnn.backend as K; K.clear_session(); from minicnn.layers import Dense; "
            "Dense(1); K.clear_session(); print(Dense(1).name)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert done.returncode == 0 and done.stdout.strip() == "dense", done.stderr[-2000:]


# -- the unscaled-images warning points at the user's fit line ---------------------------------

def _model(functional):
    if functional:
        inputs = keras.Input(shape=(4, 4, 1))
        model = keras.Model(inputs, Dense(2, activation="softmax")(Flatten()(inputs)))
    else:
        model = keras.Sequential([Flatten(input_shape=(4, 4, 1)), Dense(2, activation="softmax")])
    model.compile(optimizer="sgd", loss="sparse_categorical_crossentropy")
    return model


@pytest.mark.parametrize("functional", [False, True], ids=["sequential", "functional"])
@pytest.mark.parametrize("validation_split", [0.0, 0.5])
def test_unscaled_images_warning_points_at_the_fit_call(monkeypatch, functional, validation_split):
    """Keras does not warn about unscaled images at all; minicnn warns once, at the user's line."""
    from minicnn import fit_loop
    monkeypatch.setitem(fit_loop._warned, "unscaled", False)
    model = _model(functional)
    x, y = np.full((8, 4, 4, 1), 200, np.uint8), np.zeros(8, int)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        line = sys._getframe().f_lineno + 1
        model.fit(x, y, epochs=1, verbose=0, validation_split=validation_split)
    [warning] = [w for w in caught if "not scaled" in str(w.message)]
    assert (warning.filename, warning.lineno) == (__file__, line)


def test_unscaled_images_warning_points_at_the_fit_call_of_a_script(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(
        "import numpy as np, minicnn as keras\n"
        "from minicnn.layers import Dense, Flatten\n"
        "m = keras.Sequential([Flatten(input_shape=(4, 4, 1)), Dense(2, activation='softmax')])\n"
        "m.compile(optimizer='sgd', loss='sparse_categorical_crossentropy')\n"
        "m.fit(np.full((8, 4, 4, 1), 200, np.uint8), np.zeros(8, int), verbose=0)\n")
    done = subprocess.run([sys.executable, "-W", "always", str(script)], capture_output=True, text=True,
                          timeout=60, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"{script}:5: UserWarning: fit got integer inputs (uint8)" in done.stderr, done.stderr[-2000:]
    assert "sys:1" not in done.stderr


# -- a gradient of the wrong shape names the weight ---------------------------------------------

class _ScaleWithBadGradient(Layer):
    """A layer of one's own whose backward sums its weight's gradient to a scalar (the bug)."""

    def _create_params(self, input_shape):
        self.params["gamma"] = self._new_param(np.ones, input_shape)
        self.trainable_names = ("gamma",)

    def forward(self, x, training=False):
        return x * self.params["gamma"], x

    def backward(self, dy, x):
        return dy * self.params["gamma"], {"gamma": (dy * x).sum()}


def test_a_gradient_of_the_wrong_shape_names_the_weight():
    """Keras 3 names the variable (its path, ``layer/weight``); minicnn's arrays carry no names, so
    apply_gradients takes them as ``names=`` and says "parameter i" without."""
    w = [np.ones((3, 3, 1, 8), np.float32), np.ones(8, np.float32)]
    with pytest.raises(ValueError) as info:
        Adam().apply_gradients(w, [np.ones((3, 3, 1, 8)), np.float32(0.5)], names=["conv2d/kernel", "conv2d/bias"])
    assert str(info.value).startswith(
        "Adam: the gradient of weight 'conv2d/bias' has shape (), but the weight has shape (8,).")
    with pytest.raises(ValueError, match=r"gradient of parameter 1 has no shape \(a float\), but the weight has shape"):
        Adam().apply_gradients(w, [np.ones((3, 3, 1, 8)), 0.5])
    with pytest.raises(ValueError, match="got 2 parameters but 1 names"):
        SGD().apply_gradients(w, [np.ones((3, 3, 1, 8)), np.ones(8)], names=["conv2d/kernel"])
    assert np.all(w[1] == 1)  # nothing updated before the check


def test_a_layer_backward_with_a_wrong_gradient_shape_fails_fit_clearly():
    model = keras.Sequential([_ScaleWithBadGradient(input_shape=(3,), name="scale"), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match=r"Adam: the gradient of .* has shape \(\), but the weight has shape \(3,\)"):
        model.fit(np.ones((4, 3), np.float32), np.zeros(4, int), verbose=0)


def test_fit_names_the_layer_and_weight_of_a_wrong_gradient():
    model = keras.Sequential([_ScaleWithBadGradient(input_shape=(3,), name="scale"), Dense(2, activation="softmax")])
    model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
    with pytest.raises(ValueError, match="gradient of weight 'scale/gamma' has shape"):
        model.fit(np.ones((4, 3), np.float32), np.zeros(4, int), verbose=0)


# -- the README ---------------------------------------------------------------------------------

README = (ROOT / "README.md").read_text()


def test_the_layout_lists_every_module_and_package():
    block = README[README.index("## Layout"):]
    block = block[block.index("```"):block.index("```", block.index("```") + 3)]
    listed = set(re.findall(r"^  (\w+(?:\.py|/))", block, re.MULTILINE))
    present = {p.name + ("/" if p.is_dir() else "") for p in (ROOT / "minicnn").iterdir()
               if (p.suffix == ".py" or (p / "__init__.py").is_file())}
    assert present - listed == set(), f"not in the README's layout: {sorted(present - listed)}"
    assert listed - present == set(), f"in the README's layout but not in minicnn/: {sorted(listed - present)}"


def test_the_test_section_says_which_tests_skip_without_shared_data():
    text = " ".join(README[:README.index("## A first example")].split())
    assert "`../shared/data`" in text and "without it they skip with a reason" in text
    conftest = (ROOT / "tests" / "conftest.py").read_text()
    assert 'SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"' in conftest
