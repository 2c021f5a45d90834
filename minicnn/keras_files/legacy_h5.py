"""The legacy Keras HDF5 file (``.h5``): what Keras 2's ``model.save`` wrote, and Keras 3 still reads.

The root holds the ``model_config`` and ``training_config`` attributes (JSON), the
``model_weights`` group (one group per top-level layer, :mod:`minicnn.keras_files.weights`) and
``optimizer_weights``. minicnn writes the config in Keras 2's spelling (dtype names, inbound nodes
as ``[[name, node, tensor, {}]]``), which both Keras 2 and Keras 3 read; it reads configs written
by Keras 2 and by Keras 3.
"""
import json
import warnings

import numpy as np

from minicnn import distributed
from minicnn.keras_files import hdf5_checks, model_config, training_config, weights

# The version attribute Keras's readers look at: below "2" they convert Keras 1 weights.
KERAS2_LAYOUT_VERSION = "2.15.0"


def keras2_entry(entry):
    """Keras 2's spelling of a Keras 3 entry (of a model, a layer or an initializer), recursively; a
    registered class is named ``"package>Name"``, as Keras's legacy files name it."""
    if isinstance(entry, list):
        return [keras2_entry(e) for e in entry]
    if not isinstance(entry, dict):
        return entry
    out = {}
    registered = entry.get("registered_name")
    if isinstance(registered, str) and ">" in registered and "class_name" in entry:
        entry = {**entry, "class_name": registered}  # a registered class: "package>Name", where Keras looks it up
    for key, value in entry.items():
        if key in ("module", "registered_name", "build_config", "compile_config", "shared_object_id"):
            continue
        if key == "dtype" and isinstance(value, dict):
            value = value["config"]["name"]
        elif key == "batch_shape":
            key = "batch_input_shape"
        elif key == "inbound_nodes":
            value = [_keras2_node(node) for node in value]
        elif key in ("input_layers", "output_layers") and value and isinstance(value[0], str):
            value = [value]
        elif key == "build_input_shape":
            continue
        else:
            value = keras2_entry(value)
        out[key] = value
    return out


def _keras2_node(node):
    arg = node["args"][0]
    tensors = arg if isinstance(arg, list) else [arg]
    return [[*t["config"]["keras_history"], {}] for t in tensors]


def _attr_json(h5, key, path):
    value = h5.attrs.get(key)
    if value is None:
        return None
    if isinstance(value, bytes):
        value = value.decode("utf-8")
    try:
        return json.loads(value)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: its {key} attribute is not valid JSON ({e}).") from None


def model_config_keras2(model):
    """The model's configuration as Keras 2 wrote it (``model_config``; TensorBoard's graph plugin reads it)."""
    entry, _ = model_config.model_to_keras(model)
    return {"class_name": entry["class_name"], "config": keras2_entry(entry["config"])}


def write(h5, model, include_optimizer=True):
    """Write ``model`` into the open h5py file in the legacy layout."""
    legacy = model_config_keras2(model)
    from minicnn import __version__
    h5.attrs["model_config"] = json.dumps(legacy)
    h5.attrs["keras_version"] = KERAS2_LAYOUT_VERSION
    h5.attrs["backend"] = "tensorflow"  # the backend whose layout the arrays have (channels-last kernels)
    h5.attrs["written_by"] = f"minicnn {__version__}"
    group = h5.create_group("model_weights")
    group.attrs["keras_version"] = KERAS2_LAYOUT_VERSION
    group.attrs["backend"] = "tensorflow"
    weights.write_legacy(group, model.layers)
    cconf = training_config.compile_to_keras(model) if model.compiled else None
    if cconf is None:
        return
    optimizer = cconf.pop("optimizer")
    cconf = {k: v for k, v in cconf.items() if k in ("loss", "metrics", "weighted_metrics", "loss_weights")}
    h5.attrs["training_config"] = json.dumps(keras2_entry({**cconf, "optimizer_config": optimizer}))
    if include_optimizer:
        values = training_config.optimizer_variables(model.optimizer, len(model.trainable_weights))
        names = _optimizer_names(model, len(values))
        g = h5.create_group("optimizer_weights")
        g.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
        for name, value in zip(names, values):
            g.create_dataset(name, data=np.asarray(value))


def _optimizer_names(model, count):
    """Keras 3's names of the optimizer variables (``adam/iteration``, ``adam/<weight>_momentum``)."""
    opt = model.optimizer
    prefix = opt.name
    names = [f"{prefix}/iteration", f"{prefix}/learning_rate"]
    if count > 2:
        for layer_weight, _ in model._named_trainable_weights():
            names += [f"{prefix}/{layer_weight.replace('/', '_')}_{slot}" for slot in opt.slot_names]
    if type(opt).__name__ == "Nadam" and count > 2:
        names.append(f"{prefix}/u_product")
    return names[:count]


def read_model(h5, path, custom_objects=None, compile=True):
    """The model of an open legacy ``.h5`` file: config, weights, compile settings, optimizer state.

    Raises:
        ValueError: for a file without a model config or weights, or what minicnn lacks.
    """
    config = _attr_json(h5, "model_config", path)
    if config is None:
        raise ValueError(f"{path} is an HDF5 file without a model_config attribute: a weights file, not a model; "
                         "build the model and call model.load_weights(path).")
    if "model_weights" not in h5:
        raise ValueError(f"{path} holds a model config but no weights (no model_weights group).")
    model, _ = model_config.model_from_keras(config, custom_objects, path)
    triples = weights.read_legacy(h5["model_weights"], model.layers, path)
    weights.set_legacy(triples)
    tconf = _attr_json(h5, "training_config", path)
    if compile and tconf:
        from minicnn.keras_files.keras3 import _compile
        _compile(model, tconf, path, custom_objects)
        if "optimizer_weights" in h5:
            _set_optimizer(model, h5["optimizer_weights"], path)
    distributed.sync_model(model)
    return model


def read_weights(h5, model, path):
    """Set ``model``'s weights from an open legacy weights file (``save_weights`` to ``.h5``) or
    the ``model_weights`` group of a legacy model file."""
    group = h5["model_weights"] if "model_weights" in h5 else h5
    weights.set_legacy(weights.read_legacy(group, model.layers, path))


def _set_optimizer(model, group, path):
    names = [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in group.attrs.get("weight_names", [])]
    values = [hdf5_checks.read_array(group[n], path, f"{group.name}/{n}") for n in names if n in group]
    n_params = len(model.trainable_weights)
    opt = model.optimizer
    if len(names) >= 2 and names[0].endswith("iteration") and names[1].endswith("learning_rate"):
        training_config.set_optimizer_variables(opt, values, n_params, path)  # Keras 3's layout
    elif names and names[0].endswith("iter:0") and len(values) == 1 + len(opt.slot_names) * n_params:
        opt.set_state(values)  # Keras 2's: [iter] then slot by slot, as minicnn keeps it
    else:
        warnings.warn(f"{path}: the optimizer state is in a layout minicnn does not know ({names[:3]}...); the "
                      "optimizer starts fresh.", stacklevel=3)
