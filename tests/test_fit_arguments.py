"""Arguments of fit, compile, evaluate and predict that are wrong must not train silently: each is
refused with a message that names it, or warned about where Keras trains on (issue 25).

Where Keras 3.15.1 (torch backend) behaves otherwise, the test's docstring says what it does and
why minicnn does something else.
"""
import warnings

import numpy as np
import pytest

from minicnn import Input, Model, Sequential
from minicnn import losses
from minicnn.callbacks import Callback
from minicnn.layers import Activation, Dense, Softmax
from minicnn.optimizers import SGD
from minicnn.utils import Sequence, set_random_seed


def data(n=12, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 5)).astype(np.float32)
    return x, np.eye(3, dtype=np.float32)[np.arange(n) % 3]


def model(**compile_args):
    set_random_seed(4)
    m = Sequential([Dense(8, activation="relu", input_dim=5), Dense(3, activation="softmax")])
    m.compile(**{"optimizer": SGD(0.1), "loss": "categorical_crossentropy", **compile_args})
    return m


def batches(x, y, count, batch_size=4):
    """A generator of ``count`` batches, then nothing more (it runs once)."""
    for i in range(count):
        lo = i * batch_size % len(x)
        yield x[lo:lo + batch_size], y[lo:lo + batch_size]


class Counter(Callback):
    def __init__(self):
        self.batches, self.epochs = [], []

    def on_train_batch_end(self, batch, logs=None):
        self.batches.append(batch)

    def on_epoch_end(self, epoch, logs=None):
        self.epochs.append(epoch)


def caught(call):
    """The warnings ``call()`` gives (every one, each time), and its result."""
    with warnings.catch_warnings(record=True) as found:
        warnings.simplefilter("always")
        result = call()
    return found, result


# -- class_weight ----------------------------------------------------------------------------------

@pytest.mark.parametrize("weights", [{0: -1.0, 1: 1.0, 2: 1.0}, {0: 1.0, 1: float("nan"), 2: 1.0},
                                     {0: 1.0, 1: "2", 2: 1.0}])
def test_negative_or_non_numeric_class_weight_is_refused(weights):
    """Keras 3 trains with a negative class weight (toward a loss without bound, so the loss goes
    negative); minicnn refuses it, as it already refused negative sample weights."""
    x, y = data()
    m = model()
    before = m.get_weights()
    with pytest.raises(ValueError, match="class_weight must give each class a finite, non-negative weight"):
        m.fit(x, y, class_weight=weights, verbose=0)
    for a, b in zip(before, m.get_weights()):
        np.testing.assert_array_equal(a, b)
    m.fit(x, y, class_weight={0: 0.0, 1: 1.0, 2: 2.5}, verbose=0)  # 0 (ignore a class) is fine


# -- a generator that runs out ---------------------------------------------------------------------

def test_a_generator_that_runs_out_warns_and_ends_the_epoch_with_its_logs():
    """Keras 3 warns "Your input ran out of data; interrupting training" and ends the epoch, then
    goes on to the next epochs, each of which warns again and logs the metrics left from before.
    minicnn warns the same, saying how many batches came, ends the epoch with the logs of those
    batches, and stops training at the first epoch that gets no batch at all (Keras 2 stopped at
    the first shortfall): an empty epoch has nothing to log."""
    x, y = data()
    m, counter = model(), Counter()
    found, history = caught(lambda: m.fit(batches(x, y, 3), steps_per_epoch=5, epochs=3, verbose=0,
                                          callbacks=[counter]))
    messages = [str(w.message) for w in found]
    assert len(messages) == 2, messages
    assert messages[0].startswith("Your input ran out of data; interrupting training.")
    assert "gave 3 batches in this epoch, fewer than steps_per_epoch=5" in messages[0]
    assert "steps_per_epoch * epochs" in messages[0]
    assert "gave no batch for this epoch" in messages[1] and "training stops here" in messages[1]
    assert all(w.filename == __file__ for w in found)  # the warning points at the user's fit call
    assert counter.batches == [0, 1, 2] and counter.epochs == [0]
    assert len(history.history["loss"]) == 1
    reference = model()  # the same three batches, as arrays: the same epoch
    reference.fit(x, y, batch_size=4, shuffle=False, verbose=0)
    assert history.history["loss"][0] == pytest.approx(reference.history.history["loss"][0], rel=1e-6)


def test_enough_batches_and_sequences_never_warn():
    x, y = data()

    class Three(Sequence):
        def __len__(self):
            return 3

        def __getitem__(self, i):
            return x[4 * i:4 * i + 4], y[4 * i:4 * i + 4]

    found, _ = caught(lambda: model().fit(batches(x, y, 10), steps_per_epoch=5, epochs=2, verbose=0))
    assert found == []
    found, history = caught(lambda: model().fit(Three(), steps_per_epoch=5, epochs=2, verbose=0))
    assert found == [] and len(history.history["loss"]) == 2  # a Sequence is indexed round, never runs out


def test_evaluating_a_generator_that_runs_out():
    """Keras 3 gives the same warning in evaluate and predict (it says "training" there too); minicnn
    says what it evaluated on, and refuses a generator that gives nothing rather than dividing by 0."""
    x, y = data()
    m = model()
    found, loss = caught(lambda: m.evaluate(batches(x, y, 2), steps=3, verbose=0))
    assert len(found) == 1 and "gave 2 of steps=3 batches" in str(found[0].message)
    assert loss == pytest.approx(m.evaluate(x[:8], y[:8], verbose=0), rel=1e-6)
    with pytest.raises(ValueError, match="gave no batch"):
        m.evaluate(batches(x, y, 0), steps=3, verbose=0)
    with pytest.raises(ValueError, match="gave no batch"):
        m.predict(batches(x, y, 0), steps=3)


# -- epochs, steps and batch sizes ----------------------------------------------------------------

@pytest.mark.parametrize("epochs, initial_epoch", [(2, 2), (2, 5), (0, 0)])
def test_initial_epoch_at_or_past_epochs_warns(epochs, initial_epoch):
    """Keras 3 returns an empty History without a word (epochs is the epoch to stop at, a common
    misreading when resuming); minicnn warns, and trains nothing as Keras does."""
    x, y = data()
    found, history = caught(lambda: model().fit(x, y, epochs=epochs, initial_epoch=initial_epoch, verbose=0))
    assert history.history == {}
    assert len(found) == 1 and found[0].filename == __file__
    message = str(found[0].message)
    assert f"fit(epochs={epochs}, initial_epoch={initial_epoch}) trains nothing" in message
    assert "epochs=initial_epoch + n" in message
    found, history = caught(lambda: model().fit(x, y, epochs=3, initial_epoch=2, verbose=0))
    assert found == [] and len(history.history["loss"]) == 1


@pytest.mark.parametrize("size, exc, words", [
    (0, ValueError, "at least 1, got 0"), (-4, ValueError, "at least 1"), (2.5, TypeError, "a positive integer"),
    ("8", TypeError, "a positive integer"), (True, TypeError, "a positive integer")])
def test_bad_validation_batch_size_is_refused(size, exc, words):
    """Keras 3 reads ``validation_batch_size or batch_size``, so 0 silently falls back to batch_size;
    minicnn refuses it as it refuses such a batch_size."""
    x, y = data()
    with pytest.raises(exc, match=f"validation_batch_size must be {words}"):
        model().fit(x, y, validation_data=(x, y), validation_batch_size=size, verbose=0)
    m = model()
    history = m.fit(x, y, validation_data=(x, y), validation_batch_size=5, verbose=0)
    assert history.history["val_loss"][0] == pytest.approx(m.evaluate(x, y, batch_size=5, verbose=0), rel=1e-6)


def test_a_sequence_of_length_zero_is_named():
    """Keras 3 fails inside the model (``inputs=None``); minicnn names the Sequence and its length
    instead of a steps_per_epoch the user never passed."""
    class Empty(Sequence):
        def __len__(self):
            return 0

        def __getitem__(self, i):
            raise IndexError(i)

    x, y = data()
    for call in (lambda: model().fit(Empty(), verbose=0), lambda: model().fit(Empty(), steps_per_epoch=2, verbose=0),
                 lambda: model().evaluate(Empty(), verbose=0), lambda: model().predict(Empty()),
                 lambda: model().fit(x, y, validation_data=Empty(), verbose=0)):
        with pytest.raises(ValueError, match=r"The Sequence Empty has length 0 \(its __len__ returned 0\)") as info:
            call()
        assert "steps_per_epoch must" not in str(info.value)


@pytest.mark.parametrize("steps", [0, -1, 1.5, True])
def test_zero_or_bad_steps_with_arrays_are_refused(steps):
    """Keras 3 takes ``steps_per_epoch=0`` as unset and runs whole epochs; minicnn refuses 0 (it
    ended in a ZeroDivisionError), for validation_steps and evaluate's steps too."""
    x, y = data()
    m = model()
    with pytest.raises(ValueError, match="steps_per_epoch must be a positive integer"):
        m.fit(x, y, steps_per_epoch=steps, verbose=0)
    with pytest.raises(ValueError, match="validation_steps must be a positive integer"):
        m.fit(x, y, validation_data=(x, y), validation_steps=steps, verbose=0)
    with pytest.raises(ValueError, match="steps must be a positive integer"):
        m.evaluate(x, y, steps=steps, verbose=0)
    assert len(m.fit(x, y, batch_size=4, steps_per_epoch=2, verbose=0).history["loss"]) == 1


# -- compile ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("metrics", [42, True, 2.5])
def test_metrics_that_are_no_list_name_or_metric_are_a_type_error(metrics):
    """Keras 3 raises a ValueError for anything but a list, tuple or dict (a single name too);
    minicnn raises a TypeError (a wrong type), and still takes a single name, metric object or
    function as Keras 2 did."""
    with pytest.raises(TypeError, match=rf"compile: metrics must be a list of metrics .* got metrics={metrics!r}"):
        model(metrics=metrics)
    assert model(metrics="accuracy").metrics_names == ["loss", "accuracy"]


def _logits_warnings(m, loss):
    """The messages of compile's from_logits warnings, and where they point."""
    found, _ = caught(lambda: m.compile(SGD(0.1), loss))
    found = [w for w in found if "from_logits=True" in str(w.message)]
    return [str(w.message) for w in found], [w.filename for w in found]


@pytest.mark.parametrize("last", [lambda: [Dense(3, activation="softmax", name="probs")],
                                  lambda: [Dense(3, name="scores"), Activation("softmax", name="probs")],
                                  lambda: [Dense(3, name="scores"), Softmax(name="probs")]])
def test_from_logits_after_a_softmax_warns_naming_the_layer(last):
    """Keras 3 on torch and JAX says nothing (on TensorFlow its crossentropy warns at every call);
    minicnn warns once, at compile, naming the layer, built or not yet."""
    for m in (Sequential([Dense(4, input_dim=5), *last()]), Sequential([Dense(4), *last()])):
        messages, files = _logits_warnings(m, losses.CategoricalCrossentropy(from_logits=True))
        assert len(messages) == 1 and "layer 'probs' ends in a softmax" in messages[0], messages
        assert files == [__file__]
        assert _logits_warnings(m, losses.CategoricalCrossentropy())[0] == []
        assert _logits_warnings(m, "sparse_categorical_crossentropy")[0] == []
    plain = Sequential([Dense(4, input_dim=5), Dense(3)])
    assert _logits_warnings(plain, losses.SparseCategoricalCrossentropy(from_logits=True))[0] == []


def test_from_logits_after_a_sigmoid_and_on_one_output_of_several():
    inputs = Input((5,))
    hidden = Dense(4)(inputs)
    m = Model(inputs, [Dense(3, activation="softmax", name="kind")(hidden),
                       Dense(1, activation="sigmoid", name="flag")(hidden), Dense(2, name="raw")(hidden)])
    messages, _ = _logits_warnings(m, {"kind": "categorical_crossentropy",
                                       "flag": losses.BinaryCrossentropy(from_logits=True),
                                       "raw": losses.CategoricalCrossentropy(from_logits=True)})
    assert len(messages) == 1 and "output 'flag'" in messages[0] and "'flag' ends in a sigmoid" in messages[0]
    outer = Model(inputs, Model(inputs, Dense(3, activation="softmax", name="inner_probs")(hidden))(inputs))
    messages, _ = _logits_warnings(outer, losses.CategoricalCrossentropy(from_logits=True))
    assert len(messages) == 1 and "'inner_probs'" in messages[0]  # found inside a nested model


# -- verbose ---------------------------------------------------------------------------------------

def test_verbose_auto_is_one_and_unknown_values_are_refused(capsys):
    """Keras 3's ``"auto"`` is 1 (its ProgbarLogger; Keras 2 made it 2 under a
    ParameterServerStrategy only), and Keras 3 prints nothing for an unknown value such as 3;
    minicnn refuses unknown values, in fit, evaluate and predict alike."""
    x, y = data()
    m = model()
    m.fit(x, y, verbose=1)
    by_one = capsys.readouterr().out
    m.fit(x, y, verbose="auto")
    by_auto = capsys.readouterr().out
    assert "1/1" in by_auto and "loss:" in by_auto
    assert by_auto.count("\n") == by_one.count("\n")
    m.fit(x, y)  # the default is "auto", as Keras 3's
    assert "loss:" in capsys.readouterr().out
    m.evaluate(x, y, verbose="auto")
    assert "loss:" in capsys.readouterr().out
    m.predict(x, verbose="auto")
    assert "1/1" in capsys.readouterr().out
    for call in (lambda v: m.fit(x, y, verbose=v), lambda v: m.evaluate(x, y, verbose=v),
                 lambda v: m.predict(x, verbose=v)):
        for bad, exc in ((3, ValueError), ("quiet", ValueError), (None, TypeError), (1.0, TypeError)):
            with pytest.raises(exc, match="verbose must be 0 .*, 1 .*, 2 .* or 'auto'"):
                call(bad)
    assert capsys.readouterr().out == ""
    m.fit(x, y, verbose=False)
    m.fit(x, y, verbose=2)
    assert capsys.readouterr().out.count("\n") == 2  # "Epoch 1/1" and the epoch's line
