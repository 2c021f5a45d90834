"""minicnn.GradientTape's API as TensorFlow's: watch, persistent, targets and sources in structures,
unconnected sources, stop_recording, nested tapes, one thread's tape blind to another's ops, and the
gradient with respect to a model's input (saliency) against central differences."""
import threading

import numpy as np
import pytest

import minicnn
from minicnn import layers as L, ops
from minicnn.tape import Tensor
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient


def test_watch_an_array_and_a_tensor():
    x = np.array([1.0, -2.0, 3.0])
    t = Tensor(np.array([0.5, 2.0]))
    with minicnn.GradientTape() as tape:
        tape.watch([x, t])
        y = ops.sum(ops.square(x)) + ops.sum(ops.exp(t))
    gx, gt = tape.gradient(y, [x, t])
    assert isinstance(gx, Tensor)
    np.testing.assert_allclose(gx.numpy(), 2 * x)
    np.testing.assert_allclose(gt.numpy(), np.exp(t.numpy()))


def test_an_unwatched_array_is_not_followed_and_ops_on_it_stay_arrays():
    x = np.array([1.0, 2.0])
    with minicnn.GradientTape() as tape:
        y = ops.sum(ops.square(x))
    assert not isinstance(y, Tensor) and not tape._records
    assert tape.gradient(y, x) is None


def test_watch_refuses_what_has_no_gradient():
    with minicnn.GradientTape() as tape:
        with pytest.raises(TypeError, match="cast it to float32"):
            tape.watch(np.arange(3))
        with pytest.raises(TypeError, match="GradientTape.watch takes arrays"):
            tape.watch("x")


def test_operators_on_a_watched_plain_array_are_numpys_and_not_recorded():
    """A NumPy array's own ``*`` is NumPy's: only minicnn.ops calls (and Tensors' operators) record.
    (TensorFlow records ``x * x`` on a watched tf.Tensor; here, wrap the array in a Tensor first.)"""
    x = np.array([1.0, 2.0])
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        y = ops.sum(x * x)
    assert tape.gradient(y, x) is None


def test_persistent_tape_gives_several_gradients_and_a_plain_one_refuses_a_second_call():
    x = Tensor(np.array([1.0, 2.0, 3.0]))
    with minicnn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        y = x * x
        z = ops.sum(y * y)
    np.testing.assert_allclose(tape.gradient(z, x).numpy(), 4 * x.numpy() ** 3)
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * x.numpy())  # a non-scalar target: its sum's gradient
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        z = ops.sum(x * x)
    tape.gradient(z, x)
    with pytest.raises(RuntimeError, match="persistent=True"):
        tape.gradient(z, x)


def test_a_list_of_targets_is_summed_and_output_gradients_seed_each():
    x = Tensor(np.array([1.0, 2.0]))
    with minicnn.GradientTape(persistent=True) as tape:
        tape.watch(x)
        a, b = ops.sum(ops.square(x)), ops.sum(3 * x)
    np.testing.assert_allclose(tape.gradient([a, b], x).numpy(), 2 * x.numpy() + 3)
    np.testing.assert_allclose(tape.gradient([a, b], x, output_gradients=[2.0, -1.0]).numpy(), 4 * x.numpy() - 3)


def test_sources_as_a_list_a_tuple_a_dict_or_one_and_unconnected_ones():
    x, w, free = np.array([1.0, 2.0]), np.array([3.0, -1.0]), np.array([5.0])
    with minicnn.GradientTape(persistent=True) as tape:
        tape.watch([x, w, free])
        y = ops.sum(ops.multiply(x, w))
    assert isinstance(tape.gradient(y, [x, w]), list)
    gx, gw = tape.gradient(y, (x, w))
    np.testing.assert_allclose(gx.numpy(), w)
    np.testing.assert_allclose(gw.numpy(), x)
    d = tape.gradient(y, {"x": x, "free": free})
    assert set(d) == {"x", "free"} and d["free"] is None
    np.testing.assert_allclose(tape.gradient(y, w).numpy(), x)
    zero = tape.gradient(y, free, unconnected_gradients="zero")
    np.testing.assert_array_equal(zero.numpy(), np.zeros(1))
    with pytest.raises(ValueError, match="unconnected_gradients"):
        tape.gradient(y, x, unconnected_gradients="nan")


def test_stop_recording_leaves_its_block_off_the_tape():
    x = np.array([1.0, 2.0])
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        with tape.stop_recording():
            constant = ops.square(x)  # a constant to the tape
        y = ops.sum(ops.multiply(constant, x))
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), x ** 2)


def test_nested_tapes_both_record():
    x = np.array([0.5, -1.5])
    with minicnn.GradientTape() as outer:
        outer.watch(x)
        with minicnn.GradientTape() as inner:
            inner.watch(x)
            y = ops.sum(ops.tanh(x))
        z = y * 2.0
    np.testing.assert_allclose(inner.gradient(y, x).numpy(), 1 - np.tanh(x) ** 2)
    np.testing.assert_allclose(outer.gradient(z, x).numpy(), 2 * (1 - np.tanh(x) ** 2))


def test_a_tape_does_not_record_another_threads_ops():
    x = np.array([1.0, 2.0, 3.0])
    opened, done, seen = threading.Event(), threading.Event(), {}

    def other():
        opened.wait(5)
        y = ops.multiply(x, 10.0)  # the other thread's tape watches x; this thread has none
        seen["type"] = type(y)
        done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        opened.set()
        assert done.wait(5)
        y = ops.sum(ops.multiply(x, x))
    thread.join()
    assert seen["type"] is np.ndarray
    assert len(tape._records) == 2  # this thread's multiply and sum only
    np.testing.assert_allclose(tape.gradient(y, x).numpy(), 2 * x)


def test_gradients_from_two_threads_tapes_at_once():
    results, errors = {}, []

    def work(k):
        try:
            x = np.full(50, float(k))
            for _ in range(20):
                with minicnn.GradientTape() as tape:
                    tape.watch(x)
                    y = ops.sum(ops.power(x, 3.0))
                g = tape.gradient(y, x).numpy()
            results[k] = g
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    threads = [threading.Thread(target=work, args=(k,)) for k in (1, 2, 3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for k in (1, 2, 3):
        np.testing.assert_allclose(results[k], 3 * k ** 2)


def _float64_model():
    kw = dict(dtype="float64")
    inputs = minicnn.Input((5, 5, 2), dtype="float64")
    x = L.Conv2D(3, 3, padding="same", activation="tanh", **kw)(inputs)
    x = L.BatchNormalization(**kw)(x)
    x = L.AveragePooling2D(**kw)(x)
    x = L.Flatten(**kw)(x)
    return minicnn.Model(inputs, L.Dense(4, activation="softmax", **kw)(L.Dense(6, activation="tanh", **kw)(x)))


@pytest.mark.parametrize("training", [False, True])
def test_saliency_the_gradient_wrt_a_models_input_matches_central_differences(training):
    set_random_seed(3)
    model = _float64_model()
    bn = [layer for layer in model.layers if isinstance(layer, L.BatchNormalization)][0]
    rng = np.random.default_rng(0)
    bn.set_weights([rng.uniform(0.5, 1.5, 3), rng.standard_normal(3), rng.standard_normal(3), rng.uniform(0.5, 2, 3)])
    x = rng.standard_normal((3, 5, 5, 2))
    weights = rng.standard_normal(4)

    def score(inputs):  # the class scores weighted, summed over the batch
        return float((model(inputs, training=training) * weights).sum())
    expected = numerical_gradient(lambda: score(x), x)
    moving = bn.get_weights()[2:]
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        out = model(x, training=training)
        s = ops.sum(out * weights)
    grad = tape.gradient(s, x)
    assert grad.shape == x.shape and grad.dtype == np.float64
    np.testing.assert_allclose(grad.numpy(), expected, rtol=1e-6, atol=1e-9)
    assert float(s) == pytest.approx(score(x))
    committed = not all(np.array_equal(a, b) for a, b in zip(moving, bn.get_weights()[2:]))
    assert committed == training  # a training call on the tape moves BN's statistics, as Keras's does


def test_fit_on_built_in_layers_never_enters_the_tape():
    """The tape is a room of its own: fit, evaluate and predict of the tutorial CNN call no function of
    minicnn/tape/ or minicnn/ops/ (seen by a profiler on the calling thread, where the plan runs its
    steps). The same check sees the tape at once when one Lambda is added."""
    import os
    import sys
    import threading

    from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    model = minicnn.Sequential([Conv2D(4, 3, activation="relu", input_shape=(10, 10, 1)), MaxPooling2D(),
                                Dropout(0.25), Flatten(), Dense(5, activation="softmax")])
    model.compile("adadelta", "categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x, y = rng.random((16, 10, 10, 1), dtype=np.float32), np.eye(5, dtype=np.float32)[rng.integers(0, 5, 16)]
    rooms = tuple(os.path.join(os.path.dirname(minicnn.__file__), d) + os.sep for d in ("tape", "ops"))
    entered = set()

    def profiler(frame, event, arg):
        if event == "call" and frame.f_code.co_filename.startswith(rooms):
            entered.add(f"{frame.f_code.co_filename}:{frame.f_code.co_name}")
    threading.setprofile(profiler)
    sys.setprofile(profiler)
    try:
        model.fit(x, y, batch_size=8, epochs=2, validation_split=0.25, verbose=0)
        model.evaluate(x, y, verbose=0)
        model.predict(x)
        model.train_on_batch(x, y)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
    assert entered == set()
    with_lambda = minicnn.Sequential([*model.layers[:-1], minicnn.layers.Lambda(lambda t: t * 2.0),
                                      model.layers[-1]])
    with_lambda.compile("sgd", "categorical_crossentropy")
    sys.setprofile(profiler)
    try:
        with_lambda.train_on_batch(x, y)
    finally:
        sys.setprofile(None)
    assert any(name.endswith(":forward_user_layer") for name in entered)
