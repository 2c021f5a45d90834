"""Model: a graph of layers from its inputs to its outputs (Keras's functional API).

    inputs = keras.Input(shape=(32, 32, 3))
    x = Conv2D(16, 3, padding="same", activation="relu")(inputs)
    y = Conv2D(16, 3, padding="same")(x)
    outputs = Dense(10, activation="softmax")(Flatten()(keras.layers.add([x, y])))
    model = keras.Model(inputs, outputs)

The structure lives here: the graph (:class:`minicnn.graph.Graph`), layers, summary, weights and
configuration. Training, evaluation and prediction come from :class:`minicnn.training.Trainer`,
which talks to a model through the few methods marked "model interface" below, so that
:class:`minicnn.models.Sequential`, the one-path case, runs on exactly the same code.

A Model is also a layer of other models: called on symbolic tensors it makes one node, whose
forward and backward run its own plan (``autoencoder = Model(x, decoder(encoder(x)))``).
"""
from minicnn import backend, graph, saving
from minicnn.graph import KerasTensor
from minicnn.training import Trainer


class Model(Trainer):
    """A model from ``inputs`` to ``outputs``: each a tensor, a list or a dict of tensors
    (``keras.Input(...)`` and layer outputs; a dict's are taken in the order of its keys, as Keras 3
    does). ``name`` defaults to ``functional``, ``functional_1``... Keras 1's ``input=`` and
    ``output=`` are accepted.

    Raises:
        ValueError: "Graph disconnected" when an output needs an input not listed, for two layers
            with one name, or for a cycle. TypeError: for inputs or outputs that are not symbolic.
    """

    def __init__(self, inputs=None, outputs=None, name=None, trainable=True, input=None, output=None):
        super().__init__()
        inputs = input if inputs is None else inputs  # Keras 1: Model(input=..., output=...)
        outputs = output if outputs is None else outputs
        from minicnn.layers.base import _snake, unique_name
        self._subclassed = type(self).call is not Model.call or callable(getattr(type(self), "train_step", None))
        self._tape_mode = False
        # Keras names a subclassed model after its class (Net -> "net"), a functional one "functional".
        self.name = name or unique_name(_snake(type(self).__name__) if self._subclassed else self._default_name())
        self._inbound_nodes = []
        self._graph = self._leaves = None
        self._input_keys = self._output_keys = None  # a subclassed model: one input, one output until built
        self._single_input = self._single_output = True
        if inputs is not None or outputs is not None or (type(self) is Model):
            if inputs is None or outputs is None:
                raise TypeError("Model needs inputs and outputs: keras.Model(inputs=keras.Input(shape=...), "
                                "outputs=...), or a subclass of Model with a call() method.")
            self._set_graph(inputs, outputs)
            self._subclassed = False
        if not trainable:
            self.trainable = False

    @staticmethod
    def _default_name():
        return "functional"

    def _set_graph(self, inputs, outputs):
        # Keras 3 orders a dict's tensors by key.
        self._input_keys = sorted(inputs) if isinstance(inputs, dict) else None
        self._output_keys = sorted(outputs) if isinstance(outputs, dict) else None
        self._single_input = isinstance(inputs, KerasTensor)
        self._single_output = isinstance(outputs, KerasTensor)
        self._graph = graph.Graph(_as_list(inputs), _as_list(outputs))
        self._leaves = None
        self._plans.clear()

    # -- structure ----------------------------------------------------------------------------

    @property
    def layers(self):
        """Each layer once, in Keras's order (by depth from the inputs), InputLayers included; for a
        subclassed model, the layers kept as its attributes, in the order they were set."""
        if self._subclassed:
            from minicnn.subclassing import tracked_layers
            return tracked_layers(self)
        return list(self._graph.layers)

    def call(self, inputs, training=None):
        """What the model computes (a subclass defines its own; a functional model runs its graph)."""
        return self(inputs, training=training)

    @property
    def user_code(self):
        """Whether the model runs a ``call`` of its user on the tape (a subclassed model whose call is
        not a graph of layer calls: :mod:`minicnn.subclassing`)."""
        return self._subclassed and self._tape_mode

    def build(self, input_shape):
        """Build a subclassed model for inputs of ``input_shape`` (a leading None batch axis is
        accepted), as Keras's ``model.build((None, 28, 28, 1))``."""
        shape = tuple(input_shape)
        if not self._subclassed:
            return
        from minicnn import subclassing
        subclassing.build(self, shape[1:] if shape and shape[0] is None else shape)

    def _dtype_for_build(self):
        return backend.floatx()

    @property
    def inputs(self):
        return list(self._graph.inputs)

    @property
    def outputs(self):
        return list(self._graph.outputs)

    @property
    def input(self):
        """The input tensor(s), in the structure they were given (Keras's ``model.input``)."""
        return self._restructure(self._graph.inputs, self._input_keys, self._single_input)

    @property
    def output(self):
        return self._restructure(self._graph.outputs, self._output_keys, self._single_output)

    @property
    def input_names(self):
        return [t.node.layer.name for t in self._graph.inputs]

    @property
    def output_names(self):
        """Keras 3's names of the outputs: the keys of a dict of outputs, else the layers' names."""
        if self._graph is None:
            return ["output_1"]  # a subclassed model compiled before it is built: one output, as Keras names it
        return list(self._output_keys) if self._output_keys else [t.node.layer.name for t in self._graph.outputs]

    @property
    def input_shape(self):
        shapes = [t.shape for t in self._graph.inputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def output_shape(self):
        shapes = [t.shape for t in self._graph.outputs]
        return shapes[0] if len(shapes) == 1 else shapes

    @property
    def built(self):
        return self._graph is not None

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index`` of :attr:`layers`.

        Raises:
            ValueError: for an unknown name, an index out of range, or neither or both given.
        """
        layers = self.layers
        if (name is None) == (index is None):
            raise ValueError("get_layer needs a name or an index (one of them), e.g. model.get_layer('dense').")
        if index is not None:
            if not -len(layers) <= index < len(layers):
                raise ValueError(f"get_layer: index {index} is out of range for a model of {len(layers)} layers.")
            return layers[index]
        for layer in layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. The model's layers are {[l.name for l in layers]}.")

    def summary(self, print_fn=None, line_length=None, show_memory=False, batch_size=32):
        """Print Keras's summary table (with "Connected to" for a graph); ``show_memory`` adds a
        batch's activation memory."""
        from minicnn.utils.summary import format_summary
        self._ensure_built()
        text = format_summary(self, line_length=line_length, show_memory=show_memory, batch_size=batch_size)
        (print_fn or print)(text)

    def count_params(self):
        return int(sum(w.size for w in self.weights))

    # -- the model interface: what training, evaluation and saving use -------------------------

    def _ensure_built(self, x=None):
        """Build the model if it is not (a Sequential learns its input shape from data ``x``).

        Raises:
            TypeError: for a subclass of Model that made no graph (a ``call`` method of its own).
        """
        if self._graph is None and self._subclassed and x is not None:
            from minicnn import subclassing
            subclassing.build(self, tuple(x.shape[1:]))
        if self._graph is None:
            raise ValueError(f"{type(self).__name__} '{self.name}' is not built yet: it learns its input shape from "
                             "data. Call it on a batch, fit or predict first, or call model.build((None, *shape)).")

    def _model_graph(self):
        """The graph the planner turns into steps."""
        if self._graph is None:
            self._ensure_built()
        return self._graph

    def _leaf_layers(self):
        """Every layer that is not a model, once, nested models' layers included."""
        if self._leaves is None:
            self._leaves = list({id(leaf): leaf for layer in self.layers for leaf in layer._leaf_layers()}.values())
        return self._leaves

    # -- as a layer of another model -----------------------------------------------------------

    has_linear_part = False

    @property
    def stateful(self):
        return any(layer.stateful for layer in self._leaf_layers())

    @property
    def regularizers(self):
        return {}

    @property
    def dtype(self):
        return self._dtype()

    def build_for_call(self, shape):
        """Check that symbolic inputs of per-sample ``shape`` fit; the output shape(s) (graph.call_symbolic).

        Raises:
            ValueError: when the shapes differ from the model's inputs.
        """
        want = [t.sample_shape for t in self._graph.inputs]
        got = shape if isinstance(shape, list) else [shape]
        if [tuple(s) for s in got] != want:
            raise ValueError(f"Model '{self.name}' takes inputs of shape {[(None, *s) for s in want]}, but was "
                             f"called on {[(None, *s) for s in got]}.")
        outs = [t.sample_shape for t in self._graph.outputs]
        return outs if len(outs) > 1 else outs[0]

    def forward(self, x, training=False, call=0):
        """As a layer: the outputs for inputs ``x`` (an array or a list) and the caches of its plan;
        ``call``: which of its calls in the outer graph (each has a plan of its own)."""
        plan = self._plan(nested=call)
        outs, caches = plan.forward(x if isinstance(x, list) else [x], training)
        return (outs if len(outs) > 1 else outs[0]), caches

    def backward(self, dy, caches, call=0):
        """As a layer: the input gradient(s) and the gradients of :attr:`trainable_weights`."""
        plan = self._plan(nested=call)
        grads, dxs = plan.backward(dy if isinstance(dy, list) else [dy], caches, input_grads=True)
        return (dxs if len(dxs) > 1 else dxs[0]), grads

    def update_state(self, caches, call=0):
        self._plan(nested=call).update_state(caches)

    def _tape_forward(self, x, training, k, input_grads=True):
        """Called on a GradientTape (:func:`minicnn.tape.call_layer`): the output(s) and the cache for
        :meth:`_tape_backward`; ``k``: which call of this model on the open tape (each its own plan);
        ``input_grads``: whether the tape follows the inputs (else their gradient is not computed).
        A training call commits BatchNormalization's moving statistics, as a Keras training step does.
        An inference call runs the plain steps (the tuned ones fold BatchNormalization into the
        convolution at inference, which has no backward) and keeps their caches."""
        xs = x if isinstance(x, list) else [x]
        self._ensure_built(xs[0])
        plan = self._plan(nested=("tape", k, input_grads), plain=not training, input_grads=input_grads)
        with plan.running():
            outs, caches = plan.forward([self._to_batch([a])[0] for a in xs], bool(training), keep_caches=True)
        if training and plan.stateful:
            plan.update_state(caches)
        return (outs if len(outs) > 1 else outs[0]), (plan, caches)

    def _run_on_tape(self, x, training):
        """Called on a GradientTape when the model holds layers of its user's: the graph node by node,
        each layer called on the tape (a built-in one as one record, a custom one op by op), so that
        what their ``add_loss`` gives is on the tape too (``sum(model.losses)`` in a custom loop)."""
        from minicnn import ops, tape
        xs = [x[k] for k in self._input_keys] if isinstance(x, dict) and self._input_keys else \
            list(x) if isinstance(x, (list, tuple)) else [x]
        self._ensure_built(tape.unwrap(xs[0]))
        dtype = self._dtype()
        values = {id(t): (a if tape.unwrap(a).dtype == dtype else ops.cast(a, dtype))
                  for t, a in zip(self._graph.inputs, xs)}
        for node in self._graph.nodes:
            args = [values[id(t)] for t in node.inputs]
            out = tape.call_layer(node.layer, args if node.list_input else args[0], training)
            values.update(zip([id(t) for t in node.outputs], out if isinstance(out, list) else [out]))
        return self._output_structure([values[id(t)] for t in self._graph.outputs])

    def _tape_backward(self, dy, cache):
        plan, caches = cache
        with plan.running():
            grads, dxs = plan.backward(dy if isinstance(dy, list) else [dy], caches, input_grads=True)
        return (dxs if len(dxs) > 1 else dxs[0]), grads

    def trainable_gradients(self, grads):
        return grads

    # -- weights ------------------------------------------------------------------------------

    @property
    def trainable(self):
        return any(layer.trainable for layer in self._leaf_layers()) if self.built else True

    @trainable.setter
    def trainable(self, value):
        for layer in self._leaf_layers():
            layer.trainable = bool(value)

    @property
    def weights(self):
        """Every weight once (a shared layer's once), in the order of :attr:`layers`."""
        return _unique(w for layer in self.layers for w in layer.weights)

    @property
    def trainable_weights(self):
        return _unique(w for layer in self.layers for w in layer.trainable_weights)

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    trainable_variables = trainable_weights
    non_trainable_variables = non_trainable_weights
    variables = weights

    @property
    def losses(self):
        """The values the layers' ``add_loss`` gave in their last calls (Keras's ``model.losses``: a custom
        training loop adds ``sum(model.losses)`` to its loss)."""
        return [v for layer in self.layers for v in layer.losses]

    def _named_weights(self):
        """(``layer/weight`` name, array) for each of :attr:`weights`."""
        named = {}
        for layer in self.layers:
            pairs = layer._named_weights() if isinstance(layer, Model) else \
                [(f"{layer.name}/{n}", a) for n, a in layer._all_named_weights()]  # a custom layer's sublayers too
            for name, a in pairs:
                named.setdefault(id(a), (name, a))
        return list(named.values())

    def _named_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [(name, a) for name, a in self._named_weights() if id(a) in trainable]

    def get_weights(self):
        """Every weight as a NumPy array, in :attr:`weights` order."""
        return [backend.to_numpy(w).copy() for w in self.weights]

    def set_weights(self, weights):
        """Set all weights from a list in :meth:`get_weights` order.

        Raises:
            ValueError: on a wrong count or shape (nothing is changed then).
        """
        self._ensure_built()
        weights, named = list(weights), self._named_weights()
        if len(weights) != len(named):
            raise ValueError(f"set_weights expected {len(named)} arrays for model '{self.name}', got {len(weights)}.")
        for i, (w, (name, a)) in enumerate(zip(weights, named)):
            if tuple(getattr(w, "shape", ())) != a.shape:
                raise ValueError(f"set_weights: weight {i} ({name}) has shape {a.shape}, got an array of shape "
                                 f"{getattr(w, 'shape', None)}.")
        for w, (_, a) in zip(weights, named):
            a[...] = backend.get_array_module(a).asarray(backend.to_numpy(w), dtype=a.dtype)

    def to(self, backend_name):
        """Move the model (parameters and optimizer state) to ``"numpy"`` or ``"cupy"``; returns self."""
        backend.set_backend(backend_name)
        self._plans.clear()
        for layer in self._leaf_layers():
            layer.to_backend()
        for layer in self.layers:
            if isinstance(layer, Model):
                layer._plans.clear()
        if self.optimizer is not None:
            self.optimizer.set_state([backend.to_numpy(a) for a in self.optimizer.get_state()])
        return self

    # -- configuration ------------------------------------------------------------------------

    def get_config(self):
        """Keras's functional config: each layer with the tensors each of its calls took, as
        ``[layer name, node index, tensor index]``, and the model's inputs and outputs so."""
        from minicnn.serialization import serialize_layer
        if self._subclassed:
            raise NotImplementedError(
                f"{type(self).__name__} is a subclassed model: its architecture is Python code, which minicnn does not "
                "save. Save its weights with model.save_weights('name.weights.npz') and load them into a new "
                f"{type(self).__name__}() (built by one call on data) with load_weights.")
        g = self._graph
        index, count = {}, {}
        for node in [t.node for t in g.inputs] + g.nodes:
            if node not in index:
                index[node] = count[node.layer] = count.get(node.layer, -1) + 1
        ref = lambda t: [t.node.layer.name, index[t.node], t.index]  # noqa: E731
        layers = []
        for layer in g.layers:
            nodes = [n for n in g.nodes if n.layer is layer]
            layers.append({**serialize_layer(layer), "name": layer.name,
                           "inbound_nodes": [{"args": [ref(t) for t in n.inputs], "list": n.list_input}
                                             for n in nodes]})
        return {"name": self.name, "layers": layers, "input_layers": [ref(t) for t in g.inputs],
                "output_layers": [ref(t) for t in g.outputs], "input_keys": self._input_keys,
                "output_keys": self._output_keys, "single_input": self._single_input,
                "single_output": self._single_output}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The model :meth:`get_config` describes: every layer made, then called on the tensors it
        was called on, in an order where each call's inputs exist.

        Raises:
            ValueError: for an unknown layer class (pass it in ``custom_objects``) or a config whose
                graph cannot be rebuilt (a call on a layer that no entry makes).
        """
        from minicnn.serialization import deserialize_layer
        made, order = {}, []
        for entry in config["layers"]:
            made[entry["name"]] = deserialize_layer(entry, custom_objects)
            order.append(entry)
        outputs = {}  # (layer name, node index) -> that call's output tensors
        for name, layer in made.items():
            if type(layer).__name__ == "InputLayer":
                outputs[(name, 0)] = [layer.output]
        pending = [(e["name"], i, node) for e in order for i, node in enumerate(e.get("inbound_nodes", []))]
        while pending:
            waiting = []
            for name, i, node in pending:
                refs = [tuple(r[:2]) for r in node["args"]]
                if (i == 0 or (name, i - 1) in outputs) and all(r in outputs for r in refs):
                    args = [outputs[tuple(r[:2])][r[2]] for r in node["args"]]
                    out = made[name](args if node["list"] else args[0])
                    outputs[(name, i)] = out if isinstance(out, list) else [out]
                else:
                    waiting.append((name, i, node))
            if len(waiting) == len(pending):
                missing = sorted({tuple(r[:2]) for _, _, n in waiting for r in n["args"]} - set(outputs))
                raise ValueError(f"The model config's graph cannot be rebuilt: calls wait for {missing[:5]}, which no "
                                 "entry of its layers makes (a truncated or edited config?).")
            pending = waiting

        def tensors(refs, keys, single):
            ts = [outputs[(r[0], r[1])][r[2]] for r in refs]
            return dict(zip(keys, ts)) if keys else ts[0] if single else ts
        try:
            inputs = tensors(config["input_layers"], config.get("input_keys"), config.get("single_input"))
            outs = tensors(config["output_layers"], config.get("output_keys"), config.get("single_output"))
        except KeyError as e:
            raise ValueError(f"The model config names an input or output {e} that no layer makes.") from None
        return cls(inputs, outs, name=config.get("name"))

    def to_json(self, **kwargs):
        """The model's architecture as a JSON string (``model_from_json`` reads it back)."""
        import json
        from minicnn.serialization import serialize_layer
        return json.dumps(serialize_layer(self), **kwargs)

    # -- saving -------------------------------------------------------------------------------

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save architecture, weights and optimizer state to one ``.npz`` file (no pickle), atomically."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights alone to an ``.npz`` file, atomically."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` (or :meth:`save`) into this model."""
        saving.load_weights(self, filepath)

    def export(self, filepath, format="tf_saved_model", verbose=None, input_signature=None, **kwargs):
        """Keras 3's export for serving: ``format="onnx"`` writes the inference graph (minicnn.export)."""
        from minicnn.export import export_model
        export_model(self, filepath, format=format, verbose=verbose, input_signature=input_signature, **kwargs)

    # -- structures of inputs and outputs ------------------------------------------------------

    @staticmethod
    def _restructure(tensors, keys, single):
        if keys is not None:
            return dict(zip(keys, tensors))
        return tensors[0] if single else list(tensors)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"


def _as_list(tensors):
    if isinstance(tensors, dict):
        return [tensors[k] for k in sorted(tensors)]
    return list(tensors) if isinstance(tensors, (list, tuple)) else [tensors]


def _unique(items):
    return list({id(a): a for a in items}.values())
