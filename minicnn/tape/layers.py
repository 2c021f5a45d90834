"""Layers on the tape: a built-in layer or model called on a GradientTape is one record (its own
forward and backward, its tuned CPU step when training); a custom layer's ``call`` runs op by op;
and a custom layer as a step of a plan (``fit``) runs its ``call`` on a private tape. With them,
``add_loss``: the losses a ``call`` adds, collected for the training step."""
import contextlib
import inspect

import numpy as np

from minicnn import backend
from minicnn.backend import get_array_module
from minicnn.tape.recording import GradientTape, _local, _record, _stack, backpropagate, recording, results
from minicnn.tape.tensor import Tensor, _Weight, unwrap


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
    if _is_model(layer) and any(leaf.user_code for leaf in layer._leaf_layers()):
        return layer._run_on_tape(inputs, training)  # its custom layers' add_loss must reach this tape
    if kwargs:
        raise TypeError(f"{layer.name}: unexpected keyword argument(s) {sorted(kwargs)} in the call.")
    many = isinstance(inputs, (list, tuple))
    xs = [unwrap(x) for x in inputs] if many else unwrap(inputs)
    if not _is_model(layer):  # builds it, or says clearly that a built layer is given other shapes
        layer.build_for_call([tuple(x.shape[1:]) for x in xs] if many else tuple(xs.shape[1:]))
    if _is_model(layer):  # its own plan, one per call on this tape (commits its state when training)
        followed = any(t._follows(x) is not None for t in _stack() if not t._paused
                       for x in (inputs if many else [inputs]))
        y, cache = layer._tape_forward(xs, training, _call_index(layer), input_grads=followed)
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
    except Exception as e:
        if hasattr(e, "add_note"):  # Python 3.11+: the error keeps its type and says where it came from
            e.add_note(f"(in the call() of layer '{layer.name}', {type(layer).__name__})")
        raise
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
        TypeError: when ``call`` returns something other than an array or a list of them.
    """
    many = isinstance(x, (list, tuple))
    inputs = [Tensor(a) for a in x] if many else [Tensor(x)]
    follow = training or recording()  # an inference call on a GradientTape (saliency) goes backward too
    with GradientTape() if follow else contextlib.nullcontext() as tape, adding_losses() as losses:
        if follow:
            tape.watch(inputs)
        y = call_user_code(layer, inputs if many else inputs[0], training)
    _take_added(losses)
    outputs = [_as_tensor(layer, t) for t in y] if isinstance(y, (list, tuple)) else _as_tensor(layer, y)
    if follow and layer.trainable_weights and not any(id(t) in tape._followed for t in _as_list(outputs)):
        raise TypeError(f"{layer.name}: call()'s output does not come from its weights through minicnn.ops, so "
                        "they could not train. Compute it with minicnn.ops (or the Tensor operators) from the "
                        "inputs and the weights add_weight returned.")
    data = [t.data for t in outputs] if isinstance(outputs, list) else outputs.data
    return data, (UserCache(tape, inputs, many, outputs, losses) if follow else None)


def _as_list(outputs):
    return outputs if isinstance(outputs, list) else [outputs]


def _as_tensor(layer, y):
    if isinstance(y, Tensor):
        return y
    if not hasattr(y, "shape"):
        raise TypeError(f"{layer.name}: call() returned {type(y).__name__}; a layer's call must return an array "
                        "(a Tensor of minicnn.ops, or a NumPy/CuPy array), or a list of them.")
    return Tensor(y)


def backward_user_layer(layer, dy, cache):
    """A custom layer's backward from its forward's tape: dx (a list for a list of inputs) and the
    gradients of ``layer.trainable_weights`` (its sublayers' included), in that order."""
    outputs, dys = (cache.output, dy) if isinstance(cache.output, list) else ([cache.output], [dy])
    seeds = [(id(t), t.data, d) for t, d in zip(outputs, dys or [None] * len(outputs)) if d is not None]
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
