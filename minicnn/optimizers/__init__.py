"""Optimizers: SGD (with momentum and Nesterov), Adam, AdamW, Adamax, Nadam, Adagrad, RMSprop and
Adadelta, one module each.

The update rules are Keras 3's, with ``g`` the gradient and ``t`` the step counted from 1;
Keras 2's time-based ``decay`` is supported too: ``lr_t = lr / (1 + decay * (t - 1))``. Every
optimizer also takes Keras 3's ``clipnorm``, ``clipvalue``, ``global_clipnorm`` and
``weight_decay``. The machinery they share (slots, state, clipping, the CPU and GPU ways of
running an update) is in :mod:`minicnn.optimizers.base`.
"""
from minicnn.optimizers.adadelta import Adadelta
from minicnn.optimizers.adagrad import Adagrad
from minicnn.optimizers.adam import Adam
from minicnn.optimizers.adamax import Adamax
from minicnn.optimizers.adamw import AdamW
from minicnn.optimizers.base import Optimizer
from minicnn.optimizers.nadam import Nadam
from minicnn.optimizers.rmsprop import RMSprop
from minicnn.optimizers.sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "Adamax", "Nadam", "Adagrad", "RMSprop", "Adadelta", "get"]

# Keras 2's lowercase aliases, which some old tutorials import (Keras 2 had no AdamW).
sgd, adam, rmsprop, adadelta, adagrad, adamax, nadam = SGD, Adam, RMSprop, Adadelta, Adagrad, Adamax, Nadam

_BY_NAME = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "adamax": Adamax, "nadam": Nadam, "adagrad": Adagrad,
            "rmsprop": RMSprop, "adadelta": Adadelta}


def get(identifier):
    """Resolve a name (``"sgd"``, ``"adam"``, ``"adamw"``, ``"nadam"``, ..., any case), a config
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
