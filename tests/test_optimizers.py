"""Optimizers against their update rules written out by hand in float64 NumPy (Keras 3's forms)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from minicnn import backend, optimizers
from minicnn.cpu.optimizer import CHUNK
from minicnn.optimizers import SGD, Adadelta, Adam, RMSprop


def _cupy_or_skip():
    try:
        return backend._import_cupy()
    except backend.BackendUnavailableError as e:
        pytest.skip(str(e))


@pytest.fixture(params=["numpy", pytest.param("cupy", marks=pytest.mark.gpu)])
def xp(request):
    return np if request.param == "numpy" else _cupy_or_skip()


# -- references: the rules as the docs write them, one step at a time, in float64 ----------------

def ref_sgd(w, grads, lr=0.01, momentum=0.0, nesterov=False, decay=0.0):
    w, m = w.astype(np.float64), np.zeros(w.shape)
    for it, g in enumerate(grads):
        lr_t = lr / (1 + decay * it)
        if momentum == 0:
            w = w - lr_t * g
            continue
        m = momentum * m - lr_t * g
        w = w + (momentum * m - lr_t * g if nesterov else m)
    return w


def ref_adam(w, grads, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0):
    w, m, v = w.astype(np.float64), np.zeros(w.shape), np.zeros(w.shape)
    for it, g in enumerate(grads):
        t = it + 1
        lr_t = lr / (1 + decay * it)
        m = m + (g - m) * (1 - beta_1)
        v = v + (g * g - v) * (1 - beta_2)
        w = w - lr_t * np.sqrt(1 - beta_2 ** t) / (1 - beta_1 ** t) * m / (np.sqrt(v) + epsilon)
    return w


def ref_rmsprop(w, grads, lr=0.001, rho=0.9, epsilon=1e-7, decay=0.0):
    w, v = w.astype(np.float64), np.zeros(w.shape)
    for it, g in enumerate(grads):
        lr_t = lr / (1 + decay * it)
        v = rho * v + (1 - rho) * g * g
        w = w - lr_t * g / np.sqrt(v + epsilon)
    return w


def ref_adadelta(w, grads, lr=1.0, rho=0.95, epsilon=1e-7, decay=0.0):
    w, a, b = w.astype(np.float64), np.zeros(w.shape), np.zeros(w.shape)
    for it, g in enumerate(grads):
        lr_t = lr / (1 + decay * it)
        a = rho * a + (1 - rho) * g * g
        d = -np.sqrt(b + epsilon) / np.sqrt(a + epsilon) * g
        b = rho * b + (1 - rho) * d * d
        w = w + lr_t * d
    return w


REFS = {SGD: ref_sgd, Adam: ref_adam, RMSprop: ref_rmsprop, Adadelta: ref_adadelta}

# One small parameter, one large enough for the chunked NumPy path (not a multiple of CHUNK).
SHAPES = [(3, 4), (CHUNK // 100 + 7, 100 + 3)]


def _problem(seed, dtype, steps=3):
    rng = np.random.default_rng(seed)
    ws = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES] for _ in range(steps)]
    return ws, grads


def _run(opt, xp, ws, grads, dtype):
    params = [xp.array(w, dtype=dtype) for w in ws]  # a copy: ws stays the reference's input
    for step in grads:
        opt.apply_gradients(params, [xp.asarray(g, dtype=dtype) for g in step])
    return params


hyper = {
    SGD: st.fixed_dictionaries({"lr": st.floats(1e-3, 0.5), "momentum": st.sampled_from([0.0, 0.5, 0.9]),
                                "nesterov": st.booleans(), "decay": st.sampled_from([0.0, 0.1])}),
    Adam: st.fixed_dictionaries({"lr": st.floats(1e-4, 0.1), "beta_1": st.floats(0.0, 0.99),
                                 "beta_2": st.floats(0.5, 0.9999), "decay": st.sampled_from([0.0, 0.1])}),
    RMSprop: st.fixed_dictionaries({"lr": st.floats(1e-4, 0.1), "rho": st.floats(0.0, 0.99),
                                    "decay": st.sampled_from([0.0, 0.1])}),
    Adadelta: st.fixed_dictionaries({"lr": st.floats(0.01, 2.0), "rho": st.floats(0.5, 0.99),
                                     "decay": st.sampled_from([0.0, 0.1])}),
}


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adadelta])
@settings(max_examples=15)
@given(data=st.data())
def test_three_steps_match_the_rules_in_float64(cls, data):
    # ``lr=`` (Keras 2's spelling) is used throughout, so the alias is covered too.
    kwargs = data.draw(hyper[cls])
    ws, grads = _problem(data.draw(st.integers(0, 2**16)), np.float64)
    params = _run(cls(**kwargs), np, ws, grads, np.float64)
    expected = [REFS[cls](w, [g[i] for g in grads], **kwargs) for i, w in enumerate(ws)]
    for p, e in zip(params, expected):
        np.testing.assert_allclose(p, e, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adadelta])
def test_float32_stays_float32_and_matches_the_reference(cls, xp):
    kwargs = {SGD: {"momentum": 0.9, "nesterov": True}}.get(cls, {})
    ws, grads = _problem(1, np.float32)
    opt = cls(**kwargs)
    params = _run(opt, xp, ws, grads, np.float32)
    for i, (p, w) in enumerate(zip(params, ws)):
        assert p.dtype == np.float32
        w32 = w.astype(np.float32).astype(np.float64)
        expected = REFS[cls](w32, [g[i].astype(np.float32).astype(np.float64) for g in grads], **kwargs)
        np.testing.assert_allclose(backend.to_numpy(p), expected, rtol=0, atol=3e-6)
    assert all(s.dtype == np.float32 for s in opt.get_state()[1:])
    assert opt.iterations == 3


def test_defaults_are_keras_and_adadelta_keeps_the_classic_rate():
    assert SGD().learning_rate == 0.01 and SGD().momentum == 0.0 and not SGD().nesterov
    assert (Adam().learning_rate, Adam().beta_1, Adam().beta_2, Adam().epsilon) == (0.001, 0.9, 0.999, 1e-7)
    assert (RMSprop().learning_rate, RMSprop().rho, RMSprop().epsilon) == (0.001, 0.9, 1e-7)
    assert (Adadelta().learning_rate, Adadelta().rho, Adadelta().epsilon) == (1.0, 0.95, 1e-7)
    assert "84%" in Adadelta.__doc__


def test_defaults_match_the_reference_with_default_arguments():
    ws, grads = _problem(2, np.float64)
    for cls, ref in REFS.items():
        params = _run(cls(), np, ws, grads, np.float64)
        np.testing.assert_allclose(params[0], ref(ws[0], [g[0] for g in grads]), rtol=1e-12)


def test_updates_a_non_contiguous_parameter_in_place():
    rng = np.random.default_rng(3)
    base = rng.standard_normal((400, 300))  # its transpose is large and not C-contiguous
    w, g = base.T, rng.standard_normal((300, 400))
    expected = ref_adam(w, [g])
    Adam().apply_gradients([w], [g])
    np.testing.assert_allclose(base.T, expected, rtol=1e-12)


def test_learning_rate_is_a_settable_float_with_lr_alias():
    opt = SGD(lr=0.5)
    assert opt.learning_rate == 0.5 and opt.lr == 0.5 and isinstance(opt.learning_rate, float)
    w = np.ones(3)
    opt.apply_gradients([w], [np.ones(3)])
    opt.learning_rate = np.float32(0.25)  # as a callback may set it
    assert type(opt.learning_rate) is float
    opt.apply_gradients([w], [np.ones(3)])
    np.testing.assert_allclose(w, 1 - 0.5 - 0.25)
    opt.lr = 0.125
    assert opt.learning_rate == 0.125
    with pytest.raises(ValueError, match="learning_rate"):
        opt.learning_rate = -1.0


@pytest.mark.parametrize("cls", [SGD, Adam, RMSprop, Adadelta])
def test_state_round_trip_continues_identically(cls, xp):
    kwargs = {SGD: {"momentum": 0.9}}.get(cls, {})
    ws, grads = _problem(4, np.float32, steps=4)
    a = cls(**kwargs)
    params_a = _run(a, xp, ws, grads[:2], np.float32)
    state = a.get_state()
    params_b = [p.copy() for p in params_a]
    # b gets the state before its first step (as after load_model), c after building its own.
    b, c = cls(**kwargs), cls(**kwargs)
    b.set_state([backend.to_numpy(s) for s in state])
    params_c = [p.copy() for p in params_a]
    c.apply_gradients(params_c, [xp.zeros_like(p) for p in params_c])
    params_c = [p.copy() for p in params_a]
    c.set_state(state)
    for step in grads[2:]:
        for opt, params in ((a, params_a), (b, params_b), (c, params_c)):
            opt.apply_gradients(params, [xp.asarray(g, dtype=np.float32) for g in step])
    for pa, pb, pc in zip(params_a, params_b, params_c):
        assert (backend.to_numpy(pa) == backend.to_numpy(pb)).all()
        assert (backend.to_numpy(pa) == backend.to_numpy(pc)).all()
    assert a.iterations == b.iterations == c.iterations == 4
    # get_state returned copies: the steps since did not change them.
    assert int(state[0]) == 2


def test_state_layout_and_errors():
    opt = Adam()
    w = [np.ones((2, 3)), np.ones(4)]
    opt.apply_gradients(w, [np.ones((2, 3)), np.ones(4)])
    state = opt.get_state()
    assert [s.shape for s in state] == [(), (2, 3), (4,), (2, 3), (4,)]  # iterations, m, m, v, v
    assert int(state[0]) == 1
    with pytest.raises(ValueError, match="slot arrays"):
        opt.set_state(state[:-1])
    with pytest.raises(ValueError, match="slot arrays"):
        SGD().set_state([0, np.ones(3)])  # plain SGD has no slots
    fresh = Adam()
    fresh.set_state([1, np.ones((5,)), np.ones(4), np.ones((5,)), np.ones(4)])
    with pytest.raises(ValueError, match="shape"):
        fresh.apply_gradients(w, [np.ones((2, 3)), np.ones(4)])


def test_apply_gradients_errors():
    opt = SGD()
    with pytest.raises(ValueError, match="2 parameters but 1 gradients"):
        opt.apply_gradients([np.ones(2), np.ones(3)], [np.ones(2)])
    with pytest.raises(ValueError, match=r"shape \(3,\)"):
        opt.apply_gradients([np.ones(2)], [np.ones(3)])
    opt.apply_gradients([np.ones(2)], [np.ones(2)])
    with pytest.raises(ValueError, match="built for 1 parameters"):
        opt.apply_gradients([np.ones(2), np.ones(2)], [np.ones(2), np.ones(2)])


@pytest.mark.parametrize("make, match", [
    (lambda: SGD(learning_rate=0), "learning_rate"),
    (lambda: SGD(momentum=-0.1), "momentum"),
    (lambda: SGD(momentum=1.5), "momentum"),
    (lambda: Adam(beta_1=1.0), "beta_1"),
    (lambda: Adam(beta_2=-0.5), "beta_2"),
    (lambda: Adam(epsilon=-1e-7), "epsilon"),
    (lambda: RMSprop(rho=1.0), "rho"),
    (lambda: Adadelta(rho=1.2), "rho"),
    (lambda: Adadelta(decay=-1), "decay"),
    (lambda: Adam(learning_rate=float("nan")), "learning_rate"),
])
def test_invalid_arguments_raise_value_error(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_numeric_arguments_raise_type_error():
    with pytest.raises(TypeError, match="learning_rate"):
        Adam(learning_rate="0.1")
    with pytest.raises(TypeError, match="momentum"):
        SGD(momentum=True)


@pytest.mark.parametrize("cls, kwargs", [
    (SGD, {"learning_rate": 0.1, "momentum": 0.9, "nesterov": True, "decay": 1e-4}),
    (Adam, {"learning_rate": 0.01, "beta_1": 0.8, "beta_2": 0.99, "epsilon": 1e-8}),
    (RMSprop, {"learning_rate": 0.01, "rho": 0.8}),
    (Adadelta, {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-6}),
])
def test_config_round_trip(cls, kwargs):
    opt = cls(**kwargs)
    config = opt.get_config()
    assert {k: config[k] for k in kwargs} == kwargs
    again = cls.from_config(config)
    assert type(again) is cls and again.get_config() == config
    assert optimizers.get({"class_name": cls.__name__, "config": config}).get_config() == config


def test_get_resolves_names_instances_and_dicts():
    for name, cls in [("sgd", SGD), ("Adam", Adam), ("RMSPROP", RMSprop), ("adadelta", Adadelta)]:
        assert type(optimizers.get(name)) is cls
    opt = Adam(learning_rate=0.1)
    assert optimizers.get(opt) is opt
    assert optimizers.get({"class_name": "SGD", "config": {"momentum": 0.5}}).momentum == 0.5
    with pytest.raises(ValueError, match="'sgd', 'adam', 'adamw', 'adamax', 'nadam', 'adagrad', 'rmsprop', 'adadelta'"):
        optimizers.get("lion")
    with pytest.raises(ValueError, match="valid names"):
        optimizers.get({"class_name": "Ftrl"})
    with pytest.raises(TypeError, match="optimizer identifier"):
        optimizers.get(0.01)
    with pytest.raises(TypeError):
        optimizers.get(None)


def test_keras2_lowercase_aliases():
    assert optimizers.adadelta is Adadelta and optimizers.sgd is SGD
