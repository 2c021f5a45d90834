"""The merge layers: shapes from shapes, forward and backward through the ops, clear errors,
configs, the lowercase functions and Keras 1's ``merge``."""
import numpy as np
import pytest

from minicnn import layers
from minicnn.layers import (Add, Average, Concatenate, Layer, Maximum, Minimum, Multiply, Subtract, add, average,
                            concatenate, maximum, merge, minimum, multiply, subtract)
from minicnn.nn import merge as ops

ELEMENTWISE = {Add: "add", Subtract: "subtract", Multiply: "multiply", Average: "average", Maximum: "maximum",
               Minimum: "minimum"}


def batch(*shapes, N=2, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal((N, *s)).astype(np.float32) for s in shapes]


@pytest.mark.parametrize("cls", list(ELEMENTWISE))
def test_elementwise_layers_build_and_run_their_op(cls):
    shapes = [(3,), (4, 3)] if cls is Subtract else [(3,), (4, 3), (4, 1)]
    layer = cls()
    layer.build(shapes)
    assert layer.built and layer.output_shape == (4, 3) and layer.count_params() == 0
    assert [tuple(s) for s in layer.input_shape] == shapes
    xs = batch(*shapes)
    y, cache = layer.forward(xs)
    expected, op_cache = ops.ELEMENTWISE[ELEMENTWISE[cls]][0](xs)
    assert y.shape == (2, *layer.output_shape)
    np.testing.assert_array_equal(y, expected)
    dy = np.random.default_rng(1).standard_normal(y.shape).astype(np.float32)
    dxs, grads = layer.backward(dy, cache)
    assert grads == {} and [dx.shape for dx in dxs] == [x.shape for x in xs]
    for dx, ref in zip(dxs, ops.ELEMENTWISE[ELEMENTWISE[cls]][1](dy, op_cache)):
        np.testing.assert_array_equal(dx, ref)


@pytest.mark.parametrize("shapes, expected", [
    ([(3,), (3,)], (3,)),
    ([(1, 3), (4, 1)], (4, 3)),
    ([(5, 1, 1), (3,), (4, 3)], (5, 4, 3)),
    ([(), (2, 2)], (2, 2)),
])
def test_elementwise_output_shapes_broadcast_as_keras(shapes, expected):
    assert Add().compute_output_shape(shapes) == expected
    assert Maximum().compute_output_shape(tuple(shapes)) == expected  # a tuple of shapes is a list too


@pytest.mark.parametrize("axis, shapes, expected", [
    (-1, [(4, 2), (4, 3)], (4, 5)),
    (1, [(2, 3), (1, 3), (4, 3)], (7, 3)),
    (-2, [(2, 3), (1, 3)], (3, 3)),
    (3, [(5, 2, 1), (5, 2, 2)], (5, 2, 3)),
    (2, [(5, 2, 1), (5, 3, 1)], (5, 5, 1)),
    (1, [(2,), (3,)], (5,)),
])
def test_concatenate_shapes_and_values(axis, shapes, expected):
    layer = Concatenate(axis=axis)
    layer.build(shapes)
    assert layer.output_shape == expected
    xs = batch(*shapes)
    y, cache = layer.forward(xs)
    np.testing.assert_array_equal(y, np.concatenate(xs, axis=axis))
    dxs, grads = layer.backward(y, cache)
    assert grads == {}
    for x, dx in zip(xs, dxs):
        np.testing.assert_array_equal(dx, x)


@pytest.mark.parametrize("cls", [*ELEMENTWISE, Concatenate])
def test_fewer_than_two_inputs_are_refused(cls):
    with pytest.raises(ValueError, match=rf"{cls.__name__}.*needs (at least|exactly) 2 inputs, got 1 .*\(3,\)"):
        cls(name="m").build([(3,)])


def test_subtract_takes_exactly_two_inputs():
    with pytest.raises(ValueError, match=r"^s: Subtract needs exactly 2 inputs, got 3"):
        Subtract(name="s").build([(3,)] * 3)
    with pytest.raises(ValueError, match="exactly 2"):
        Subtract().forward(batch((3,), (3,), (3,)))


@pytest.mark.parametrize("cls", [Add, Concatenate])
def test_a_single_input_is_refused_with_the_list_spelled_out(cls):
    spelled = rf"must be called on a list of inputs, e\.g\. {cls.__name__}\(\)\(\[a, b\]\)"
    with pytest.raises(ValueError, match=spelled):
        cls().build((3, 4))
    with pytest.raises(ValueError, match="must be called on a list of arrays"):
        cls().forward(np.ones((2, 3), np.float32))


def test_shapes_that_do_not_broadcast_are_refused():
    with pytest.raises(ValueError, match=r"^add: Add cannot combine inputs of per-sample shapes \[\(3,\), \(4,\)\].*"
                                         r"match or be 1.*Reshape"):
        Add().build([(3,), (4,)])
    with pytest.raises(ValueError, match=r"\(4,\), \(4, 3\)"):  # right-aligned: 4 meets 3
        Multiply().build([(4,), (4, 3)])
    with pytest.raises(ValueError, match="cannot combine"):
        Average().forward(batch((3,), (4,)))


def test_batches_of_different_sizes_are_refused():
    a, b = np.ones((1, 3), np.float32), np.ones((2, 3), np.float32)
    for layer in (Add(), Concatenate()):
        with pytest.raises(ValueError, match=r"different sizes.*\(1, 3\), \(2, 3\)"):
            layer.forward([a, b])


def test_concatenate_errors():
    with pytest.raises(ValueError, match=r"axis 0, the batch axis; use axis=-1"):
        Concatenate(axis=0)
    with pytest.raises(TypeError, match="axis must be an integer"):
        Concatenate(axis=1.0)
    with pytest.raises(ValueError, match=r"axis=3 is out of range for .*per-sample rank 2 .*1\.\.2 or -2\.\.-1"):
        Concatenate(axis=3).build([(2, 3), (2, 3)])
    with pytest.raises(ValueError, match=r"axis=-3 is out of range"):  # -3 of rank 3 is the batch axis
        Concatenate(axis=-3).build([(2, 3), (2, 3)])
    with pytest.raises(ValueError, match=r"^concatenate: Concatenate along axis -1 needs the same size on every "
                                         r"other axis, got per-sample shapes \[\(2, 3\), \(4, 3\)\]"):
        Concatenate(name="concatenate").build([(2, 3), (4, 3)])
    with pytest.raises(ValueError, match="one rank"):
        Concatenate().build([(2, 3), (3,)])


@pytest.mark.parametrize("layer", [Add(name="a"), Subtract(), Multiply(dtype="float64"), Average(), Maximum(),
                                   Minimum(trainable=False), Concatenate(axis=1), Concatenate()])
def test_config_round_trip(layer):
    config = layer.get_config()
    assert type(layer).from_config(config).get_config() == config
    if isinstance(layer, Concatenate):
        assert config["axis"] == layer.axis


def test_lowercase_functions_build_their_layer_with_the_keyword_arguments(monkeypatch):
    monkeypatch.setattr(Layer, "__call__", lambda self, inputs, training=False: (self, inputs))
    xs = batch((3,), (3,))
    for fn, cls in [(add, Add), (subtract, Subtract), (multiply, Multiply), (average, Average),
                    (maximum, Maximum), (minimum, Minimum), (concatenate, Concatenate)]:
        layer, given = fn(xs, name=f"my_{fn.__name__}", dtype="float64")
        assert type(layer) is cls and layer.name == f"my_{fn.__name__}" and layer.dtype == np.float64
        assert given is xs
    assert concatenate(xs, axis=1)[0].axis == 1
    for mode, cls in [("sum", Add), ("mul", Multiply), ("ave", Average), ("max", Maximum), ("concat", Concatenate)]:
        layer, _ = merge(xs, mode=mode, name="m")
        assert type(layer) is cls and layer.name == "m"
    assert merge(xs, mode="concat", concat_axis=1)[0].axis == 1


def test_lowercase_functions_and_merge_on_arrays():
    a, b = batch((3,), (4, 3))
    np.testing.assert_allclose(add([a, b]), a[:, None] + b, rtol=1e-6)
    np.testing.assert_allclose(subtract([a, b]), a[:, None] - b, rtol=1e-6)
    np.testing.assert_allclose(maximum([a, b, b]), np.maximum(a[:, None], b))
    np.testing.assert_allclose(merge([b, b], mode="concat", concat_axis=1), np.concatenate([b, b], axis=1))
    np.testing.assert_allclose(merge([a, a], mode="ave"), a)
    np.testing.assert_allclose(Multiply()((a, a)), a * a)  # a tuple is a list of inputs too


@pytest.mark.parametrize("mode", ["cos", "dot", "sub", lambda xs: xs[0]])
def test_merge_refuses_other_modes(mode):
    with pytest.raises(ValueError, match=r"not supported; the modes are 'sum', 'mul', 'concat', 'ave' and 'max'"):
        merge(batch((3,), (3,)), mode=mode)


def test_exported():
    for name in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "add", "subtract",
                 "multiply", "average", "maximum", "minimum", "concatenate", "merge"):
        assert name in layers.__all__ and hasattr(layers, name)
