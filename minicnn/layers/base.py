"""The Layer base class: configuration, shapes, parameters and their gradients.

A layer is thin: it validates its arguments, computes its output shape from its input shape
(no data needed), owns its parameters and gradients, and calls pure ops for the arithmetic.

Shapes passed to :meth:`Layer.build` and :meth:`Layer.compute_output_shape` exclude the batch
axis; ``summary()`` adds ``None`` in front, as Keras shows it.
"""
import numbers
import re

import numpy as np

from minicnn import backend, graph, regularizers, tape

_name_counts = {}


def _snake(name):
    """Keras's automatic name for a class: BatchNormalization -> batch_normalization,
    Conv2DTranspose -> conv2d_transpose."""
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)).lower()


def unique_name(prefix):
    """Keras-style automatic names: ``conv2d``, ``conv2d_1``, ``conv2d_2``..."""
    n = _name_counts.get(prefix, 0)
    _name_counts[prefix] = n + 1
    return prefix if n == 0 else f"{prefix}_{n}"


def clear_session():
    """Reset automatic layer names (as ``keras.backend.clear_session`` does)."""
    _name_counts.clear()


def check_positive_int(value, what, layer, allow_zero=False):
    """Return ``value`` as int, or raise if it is not a positive (or, ``allow_zero``, non-negative) integer."""
    kind = "non-negative integer" if allow_zero else "positive integer"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{layer}: {what} must be a {kind}, got {value!r}.")
    if value < (0 if allow_zero else 1):
        raise ValueError(f"{layer}: {what} must be a {kind}, got {value}.")
    return int(value)


def normalize_tuple(value, n, what, layer):
    """An int or a sequence of ``n`` positive ints -> a tuple of ``n`` ints."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        value = (value,) * n
    if not isinstance(value, (tuple, list)) or len(value) != n:
        raise ValueError(f"{layer}: {what} must be an integer or a tuple of {n} integers, got {value!r}.")
    return tuple(check_positive_int(v, what, layer) for v in value)


def normalize_data_format(value, layer):
    """None -> the global image data format; Keras 1's 'th'/'tf'/'default' accepted."""
    value = {"th": "channels_first", "tf": "channels_last", "default": None}.get(value, value)
    if value is None:
        return backend.image_data_format()
    if value not in ("channels_last", "channels_first"):
        raise ValueError(
            f"{layer}: data_format must be 'channels_last' or 'channels_first', got {value!r}.")
    return value


class Layer:
    """Base of every layer.

    Keyword arguments common to all layers (Keras's): ``name``, ``trainable``, ``dtype``
    (default float32), ``input_shape`` (per-sample shape, batch excluded), ``input_dim``
    (shorthand for ``input_shape=(input_dim,)``), ``batch_input_shape``, and ``kernel_regularizer``
    and ``bias_regularizer`` (Keras 1: ``W_regularizer``, ``b_regularizer``; see
    :mod:`minicnn.regularizers`), kept in ``self.regularizers`` (weight name -> regularizer) and
    checked at build against the layer's weights.

    Subclasses set ``self.params`` (name -> array, in Keras's weights order) in ``build``, list
    the trainable ones in ``self.trainable_names``, and define ``forward`` and ``backward``.
    Neither keeps anything of the call on the layer: what the forward leaves for the backward
    is returned (the cache) and handed back, so one layer can serve many threads at once.

    A layer that takes several inputs (the merge layers) gets lists: of per-sample shapes in
    ``build`` and ``compute_output_shape``, of arrays in ``forward``, and its backward returns a
    list of input gradients. Calling a layer on ``keras.Input`` tensors records a node of a graph
    (:mod:`minicnn.graph`) instead of computing.

    What the planner (:mod:`minicnn.plan`) may rely on, stated here rather than guessed:
    ``has_linear_part``: the layer is ``activation(linear(x))`` and has ``backward_linear(dz, cache)``
    for a dz already at the activation's input (:class:`minicnn.layers.core.ActivationMixin`);
    ``stateful``: its training forward leaves state to commit (BatchNormalization's batch
    statistics), which the trainer commits with ``update_state(cache)`` under its lock, so a
    forward never writes to the layer.

    A layer of one's own is written as in Keras: ``build(input_shape)`` (the batch axis included)
    makes weights with :meth:`add_weight`, and ``call(inputs)`` computes with :mod:`minicnn.ops`.
    Such a layer (``user_code``) runs on the tape (:mod:`minicnn.tape`): its ``forward`` records
    ``call`` and its ``backward`` walks the records; its output shape is ``compute_output_shape``
    if it defines one, else what ``call`` gives on a batch of zeros.
    """

    has_linear_part = False
    stateful = False
    user_code = False  # whether the layer runs code of its user (a call() of its own) on the tape

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.user_code = cls.call is not Layer.call

    def __init__(self, name=None, trainable=True, dtype=None, input_shape=None, input_dim=None,
                 batch_input_shape=None, batch_size=None, kernel_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, W_regularizer=None, b_regularizer=None, **kwargs):
        if kwargs:
            raise TypeError(
                f"{type(self).__name__}: unexpected keyword argument(s) {sorted(kwargs)}.")
        self.name = name or unique_name(_snake(type(self).__name__))
        self.trainable = bool(trainable)
        self.dtype = np.dtype(dtype or backend.floatx())
        if self.dtype.kind != "f":
            raise TypeError(f"{self.name}: dtype must be a float type, got {self.dtype}.")
        if input_dim is not None:
            input_shape = (check_positive_int(input_dim, "input_dim", self.name),)
        if batch_input_shape is not None:
            input_shape = tuple(batch_input_shape)[1:]
        if input_shape is not None:
            if isinstance(input_shape, numbers.Integral):
                input_shape = (input_shape,)
            input_shape = tuple(input_shape)
            if not all(isinstance(d, numbers.Integral) and d > 0 for d in input_shape):
                raise ValueError(
                    f"{self.name}: input_shape must be positive integers (the batch axis excluded), "
                    f"got {input_shape}.")
            input_shape = tuple(int(d) for d in input_shape)
        self.declared_input_shape = input_shape
        self.input_shape = None
        self.output_shape = None
        self.params = {}
        self.trainable_names = ()
        self.built = False
        self._inbound_nodes = []
        if activity_regularizer is not None:
            raise ValueError(f"{self.name}: activity_regularizer is not supported; regularize the weights "
                             "with kernel_regularizer/bias_regularizer.")
        given = {"kernel": W_regularizer if W_regularizer is not None else kernel_regularizer,
                 "bias": b_regularizer if b_regularizer is not None else bias_regularizer}
        self.regularizers = {name: regularizers.get(r) for name, r in given.items() if r is not None}

    # -- shapes -------------------------------------------------------------------------------

    def compute_output_shape(self, input_shape):
        """Per-sample output shape for a per-sample ``input_shape``; raises ValueError if invalid."""
        return tuple(input_shape)

    def build(self, input_shape):
        """Check ``input_shape`` (batch excluded; a list of them for several inputs), create the
        parameters, record both shapes."""
        if self.user_code:  # Keras's Layer.build: a custom layer's super().build(input_shape) marks it built
            self.built = True
            return
        input_shape = [tuple(s) for s in input_shape] if isinstance(input_shape, list) else tuple(input_shape)
        self.output_shape = self.compute_output_shape(input_shape)
        self.input_shape = input_shape
        self._create_params(input_shape)
        for name in self.regularizers:
            if name not in self.params:
                raise ValueError(
                    f"{self.name}: a {name}_regularizer was given, but {type(self).__name__} has no '{name}' "
                    f"weight (its weights: {', '.join(self.params) or 'none'}). Leave {name}_regularizer out.")
        self.built = True

    def _create_params(self, input_shape):
        """Subclasses with parameters create them here."""

    def build_for_call(self, input_shape):
        """Build for a symbolic call on inputs of per-sample ``input_shape``, or check that a built
        layer takes them; the output shape.

        Raises:
            ValueError: when a built (shared) layer is called on inputs of another shape.
        """
        key = [tuple(s) for s in input_shape] if isinstance(input_shape, list) else tuple(input_shape)
        if self.user_code and self.input_shape is None:
            return self._build_user_code(key)
        if not self.built:
            self.build(key)
        elif key != self.input_shape:
            raise ValueError(
                f"{self.name}: this layer was built for inputs of shape {graph.with_batch(self.input_shape)} and "
                f"is now called on {graph.with_batch(key)}. A layer called twice shares its weights, so it needs "
                "inputs of the same shape; make a new layer for the other shape.")
        return self.output_shape

    def _build_user_code(self, key):
        """A custom layer's build (with Keras's batch axis, None) and its output shape, from its own
        ``compute_output_shape`` or from ``call`` on a batch of two zeros (no tape)."""
        with_batch = [(None, *s) for s in key] if isinstance(key, list) else (None, *key)
        if type(self).forward is not Layer.forward:
            raise TypeError(f"{type(self).__name__} subclasses the built-in {type(self).__mro__[1].__name__} and "
                            "overrides call(), but minicnn's built-in layers compute in forward/backward, so their "
                            "call() cannot be extended. Write a layer of your own instead: subclass "
                            "minicnn.layers.Layer, keep the built-in layer as an attribute and call it in call().")
        if not self.built:
            self.build(with_batch)
            self.built = True  # also for a build() that forgot super().build(input_shape)
        out = self.compute_output_shape(with_batch) if type(self).compute_output_shape is not \
            Layer.compute_output_shape else None
        if out is not None:
            out = [tuple(s)[1:] for s in out] if isinstance(out, list) else tuple(out)[1:]
        else:
            xp = backend.xp()
            zeros = [xp.zeros((2, *s), self.dtype) for s in key] if isinstance(key, list) else \
                xp.zeros((2, *key), self.dtype)
            with np.errstate(all="ignore"), tape.paused(), tape.adding_losses():
                y = tape.call_user_code(self, zeros, training=False)
            out = [tuple(a.shape[1:]) for a in y] if isinstance(y, (list, tuple)) else tuple(y.shape[1:])
        self.input_shape, self.output_shape = key, out
        return out

    def _new_param(self, init, shape):
        """A parameter array on the current backend, drawn by ``init`` on the host."""
        return backend.to_device(np.asarray(init(shape)).astype(self.dtype))

    # -- computation --------------------------------------------------------------------------

    def forward(self, x, training=False):
        """The layer's output for a batch x, and the cache its backward needs: ``(y, cache)``."""
        if self.user_code:
            return tape.forward_user_layer(self, x, training)
        raise NotImplementedError(f"{type(self).__name__} must define forward and backward, or call (a Keras "
                                  "layer of one's own: build with self.add_weight, call with minicnn.ops)")

    def backward(self, dy, cache):
        """The gradients given dy (the output's) and the forward's cache: ``(dx, grads)``, with
        ``grads`` a dict from parameter name to gradient (empty for a layer without weights); a
        custom layer's are a list, aligned with :attr:`trainable_weights`."""
        if self.user_code:
            return tape.backward_user_layer(self, dy, cache)
        raise NotImplementedError(f"{type(self).__name__} must define backward")

    def call(self, inputs, training=None):
        """A custom layer's computation, written with :mod:`minicnn.ops` (Keras's ``call``); the
        built-in layers define forward and backward instead."""
        raise NotImplementedError(f"{type(self).__name__} must define call")

    def __call__(self, inputs, training=None, **kwargs):
        """On arrays, the output for a batch (Keras's ``layer(x)``); on symbolic tensors
        (``keras.Input``, other layers' outputs), the symbolic output, recorded in the graph; on
        Tensors or under a GradientTape, the output as a Tensor, recorded on the tape.

        Raises:
            TypeError: for a mix of arrays and symbolic tensors.
        """
        if graph.is_symbolic(inputs):
            return graph.call_symbolic(self, inputs)
        if self.user_code or tape.recording() or tape.any_tensor(inputs):
            return tape.call_layer(self, inputs, training, **kwargs)
        if not self.built:
            self.build([tuple(x.shape[1:]) for x in inputs] if isinstance(inputs, (list, tuple))
                       else tuple(inputs.shape[1:]))
        return self.forward(list(inputs) if isinstance(inputs, tuple) else inputs, training=bool(training))[0]

    def update_state(self, cache):
        """Commit what a training forward left in ``cache`` (layers with ``stateful``)."""

    def _leaf_layers(self):
        """The layers with weights this layer stands for: itself (a nested model: its layers; a
        custom layer: itself and its sublayers')."""
        return [self] + [leaf for s in self._sublayers() for leaf in s._leaf_layers()]

    @property
    def input(self):
        """The symbolic input of the layer's one call in a graph (Keras's ``layer.input``)."""
        node = self._only_node("input")
        return list(node.inputs) if node.list_input else node.inputs[0]

    @property
    def output(self):
        """The symbolic output of the layer's one call in a graph (Keras's ``layer.output``)."""
        outputs = self._only_node("output").outputs
        return outputs[0] if len(outputs) == 1 else list(outputs)

    def _only_node(self, what):
        if not self._inbound_nodes:
            raise AttributeError(f"Layer {self.name} has no {what} yet: it has not been called on a symbolic "
                                 "tensor (keras.Input(...)) or been part of a built model.")
        if len(self._inbound_nodes) > 1:
            raise AttributeError(f"Layer {self.name} has been called {len(self._inbound_nodes)} times, so "
                                 f"'{what}' is ambiguous; take the tensor each call returned instead.")
        return self._inbound_nodes[0]

    # -- parameters ---------------------------------------------------------------------------

    def add_weight(self, *args, shape=None, initializer=None, dtype=None, trainable=True, regularizer=None,
                   constraint=None, name=None, **kwargs):
        """A new weight of this layer (Keras's ``add_weight``), kept in ``self.params[name]``; returns
        the :class:`minicnn.tape.Variable` that ``call`` reads it through. Keras 3 takes ``shape``
        first, Keras 2 ``name`` first: both work. ``initializer`` defaults to glorot_uniform, as
        Keras's. Keras's distribution arguments (``autocast``, ``aggregation``, ``synchronization``,
        ``use_resource``, ``overwrite_with_gradient``...) are accepted and have no effect here.

        Raises:
            ValueError: for a name already used, a missing shape, or a constraint (not supported).
            TypeError: for another keyword argument.
        """
        unknown = set(kwargs) - {"autocast", "aggregation", "synchronization", "use_resource", "partitioner",
                                 "caching_device", "overwrite_with_gradient", "experimental_autocast"}
        if unknown:
            raise TypeError(f"{self.name}: add_weight got unexpected keyword argument(s) {sorted(unknown)}.")
        if args and isinstance(args[0], str):
            name, args = args[0], args[1:]
        if args:
            shape = args[0]
        if shape is None:
            raise ValueError(f"{self.name}: add_weight needs a shape, e.g. self.add_weight(shape=(input_shape[-1], "
                             "self.units), initializer='glorot_uniform').")
        if constraint is not None:
            raise ValueError(f"{self.name}: weight constraints are not supported; leave constraint out.")
        from minicnn import initializers
        shape = tuple(int(d) for d in shape)
        name = name or ("variable" if "variable" not in self.params else f"variable_{len(self.params)}")
        if name in self.params:
            raise ValueError(f"{self.name}: a weight named {name!r} exists already; give each add_weight its own name.")
        init = initializers.get("glorot_uniform" if initializer is None else initializer)
        self.params[name] = backend.to_device(np.asarray(init(shape)).astype(dtype or self.dtype))
        if trainable:
            self.trainable_names = tuple(self.trainable_names) + (name,)
        if regularizer is not None:
            self.regularizers[name] = regularizers.get(regularizer)
        return tape.Variable(self, name)

    def add_loss(self, value):
        """Add ``value`` (a number or 0-d Tensor from :mod:`minicnn.ops`) to the loss minimised, from
        ``call`` (a VAE's KL term); ``fit`` adds it to the batch's loss."""
        tape.add_loss(value)

    @property
    def losses(self):
        """The values ``call`` gave to :meth:`add_loss` in the layer's last call (and its sublayers')."""
        return list(getattr(self, "_losses", [])) + [v for s in self._sublayers() for v in s.losses]

    def __getattr__(self, name):
        """Keras's ``layer.kernel``, ``layer.bias``, ``layer.gamma``...: a weight by its name, as the
        :class:`minicnn.tape.Variable` that reads it (only for names that are not attributes)."""
        params = self.__dict__.get("params")
        if params is not None and name in params:
            return tape.Variable(self, name)
        prop = getattr(type(self), name, None)
        if isinstance(prop, property):  # a property that raised AttributeError: its own message, again
            return prop.__get__(self, type(self))
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    @property
    def trainable_variables(self):
        return self.trainable_weights

    @property
    def non_trainable_variables(self):
        return self.non_trainable_weights

    @property
    def variables(self):
        return self.weights

    def _sublayers(self):
        """The layers a custom layer keeps as attributes (alone or in lists, tuples and dicts), in the
        order they were set: their weights are this layer's too, as Keras tracks them."""
        if not self.user_code:
            return []
        found = []
        for value in vars(self).values():
            items = value.values() if isinstance(value, dict) else value if isinstance(value, (list, tuple)) else [value]
            found += [v for v in items if hasattr(v, "_leaf_layers") and v is not self]
        return list({id(v): v for v in found}.values())

    @property
    def weights(self):
        """All parameter arrays, in Keras's order (a custom layer's own, then its sublayers')."""
        return list(self.params.values()) + [w for s in self._sublayers() for w in s.weights]

    @property
    def trainable_weights(self):
        if not self.trainable:
            return []
        return [self.params[n] for n in self.trainable_names] + [w for s in self._sublayers() for w in s.trainable_weights]

    @property
    def non_trainable_weights(self):
        trainable = {id(w) for w in self.trainable_weights}
        return [w for w in self.weights if id(w) not in trainable]

    def _named_trainable_weights(self):
        """(``layer/weight`` name, array) for each of :attr:`trainable_weights`."""
        if not self.trainable:
            return []
        return [(f"{self.name}/{n}", self.params[n]) for n in self.trainable_names] + \
            [pair for s in self._sublayers() for pair in s._named_trainable_weights()]

    def _variables(self):
        """A :class:`minicnn.tape.Variable` for each of the layer's own weights."""
        return [tape.Variable(self, n) for n in self.params]

    def trainable_gradients(self, grads):
        """The entries of a backward's ``grads`` aligned with :attr:`trainable_weights` (a custom
        layer's backward gives them so already)."""
        if self.user_code:
            return grads
        return [grads.get(n) for n in self.trainable_names] if self.trainable else []

    def count_params(self):
        return int(sum(a.size for a in self.weights))

    def get_weights(self):
        """Copies of the parameters as NumPy arrays, in Keras's order."""
        return [backend.to_numpy(a).copy() for a in self.weights]

    def set_weights(self, weights):
        """Set every parameter from a list of arrays in Keras's order (shapes must match).

        Raises:
            ValueError: on a wrong number of arrays or a wrong shape.
        """
        weights, named = list(weights), self._all_named_weights()
        if len(weights) != len(named):
            raise ValueError(
                f"{self.name}: expected {len(named)} weight arrays ({', '.join(n for n, _ in named) or 'none'}), "
                f"got {len(weights)}.")
        for (name, param), w in zip(named, weights):
            w = np.asarray(backend.to_numpy(w))
            if w.shape != param.shape:
                raise ValueError(
                    f"{self.name}: weight '{name}' has shape {param.shape}, got an array of shape {w.shape}.")
        for (name, param), w in zip(named, weights):
            # Copy into the existing array so optimizer state and references stay valid; the copy
            # goes to that array's backend, which need not be the global one (a CPU model
            # compared with a GPU model, a model kept on the GPU after set_backend("numpy")).
            param[...] = backend.get_array_module(param).asarray(backend.to_numpy(w), dtype=param.dtype)

    def _all_named_weights(self):
        """(name, array) for each of :attr:`weights`: its own by name, a sublayer's as ``sublayer/name``."""
        return list(self.params.items()) + [(f"{s.name}/{n}", a) for s in self._sublayers()
                                            for n, a in s._all_named_weights()]

    def to_backend(self):
        """Move the parameters to the current backend."""
        for name, a in self.params.items():
            self.params[name] = backend.to_device(backend.to_numpy(a))
        for sub in self._sublayers():
            sub.to_backend()

    # -- configuration ------------------------------------------------------------------------

    def get_config(self):
        """A JSON-serialisable dict that ``type(self)(**config)`` turns back into this layer."""
        config = {"name": self.name, "trainable": self.trainable, "dtype": self.dtype.name}
        if self.declared_input_shape is not None:
            config["input_shape"] = list(self.declared_input_shape)
        for name, reg in self.regularizers.items():
            config[f"{name}_regularizer"] = regularizers.serialize(reg)
        return config

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        return f"<{type(self).__name__} name={self.name!r}>"
