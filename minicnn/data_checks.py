"""Validation of what users hand to fit/evaluate/predict, with errors that say how to fix it.

Integer and uint8 images are accepted and converted to float32 batch by batch (as Keras does),
so a (60000, 28, 28) uint8 array never needs a float copy of its own; they are not scaled.
"""
import numbers
import os
import sys
import warnings

import numpy as np

from minicnn.backend import is_cupy_array, to_numpy


def as_array(a, what):
    """``a`` as a numeric NumPy/CuPy array with at least one sample. Raises TypeError for None or
    non-numeric data (strings, objects), ValueError for an empty array or a 0-d value."""
    if a is None:
        raise TypeError(f"{what} is None; pass a NumPy array.")
    if not is_cupy_array(a):
        a = np.asarray(a)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{what} has dtype {a.dtype}, which is not numeric. Pass numbers (float32, or "
                        "integer/uint8 images, which are converted to float32).")
    if a.ndim == 0:
        raise ValueError(f"{what} is a single value; pass an array with a leading batch axis.")
    if a.shape[0] == 0:
        raise ValueError(f"{what} is empty (shape {a.shape}); pass at least one sample.")
    return a


def check_finite(a, what):
    """Raise ValueError if a float array holds NaN or inf, saying how many and where the first is.
    min and max show either without a temporary mask (47 MB for a (60000, 28, 28, 1) input)."""
    if a.dtype.kind != "f" or (bool(np.isfinite(a.min())) and bool(np.isfinite(a.max()))):
        return
    bad = ~np.isfinite(to_numpy(a))
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    raise ValueError(f"{what} contains {int(bad.sum())} NaN or infinite value(s), the first at index {first}. "
                     "Clean or impute the data before training (e.g. np.nan_to_num).")


def check_batch_size(batch_size, what="batch_size"):
    """``batch_size`` as an int; TypeError unless an integer, ValueError below 1 (``what``: its name)."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral):
        raise TypeError(f"{what} must be a positive integer, got {batch_size!r}.")
    if batch_size < 1:
        raise ValueError(f"{what} must be at least 1, got {batch_size}.")
    return int(batch_size)


def check_verbose(verbose):
    """fit/evaluate/predict's ``verbose`` as 0, 1 or 2: ``"auto"`` is 1, as in Keras 3 (its
    ProgbarLogger; Keras 2 chose 2 under a ParameterServerStrategy only), and True/False are 1/0.

    Raises:
        ValueError: for another string or number. TypeError: for another type.
    """
    if verbose == "auto":
        return 1
    if isinstance(verbose, (bool, numbers.Integral)) and verbose in (0, 1, 2):
        return int(verbose)
    message = (f"verbose must be 0 (silent), 1 (a progress bar), 2 (one line per epoch) or 'auto' (1), "
               f"got {verbose!r}.")
    raise (ValueError if isinstance(verbose, (str, numbers.Integral)) else TypeError)(message)


_PACKAGE = os.path.dirname(os.path.abspath(__file__)) + os.sep


def warn(message, category=UserWarning):
    """``warnings.warn`` pointed at the user's line: the first caller outside minicnn (Python 3.12's
    ``skip_file_prefixes``), however deep inside fit the warning arises."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def check_same_length(x, y, names=("x", "y")):
    """Raise ValueError unless inputs and targets have the same number of samples."""
    if x.shape[0] != y.shape[0]:
        (nx, ny), (n, m) = names, (x.shape[0], y.shape[0])
        raise ValueError(f"{nx} and {ny} have different numbers of samples: {nx} has {n} (shape {x.shape}) "
                         f"and {ny} has {m} (shape {y.shape}). Pass one target per input sample.")


def check_sample_shape(x, expected, what="x"):
    """Raise ValueError when x's per-sample shape is not the model's, naming the likely cause and fix."""
    got, expected = tuple(x.shape[1:]), tuple(expected)
    if got != expected:
        raise ValueError(f"{what} has per-sample shape {got} but the model expects {expected} (full input shape "
                         f"{(None, *expected)}; got {tuple(x.shape)}).{_shape_hint(x.shape, expected, what)}")


def _shape_hint(shape, expected, what):
    """The sentence that says how to turn data of ``shape`` into batches of ``expected``."""
    shape, squeezed = tuple(shape), tuple(d for d in expected if d != 1)
    size = int(np.prod(expected))
    full = ", ".join(map(str, expected))
    if shape == expected:
        return (f" It looks like a single sample with the batch axis missing: pass {what}[None] "
                f"(or np.expand_dims({what}, 0)) for a batch of one.")
    if 1 in expected and shape == squeezed:
        return (f" It looks like a single sample with the batch and channel axes missing: pass "
                f"{what}.reshape(1, {full}).")
    if len(expected) == 3 and shape[1:] == squeezed and 1 in expected:
        return f" Add the channel axis, e.g. {what}.reshape(-1, {full})."
    if len(expected) > 1 and shape[1:] == (size,):
        return f" The samples look flattened: reshape them, e.g. {what}.reshape(-1, {full})."
    if len(expected) == 1 and len(shape) > 2 and int(np.prod(shape[1:])) == size:
        return f" Flatten each sample, e.g. {what}.reshape(-1, {size}), or add Flatten() as the first layer."
    if len(expected) == 3 and sorted(shape[1:]) == sorted(expected):
        return (" The axes look permuted: check data_format (channels_last wants (rows, cols, channels))."
                " Transpose the data or build the model for this layout.")
    return ""


def check_validation_split(validation_split):
    if not isinstance(validation_split, numbers.Real) or not 0 <= validation_split < 1:
        raise ValueError(f"validation_split must be a fraction in [0, 1), got {validation_split!r}.")
    return float(validation_split)


def check_epochs(epochs, initial_epoch):
    """``(epochs, initial_epoch)`` as ints; TypeError/ValueError unless both are integers >= 0."""
    for what, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, numbers.Integral):
            raise TypeError(f"{what} must be a whole number of epochs, got {value!r} ({type(value).__name__}).")
        if value < 0:
            raise ValueError(f"{what} must be 0 or more, got {value}.")
    return int(epochs), int(initial_epoch)


# Layers that keep their input's shape, so the next layer still sees the model's input shape.
_SHAPE_KEEPING = ("Activation", "BatchNormalization", "Dropout", "ReLU", "LeakyReLU", "Softmax")


def check_image_layout(layers, input_shape):
    """Raise ValueError when an image ``input_shape`` obviously has its channel axis on the
    wrong side for the data format of the first convolution or pooling layer.

    "Obviously" means a 1 or 3 where that format puts a spatial axis, two sizes of at least
    8 elsewhere, and a window wider than 1 along the small axis: ``(1, 28, 28)`` for
    channels_last or ``(28, 28, 1)`` for channels_first. A one-row signal such as
    ``(1, 100, 16)`` with a (1, k) kernel is left alone.
    """
    shape = tuple(input_shape)
    if len(shape) != 3:
        return
    for layer in layers:
        window = getattr(layer, "kernel_size", None) or getattr(layer, "pool_size", None)
        data_format = getattr(layer, "data_format", None)
        if window is not None and data_format is not None:
            break
        if type(layer).__name__ not in _SHAPE_KEEPING:
            return
    else:
        return
    if data_format == "channels_last":
        small, big, window_along_small = shape[0], shape[1:], window[0]
        fixed, read_as = (*shape[1:], shape[0]), f"{shape[0]} row(s) by {shape[1]} columns with {shape[2]} channels"
    else:
        small, big, window_along_small = shape[2], shape[:2], window[1]
        fixed, read_as = (shape[2], *shape[:2]), f"{shape[0]} channels of {shape[1]} rows by {shape[2]} column(s)"
    if small in (1, 3) and min(big) >= 8 and window_along_small > 1:
        other, ordering = ("channels_first", "th") if data_format == "channels_last" else ("channels_last", "tf")
        raise ValueError(
            f"{layer.name}: input shape {shape} looks like it has the channel axis on the wrong side: "
            f"with data_format='{data_format}' it is read as {read_as}. Use input_shape={fixed} "
            f"(and move the data's channel axis to match, e.g. np.moveaxis(x, "
            f"{'1, -1' if data_format == 'channels_last' else '-1, 1'})), or pass "
            f"data_format='{other}' to the convolution and pooling layers (Keras 1: dim_ordering="
            f"'{ordering}', or K.set_image_dim_ordering('{ordering}') before building, with "
            "K = minicnn.backend).")


def sample_weights(sample_weight, class_weight, y, n):
    """Per-sample weights (n,) float64 (converted to the model's dtype by batch) from ``sample_weight`` (n,) and ``class_weight`` ({class: weight},
    the class of a sample being its one-hot argmax or its integer label), or None without either.

    Raises:
        ValueError: for weights of the wrong shape, negative or non-finite ones (in sample_weight or
        class_weight: a negative weight trains toward a loss without bound), or a class of the data
        that class_weight does not name (as Keras 2 does).
    """
    if sample_weight is None and class_weight is None:
        return None
    if isinstance(y, list):  # the targets of each output
        if class_weight is not None and len(y) > 1:
            raise ValueError("class_weight is for a model with one output; with several, weigh the samples with "
                             "sample_weight (one weight per sample, for every output).")
        y = y[0]
    if isinstance(sample_weight, (list, tuple, dict)) and not np.isscalar(sample_weight):
        if isinstance(sample_weight, dict) or any(hasattr(a, "shape") for a in sample_weight):
            raise ValueError("sample_weight must be one array of per-sample weights (n,), used for every output; "
                             "weights per output (a list or dict of arrays) are not supported.")
    w = np.ones(n)
    if sample_weight is not None:
        sw = np.asarray(to_numpy(sample_weight), dtype=np.float64)
        if sw.shape not in ((n,), (n, 1)):
            raise ValueError(f"sample_weight must have one weight per sample, shape ({n},); got shape {sw.shape}.")
        if not np.all(np.isfinite(sw)) or (sw < 0).any():
            raise ValueError("sample_weight must be finite and non-negative.")
        w *= sw.reshape(-1)
    if class_weight is not None:
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict {{class index: weight}}, got {type(class_weight).__name__}.")
        bad = {k: v for k, v in class_weight.items()
               if isinstance(v, bool) or not isinstance(v, numbers.Real) or not np.isfinite(v) or v < 0}
        if bad:
            raise ValueError(f"class_weight must give each class a finite, non-negative weight; got {bad}. A "
                             "negative weight trains that class toward a loss without bound: use 0 to ignore a class.")
        yh = to_numpy(y)
        labels = (yh.argmax(axis=-1) if yh.ndim > 1 and yh.shape[-1] > 1 else
                  np.rint(yh.reshape(-1) if yh.size == n else (yh.reshape(n, -1)[:, 0] > 0.5))).astype(int)
        missing = sorted(set(np.unique(labels).tolist()) - {int(k) for k in class_weight})
        if missing:
            raise ValueError(f"class_weight names no weight for the class(es) {missing} found in the targets; "
                             "give every class a weight, e.g. {0: 1.0, 1: 5.0}.")
        table = np.zeros(max(int(k) for k in class_weight) + 1)
        for k, v in class_weight.items():
            table[int(k)] = v
        w *= table[labels]
    return w

