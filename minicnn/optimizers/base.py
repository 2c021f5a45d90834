"""The Optimizer base class: learning rate, Keras 2's decay, the step counter, slots and state.

The model calls ``optimizer.apply_gradients(params, grads)`` once per training step, always with
the same list of parameter arrays in the same order. Each parameter is updated in place, and its
state ("slots": momentum, velocity, ...) is created on the first call next to it: same backend
(NumPy or CuPy, taken from the array), same dtype, keyed by the parameter's position in the list.

Hyperparameters are kept as Python floats, so multiplying a float32 array by them stays float32.
Every update writes into preallocated buffers with ``out=``: a training step allocates nothing
(unless gradient clipping is asked for: it works on temporary arrays).

Every optimizer takes Keras 3's ``clipnorm``, ``clipvalue``, ``global_clipnorm`` and
``weight_decay``; as in Keras 3 the gradients are clipped first, then each weight decays by
``w *= 1 - weight_decay * lr``, then the optimizer's own update runs on the clipped gradients.

Each optimizer writes its rule once, in ``_update``, as NumPy/CuPy expressions. Two tuned ways of
running it exist beside that: on the CPU's fast path a large parameter is updated in cache-sized
chunks on the worker threads (:mod:`minicnn.cpu.optimizer`), and on the GPU one CUDA kernel per
parameter replaces the ten-odd elementwise launches (``kernels/optimizers.cu``).
"""
import math
import numbers

import numpy as np

from minicnn import backend
from minicnn.backend import get_array_module, is_cupy_array, to_numpy
from minicnn.cpu import optimizer as cpu_optimizer
from minicnn.optimizers import clipping


def _check_number(value, what, owner, low=None, high=None, low_open=False, high_open=False):
    """Return ``value`` as a Python float, or raise TypeError/ValueError naming the argument."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{owner}: {what} must be a number, got {value!r} ({type(value).__name__}).")
    value = float(value)
    too_low = low is not None and (value <= low if low_open else value < low)
    too_high = high is not None and (value >= high if high_open else value > high)
    if not math.isfinite(value) or too_low or too_high:
        lo = "" if low is None else f"{low} {'<' if low_open else '<='} "
        hi = "" if high is None else f" {'<' if high_open else '<='} {high}"
        raise ValueError(f"{owner}: {what} must satisfy {lo}{what}{hi}, got {value}.")
    return value


def _unzip(pairs, owner):
    """The weights and the gradients of Keras's ``zip(grads, weights)``, as arrays (the tape gives
    Tensors and Variables)."""
    pairs = list(pairs)
    return [_array(w, "weight", owner) for _, w in pairs], [_array(g, "gradient", owner) for g, _ in pairs]


def _array(x, what, owner):
    """The array inside a Tensor or Variable of the tape (an array as it is).

    Raises:
        ValueError: for a gradient of None (a weight the loss does not depend on)."""
    if x is None:
        raise ValueError(f"{owner}.apply_gradients: a {what} is None. The loss does not depend on that weight "
                         "(tape.gradient gives None for it): leave it out of the list, or check the model's call.")
    from minicnn.tape import unwrap
    return unwrap(x)


class Optimizer:
    """Base class: learning rate (``lr`` alias), Keras 2 ``decay``, step counter, lazy slots, state,
    and Keras 3's gradient clipping and weight decay.

    Subclasses set ``slot_names`` (one zero-initialised array per name and parameter),
    ``n_scratch`` (uninitialised work buffers per parameter) and implement ``_update``.

    Args:
        weight_decay: float >= 0 or None (default): each step first shrinks every weight by
            ``w * weight_decay * lr`` (decoupled weight decay, as AdamW does).
        clipnorm: float > 0 or None: each gradient is scaled down to an L2 norm of at most this.
        global_clipnorm: float > 0 or None: all gradients are scaled down together, to a joint
            L2 norm of at most this.
        clipvalue: float > 0 or None: each gradient value is clipped to [-clipvalue, clipvalue].

    Raises:
        ValueError: when more than one of clipnorm, clipvalue and global_clipnorm is given (as
            Keras 3 does), or for out-of-range values.

    Attributes:
        iterations (int): steps taken so far.
        learning_rate (float): readable and settable; callbacks change it between epochs.
    """

    slot_names = ()
    n_scratch = 1
    # Name of the optional fused kernel in minicnn.cuda (see _fused_kernel).
    kernel = None

    def __init__(self, learning_rate, decay=0.0, lr=None, name=None, weight_decay=None, clipnorm=None,
                 clipvalue=None, global_clipnorm=None):
        if lr is not None:  # Keras 2 spelling; like Keras 2, it wins over learning_rate
            learning_rate = lr
        owner = type(self).__name__
        self.learning_rate = _check_number(learning_rate, "learning_rate", owner, low=0, low_open=True)
        self.decay = _check_number(decay, "decay", owner, low=0)
        clipping = {"clipnorm": clipnorm, "clipvalue": clipvalue, "global_clipnorm": global_clipnorm}
        given = [k for k, v in clipping.items() if v is not None]
        if len(given) > 1:
            raise ValueError(f"{owner}: only one of clipnorm, clipvalue and global_clipnorm can be set "
                             f"(as in Keras 3); got {', '.join(given)}. Keep one.")
        for k, v in clipping.items():
            setattr(self, k, None if v is None else _check_number(v, k, owner, low=0, low_open=True))
        self.weight_decay = None if weight_decay is None else _check_number(weight_decay, "weight_decay", owner, low=0)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._slots = None      # per parameter: tuple of slot arrays, in slot_names order
        self._scratch = None    # per parameter: tuple of work buffers
        self._pending = None    # state from set_state waiting for the parameters to exist
        self._fused = None

    @property
    def learning_rate(self):
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value):
        self._learning_rate = _check_number(value, "learning_rate", type(self).__name__, low=0)

    @property
    def lr(self):
        """Keras 2 alias of :attr:`learning_rate`."""
        return self.learning_rate

    @lr.setter
    def lr(self, value):
        self.learning_rate = value

    def apply_gradients(self, params, grads=None, names=None):
        """Update each array of ``params`` (the same list every call) in place from its gradient in
        ``grads``; or, as Keras's ``optimizer.apply_gradients(zip(grads, model.trainable_weights))``,
        from pairs (gradient, weight) given alone.

        Args:
            params: the parameter arrays (a model's trainable weights), or (gradient, weight) pairs.
            grads: one gradient per parameter, in the same order and shape.
            names: optional, one name per parameter (Keras's ``"conv2d/kernel"``), for the errors:
                the arrays themselves carry none.

        Raises:
            ValueError: for mismatched lengths or shapes (naming the weight), or a changed parameter count.
        """
        name = type(self).__name__
        if grads is None:  # Keras's zip(grads, weights)
            params, grads = _unzip(params, name)
        if len(params) != len(grads):
            raise ValueError(f"{name}: got {len(params)} parameters but {len(grads)} gradients; pass one per parameter.")
        if names is not None and len(names) != len(params):
            raise ValueError(f"{name}: got {len(params)} parameters but {len(names)} names; pass one per parameter.")
        if self._slots is None:
            self._build(params)
        elif len(self._slots) != len(params):
            raise ValueError(f"{name}: built for {len(self._slots)} parameters, now given {len(params)}. An "
                             "optimizer belongs to one model; compile with a new one.")
        for i, (p, g) in enumerate(zip(params, grads)):  # all checked before any is updated
            if getattr(g, "shape", None) != p.shape:
                weight = f"weight {names[i]!r}" if names is not None else f"parameter {i}"
                got = f"shape {g.shape}" if hasattr(g, "shape") else f"no shape (a {type(g).__name__})"
                raise ValueError(f"{name}: the gradient of {weight} has {got}, but the weight has shape {p.shape}. "
                                 "Each gradient needs its weight's shape: a layer's backward returns one gradient "
                                 "per weight, shaped like it.")
        t = self.iterations + 1
        lr = self.learning_rate if not self.decay else self.learning_rate / (1.0 + self.decay * self.iterations)
        scalars = self._step_scalars(lr, t)
        if (self.clipnorm, self.clipvalue, self.global_clipnorm, self.weight_decay) != (None, None, None, None):
            grads = self._clip_and_decay(params, grads, lr)
        for i, (p, g) in enumerate(zip(params, grads)):
            self._apply(i, p, g, scalars, lr, t)
        self.iterations = t

    def _clip_and_decay(self, params, grads, lr):
        """The clipped gradients; the weights decayed in place (w - w*wd*lr, as Keras's torch backend)."""
        if (self.clipnorm, self.clipvalue, self.global_clipnorm) != (None, None, None):
            grads = clipping.clip(grads, self.clipnorm, self.clipvalue, self.global_clipnorm)
        for p in params if self.weight_decay else ():
            p *= 1.0 - self.weight_decay * lr
        return grads

    def _apply(self, i, p, g, scalars, lr, t):
        """Update one parameter: the rule of ``_update``, or one of its two tuned runners."""
        if is_cupy_array(p):
            fused = self._fused_kernel(p, g)
            if fused is not None:
                return self._fused_update(fused, p, g, self._slots[i], lr, t)
        elif backend.fast_path() and p.size > cpu_optimizer.CHUNK and p.flags.c_contiguous:
            return cpu_optimizer.update_in_chunks(self, p, g, self._slots[i], scalars)
        xp = get_array_module(p)
        if self._scratch[i] is None:
            self._scratch[i] = tuple(xp.empty_like(p) for _ in range(self.n_scratch))
        self._update(xp, p, g, self._slots[i], self._scratch[i], *scalars)

    def _step_scalars(self, lr, t):
        """The Python floats one step needs, computed once per step rather than per parameter."""
        raise NotImplementedError(f"{type(self).__name__} must define _step_scalars (an Optimizer subclass hook)")

    def _update(self, xp, p, g, slots, scratch, *scalars):
        """Update ``p`` in place; ``slots`` and ``scratch`` have ``p``'s shape, dtype and backend."""
        raise NotImplementedError(f"{type(self).__name__} must define _update (an Optimizer subclass hook)")

    def _fused_update(self, fn, p, g, slots, lr, t):
        """Call ``minicnn.cuda``'s fused kernel for this optimizer with its own signature."""
        raise NotImplementedError(f"{type(self).__name__} must define _fused_update (an Optimizer subclass hook)")

    def _fused_kernel(self, p, g):
        """``minicnn.cuda.<kernel>`` for contiguous CuPy arrays of one dtype, else None.

        One fused kernel replaces about ten elementwise launches per parameter; where minicnn.cuda
        or the kernel is missing, the plain CuPy expressions of ``_update`` run instead.
        """
        if (self.kernel is None or type(p).__module__.split(".")[0] != "cupy" or g.dtype != p.dtype
                or p.dtype.kind != "f" or p.dtype.itemsize < 4
                or not (p.flags.c_contiguous and g.flags.c_contiguous)):
            return None
        if self._fused is None:
            try:
                from minicnn import cuda
                self._fused = getattr(cuda, self.kernel, False) or False
            except ImportError:
                self._fused = False
        return self._fused or None

    def _build(self, params):
        pending, self._pending = self._pending, None
        if pending is not None and len(pending) != len(self.slot_names) * len(params):
            raise ValueError(
                f"{type(self).__name__}: saved optimizer state holds {len(pending)} slot arrays, "
                f"but {len(params)} parameters need {len(self.slot_names) * len(params)}.")
        self._slots = []
        for i, p in enumerate(params):
            xp = get_array_module(p)
            if pending is None:
                slots = self._initial_slots(xp, p)
            else:
                slots = tuple(xp.array(pending[k * len(params) + i], dtype=p.dtype)
                              for k in range(len(self.slot_names)))
                for s in slots:
                    if s.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}: saved optimizer state has shape "
                                         f"{s.shape} for parameter {i} of shape {p.shape}.")
            self._slots.append(slots)
        self._scratch = [None] * len(params)  # made on first use; large NumPy ones use chunks

    def _initial_slots(self, xp, p):
        """A new parameter's slots: zeros (a subclass may start them elsewhere)."""
        return tuple(xp.zeros_like(p) for _ in self.slot_names)

    def get_state(self):
        """A copy of the state: ``[iterations]`` then each slot for every parameter.

        Slots are ordered by slot name, then parameter (all momenta, then all velocities, as
        Keras 2's ``get_weights`` ordered them) and stay on their backend (NumPy or CuPy);
        :func:`minicnn.backend.to_numpy` them to save.
        """
        head = [np.asarray(self.iterations, dtype=np.int64)]
        if self._pending is not None:
            return head + [s.copy() for s in self._pending]
        if self._slots is None:
            return head
        return head + [slots[k].copy() for k in range(len(self.slot_names)) for slots in self._slots]

    def set_state(self, state):
        """Restore what :meth:`get_state` returned (arrays on any backend).

        The slots are rebuilt next to the parameters at the next :meth:`apply_gradients`.

        Raises:
            ValueError: if the list does not fit this optimizer's slots (and parameters, once
                known); a slot whose shape differs from its parameter's raises at the next step.
        """
        state = list(state)
        n = len(self.slot_names)
        slots = state[1:]
        expected = None if self._slots is None else n * len(self._slots)
        if not state or (n == 0 and slots) or (n and len(slots) % n) or expected not in (None, len(slots)):
            raise ValueError(
                f"{type(self).__name__}.set_state: got {len(slots)} slot arrays after iterations, "
                f"expected {expected if expected is not None else 'a multiple of ' + str(n)} "
                f"({n} per parameter: {list(self.slot_names)}), as get_state returns them.")
        self.iterations = int(to_numpy(state[0]))
        self._pending = [to_numpy(s) for s in slots] if n else None
        self._slots = None

    def get_config(self):
        """The constructor arguments as a dict; ``from_config`` rebuilds an equal optimizer."""
        config = {"name": self.name, "learning_rate": self.learning_rate, "decay": self.decay}
        for k in ("weight_decay", "clipnorm", "clipvalue", "global_clipnorm"):
            if getattr(self, k) is not None:  # only what is set, so older configs read the same
                config[k] = getattr(self, k)
        return config

    @classmethod
    def from_config(cls, config):
        """Build an optimizer from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class _RhoEpsilonOptimizer(Optimizer):
    """What RMSprop and Adadelta share: a decay rate ``rho`` in [0, 1) and an ``epsilon`` >= 0,
    passed with the learning rate to every update."""

    def __init__(self, learning_rate, rho, epsilon, decay, lr, name, **kwargs):
        super().__init__(learning_rate, decay, lr, name, **kwargs)
        owner = type(self).__name__
        self.rho = _check_number(rho, "rho", owner, low=0, high=1, high_open=True)
        self.epsilon = _check_number(1e-7 if epsilon is None else epsilon, "epsilon", owner, low=0)

    def _step_scalars(self, lr, t):
        return lr, self.rho, self.epsilon

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, *slots, lr, self.rho, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class _BetaEpsilonOptimizer(Optimizer):
    """What Adam, Adamax and Nadam share: decay rates ``beta_1`` and ``beta_2`` in [0, 1) for the
    first and second moments, and an ``epsilon`` >= 0 (None means 1e-7, as in Keras 2)."""

    def __init__(self, learning_rate, beta_1, beta_2, epsilon, decay, lr, name, **kwargs):
        super().__init__(learning_rate, decay, lr, name, **kwargs)
        owner = type(self).__name__
        self.beta_1 = _check_number(beta_1, "beta_1", owner, low=0, high=1, high_open=True)
        self.beta_2 = _check_number(beta_2, "beta_2", owner, low=0, high=1, high_open=True)
        self.epsilon = _check_number(1e-7 if epsilon is None else epsilon, "epsilon", owner, low=0)

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2, "epsilon": self.epsilon}
