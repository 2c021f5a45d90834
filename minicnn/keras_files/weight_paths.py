"""Where Keras 3 keeps each layer's variables in a weights file (``.weights.h5``, and a ``.keras``
archive's ``model.weights.h5``): one ``<path>/vars`` group per layer, its arrays numbered 0, 1, ...

Keras finds the paths by walking the model from the top, and minicnn walks it the same way:

- a Sequential or functional model: its layers under ``layers/``, each named by its class in snake
  case with ``_1``, ``_2``... for repeats (:func:`~minicnn.keras_files.layer_config.weight_group_names`);
- a layer of one's own or a subclassed model: its own variables (trainable first, then the others,
  each in the order made), then the layers it keeps as attributes, under the attribute's name
  (``res_block/bn1``), in the order of the attribute names (``_private`` ones last); a list, tuple or
  dict of layers is a group named after the attribute, its layers named by class as above; a
  subclassed model has one more such attribute, ``layers``: all the layers it keeps, in the order set;
- a layer met a second time (shared) is saved at its first path only.

The walk starts from a model, or from a *tree*: ``[(group name, item)]`` for the layers of a
Sequential or functional model in the order its Keras config lists them (the order Keras names
them in), where an item is a layer, a model, or such a list for a nested model.
"""
from minicnn.keras_files.layer_config import weight_group_names
from minicnn.layers.base import _snake
from minicnn.subclassing import internal_names


def groups(tree, model_name):
    """``[(path, layer or None, name)]``: the ``vars`` group of every layer and model the walk meets, in
    walk order; ``layer`` is None where it has no variables of its own (a model, Dropout, a custom
    layer with sublayers only), ``name`` is what Keras writes in the group's ``name`` attribute. The
    root's path is ``""``."""
    out, visited = [], set()
    _walk("", tree, model_name, out, visited)
    return out


def own_names(layer):
    """The names of ``layer``'s own weights in Keras's order: a built-in layer's as it keeps them; a
    custom layer's trainable ones first, then the others (Keras's ``save_own_variables``)."""
    params = getattr(layer, "params", None) or {}
    if not getattr(layer, "user_code", False):
        return list(params)
    trainable = [n for n in getattr(layer, "trainable_names", ()) if n in params]
    return trainable + [n for n in params if n not in trainable]


def _join(path, name):
    return f"{path}/{name}" if path else name


def _is_saveable(value):
    return hasattr(value, "_leaf_layers")


def _is_model(obj):
    return hasattr(obj, "_graph") and hasattr(obj, "_subclassed")


def _walk(path, obj, name, out, visited):
    if isinstance(obj, list):  # a model as its config lists its layers
        out.append((path, None, name))
        _named_container(_join(path, "layers"), obj, out, visited)
        return
    if id(obj) in visited:
        return
    visited.add(id(obj))
    out.append((path, obj if own_names(obj) else None, obj.name))
    if _is_model(obj) and not obj._subclassed:
        obj._ensure_built()
        layers = list(obj.layers)
        _named_container(_join(path, "layers"), list(zip(weight_group_names(layers), layers)), out, visited)
        return
    for attr, value in _attributes(obj):
        if _is_saveable(value):
            _walk(_join(path, attr), value, value.name, out, visited)
        else:
            _container(_join(path, attr), value, out, visited)


def _named_container(path, pairs, out, visited):
    for name, item in pairs:
        _walk(_join(path, name), item, getattr(item, "name", name), out, visited)


def _container(path, value, out, visited, seen=None):
    """A list, tuple or dict of an attribute: layers named by class, nested containers ``container``,
    ``container_1``...; the counts include layers saved elsewhere already, as Keras counts them."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return
    seen.add(id(value))
    used = {}
    for item in value.values() if isinstance(value, dict) else value:
        if _is_saveable(item):
            _walk(_join(path, _unique(_snake(type(item).__name__), used)), item, item.name, out, visited)
        elif isinstance(item, (list, tuple, dict)):
            _container(_join(path, _unique("container", used)), item, out, visited, seen)


def _unique(name, used):
    if name in used:
        used[name] += 1
        return f"{name}_{used[name]}"
    used[name] = 0
    return name


def _holds_layers(value):
    if _is_saveable(value):
        return True
    if isinstance(value, (list, tuple, dict)):
        return any(_holds_layers(v) for v in (value.values() if isinstance(value, dict) else value))
    return False


def _flat_layers(value):
    if _is_saveable(value):
        return [value]
    if isinstance(value, (list, tuple, dict)):
        return [layer for v in (value.values() if isinstance(value, dict) else value) for layer in _flat_layers(v)]
    return []


def _attributes(obj):
    """``[(attribute name, value)]`` of the user's layers and containers of layers on ``obj``, sorted
    as Keras visits them (by name, ``_private`` ones last); a subclassed model adds ``layers``."""
    internal = internal_names(obj)
    found = [(k, v) for k, v in vars(obj).items() if k not in internal and _holds_layers(v) and v is not obj]
    if _is_model(obj):
        tracked = list({id(l): l for _, v in found for l in _flat_layers(v) if l is not obj}.values())
        found.append(("layers", tracked))
    return sorted(found, key=lambda kv: f"~{kv[0]}" if kv[0].startswith("_") else kv[0])
