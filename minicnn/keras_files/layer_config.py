"""One layer's config between minicnn's spelling and Keras's (3, and 2 for legacy ``.h5`` files).

minicnn's ``get_config`` already uses Keras's argument names; what differs is the packaging:
Keras 3 writes the dtype as a ``DTypePolicy`` object, initialisers and regularisers as
``{"module", "class_name", "config", "registered_name"}`` objects, and lists every option,
constraints and LoRA ranks included, even when unset. This module translates both ways and checks
on the way in that every option a file sets is one minicnn honours: an option minicnn lacks, set
to anything but its "off" value, fails with an error naming it, so a model never loads as
something other than what was saved.

Nothing here imports a module or evaluates code named by a file: classes come from minicnn's
layers, the registered ones and ``custom_objects`` only (:mod:`minicnn.serialization`).
"""
import inspect

from minicnn import initializers, layers, serialization
from minicnn.layers.base import _snake

# Keras options with no counterpart in minicnn, and the value at which they change nothing.
NEUTRAL = {
    "kernel_constraint": None, "bias_constraint": None, "beta_constraint": None, "gamma_constraint": None,
    "depthwise_constraint": None, "pointwise_constraint": None, "embeddings_constraint": None,
    "activity_regularizer": None, "beta_regularizer": None, "gamma_regularizer": None,
    "depthwise_regularizer": None, "pointwise_regularizer": None,
    "quantization_config": None, "lora_rank": None, "lora_alpha": None, "groups": 1, "noise_shape": None,
    "rms_scaling": False, "renorm": False, "renorm_clipping": None, "sparse": False, "ragged": False,
    "optional": False, "seed": None, "autocast": True, "input_axes": None, "output_axes": None,
}
# Options that matter only when another is on (renorm's momentum only with renorm=True).
IGNORED = {"renorm_momentum", "build_input_shape"}

# Config keys a Keras 3 class refuses although minicnn's has them (for a layer without weights).
KERAS_LACKS = {"SpatialDropout2D": ("trainable",)}

_INIT_DEFAULTS = {"random_normal": {"mean": 0.0, "stddev": 0.05}, "random_uniform": {"minval": -0.05, "maxval": 0.05}}
_INIT_CLASS = {name: "".join(p.capitalize() for p in name.split("_")) for name in initializers.INITIALIZERS}
_INIT_OBJECTS = set(_INIT_CLASS.values()) | {"Constant"}  # what minicnn writes as {"class_name", "config"}


def _where(config, class_name):
    return f"layer {config.get('name', '?')!r} ({class_name})"


# -- minicnn -> Keras 3 ------------------------------------------------------------------------

def dtype_policy(dtype):
    """Keras 3's ``DTypePolicy`` object for a dtype name (``"float32"``)."""
    return {"module": "keras", "class_name": "DTypePolicy", "config": {"name": dtype}, "registered_name": None}


def initializer_to_keras(name):
    """Keras 3's object for a minicnn initialiser name (``"glorot_uniform"`` -> ``GlorotUniform``)."""
    name = initializers.ALIASES.get(name, name)
    config = dict(_INIT_DEFAULTS.get(name, {}))
    if name not in ("zeros", "ones"):
        config["seed"] = None
    return {"module": "keras.initializers", "class_name": _INIT_CLASS[name], "config": config, "registered_name": None}


def initializer_object_to_keras(entry):
    """Keras 3's object for minicnn's ``{"class_name": "Constant", "config": {"value": 0.5}}`` (or a
    RandomNormal/RandomUniform with its arguments)."""
    config = dict(entry.get("config") or {})
    if entry["class_name"] != "Constant":
        config.setdefault("seed", None)
    return {"module": "keras.initializers", "class_name": entry["class_name"], "config": config,
            "registered_name": None}


def _is_initializer_object(value):
    return isinstance(value, dict) and "module" not in value and value.get("class_name") in _INIT_OBJECTS


def regularizer_to_keras(entry):
    """Keras 3's object for minicnn's ``{"class_name": "L2", "config": {...}}``."""
    return None if entry is None else {"module": "keras.regularizers", **entry, "registered_name": None}


def layer_to_keras(layer):
    """Keras 3's entry ``{"module", "class_name", "config", "registered_name"}`` for a built-in
    layer (a model is :func:`minicnn.keras_files.model_config.model_to_keras`'s)."""
    cls = type(layer)
    config = dict(layer.get_config())
    config.pop("input_shape", None)  # Keras 3 has the InputLayer carry it
    if cls.__name__ == "InputLayer":
        shape = list(layer.declared_input_shape)
        config = {"batch_shape": [None, *shape], "dtype": config["dtype"], "sparse": False, "ragged": False,
                  "name": layer.name}
    else:
        config["dtype"] = dtype_policy(config["dtype"])
        for key, value in list(config.items()):
            if key.endswith("_initializer") and isinstance(value, str):
                config[key] = initializer_to_keras(value)
            elif _is_initializer_object(value):
                config[key] = initializer_object_to_keras(value)
            elif key.endswith("_regularizer"):
                config[key] = regularizer_to_keras(value)
    for key in KERAS_LACKS.get(cls.__name__, ()):
        config.pop(key, None)
    builtin = getattr(layers, cls.__name__, None) is cls
    return {"module": "keras.layers" if builtin else cls.__module__, "class_name": cls.__name__, "config": config,
            "registered_name": None if builtin else serialization.get_registered_name(cls)}


# -- Keras 2/3 -> minicnn ----------------------------------------------------------------------

def check_module(entry, where, path):
    """Refuse an object whose ``module`` is neither Keras's nor minicnn's (a file naming
    ``os`` or ``subprocess`` is hostile or foreign; nothing is imported either way).

    Raises:
        ValueError: naming the file, the object and the module.
    """
    module = entry.get("module")
    if module is None or not isinstance(module, str):
        return
    if module.split(".")[0] not in ("keras", "minicnn", "tf_keras", "tensorflow"):
        raise ValueError(f"{path}: {where} names the module {module!r}; only keras.* and minicnn classes (or your "
                         "own, passed in custom_objects or registered) are loaded from a file, and nothing is "
                         "imported from it.")


def dtype_from_keras(value, where, path):
    """A dtype name from Keras's ``"float32"`` or ``DTypePolicy`` object.

    Raises:
        ValueError: for a mixed-precision or non-float policy, which minicnn lacks.
    """
    if isinstance(value, dict):
        value = (value.get("config") or {}).get("name")
    if value is None:
        return None
    if value not in ("float16", "float32", "float64"):
        raise ValueError(f"{path}: {where} uses the dtype policy {value!r}; minicnn computes in float16, float32 "
                         "or float64 only (no mixed precision).")
    return value


def initializer_from_keras(value, key, where, path):
    """minicnn's initialiser name for Keras's name or object (``GlorotUniform`` -> ``glorot_uniform``).

    Raises:
        ValueError: for an initialiser minicnn lacks, or one with arguments it cannot honour.
    """
    if value is None or isinstance(value, str):
        return value
    if not isinstance(value, dict):
        raise ValueError(f"{path}: {where}: {key} is {value!r}, not an initializer minicnn knows.")
    check_module(value, f"{where}: {key}", path)
    class_name = value.get("class_name")
    name = initializers.ALIASES.get(class_name, class_name)
    if name not in initializers.INITIALIZERS:
        raise ValueError(f"{path}: {where}: {key} is {class_name!r}, an initializer minicnn lacks; minicnn has "
                         f"{sorted(_INIT_CLASS.values())}.")
    given = {k: v for k, v in (value.get("config") or {}).items() if NEUTRAL.get(k, object()) != v and k != "seed"}
    defaults = _INIT_DEFAULTS.get(name, {})
    odd = {k: v for k, v in given.items() if k not in defaults or abs(float(v) - defaults[k]) > 1e-12}
    if odd:
        raise ValueError(f"{path}: {where}: {key} {class_name} has arguments {odd}, which minicnn's {name} lacks "
                         f"(its fixed values: {defaults or 'none'}).")
    return name


def _users_initializer(value, key, where, path):
    """What minicnn itself writes for an initialiser (a name, or ``{"class_name", "config"}`` for
    Constant and the like) from Keras's object in a custom layer's config, which the layer's own
    ``__init__`` reads (through :func:`minicnn.initializers.get`).

    Raises:
        ValueError: for an initialiser minicnn lacks, naming the file, the layer and the key.
    """
    check_module(value, f"{where}: {key}", path)
    try:
        return initializers.serialize(initializers.get(value))
    except ValueError as e:
        raise ValueError(f"{path}: {where}: {key}: {e}") from None


def regularizer_from_keras(value, key, where, path):
    """minicnn's ``{"class_name", "config"}`` for Keras's regulariser object (None stays None)."""
    if value is None or isinstance(value, str):
        return value
    check_module(value, f"{where}: {key}", path)
    class_name = value.get("class_name")
    if class_name not in ("L1", "L2", "L1L2"):
        raise ValueError(f"{path}: {where}: {key} is {class_name!r}; minicnn has the L1, L2 and L1L2 regularizers.")
    return {"class_name": class_name, "config": dict(value.get("config") or {})}


def accepted_arguments(cls):
    """The keyword arguments ``cls`` (a minicnn layer or optimizer) takes, through its base classes."""
    names = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is not None:
            names |= {p.name for p in inspect.signature(init).parameters.values()
                      if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
    return names - {"self"}


def _keras2_spellings(class_name, config):
    """Keras 2's names for what Keras 3 (and minicnn) spell otherwise."""
    if "batch_input_shape" in config and class_name == "InputLayer":
        config["batch_shape"] = config.pop("batch_input_shape")
    axis = config.get("axis")
    if class_name in ("BatchNormalization", "LayerNormalization", "GroupNormalization") and isinstance(axis, list):
        # Keras 2 stores the built axis as a list; one axis is what minicnn (and Keras usually) has.
        config["axis"] = axis[0] if len(axis) == 1 else axis


def find_class(entry, custom_objects, where, path):
    """The class a Keras entry names: custom_objects, then registered, then minicnn's layers.

    Raises:
        ValueError: for a class minicnn lacks, naming it and the fix.
    """
    class_name, registered = entry.get("class_name"), entry.get("registered_name")
    custom_objects = custom_objects or {}
    # Keras's legacy .h5 names a registered class "package>Name" in class_name, with no registered_name.
    short = class_name.split(">")[-1] if isinstance(class_name, str) else class_name
    cls = (custom_objects.get(class_name) or custom_objects.get(registered) or custom_objects.get(short)
           or serialization._REGISTERED.get(registered) or serialization._REGISTERED.get(class_name)
           or (serialization._builtin(class_name) if short == class_name else None))
    if cls is None:
        raise ValueError(
            f"{path}: {where} is of class {class_name!r}, which minicnn lacks. If it is a layer of your own, pass "
            f"load_model(path, custom_objects={{'{short}': YourClass}}) or register it with "
            "@minicnn.saving.register_keras_serializable().")
    return cls


def _is_users(entry, cls, custom_objects):
    """Whether ``cls`` is the user's (passed in custom_objects or registered), whose module is theirs."""
    class_name = entry.get("class_name")
    short = class_name.split(">")[-1] if isinstance(class_name, str) else None
    names = (class_name, entry.get("registered_name"), short)
    return any((custom_objects or {}).get(n) is cls or serialization._REGISTERED.get(n) is cls for n in names if n)


def layer_config_from_keras(entry, cls, path):
    """minicnn's config (constructor arguments) for Keras's ``entry`` of a built-in ``cls``.

    Raises:
        ValueError: for an option minicnn lacks that the file sets, naming the layer and option.
    """
    class_name = entry.get("class_name")
    config = dict(entry.get("config") or {})
    where = _where(config, class_name)
    _keras2_spellings(class_name, config)
    if "dtype" in config:
        config["dtype"] = dtype_from_keras(config["dtype"], where, path)
    builtin = isinstance(cls, type) and cls.__module__.startswith("minicnn.") and \
        getattr(layers, cls.__name__, None) is cls
    for key, value in list(config.items()):
        if (key.endswith("_initializer") or key.endswith("_init")) and builtin:
            config[key] = initializer_from_keras(value, key, where, path)
        elif (key == "initializer" or key.endswith("_initializer")) and isinstance(value, dict):
            config[key] = _users_initializer(value, key, where, path)
        elif key.endswith("_regularizer") and key != "activity_regularizer":
            config[key] = regularizer_from_keras(value, key, where, path)
        elif key == "activation" and isinstance(value, dict):
            raise ValueError(f"{path}: {where} uses the activation object {value.get('class_name')!r}; minicnn "
                             "takes activations by name ('relu', 'softmax', ...).")
    if builtin:
        accepted = accepted_arguments(cls)
        for key in list(config):
            if key in accepted:
                continue
            if key in IGNORED or (key in NEUTRAL and config[key] == NEUTRAL[key]) or key == "seed":
                del config[key]  # off, or (seed) a choice of random draws that does not change the model
                continue
            raise ValueError(f"{path}: {where} sets the option {key}={config[key]!r}, which minicnn's {class_name} "
                             "lacks; the model cannot be loaded as saved.")
    return config


def layer_from_keras(entry, custom_objects, path):
    """A minicnn layer for Keras's entry of a layer (not a model).

    Raises:
        ValueError: for an unknown class, a foreign module, an unsupported option, or a Lambda
            whose function is code in the file (never run).
    """
    class_name = entry.get("class_name")
    where = _where(entry.get("config") or {}, class_name)
    if class_name == "Lambda" and not (custom_objects or {}).get("Lambda"):
        check_module(entry, where, path)
        return _lambda_from_keras(entry, custom_objects, where, path)
    cls = find_class(entry, custom_objects, where, path)
    if cls.__module__.startswith("minicnn.") and not _is_users(entry, cls, custom_objects):
        check_module(entry, where, path)  # a built-in class: the file must not claim another module
    config = layer_config_from_keras(entry, cls, path)
    try:
        return cls.from_config(config)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: {where} cannot be rebuilt from its config ({e}).") from None


def _lambda_from_keras(entry, custom_objects, where, path):
    """A Lambda layer only from a function the caller supplies by name: code in a file is never run."""
    config = dict(entry.get("config") or {})
    function = config.get("function")
    name = None
    if isinstance(function, str):
        name = function
    elif isinstance(function, dict) and function.get("class_name") == "function":
        name = function.get("config") if isinstance(function.get("config"), str) else None
    fn = (custom_objects or {}).get(name) if name else None
    if fn is None and name:
        raise ValueError(f"{path}: {where} calls the function {name!r}, which is not in custom_objects; define it "
                         f"in your program and pass it: load_model(path, custom_objects={{'{name}': {name}}}).")
    if fn is None:
        raise ValueError(
            f"{path}: {where} holds its function as Python bytecode. minicnn never runs code from a file, whatever "
            "safe_mode says (safe_mode=False does not make it run): define the function in your program, save the "
            "model with it as a named function, and pass it in custom_objects by name, load_model(path, "
            "custom_objects={'function_name': function}).")
    lam = getattr(layers, "Lambda", None)
    if lam is None:
        raise ValueError(f"{path}: {where}: the Lambda layer is not in minicnn yet.")
    kwargs = {k: v for k, v in config.items() if k in ("name", "trainable")}
    if isinstance(config.get("arguments"), dict) and config["arguments"]:
        kwargs["arguments"] = config["arguments"]  # plain JSON values, passed to the function
    if isinstance(config.get("output_shape"), list):
        kwargs["output_shape"] = tuple(config["output_shape"])
    return lam(fn, **kwargs)


def weight_group_names(layer_list):
    """Keras 3's names of a container's entries in a weights file: the class in snake case,
    ``_1``, ``_2``... for repeats (not the layers' own names)."""
    used, names = {}, []
    for layer in layer_list:
        name = _snake("Functional" if type(layer).__name__ == "Model" else type(layer).__name__)
        if name in used:
            used[name] += 1
            name = f"{name}_{used[name]}"
        else:
            used[name] = 0
        names.append(name)
    return names
