"""What ``compile`` set, and the optimizer's variables, between minicnn and Keras.

Keras 3 keeps the optimizer's state as one list: ``iteration``, ``learning_rate``, then for each
trainable weight (in the model's order) its slots (Adam: momentum, velocity), weight by weight;
Nadam adds the running product of its momentum schedule at the end. minicnn's ``get_state`` is
``[iterations]`` then slot by slot (all momenta, then all velocities). The two are the same
numbers in another order, so the state survives both ways where both optimizers have it.
"""
import warnings

import numpy as np

from minicnn import backend, losses, optimizers
from minicnn.keras_files import layer_config as lc

# Keras 3 optimizer options minicnn lacks, at the value where they change nothing.
OPTIMIZER_NEUTRAL = {"use_ema": False, "ema_overwrite_frequency": None, "loss_scale_factor": None,
                     "gradient_accumulation_steps": None, "amsgrad": False, "centered": False,
                     "weight_decay": None, "global_clipnorm": None, "clipnorm": None, "clipvalue": None}
OPTIMIZER_IGNORED = {"ema_momentum", "is_legacy_optimizer", "jit_compile"}
# Loss and metric options Keras 3 writes that minicnn's classes lack, left out where None (off).
OBJECTIVE_NEUTRAL = {"ignore_class"}


# -- minicnn -> Keras --------------------------------------------------------------------------

def optimizer_to_keras(optimizer):
    """Keras 3's object for a minicnn optimizer.

    Raises:
        ValueError: for Keras 2's ``decay``, which Keras 3 lacks (nothing is written then).
    """
    config = dict(optimizer.get_config())
    if config.pop("decay", 0.0):
        raise ValueError(f"The optimizer {type(optimizer).__name__} uses Keras 2's decay={optimizer.decay}, which "
                         "Keras 3 files cannot hold; save to .npz, or use a learning-rate schedule callback.")
    return {"module": "keras.optimizers", "class_name": type(optimizer).__name__, "config": config,
            "registered_name": None}


def _keras_object(entry, module):
    return entry if not isinstance(entry, dict) else {"module": module, **entry, "registered_name": None}


def compile_to_keras(model):
    """Keras 3's ``compile_config`` of a compiled model (None when it is not compiled)."""
    from minicnn import saving
    config = saving._compile_config(model)
    if config is None:
        return None
    single = not isinstance(config["loss_weights"], list)
    weights = [config["loss_weights"]] if single else config["loss_weights"]
    loss = config["loss"]
    loss = _keras_object(loss, "keras.losses") if single else [_keras_object(l, "keras.losses") for l in loss]
    metrics = config["metrics"]
    metrics = [_keras_object(m, "keras.metrics") for m in metrics] if single else \
        [[_keras_object(m, "keras.metrics") for m in per] for per in metrics]
    return {"optimizer": optimizer_to_keras(model.optimizer), "loss": loss,
            "loss_weights": None if all(w == 1.0 for w in weights) else config["loss_weights"],
            "metrics": metrics, "weighted_metrics": None, "run_eagerly": False, "steps_per_execution": 1,
            "jit_compile": False}


def optimizer_variables(optimizer, n_params):
    """Keras 3's optimizer variables for minicnn's state (``n_params`` trainable weights)."""
    state = [backend.to_numpy(a) for a in optimizer.get_state()]
    n = len(optimizer.slot_names)
    # Before its first step an optimizer has no slots; Keras then writes the two scalars only.
    slots = state[1:] if n and len(state) - 1 == n * n_params else []
    out = [np.asarray(state[0], dtype=np.int64), np.asarray(optimizer.learning_rate, dtype=np.float32)]
    for i in range(n_params if slots else 0):
        out += [slots[k * n_params + i] for k in range(n)]
    if type(optimizer).__name__ == "Nadam":
        out.append(np.asarray(optimizer._product(int(state[0])), dtype=np.float32))
    return out


# -- Keras -> minicnn --------------------------------------------------------------------------

def optimizer_from_keras(entry, path):
    """A minicnn optimizer from Keras's object (or name).

    Raises:
        ValueError: for an optimizer, schedule or option minicnn lacks, naming it.
    """
    if isinstance(entry, str):
        return optimizers.get(entry)
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: the saved optimizer {entry!r} is not an optimizer config.")
    lc.check_module(entry, "the optimizer", path)
    class_name = str(entry.get("class_name", "")).split(">")[-1]
    cls = getattr(optimizers, class_name, None)
    if not isinstance(cls, type):
        raise ValueError(f"{path}: the optimizer {class_name!r} is not in minicnn.")
    config = dict(entry.get("config") or {})
    if isinstance(config.get("learning_rate"), dict):
        raise ValueError(f"{path}: the optimizer's learning rate is the schedule "
                         f"{config['learning_rate'].get('class_name')!r}, which minicnn lacks (minicnn changes the "
                         "rate with callbacks such as LearningRateScheduler).")
    accepted = lc.accepted_arguments(cls)
    for key in list(config):
        if key in accepted and not (key in OPTIMIZER_NEUTRAL and config[key] == OPTIMIZER_NEUTRAL[key]):
            continue
        if key in OPTIMIZER_IGNORED or (key in OPTIMIZER_NEUTRAL and config[key] == OPTIMIZER_NEUTRAL[key]):
            del config[key]
            continue
        if class_name == "RMSprop" and key == "momentum" and not config[key]:
            del config[key]
            continue
        raise ValueError(f"{path}: the optimizer {class_name} sets {key}={config[key]!r}, which minicnn's "
                         f"{class_name} lacks; load_model(..., compile=False) loads the model without it.")
    return cls.from_config(config)


def _users(entry, custom_objects):
    """The user's function or class that a Keras loss or metric object names, or None: Keras 3 writes a
    function as ``{"class_name": "function", "config": "contrastive_loss"}``, a class of one's own as
    ``{"class_name": "MyLoss", "config": {...}}``; registered ones as ``"package>name"``."""
    from minicnn import serialization
    name = entry.get("config") if entry.get("class_name") == "function" else entry.get("class_name")
    if not isinstance(name, str):
        return None
    for key in (name, entry.get("registered_name"), name.split(">")[-1]):
        found = (custom_objects or {}).get(key) if isinstance(key, str) else None
        found = found if found is not None else serialization._REGISTERED.get(key)
        if found is not None:
            return found
    return None


def _plain(entry, path, what, custom_objects=None):
    """A loss or metric object of Keras's as ``compile`` takes it: the user's function, or the user's class
    made from its config (from ``custom_objects`` or registered); a function's name for
    :func:`minicnn.saving._custom` to look up; minicnn's ``{"class_name", "config"}`` for a built-in one."""
    if not isinstance(entry, dict):
        return entry
    users = _users(entry, custom_objects)
    if users is not None:
        if entry.get("class_name") == "function" or not isinstance(users, type):
            return users
        config = dict(entry.get("config") or {})
        try:
            return users.from_config(config) if hasattr(users, "from_config") else users(**config)
        except (TypeError, ValueError) as e:
            raise ValueError(f"{path}: {what} {entry.get('class_name')!r} cannot be made from its saved config "
                             f"{config} ({e}).") from None
    if entry.get("class_name") == "function":
        return entry.get("config")  # a name: the user's function when custom_objects has it
    lc.check_module(entry, what, path)
    config = {k: v for k, v in (entry.get("config") or {}).items()
              if not (k == "dtype" and v in (None, "float32")) and not (k in OBJECTIVE_NEUTRAL and v is None)}
    return {"class_name": entry.get("class_name"), "config": config}


def compile_from_keras(cconf, path, custom_objects=None):
    """``compile`` arguments (optimizer, loss, metrics, loss_weights) from Keras 3's compile_config
    or Keras 2's training_config; losses and metrics of the user's own come from ``custom_objects``
    ({name: function or class}) or the registered ones, as in :func:`minicnn.saving.load_model`.

    Raises:
        ValueError: for what minicnn lacks, naming it.
    """
    from minicnn import saving
    opt = cconf.get("optimizer") or cconf.get("optimizer_config")
    # Keras 3 leaves the optimizer out of some compile configs; its loader then compiles with its default.
    opt = optimizer_from_keras("rmsprop" if opt is None and not {"optimizer", "optimizer_config"} & set(cconf) else opt,
                               path)
    loss = cconf.get("loss")
    loss = [_plain(l, path, "the loss", custom_objects) for l in loss] if isinstance(loss, list) else \
        _plain(loss, path, "the loss", custom_objects)
    if isinstance(loss, dict) and "class_name" in loss and loss["class_name"] not in losses.CLASSES:
        raise ValueError(f"{path}: the loss {loss['class_name']!r} is not in minicnn; if it is a loss of your own, "
                         f"pass it: load_model(path, custom_objects={{'{loss['class_name']}': YourLoss}}).")
    metrics = cconf.get("metrics") or []
    metrics = [[_plain(m, path, "a metric", custom_objects) for m in per] if isinstance(per, list)
               else _plain(per, path, "a metric", custom_objects) for per in metrics]
    if cconf.get("weighted_metrics"):
        raise ValueError(f"{path}: the model was compiled with weighted_metrics, which minicnn lacks; "
                         "load_model(..., compile=False) loads it without.")
    return (opt, saving._custom(loss, custom_objects), saving._custom(metrics, custom_objects),
            cconf.get("loss_weights"))


def set_optimizer_variables(optimizer, values, n_params, path):
    """Give ``optimizer`` (fresh, compiled) Keras 3's optimizer variables ``values``.

    Warns (and leaves the optimizer fresh) when the list has another layout, as Keras does for
    an optimizer whose variables do not match.
    """
    n = len(optimizer.slot_names)
    extra = 1 if type(optimizer).__name__ == "Nadam" else 0
    if len(values) == 2 + extra or not values:
        optimizer.set_state([np.asarray(values[0]) if values else 0])
        return
    if len(values) != 2 + n * n_params + extra:
        warnings.warn(f"{path}: the optimizer's {len(values)} saved variables do not fit {type(optimizer).__name__} "
                      f"on {n_params} trainable weights ({2 + n * n_params + extra} expected); the optimizer starts "
                      "fresh.", stacklevel=3)
        return
    per = values[2:2 + n * n_params]
    slots = [per[i * n + k] for k in range(n) for i in range(n_params)]
    optimizer.set_state([np.asarray(values[0])] + [np.asarray(s) for s in slots])
    optimizer.learning_rate = float(np.asarray(values[1]))
