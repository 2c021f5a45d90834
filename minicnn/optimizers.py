"""Optimizers: SGD (with momentum and Nesterov), Adam, RMSprop and Adadelta.

The model calls ``optimizer.apply_gradients(params, grads)`` once per training step, always with
the same list of parameter arrays in the same order. Each parameter is updated in place, and its
state ("slots": momentum, velocity, ...) is created on the first call next to it: same backend
(NumPy or CuPy, taken from the array), same dtype, keyed by the parameter's position in the list.

Hyperparameters are kept as Python floats, so multiplying a float32 array by them stays float32.
Every update writes into preallocated buffers with ``out=``: a training step allocates nothing.

The update rules are Keras 3's, with ``g`` the gradient and ``t`` the step counted from 1;
Keras 2's time-based ``decay`` is supported too: ``lr_t = lr / (1 + decay * (t - 1))``.
"""
import math
import numbers

import numpy as np

from minicnn.backend import get_array_module, to_numpy
from minicnn.parallel import run_chunks

# Large NumPy parameters are updated in chunks of this many elements, so that the six or so
# arrays one update touches (1.5 MB in float32) stay in cache across its ten-odd passes.
CHUNK = 65536


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


class Optimizer:
    """Base class: learning rate (``lr`` alias), Keras 2 ``decay``, step counter, lazy slots, state.

    Subclasses set ``slot_names`` (one zero-initialised array per name and parameter),
    ``n_scratch`` (uninitialised work buffers per parameter) and implement ``_update``.

    Attributes:
        iterations (int): steps taken so far.
        learning_rate (float): readable and settable; callbacks change it between epochs.
    """

    slot_names = ()
    n_scratch = 1
    # Name of the optional fused kernel in minicnn.cuda (see _fused_kernel).
    kernel = None

    def __init__(self, learning_rate, decay=0.0, lr=None, name=None):
        if lr is not None:  # Keras 2 spelling; like Keras 2, it wins over learning_rate
            learning_rate = lr
        owner = type(self).__name__
        self.learning_rate = _check_number(learning_rate, "learning_rate", owner, low=0, low_open=True)
        self.decay = _check_number(decay, "decay", owner, low=0)
        self.name = name or type(self).__name__.lower()
        self.iterations = 0
        self._slots = None      # per parameter: tuple of slot arrays, in slot_names order
        self._scratch = None    # per parameter: tuple of work buffers
        self._chunk_scratch = {}  # (dtype, worker) -> work buffers of CHUNK elements, shared by all params
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

    def apply_gradients(self, params, grads):
        """Update every array in ``params`` in place from the matching array in ``grads``.

        Args:
            params: list of parameter arrays (NumPy or CuPy), the same list on every call.
            grads: list of gradient arrays, one per parameter, with the parameter's shape.

        Raises:
            ValueError: if the lists differ in length, a gradient's shape differs from its
                parameter's, or the number of parameters changed since the first call.
        """
        if len(params) != len(grads):
            raise ValueError(f"{type(self).__name__}: got {len(params)} parameters but "
                             f"{len(grads)} gradients; pass one gradient per parameter.")
        if self._slots is None:
            self._build(params)
        elif len(self._slots) != len(params):
            raise ValueError(
                f"{type(self).__name__}: built for {len(self._slots)} parameters, now given "
                f"{len(params)}. An optimizer belongs to one model; compile with a new one.")
        t = self.iterations + 1
        lr = self.learning_rate
        if self.decay:
            lr = lr / (1.0 + self.decay * self.iterations)
        scalars = self._step_scalars(lr, t)
        for i, (p, g) in enumerate(zip(params, grads)):
            if g.shape != p.shape:
                raise ValueError(f"{type(self).__name__}: gradient {i} has shape {g.shape}, "
                                 f"but its parameter has shape {p.shape}.")
            xp = get_array_module(p)
            if xp is np and p.size > CHUNK and p.flags.c_contiguous:
                self._update_in_chunks(p, g, self._slots[i], scalars)
                continue
            fused = self._fused_kernel(p, g)
            if fused is not None:
                self._fused_update(fused, p, g, self._slots[i], lr, t)
                continue
            if self._scratch[i] is None:
                self._scratch[i] = tuple(xp.empty_like(p) for _ in range(self.n_scratch))
            self._update(xp, p, g, self._slots[i], self._scratch[i], *scalars)
        self.iterations = t

    def _update_in_chunks(self, p, g, slots, scalars):
        """Run ``_update`` over flat chunks of a large NumPy parameter.

        Every pass of an update then works on a chunk still in cache instead of streaming the
        whole array from memory again: 1.3-1.6x faster for Adam, RMSprop and Adadelta on the
        tutorial CNN's 1.2M weights (measured on a 2-core Xeon). The chunks go to the worker
        threads; each element's update is the same whichever thread runs it.
        """
        pf, gf = p.reshape(-1), g.reshape(-1)
        sf = [s.reshape(-1) for s in slots]

        def chunk(lo, hi, t):
            buffers = self._chunk_scratch.get((p.dtype, t))
            if buffers is None:
                buffers = self._chunk_scratch[(p.dtype, t)] = tuple(
                    np.empty(CHUNK, p.dtype) for _ in range(self.n_scratch))
            n = hi - lo
            self._update(np, pf[lo:hi], gf[lo:hi], [s[lo:hi] for s in sf], [b[:n] for b in buffers], *scalars)
        run_chunks(chunk, pf.size, CHUNK)

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
                slots = tuple(xp.zeros_like(p) for _ in self.slot_names)
            else:
                slots = tuple(xp.array(pending[k * len(params) + i], dtype=p.dtype)
                              for k in range(len(self.slot_names)))
                for s in slots:
                    if s.shape != p.shape:
                        raise ValueError(f"{type(self).__name__}: saved optimizer state has shape "
                                         f"{s.shape} for parameter {i} of shape {p.shape}.")
            self._slots.append(slots)
        self._scratch = [None] * len(params)  # made on first use; large NumPy ones use chunks

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
        return {"name": self.name, "learning_rate": self.learning_rate, "decay": self.decay}

    @classmethod
    def from_config(cls, config):
        """Build an optimizer from :meth:`get_config`'s dict."""
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, optionally with (Nesterov) momentum.

    ``w -= lr*g`` without momentum; with it, ``m = momentum*m - lr*g`` then ``w += m``
    (Nesterov: ``w += momentum*m - lr*g``).

    Args:
        learning_rate: float > 0, default 0.01 (``lr`` is the Keras 2 spelling).
        momentum: float in [0, 1], default 0.
        nesterov: bool, default False.
        decay: Keras 2 time-based decay >= 0, default 0.

    Raises:
        ValueError / TypeError: for out-of-range or non-numeric arguments.
    """

    kernel = "sgd_update"

    def __init__(self, learning_rate=0.01, momentum=0.0, nesterov=False, decay=0.0, lr=None, name=None):
        super().__init__(learning_rate, decay, lr, name or "SGD")
        self.momentum = _check_number(momentum, "momentum", "SGD", low=0, high=1)
        self.nesterov = bool(nesterov)
        self.slot_names = ("momentum",) if self.momentum else ()
        self.n_scratch = 2 if self.nesterov else 1

    def _step_scalars(self, lr, t):
        return lr, self.momentum, self.nesterov

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, lr, m=slots[0] if slots else None, momentum=self.momentum, nesterov=self.nesterov)

    def _update(self, xp, p, g, slots, scratch, lr, momentum, nesterov):
        s = scratch[0]
        xp.multiply(g, lr, out=s)
        if not momentum:
            p -= s
            return
        (m,) = slots
        m *= momentum
        m -= s
        if nesterov:
            # w += (momentum*m - lr*g), rounded in Keras's order so both frameworks stay together.
            t = scratch[1]
            xp.multiply(m, momentum, out=t)
            t -= s
            p += t
        else:
            p += m

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov}


class Adam(Optimizer):
    """Adam (Kingma & Ba, 2015) in Keras's form, epsilon outside the square root.

    ``m += (g - m)*(1-beta_1)``, ``v += (g*g - v)*(1-beta_2)``,
    ``w -= lr*sqrt(1-beta_2**t)/(1-beta_1**t) * m/(sqrt(v) + epsilon)``.

    Args:
        learning_rate: float > 0, default 0.001. beta_1, beta_2: floats in [0, 1),
        defaults 0.9 and 0.999. epsilon: float >= 0, default 1e-7 (None means 1e-7, as in
        Keras 2). decay: Keras 2 time-based decay, default 0.
    """

    slot_names = ("momentum", "velocity")
    kernel = "adam_update"

    def __init__(self, learning_rate=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7, decay=0.0,
                 lr=None, name=None):
        super().__init__(learning_rate, decay, lr, name or "adam")
        self.beta_1 = _check_number(beta_1, "beta_1", "Adam", low=0, high=1, high_open=True)
        self.beta_2 = _check_number(beta_2, "beta_2", "Adam", low=0, high=1, high_open=True)
        self.epsilon = _check_number(1e-7 if epsilon is None else epsilon, "epsilon", "Adam", low=0)

    def _step_scalars(self, lr, t):
        alpha = lr * math.sqrt(1.0 - self.beta_2 ** t) / (1.0 - self.beta_1 ** t)
        return alpha, 1.0 - self.beta_1, 1.0 - self.beta_2, self.epsilon

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, *slots, lr, self.beta_1, self.beta_2, self.epsilon, t)

    def _update(self, xp, p, g, slots, scratch, alpha, one_minus_b1, one_minus_b2, eps):
        m, v = slots
        (s,) = scratch
        xp.subtract(g, m, out=s)
        s *= one_minus_b1
        m += s
        xp.multiply(g, g, out=s)
        s -= v
        s *= one_minus_b2
        v += s
        xp.sqrt(v, out=s)
        s += eps
        xp.divide(m, s, out=s)
        s *= alpha
        p -= s

    def get_config(self):
        return {**super().get_config(), "beta_1": self.beta_1, "beta_2": self.beta_2,
                "epsilon": self.epsilon}


class _RhoEpsilonOptimizer(Optimizer):
    """What RMSprop and Adadelta share: a decay rate ``rho`` in [0, 1) and an ``epsilon`` >= 0,
    passed with the learning rate to every update."""

    def __init__(self, learning_rate, rho, epsilon, decay, lr, name):
        super().__init__(learning_rate, decay, lr, name)
        owner = type(self).__name__
        self.rho = _check_number(rho, "rho", owner, low=0, high=1, high_open=True)
        self.epsilon = _check_number(1e-7 if epsilon is None else epsilon, "epsilon", owner, low=0)

    def _step_scalars(self, lr, t):
        return lr, self.rho, self.epsilon

    def _fused_update(self, fn, p, g, slots, lr, t):
        fn(p, g, *slots, lr, self.rho, self.epsilon)

    def get_config(self):
        return {**super().get_config(), "rho": self.rho, "epsilon": self.epsilon}


class RMSprop(_RhoEpsilonOptimizer):
    """RMSprop (Hinton's lecture 6e), epsilon inside the square root as Keras 3 writes it.

    ``v = rho*v + (1-rho)*g*g``, ``w -= lr*g/sqrt(v + epsilon)``.

    Args:
        learning_rate: float > 0, default 0.001. rho: float in [0, 1), default 0.9.
        epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
    """

    slot_names = ("velocity",)
    kernel = "rmsprop_update"

    def __init__(self, learning_rate=0.001, rho=0.9, epsilon=1e-7, decay=0.0, lr=None, name=None):
        super().__init__(learning_rate, rho, epsilon, decay, lr, name or "rmsprop")

    def _update(self, xp, p, g, slots, scratch, lr, rho, eps):
        (v,) = slots
        (s,) = scratch
        xp.multiply(g, g, out=s)
        s *= 1.0 - rho
        v *= rho
        v += s
        xp.add(v, eps, out=s)
        xp.sqrt(s, out=s)
        xp.divide(g, s, out=s)
        s *= lr
        p -= s


class Adadelta(_RhoEpsilonOptimizer):
    """Adadelta (Zeiler, 2012): a per-weight step size from running averages of g² and Δw².

    ``a = rho*a + (1-rho)*g*g``, ``d = -sqrt(b + epsilon)/sqrt(a + epsilon)*g``,
    ``b = rho*b + (1-rho)*d*d``, ``w += lr*d``.

    The default learning rate is 1.0, the paper's value and that of the Keras versions the
    classic tutorials were written for (Keras <= 2.3). tf.keras and Keras 2.4+ changed it to
    0.001, under which the classic MNIST CNN (12 epochs) reaches about 84% test accuracy
    instead of 99%; pass ``learning_rate=0.001`` to get their behaviour.

    Args:
        learning_rate: float > 0, default 1.0. rho: float in [0, 1), default 0.95.
        epsilon: float >= 0, default 1e-7. decay: Keras 2 time-based decay, default 0.
    """

    slot_names = ("accumulated_grad", "accumulated_delta_var")
    n_scratch = 2
    kernel = "adadelta_update"

    def __init__(self, learning_rate=1.0, rho=0.95, epsilon=1e-7, decay=0.0, lr=None, name=None):
        super().__init__(learning_rate, rho, epsilon, decay, lr, name or "adadelta")

    def _update(self, xp, p, g, slots, scratch, lr, rho, eps):
        a, b = slots
        s, u = scratch
        xp.multiply(g, g, out=s)
        s *= 1.0 - rho
        a *= rho
        a += s
        # sqrt(b+eps)/sqrt(a+eps) as one square root of the ratio: a pass fewer, same value to 1 ulp
        xp.add(b, eps, out=s)
        xp.add(a, eps, out=u)
        s /= u
        xp.sqrt(s, out=s)
        s *= g                      # s = -d
        xp.multiply(s, s, out=u)
        u *= 1.0 - rho
        b *= rho
        b += u
        if lr != 1.0:  # the default; skipping the multiply by 1 saves a pass, exactly
            s *= lr
        p -= s


# Keras 2's lowercase aliases, which some old tutorials import.
sgd, adam, rmsprop, adadelta = SGD, Adam, RMSprop, Adadelta

_BY_NAME = {"sgd": SGD, "adam": Adam, "rmsprop": RMSprop, "adadelta": Adadelta}


def get(identifier):
    """Resolve a name (``"sgd"``, ``"adam"``, ``"rmsprop"``, ``"adadelta"``, any case), a config
    dict (``{"class_name": "Adam", "config": {...}}``) or an optimizer instance.

    Names and dicts give a new optimizer with default arguments (or the config's).

    Raises:
        ValueError: for an unknown name or class name (the message lists the valid ones).
        TypeError: for anything that is not a str, dict or Optimizer.
    """
    if isinstance(identifier, Optimizer):
        return identifier
    valid = ", ".join(repr(n) for n in _BY_NAME)
    if isinstance(identifier, dict):
        if "class_name" not in identifier:
            raise ValueError(f"Optimizer config dict needs a 'class_name' key (one of {valid}) "
                             f"and optionally 'config'; got keys {sorted(identifier)}.")
        cls = _BY_NAME.get(str(identifier["class_name"]).lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer class_name {identifier['class_name']!r}; "
                             f"valid names are {valid}.")
        return cls.from_config(dict(identifier.get("config") or {}))
    if isinstance(identifier, str):
        cls = _BY_NAME.get(identifier.lower())
        if cls is None:
            raise ValueError(f"Unknown optimizer {identifier!r}; valid names are {valid} "
                             "(any case), or pass an instance such as optimizers.Adam(learning_rate=1e-3).")
        return cls()
    raise TypeError(f"Could not interpret optimizer identifier {identifier!r} "
                    f"({type(identifier).__name__}); pass a name such as 'adam', a config dict "
                    "or an optimizer instance.")
