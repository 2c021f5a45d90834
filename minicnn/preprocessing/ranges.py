"""ImageDataGenerator's random ranges: each option checked once, then drawn for a whole batch.

The spellings are Keras 2's: a rotation or shear range is a number of degrees, a shift range a
float (a fraction of the image size if below 1, else pixels), an int (whole pixels) or a list
of choices, and a zoom range a float z (meaning [1 - z, 1 + z]) or a pair [lower, upper].
"""
import numbers

import numpy as np


def check_range(value, name):
    """A non-negative finite number (rotation_range, shear_range, channel_shift_range).

    Raises:
        TypeError: if ``value`` is not a number; ValueError: if it is negative or not finite.
    """
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"ImageDataGenerator: {name} must be a number, got {value!r} ({type(value).__name__}).")
    if not np.isfinite(value) or value < 0:
        raise ValueError(f"ImageDataGenerator: {name} must be a finite number >= 0 (a range "
                         f"[-{name}, +{name}] is drawn from), got {value!r}.")
    return float(value)


def check_shift_range(value, name):
    """A shift range in one of Keras 2's spellings, returned as float, int or tuple of choices.

    - float: ``uniform(-value, value)``, times the image size if ``value < 1``;
    - int: whole pixels in ``(-value, value)`` (``2`` gives -1, 0 or +1);
    - 1-D list or array: one of its values, with a random sign (times the size if all are < 1).

    Raises:
        TypeError: for anything else; ValueError: for a negative number or an empty list.
    """
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"ImageDataGenerator: {name} must be a float, an int or a list of numbers, got {value!r}.")
    if isinstance(value, numbers.Integral):
        if value < 0:
            raise ValueError(f"ImageDataGenerator: {name} must be >= 0 (a symmetric range), got {value}.")
        return int(value)
    if isinstance(value, numbers.Real):
        return float(check_range(value, name))
    try:
        choices = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        choices = None
    if choices is None or choices.ndim != 1 or choices.size == 0 or not np.isfinite(choices).all():
        raise TypeError(f"ImageDataGenerator: {name} must be a float (a fraction of the image size "
                        f"if below 1, else pixels), an int (whole pixels) or a non-empty 1-D list of "
                        f"numbers, got {value!r}.")
    return tuple(choices.tolist())


def check_zoom_range(value):
    """Keras 2's zoom_range as ``(lower, upper)``: a number z means ``(1 - z, 1 + z)``.

    Raises:
        TypeError: if ``value`` is neither a number nor a pair of numbers.
        ValueError: if a bound is negative (z above 1) or lower > upper.
    """
    if isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_)):
        bounds = (1.0 - float(value), 1.0 + float(value))
        if value < 0:
            raise ValueError(f"ImageDataGenerator: zoom_range must be >= 0 (zooms in [1 - z, 1 + z] "
                             f"are drawn), got {value!r}.")
    elif (isinstance(value, (list, tuple, np.ndarray)) and len(value) == 2
          and all(isinstance(v, numbers.Real) and not isinstance(v, (bool, np.bool_)) for v in value)):
        bounds = (float(value[0]), float(value[1]))
    else:
        raise TypeError(f"ImageDataGenerator: zoom_range must be a float z (zooms in [1 - z, 1 + z]) "
                        f"or a pair [lower, upper], got {value!r}.")
    if not all(np.isfinite(bounds)) or bounds[0] < 0 or bounds[0] > bounds[1]:
        raise ValueError(f"ImageDataGenerator: zoom_range gives zooms in [{bounds[0]:g}, {bounds[1]:g}]; "
                         f"they must satisfy 0 <= lower <= upper (a float z must be at most 1).")
    return bounds


def draw_shift(rng, spec, n, size):
    """(n,) float64 shifts in pixels drawn from a checked shift range, for images ``size`` long."""
    if not spec:
        return np.zeros(n)
    if isinstance(spec, float):
        shift = rng.uniform(-spec, spec, n)
    else:
        choices = np.arange(spec) if isinstance(spec, int) else np.asarray(spec)
        shift = rng.choice(choices, n) * rng.choice([-1.0, 1.0], n)
    return shift * size if np.max(spec) < 1 else shift.astype(np.float64)


def draw_symmetric(rng, limit, n):
    """(n,) draws from ``uniform(-limit, limit)``, or zeros when ``limit`` is 0."""
    return rng.uniform(-limit, limit, n) if limit else np.zeros(n)
