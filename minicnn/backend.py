"""The one place that knows NumPy from CuPy, and the global image data format.

The backend setting decides only two things: where *new* arrays are created
(parameters) and where data is moved (``Sequential.to``). Inside ops, the array namespace
always comes from the arrays at hand (:func:`get_array_module`), so an op never asks this
module which backend is on; likewise a model moves its data batches to its weights' backend.

Nothing else in minicnn imports cupy.
"""
import os

import numpy as np

_BACKENDS = ("numpy", "cupy")
_state = {"backend": "numpy", "image_data_format": "channels_last"}


class BackendUnavailableError(RuntimeError):
    """Raised when the cupy backend is asked for but CuPy or a GPU is missing."""


def _import_cupy():
    """Import CuPy and check a GPU answers; raise BackendUnavailableError otherwise."""
    try:
        import cupy
    except ImportError as e:
        raise BackendUnavailableError(
            "The 'cupy' backend needs CuPy, which is not installed "
            f"({e}). Install the GPU extra that matches your CUDA version: "
            "pip install 'minicnn[cuda13]' (CUDA 13.x) or 'minicnn[cuda12]' (CUDA 12.x); "
            "`nvidia-smi` shows your driver's CUDA version."
        ) from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDARuntimeError has no stable import path across versions
        raise BackendUnavailableError(
            "The 'cupy' backend needs an NVIDIA GPU with a working driver, but CuPy could not "
            f"reach one ({type(e).__name__}: {e}). Check `nvidia-smi`, or use set_backend('numpy')."
        ) from None
    if count < 1:
        raise BackendUnavailableError(
            "The 'cupy' backend needs an NVIDIA GPU, but CuPy found none. Use set_backend('numpy')."
        )
    return cupy


def set_backend(name):
    """Choose where new arrays live: ``"numpy"`` (CPU) or ``"cupy"`` (NVIDIA GPU).

    Raises:
        ValueError: for an unknown name.
        BackendUnavailableError: for ``"cupy"`` when CuPy is not installed or no GPU answers.
    """
    if not isinstance(name, str) or name.lower() not in _BACKENDS:
        raise ValueError(f"Unknown backend {name!r}; valid backends are {list(_BACKENDS)}.")
    name = name.lower()
    if name == "cupy":
        cupy = _import_cupy()
        for hook in ON_CUPY:
            hook(cupy)
    _state["backend"] = name


ON_CUPY = []
"""Functions called with the cupy module whenever the cupy backend is chosen (minicnn.distributed
puts each MPI rank on its own GPU there)."""


def get_backend():
    """Return the name of the current backend, ``"numpy"`` or ``"cupy"``."""
    return _state["backend"]


def xp():
    """The array module new arrays are created with (numpy or cupy)."""
    return _import_cupy() if _state["backend"] == "cupy" else np


def is_cupy_array(a):
    """True for a CuPy ndarray, without importing CuPy."""
    return type(a).__module__.startswith("cupy")


def get_array_module(*arrays):
    """The namespace (numpy or cupy) of the given arrays: cupy if any of them is a CuPy array."""
    if any(is_cupy_array(a) for a in arrays):
        import cupy
        return cupy
    return np


def to_device(a, dtype=None):
    """Move an array to the current backend (no copy when it is already there)."""
    if _state["backend"] == "cupy":
        cupy = _import_cupy()
        return cupy.asarray(a, dtype=dtype)
    return to_numpy(a) if dtype is None else to_numpy(a).astype(dtype, copy=False)


def to_numpy(a):
    """Return a NumPy array on the host, whatever backend ``a`` lives on."""
    if is_cupy_array(a):
        return a.get()
    return np.asarray(a)


# -- image data format (Keras's global setting) ---------------------------------------------------

_FORMATS = ("channels_last", "channels_first")
_DIM_ORDERING = {"tf": "channels_last", "th": "channels_first"}


def image_data_format():
    """The default ``data_format`` of image layers: ``"channels_last"`` unless set otherwise."""
    return _state["image_data_format"]


def set_image_data_format(data_format):
    """Set the default ``data_format`` of image layers (``"channels_last"`` or ``"channels_first"``)."""
    if data_format not in _FORMATS:
        raise ValueError(f"Unknown data format {data_format!r}; valid values are {list(_FORMATS)}.")
    _state["image_data_format"] = data_format


def set_image_dim_ordering(dim_ordering):
    """Keras 1 spelling: ``"th"`` means channels_first, ``"tf"`` channels_last."""
    if dim_ordering not in _DIM_ORDERING:
        raise ValueError(f"Unknown dim ordering {dim_ordering!r}; valid values are 'th' and 'tf'.")
    set_image_data_format(_DIM_ORDERING[dim_ordering])


def image_dim_ordering():
    """Keras 1 spelling of :func:`image_data_format`: ``"th"`` or ``"tf"``."""
    return "th" if _state["image_data_format"] == "channels_first" else "tf"


def floatx():
    """The default float type of parameters and activations (``"float32"``)."""
    return "float32"


def fast_path():
    """Whether CPU work runs the tuned path (:mod:`minicnn.cpu`) rather than the plain ops."""
    return _state["fast_path"]


def set_fast_path(enabled):
    """Run the CPU's tuned path (True, the default) or the plain ops of :mod:`minicnn.nn` (False).

    Both compute the same results to float32 rounding; the plain path is the one to read and to
    debug against. ``MINICNN_FAST_PATH=0`` in the environment sets False at import. The GPU
    always runs the plain ops (with minicnn's CUDA kernels inside them).
    """
    if not isinstance(enabled, (bool, int)) or enabled not in (0, 1):
        raise TypeError(f"set_fast_path expects True or False, got {enabled!r}.")
    _state["fast_path"] = bool(enabled)


def _init_from_env():
    name = os.environ.get("MINICNN_BACKEND")
    if name:
        set_backend(name)
    flag = os.environ.get("MINICNN_FAST_PATH", "1").strip().lower()
    if flag not in ("0", "1", "false", "true", "no", "yes", "off", "on", ""):
        raise ValueError(f"MINICNN_FAST_PATH must be 0 or 1, got {flag!r}.")
    _state["fast_path"] = flag not in ("0", "false", "no", "off")


_init_from_env()


def clear_session(free_memory=True):
    """Reset automatic layer names, as Keras's ``keras.backend.clear_session`` does: the next
    ``Dense`` is named ``dense`` again.

    Args:
        free_memory: also run Python's garbage collector (Keras 3's default, True), so the arrays
            of models no longer referenced are freed now.
    """
    from minicnn.layers import base  # at call time: minicnn.layers imports this module
    base.clear_session()
    if free_memory:
        import gc
        gc.collect()


def synchronize():
    """Wait for queued GPU work to finish (for timing); a no-op on the NumPy backend."""
    if _state["backend"] == "cupy":
        _import_cupy().cuda.get_current_stream().synchronize()


def __getattr__(name):
    """Keras 1/2's backend functions (``K.sum``, ``K.square``, ``K.epsilon``...), from
    :mod:`minicnn.ops.backend_functions`, imported at first use (the ops import this module); for
    a name minicnn lacks, an AttributeError naming the closest and the planned."""
    if not name.startswith("_"):
        from minicnn.ops import backend_functions
        if name in backend_functions.__all__:
            return getattr(backend_functions, name)
    from minicnn.missing import attribute_error
    raise attribute_error("minicnn.backend", name, __dir__())


def __dir__():
    from minicnn.ops import backend_functions
    return sorted({n for n, v in globals().items() if not n.startswith("_") and callable(v)} |
                  set(backend_functions.__all__))
