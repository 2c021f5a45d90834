"""Adagrad, Adamax, Nadam and AdamW, and every optimizer's clipping and weight decay, against the
rules written out here in float64 NumPy (Keras 3's forms) and against Keras 3's own steps."""
import math

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minicnn import backend, optimizers
from minicnn.optimizers import SGD, Adagrad, Adam, Adamax, AdamW, Nadam, RMSprop
from test_optimizers import SHAPES, _problem, _run


# -- one step of each rule, for one weight array, in float64 --------------------------------------

def adagrad(w, g, state, t, lr, initial_accumulator_value=0.1, epsilon=1e-7):
    a = (np.full(w.shape, initial_accumulator_value) if state is None else state) + g * g
    return w - lr * g / np.sqrt(a + epsilon), a


def adamax(w, g, state, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, u = state or (np.zeros(w.shape), np.zeros(w.shape))
    m = m + (g - m) * (1 - beta_1)
    u = np.maximum(beta_2 * u, np.abs(g))
    return w - lr * m / ((1 - beta_1 ** t) * (u + epsilon)), (m, u)


def nadam(w, g, state, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v = state or (np.zeros(w.shape), np.zeros(w.shape))
    u = [beta_1 * (1 - 0.5 * 0.96 ** k) for k in range(t + 2)]  # u[k] for step k
    product = math.prod(u[1:t + 1])
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    m_hat = u[t + 1] * m / (1 - product * u[t + 1]) + (1 - u[t]) * g / (1 - product)
    v_hat = v / (1 - beta_2 ** t)
    return w - lr * m_hat / (np.sqrt(v_hat) + epsilon), (m, v)


def adam(w, g, state, t, lr, beta_1=0.9, beta_2=0.999, epsilon=1e-7):
    m, v = state or (np.zeros(w.shape), np.zeros(w.shape))
    m = m + (g - m) * (1 - beta_1)
    v = v + (g * g - v) * (1 - beta_2)
    return w - lr * math.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + epsilon), (m, v)


def sgd_momentum(w, g, state, t, lr, momentum=0.9):
    m = momentum * (np.zeros(w.shape) if state is None else state) - lr * g
    return w + m, m


def reference(rule, ws, steps, lr, decay=0.0, weight_decay=None, clipnorm=None, clipvalue=None,
              global_clipnorm=None, **hyper):
    """Keras 3's step: clip the gradients, decay the weights, then the rule; Keras 2's decay on lr."""
    ws, states = [w.astype(np.float64) for w in ws], [None] * len(ws)
    for it, gs in enumerate(steps):
        lr_t = lr / (1 + decay * it)
        if clipvalue is not None:
            gs = [np.clip(g, -clipvalue, clipvalue) for g in gs]
        elif clipnorm is not None:
            gs = [g * clipnorm / max(np.sqrt((g * g).sum()), clipnorm) for g in gs]
        elif global_clipnorm is not None:
            norm = np.sqrt(sum((g * g).sum() for g in gs))
            gs = [g * global_clipnorm / max(norm, global_clipnorm) for g in gs]
        if weight_decay is not None:
            ws = [w - w * weight_decay * lr_t for w in ws]
        for i, g in enumerate(gs):
            ws[i], states[i] = rule(ws[i], g, states[i], it + 1, lr_t, **hyper)
    return ws


CASES = {  # class: (rule, its defaults as Keras 3 has them, hypothesis draws of its own arguments)
    Adagrad: (adagrad, {"lr": 0.001}, {"initial_accumulator_value": st.sampled_from([0.0, 0.1, 1.0]),
                                      "epsilon": st.sampled_from([1e-7, 1e-3])}),
    Adamax: (adamax, {"lr": 0.001}, {"beta_1": st.floats(0.0, 0.99), "beta_2": st.floats(0.5, 0.9999)}),
    Nadam: (nadam, {"lr": 0.001}, {"beta_1": st.floats(0.0, 0.99), "beta_2": st.floats(0.5, 0.9999)}),
    AdamW: (adam, {"lr": 0.001, "weight_decay": 0.004}, {"weight_decay": st.sampled_from([0.0, 0.004, 0.3])}),
    Adam: (adam, {"lr": 0.001}, {}),
    SGD: (sgd_momentum, {"lr": 0.01}, {"momentum": st.sampled_from([0.5, 0.9])}),
}
CLIPPING = st.sampled_from([{}, {"clipnorm": 0.5}, {"clipnorm": 50.0}, {"clipvalue": 0.3}, {"global_clipnorm": 1.0},
                            {"weight_decay": 0.05}, {"weight_decay": 0.01, "global_clipnorm": 3.0}])


def _kwargs(cls, data):
    rule, defaults, draws = CASES[cls]
    kwargs = {"lr": data.draw(st.floats(1e-3, 0.3)), "decay": data.draw(st.sampled_from([0.0, 0.1]))}
    kwargs.update({k: data.draw(v) for k, v in draws.items()})
    if cls is not AdamW or "weight_decay" not in kwargs:
        kwargs.update(data.draw(CLIPPING))
    return rule, kwargs


@pytest.mark.parametrize("cls", list(CASES), ids=lambda c: c.__name__)
@settings(max_examples=12)
@given(data=st.data())
def test_steps_match_the_rules_in_float64(cls, data):
    # One small parameter and one large enough for the CPU's chunked update, four steps.
    rule, kwargs = _kwargs(cls, data)
    ws, grads = _problem(data.draw(st.integers(0, 2**16)), np.float64, steps=4)
    params = _run(cls(**kwargs), np, ws, [[g * 3 for g in step] for step in grads], np.float64)
    expected = reference(rule, ws, [[g * 3 for g in step] for step in grads], **kwargs)
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-11, atol=1e-13)


@pytest.mark.parametrize("cls", [Adagrad, Adamax, Nadam, AdamW], ids=lambda c: c.__name__)
def test_defaults_are_keras_3s(cls):
    rule, defaults, _ = CASES[cls]
    ws, grads = _problem(5, np.float64)
    params = _run(cls(), np, ws, grads, np.float64)
    for p, e in zip(params, reference(rule, ws, grads, **defaults)):
        np.testing.assert_allclose(p, e, rtol=1e-12)
    assert cls().kernel == ("adam_update" if cls is AdamW else None)  # AdamW's step is Adam's


# Keras 3.15.1 (torch backend), four steps on float32 weights from these draws: the second weight.
KERAS = {
    "adagrad": (lambda: Adagrad(learning_rate=0.1, initial_accumulator_value=0.5, epsilon=1e-3),
                [-2.4546585083007812, -0.19976462423801422, -1.258833408355713, -0.8165461421012878, -0.699076771736145]),
    "adamax": (lambda: Adamax(learning_rate=0.05, beta_1=0.8, beta_2=0.9),
               [-2.43084979057312, -0.20357635617256165, -1.2397208213806152, -0.7512644529342651, -0.6734140515327454]),
    "nadam": (lambda: Nadam(learning_rate=0.05, beta_1=0.8, beta_2=0.95),
              [-2.4354088306427, -0.2087642103433609, -1.2331829071044922, -0.7584500908851624, -0.6571937799453735]),
    "adamw": (lambda: AdamW(learning_rate=0.05, weight_decay=0.1),
              [-2.4099459648132324, -0.2074160873889923, -1.2362358570098877, -0.7576561570167542, -0.6845089793205261]),
    "sgd_clipnorm": (lambda: SGD(0.1, clipnorm=1.0),
                     [-2.3745439052581787, -0.17415007948875427, -1.250127911567688, -0.7725763916969299, -0.5920532941818237]),
    "sgd_global_clipnorm": (lambda: SGD(0.1, global_clipnorm=2.0),
                            [-2.3875932693481445, -0.22047407925128937, -1.2797735929489136, -0.8109493255615234, -0.6101535558700562]),
    "sgd_clipvalue": (lambda: SGD(0.1, clipvalue=0.5),
                      [-2.406773567199707, -0.2187916785478592, -1.1540759801864624, -0.7504223585128784, -0.6442590355873108]),
    "sgd_weight_decay": (lambda: SGD(0.1, momentum=0.9, weight_decay=0.05),
                         [-3.0648767948150635, -0.5805032253265381, -1.8762363195419312, -1.6999927759170532, -1.3399715423583984]),
}


@pytest.mark.parametrize("name", sorted(KERAS))
def test_four_steps_match_keras_3(name):
    rng = np.random.default_rng(0)
    ws = [rng.standard_normal(s).astype(np.float32) for s in [(3, 4), (5,)]]
    steps = [[(rng.standard_normal(s) * 2).astype(np.float32) for s in [(3, 4), (5,)]] for _ in range(4)]
    params = _run(KERAS[name][0](), np, ws, steps, np.float32)
    np.testing.assert_allclose(params[1], KERAS[name][1], rtol=0, atol=2e-6)


@pytest.mark.parametrize("cls", [Adagrad, Adamax, Nadam, AdamW], ids=lambda c: c.__name__)
def test_float32_stays_float32_on_either_backend(cls, xp):
    rule, defaults, _ = CASES[cls]
    ws, grads = _problem(1, np.float32)
    opt = cls(clipnorm=40.0)
    params = _run(opt, xp, ws, grads, np.float32)
    ws32 = [w.astype(np.float32).astype(np.float64) for w in ws]
    steps32 = [[g.astype(np.float32).astype(np.float64) for g in step] for step in grads]
    for p, e in zip(params, reference(rule, ws32, steps32, clipnorm=40.0, **defaults)):
        assert p.dtype == np.float32
        np.testing.assert_allclose(backend.to_numpy(p), e, rtol=0, atol=3e-6)
    assert all(s.dtype == np.float32 for s in opt.get_state()[1:])


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    from test_optimizers import _cupy_or_skip
    return np if request.param == "numpy" else _cupy_or_skip()


def test_clipping_leaves_the_callers_gradients_alone():
    g = [np.full(4, 10.0), np.full(3, -10.0)]
    for opt in (SGD(0.1, clipnorm=1.0), SGD(0.1, clipvalue=1.0), SGD(0.1, global_clipnorm=1.0)):
        opt.apply_gradients([np.zeros(4), np.zeros(3)], g)
        assert (g[0] == 10).all() and (g[1] == -10).all()
    w = [np.zeros(4)]
    SGD(1.0, clipnorm=1.0).apply_gradients(w, [np.zeros(4)])  # a zero gradient stays zero
    assert (w[0] == 0).all()


@pytest.mark.parametrize("cls, kwargs", [
    (Adagrad, {"learning_rate": 0.01, "initial_accumulator_value": 0.5, "epsilon": 1e-6, "clipnorm": 2.0}),
    (Adamax, {"learning_rate": 0.002, "beta_1": 0.8, "beta_2": 0.99, "clipvalue": 0.5}),
    (Nadam, {"learning_rate": 0.002, "beta_1": 0.8, "epsilon": 1e-8, "global_clipnorm": 1.0}),
    (AdamW, {"learning_rate": 0.01, "weight_decay": 0.1, "beta_2": 0.99}),
    (RMSprop, {"learning_rate": 0.01, "weight_decay": 0.01, "clipnorm": 1.0}),
])
def test_config_round_trip(cls, kwargs):
    opt = cls(**kwargs)
    config = opt.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    assert cls.from_config(config).get_config() == config
    assert optimizers.get({"class_name": cls.__name__, "config": config}).get_config() == config


def test_names_and_keras2_aliases():
    for name, cls in [("adagrad", Adagrad), ("Adamax", Adamax), ("NADAM", Nadam), ("adamw", AdamW)]:
        assert type(optimizers.get(name)) is cls
    assert (optimizers.adagrad, optimizers.adamax, optimizers.nadam) == (Adagrad, Adamax, Nadam)


@pytest.mark.parametrize("make, error, match", [
    (lambda: SGD(clipnorm=1.0, clipvalue=1.0), ValueError, "only one of clipnorm, clipvalue and global_clipnorm"),
    (lambda: Adam(clipnorm=1.0, global_clipnorm=1.0), ValueError, "clipnorm, global_clipnorm. Keep one"),
    (lambda: Adam(clipnorm=0), ValueError, "clipnorm"),
    (lambda: Nadam(clipvalue=-1.0), ValueError, "clipvalue"),
    (lambda: Adamax(weight_decay=-0.1), ValueError, "weight_decay"),
    (lambda: AdamW(weight_decay=None), ValueError, "use minicnn.optimizers.Adam"),
    (lambda: Adagrad(initial_accumulator_value=-1), ValueError, "initial_accumulator_value"),
    (lambda: Nadam(beta_1=1.0), ValueError, "beta_1"),
    (lambda: Adamax(global_clipnorm="1"), TypeError, "global_clipnorm"),
    (lambda: SGD(clip_norm=1.0), TypeError, "clip_norm"),
])
def test_bad_arguments(make, error, match):
    with pytest.raises(error, match=match):
        make()


@pytest.mark.parametrize("cls", [Adagrad, Adamax, Nadam, AdamW], ids=lambda c: c.__name__)
def test_state_rewound_with_set_state_continues_identically(cls):
    # Nadam keeps its momentum product from step to step: a rewound state must restart it.
    ws, grads = _problem(6, np.float32, steps=4)
    a, b = cls(), cls()
    params = _run(a, np, ws, grads[:2], np.float32)
    state, saved = a.get_state(), [p.copy() for p in params]
    _run(a, np, [p.copy() for p in params], grads[2:], np.float32)  # a goes on, then rewinds
    a.set_state(state)
    b.set_state(state)
    rewound, fresh = _run(a, np, saved, grads[2:], np.float32), _run(b, np, saved, grads[2:], np.float32)
    for u, v in zip(rewound, fresh):
        assert (u == v).all()
