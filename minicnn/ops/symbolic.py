"""keras.ops on symbolic tensors: in a functional model, or in the trace of a subclassed model's
``call``, an op called on ``keras.Input`` tensors becomes a node of the graph, as in Keras 3.

    inputs = keras.Input(shape=(28, 28, 1))
    x = layers.Conv2D(8, 3)(inputs)
    x = ops.relu(x) * 0.5 + 1.0                     # three op nodes
    model = keras.Model(inputs, layers.Dense(10)(layers.Flatten()(x)))

The node's layer is an :class:`OpLayer`: the op's name, and its arguments with the symbolic tensors
marked by their place. It is a layer of the user's code, so it runs on the tape inside the planner's
steps, and saves as its config: the op's name and the arguments, never code. An op's name must be one
of :mod:`minicnn.ops`'s: a file cannot name anything else.
"""
import functools
import numbers

import numpy as np

from minicnn import graph
from minicnn.layers.base import Layer, unique_name

# Ops that look at a tensor without computing on it: on a symbolic tensor they answer at once.
ANSWERED_AT_ONCE = {"shape", "dtype", "is_tensor", "size", "convert_to_numpy", "GradientTape", "Tensor", "Variable"}


def dispatching(name, fn):
    """``fn`` (the op ``name`` of minicnn.ops), making a graph node when an argument is symbolic."""
    @functools.wraps(fn)
    def op(*args, **kwargs):
        if _symbolic(args) or _symbolic(kwargs.values()):
            tensors = []
            arguments, keywords = _template(list(args), tensors), _template(kwargs, tensors)
            return OpLayer(name, arguments, keywords)(tensors if len(tensors) > 1 else tensors[0])
        return fn(*args, **kwargs)
    return op


def _symbolic(values):
    return any(isinstance(v, graph.KerasTensor) or (isinstance(v, (list, tuple))
                                                    and any(isinstance(t, graph.KerasTensor) for t in v))
               for v in values)


def _template(value, tensors):
    """``value`` as JSON: a symbolic tensor as ``{"__tensor__": its place in tensors}`` (appended), slices,
    Ellipsis, arrays and dtypes marked so that :func:`_fill` gives them back.

    Raises:
        TypeError: for an argument that cannot be written down (a function, an object).
    """
    if isinstance(value, graph.KerasTensor):
        tensors.append(value)
        return {"__tensor__": len(tensors) - 1}
    if isinstance(value, dict):
        return {k: _template(v, tensors) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        items = [_template(v, tensors) for v in value]
        return items if isinstance(value, list) else {"__tuple__": items}
    if isinstance(value, slice):
        return {"__slice__": [_template(v, tensors) for v in (value.start, value.stop, value.step)]}
    if value is Ellipsis:
        return {"__ellipsis__": True}
    if isinstance(value, np.ndarray) or isinstance(value, np.generic):
        return {"__array__": np.asarray(value).tolist(), "dtype": np.asarray(value).dtype.name}
    if isinstance(value, (np.dtype, type)) and value is not bool:
        return {"__dtype__": np.dtype(value).name}
    if value is None or isinstance(value, (bool, str, numbers.Number)):
        return value
    raise TypeError(f"keras.ops on symbolic tensors: the argument {value!r} cannot be part of a model's graph "
                    "(a saved model writes its arguments down). Use numbers, strings, lists or NumPy arrays, or "
                    "a Lambda layer.")


def _fill(value, tensors):
    """The arguments :func:`_template` wrote, with ``tensors`` in their places."""
    if isinstance(value, list):
        return [_fill(v, tensors) for v in value]
    if not isinstance(value, dict):
        return value
    if "__tensor__" in value:
        return tensors[value["__tensor__"]]
    if "__tuple__" in value:
        return tuple(_fill(v, tensors) for v in value["__tuple__"])
    if "__slice__" in value:
        return slice(*(_fill(v, tensors) for v in value["__slice__"]))
    if "__ellipsis__" in value:
        return Ellipsis
    if "__array__" in value:
        return np.asarray(value["__array__"], dtype=value["dtype"])
    if "__dtype__" in value:
        return np.dtype(value["__dtype__"])
    return {k: _fill(v, tensors) for k, v in value.items()}


class OpLayer(Layer):
    """One call of a keras.ops function in a graph: ``op`` (its name in minicnn.ops) with ``arguments``
    and ``keywords`` as :func:`_template` writes them; the layer's inputs fill the tensors' places.

    Raises:
        ValueError: for an ``op`` that minicnn.ops does not have (a config can name nothing else).
    """

    def __init__(self, op, arguments=(), keywords=None, **kwargs):
        from minicnn import ops
        if not isinstance(op, str) or op.startswith("_") or op in ANSWERED_AT_ONCE or \
                not callable(getattr(ops, op, None)):
            raise ValueError(f"OpLayer: {op!r} is not an op of minicnn.ops.")
        kwargs.setdefault("name", unique_name(op))
        super().__init__(**kwargs)
        self.op, self.arguments, self.keywords = op, list(arguments), dict(keywords or {})

    def call(self, inputs):
        from minicnn import ops
        tensors = inputs if isinstance(inputs, list) else [inputs]
        return getattr(ops, self.op)(*_fill(self.arguments, tensors), **_fill(self.keywords, tensors))

    def get_config(self):
        return {**super().get_config(), "op": self.op, "arguments": self.arguments, "keywords": self.keywords}


def install(namespace):
    """Make every op of ``namespace`` (minicnn.ops's globals) graph-aware, and give KerasTensor the
    operators Tensor has (``x + y``, ``x * 2``, ``x[..., 0]`` on symbolic tensors make op nodes)."""
    for name, fn in list(namespace.items()):
        if callable(fn) and not name.startswith("_") and not isinstance(fn, type) and name not in ANSWERED_AT_ONCE \
                and getattr(fn, "__module__", "").startswith("minicnn.ops."):
            namespace[name] = dispatching(name, fn)
    ops = namespace
    binary = {"add": "add", "sub": "subtract", "mul": "multiply", "truediv": "divide", "pow": "power",
              "matmul": "matmul", "mod": "mod", "floordiv": "floor_divide"}
    for dunder, name in binary.items():
        setattr(graph.KerasTensor, f"__{dunder}__", lambda a, b, fn=ops[name]: fn(a, b))
        setattr(graph.KerasTensor, f"__r{dunder}__", lambda a, b, fn=ops[name]: fn(b, a))
    for dunder, name in {"lt": "less", "le": "less_equal", "gt": "greater", "ge": "greater_equal"}.items():
        setattr(graph.KerasTensor, f"__{dunder}__", lambda a, b, fn=ops[name]: fn(a, b))
    graph.KerasTensor.__neg__ = lambda a: ops["negative"](a)
    graph.KerasTensor.__abs__ = lambda a: ops["abs"](a)
    graph.KerasTensor.__getitem__ = lambda a, index: ops["getitem"](a, index)
