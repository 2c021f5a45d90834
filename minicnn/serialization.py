"""Layers and models from their configs: the built-in classes, those registered with
:func:`register_keras_serializable`, and those passed as ``custom_objects``.

A saved model names each layer's class; loading looks the name up in ``custom_objects`` first,
then among the registered classes, then among minicnn's layers and models. Nothing is imported or
run by name beyond that: a file cannot make minicnn load code.
"""
_REGISTERED = {}


def register_keras_serializable(package="Custom", name=None):
    """Class decorator (Keras 3's): a layer of your own that saved models may name, as
    ``"package>name"`` (``name`` defaults to the class's name). Its ``get_config`` must return the
    arguments its constructor takes.

    Raises:
        ValueError: when another class is already registered under that name.
    """
    def register(cls):
        key = f"{package}>{name or cls.__name__}"
        if key in _REGISTERED and _REGISTERED[key] is not cls:
            raise ValueError(f"{key!r} is already registered for {_REGISTERED[key]!r}; pick another package or name.")
        _REGISTERED[key] = cls
        cls._registered_name = key
        return cls
    return register


def get_registered_name(cls):
    """The name a saved model gives ``cls``: its registered name, else the class's name."""
    return cls.__dict__.get("_registered_name", cls.__name__)


def serialize_layer(layer):
    """``{"class_name", "registered_name", "config"}`` for a layer or a model."""
    cls = type(layer)
    class_name = "Functional" if cls.__name__ == "Model" else cls.__name__
    return {"class_name": class_name, "registered_name": get_registered_name(cls), "config": layer.get_config()}


def _builtin(class_name):
    from minicnn import layers
    from minicnn.functional import Model
    from minicnn.models import Sequential
    if class_name in ("Functional", "Model"):
        return Model
    if class_name == "Sequential":
        return Sequential
    if class_name == "OpLayer":  # a keras.ops call in a functional graph (minicnn.ops.symbolic)
        from minicnn.ops.symbolic import OpLayer
        return OpLayer
    cls = getattr(layers, class_name, None)
    return cls if isinstance(cls, type) and issubclass(cls, layers.Layer) else None


def deserialize_layer(entry, custom_objects=None):
    """A layer (or model) from :func:`serialize_layer`'s dict.

    Raises:
        ValueError: for a class that is neither built in, registered, nor in ``custom_objects``.
    """
    custom_objects = custom_objects or {}
    class_name, registered = entry.get("class_name"), entry.get("registered_name")
    cls = custom_objects.get(class_name) or custom_objects.get(registered) or _REGISTERED.get(registered) \
        or _builtin(class_name)
    if cls is None:
        raise ValueError(
            f"Unknown layer class {class_name!r} in the model config. If it is a layer of your own, pass it "
            f"when loading, load_model(path, custom_objects={{'{class_name}': {class_name}}}), or decorate "
            "its class with @minicnn.saving.register_keras_serializable().")
    config = dict(entry.get("config") or {})
    if cls.__name__ in ("Model", "Sequential", "Lambda"):  # they look up what they call in custom_objects
        return cls.from_config(config, custom_objects=custom_objects)
    try:
        return cls.from_config(config)
    except TypeError as e:
        raise ValueError(f"Layer class {class_name!r} cannot be rebuilt from its saved config ({e}); its get_config "
                         "must return the arguments its constructor takes.") from None
