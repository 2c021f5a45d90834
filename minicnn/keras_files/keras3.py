"""Keras 3's files: the ``.keras`` archive and the ``.weights.h5`` weights file.

A ``.keras`` file is a zip holding ``config.json`` (the model in Keras 3's serialisation format,
with its ``compile_config``), ``metadata.json`` and ``model.weights.h5``
(:mod:`minicnn.keras_files.weights`). Reading never imports or runs anything a file names: the
config is JSON, the weights are arrays, and every class comes from minicnn or the caller.
"""
import datetime
import io
import json
import zipfile

from minicnn import distributed
from minicnn.keras_files import hdf5_checks, model_config, training_config, weights

# The Keras release whose layout these files follow (written into metadata.json, as Keras does).
KERAS_LAYOUT_VERSION = "3.15.1"
# A config.json or weights file past these sizes (uncompressed) is refused unread: a zip bomb.
MAX_CONFIG_BYTES = 64 << 20
MAX_WEIGHTS_BYTES = 16 << 30


def _optimizer_values(model, include_optimizer):
    if not include_optimizer or not model.compiled:
        return None
    n_params = len(model.trainable_weights)
    return training_config.optimizer_variables(model.optimizer, n_params)


def _weights_bytes(h5py, model, tree, include_optimizer):
    buffer = io.BytesIO()
    with h5py.File(buffer, "w") as h5:
        weights.write_keras3(h5, tree, _optimizer_values(model, include_optimizer), model.name,
                             model.optimizer.name if model.compiled else "optimizer")
    return buffer.getvalue()


def archive_bytes(h5py, model, include_optimizer=True):
    """The bytes of a ``.keras`` file for ``model``.

    Raises:
        ValueError: for what Keras 3 files cannot hold (Keras 2's optimizer decay, dict inputs).
    """
    entry, tree = model_config.model_to_keras(model)
    compile_config = training_config.compile_to_keras(model) if model.compiled else None
    if compile_config is not None:
        entry["compile_config"] = compile_config
    from minicnn import __version__
    metadata = {"keras_version": KERAS_LAYOUT_VERSION,
                "date_saved": datetime.datetime.now().strftime("%Y-%m-%d@%H:%M:%S"),
                "written_by": f"minicnn {__version__}"}
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("metadata.json", json.dumps(metadata))
        zf.writestr("config.json", json.dumps(entry))
        zf.writestr("model.weights.h5", _weights_bytes(h5py, model, tree, include_optimizer))
    return buffer.getvalue()


def weights_file_bytes(h5py, model):
    """The bytes of a ``.weights.h5`` file (Keras 3's ``save_weights``), optimizer included when compiled;
    a subclassed model's weights under its attributes' names, as Keras writes them."""
    return _weights_bytes(h5py, model, model, include_optimizer=True)


def _member(zf, name, limit, path):
    info = zf.getinfo(name)
    if info.file_size > limit:
        raise ValueError(f"{path}: its {name} would unpack to {info.file_size} bytes (over {limit}); refused unread.")
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, EOFError, OSError, ValueError, NotImplementedError) as e:
        raise ValueError(f"{path}: its {name} cannot be read; the archive is truncated or corrupt "
                         f"({type(e).__name__}: {e}).") from None


def read_archive(path):
    """``(config dict, weights bytes)`` of a ``.keras`` file.

    Raises:
        ValueError: for a file that is not a readable Keras 3 archive, naming what is wrong.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if "config.json" not in names:
                raise ValueError(f"{path} is a zip archive but not a Keras model file: it has no config.json "
                                 f"(it holds {sorted(names)[:5]}).")
            if "model.weights.h5" not in names:
                raise ValueError(f"{path}: the archive has no model.weights.h5 (it holds {sorted(names)[:5]}); "
                                 "minicnn reads Keras 3 archives with HDF5 weights.")
            config_bytes = _member(zf, "config.json", MAX_CONFIG_BYTES, path)
            weights_bytes = _member(zf, "model.weights.h5", MAX_WEIGHTS_BYTES, path)
    except zipfile.BadZipFile as e:
        raise ValueError(f"{path} is not a readable .keras archive; it may be truncated or corrupt ({e}).") from None
    try:
        config = json.loads(config_bytes)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"{path}: its config.json is not valid JSON ({e}).") from None
    return config, weights_bytes


def open_weights(h5py, data, path, what="model.weights.h5"):
    """An open h5py file on ``data`` (bytes or a path), checked to hold nothing that points outside it
    (:func:`minicnn.keras_files.hdf5_checks.check_file`).

    Raises:
        ValueError: naming ``path``, for an unreadable file or one with links or data outside itself.
    """
    try:
        h5 = h5py.File(io.BytesIO(data) if isinstance(data, bytes) else data, "r")
    except (OSError, ValueError) as e:
        raise ValueError(f"{path}: {what} is not a readable HDF5 file; it may be truncated or corrupt ({e}).") from None
    try:
        hdf5_checks.check_file(h5, path if what == "the file" else f"{path} ({what})")
    except BaseException:
        h5.close()
        raise
    return h5


def load_model(h5py, path, custom_objects=None, compile=True):
    """The model of a ``.keras`` file, weights and (with ``compile``) compile settings and optimizer state.

    Raises:
        ValueError: for a foreign, damaged or hostile file, or a layer or option minicnn lacks.
    """
    config, data = read_archive(path)
    model, tree = model_config.model_from_keras(config, custom_objects, path)
    with open_weights(h5py, data, path) as h5:
        pairs = weights.read_keras3(h5, tree, path, model.name)
        opt_values = weights.read_optimizer_keras3(h5, path)
    weights.set_all(pairs)
    cconf = config.get("compile_config")
    if compile and cconf:
        _compile(model, cconf, path, custom_objects)
        if opt_values:
            training_config.set_optimizer_variables(model.optimizer, opt_values, len(model.trainable_weights), path)
    distributed.sync_model(model)
    return model


def _compile(model, cconf, path, custom_objects=None):
    """Compile ``model`` as Keras's compile settings ``cconf`` say; the user's losses and metrics come from
    ``custom_objects``."""
    opt, loss, metrics, loss_weights = training_config.compile_from_keras(cconf, path, custom_objects)
    try:
        model.compile(optimizer=opt, loss=loss, metrics=metrics, loss_weights=loss_weights)
    except (TypeError, ValueError) as e:
        raise ValueError(f"{path}: the saved compile settings cannot be used in minicnn ({e}); a loss or metric "
                         "of your own comes from custom_objects (load_model(path, custom_objects={'name': "
                         "function})), and load_model(..., compile=False) loads the model without them.") from None


def load_weights(h5, model, path):
    """Set ``model``'s weights from an open Keras 3 weights file (optimizer state too when compiled)."""
    pairs = weights.read_keras3(h5, model, path, model.name)
    opt_values = weights.read_optimizer_keras3(h5, path)
    weights.set_all(pairs)
    if model.compiled and opt_values:
        training_config.set_optimizer_variables(model.optimizer, opt_values, len(model.trainable_weights), path)
