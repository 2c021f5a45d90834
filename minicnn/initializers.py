"""Weight initialisers with Keras's names and formulas, drawing from minicnn's seeded generator.

Fans: for a Dense kernel (D, U) fan_in = D, fan_out = U; for a Conv2D kernel (KH, KW, C, F)
fan_in = KH*KW*C, fan_out = KH*KW*F. Normal variants of Glorot/He/LeCun use a normal
truncated at two standard deviations, rescaled so the variance is the intended one (Keras 3).
Values are drawn on the host in float64 and cast once, so a seed gives the same weights on
every backend and dtype.
"""
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


def get(identifier):
    """Resolve an initialiser name (or a callable ``shape -> array``).

    Raises:
        ValueError: for an unknown name, listing the valid ones.
        TypeError: for anything else.
    """
    if callable(identifier):
        return identifier
    if not isinstance(identifier, str):
        raise TypeError(f"An initializer must be a name such as 'glorot_uniform' or a callable, got {identifier!r}.")
    name = ALIASES.get(identifier, identifier)
    if name not in INITIALIZERS:
        raise ValueError(
            f"Unknown initializer {identifier!r}; valid initializers are {sorted(INITIALIZERS)}.")
    return INITIALIZERS[name]


def serialize(init):
    """The name of a built-in initialiser (for configs); raises ValueError for a custom callable."""
    for name, fn in INITIALIZERS.items():
        if fn is init:
            return name
    raise ValueError(f"Cannot save a model with the custom initializer {init!r}; use a named one.")
