"""Symbolic tensors and the nodes that join them: what calling a layer on ``keras.Input(...)`` records.

Calling a layer on a :class:`KerasTensor` computes nothing: it infers the output shape, makes a
:class:`Node` (the layer, the tensors it was called on, the tensors it returns) and hands back the
outputs, each knowing the node that made it. A layer called twice has two nodes and one set of
weights. :class:`Graph` walks the nodes back from a model's outputs to its inputs once, and orders
them so that every node comes after the nodes it reads (Keras 3's ``map_graph``, by depth).
"""
import numpy as np


class KerasTensor:
    """A symbolic tensor: ``shape`` (None for the batch axis), ``dtype``, and the node that made it.

    ``node`` is None only while the tensor is being made; ``index`` is which of the node's outputs
    it is.
    """

    def __init__(self, shape, dtype, node=None, index=0, name=None):
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.node, self.index, self.name = node, index, name

    @property
    def ndim(self):
        return len(self.shape)

    @property
    def sample_shape(self):
        """The shape without the batch axis, as layers build on it."""
        return self.shape[1:]

    def __repr__(self):
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"

    def __array__(self, *args, **kwargs):
        raise TypeError(
            f"{self!r} is symbolic: it has a shape but no values. Build a Model from it "
            "(keras.Model(inputs, outputs)) and call the model, or fit/predict, on arrays.")


def is_symbolic(inputs):
    """Whether ``inputs`` (a tensor or a list/tuple of them) are symbolic.

    Raises:
        TypeError: for a list that mixes symbolic tensors and arrays.
    """
    items = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    symbolic = [isinstance(t, KerasTensor) for t in items]
    if any(symbolic) and not all(symbolic):
        kinds = ", ".join("KerasTensor" if s else type(t).__name__ for s, t in zip(symbolic, items))
        raise TypeError(
            f"A layer was called on a mix of symbolic tensors and arrays ({kinds}). Call it on "
            "keras.Input(...) tensors and layer outputs to build a model, or on arrays alone to compute.")
    return bool(items) and all(symbolic)


class Node:
    """One call of ``layer`` on symbolic ``inputs`` (a list); ``list_input``: the layer was called
    on a list (merge layers) rather than on one tensor. ``outputs``: the tensors it returns."""

    def __init__(self, layer, inputs, list_input, output_shapes):
        self.layer, self.inputs, self.list_input = layer, list(inputs), list_input
        name = layer.name if len(output_shapes) == 1 else None
        self.outputs = [KerasTensor((None, *s), layer.dtype, self, i, name or f"{layer.name}_{i}")
                        for i, s in enumerate(output_shapes)]
        layer._inbound_nodes.append(self)

    @property
    def is_input(self):
        return not self.inputs and type(self.layer).__name__ == "InputLayer"

    def __repr__(self):
        return f"<Node {self.layer.name}: {[t.name for t in self.inputs]} -> {[t.name for t in self.outputs]}>"


def call_symbolic(layer, inputs):
    """Record ``layer`` called on symbolic ``inputs``: a new node; returns its output tensor(s).
    The layer builds itself for the inputs' shapes, or checks them (``layer.build_for_call``)."""
    list_input = isinstance(inputs, (list, tuple))
    tensors = list(inputs) if list_input else [inputs]
    shapes = [t.sample_shape for t in tensors]
    out = layer.build_for_call(shapes if list_input else shapes[0])
    multi = isinstance(out, list)
    node = Node(layer, tensors, list_input, out if multi else [out])
    return list(node.outputs) if multi else node.outputs[0]


def with_batch(shape):
    """A per-sample shape (or a list of them) as Keras shows it, with None for the batch."""
    return [(None, *s) for s in shape] if isinstance(shape, list) else (None, *shape)


class Graph:
    """The nodes between ``inputs`` and ``outputs`` (lists of KerasTensors), ordered to run.

    Attributes:
        nodes: every node but the inputs', each after the nodes it reads (deepest first, as Keras).
        layers: each layer once, in Keras's order (``model.layers``): by depth, inputs first.
        consumers: tensor id -> the nodes that read it.

    Raises:
        ValueError: "Graph disconnected" when an output needs an input that is not among
            ``inputs`` (naming the input and the layer that needs it), for a cycle, and for two
            layers with one name.
    """

    def __init__(self, inputs, outputs):
        self.inputs, self.outputs = list(inputs), list(outputs)
        for t in self.inputs:
            if not (isinstance(t, KerasTensor) and t.node.is_input):
                raise TypeError(f"A model's inputs must be keras.Input(...) tensors, got {t!r}.")
        given = {id(t) for t in self.inputs}
        order, seen, active, layer_index = [], set(), set(), {}

        def visit(node, consumer):
            if node in seen:
                return
            if node in active:
                raise ValueError(f"The graph has a cycle through layer '{node.layer.name}'; a model's "
                                 "graph must lead from its inputs to its outputs without loops.")
            if node.is_input and id(node.outputs[0]) not in given:
                raise ValueError(
                    f"Graph disconnected: layer '{consumer.layer.name}' needs the input '{node.outputs[0].name}' "
                    f"{node.outputs[0].shape}, which is not among the model's inputs "
                    f"{[t.name for t in self.inputs]}. Pass it in Model(inputs=[...]).")
            layer_index.setdefault(node.layer, len(layer_index))
            active.add(node)
            for t in node.inputs:
                visit(t.node, node)
            active.discard(node)
            seen.add(node)
            order.append(node)

        for t in self.outputs:
            if not isinstance(t, KerasTensor):
                raise TypeError(f"A model's outputs must be symbolic tensors (layer outputs), got {type(t).__name__}.")
            visit(t.node, t.node)
        for t in self.inputs:  # an input no output needs still belongs to the model (first of its depth)
            if t.node not in seen:
                layer_index.setdefault(t.node.layer, -1)
                seen.add(t.node)
                order.insert(0, t.node)
        depth = self._depths(order)
        self.nodes = [n for n in sorted(order, key=lambda n: -depth[n]) if not n.is_input]
        layer_depth = {}
        for node in order:
            layer_depth[node.layer] = max(depth[node], layer_depth.get(node.layer, 0))
        self.layers = sorted(layer_depth, key=lambda l: (-layer_depth[l], layer_index[l]))
        names = [l.name for l in self.layers]
        for name in names:
            if names.count(name) > 1:
                raise ValueError(f"The name '{name}' is used by {names.count(name)} layers of the model; every layer "
                                 "needs its own name (leave name= out for automatic ones).")
        self.consumers = {}
        for node in self.nodes:
            for t in node.inputs:
                self.consumers.setdefault(id(t), []).append(node)

    @staticmethod
    def _depths(order):
        """Keras's depths: an output node is 0, a node one more than its deepest consumer; a shared
        layer's later nodes are at least as deep as its earlier ones."""
        depth, layer_depth = {}, {}
        for node in reversed(order):
            d = max(depth.get(node, 0), layer_depth.get(node.layer, 0))
            depth[node] = layer_depth[node.layer] = d
            for t in node.inputs:
                depth[t.node] = max(depth.get(t.node, 0), d + 1)
        return depth
