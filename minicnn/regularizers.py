"""Weight regularizers with Keras's names: penalties added to the training loss.

A layer takes them as ``kernel_regularizer``/``bias_regularizer`` (Keras 1: ``W_regularizer``/
``b_regularizer``). Each training step adds every penalty to the batch loss, as Keras does (the
loss the progress bar, History and evaluate report includes them), and each penalty's gradient
to its weight's gradient (:func:`add_penalties`, called only by a model that has regularizers).

    L1(l1)        l1 * sum(|w|)               gradient  l1 * sign(w)   (0 at w = 0, as autograd)
    L2(l2)        l2 * sum(w**2)              gradient  2 * l2 * w
    L1L2(l1, l2)  both summed

A regularizer of your own subclasses :class:`Regularizer` and defines ``__call__`` (the penalty)
and ``gradient`` (an array of the weight's shape), since minicnn has no autograd to derive it.
"""
import math
import numbers

from minicnn.backend import get_array_module


def _factor(value, name):
    """A penalty factor as a float; ValueError unless a finite number >= 0 (Keras's rule)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not math.isfinite(value) or value < 0:
        raise ValueError(f"Invalid value for argument {name}: expected a non-negative float, got {value!r}.")
    return float(value)


class Regularizer:
    """Base class: ``regularizer(w)`` is the penalty (a scalar of w's dtype), ``gradient(w)`` its
    gradient (w's shape and dtype). Subclasses define both, and ``get_config`` when they take arguments."""

    def __call__(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define __call__ (the penalty)")

    def gradient(self, x):
        raise NotImplementedError(f"{type(self).__name__} must define gradient (the penalty's gradient)")

    def get_config(self):
        """The constructor arguments (none for a regularizer without any)."""
        return {}

    @classmethod
    def from_config(cls, config):
        return cls(**config)

    def __repr__(self):
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items())
        return f"{type(self).__name__}({args})"


class L1L2(Regularizer):
    """``l1 * sum(|w|) + l2 * sum(w**2)``. Defaults 0.0 and 0.0, as Keras 3 (the string
    ``"l1_l2"`` gives 0.01 and 0.01, as Keras 2's ``l1_l2()`` did).

    Raises:
        ValueError: for a negative, infinite or non-numeric factor.
    """

    def __init__(self, l1=0.0, l2=0.0):
        self.l1 = _factor(0.0 if l1 is None else l1, "l1")
        self.l2 = _factor(0.0 if l2 is None else l2, "l2")

    def __call__(self, x):
        xp = get_array_module(x)
        value = xp.zeros((), dtype=x.dtype)
        if self.l1:
            value = value + x.dtype.type(self.l1) * xp.abs(x).sum()
        if self.l2:
            value = value + x.dtype.type(self.l2) * xp.square(x).sum()
        return value

    def gradient(self, x):
        if not self.l1:  # the common L2 alone: one array
            return x.dtype.type(2 * self.l2) * x
        grad = x.dtype.type(self.l1) * get_array_module(x).sign(x)
        if self.l2:
            grad += x.dtype.type(2 * self.l2) * x
        return grad

    def get_config(self):
        return {"l1": self.l1, "l2": self.l2}


class L1(L1L2):
    """``l1 * sum(|w|)``; default ``l1=0.01``, as Keras."""

    def __init__(self, l1=0.01):
        super().__init__(l1=0.01 if l1 is None else l1)

    def get_config(self):
        return {"l1": self.l1}


class L2(L1L2):
    """``l2 * sum(w**2)``; default ``l2=0.01``, as Keras."""

    def __init__(self, l2=0.01):
        super().__init__(l2=0.01 if l2 is None else l2)

    def get_config(self):
        return {"l2": self.l2}


# Keras 3's lowercase names are the classes themselves.
l1, l2, l1_l2 = L1, L2, L1L2

CLASSES = {"L1": L1, "L2": L2, "L1L2": L1L2}
NAMES = {"l1": L1, "l2": L2, "l1l2": L1L2, "l1_l2": lambda: L1L2(l1=0.01, l2=0.01), **CLASSES}


def get(identifier):
    """A Regularizer from a name (``"l1"``, ``"l2"``, ``"l1_l2"``, ``"L1L2"``...), a dict
    ``{"class_name": "L2", "config": {"l2": 0.1}}`` as :func:`serialize` writes it, an instance, or
    None (no regularizer).

    Raises:
        ValueError: for an unknown name or class name, listing the valid ones.
        TypeError: for anything else (a plain function, which minicnn cannot differentiate).
    """
    if identifier is None or isinstance(identifier, Regularizer):
        return identifier
    if isinstance(identifier, dict):
        cls = CLASSES.get(identifier.get("class_name"))
        if cls is None:
            raise ValueError(f"Unknown regularizer class_name {identifier.get('class_name')!r}; valid ones "
                             f"are {sorted(CLASSES)}.")
        return cls.from_config(identifier.get("config") or {})
    if isinstance(identifier, str):
        if identifier not in NAMES:
            raise ValueError(f"Unknown regularizer {identifier!r}; valid names are {sorted(NAMES)}.")
        return NAMES[identifier]()
    if isinstance(identifier, type) and issubclass(identifier, Regularizer):
        return identifier()
    raise TypeError(f"A regularizer must be a name such as 'l2', or an object such as minicnn.regularizers.l2(0.01), "
                    f"got {identifier!r}. A function of your own needs a Regularizer subclass with __call__ "
                    "and gradient (minicnn has no autograd to derive the gradient).")


def serialize(regularizer):
    """``{"class_name": ..., "config": ...}`` for a layer's config (read back by :func:`get`).

    Raises:
        ValueError: for a regularizer of your own, which a saved model could not rebuild.
    """
    if CLASSES.get(type(regularizer).__name__) is not type(regularizer):
        raise ValueError(f"Cannot save a model with the custom regularizer {regularizer!r}; use L1, L2 or L1L2.")
    return {"class_name": type(regularizer).__name__, "config": regularizer.get_config()}


def penalized(layers):
    """``(layer, weight name, regularizer)`` for each regularized weight the optimizer trains."""
    return [(layer, name, reg) for layer in layers if layer.trainable
            for name, reg in layer.regularizers.items() if name in layer.trainable_names]


def penalty(layers):
    """The sum of the layers' penalties (0.0 when none): what evaluate adds to the loss."""
    return sum((reg(layer.params[name]) for layer, name, reg in penalized(layers)), 0.0)


def add_penalties(layers, weights, grads):
    """Add each penalty's gradient to its weight's entry of ``grads`` (aligned with ``weights``, as
    the optimizer takes them); returns the sum of the penalties, for the loss."""
    index = {id(w): i for i, w in enumerate(weights)}
    total = 0.0
    for layer, name, reg in penalized(layers):
        w = layer.params[name]
        i = index[id(w)]
        grads[i] = grads[i] + reg.gradient(w)
        total = total + reg(w)
    return total
