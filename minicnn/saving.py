"""Saving and loading models: one ``.npz`` file holding a JSON config, the weights and the
optimizer state. No pickle, so loading a file never runs code.

Layout of the archive::

    minicnn_format      0-d int: FORMAT_VERSION
    config              0-d str: JSON {"model": {"class_name": "Sequential" or "Functional", "config":
                        model.get_config()}, "compile": {...} or null}
    layer_<i>_<j>       weight j of layer i, in Keras's order; layers counted as model._leaf_layers()
                        lists them (a shared layer once, a nested model's layers in its place)
    optimizer_<k>       optimizer state array k (only with include_optimizer)

Format 1 (minicnn before the functional API) held a Sequential's config as "model"; it still loads.

Keras's names go to Keras's formats instead (:mod:`minicnn.keras_files`, with h5py): ``.keras``
the Keras 3 archive, ``.weights.h5`` Keras 3's weights file, other ``.h5``/``.hdf5`` the legacy
HDF5 file; loading tells them by their first bytes.

Writes go to a temporary file in the target folder and are renamed into place, so a crash
mid-save never leaves a broken file where a good one was.
"""
import json
import os
import re
import tempfile

import numpy as np

from minicnn import backend, distributed, losses, metrics, optimizers
from minicnn.serialization import get_registered_name, register_keras_serializable  # noqa: F401  (keras.saving's)

FORMAT_VERSION = 2
READABLE_VERSIONS = (1, 2)


def _umask():
    """The process's file-creation mask (reading it means setting it, so it is set straight back)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_write(filepath, write, overwrite=True):
    """Call ``write(fileobj)`` on a temporary file beside ``filepath``, then rename it into place.
    Under MPI only rank 0 writes, and every rank waits until the file is there.

    Raises:
        FileExistsError: if the file exists and ``overwrite`` is False.
    """
    if distributed.is_main():
        _write_atomically(os.fspath(filepath), write, overwrite)
    distributed.barrier()


def _write_atomically(filepath, write, overwrite):
    if not overwrite and os.path.exists(filepath):
        raise FileExistsError(f"{filepath} exists; pass overwrite=True to replace it.")
    folder = os.path.dirname(os.path.abspath(filepath))
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".tmp-" + os.path.basename(filepath) + "-")
    try:
        with os.fdopen(fd, "wb") as f:
            # mkstemp makes the file private (0600); give it the mode the file it replaces had,
            # or the one a plain open() would give.
            os.fchmod(fd, os.stat(filepath).st_mode & 0o777 if os.path.exists(filepath) else 0o666 & ~_umask())
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        os.unlink(tmp)
        raise


# Names that mean one of Keras's formats (minicnn.keras_files), which need h5py.
FOREIGN_SUFFIXES = (".h5", ".hdf5", ".keras")


def is_keras_name(filepath):
    """Whether ``filepath`` names a Keras file (``.keras``, ``.h5``, ``.hdf5``) rather than a ``.npz``."""
    return os.fspath(filepath).lower().endswith(FOREIGN_SUFFIXES)


def check_file_name(filepath, what="save"):
    """Check, before anything is written, that ``filepath`` can be written: a Keras name
    (``.keras``, ``.h5``, ``.hdf5``) needs h5py.

    Raises:
        ImportError: for a Keras name where h5py is missing, saying ``pip install 'minicnn[h5]'``.
    """
    if is_keras_name(filepath):
        from minicnn import keras_files
        keras_files.require_h5py(filepath, what)


def _custom(value, custom_objects):
    """A saved loss or metric (a name, or lists and dicts of them) with the names of the user's own
    functions and classes in ``custom_objects`` replaced by them."""
    if isinstance(value, str):
        return (custom_objects or {}).get(value, value)
    if isinstance(value, list):
        return [_custom(v, custom_objects) for v in value]
    if isinstance(value, dict) and "class_name" not in value:
        return {k: _custom(v, custom_objects) for k, v in value.items()}
    return value


def _compile_config(model):
    if not model.compiled:
        return None
    objectives = model._objectives
    loss = [None if l is None else losses.serialize(l) for l in objectives.losses]
    per_output = [[metrics.serialize(m.name, m.fn) for m in objectives.metrics if m.output == k]
                  for k in range(len(loss))]
    single = len(loss) == 1
    return {"optimizer": {"class_name": type(model.optimizer).__name__, "config": model.optimizer.get_config()},
            "loss": loss[0] if single else loss,
            "loss_weights": objectives.loss_weights[0] if single else objectives.loss_weights,
            "metrics": per_output[0] if single else per_output}


def _model_config(model):
    from minicnn.serialization import serialize_layer
    entry = serialize_layer(model)
    return {"class_name": entry["class_name"], "config": entry["config"]}


def _weight_arrays(model):
    """Each leaf layer's own weights (a custom layer's sublayers are leaves of their own)."""
    return {f"layer_{i}_{j}": backend.to_numpy(w).copy() for i, layer in enumerate(model._leaf_layers())
            for j, w in enumerate(layer.params.values())}


def model_arrays(model, include_optimizer=True, extra=None):
    """The entries of a model file (see the layout above); ``extra``, a JSON-serialisable dict,
    goes into the config under ``"extra"`` (BackupAndRestore keeps its epoch there)."""
    model._ensure_built()
    arrays = _weight_arrays(model)
    compile_config = _compile_config(model)
    if include_optimizer and compile_config is not None:
        for k, a in enumerate(model.optimizer.get_state()):
            arrays[f"optimizer_{k}"] = backend.to_numpy(a)
    config = {"model": _model_config(model), "compile": compile_config, **({"extra": extra} if extra else {})}
    arrays["minicnn_format"] = np.array(FORMAT_VERSION)
    arrays["config"] = np.array(json.dumps(config))
    return arrays


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write architecture, weights and (optionally) optimizer state of ``model`` to ``filepath``.

    A ``.keras`` name writes a Keras 3 archive, a ``.h5``/``.hdf5`` name the legacy Keras HDF5
    file (:mod:`minicnn.keras_files`); any other name minicnn's ``.npz``.

    Raises:
        ImportError: for a Keras name without h5py (nothing is written).
        ValueError: for what a Keras file cannot hold (nothing is written).
        NotImplementedError: for a subclassed model, in every format (its architecture is code).
    """
    if model._subclassed:
        model.get_config()  # raises, saying to save the weights instead
    if is_keras_name(filepath):
        from minicnn import keras_files
        return keras_files.save_model(model, filepath, overwrite, include_optimizer)
    arrays = model_arrays(model, include_optimizer)
    atomic_write(filepath, lambda f: np.savez(f, **arrays), overwrite)


def save_weights(model, filepath, overwrite=True):
    """Write only the weights (and the config, to check the architecture on load). A
    ``.weights.h5`` name writes Keras 3's weights file, another ``.h5``/``.hdf5`` name the legacy one.

    Raises:
        ImportError: for a Keras name without h5py (nothing is written).
    """
    if is_keras_name(filepath):
        from minicnn import keras_files
        return keras_files.save_weights(model, filepath, overwrite)
    model._ensure_built()
    arrays = _weight_arrays(model)
    arrays["minicnn_format"] = np.array(FORMAT_VERSION)
    arrays["config"] = np.array(json.dumps({"model": _layer_classes(model), "compile": None}))
    atomic_write(filepath, lambda f: np.savez(f, **arrays), overwrite)


def _layer_classes(model):
    """What a weights file records of the architecture, to check it on load: the model's config, or,
    for a subclassed model (whose architecture is code), its layers' classes."""
    if model._subclassed:
        return {"layers": [{"class_name": type(layer).__name__} for layer in model.layers]}
    return _model_config(model)


def _read(filepath):
    """(config dict, arrays dict) of a minicnn file; ValueError naming the file otherwise."""
    filepath = os.fspath(filepath)
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at {filepath}.")
    try:
        with open(filepath, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise ValueError(f"{filepath} cannot be read as a minicnn model file ({type(e).__name__}: {e}).") from None
    # Anything but a zip would make np.load try a .npy or a pickle: refuse it before that.
    if magic == b"\x89HDF":
        raise ValueError(f"{filepath} is an HDF5 file (a Keras .h5 model or weights file?), not a minicnn .npz "
                         "archive; load_model and load_weights read it through minicnn.keras_files.")
    if magic not in (b"PK\x03\x04", b"PK\x05\x06"):
        raise ValueError(
            f"{filepath} is not a minicnn model file: expected a .npz (zip) archive written by "
            f"model.save or save_weights, but the file starts with {magic!r}.")
    try:
        with np.load(filepath, allow_pickle=False) as data:
            arrays = {k: data[k] for k in data.files}
    except Exception as e:  # a damaged archive fails in many ways (BadZipFile, NotImplementedError, ...)
        if "allow_pickle" in str(e):
            raise ValueError(
                f"{filepath} holds a pickled Python object, which a minicnn model file never does; it is "
                "refused unread, because unpickling can run arbitrary code.") from None
        raise ValueError(
            f"{filepath} is not a readable minicnn model file (a .npz archive written by model.save or "
            f"save_weights); it may be truncated or corrupt ({type(e).__name__}: {e}).") from None
    if "minicnn_format" not in arrays or "config" not in arrays:
        raise ValueError(
            f"{filepath} is a .npz archive but not a minicnn model file (it lacks the 'minicnn_format' "
            f"and 'config' entries; it holds {sorted(arrays)[:5]}).")
    marker = arrays.pop("minicnn_format")
    version = int(marker) if marker.ndim == 0 and marker.dtype.kind in "iu" else repr(marker.tolist())
    if version not in READABLE_VERSIONS:
        raise ValueError(
            f"{filepath} uses minicnn file format {version}, but this minicnn reads format "
            f"{FORMAT_VERSION} (and the older 1). Load it with the minicnn version that wrote it and re-save.")
    try:
        config = json.loads(str(arrays.pop("config")))
    except json.JSONDecodeError as e:
        raise ValueError(f"{filepath}: the model config is not valid JSON ({e}).") from None
    if not isinstance(config, dict) or not isinstance(config.get("model"), dict):
        raise ValueError(f"{filepath}: the model config is not a minicnn model description "
                         "(expected a JSON object with a 'model' entry).")
    return config, arrays


def _model_from_config(mconf, filepath, custom_objects=None):
    """The model of a file's config: format 2's {"class_name", "config"}, or format 1's Sequential config."""
    from minicnn.models import Sequential
    from minicnn.serialization import deserialize_layer
    try:
        if "class_name" in mconf:
            return deserialize_layer(mconf, custom_objects)
        return Sequential.from_config(mconf, custom_objects)
    except (KeyError, TypeError, ValueError, IndexError) as e:
        raise ValueError(f"{filepath}: the model config is incomplete or invalid ({type(e).__name__}: {e}).") from None


def _class_names(mconf):
    """The layer classes a file's model config lists (to check load_weights against a model)."""
    config = mconf.get("config", mconf) if "class_name" in mconf else mconf
    return [e.get("class_name") for e in config.get("layers", []) if e.get("class_name") != "InputLayer"]


def _set_layer_weights(model, arrays, filepath):
    """Check every layer's arrays against the model, then set them all: never half a model."""
    leaves = model._leaf_layers()
    indexes = [int(k.split("_")[1]) for k in arrays if re.fullmatch(r"layer_\d+_\d+", k)]
    if indexes and max(indexes) >= len(leaves):
        raise ValueError(
            f"{filepath} holds weights for {1 + max(indexes)} layers, but this model has {len(leaves)}.")
    weights = []
    for i, layer in enumerate(leaves):
        n = len(layer.params)
        keys = [f"layer_{i}_{j}" for j in range(n)]
        missing = [k for k in keys if k not in arrays]
        if missing:
            raise ValueError(f"{filepath}: weights for layer {i} ({layer.name}) are missing ({missing}).")
        if f"layer_{i}_{n}" in arrays:
            raise ValueError(
                f"{filepath} does not match this model's architecture: it holds more than {n} weight "
                f"arrays for layer {i} ({layer.name}: {', '.join(layer.params) or 'no weights'}).")
        for name, key in zip(layer.params, keys):
            if arrays[key].shape != layer.params[name].shape:
                raise ValueError(
                    f"{filepath} does not match this model's architecture: {layer.name}: weight "
                    f"'{name}' has shape {layer.params[name].shape}, the file's has shape {arrays[key].shape}.")
        weights.append([arrays[k] for k in keys])
    for layer, layer_weights in zip(leaves, weights):
        for param, w in zip(layer.params.values(), layer_weights):  # its own weights (sublayers are leaves too)
            param[...] = backend.get_array_module(param).asarray(w, dtype=param.dtype)


def _is_keras_file(filepath):
    """A Keras file: by its name (``.keras``, ``.h5``, ``.hdf5``), or by its first bytes (HDF5, or a
    zip holding config.json, which a .npz never has)."""
    import zipfile
    filepath = os.fspath(filepath)
    if is_keras_name(filepath):
        return True
    if not os.path.isfile(filepath):
        return False
    with open(filepath, "rb") as f:
        magic = f.read(4)
    if magic == b"\x89HDF":
        return True
    try:
        with zipfile.ZipFile(filepath) as zf:
            return "config.json" in zf.namelist()
    except (zipfile.BadZipFile, OSError, EOFError, NotImplementedError, ValueError):
        return False  # not a readable zip (a damaged .npz among them): _read says what is wrong


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Rebuild the model (Sequential or functional) from a file written by :func:`save_model`, or
    from a Keras file (``.keras`` archive or legacy ``.h5``, written by Keras or minicnn).
    ``safe_mode`` (Keras 3's) changes nothing: minicnn never runs code stored in a file.

    Raises:
        FileNotFoundError: when the file is missing.
        ValueError: for a truncated, corrupt, foreign or other-version file, or a layer class that
            is not known (pass it in ``custom_objects``).
    """
    if _is_keras_file(filepath):
        from minicnn import keras_files
        return keras_files.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)
    config, arrays = _read(filepath)
    model = _model_from_config(config.get("model") or {}, filepath, custom_objects)
    model._ensure_built()
    _set_layer_weights(model, arrays, filepath)
    cconf = config.get("compile")
    if compile and cconf:
        try:
            opt = optimizers.get({"class_name": cconf["optimizer"]["class_name"],
                                  "config": cconf["optimizer"]["config"]})
            model.compile(optimizer=opt, loss=_custom(cconf["loss"], custom_objects),
                          metrics=_custom(cconf["metrics"], custom_objects), loss_weights=cconf.get("loss_weights"))
            state = [arrays[f"optimizer_{k}"] for k in range(sum(1 for a in arrays if a.startswith("optimizer_")))]
            if state:
                opt.set_state(state)
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"{filepath}: the saved compile settings or optimizer state are invalid "
                             f"({type(e).__name__}: {e}); load_model(..., compile=False) skips them.") from None
    distributed.sync_model(model)  # under MPI, every rank continues from rank 0's copy
    return model


def restore_state(model, filepath):
    """Set the weights and the optimizer state of the compiled ``model`` (same architecture and
    optimizer class) from a file of :func:`model_arrays`; returns the config's ``"extra"`` dict.

    Raises:
        ValueError: when the file is not a minicnn file, or the architecture or optimizer differs.
    """
    config, arrays = _read(filepath)
    saved = ((config.get("compile") or {}).get("optimizer") or {}).get("class_name")
    if saved != type(model.optimizer).__name__:
        raise ValueError(f"{filepath} holds the state of a {saved} optimizer, but the model is compiled with "
                         f"{type(model.optimizer).__name__}: compile it as it was when the file was written.")
    model._ensure_built()
    _set_layer_weights(model, arrays, filepath)
    state = [arrays[f"optimizer_{k}"] for k in range(sum(1 for a in arrays if a.startswith("optimizer_")))]
    model.optimizer.set_state(state)
    return config.get("extra") or {}


def load_weights(model, filepath):
    """Load the weights in ``filepath`` into ``model`` (same architecture): a minicnn ``.npz``, or
    a Keras weights or model file (:mod:`minicnn.keras_files`).

    Raises:
        ValueError: when the file is not a model or weights file or the architecture differs.
    """
    if _is_keras_file(filepath):
        from minicnn import keras_files
        return keras_files.load_weights(model, filepath)
    config, arrays = _read(filepath)
    saved = _class_names(config.get("model") or {})
    ours = _class_names(_layer_classes(model)) if model.built else [type(l).__name__ for l in model.layers]
    if saved != ours:
        raise ValueError(
            f"{filepath} holds weights of a model with layers {saved}, but this model has {ours}.")
    model._ensure_built()
    _set_layer_weights(model, arrays, filepath)
    distributed.sync_model(model)
