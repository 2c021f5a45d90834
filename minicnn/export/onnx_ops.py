"""keras.ops nodes of a graph (:class:`minicnn.ops.symbolic.OpLayer`) as ONNX nodes: the elementwise
ops (with tensors or constants), concatenate, the reductions, reshape, transpose and softmax. An
op with no form here is refused by name (``ops.getitem``, ``ops.einsum``...).

Elementwise ops keep their input's native axis order (no Transpose) where every operand is in it
or is a scalar; anything that names axes works in the user's layout.
"""
import numpy as np

from minicnn.export.onnx_graph import Value
from minicnn.ops.symbolic import _fill

UNARY = {"relu": "Relu", "sigmoid": "Sigmoid", "tanh": "Tanh", "exp": "Exp", "log": "Log", "sqrt": "Sqrt",
         "abs": "Abs", "negative": "Neg", "erf": "Erf", "softplus": "Softplus", "softsign": "Softsign",
         "reciprocal": "Reciprocal", "floor": "Floor", "ceil": "Ceil", "sign": "Sign"}
BINARY = {"add": "Add", "subtract": "Sub", "multiply": "Mul", "divide": "Div", "true_divide": "Div",
          "maximum": "Max", "minimum": "Min", "power": "Pow"}
REDUCE = {"mean": "ReduceMean", "sum": "ReduceSum", "max": "ReduceMax", "min": "ReduceMin", "prod": "ReduceProd"}


def op_layer(g, layer, xs, node):
    """The ONNX nodes of one keras.ops call; ``xs``: its tensors' Values, in the places of its arguments.

    Raises:
        ValueError: for an op (or a form of its arguments) with no ONNX export here, naming it.
    """
    values = xs if isinstance(xs, list) else [xs]
    args, kwargs = _fill(layer.arguments, values), _fill(layer.keywords, values)
    op = layer.op
    if op in UNARY and len(args) == 1 and not kwargs:
        return args[0].like(g.op(UNARY[op], [args[0].name], layer.name))
    if op == "square" and len(args) == 1 and not kwargs:
        return args[0].like(g.op("Mul", [args[0].name, args[0].name], layer.name))
    if op in BINARY and len(args) == 2 and not kwargs:
        return _binary(g, layer, BINARY[op], *args)
    if op == "concatenate":
        tensors, axis = args[0], (args[1] if len(args) > 1 else kwargs.get("axis", 0))
        rank = tensors[0].rank
        return Value(g, g.op("Concat", [t.user() for t in tensors], layer.name, axis=axis % rank), rank)
    if op in REDUCE and _only(kwargs, {"axis", "keepdims"}):
        return _reduce(g, layer, REDUCE[op], args[0], *args[1:], **kwargs)
    if op == "reshape" and len(args) == 2:
        shape = [int(d) for d in args[1]]
        return Value(g, g.op("Reshape", [args[0].user(), g.const(shape, f"{layer.name}/shape", "int64")],
                             layer.name), len(shape))
    if op == "transpose" and _only(kwargs, {"axes"}):
        x = args[0]
        axes = list(args[1] if len(args) > 1 else kwargs.get("axes") or range(x.rank)[::-1])
        return Value(g, g.op("Transpose", [x.user()], layer.name, perm=[a % x.rank for a in axes]), x.rank)
    if op == "softmax" and _only(kwargs, {"axis"}):
        x = args[0]
        axis = args[1] if len(args) > 1 else kwargs.get("axis", -1)
        return Value(g, g.op("Softmax", [x.user()], layer.name, axis=axis % x.rank), x.rank)
    raise ValueError(f"model.export: layer '{layer.name}' is the op ops.{op} (an OpLayer), which minicnn cannot "
                     f"export to ONNX in this form. Exported ops: {', '.join(sorted([*UNARY, *BINARY, *REDUCE]))}, "
                     "square, concatenate, reshape, transpose, softmax; or export the part of the model before it.")


def _only(kwargs, allowed):
    return set(kwargs) <= allowed


def _binary(g, layer, op_type, a, b):
    """``a op b`` for Values or constants: in the native order when both are in it (or one is a scalar)."""
    tensors = [v for v in (a, b) if isinstance(v, Value)]
    scalars = all(isinstance(v, Value) or np.ndim(v) == 0 for v in (a, b))
    native = scalars and len({(t.rank, t.native) for t in tensors}) == 1
    rank = max(t.rank if isinstance(t, Value) else np.ndim(t) for t in (a, b))

    def name(v, what):
        if isinstance(v, Value):
            return v.name if native else v.user()
        return g.const(np.asarray(v, dtype=np.float32), f"{layer.name}/{what}")
    y = g.op(op_type, [name(a, "a"), name(b, "b")], layer.name)
    return tensors[0].like(y) if native else Value(g, y, rank)


def _reduce(g, layer, op_type, x, axis=None, keepdims=False):
    axes = list(range(x.rank)) if axis is None else \
        [a % x.rank for a in (axis if isinstance(axis, (list, tuple)) else [axis])]
    if op_type == "ReduceSum":  # opset 13+: its axes are an input
        y = g.op(op_type, [x.user(), g.const(axes, f"{layer.name}/axes", "int64")], layer.name, keepdims=int(keepdims))
    else:
        y = g.op(op_type, [x.user()], layer.name, axes=axes, keepdims=int(keepdims))
    return Value(g, y, x.rank if keepdims else x.rank - len(axes))
