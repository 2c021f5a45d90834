"""The ONNX graph of a model's inference: the nodes and weights being written, tensors in the
layouts the nodes want, and the walk over the model's graph.

ONNX's image operators (Conv, MaxPool, Resize, ...) read NCHW, while a channels-last model holds
NHWC. Each tensor is therefore a :class:`Value` that may exist in several axis orders ("forms"),
each a permutation of the axes the user sees; a form is made by one Transpose node the first time
an operator asks for it, and then reused. A convolution's output is born NCHW and stays so through
the activations, batch normalization and merges that follow, so a chain of layers costs two
transposes (at its ends), not two per layer. The model's inputs and outputs keep the user's layout.
"""
import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

import minicnn
from minicnn import backend
from minicnn.functional import Model


class OnnxGraph:
    """The nodes and initializers being written, with unique names.

    ``scope`` prefixes the names of what is added (a nested model's layers get ``model/layer``).
    """

    def __init__(self, reserved=()):
        self.nodes, self.initializers = [], []
        self.scope = ""
        self._used = set(reserved)
        self._weights = {}   # (id of a weight array, how it was changed) -> initializer name
        self._literals = {}  # (dtype, shape, bytes) -> initializer name

    def fresh(self, base):
        """``base``, or ``base_1``, ``base_2``... whichever is not taken yet; now taken."""
        name, i = base, 0
        while name in self._used:
            i += 1
            name = f"{base}_{i}"
        self._used.add(name)
        return name

    def op(self, op_type, inputs, base, outputs=1, **attrs):
        """Add an ``op_type`` node reading ``inputs`` (names; "" for an omitted optional input);
        returns its output name, or a list of ``outputs`` names when more than one."""
        prefix = f"{self.scope}{base}/{op_type}"
        names = [self.fresh(prefix if outputs == 1 else f"{prefix}:{i}") for i in range(outputs)]
        self.nodes.append(helper.make_node(op_type, list(inputs), names, name=self.fresh(f"{prefix}#node"), **attrs))
        return names[0] if outputs == 1 else names

    def weight(self, array, base, change="", transform=None):
        """An initializer (float32) holding ``transform(array)``; one per weight array and ``change``,
        so a layer called twice (a shared layer) stores its weights once."""
        key = (id(array), change)
        if key not in self._weights:
            a = backend.to_numpy(array)
            a = np.ascontiguousarray(transform(a) if transform is not None else a, dtype=np.float32)
            name = self.fresh(f"{self.scope}{base}")
            self.initializers.append(numpy_helper.from_array(a, name))
            self._weights[key] = name
        return self._weights[key]

    def const(self, value, base, dtype=np.float32):
        """An initializer holding the literal ``value`` (shapes, axes, constants), stored once."""
        a = np.ascontiguousarray(np.asarray(value, dtype=dtype))
        key = (a.dtype.str, a.shape, a.tobytes())
        if key not in self._literals:
            name = self.fresh(f"{self.scope}{base}")
            self.initializers.append(numpy_helper.from_array(a, name))
            self._literals[key] = name
        return self._literals[key]


class Value:
    """A tensor of the model in one or more axis orders.

    ``forms`` maps a permutation ``p`` to the name of ``user_array.transpose(p)``; ``native`` is the
    form it was made in (elementwise layers keep working in it). Tensors of rank other than 4 have
    only the user's form.
    """

    def __init__(self, graph, name, rank, perm=None):
        self.graph, self.rank = graph, rank
        self.native = tuple(perm) if perm is not None else tuple(range(rank))
        self.forms = {self.native: name}

    @property
    def name(self):
        """The name of the native form."""
        return self.forms[self.native]

    def form(self, perm):
        """The name of this tensor with the user's axes in the order ``perm`` (made by a Transpose
        of the native form if not made yet)."""
        perm = tuple(perm)
        if perm not in self.forms:
            p = self.native  # native axis j is user axis p[j]; wanted axis i is user axis perm[i]
            order = [p.index(a) for a in perm]
            self.forms[perm] = self.graph.op("Transpose", [self.name], "layout", perm=order)
        return self.forms[perm]

    def user(self):
        """The name of this tensor in the user's layout."""
        return self.form(range(self.rank))

    def axis(self, user_axis):
        """Where the user's axis ``user_axis`` (negative counts from the end) sits in the native form."""
        return self.native.index(user_axis % self.rank)

    def like(self, name):
        """A new Value in this one's native form (the output of an elementwise node)."""
        return Value(self.graph, name, self.rank, self.native)


def model_to_onnx(model, opset):
    """The ONNX ModelProto of ``model``'s inference graph, checked by ``onnx.checker``.

    Inputs are named as the model's input layers, outputs as its outputs (``model.output_names``),
    every one float32 with a dynamic first axis named "batch".

    Raises:
        ValueError: for a layer that cannot be exported (see :func:`walk`), or a model that is not built.
    """
    try:
        model._ensure_built()
        graph = model._model_graph()
    except (TypeError, ValueError) as e:
        raise ValueError(f"model.export: model '{model.name}' is not built ({e}). Give it an input shape "
                         "(keras.Input(shape=...) or input_shape=) or call it on data first.") from None
    in_names, out_names, taken = model.input_names, [], set(model.input_names)
    for base in model.output_names:  # one tensor given twice as an output gets two names
        name, i = base, 0
        while name in taken:
            i += 1
            name = f"{base}_{i}"
        taken.add(name)
        out_names.append(name)
    g = OnnxGraph(reserved=in_names + out_names)
    values = {id(t): Value(g, n, len(t.shape)) for t, n in zip(graph.inputs, in_names)}
    walk(graph, values, g)
    for t, name in zip(graph.outputs, out_names):
        g.nodes.append(helper.make_node("Identity", [values[id(t)].user()], [name], name=g.fresh(f"{name}#output")))

    def info(name, shape):
        return helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape[1:]])
    onnx_graph = helper.make_graph(g.nodes, model.name, [info(n, t.shape) for t, n in zip(graph.inputs, in_names)],
                                   [info(n, t.shape) for t, n in zip(graph.outputs, out_names)], g.initializers)
    proto = helper.make_model(onnx_graph, opset_imports=[helper.make_opsetid("", opset)], producer_name="minicnn",
                              producer_version=minicnn.__version__)
    proto.ir_version = 8  # the IR of opset 17: runtimes older than the onnx package can read it
    onnx.checker.check_model(proto, full_check=True)
    return proto


def walk(graph, values, g):
    """Add the nodes of every call in ``graph`` (a :class:`minicnn.graph.Graph`), in its order.

    ``values`` maps id(KerasTensor) to its :class:`Value`; it holds the graph's inputs and is filled
    with every tensor made. A nested model is walked inside its call, under its name.

    Raises:
        ValueError: for a layer with no ONNX form, naming it, its class and what to do.
    """
    from minicnn.export.onnx_layers import export_layer  # it builds on this module's Value
    for node in graph.nodes:
        ins = [values[id(t)] for t in node.inputs]
        layer = node.layer
        if isinstance(layer, Model):
            inner = layer._model_graph()
            sub = {id(t): v for t, v in zip(inner.inputs, ins)}
            scope, g.scope = g.scope, f"{g.scope}{layer.name}/"
            try:
                walk(inner, sub, g)
            finally:
                g.scope = scope
            outs = [sub[id(t)] for t in inner.outputs]
        else:
            out = export_layer(g, layer, ins if node.list_input else ins[0], node)
            outs = out if isinstance(out, list) else [out]
        for t, v in zip(node.outputs, outs):
            values[id(t)] = v
