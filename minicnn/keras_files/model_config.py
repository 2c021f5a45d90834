"""A model's config between minicnn and Keras: Sequential and functional graphs (merges, shared
layers, nested models), in Keras 3's form (``__keras_tensor__`` node arguments) and Keras 2's
(``[[name, node, tensor, kwargs]]`` lists).

Alongside the model, both directions give its *weight tree*: a list of ``(group name, layer)``
or ``(group name, subtree)`` in the order Keras walks the model when it names the groups of a
weights file (:func:`minicnn.keras_files.layer_config.weight_group_names`). Reading takes that
order from the file's config, so a file's weights reach the layers Keras meant, whatever order
minicnn keeps its layers in.
"""
from minicnn.keras_files import layer_config as lc

MODEL_CLASSES = ("Sequential", "Functional", "Model")


def _is_model(layer):
    return hasattr(layer, "_leaf_layers") and hasattr(layer, "_graph")


def _with_batch(shape):
    if isinstance(shape, list):
        return [_with_batch(s) for s in shape]
    return None if shape is None else [None, *shape]


# -- minicnn -> Keras 3 ------------------------------------------------------------------------

def model_to_keras(model):
    """Keras 3's entry for ``model`` and its weight tree.

    Returns:
        (entry, tree): entry is ``{"module", "class_name", "config", "registered_name", "build_config"}``.
    """
    model._ensure_built()
    if type(model).__name__ == "Sequential":
        return _sequential_to_keras(model)
    return _functional_to_keras(model)


def _entry_and_tree(layer):
    if _is_model(layer):
        return model_to_keras(layer)
    entry = lc.layer_to_keras(layer)
    if type(layer).__name__ != "InputLayer" and layer.input_shape is not None:
        entry["build_config"] = {"input_shape": _with_batch(layer.input_shape)}
    return entry, layer


def _sequential_to_keras(model):
    shape = [None, *model.input_shape_]
    entries, items = [], []
    for layer in model.layers:
        entry, item = _entry_and_tree(layer)
        entries.append(entry)
        items.append(item)
    first = {"module": "keras.layers", "class_name": "InputLayer", "registered_name": None,
             "config": {"batch_shape": shape, "dtype": model.layers[0].dtype.name, "sparse": False,
                        "ragged": False, "name": model._input_layer.name}}
    config = {"name": model.name, "trainable": model.trainable, "dtype": lc.dtype_policy("float32"),
              "layers": [first, *entries], "build_input_shape": shape}
    tree = list(zip(lc.weight_group_names(model.layers), items))
    return {"module": "keras", "class_name": "Sequential", "config": config, "registered_name": None,
            "build_config": {"input_shape": shape}}, tree


def _tensor(t, index):
    return {"class_name": "__keras_tensor__",
            "config": {"shape": list(t.shape), "dtype": t.dtype.name,
                       "keras_history": [t.node.layer.name, index[t.node], t.index]}}


def _refs(tensors, index):
    refs = [[t.node.layer.name, index[t.node], t.index] for t in tensors]
    return refs[0] if len(refs) == 1 else refs


def _functional_to_keras(model):
    g = model._graph
    index, count = {}, {}
    for node in [t.node for t in g.inputs] + g.nodes:
        if node not in index:
            index[node] = count[node.layer] = count.get(node.layer, -1) + 1
    entries, items = [], []
    for layer in g.layers:
        entry, item = _entry_and_tree(layer)
        nodes = [n for n in g.nodes if n.layer is layer]
        entry["name"] = layer.name
        entry["inbound_nodes"] = [
            {"args": [[_tensor(t, index) for t in n.inputs] if n.list_input else _tensor(n.inputs[0], index)],
             "kwargs": {}} for n in nodes]
        entries.append(entry)
        items.append(item)
    if model._input_keys or model._output_keys:
        raise ValueError(f"Model '{model.name}' takes or returns a dict of tensors, which minicnn does not write to "
                         "Keras files yet; use lists.")
    config = {"name": model.name, "trainable": model.trainable, "layers": entries,
              "input_layers": _refs(g.inputs, index), "output_layers": _refs(g.outputs, index)}
    tree = list(zip(lc.weight_group_names(g.layers), items))
    shapes = [list(t.shape) for t in g.inputs]
    return {"module": "keras.src.models.functional", "class_name": "Functional", "config": config,
            "registered_name": "Functional",
            "build_config": {"input_shape": shapes[0] if len(shapes) == 1 else shapes}}, tree


# -- Keras 2/3 -> minicnn ----------------------------------------------------------------------

def model_from_keras(entry, custom_objects, path):
    """A minicnn model (fresh weights) and its weight tree from Keras's entry of a model.

    Raises:
        ValueError: naming the file and the layer, for what minicnn cannot rebuild as saved.
    """
    if not isinstance(entry, dict) or not isinstance(entry.get("config"), dict):
        raise ValueError(f"{path}: the model config is not a Keras model description (a JSON object with "
                         "'class_name' and 'config').")
    class_name = entry.get("class_name")
    lc.check_module(entry, f"the model ({class_name})", path)
    if class_name == "Sequential":
        return _sequential_from_keras(entry["config"], custom_objects, path)
    if class_name in ("Functional", "Model"):
        return _functional_from_keras(entry["config"], custom_objects, path)
    raise ValueError(f"{path}: the file holds a model of class {class_name!r}; minicnn loads Sequential and "
                     "functional (keras.Model(inputs, outputs)) models. A subclassed model has no config to rebuild.")


def _make(entry, custom_objects, path):
    """A layer or nested model from its entry, and its part of the weight tree."""
    if not isinstance(entry, dict):
        raise ValueError(f"{path}: a layer entry of the model config is {entry!r}, not an object.")
    if entry.get("class_name") in MODEL_CLASSES and not (custom_objects or {}).get(entry.get("class_name")):
        return model_from_keras(entry, custom_objects, path)
    layer = lc.layer_from_keras(entry, custom_objects, path)
    return layer, layer


def _input_shape(entry):
    config = entry.get("config") or {}
    shape = config.get("batch_shape") or config.get("batch_input_shape")
    return None if shape is None else list(shape)[1:]


def _sequential_from_keras(config, custom_objects, path):
    from minicnn.models import Sequential
    shape, made, items, keras_layers = None, [], [], []
    for entry in config.get("layers") or []:
        if isinstance(entry, dict) and entry.get("class_name") == "InputLayer":
            shape = _input_shape(entry)
            continue
        if shape is None and isinstance(entry, dict):
            shape = _input_shape(entry)
        layer, item = _make(entry, custom_objects, path)
        made.append(layer)
        items.append(item)
        keras_layers.append(layer)
    if shape is None and config.get("build_input_shape"):
        shape = list(config["build_input_shape"])[1:]
    try:
        model = Sequential(made, name=config.get("name"))
        if shape is not None and not model.built:
            model.build(shape)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the Sequential model cannot be rebuilt in minicnn ({e}).") from None
    return model, list(zip(lc.weight_group_names(keras_layers), items))


def _node_refs(node, where, path):
    """``(refs, list_input)`` of one call: ``refs`` as ``(layer, node, tensor)`` triples."""
    def ref(t):
        if isinstance(t, dict) and t.get("class_name") == "__keras_tensor__":
            return tuple(t["config"]["keras_history"][:3])
        if isinstance(t, list) and len(t) >= 3 and isinstance(t[0], str):
            return tuple(t[:3])
        raise ValueError(f"{path}: {where} is called on {t!r}, which is not a tensor of the model.")
    if isinstance(node, dict):  # Keras 3
        args, kwargs = node.get("args") or [], node.get("kwargs") or {}
        odd = {k: v for k, v in kwargs.items()
               if not (k in ("mask", "training") and (v is None or isinstance(v, bool)))}
        if len(args) != 1 or odd:
            raise ValueError(f"{path}: {where} is called with arguments minicnn's layers do not take "
                             f"({len(args)} positional, keyword {sorted(odd)}).")
        arg = args[0]
        return ([ref(t) for t in arg], True) if isinstance(arg, list) else ([ref(arg)], False)
    if isinstance(node, list):  # Keras 2: [[name, node, tensor, kwargs], ...]
        for t in node:
            kwargs = t[3] if isinstance(t, list) and len(t) > 3 else {}
            if any(k not in ("mask", "training") for k in kwargs or {}):
                raise ValueError(f"{path}: {where} is called with keyword arguments {sorted(kwargs)}, which "
                                 "minicnn's layers do not take.")
        return [ref(t) for t in node], len(node) > 1
    raise ValueError(f"{path}: {where} has an inbound node {node!r} minicnn cannot read.")


def _layer_refs(value):
    """``(refs, single)`` of a model's inputs or outputs: Keras 3 writes one as ``[name, 0, 0]``, several
    as a list of those; Keras 2 always the list (one entry is taken as one tensor)."""
    if isinstance(value, dict):
        raise ValueError("inputs or outputs as a dict, which minicnn's loader does not read yet")
    if value and isinstance(value[0], str):
        return [tuple(value[:3])], True
    return [tuple(v[:3]) for v in value], len(value) == 1


def _functional_from_keras(config, custom_objects, path):
    from minicnn.functional import Model
    made, items, order = {}, [], []
    for entry in config.get("layers") or []:
        name = entry.get("name") or (entry.get("config") or {}).get("name")
        layer, item = _make(entry, custom_objects, path)
        if name in made:
            raise ValueError(f"{path}: the model config lists two layers named {name!r}.")
        made[name] = layer
        items.append(item)
        order.append((name, entry))
    outputs = {}
    for name, layer in made.items():
        if type(layer).__name__ == "InputLayer":
            outputs[(name, 0)] = [layer.output]
    pending = [(name, i, node) for name, e in order for i, node in enumerate(e.get("inbound_nodes") or [])]
    while pending:
        waiting = []
        for name, i, node in pending:
            where = f"layer {name!r} ({type(made[name]).__name__})"
            refs, as_list = _node_refs(node, where, path)
            if (i == 0 or (name, i - 1) in outputs) and all(r[:2] in outputs for r in refs):
                try:
                    args = [outputs[r[:2]][r[2]] for r in refs]
                    out = made[name](args if as_list else args[0])
                except (TypeError, ValueError, IndexError) as e:
                    raise ValueError(f"{path}: {where} cannot be called as the file's graph calls it ({e}).") from None
                outputs[(name, i)] = out if isinstance(out, list) else [out]
            else:
                waiting.append((name, i, node))
        if len(waiting) == len(pending):
            raise ValueError(f"{path}: the model's graph cannot be rebuilt: the calls of "
                             f"{sorted({n for n, _, _ in waiting})[:5]} wait for tensors no layer makes.")
        pending = waiting
    try:
        ins, single_in = _layer_refs(config["input_layers"])
        outs, single_out = _layer_refs(config["output_layers"])
        inputs = [outputs[r[:2]][r[2]] for r in ins]
        outs = [outputs[r[:2]][r[2]] for r in outs]
    except (KeyError, IndexError, TypeError, ValueError) as e:
        raise ValueError(f"{path}: the model config's inputs or outputs are missing or name no layer ({e}).") from None
    try:
        model = Model(inputs[0] if single_in else inputs, outs[0] if single_out else outs, name=config.get("name"))
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the functional model cannot be rebuilt in minicnn ({e}).") from None
    return model, list(zip(lc.weight_group_names(list(made.values())), items))
