"""Random layer stacks, valid and invalid, against an independent shape reference.

Hypothesis draws a stack of layers with random arguments, including zero and negative sizes,
windows larger than their input, Flatten anywhere, unknown activations and bad dropout rates.
A small reference below decides, from the Keras rules alone, whether each stack is valid and
what its output shape is. Valid stacks must build, report that shape, predict finite outputs of
that shape and train a step; invalid ones must raise ValueError or TypeError, nothing else.
"""
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from minicnn import Sequential, optimizers
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            Input, MaxPooling2D)

ACTIVATIONS = ["relu", "softmax", "sigmoid", "tanh", "linear", None, "gelu", "elu", "swish", "hard_sigmoid"]
BAD_ACTIVATIONS = ["relu7", "Relu", "", "GELU"]
PADDINGS = ["valid", "same", "SAME", "full"]


class Invalid(Exception):
    """The reference's verdict: this stack must not build."""


# -- the reference: constructor arguments and shapes by Keras's rules ----------------------------

def need(condition):
    if not condition:
        raise Invalid


def positive_int(v):
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


def pair(v):
    """An int -> (v, v); a tuple as is; anything else -> () (which no check accepts)."""
    if isinstance(v, int) and not isinstance(v, bool):
        return (v, v)
    return tuple(v) if isinstance(v, tuple) else ()


def check_args(spec):
    """Raise Invalid if the layer's constructor must refuse these arguments."""
    kind, a = spec["kind"], spec
    if kind == "conv":
        need(positive_int(a["filters"]))
        need(all(positive_int(k) for k in pair(a["kernel"])) and len(pair(a["kernel"])) == 2)
        need(all(positive_int(s) for s in pair(a["strides"])))
        need(a["padding"].lower() in ("valid", "same"))
        need(a["activation"] in ACTIVATIONS)
    elif kind == "pool":
        need(len(pair(a["pool"])) == 2 and all(positive_int(k) for k in pair(a["pool"])))
        need(a["strides"] is None or all(positive_int(s) for s in pair(a["strides"])))
        need(a["padding"].lower() in ("valid", "same"))
    elif kind == "dense":
        need(positive_int(a["units"]) and a["activation"] in ACTIVATIONS)
    elif kind == "dropout":
        need(0 <= a["rate"] < 1)
    elif kind == "activation":
        need(a["activation"] in ACTIVATIONS)


def out_length(n, k, s, padding):
    if padding == "same":
        return math.ceil(n / s)
    need(k <= n)
    return (n - k) // s + 1


def next_shape(spec, shape, data_format):
    """The per-sample output shape, or Invalid."""
    kind = spec["kind"]
    if kind in ("conv", "pool"):
        need(len(shape) == 3)
        C, H, W = shape if data_format == "channels_first" else (shape[2], shape[0], shape[1])
        k = pair(spec["kernel"] if kind == "conv" else spec["pool"])
        s = k if kind == "pool" and spec["strides"] is None else pair(spec["strides"])
        padding = spec["padding"].lower()
        OH, OW = out_length(H, k[0], s[0], padding), out_length(W, k[1], s[1], padding)
        F = spec["filters"] if kind == "conv" else C
        return (F, OH, OW) if data_format == "channels_first" else (OH, OW, F)
    if kind == "dense":  # Keras's Dense: the last axis, at every position of the others
        return (*shape[:-1], spec["units"])
    if kind == "flatten":
        return (math.prod(shape),)
    if kind == "bn":
        axis = spec["axis"] if spec["axis"] >= 0 else len(shape) + 1 + spec["axis"]
        need(1 <= axis <= len(shape))
    return shape


def reference(specs, input_shape, data_format):
    """(output shape, None) for a valid stack, or (None, 'args'/'shape') for an invalid one."""
    for spec in specs:
        try:
            check_args(spec)
        except Invalid:
            return None, "args"
    shape = input_shape
    for spec in specs:
        try:
            shape = next_shape(spec, shape, data_format)
        except Invalid:
            return None, "shape"
    return shape, None


# -- building the real layers --------------------------------------------------------------------

def make_layer(spec, data_format):
    kind = spec["kind"]
    if kind == "conv":
        return Conv2D(spec["filters"], spec["kernel"], strides=spec["strides"], padding=spec["padding"],
                      activation=spec["activation"], data_format=data_format)
    if kind == "pool":
        cls = MaxPooling2D if spec["max"] else AveragePooling2D
        return cls(spec["pool"], strides=spec["strides"], padding=spec["padding"], data_format=data_format)
    if kind == "dense":
        return Dense(spec["units"], activation=spec["activation"])
    if kind == "dropout":
        return Dropout(spec["rate"])
    if kind == "flatten":
        return Flatten(data_format=data_format)
    if kind == "bn":
        return BatchNormalization(axis=spec["axis"])
    return Activation(spec["activation"])


# -- strategies ----------------------------------------------------------------------------------

# Mostly valid values, so that deep valid stacks are common, with invalid ones mixed in.
sizes = st.sampled_from([1, 2, 3, 1, 2, 3, 2, 4, 5, 6, 0, -1])
strides = st.sampled_from([1, 1, 1, 2, 2, 3, 0, -1])
windows = st.integers(0, 9).flatmap(
    lambda i: st.sampled_from([2.0, (3, 3, 3), "3"]) if i == 0 else st.tuples(sizes, sizes) if i < 4 else sizes)
activations = st.sampled_from(ACTIVATIONS * 3 + BAD_ACTIVATIONS)
paddings = st.sampled_from(["valid", "same"] * 3 + ["SAME", "full"])

layer_specs = st.one_of(
    st.fixed_dictionaries({"kind": st.just("conv"), "filters": st.sampled_from([1, 2, 3, 4, 2, 3, 0, -2]),
                           "kernel": windows, "strides": st.one_of(strides, st.tuples(strides, strides)),
                           "padding": paddings, "activation": activations}),
    st.fixed_dictionaries({"kind": st.just("pool"), "max": st.booleans(), "pool": windows,
                           "strides": st.one_of(st.none(), strides), "padding": paddings}),
    st.fixed_dictionaries({"kind": st.just("dense"), "units": st.sampled_from([1, 2, 3, 5, 2, 3, 0, -1]),
                           "activation": activations}),
    st.fixed_dictionaries({"kind": st.just("dropout"),
                           "rate": st.sampled_from([0.0, 0.3, 0.5, 0.9, 0.3, -0.5, 1.0, 1.5, float("nan")])}),
    st.fixed_dictionaries({"kind": st.just("flatten")}),
    st.fixed_dictionaries({"kind": st.just("bn"), "axis": st.sampled_from([-1, -1, -1, 1, 2, 3, -2, -4, 0, 4])}),
    st.fixed_dictionaries({"kind": st.just("activation"), "activation": activations}),
)

stacks = st.fixed_dictionaries({
    "layers": st.lists(layer_specs, min_size=1, max_size=5),
    "data_format": st.sampled_from(["channels_last", "channels_last", "channels_first"]),
    "spatial": st.tuples(st.integers(1, 12), st.integers(1, 12)),
    "channels": st.integers(1, 3),
    "input_layer": st.booleans(),     # shape from Input(...) at construction, or from the data at predict
})

EXAMPLES = max(1000, settings.default.max_examples)


@settings(max_examples=EXAMPLES)
@given(stacks)
def test_random_stack(stack):
    fmt = stack["data_format"]
    H, W = stack["spatial"]
    C = stack["channels"]
    input_shape = (C, H, W) if fmt == "channels_first" else (H, W, C)
    expected, problem = reference(stack["layers"], input_shape, fmt)
    x = np.random.default_rng(0).random((3, *input_shape), dtype=np.float32)

    stage = "constructing the layers"
    try:
        layers = [make_layer(spec, fmt) for spec in stack["layers"]]
        stage = "building the model"
        model = Sequential([Input(shape=input_shape), *layers] if stack["input_layer"] else layers)
        stage = "predicting"
        out = model.predict(x)
        shape = model.output_shape
    except (ValueError, TypeError) as e:
        assert problem is not None, f"valid stack (output {expected}) refused: {type(e).__name__}: {e}"
        assert str(e) and "broadcast" not in str(e), f"not a check's message: {e}"
        # Bad arguments fail in the constructor; shapes fail at build time, before any arithmetic
        # (at predict only when the shape comes from the data).
        allowed = ({"constructing the layers"} if problem == "args" else
                   {"building the model"} if stack["input_layer"] else {"predicting"})
        assert stage in allowed, f"{problem} error raised while {stage}: {e}"
        return
    assert problem is None, f"invalid stack ({problem}) was accepted, output shape {model.output_shape}"

    assert shape == (None, *expected)
    assert out.shape == (3, *expected)
    assert np.isfinite(out).all()

    model.compile(optimizer=optimizers.SGD(learning_rate=0.01), loss="mse")
    loss = model.train_on_batch(x, np.zeros((3, *expected), np.float32))
    assert np.isfinite(loss)
    assert all(np.isfinite(w).all() for w in model.get_weights())
    # Training mode (dropout, batch statistics) gives the same shapes as inference.
    assert model(x, training=True).shape == (3, *expected)


@pytest.mark.parametrize("specs, fmt, shape, expected", [
    ([{"kind": "conv", "filters": 4, "kernel": 3, "strides": 2, "padding": "same", "activation": "relu"}],
     "channels_last", (7, 5, 1), (4, 3, 4)),
    ([{"kind": "pool", "max": True, "pool": (3, 2), "strides": None, "padding": "valid"}, {"kind": "flatten"}],
     "channels_first", (2, 7, 5), (2 * 2 * 2,)),
    ([{"kind": "conv", "filters": 1, "kernel": 6, "strides": 1, "padding": "valid", "activation": None}],
     "channels_last", (5, 5, 1), None),
    ([{"kind": "dense", "units": 3, "activation": None}], "channels_last", (4, 4, 1), (4, 4, 3)),
])
def test_reference_itself(specs, fmt, shape, expected):
    """The reference agrees with hand-computed Keras shapes."""
    assert reference(specs, shape, fmt)[0] == expected
