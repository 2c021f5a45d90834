"""The tape: gradients of the code a user writes, recorded while it runs.

Built-in layers have hand-written backwards and the planner (:mod:`minicnn.plan`) runs them; ``fit``
on them never comes here. The tape is for the rest: a custom layer's ``call``, a ``Lambda``, a loss
or a metric written with :mod:`minicnn.ops`, and ``GradientTape`` around any of it.

    with minicnn.GradientTape() as tape:
        logits = model(x, training=True)          # a built-in model: one record
        loss = loss_fn(y, logits)                 # a built-in loss: one record
    grads = tape.gradient(loss, model.trainable_weights)
    optimizer.apply_gradients(zip(grads, model.trainable_weights))

While a tape is open (``with``), every op of :mod:`minicnn.ops` that reads a followed value adds
a record: its inputs, its outputs and its backward. A value is followed when it was watched
(``tape.watch(x)``), is a trainable weight (read through a :class:`Variable` or used by a layer),
or came out of a record. A built-in layer or a whole model called on the tape is one record too,
with its own forward, cache and backward.

``gradient`` walks the records newest first. Every record's inputs existed before it, so this
order reaches each value only after all its readers are done (what DeZero's generations and
Chainer's ranks give): the gradients arriving at one value from several readers are summed first.
Gradients are not themselves recorded (no gradients of gradients).

Tapes are per thread; tapes nested in one thread all record.
"""
import contextlib
import inspect
import threading

import numpy as np

from minicnn import backend
from minicnn.backend import get_array_module

_local = threading.local()


def _stack():
    if not hasattr(_local, "tapes"):
        _local.tapes = []
    return _local.tapes


def recording():
    """Whether a tape of this thread is recording."""
    return any(not t._paused for t in _stack())


def any_tensor(inputs):
    """Whether ``inputs`` (a value or a list of them) holds a Tensor."""
    return any(isinstance(x, Tensor) for x in inputs) if isinstance(inputs, (list, tuple)) else \
        isinstance(inputs, Tensor)


@contextlib.contextmanager
def paused():
    """Run the block with every tape of this thread paused (a layer's shape inference)."""
    tapes = [t for t in _stack() if not t._paused]
    for t in tapes:
        t._paused = True
    try:
        yield
    finally:
        for t in tapes:
            t._paused = False


class Tensor:
    """An array the tape can follow: ``data`` (NumPy or CuPy), with NumPy-like operators that go
    through :mod:`minicnn.ops`. ``numpy()`` gives a NumPy copy (TensorFlow's spelling); NumPy
    functions take a Tensor like an array."""

    __array_priority__ = 1000  # ndarray + Tensor calls Tensor.__radd__, so the tape sees it

    def __init__(self, data):
        self.data = data

    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def numpy(self):
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __format__(self, spec):
        return format(float(self.data), spec) if self.data.ndim == 0 else format(str(self), spec)

    def __repr__(self):
        return f"<Tensor shape={self.shape}, dtype={self.dtype}>\n{self.data!r}"

    def __iter__(self):
        from minicnn import ops
        return (ops.take(self, i, axis=0) for i in range(len(self)))

    @property
    def T(self):
        from minicnn import ops
        return ops.transpose(self)

    def reshape(self, *shape):
        from minicnn import ops
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype):
        from minicnn import ops
        return ops.cast(self, dtype)


def install_operators():
    """Tensor's arithmetic, comparison and indexing operators and NumPy's reduction methods, as ops of
    :mod:`minicnn.ops`."""
    from minicnn import ops
    binary = {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply, "truediv": ops.divide,
              "floordiv": ops.floor_divide, "mod": ops.mod, "pow": ops.power, "matmul": ops.matmul}
    for name, fn in binary.items():
        setattr(Tensor, f"__{name}__", lambda a, b, fn=fn: fn(a, b))
        setattr(Tensor, f"__r{name}__", lambda a, b, fn=fn: fn(b, a))
    for name, fn in {"lt": ops.less, "le": ops.less_equal, "gt": ops.greater, "ge": ops.greater_equal,
                     "eq": ops.equal, "ne": ops.not_equal}.items():
        setattr(Tensor, f"__{name}__", lambda a, b, fn=fn: fn(a, b))
    Tensor.__hash__ = object.__hash__  # elementwise == leaves Tensors hashable by identity, as torch's
    Tensor.__neg__ = lambda a: ops.negative(a)
    Tensor.__pos__ = lambda a: a
    Tensor.__abs__ = lambda a: ops.abs(a)
    Tensor.__getitem__ = lambda a, index: ops.getitem(a, index)
    for name in ("sum", "mean", "max", "min", "var", "std", "prod", "argmax", "argmin"):  # NumPy's methods
        setattr(Tensor, name, lambda a, axis=None, keepdims=False, fn=getattr(ops, name): fn(a, axis=axis,
                                                                                            keepdims=keepdims))
    Tensor.clip = lambda a, low, high: ops.clip(a, low, high)
    Tensor.squeeze = lambda a, axis=None: ops.squeeze(a, axis)
    Tensor.flatten = lambda a: ops.reshape(a, (-1,))


class Variable(Tensor):
    """A weight as a custom layer's ``call`` reads it (``self.kernel = self.add_weight(...)``): a view
    of ``layer.params[name]``, so the optimizer's in-place updates and ``set_weights`` show here.

    ``assign``, ``assign_add`` and ``assign_sub`` write into the weight (a custom layer's or a
    metric's state); ``value`` and ``numpy()`` read it.
    """

    def __init__(self, layer, name):
        self._layer, self._name = layer, name

    @property
    def data(self):
        return self._layer.params[self._name]

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return f"{self._layer.name}/{self._name}"

    @property
    def trainable(self):
        return self._layer.trainable and self._name in self._layer.trainable_names

    @property
    def value(self):
        return self.data

    def assign(self, value):
        self.data[...] = unwrap(value)
        return self

    def assign_add(self, value):
        self.data[...] += unwrap(value)
        return self

    def assign_sub(self, value):
        self.data[...] -= unwrap(value)
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>\n{self.data!r}"


class _Weight(Variable):
    """A built-in layer's trainable weight, as an input of that layer's record."""

    def __init__(self, array):
        self._array = array

    data = property(lambda self: self._array)
    trainable = True


def unwrap(x):
    """The array inside a Tensor (anything else as it is)."""
    return x.data if isinstance(x, Tensor) else x


def _key(x):
    """What the tape knows a value by: a weight by its array (so ``model.trainable_weights``, plain
    arrays, name the same values as the Variables that read them), anything else by itself."""
    return id(x.data) if isinstance(x, Variable) else id(x)


def result(value, inputs, backward):
    """An op's output: recorded on every open tape where one of ``inputs`` is followed, with
    ``backward(dy) -> a gradient (or None) per input``. A Tensor when an input was one or the op was
    recorded, else the plain array (ops on arrays stay arrays)."""
    wrapped = any(isinstance(x, Tensor) for x in inputs)
    if not wrapped and not _stack():
        return value
    out = Tensor(value)
    recorded = _record(inputs, [out], backward)
    return out if wrapped or recorded else value


def results(values, inputs, backward):
    """:func:`result` for an op with several outputs; ``backward`` gets a list of their gradients
    (zeros for those that reach no target)."""
    outs = [Tensor(v) for v in values]
    recorded = _record(inputs, outs, backward, many=True)
    return outs if recorded or any(isinstance(x, Tensor) for x in inputs) else list(values)


def constant_result(value, inputs):
    """The output of an op with no gradient (comparisons, argmax, shapes): a Tensor if an input was one."""
    return Tensor(value) if any(isinstance(x, Tensor) for x in inputs) else value


def _record(inputs, outputs, backward, many=False):
    """Add a record to every open tape that follows one of ``inputs``; ``many``: ``backward`` takes a
    list of the outputs' gradients (even of one output)."""
    recorded = False
    for tape in _stack():
        if tape._paused:
            continue
        keys = [tape._follows(x) for x in inputs]
        if any(k is not None for k in keys):
            tape._records.append((backward, keys, outputs, many or len(outputs) > 1))
            for out in outputs:
                tape._followed[id(out)] = out
            recorded = True
    return recorded


class GradientTape:
    """Records what runs inside ``with`` so that :meth:`gradient` can take derivatives of it
    (TensorFlow's API).

    Args:
        persistent: allow several :meth:`gradient` calls (by default the first frees the records).
        watch_accessed_variables: follow every trainable weight that is read (default True);
            with False, only what :meth:`watch` names.
    """

    def __init__(self, persistent=False, watch_accessed_variables=True):
        self.persistent, self._watch_variables = bool(persistent), bool(watch_accessed_variables)
        self._records, self._followed, self._paused, self._used = [], {}, False, False

    def __enter__(self):
        if not _stack():
            _local.model_calls = {}
        _stack().append(self)
        return self

    def __exit__(self, *exc):
        _stack().remove(self)

    def watch(self, x):
        """Follow ``x``: an array, a Tensor or a Variable (or a list of them). Gradients with respect
        to an input (saliency, adversarial examples) need it; weights are followed anyway.

        Raises:
            TypeError: for something that is not an array.
        """
        for item in x if isinstance(x, (list, tuple)) else [x]:
            data = unwrap(item)
            if not hasattr(data, "shape") or not hasattr(data, "dtype"):
                raise TypeError(f"GradientTape.watch takes arrays, Tensors or Variables, got {type(item).__name__}.")
            if get_array_module(data).issubdtype(data.dtype, np.integer):
                raise TypeError(f"GradientTape.watch: an array of {data.dtype} has no gradient; cast it to float32 "
                                "first (x.astype('float32')).")
            self._followed[_key(item)] = item

    def _follows(self, x):
        """The key of ``x`` if this tape follows it (a trainable weight starts being followed here), else None."""
        if x is None:
            return None
        key = _key(x)
        if key in self._followed:
            return key
        if self._watch_variables and isinstance(x, Variable) and x.trainable:
            self._followed[key] = x
            return key
        return None

    @contextlib.contextmanager
    def stop_recording(self):
        """Run the block without recording on this tape."""
        self._paused = True
        try:
            yield
        finally:
            self._paused = False

    def reset(self):
        """Forget every record and watched value."""
        self._records, self._followed = [], {}

    def watched_variables(self):
        return [x for x in self._followed.values() if isinstance(x, Variable)]

    def gradient(self, target, sources, output_gradients=None, unconnected_gradients="none"):
        """The gradients of ``target`` (a value or a list, summed) with respect to each of ``sources``
        (a value, or a list/tuple/dict of them: weights, Variables, watched arrays or Tensors),
        in the structure of ``sources``, as Tensors; ``output_gradients``: the gradient to start from
        at each target (ones by default). A source the target does not depend on gets None
        (``unconnected_gradients="zero"``: zeros).

        Raises:
            RuntimeError: for a second call on a tape that is not persistent.
            ValueError: for a bad ``unconnected_gradients``.
        """
        if unconnected_gradients not in ("none", "zero"):
            raise ValueError(f"unconnected_gradients must be 'none' or 'zero', got {unconnected_gradients!r}.")
        if self._used and not self.persistent:
            raise RuntimeError("This GradientTape has already given its gradients and freed its records. Use "
                               "GradientTape(persistent=True) to call gradient() more than once.")
        targets = list(target) if isinstance(target, (list, tuple)) else [target]
        seeds = output_gradients if isinstance(output_gradients, (list, tuple)) else [output_gradients] * len(targets)
        grads = backpropagate(self._records, [(_key(t), unwrap(t), unwrap(s)) for t, s in zip(targets, seeds)])
        if not self.persistent:
            self._records, self._followed, self._used = None, None, True

        def one(source):
            g = grads.get(_key(source))
            if g is None and unconnected_gradients == "zero":
                g = get_array_module(unwrap(source)).zeros_like(unwrap(source))
            return None if g is None else Tensor(g)
        if isinstance(sources, dict):
            return {k: one(s) for k, s in sources.items()}
        if isinstance(sources, (list, tuple)):
            return type(sources)(one(s) for s in sources)
        return one(sources)


def backpropagate(records, seeds):
    """Gradients by key, from ``seeds`` ((key, value, gradient or None for ones) per target) back
    through ``records`` newest first; gradients reaching one value from several readers are summed."""
    grads = {}
    for key, value, seed in seeds:
        xp = get_array_module(value)
        seed = xp.ones_like(value) if seed is None else xp.asarray(seed, dtype=value.dtype)
        grads[key] = _plus(grads.get(key), seed)
    for backward, keys, outputs, many in reversed(records):
        douts = [grads.get(id(o)) for o in outputs]
        if all(d is None for d in douts):
            continue
        if many:
            douts = [get_array_module(o.data).zeros_like(o.data) if d is None else d for d, o in zip(douts, outputs)]
        dins = backward(douts if many else douts[0])
        for key, d in zip(keys, dins):
            if key is not None and d is not None:
                grads[key] = _plus(grads.get(key), d)
    return grads


def _plus(a, b):
    return b if a is None else a if b is None else a + b


# -- built-in layers and models on the tape -----------------------------------------------------

def call_layer(layer, inputs, training=None, **kwargs):
    """A layer called on Tensors, or while a tape records: user code (a custom layer's ``call``, a
    subclassed model's) runs op by op on the tape; a built-in layer or model is one record, with
    its own forward and backward. A stateful layer called with ``training=True`` here commits its
    state (BatchNormalization's moving statistics), as in a Keras training step. ``training=None``:
    that of the user's ``call`` this layer is called from (Keras's call context), else False."""
    if training is None:
        training = getattr(_local, "training", [False])[-1]
    training = bool(training)
    if _is_model(layer) and not layer.built:
        layer._ensure_built(unwrap(inputs[0] if isinstance(inputs, (list, tuple)) else inputs))
    if layer.user_code:
        return call_user_code(layer, inputs, training, **kwargs)
    if kwargs:
        raise TypeError(f"{layer.name}: unexpected keyword argument(s) {sorted(kwargs)} in the call.")
    many = isinstance(inputs, (list, tuple))
    xs = [unwrap(x) for x in inputs] if many else unwrap(inputs)
    if not layer.built:
        layer.build([tuple(x.shape[1:]) for x in xs] if many else tuple(xs.shape[1:]))
    if _is_model(layer):  # its own plan, one per call on this tape (commits its state when training)
        y, cache = layer._tape_forward(xs, training, _call_index(layer))
        layer_backward = layer._tape_backward
    else:  # its step: the tuned one when training on the CPU's fast path (an inference call keeps a plain cache)
        step = _layer_step(layer, training)
        with _running(step):
            y, cache = step.forward(xs, training)
        if training and layer.stateful:
            step.update_state(cache)

        def layer_backward(dy, cache):
            with _running(step):
                return step.backward(dy, cache)

    def backward(dy):
        dx, grads = layer_backward(dy, cache)
        return (list(dx) if many else [dx]) + list(grads if not _is_model(layer) else layer.trainable_gradients(grads))
    ins = (list(inputs) if many else [inputs]) + [_Weight(w) for w in layer.trainable_weights]
    if isinstance(y, list):
        return results(y, ins, backward)
    out = Tensor(y)
    _record(ins, [out], backward)
    return out


def _layer_step(layer, training):
    """The step a built-in layer runs as on the tape (:func:`minicnn.plan.single_step`): one per call on
    the open tapes, since a tuned step keeps scratch for its backward that a second forward would
    overwrite; kept on the layer for the next tape."""
    from minicnn import plan
    fast = training and backend.fast_path() and all(get_array_module(p) is np for p in layer.params.values())
    key = (_call_index(layer), fast)
    steps = layer.__dict__.setdefault("_tape_steps", {})
    if key not in steps:
        steps[key] = plan.single_step(layer, fast)
    return steps[key]


def _running(step):
    """The worker-thread context a tuned CPU step runs in (none for a layer's own step)."""
    from minicnn.cpu import steps as fast
    if isinstance(step, fast.FastStep):
        from minicnn.cpu.threads import cpu_threads
        return cpu_threads()
    return contextlib.nullcontext()


def _call_index(model):
    """How many times ``model`` (or a layer) was called since the outermost open tape began: each call
    runs a plan (a step) of its own, since a tuned step keeps scratch for its backward that a second
    forward would overwrite."""
    stack = _stack()
    counts = _local.model_calls if stack else {}
    n = counts.get(id(model), 0)
    counts[id(model)] = n + 1
    return n


def _is_model(layer):
    from minicnn.functional import Model
    return isinstance(layer, Model)


def call_user_code(layer, inputs, training=False, **kwargs):
    """Run ``layer.call`` on ``inputs`` (built first for their shapes), passing ``training`` where
    ``call`` takes it, and any other keyword arguments of the call."""
    if not layer.built:
        many = isinstance(inputs, (list, tuple))
        layer.build_for_call([tuple(x.shape[1:]) for x in inputs] if many else tuple(inputs.shape[1:]))
    if takes_argument(layer.call, "training"):
        kwargs["training"] = training
    if not hasattr(_local, "training"):
        _local.training = [False]
    _local.training.append(bool(training))  # the layers call() calls without training= run in this mode
    try:
        with adding_losses() as added:
            y = layer.call(inputs, **kwargs)
    finally:
        _local.training.pop()
    layer._losses = added  # Keras's layer.losses: those of its last call
    for value in added:
        add_loss(value)  # and they count in any enclosing collection (a training step)
    return y


def takes_argument(fn, name):
    """Whether ``fn`` takes an argument ``name`` (or ``**kwargs``)."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False
    return name in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


# -- a custom layer as a step of a plan -----------------------------------------------------------

class UserCache:
    """What a custom layer's forward leaves for its backward: its own tape, the inputs it watched,
    the output, the losses its ``call`` added and what to seed them with (``share``: the rank's
    share of the batch under MPI)."""

    def __init__(self, tape, inputs, many, output, losses):
        self.tape, self.inputs, self.many, self.output, self.losses = tape, inputs, many, output, losses
        self.share = 1.0


def forward_user_layer(layer, x, training):
    """A custom layer as a planner step: its ``call`` on a private tape that watches the inputs (none
    when neither training nor on a GradientTape: nothing will go backward); the output array and a
    :class:`UserCache`.

    Raises:
        TypeError: when ``call`` returns something other than one array.
    """
    many = isinstance(x, (list, tuple))
    inputs = [Tensor(a) for a in x] if many else [Tensor(x)]
    follow = training or recording()  # an inference call on a GradientTape (saliency) goes backward too
    with GradientTape() if follow else contextlib.nullcontext() as tape, adding_losses() as losses:
        if follow:
            tape.watch(inputs)
        y = call_user_code(layer, inputs if many else inputs[0], training)
    _take_added(losses)
    if not isinstance(y, Tensor):
        if not hasattr(y, "shape"):
            raise TypeError(f"{layer.name}: call() returned {type(y).__name__}; a layer's call must return one "
                            "array (a Tensor of minicnn.ops, or a NumPy/CuPy array).")
        y = Tensor(y)
    return y.data, (UserCache(tape, inputs, many, y, losses) if follow else None)


def backward_user_layer(layer, dy, cache):
    """A custom layer's backward from its forward's tape: dx (a list for a list of inputs) and the
    gradients of ``layer.trainable_weights`` (its sublayers' included), in that order."""
    seeds = [] if dy is None else [(id(cache.output), cache.output.data, dy)]
    seeds += [(id(v), v.data, get_array_module(v.data).asarray(cache.share, dtype=v.dtype)) for v in cache.losses]
    grads = backpropagate(cache.tape._records, seeds)
    dxs = [_or_zeros(grads.get(id(t)), t.data) for t in cache.inputs]
    wgrads = [_or_zeros(grads.get(id(w)), w) for w in layer.trainable_weights]
    return (dxs if cache.many else dxs[0]), wgrads


def _or_zeros(grad, like):
    return get_array_module(like).zeros_like(like) if grad is None else grad


# -- add_loss --------------------------------------------------------------------------------------

@contextlib.contextmanager
def adding_losses():
    """Collect what ``layer.add_loss`` gives inside the block (a list of 0-d Tensors)."""
    if not hasattr(_local, "losses"):
        _local.losses = []
    _local.losses.append([])
    try:
        yield _local.losses[-1]
    finally:
        _local.losses.pop()


def add_loss(value):
    """Add ``value`` (0-d) to the loss being collected; outside any collection (a custom layer
    called on arrays, out of fit), nothing to add it to, so it is dropped as Keras drops it."""
    collecting = getattr(_local, "losses", None)
    if collecting:
        collecting[-1].append(value if isinstance(value, Tensor) else Tensor(value))


def _take_added(losses):
    """Make the losses a layer added count towards the step: the training step sums them (:func:`take_added_losses`)."""
    if not hasattr(_local, "step_losses"):
        _local.step_losses = []
    _local.step_losses.extend(v.data for v in losses)  # kept on the device: no sync per step on the GPU


def take_added_losses():
    """The sum of the losses added by custom layers in this thread since the last call: a 0-d array on
    their backend (0.0 if none)."""
    values = getattr(_local, "step_losses", [])
    _local.step_losses = []
    return sum(values, 0.0)
