"""Weight initialisers with Keras's names and formulas, drawing from minicnn's seeded generator.

Fans: for a Dense kernel (D, U) fan_in = D, fan_out = U; for a Conv2D kernel (KH, KW, C, F)
fan_in = KH*KW*C, fan_out = KH*KW*F. Normal variants of Glorot/He/LeCun use a normal
truncated at two standard deviations, rescaled so the variance is the intended one (Keras 3).
Values are drawn on the host in float64 and cast once, so a seed gives the same weights on
every backend and dtype.
"""
import functools
import math

import numpy as np

from minicnn import random as mrandom

# stddev of a unit normal truncated to [-2, 2]; dividing by it restores the intended variance.
_TRUNC_STD = 0.87962566103423978


def _fans(shape):
    if len(shape) < 2:
        return shape[0] if shape else 1, shape[0] if shape else 1
    receptive = math.prod(shape[:-2])
    return shape[-2] * receptive, shape[-1] * receptive


def _truncated_normal(shape, stddev):
    rng = mrandom.generator()
    out = rng.standard_normal(shape)
    bad = np.abs(out) > 2
    while bad.any():
        out[bad] = rng.standard_normal(int(bad.sum()))
        bad = np.abs(out) > 2
    return out * (stddev / _TRUNC_STD)


def _uniform(shape, limit):
    return mrandom.generator().uniform(-limit, limit, size=shape)


def zeros(shape):
    return np.zeros(shape)


def ones(shape):
    return np.ones(shape)


def glorot_uniform(shape):
    fan_in, fan_out = _fans(shape)
    return _uniform(shape, math.sqrt(6 / (fan_in + fan_out)))


def glorot_normal(shape):
    fan_in, fan_out = _fans(shape)
    return _truncated_normal(shape, math.sqrt(2 / (fan_in + fan_out)))


def he_uniform(shape):
    return _uniform(shape, math.sqrt(6 / _fans(shape)[0]))


def he_normal(shape):
    return _truncated_normal(shape, math.sqrt(2 / _fans(shape)[0]))


def lecun_uniform(shape):
    return _uniform(shape, math.sqrt(3 / _fans(shape)[0]))


def lecun_normal(shape):
    return _truncated_normal(shape, math.sqrt(1 / _fans(shape)[0]))


def random_normal(shape, mean=0.0, stddev=0.05):
    return mrandom.generator().normal(mean, stddev, size=shape)


def random_uniform(shape, minval=-0.05, maxval=0.05):
    return mrandom.generator().uniform(minval, maxval, size=shape)


class Constant:
    """Keras's ``keras.initializers.Constant(value)``: every entry ``value`` (a custom layer's
    ``add_weight(initializer=Constant(1e-6))``)."""

    def __init__(self, value=0.0):
        self.value = float(value)

    def __call__(self, shape, dtype=None):
        return np.full(shape, self.value, dtype=dtype or np.float32)

    def get_config(self):
        return {"value": self.value}

    def __eq__(self, other):
        return isinstance(other, Constant) and other.value == self.value

    def __hash__(self):
        return hash(("Constant", self.value))


INITIALIZERS = {
    "zeros": zeros, "ones": ones,
    "glorot_uniform": glorot_uniform, "glorot_normal": glorot_normal,
    "he_uniform": he_uniform, "he_normal": he_normal,
    "lecun_uniform": lecun_uniform, "lecun_normal": lecun_normal,
    "random_normal": random_normal, "random_uniform": random_uniform,
}
# Spellings of Keras 1/2 and the class-style names of Keras 3.
ALIASES = {
    "zero": "zeros", "one": "ones", "normal": "random_normal", "uniform": "random_uniform",
    "GlorotUniform": "glorot_uniform", "GlorotNormal": "glorot_normal", "HeUniform": "he_uniform",
    "HeNormal": "he_normal", "LecunUniform": "lecun_uniform", "LecunNormal": "lecun_normal",
    "RandomNormal": "random_normal", "RandomUniform": "random_uniform", "Zeros": "zeros", "Ones": "ones",
}


# Keras's class names of the initialisers that take arguments, and the names of those arguments.
_ARGUMENTS = {"random_normal": ("mean", "stddev"), "random_uniform": ("minval", "maxval")}
_CLASS_NAMES = {"random_normal": "RandomNormal", "random_uniform": "RandomUniform"}
# Keras 1/2 lowercase spellings in ALIASES (not class names).
_OLD_NAMES = ("zero", "one", "normal", "uniform")


def _from_dict(identifier):
    """An initialiser from Keras's object: 3's ``{"module", "class_name", "config", "registered_name"}``
    or 2's ``{"class_name", "config"}``. Nothing named by ``module`` is imported: the class name picks
    one of minicnn's initialisers."""
    class_name, config = identifier.get("class_name"), dict(identifier.get("config") or {})
    config.pop("seed", None)  # minicnn draws from its one seeded generator (minicnn.random.set_seed)
    for key in ("input_axes", "output_axes"):  # Keras 3.15's fan axes; None: the usual fans, minicnn's
        if key in config and config[key] is None:
            del config[key]
    if class_name == "Constant":
        odd = sorted(set(config) - {"value"})
        if odd:
            raise ValueError(f"The initializer Constant takes value only, got {odd} in {identifier!r}.")
        return Constant(config.get("value", 0.0))
    name = ALIASES.get(class_name, class_name) if isinstance(class_name, str) else None
    if name not in INITIALIZERS:
        raise ValueError(f"Unknown initializer class {class_name!r} in {identifier!r}; minicnn has "
                         f"{sorted(set(ALIASES) - set(_OLD_NAMES)) + ['Constant']}.")
    allowed = _ARGUMENTS.get(name, ())
    odd = sorted(set(config) - set(allowed))
    if odd:
        raise ValueError(f"The initializer {class_name} takes {list(allowed) or 'no arguments'} (and seed), got "
                         f"{odd} in {identifier!r}.")
    if not config:
        return INITIALIZERS[name]
    return functools.partial(INITIALIZERS[name], **{k: float(v) for k, v in config.items()})



def get(identifier):
    """Resolve an initialiser: a name (``"he_normal"``, ``"HeNormal"``), a callable ``shape -> array``
    (a :class:`Constant` among them), or Keras's serialised object, 3's ``{"module":
    "keras.initializers", "class_name": "HeNormal", "config": {"seed": None}, ...}`` or 2's
    ``{"class_name": "HeNormal", "config": {...}}``, with its arguments: RandomNormal's ``mean`` and
    ``stddev``, RandomUniform's ``minval`` and ``maxval``, Constant's ``value``. A ``seed`` is accepted
    and ignored: every draw comes from minicnn's one seeded generator (:mod:`minicnn.random`); so are
    Keras 3.15's ``input_axes``/``output_axes`` when None (the usual fans).

    Raises:
        ValueError: for an unknown name or class name, or arguments the initialiser does not take,
            listing the valid ones.
        TypeError: for anything else.
    """
    if callable(identifier):
        return identifier
    if isinstance(identifier, dict):
        return _from_dict(identifier)
    if not isinstance(identifier, str):
        raise TypeError(f"An initializer must be a name such as 'glorot_uniform', a callable, or Keras's "
                        f"{{'class_name': ..., 'config': ...}}, got {identifier!r}.")
    name = ALIASES.get(identifier, identifier)
    if name not in INITIALIZERS:
        raise ValueError(
            f"Unknown initializer {identifier!r}; valid initializers are {sorted(INITIALIZERS)}.")
    return INITIALIZERS[name]


def serialize(init):
    """What a config records of an initialiser: a built-in one's name (``"he_normal"``), or
    ``{"class_name", "config"}`` for a :class:`Constant` or a RandomNormal/RandomUniform with other
    arguments (what :func:`get` takes back).

    Raises:
        ValueError: for a custom callable, which a config cannot hold.
    """
    for name, fn in INITIALIZERS.items():
        if fn is init:
            return name
    if isinstance(init, Constant):
        return {"class_name": "Constant", "config": init.get_config()}
    if isinstance(init, functools.partial) and not init.args:
        for name, fn in INITIALIZERS.items():
            if init.func is fn and name in _ARGUMENTS and set(init.keywords) <= set(_ARGUMENTS[name]):
                defaults = dict(zip(_ARGUMENTS[name], fn.__defaults__))
                return {"class_name": _CLASS_NAMES[name], "config": {**defaults, **init.keywords}}
    raise ValueError(f"Cannot save a model with the custom initializer {init!r}; use a named one, Constant, or "
                     "RandomNormal/RandomUniform.")
