"""Tapes and records: :class:`GradientTape`, what an op hands the open tapes (:func:`result`), and
the walk back through the records (:func:`backpropagate`). The package's docstring tells the idea."""
import contextlib
import threading

import numpy as np

from minicnn.backend import get_array_module
from minicnn.tape.tensor import Tensor, Variable, unwrap

_local = threading.local()  # per thread: the open tapes, the training mode of a call, the losses added


def _stack():
    if not hasattr(_local, "tapes"):
        _local.tapes = []
    return _local.tapes


def follows(x):
    """Whether a recording tape of this thread follows ``x``."""
    return any(not t._paused and t._followed is not None and _key(x) in t._followed for t in _stack())


def recording():
    """Whether a tape of this thread is recording."""
    return any(not t._paused for t in _stack())


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
