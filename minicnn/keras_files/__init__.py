"""Keras's model files, both ways: the Keras 3 archive (``.keras``), Keras 3's weights file
(``.weights.h5``) and the legacy HDF5 file (``.h5``/``.hdf5``, Keras 2's), for Sequential and
functional models.

- :mod:`.layer_config`, :mod:`.model_config`, :mod:`.training_config`: configs between minicnn's
  spelling and Keras's, checked on the way in;
- :mod:`.weights`: the two HDF5 weight layouts; :mod:`.weight_paths`: where Keras 3 puts each
  layer's variables (a custom layer's sublayers, a subclassed model's attributes);
- :mod:`.hdf5_checks`: every file read is first checked to point nowhere outside itself;
- :mod:`.keras3`, :mod:`.legacy_h5`: the files themselves.

h5py is optional (``pip install 'minicnn[h5]'``): it is imported here, at first use, so that
``import minicnn`` and the ``.npz`` files work without it.
"""
import io
import os

KERAS_SUFFIX = ".keras"
HDF5_SUFFIXES = (".h5", ".hdf5")
SUFFIXES = (KERAS_SUFFIX, *HDF5_SUFFIXES)


def kind(filepath):
    """``"keras"``, ``"weights"`` (``.weights.h5``), ``"h5"`` (legacy) or None for other names."""
    name = os.fspath(filepath).lower()
    if name.endswith(KERAS_SUFFIX):
        return "keras"
    if name.endswith(".weights.h5"):
        return "weights"
    if name.endswith(HDF5_SUFFIXES):
        return "h5"
    return None


def require_h5py(filepath, what):
    """The h5py module; ImportError saying how to install it when it is missing."""
    try:
        import h5py
    except ImportError:
        name = os.fspath(filepath)
        raise ImportError(f"{what}: {name!r} is a Keras file ({os.path.splitext(name)[1]}), "
                          "which needs h5py: pip install 'minicnn[h5]'. Or use a .npz name for minicnn's own "
                          "format. Nothing was written or read.") from None
    return h5py


def save_model(model, filepath, overwrite=True, include_optimizer=True):
    """Write ``model`` as a ``.keras`` archive or a legacy ``.h5`` file, by the name's suffix, atomically.

    Raises:
        ImportError: without h5py. ValueError: for what Keras files cannot hold (nothing is written).
    """
    from minicnn import saving
    h5py = require_h5py(filepath, "save")
    model._ensure_built()
    if kind(filepath) == "keras":
        from minicnn.keras_files import keras3
        data = keras3.archive_bytes(h5py, model, include_optimizer)
    else:
        from minicnn.keras_files import legacy_h5
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            legacy_h5.write(h5, model, include_optimizer)
        data = buffer.getvalue()
    saving.atomic_write(filepath, lambda f: f.write(data), overwrite)


def save_weights(model, filepath, overwrite=True):
    """Write the weights: Keras 3's layout for ``.weights.h5``, the legacy layout for other ``.h5`` names."""
    from minicnn import saving
    h5py = require_h5py(filepath, "save_weights")
    model._ensure_built()
    if kind(filepath) == "weights":
        from minicnn.keras_files import keras3
        data = keras3.weights_file_bytes(h5py, model)
    elif kind(filepath) == "keras":
        raise ValueError(f"save_weights: {os.fspath(filepath)!r} names a whole-model archive; use model.save for "
                         "a .keras file, or a .weights.h5 name for the weights.")
    else:
        from minicnn.keras_files import weights
        buffer = io.BytesIO()
        with h5py.File(buffer, "w") as h5:
            weights.write_legacy(h5, model.layers)
        data = buffer.getvalue()
    saving.atomic_write(filepath, lambda f: f.write(data), overwrite)


def _check_exists(filepath):
    if not os.path.exists(filepath):
        raise FileNotFoundError(f"No model file at {filepath}.")


def _magic(filepath):
    with open(filepath, "rb") as f:
        return f.read(8)


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """A model from a Keras file (``.keras`` archive or legacy HDF5), by its contents, not its name.
    ``safe_mode`` (Keras 3's) changes nothing: code stored in a file (a Lambda's bytecode) is never run,
    whatever it says; such a function comes from ``custom_objects`` by its name.

    Raises:
        FileNotFoundError, ImportError (no h5py), ValueError (foreign, damaged or hostile file, or
        what minicnn lacks), each naming the file.
    """
    filepath = os.fspath(filepath)
    _check_exists(filepath)
    h5py = require_h5py(filepath, "load_model")
    magic = _magic(filepath)
    if magic.startswith(b"PK"):
        from minicnn.keras_files import keras3
        return keras3.load_model(h5py, filepath, custom_objects, compile)
    if magic.startswith(b"\x89HDF"):
        from minicnn.keras_files import keras3, legacy_h5
        with keras3.open_weights(h5py, filepath, filepath, "the file") as h5:
            return legacy_h5.read_model(h5, filepath, custom_objects, compile)
    raise ValueError(f"{filepath} is neither a .keras archive (zip) nor an HDF5 file: it starts with {magic[:4]!r}; "
                     "it may be truncated or not a model file.")


def load_weights(model, filepath):
    """Set ``model``'s weights from a Keras weights file (Keras 3's or legacy), or from a
    ``.keras``/legacy ``.h5`` model file's weights.

    Raises:
        ValueError: naming the file, for a damaged file or weights that do not fit the model.
    """
    filepath = os.fspath(filepath)
    _check_exists(filepath)
    h5py = require_h5py(filepath, "load_weights")
    from minicnn import distributed
    from minicnn.keras_files import keras3, legacy_h5
    model._ensure_built()
    magic = _magic(filepath)
    if magic.startswith(b"PK"):
        _, data = keras3.read_archive(filepath)
        with keras3.open_weights(h5py, data, filepath) as h5:
            keras3.load_weights(h5, model, filepath)
    elif magic.startswith(b"\x89HDF"):
        with keras3.open_weights(h5py, filepath, filepath, "the file") as h5:
            if "layer_names" in h5.attrs or "model_weights" in h5:
                legacy_h5.read_weights(h5, model, filepath)
            elif "layers" in h5 or "vars" in h5:
                keras3.load_weights(h5, model, filepath)
            else:
                raise ValueError(f"{filepath} is an HDF5 file without Keras weights (no layers or model_weights "
                                 f"groups; it holds {sorted(h5.keys())[:5]}).")
    else:
        raise ValueError(f"{filepath} is not a Keras weights file (HDF5) or archive: it starts with {magic[:4]!r}.")
    distributed.sync_model(model)
