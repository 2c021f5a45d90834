"""Weights between a minicnn model and Keras's two HDF5 layouts.

Keras 3 (``model.weights.h5`` in a ``.keras`` archive, and ``.weights.h5`` files) stores each
layer's variables as ``<path>/vars/0, 1, ...`` (``layers/conv2d/vars/0``; a custom layer's
sublayer at ``layers/res_block/bn1/vars/0``; a subclassed model's at ``block/linear_1/vars/0``:
:mod:`minicnn.keras_files.weight_paths`), and the optimizer's as ``optimizer/vars/0, 1, ...``.
The legacy layout (Keras 2's ``.h5``) has one group per top-level layer, listing its arrays in the
``weight_names`` attribute: the layer's trainable weights, then the others.

Every array is checked against the model before any is set, so a bad file never leaves half a
model loaded.
"""
import numpy as np

from minicnn import backend
from minicnn.keras_files import hdf5_checks, weight_paths


def write_keras3(h5, tree, optimizer_values=None, model_name="model", optimizer_name="optimizer"):
    """Write the weights of ``tree`` (a model, or a config's weight tree: :mod:`.weight_paths`) and the
    optimizer's Keras 3 variables into the open h5py file."""
    for path, layer, name in weight_paths.groups(tree, model_name):
        vars_ = h5.require_group(f"{path}/vars" if path else "vars")
        vars_.attrs["name"] = name
        for i, n in enumerate(weight_paths.own_names(layer) if layer is not None else []):
            vars_.create_dataset(str(i), data=backend.to_numpy(layer.params[n]))
    if optimizer_values is not None:
        vars_ = h5.create_group("optimizer").create_group("vars")
        vars_.attrs["name"] = optimizer_name
        for i, a in enumerate(optimizer_values):
            vars_.create_dataset(str(i), data=np.asarray(a))


def _read_vars(h5, path, where):
    vars_path = f"{path}/vars" if path else "vars"
    if vars_path not in h5:
        return None
    group = h5[vars_path]
    try:
        values = [group[str(i)] for i in range(len(group))]
    except KeyError:
        raise ValueError(f"{where}: the arrays under {vars_path} are not numbered 0..{len(group) - 1}.") from None
    out = []
    for i, v in enumerate(values):
        if v.attrs.get("dtype") == "bfloat16" or v.dtype.kind not in "fiu":
            raise ValueError(f"{where}: {vars_path} holds an array of type {v.attrs.get('dtype', v.dtype)}, which "
                             "minicnn cannot load.")
        out.append(hdf5_checks.read_array(v, where, f"{vars_path}/{i}"))
    return out


def read_keras3(h5, tree, where, model_name="model"):
    """``[(layer, arrays)]`` for every layer with weights in ``tree`` (a model, or a config's weight
    tree), from Keras 3's layout: a custom layer's sublayers and a subclassed model's attributes too.

    Raises:
        ValueError: for a layer whose weights are not in the file, the wrong number of them or the
            wrong shape, naming the layer and where they were looked for.
    """
    pairs = []
    for path, layer, _ in weight_paths.groups(tree, model_name):
        values = _read_vars(h5, path, where)
        if layer is None:
            if values:
                raise ValueError(f"{where} holds {len(values)} arrays under {path or '/'}/vars, where the model has "
                                 "a layer or model without weights; the file is of another model.")
            continue
        if values is None:
            raise ValueError(f"{where} holds no weights for layer {layer.name!r} ({type(layer).__name__}); "
                             f"expected them under {path}/vars (Keras 3's layout names a custom layer's sublayers "
                             "and a subclassed model's layers by their attribute names). The file is of another "
                             "model, or was written without them.")
        pairs.append((layer, check_arrays(layer, weight_paths.own_names(layer), values, where)))
    return pairs


def check_arrays(layer, names, values, where):
    """``values`` (float32 copies) when they fit the layer's ``names`` weights; ValueError otherwise."""
    if len(values) != len(names):
        raise ValueError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) has {len(names)} weights "
                         f"({', '.join(names) or 'none'}), but the file holds {len(values)} arrays for it.")
    out = []
    for name, v in zip(names, values):
        want = tuple(layer.params[name].shape)
        if tuple(v.shape) != want:
            raise ValueError(f"{where}: layer {layer.name!r} weight '{name}' has shape {want} in the model, but "
                             f"{tuple(v.shape)} in the file.")
        out.append(v)
    return out


def read_optimizer_keras3(h5, where):
    """The optimizer's variables in Keras 3's layout, or None where the file has none."""
    return _read_vars(h5, "optimizer", where)


def set_all(pairs):
    """Set each ``(layer, arrays)`` (checked already) in Keras's order of the layer's own weights."""
    for layer, arrays in pairs:
        for name, value in zip(weight_paths.own_names(layer), arrays):
            param = layer.params[name]
            param[...] = backend.get_array_module(param).asarray(value, dtype=param.dtype)


# -- legacy (Keras 2) ---------------------------------------------------------------------------

def legacy_weights(layer):
    """A top-level layer's ``[(weight name, array)]`` in the legacy order: trainable first."""
    leaves = layer._leaf_layers()
    named = []
    for leaf in leaves:
        trainable = leaf.trainable_names if leaf.trainable else ()
        named += [(leaf, n) for n in trainable]
    for leaf in leaves:
        trainable = leaf.trainable_names if leaf.trainable else ()
        named += [(leaf, n) for n in leaf.params if n not in trainable]
    return named


def write_legacy(group, top_layers):
    """Keras 2's ``model_weights`` group (or a weights file's root) for ``top_layers``."""
    group.attrs["layer_names"] = np.array([l.name.encode("utf8") for l in top_layers])
    for layer in sorted(top_layers, key=lambda l: l.name):
        g = group.create_group(layer.name)
        named = legacy_weights(layer)
        names = [f"{leaf.name}/{n}:0" for leaf, n in named]
        g.attrs["weight_names"] = np.array([n.encode("utf8") for n in names])
        for name, (leaf, n) in zip(names, named):
            g.create_dataset(name, data=backend.to_numpy(leaf.params[n]))
    g = group.create_group("top_level_model_weights")
    g.attrs["weight_names"] = np.array([], dtype="S1")


def _names(attrs, key):
    return [n.decode("utf8") if isinstance(n, bytes) else str(n) for n in attrs.get(key, [])]


def read_legacy(group, top_layers, where):
    """``[(leaf, name, array)]`` for the model's layers with weights, matched in order to the
    file's layers with weights (as Keras's ``load_weights`` matches a legacy file).

    Raises:
        ValueError: for a count or shape that differs, naming the layer.
    """
    saved = [n for n in _names(group.attrs, "layer_names") if n in group and _names(group[n].attrs, "weight_names")]
    ours = [l for l in top_layers if legacy_weights(l)]
    if not saved and ours:
        raise ValueError(f"{where} holds no weights (its layers list no weight arrays).")
    if len(saved) != len(ours):
        raise ValueError(f"{where} holds weights for {len(saved)} layers ({saved[:6]}), but the model has "
                         f"{len(ours)} layers with weights ({[l.name for l in ours][:6]}).")
    out = []
    for name, layer in zip(saved, ours):
        g = group[name]
        values = []
        for w in _names(g.attrs, "weight_names"):
            if w not in g:
                raise ValueError(f"{where}: layer {name!r} lists the weight {w!r}, which the file lacks.")
            values.append(hdf5_checks.read_array(g[w], where, f"{g.name}/{w}"))
        named = legacy_weights(layer)
        if len(values) != len(named):
            raise ValueError(f"{where}: layer {layer.name!r} ({type(layer).__name__}) has {len(named)} weights, but "
                             f"the file's layer {name!r} holds {len(values)}.")
        for (leaf, n), v in zip(named, values):
            if tuple(v.shape) != tuple(leaf.params[n].shape):
                raise ValueError(f"{where}: layer {leaf.name!r} weight '{n}' has shape {tuple(leaf.params[n].shape)} "
                                 f"in the model, but {tuple(v.shape)} in the file (layer {name!r}).")
            out.append((leaf, n, v))
    return out


def set_legacy(triples):
    """Set each ``(leaf layer, weight name, array)`` of :func:`read_legacy` (checked already)."""
    for leaf, n, v in triples:
        param = leaf.params[n]
        param[...] = backend.get_array_module(param).asarray(v, dtype=param.dtype)
