"""Keras 3's preprocessing layers for images: Rescaling, and the random augmentations RandomFlip,
RandomRotation, RandomTranslation, RandomZoom and RandomContrast (thin layers over
:mod:`minicnn.nn.augment`).

Rescaling acts always. The random layers act only in training (``fit``, ``train_on_batch``,
``model(x, training=True)``, ``layer(x, training=True)``) and are the identity otherwise, so
``predict`` and ``evaluate`` see the images as they are. (Keras 3 also applies them on a direct
call without ``training``, ``layer(x)`` or ``model(x)``, its layers' default being True; in
minicnn every call defaults to inference, so pass ``training=True`` to look at augmented images.)

Each random layer draws one set of parameters per image of the batch, on the host from minicnn's
seeded generator (or from its own, given ``seed``), and transforms the whole batch at once on the
batch's array module (NumPy or CuPy), with no loop over images or pixels.

Their backward passes the gradient on exactly (the adjoint of the transform the forward drew),
which a model needs only where one of them follows a layer with weights.
"""
import numbers

import numpy as np

from minicnn import random as mrandom
from minicnn.backend import get_array_module, image_data_format
from minicnn.layers.base import Layer, normalize_data_format
from minicnn.nn.augment import (FILL_MODES, INTERPOLATIONS, affine_backward, affine_forward, affine_matrices,
                                 contrast_backward, contrast_forward, flip_backward, flip_forward)


def _number(value, what, layer):
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or not np.isfinite(value):
        raise TypeError(f"{layer}: {what} must be a finite number, got {value!r}.")
    return float(value)


def _factor(value, what, layer, low, high, low_open=False):
    """Keras 3's factor spelling: a number f gives the range (-|f|, |f|), a pair [a, b] the range
    [min, max] of the two; every number must lie in [low, high] (low excluded if ``low_open``)."""
    where = f"({low}, {high}]" if low_open else f"[{low}, {high}]"
    pair = isinstance(value, (list, tuple))
    items = list(value) if pair else [value]
    if (pair and len(items) != 2) or any(isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real)
                                         for v in items):
        raise TypeError(f"{layer}: {what} must be a number or a pair of numbers in {where}, got {value!r}.")
    if any(not (low < v if low_open else low <= v) or not v <= high for v in items):
        raise ValueError(f"{layer}: {what} must be a number or a pair of numbers in {where}, got {value!r}.")
    return tuple(sorted(float(v) for v in items)) if pair else (-abs(float(value)), abs(float(value)))


class _RandomImageLayer(Layer):
    """What the random layers share: the seed, the data format, images only, identity at inference.

    Subclasses define ``_draw(rng, N, H, W)`` (host parameters), ``_apply(x, params)`` on
    channels-last images, returning ``(y, cache)``, and ``_apply_backward(dy, cache)``.
    """

    def __init__(self, seed=None, data_format=None, **kwargs):
        super().__init__(**kwargs)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
            raise TypeError(f"{self.name}: seed must be a non-negative integer or None, got {seed!r}.")
        if seed is not None and seed < 0:
            raise ValueError(f"{self.name}: seed must be a non-negative integer or None, got {seed!r}.")
        self.seed = None if seed is None else int(seed)
        self.data_format = normalize_data_format(data_format, self.name)
        # Keras 3 gives a seeded layer its own generator; an unseeded one draws from minicnn's
        # (minicnn.utils.set_random_seed), as dropout does.
        self._rng = None if seed is None else np.random.default_rng(self.seed)

    def compute_output_shape(self, input_shape):
        if len(input_shape) != 3:
            raise ValueError(f"{self.name}: {type(self).__name__} takes batches of images, (N, H, W, C) or, "
                             f"channels first, (N, C, H, W); got per-sample shape {tuple(input_shape)}.")
        return tuple(input_shape)

    def forward(self, x, training=False):
        """In training, the transformed batch and the cache its backward needs; otherwise x
        itself (as the layer's dtype) and None."""
        x = get_array_module(x).asarray(x, dtype=self.dtype)
        if not training:
            return x, None
        last = x if self.data_format == "channels_last" else x.transpose(0, 2, 3, 1)
        N, H, W, _ = last.shape
        rng = self._rng if self._rng is not None else mrandom.local_generator()
        y, cache = self._apply(last, self._draw(rng, N, H, W))
        return (y if self.data_format == "channels_last" else y.transpose(0, 3, 1, 2)), cache

    def backward(self, dy, cache):
        if cache is None:
            return dy, {}
        last = dy if self.data_format == "channels_last" else dy.transpose(0, 2, 3, 1)
        dx = self._apply_backward(last, cache)
        return (dx if self.data_format == "channels_last" else dx.transpose(0, 3, 1, 2)), {}

    def get_config(self):
        config = super().get_config()
        config.update(seed=self.seed, data_format=self.data_format)
        return config


class RandomFlip(_RandomImageLayer):
    """Flip each image of a training batch with probability 1/2.

    Args:
        mode: "horizontal" (left-right), "vertical" (top-bottom) or "horizontal_and_vertical"
            (default). As in Keras 3, the last draws one coin per image and flips both ways
            together, so an image is either left as it is or turned by 180 degrees.
        seed: an integer for a layer of its own repeatable draws; None (default) draws from
            minicnn's generator. data_format: None for the global image data format.

    Raises:
        ValueError: for another mode or a negative seed; TypeError: for a seed not an integer.
    """

    MODES = {"horizontal": (2,), "vertical": (1,), "horizontal_and_vertical": (1, 2)}

    def __init__(self, mode="horizontal_and_vertical", seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if mode not in self.MODES:
            raise ValueError(f"{self.name}: mode must be one of {list(self.MODES)}, got {mode!r}.")
        self.mode = mode

    def _draw(self, rng, N, H, W):
        return rng.random(N) <= 0.5

    def _apply(self, x, flips):
        flips = get_array_module(x).asarray(flips)
        return flip_forward(x, flips, self.MODES[self.mode]), flips

    def _apply_backward(self, dy, flips):
        return flip_backward(dy, flips, self.MODES[self.mode])

    def get_config(self):
        config = super().get_config()
        config["mode"] = self.mode
        return config


class _RandomAffine(_RandomImageLayer):
    """The affine layers: ``fill_mode``, ``interpolation``, ``fill_value``, and the resampling of
    :func:`minicnn.nn.augment.affine_forward` by the matrices ``_matrices`` makes."""

    def __init__(self, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0, data_format=None,
                 **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        if fill_mode not in FILL_MODES:
            raise ValueError(f"{self.name}: fill_mode must be one of {list(FILL_MODES)}, got {fill_mode!r}.")
        if interpolation not in INTERPOLATIONS:
            raise ValueError(f"{self.name}: interpolation must be one of {list(INTERPOLATIONS)}, "
                             f"got {interpolation!r}.")
        self.fill_mode, self.interpolation = fill_mode, interpolation
        self.fill_value = _number(fill_value, "fill_value", self.name)

    def _apply(self, x, params):
        T = self._matrices(params, *x.shape[1:3])
        return affine_forward(x, T, self.fill_mode, self.fill_value, INTERPOLATIONS[self.interpolation])

    def _apply_backward(self, dy, cache):
        return affine_backward(dy, cache)

    def get_config(self):
        config = super().get_config()
        config.update(fill_mode=self.fill_mode, interpolation=self.interpolation, fill_value=self.fill_value)
        return config


class RandomRotation(_RandomAffine):
    """Rotate each image of a training batch by a random angle about its centre.

    Args:
        factor: a fraction of a full turn: f rotates by up to ``f * 360`` degrees either way,
            a pair [a, b] by an angle in ``[a * 360, b * 360]``; positive turns counter-clockwise.
            Numbers in [-1, 1].
        fill_mode: how the corners the rotation uncovers are filled: "reflect" (default),
            "wrap", "constant" (with ``fill_value``, default 0) or "nearest", as Keras 3 does
            (see :mod:`minicnn.nn.augment`). interpolation: "bilinear" (default) or "nearest".
        seed, data_format: as RandomFlip's.

    Raises:
        TypeError/ValueError: for a factor out of range or not a number/pair, an unknown
            fill_mode or interpolation, a fill_value that is not a number.
    """

    def __init__(self, factor, fill_mode="reflect", interpolation="bilinear", seed=None, fill_value=0.0,
                 data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.factor = list(factor) if isinstance(factor, (list, tuple)) else factor
        self.lower, self.upper = _factor(factor, "factor", self.name, -1, 1)

    def _draw(self, rng, N, H, W):
        return rng.uniform(self.lower * 360, self.upper * 360, N)

    def _matrices(self, theta, H, W):
        return affine_matrices(len(theta), H, W, theta=theta)

    def get_config(self):
        config = super().get_config()
        config["factor"] = self.factor
        return config


class RandomTranslation(_RandomAffine):
    """Shift each image of a training batch by a random fraction of its height and width.

    Args:
        height_factor, width_factor: fractions of the height and width: f shifts by up to
            ``f * size`` pixels either way, a pair [a, b] by ``[a * size, b * size]``; positive
            moves the content down and right. Numbers in [-1, 1].
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation's.

    Raises:
        TypeError/ValueError: as RandomRotation's, for each factor.
    """

    def __init__(self, height_factor, width_factor, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = (list(f) if isinstance(f, (list, tuple)) else f
                                                 for f in (height_factor, width_factor))
        self.height_range = _factor(height_factor, "height_factor", self.name, -1, 1)
        self.width_range = _factor(width_factor, "width_factor", self.name, -1, 1)

    def _draw(self, rng, N, H, W):
        return rng.uniform(*self.height_range, N) * H, rng.uniform(*self.width_range, N) * W

    def _matrices(self, shifts, H, W):
        down, right = shifts
        # An output pixel reads the input where its content came from: up and to the left of it.
        return affine_matrices(len(down), H, W, tx=-right, ty=-down)

    def get_config(self):
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config


class RandomZoom(_RandomAffine):
    """Zoom each image of a training batch in or out about its centre by a random factor.

    Args:
        height_factor: f zooms the height by a factor in ``[1 - |f|, 1 + |f|]`` of the area
            read, a pair [a, b] in ``[1 + a, 1 + b]``; positive zooms out (the content shrinks),
            negative zooms in. Numbers in (-1, 1].
        width_factor: the same for the width; None (default) zooms both by the height's draw,
            keeping the aspect ratio.
        fill_mode, interpolation, seed, fill_value, data_format: as RandomRotation's.

    Raises:
        TypeError/ValueError: as RandomRotation's, for each factor.
    """

    def __init__(self, height_factor, width_factor=None, fill_mode="reflect", interpolation="bilinear", seed=None,
                 fill_value=0.0, data_format=None, **kwargs):
        super().__init__(fill_mode, interpolation, seed, fill_value, data_format, **kwargs)
        self.height_factor, self.width_factor = (list(f) if isinstance(f, (list, tuple)) else f
                                                 for f in (height_factor, width_factor))
        self.height_range = _factor(height_factor, "height_factor", self.name, -1, 1, low_open=True)
        self.width_range = None if width_factor is None else _factor(width_factor, "width_factor", self.name, -1,
                                                                     1, low_open=True)

    def _draw(self, rng, N, H, W):
        zy = 1 + rng.uniform(*self.height_range, N)
        return zy, (zy if self.width_range is None else 1 + rng.uniform(*self.width_range, N))

    def _matrices(self, zooms, H, W):
        zy, zx = zooms
        return affine_matrices(len(zy), H, W, zx=zx, zy=zy)

    def get_config(self):
        config = super().get_config()
        config.update(height_factor=self.height_factor, width_factor=self.width_factor)
        return config


class RandomContrast(_RandomImageLayer):
    """Scale each image's contrast by a random factor: ``(x - mean) * c + mean``, with the mean of
    each channel over the image, clipped to ``value_range``.

    Args:
        factor: f draws c in ``[1 - f, 1 + f]``, a pair [a, b] in ``[1 - a, 1 + b]``; numbers in
            [0, 1]. (Keras 3.15 documents this, but its code draws a single f in [1, 1 + f]:
            minicnn follows the documentation, which Keras 2 also did.)
        value_range: (low, high), the range of the images, which the output is clipped to;
            default (0, 255).
        seed, data_format: as RandomFlip's.

    Raises:
        TypeError/ValueError: for a factor out of range or not a number/pair, a value_range that
            is not two numbers low < high.
    """

    def __init__(self, factor, value_range=(0, 255), seed=None, data_format=None, **kwargs):
        super().__init__(seed=seed, data_format=data_format, **kwargs)
        self.factor = list(factor) if isinstance(factor, (list, tuple)) else factor
        lower, upper = _factor(factor, "factor", self.name, 0, 1)
        self.lower, self.upper = (lower, upper) if isinstance(factor, (list, tuple)) else (upper, upper)
        if not isinstance(value_range, (list, tuple)) or len(value_range) != 2:
            raise TypeError(f"{self.name}: value_range must be a pair (low, high), got {value_range!r}.")
        low, high = (_number(v, "value_range", self.name) for v in value_range)
        if not low < high:
            raise ValueError(f"{self.name}: value_range must have low < high, got {value_range!r}.")
        self.value_range = [low, high]

    def _draw(self, rng, N, H, W):
        return rng.uniform(1 - self.lower, 1 + self.upper, N)

    def _apply(self, x, factor):
        return contrast_forward(x, get_array_module(x).asarray(factor), *self.value_range, (1, 2))

    def _apply_backward(self, dy, cache):
        return contrast_backward(dy, cache)

    def get_config(self):
        config = super().get_config()
        config.update(factor=self.factor, value_range=self.value_range)
        return config


class Rescaling(Layer):
    """``x * scale + offset``, in training and inference alike (e.g. ``scale=1/255`` for pixels).

    Args:
        scale, offset (default 0): numbers, or lists of one number per channel (last axis; the
            channels axis of (C, H, W) images when the global image data format is channels-first,
            as Keras 3 does).

    Raises:
        TypeError: for a scale or offset that is not a number or a list of numbers.
    """

    def __init__(self, scale, offset=0.0, **kwargs):
        super().__init__(**kwargs)
        self.scale, self.offset = (self._checked(v, what) for v, what in ((scale, "scale"), (offset, "offset")))
        self._channels_first = image_data_format() == "channels_first"

    def _checked(self, value, what):
        if isinstance(value, (list, tuple, np.ndarray)):
            values = [_number(v, what, self.name) for v in np.asarray(value, dtype=object).reshape(-1)]
            if not values:
                raise TypeError(f"{self.name}: {what} must be a number or a non-empty list of numbers.")
            return values
        return _number(value, what, self.name)

    def _array(self, value, x):
        """A number as it is; a list as an array that broadcasts over x's channels."""
        if not isinstance(value, list):
            return value
        a = get_array_module(x).asarray(value, dtype=x.dtype)
        return a.reshape(-1, 1, 1) if self._channels_first and x.ndim == 4 else a

    def forward(self, x, training=False):
        x = get_array_module(x).asarray(x, dtype=self.dtype)
        y = x * self._array(self.scale, x)
        if self.offset != 0:  # a list is never 0: only a zero number skips the pass
            y += self._array(self.offset, x)
        return y, None

    def backward(self, dy, cache):
        return dy * self._array(self.scale, dy), {}

    def get_config(self):
        config = super().get_config()
        config.update(scale=self.scale, offset=self.offset)
        return config
