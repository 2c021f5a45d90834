"""The functional API: graphs of layers under Model (and Sequential), their gradients against float64
numerical gradients (fan-out, shared layers, several outputs, nested models), the planner's fusion
rules on a graph, several inputs and outputs in fit/evaluate/predict, and the errors."""
import threading

import numpy as np
import pytest

import minicnn as keras
from minicnn import backend
from minicnn.layers import (Activation, BatchNormalization, Concatenate, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, MaxPooling2D, add)
from minicnn.optimizers import SGD
from minicnn.utils import set_random_seed
from minicnn.utils.gradcheck import numerical_gradient, relative_error

F64 = dict(dtype="float64")


@pytest.fixture(params=[False, True], ids=["plain", "fast"])
def path(request):
    saved = backend.fast_path()
    backend.set_fast_path(request.param)
    yield request.param
    backend.set_fast_path(saved)


def residual_model():
    """conv (relu) feeds a second conv and, around it, the add: a tensor with two readers."""
    set_random_seed(1)
    inputs = keras.Input(shape=(6, 6, 2), **F64)
    x = Conv2D(3, 3, padding="same", activation="relu", **F64)(inputs)
    y = Conv2D(3, 3, padding="same", **F64)(x)
    y = BatchNormalization(**F64)(y)
    z = Activation("relu", **F64)(add([x, y], **F64))
    z = MaxPooling2D(**F64)(z)
    return keras.Model(inputs, Dense(4, activation="softmax", **F64)(Flatten(**F64)(z)))


def shared_two_output_model():
    """One Dense used on two inputs (siamese), a concatenation, two heads with their own losses."""
    set_random_seed(2)
    a, b = keras.Input(shape=(5,), name="a", **F64), keras.Input(shape=(5,), name="b", **F64)
    shared = Dense(4, activation="tanh", name="shared", **F64)
    merged = Concatenate(**F64)([shared(a), shared(b)])
    cls = Dense(3, activation="softmax", name="cls", **F64)(merged)
    reg = Dense(2, name="reg", **F64)(keras.layers.subtract([shared(a), shared(b)], **F64))
    return keras.Model([a, b], [cls, reg])


def nested_model():
    set_random_seed(3)
    inner_in = keras.Input(shape=(4,), **F64)
    encoder = keras.Model(inner_in, Dense(3, activation="tanh", **F64)(inner_in), name="encoder")
    x = keras.Input(shape=(4,), **F64)
    h = encoder(x)
    out = Dense(2, activation="softmax", **F64)(keras.layers.concatenate([h, encoder(x)], **F64))
    return keras.Model(x, out)


def step_gradients(model, xs, ys):
    """The plan's gradients of the compiled loss, as one training step computes them."""
    plan = model._plan()
    losses = list(zip(model._objectives.losses, model._objectives.loss_weights))
    outs, caches = plan.forward(xs, True)
    _, _, douts = plan.loss(losses, model._targets(ys, outs), outs)
    return plan.weights, plan.backward(douts, caches)


def total_loss(model, xs, ys):
    plan = model._plan()
    losses = list(zip(model._objectives.losses, model._objectives.loss_weights))
    outs = plan.forward(xs, True)[0]  # training mode: batch statistics, as the step differentiates
    return float(plan.loss(losses, model._targets(ys, outs), outs)[0])


def check_model_gradients(model, xs, ys):
    weights, grads = step_gradients(model, xs, ys)
    assert len({id(w) for w in weights}) == len(weights)  # every weight once, shared or not
    for w, g in zip(weights, grads):
        numeric = numerical_gradient(lambda: total_loss(model, xs, ys), w)
        # (atol: a bias just before BatchNormalization has a gradient of zero)
        assert relative_error(g, numeric) < 1e-7 or np.abs(g - numeric).max() < 1e-8, (w.shape, g, numeric)


def test_residual_graph_gradients(path):
    model = residual_model()
    model.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 6, 6, 2))
    check_model_gradients(model, [x], [np.eye(4)[rng.integers(0, 4, 5)]])


def test_shared_layer_and_two_outputs_gradients(path):
    model = shared_two_output_model()
    model.compile("sgd", {"cls": "categorical_crossentropy", "reg": "mse"}, loss_weights={"cls": 1.0, "reg": 0.3})
    rng = np.random.default_rng(1)
    xs = [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))]
    check_model_gradients(model, xs, [np.eye(3)[rng.integers(0, 3, 6)], rng.standard_normal((6, 2))])


def test_nested_model_gradients(path):
    model = nested_model()
    model.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(2)
    check_model_gradients(model, [rng.standard_normal((4, 4))], [np.eye(2)[rng.integers(0, 2, 4)]])


def test_a_shared_layer_is_updated_once_with_the_sum_of_its_gradients():
    model = shared_two_output_model()
    model.compile(SGD(0.1), ["categorical_crossentropy", "mse"])
    rng = np.random.default_rng(3)
    xs, ys = [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))], [np.eye(3)[[0, 1, 2] * 2], rng.random((6, 2))]
    kernel = model.get_layer("shared").params["kernel"]
    before = kernel.copy()
    numeric = numerical_gradient(lambda: total_loss(model, xs, ys), kernel)
    model.train_on_batch(xs, ys)
    np.testing.assert_allclose(kernel, before - 0.1 * numeric, rtol=1e-6, atol=1e-9)


def test_fit_takes_lists_and_dicts_and_logs_keras_names():
    model = shared_two_output_model()
    model.compile("adam", {"cls": "categorical_crossentropy", "reg": "mse"}, loss_weights=[1.0, 0.5],
                  metrics={"cls": ["accuracy"], "reg": ["mae"]})
    rng = np.random.default_rng(4)
    x = {"a": rng.standard_normal((20, 5)), "b": rng.standard_normal((20, 5))}
    y = {"cls": np.eye(3)[rng.integers(0, 3, 20)], "reg": rng.standard_normal((20, 2))}
    history = model.fit(x, y, epochs=2, batch_size=8, verbose=0, validation_split=0.2)
    assert set(history.history) == {"loss", "cls_loss", "reg_loss", "cls_accuracy", "reg_mae", "val_loss",
                                    "val_cls_loss", "val_reg_loss", "val_cls_accuracy", "val_reg_mae"}
    logs = model.evaluate([x["a"], x["b"]], [y["cls"], y["reg"]], verbose=0, return_dict=True)
    assert logs["loss"] == pytest.approx(logs["cls_loss"] + 0.5 * logs["reg_loss"], rel=1e-9)  # each unweighted
    plain = model.evaluate(x, y, verbose=0)
    assert plain == [logs[k] for k in model.metrics_names]
    outs = model.predict(x, batch_size=7)
    assert isinstance(outs, list) and [o.shape for o in outs] == [(20, 3), (20, 2)]
    np.testing.assert_allclose(outs[1], model([x["a"], x["b"]])[1], rtol=1e-12)


def test_an_output_without_loss_is_not_trained_and_needs_no_targets():
    model = shared_two_output_model()
    model.compile(SGD(0.1), {"cls": "categorical_crossentropy"})
    reg = model.get_layer("reg").params["kernel"].copy()
    rng = np.random.default_rng(5)
    model.fit([rng.random((8, 5)), rng.random((8, 5))], {"cls": np.eye(3)[[0, 1] * 4]}, epochs=1, verbose=0)
    np.testing.assert_array_equal(model.get_layer("reg").params["kernel"], reg)


def test_generators_may_yield_dicts():
    model = shared_two_output_model()
    model.compile("sgd", ["categorical_crossentropy", "mse"])
    rng = np.random.default_rng(6)

    def batches():
        while True:
            yield ({"a": rng.random((4, 5)), "b": rng.random((4, 5))},
                   {"cls": np.eye(3)[[0, 1, 2, 0]], "reg": rng.random((4, 2))})
    history = model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])


def test_feature_extraction_shares_the_weights():
    model = residual_model()
    features = keras.Model(model.input, [layer.output for layer in model.layers[1:]])
    x = np.random.default_rng(7).standard_normal((3, 6, 6, 2))
    outs = features.predict(x)
    np.testing.assert_allclose(outs[-1], model.predict(x), rtol=1e-12)
    conv = keras.Model(model.inputs, model.get_layer(model.layers[1].name).output)
    np.testing.assert_allclose(conv.predict(x), outs[0], rtol=1e-12)
    assert conv.layers[1] is model.layers[1]


def test_sequential_layers_have_outputs_for_feature_extraction():
    set_random_seed(0)
    model = keras.Sequential([keras.Input(shape=(4,)), Dense(5, activation="relu", name="d1"), Dense(2, name="d2")])
    extractor = keras.Model(model.inputs, [layer.output for layer in model.layers])
    x = np.random.default_rng(8).random((3, 4)).astype("float32")
    hidden, out = extractor.predict(x)
    np.testing.assert_allclose(out, model.predict(x), rtol=1e-6)
    np.testing.assert_allclose(hidden, np.maximum(x @ model.layers[0].params["kernel"] + model.layers[0].params["bias"],
                                                  0), rtol=1e-5)
    popped = model.pop()
    with pytest.raises(AttributeError, match="has no output"):
        popped.output  # noqa: B018  (the popped layer's node went with the model's old graph)
    assert model.layers[0].output.shape == (None, 5) and model.output is model.layers[0].output


def test_model_layers_order_and_summary_connected_to():
    model = residual_model()
    names = [type(l).__name__ for l in model.layers]
    assert names == ["InputLayer", "Conv2D", "Conv2D", "BatchNormalization", "Add", "Activation",
                     "MaxPooling2D", "Flatten", "Dense"]
    lines = []
    model.summary(print_fn=lines.append)
    text = lines[0]
    assert "Connected to" in text
    conv, bn = model.layers[1].name, model.layers[3].name
    assert f"{conv}[0][0]" in text and f"{bn}[0][0]" in text


def test_planner_fuses_only_where_the_graph_allows(path):
    if not path:
        return
    inputs = keras.Input(shape=(8, 8, 1))
    a = Conv2D(4, 3, activation="relu", name="a")(inputs)
    pooled = MaxPooling2D(name="pool_a")(a)               # a has two readers: no conv+pool fusion,
    b = Conv2D(4, 3, activation="relu", name="b")(a)      # and both can apply a's ReLU derivative
    c = Conv2D(4, 3, activation="relu", name="c")(b)      # b's readers: c, and a Flatten that cannot
    p = MaxPooling2D(name="pool_c")(c)                    # c's only reader: one step with c
    out = Dense(2, activation="softmax")(Concatenate()([Flatten()(pooled), Flatten()(p), Flatten()(b)]))
    model = keras.Model(inputs, out)
    model.compile("sgd", "categorical_crossentropy")
    steps = {step.layers[0].name: step for step in model._plan().steps}
    assert [l.name for l in steps["c"].layers] == ["c", "pool_c"]
    assert [l.name for l in steps["a"].layers] == ["a"]
    assert steps["a"].activation_grad_given and steps["b"].input_relu and steps["pool_a"].input_relu
    assert not steps["b"].activation_grad_given and not steps["c"].input_relu
    assert not steps["a"].need_dx and steps["b"].need_dx
    assert model._plan().softmax_loss == [True]


def test_a_softmax_output_read_by_another_layer_is_not_fused_with_the_loss():
    inputs = keras.Input(shape=(4,))
    p = Dense(3, activation="softmax")(inputs)
    model = keras.Model(inputs, [p, Dense(1)(p)])
    model.compile("sgd", ["categorical_crossentropy", "mse"])
    assert model._plan().softmax_loss == [False, False]


def test_training_mode_call_leaves_moving_statistics_alone():
    model = residual_model()
    model.compile("sgd", "categorical_crossentropy")
    bn = model.layers[3]
    x = np.random.default_rng(9).standard_normal((4, 6, 6, 2))
    before = bn.params["moving_mean"].copy()
    threads = [threading.Thread(target=model, args=(x,), kwargs={"training": True}) for _ in range(4)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    np.testing.assert_array_equal(bn.params["moving_mean"], before)
    model.train_on_batch(x, np.eye(4)[[0, 1, 2, 3]])
    assert not np.array_equal(bn.params["moving_mean"], before)


def test_graph_model_serves_threads():
    model = residual_model()
    x = np.random.default_rng(10).standard_normal((30, 6, 6, 2))
    alone = [model.predict(x[i * 10:i * 10 + 10]) for i in range(3)]
    results = [None] * 12

    def run(k):
        results[k] = model.predict(x[(k % 3) * 10:(k % 3) * 10 + 10], batch_size=4)
    threads = [threading.Thread(target=run, args=(k,)) for k in range(12)]
    [t.start() for t in threads]
    [t.join() for t in threads]
    for k, got in enumerate(results):
        np.testing.assert_allclose(got, alone[k % 3], rtol=1e-12)


@pytest.mark.parametrize("make, error, words", [
    (lambda: keras.Model(keras.Input(shape=(3,)), Dense(2)(add([keras.Input(shape=(3,)), keras.Input(shape=(3,))]))),
     ValueError, ["Graph disconnected", "add"]),
    (lambda: Dense(2)([keras.Input(shape=(3,)), np.zeros((1, 3))]), TypeError, ["mix"]),
    (lambda: add([keras.Input(shape=(3,)), keras.Input(shape=(4,))]), ValueError, ["(3,)", "(4,)"]),
    (lambda: Concatenate(axis=3)([keras.Input(shape=(3,)), keras.Input(shape=(4,))]), ValueError, ["axis"]),
])
def test_graph_errors(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value), str(info.value)


def test_two_layers_with_one_name_are_refused():
    inputs = keras.Input(shape=(3,))
    with pytest.raises(ValueError, match="'twin' is used by 2 layers"):
        keras.Model(inputs, Dense(2, name="twin")(Dense(3, name="twin")(inputs)))


def test_bad_structures_of_data_and_compile_arguments():
    model = shared_two_output_model()
    with pytest.raises(ValueError, match=r"loss names \['nope'\], which are not outputs"):
        model.compile("sgd", {"nope": "mse"})
    with pytest.raises(ValueError, match="2 outputs"):
        model.compile("sgd", "mse", loss_weights=[1.0, 2.0, 3.0])
    model.compile("sgd", ["categorical_crossentropy", "mse"])
    x = np.zeros((2, 5))
    with pytest.raises(ValueError, match=r"no entry for \['b'\]"):
        model.predict({"a": x})
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['c'\]"):
        model.predict({"a": x, "b": x, "c": x})
    with pytest.raises(ValueError, match="2 inputs"):
        model.predict(x)
    with pytest.raises(ValueError, match="1 arrays"):
        model.fit([x, x], [np.zeros((2, 3))], verbose=0)


def test_a_nested_model_called_twice_trains_as_its_layers_shared_directly(path):
    """Each call of a nested model keeps its own scratch (a BatchNormalization's centred input)."""
    def encoder_layers():
        return [BatchNormalization(name="bn", **F64), Dense(2, name="d", **F64)]

    def apply(layers, t):
        for layer in layers:
            t = layer(t)
        return t
    set_random_seed(6)
    e_in = keras.Input(shape=(3,), **F64)
    encoder = keras.Model(e_in, apply(encoder_layers(), e_in), name="encoder")
    a, b = keras.Input(shape=(3,), **F64), keras.Input(shape=(3,), **F64)
    nested = keras.Model([a, b], Concatenate(**F64)([encoder(a), encoder(b)]))
    shared = encoder_layers()
    a2, b2 = keras.Input(shape=(3,), **F64), keras.Input(shape=(3,), **F64)
    flat = keras.Model([a2, b2], Concatenate(**F64)([apply(shared, a2), apply(shared, b2)]))
    flat.set_weights(nested.get_weights())
    rng = np.random.default_rng(0)
    xs, y = [rng.standard_normal((4, 3)), rng.standard_normal((4, 3))], rng.standard_normal((4, 4))
    for model in (nested, flat):
        model.compile(SGD(1.0), "mse")
        model.train_on_batch(xs, y)
    for u, v in zip(nested.get_weights(), flat.get_weights()):
        np.testing.assert_allclose(u, v, rtol=1e-12, atol=1e-12)


def resnet_block_model():
    """A ResNet v1 block: conv-BN-ReLU, conv-BN, added to the block's input, ReLU."""
    set_random_seed(7)
    inputs = keras.Input(shape=(6, 6, 3), **F64)
    x = Activation("relu", **F64)(inputs)
    y = Activation("relu", name="relu_1", **F64)(BatchNormalization(**F64)(Conv2D(3, 3, padding="same", **F64)(x)))
    y = BatchNormalization(name="bn_2", **F64)(Conv2D(3, 3, padding="same", name="conv_2", **F64)(y))
    z = Activation("relu", name="relu_out", **F64)(add([x, y], name="add", **F64))
    return keras.Model(inputs, Dense(4, activation="softmax", **F64)(GlobalAveragePooling2D(**F64)(z)))


def test_resnet_block_steps_and_gradients(path):
    model = resnet_block_model()
    model.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(11)
    x, y = rng.standard_normal((5, 6, 6, 3)), np.eye(4)[rng.integers(0, 4, 5)]
    check_model_gradients(model, [x], [y])
    if path:  # conv + BN + ReLU and add + ReLU as one step each; the add writes into BN's output
        steps = {step.layers[0].name: step for step in model._plan().steps}
        assert [type(l).__name__ for l in steps["conv_2"].layers] == ["Conv2D", "BatchNormalization"]
        assert [l.name for l in steps["add"].layers] == ["add", "relu_out"] and steps["add"].in_place == 1
        first = next(s for s in model._plan().steps if "relu_1" in [l.name for l in s.layers])
        assert type(first).__name__ == "FusedConvBN" and len(first.layers) == 3
    model.fit(x, y, epochs=2, batch_size=5, verbose=0)  # moving statistics worth folding
    backend.set_fast_path(not path)
    other = model.predict(x)
    backend.set_fast_path(path)
    np.testing.assert_allclose(model.predict(x), other, rtol=1e-10)  # BN folded into the conv at inference


def test_sample_weights_and_callbacks_with_two_outputs():
    """One weight per sample weighs every output's loss (Keras: the weighted sum over the batch size)."""
    model = shared_two_output_model()
    model.compile("sgd", ["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5])
    rng = np.random.default_rng(12)
    xs = [rng.standard_normal((6, 5)), rng.standard_normal((6, 5))]
    ys = [np.eye(3)[rng.integers(0, 3, 6)], rng.standard_normal((6, 2))]
    w = rng.random(6)
    logs = model.evaluate(xs, ys, sample_weight=w, batch_size=6, verbose=0, return_dict=True)
    p, r = model.predict(xs)
    cce = -(ys[0] * np.log(p)).sum(axis=1)
    mse = ((ys[1] - r) ** 2).mean(axis=1)
    assert logs["cls_loss"] == pytest.approx((cce * w).mean(), rel=1e-9)
    assert logs["reg_loss"] == pytest.approx((mse * w).mean(), rel=1e-9)
    assert logs["loss"] == pytest.approx((cce * w).mean() + 0.5 * (mse * w).mean(), rel=1e-9)
    stop = keras.callbacks.EarlyStopping(monitor="val_reg_loss", patience=0, mode="min")
    history = model.fit(xs, ys, validation_data=(xs, ys), epochs=3, verbose=0, callbacks=[stop], sample_weight=w)
    assert "val_reg_loss" in history.history and len(history.history["loss"]) >= 1
    with pytest.raises(ValueError, match="class_weight is for a model with one output"):
        model.fit(xs, ys, class_weight={0: 1.0, 1: 2.0, 2: 1.0}, verbose=0)


def test_a_dict_for_a_model_with_one_input_says_what_dicts_are_for():
    model = keras.Sequential([Dense(2, input_shape=(3,), name="only")])
    model.compile("sgd", "mse")
    with pytest.raises(ValueError, match=r"unknown name\(s\) \['x'\].*with one input, pass the array itself"):
        model.fit({"x": np.zeros((4, 3))}, np.zeros((4, 2)), verbose=0)
    name = model.inputs[0].node.layer.name
    model.fit({name: np.zeros((4, 3))}, np.zeros((4, 2)), verbose=0)  # keyed by the input's name: fine


def test_a_relu_layer_fuses_as_activation_relu_does(path):
    """ReLU() with its defaults is the same step as Activation("relu"); ReLU(max_value=6) (MobileNet's
    ReLU6) fuses too, but its derivative (0 past either cap) stays with it: no later step takes it."""
    set_random_seed(8)
    inputs = keras.Input(shape=(6, 6, 2), **F64)
    x = keras.layers.ReLU(name="plain", **F64)(BatchNormalization(**F64)(Conv2D(2, 3, padding="same", **F64)(inputs)))
    x = BatchNormalization(name="bn_six", **F64)(Conv2D(2, 3, **F64)(x))
    x = keras.layers.ReLU(max_value=6.0, name="six", **F64)(x)
    model = keras.Model(inputs, Dense(3, activation="softmax", **F64)(Flatten(**F64)(x)))
    model.get_layer("bn_six").params["gamma"][...] = 8.0  # so that many values pass the cap at 6
    model.compile("sgd", "categorical_crossentropy")
    rng = np.random.default_rng(13)
    check_model_gradients(model, [rng.standard_normal((4, 6, 6, 2))], [np.eye(3)[rng.integers(0, 3, 4)]])
    if path:
        steps = {l.name: s for s in model._plan().steps for l in s.layers}
        assert len(steps["plain"].layers) == 3 and len(steps["six"].layers) == 3
        assert steps["six"].input_relu and not steps["six"].activation_grad_given
    model.fit(rng.standard_normal((8, 6, 6, 2)) * 3, np.eye(3)[rng.integers(0, 3, 8)], epochs=2, verbose=0)
    x = rng.standard_normal((4, 6, 6, 2)) * 3  # inputs that reach the cap at 6
    backend.set_fast_path(not path)
    other = model.predict(x)
    backend.set_fast_path(path)
    np.testing.assert_allclose(model.predict(x), other, rtol=1e-10)  # BN folded, the cap applied


def test_backward_skips_what_no_trainable_weight_depends_on(path):
    """A frozen base (and anything before the first trainable weight) runs no backward; the trainable
    head's gradients are still exact."""
    model = residual_model()
    for layer in model.layers[:5]:  # the convolutions, BN and add of the residual block
        layer.trainable = False
    model.compile("sgd", "categorical_crossentropy")
    plan = model._plan()
    assert [call.backward for call in plan.calls][-1] and not any(
        call.backward for call in plan.calls if set(call.step.layers) & set(model.layers[:5]))
    rng = np.random.default_rng(14)
    check_model_gradients(model, [rng.standard_normal((4, 6, 6, 2))], [np.eye(4)[rng.integers(0, 4, 4)]])
