"""Models made by subclassing ``keras.Model``: layers made in ``__init__``, used in ``call``.

    class Net(keras.Model):
        def __init__(self):
            super().__init__()
            self.conv = Conv2D(32, 3, activation="relu")
            self.flat = Flatten()
            self.out = Dense(10, activation="softmax")

        def call(self, x, training=False):
            return self.out(self.flat(self.conv(x)))

When the model first sees data (or ``model.build(shape)``), :func:`build` calls ``call`` once on a
symbolic ``keras.Input``. If every step of ``call`` is a layer call or a keras.ops call, that
records the same graph a functional model has, and the model trains on the planner's fast path like
one (where ``call`` takes ``training``, it is traced with both values and must give one graph).
Anything else in ``call`` (Python that looks at values, such as the batch size, NumPy on tensors)
makes the trace fail, and the model runs ``call`` on the tape instead, as one step of a one-step
graph (:class:`CallLayer`): slower, but any code runs. :func:`traced` tells which.
"""
from minicnn import graph, tape
from minicnn.layers.base import Layer


_INTERNAL = {}


def internal_names(obj):
    """The attributes minicnn itself sets on a layer or a model (never the user's layers), from a
    probe of each kind made once."""
    from minicnn.functional import Model
    kind = "model" if isinstance(obj, Model) else "layer"
    if kind not in _INTERNAL:
        if kind == "model":
            class _Probe(Model):
                def call(self, inputs):
                    return inputs
            _INTERNAL[kind] = set(vars(_Probe(name="_probe")))
        else:
            _INTERNAL[kind] = set(vars(Layer(name="_probe")))
    return _INTERNAL[kind]


def tracked_layers(model):
    """The layers and models kept as the model's attributes (alone, or in lists, tuples and dicts;
    ``_private`` ones too, as Keras tracks them), in the order they were set, each once."""
    found = []
    internal = internal_names(model)
    for name, value in vars(model).items():
        if name in internal:
            continue
        items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
        found += [v for v in items if hasattr(v, "_leaf_layers") and v is not model]
    return list({id(v): v for v in found}.values())


def build(model, sample_shape):
    """Give a subclassed ``model`` its graph for inputs of per-sample ``sample_shape``: the traced
    graph of ``call`` where it is one, else the one-step graph that runs ``call`` on the tape."""
    from minicnn.functional import Model
    from minicnn.layers.core import Input
    if type(model).call is Model.call:
        raise TypeError(f"{type(model).__name__} has no call(): it trains through its own train_step, but to run it "
                        "on data (model(x), predict, evaluate, summary) define call(self, inputs), or call the "
                        "models it holds (e.g. model.encoder.predict(x)).")
    inputs = Input(shape=sample_shape, dtype=model._dtype_for_build())
    outputs = _trace(model, inputs)
    model._tape_mode = outputs is None
    if outputs is None:
        outputs = CallLayer(model)(inputs)
    model._set_graph(inputs, outputs)


def traced(model):
    """Whether ``model`` runs as the graph traced from its ``call`` (else on the tape)."""
    return not model._tape_mode


def _trace(model, inputs):
    """``call`` on symbolic ``inputs`` (with training False and True where it takes it); the outputs
    when both calls made the same graph of layer calls, else None. The nodes of a failed or second
    trace are taken off the layers again."""
    layers = _all_layers(model)
    before = {id(l): len(l._inbound_nodes) for l in layers}

    def undo(keep=None):
        for l in layers:
            extra = l._inbound_nodes[before[id(l)]:]
            l._inbound_nodes[before[id(l)]:] = [n for n in extra if keep is not None and n in keep]
    modes = (False, True) if tape.takes_argument(model.call, "training") else (None,)
    traces = []
    try:
        with tape.paused():
            for mode in modes:
                out = model.call(inputs) if mode is None else model.call(inputs, training=mode)
                outs = list(out.values()) if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else [out]
                if not outs or not graph.is_symbolic(outs):
                    raise TypeError("call did not return symbolic tensors")
                traces.append((out, graph.Graph([inputs], outs)))
    except Exception:  # any failure only means: not a static graph of layers; run call on the tape
        undo()
        return None
    shapes = [[(type(n.layer), id(n.layer), len(n.inputs)) for n in g.nodes] for _, g in traces]
    if any(s != shapes[0] for s in shapes) or isinstance(traces[0][0], dict):
        undo()
        return None
    undo(keep=set(traces[0][1].nodes))
    return traces[0][0]


def _all_layers(model):
    seen, todo = {}, tracked_layers(model)
    while todo:
        layer = todo.pop()
        if id(layer) in seen:
            continue
        seen[id(layer)] = layer
        todo += tracked_layers(layer) if hasattr(layer, "call") else []
        todo += getattr(layer, "layers", []) if not isinstance(layer, Layer) else []
    return list(seen.values())


class CallLayer(Layer):
    """A subclassed model's ``call`` as one custom layer of a one-step graph: it runs on the tape, and
    its weights are the model's (the model is its one sublayer)."""

    def __init__(self, model):
        super().__init__(name=f"{model.name}_call", dtype=model._dtype_for_build())
        self.model = model

    def call(self, inputs, training=None):
        if tape.takes_argument(self.model.call, "training"):
            return self.model.call(inputs, training=training)
        return self.model.call(inputs)

    def _leaf_layers(self):
        return self.model._leaf_layers()
