"""Keras 2's ``ImageDataGenerator``: random augmentation and normalisation of image batches.

    datagen = ImageDataGenerator(rescale=1 / 255, width_shift_range=0.1, height_shift_range=0.1,
                                 horizontal_flip=True)
    model.fit(datagen.flow(x_train, y_train, batch_size=128), epochs=12)

Each batch is drawn and transformed at once, on the array module of the data (NumPy, or CuPy on
the GPU), in Keras 2's order: the affine transform (rotation, shift, shear, zoom; see
``minicnn/preprocessing/affine.py``), the channel shift, the flips, then :meth:`standardize`
(rescale, samplewise centre and std, featurewise centre and std, ZCA whitening).

One difference from Keras 2: ``width_shift_range`` shifts the images horizontally and
``height_shift_range`` vertically, as Keras documents; the last Keras 2 releases swapped them
(keras-team/keras#17398). Each transform parameter means what Keras 2's ``apply_transform``
makes of it: ``tx`` shifts along x (columns), ``ty`` along y (rows).
"""
import numbers
import warnings

import numpy as np

from minicnn import random as mrandom
from minicnn.backend import get_array_module, image_data_format, to_numpy
from minicnn.preprocessing.affine import FILL_MODES, INTERPOLATION_ORDERS, apply_affine_transform, transform_matrices
from minicnn.preprocessing.iterators import Iterator, NumpyArrayIterator
from minicnn.preprocessing.ranges import (check_range, check_shift_range, check_zoom_range, draw_shift,
                                          draw_symmetric)

__all__ = ["ImageDataGenerator", "Iterator", "NumpyArrayIterator"]

_FIT_CHUNK = 1024  # images transformed at once by fit(augment=True): bounds the index arrays' memory


class ImageDataGenerator:
    """Generate batches of images with random augmentation, Keras 2's way.

    Args (Keras 2's, in its order; ranges are symmetric about 0 unless said otherwise):
        featurewise_center, featurewise_std_normalization: subtract the data set's per-channel
            mean / divide by its std, learnt by :meth:`fit` (the std option turns the centre on).
        samplewise_center, samplewise_std_normalization: the same per image, over all its pixels.
        zca_whitening, zca_epsilon: ZCA whitening learnt by :meth:`fit` (turns the featurewise
            centre on and the featurewise std off), epsilon 1e-6.
        rotation_range: degrees. width_shift_range, height_shift_range: a float (a fraction of
            the width/height if below 1, else pixels), an int (whole pixels) or a list of choices.
        brightness_range: must be None (Keras does it with PIL).
        shear_range: degrees (counter-clockwise). zoom_range: a float z for [1 - z, 1 + z], or
            [lower, upper]; x and y zooms are drawn apart. channel_shift_range: added to all
            channels of an image, clipped to its range.
        fill_mode: "nearest" (default), "constant", "reflect" or "wrap", as in scipy.ndimage;
            cval: the fill of "constant", in input units (before rescale).
        horizontal_flip, vertical_flip: flip half the images.
        rescale: multiply by this (after the transforms), e.g. 1/255. None or 0: no rescaling.
        preprocessing_function: called on each image (H, W, C) after the rest of the augmentation
            and before rescale, returning an array of the same shape (a Python call per image).
        data_format: "channels_last" (N, H, W, C) or "channels_first"; None for the global setting.
        validation_split: the fraction of ``flow``'s images kept for ``subset="validation"``.
        interpolation_order: 1 (bilinear, default) or 0 (nearest pixel). dtype: of the batches.

    Raises:
        TypeError/ValueError: for a range that is negative or not a number, an unknown fill_mode,
            data_format or interpolation_order, validation_split outside [0, 1), brightness_range.
    """

    def __init__(self, featurewise_center=False, samplewise_center=False, featurewise_std_normalization=False,
                 samplewise_std_normalization=False, zca_whitening=False, zca_epsilon=1e-6, rotation_range=0,
                 width_shift_range=0.0, height_shift_range=0.0, brightness_range=None, shear_range=0.0,
                 zoom_range=0.0, channel_shift_range=0.0, fill_mode="nearest", cval=0.0, horizontal_flip=False,
                 vertical_flip=False, rescale=None, preprocessing_function=None, data_format=None,
                 validation_split=0.0, interpolation_order=1, dtype="float32"):
        self.rotation_range = check_range(rotation_range, "rotation_range")
        self.width_shift_range = check_shift_range(width_shift_range, "width_shift_range")
        self.height_shift_range = check_shift_range(height_shift_range, "height_shift_range")
        self.shear_range = check_range(shear_range, "shear_range")
        self.zoom_range = list(check_zoom_range(zoom_range))
        self.channel_shift_range = check_range(channel_shift_range, "channel_shift_range")
        if isinstance(cval, bool) or not isinstance(cval, numbers.Real) or not np.isfinite(cval):
            raise TypeError(f"ImageDataGenerator: cval must be a finite number (the fill of 'constant'), got {cval!r}.")
        self.cval = float(cval)
        self.zca_epsilon = check_range(zca_epsilon, "zca_epsilon")
        if fill_mode not in FILL_MODES:
            raise ValueError(f"ImageDataGenerator: unknown fill_mode {fill_mode!r}; use one of {list(FILL_MODES)}.")
        if interpolation_order not in INTERPOLATION_ORDERS:
            raise ValueError(f"ImageDataGenerator: interpolation_order must be 1 (bilinear) or 0 (nearest "
                             f"pixel), got {interpolation_order!r}.")
        if brightness_range is not None:
            raise ValueError("ImageDataGenerator: brightness_range is not supported (Keras does it with PIL); "
                             "leave it None.")
        if rescale is not None and (isinstance(rescale, bool) or not isinstance(rescale, numbers.Real)):
            raise TypeError(f"ImageDataGenerator: rescale must be a number such as 1/255, or None; got {rescale!r}.")
        if preprocessing_function is not None and not callable(preprocessing_function):
            raise TypeError("ImageDataGenerator: preprocessing_function must be a function of one image, or None.")
        data_format = data_format or image_data_format()
        if data_format not in ("channels_last", "channels_first"):
            raise ValueError(f"ImageDataGenerator: data_format must be 'channels_last' or 'channels_first', "
                             f"got {data_format!r}.")
        if (isinstance(validation_split, bool) or not isinstance(validation_split, numbers.Real)
                or not 0 <= validation_split < 1):
            raise ValueError(f"ImageDataGenerator: validation_split must be a fraction in [0, 1), "
                             f"got {validation_split!r}.")
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"ImageDataGenerator: dtype must be a float type such as 'float32', got {dtype!r}.")
        self.fill_mode, self.interpolation_order = fill_mode, interpolation_order
        self.horizontal_flip, self.vertical_flip = bool(horizontal_flip), bool(vertical_flip)
        self.rescale, self.preprocessing_function = rescale, preprocessing_function
        self.brightness_range = None
        self.data_format, self._validation_split = data_format, float(validation_split)
        self.channel_axis, self.row_axis, self.col_axis = (3, 1, 2) if data_format == "channels_last" else (1, 2, 3)
        self.featurewise_center, self.samplewise_center = bool(featurewise_center), bool(samplewise_center)
        self.featurewise_std_normalization = bool(featurewise_std_normalization)
        self.samplewise_std_normalization = bool(samplewise_std_normalization)
        self.zca_whitening = bool(zca_whitening)
        self._imply_options()
        self.mean = self.std = self.zca_whitening_matrix = None

    def _imply_options(self):
        """Keras 2's implied options, with its warnings."""
        def imply(condition, attribute, value, why):
            if condition and getattr(self, attribute) != value:
                setattr(self, attribute, value)
                warnings.warn(f"This ImageDataGenerator specifies `{why}`, which overrides setting of `{attribute}`.")
        imply(self.zca_whitening, "featurewise_center", True, "zca_whitening")
        imply(self.zca_whitening, "featurewise_std_normalization", False, "zca_whitening")
        imply(self.featurewise_std_normalization, "featurewise_center", True, "featurewise_std_normalization")
        imply(self.samplewise_std_normalization, "samplewise_center", True, "samplewise_std_normalization")

    # -- random transforms ------------------------------------------------------------------------

    def _draw(self, rng, n, img_shape):
        """Transform parameters of ``n`` images of shape ``img_shape``: a dict of (n,) host arrays."""
        H, W = img_shape[-3:][self.row_axis - 1], img_shape[-3:][self.col_axis - 1]
        if self.zoom_range == [1.0, 1.0]:
            zx = zy = np.ones(n)
        else:
            zx, zy = rng.uniform(self.zoom_range[0], self.zoom_range[1], (2, n))
        return {"theta": draw_symmetric(rng, self.rotation_range, n),
                "tx": draw_shift(rng, self.width_shift_range, n, W),
                "ty": draw_shift(rng, self.height_shift_range, n, H),
                "shear": draw_symmetric(rng, self.shear_range, n), "zx": zx, "zy": zy,
                "flip_horizontal": (rng.random(n) < 0.5) & self.horizontal_flip,
                "flip_vertical": (rng.random(n) < 0.5) & self.vertical_flip,
                "channel_shift_intensity": draw_symmetric(rng, self.channel_shift_range, n)
                if self.channel_shift_range else None,
                "brightness": None}

    def _transform(self, x, params):
        """Apply per-image parameters (a dict of scalars or (N,) arrays) to a float batch x."""
        xp = get_array_module(x)
        N = x.shape[0]

        def param(key, default):
            value = params.get(key)
            return np.broadcast_to(np.asarray(default if value is None else to_numpy(value)), (N,))

        theta, tx, ty, shear = (param(k, 0.0).astype(np.float64) for k in ("theta", "tx", "ty", "shear"))
        zx, zy = param("zx", 1.0).astype(np.float64), param("zy", 1.0).astype(np.float64)
        flip_h, flip_v = param("flip_horizontal", False).astype(bool), param("flip_vertical", False).astype(bool)
        if params.get("brightness") is not None:
            raise ValueError("apply_transform: 'brightness' is not supported (Keras does it with PIL); "
                             "leave it None.")
        if self.data_format == "channels_first":
            x = x.transpose(0, 2, 3, 1)
        if theta.any() or tx.any() or ty.any() or shear.any() or (zx != 1).any() or (zy != 1).any():
            T = transform_matrices(theta, tx, ty, shear, zx, zy, x.shape[1], x.shape[2])
            x = apply_affine_transform(x, T, self.fill_mode, self.cval, self.interpolation_order, flip_h, flip_v)
        else:
            for flip, axis in ((flip_h, 2), (flip_v, 1)):
                if flip.any():
                    x = xp.where(xp.asarray(flip)[:, None, None, None], xp.flip(x, axis), x)
        if params.get("channel_shift_intensity") is not None:
            # Keras clips each image to its own range; flips and shifts commute with that.
            low, high = x.min(axis=(1, 2, 3), keepdims=True), x.max(axis=(1, 2, 3), keepdims=True)
            shift = xp.asarray(param("channel_shift_intensity", 0.0), dtype=x.dtype)[:, None, None, None]
            x = xp.minimum(xp.maximum(x + shift, low), high)
        if self.data_format == "channels_first":
            x = x.transpose(0, 3, 1, 2)
        return xp.ascontiguousarray(x)

    def _as_batch(self, x, where):
        """(batch, was_single): x as a float batch, from one image (3-D) or a batch (4-D)."""
        xp = get_array_module(x)
        x = xp.asarray(x, dtype=self.dtype)
        if x.ndim not in (3, 4):
            raise ValueError(f"{where}: x must be one image (3-D) or a batch of images (4-D); "
                             f"got shape {tuple(x.shape)}.")
        return (x[None], True) if x.ndim == 3 else (x, False)

    def get_random_transform(self, img_shape, seed=None):
        """Random transform parameters for one image of shape ``img_shape`` (Keras 2's dict).

        Keys: theta, tx, ty, shear (degrees and pixels), zx, zy, flip_horizontal, flip_vertical,
        channel_shift_intensity, brightness. ``seed`` makes the draw repeatable.
        """
        rng = np.random.default_rng(seed) if seed is not None else mrandom.generator()
        params = self._draw(rng, 1, img_shape)
        return {k: None if v is None else v[0].item() for k, v in params.items()}

    def apply_transform(self, x, transform_parameters):
        """Apply :meth:`get_random_transform`'s parameters to one image (3-D), or to a batch
        (4-D) with each parameter a scalar or one value per image. Returns a new float array."""
        batch, single = self._as_batch(x, "apply_transform")
        y = self._transform(batch, transform_parameters)
        return y[0] if single else y

    def random_transform(self, x, seed=None):
        """A random transform of one image (3-D) or of each image of a batch (4-D)."""
        batch, single = self._as_batch(x, "random_transform")
        rng = np.random.default_rng(seed) if seed is not None else mrandom.generator()
        y = self._transform(batch, self._draw(rng, len(batch), batch.shape[1:]))
        return y[0] if single else y

    # -- normalisation ----------------------------------------------------------------------------

    def standardize(self, x):
        """Normalise one image (3-D) or a batch (4-D), in place when x is already of ``dtype``.

        In Keras 2's order: preprocessing_function, rescale, samplewise centre and std (each image
        over all its pixels and channels), featurewise centre and std, ZCA whitening.

        Raises:
            ValueError: if a featurewise option or ZCA is on and :meth:`fit` has not been called.
        """
        xp = get_array_module(x)
        x = xp.asarray(x, dtype=self.dtype)
        if self.preprocessing_function is not None:
            images = x[None] if x.ndim == 3 else x
            images = xp.stack([xp.asarray(self.preprocessing_function(image), dtype=self.dtype) for image in images])
            x = images[0] if x.ndim == 3 else images
        if self.rescale:
            x *= self.rescale
        axes = tuple(range(x.ndim - 3, x.ndim))
        if self.samplewise_center:
            x -= x.mean(axis=axes, keepdims=True)
        if self.samplewise_std_normalization:
            x /= x.std(axis=axes, keepdims=True) + 1e-6
        if (self.featurewise_center or self.zca_whitening) and self.mean is None:
            options = [name for name in ("featurewise_center", "featurewise_std_normalization", "zca_whitening")
                       if getattr(self, name)]
            raise ValueError(f"This ImageDataGenerator specifies {', '.join(options)}, which need statistics "
                             "of the training data: call datagen.fit(x_train) before drawing batches.")
        if self.featurewise_center:
            x -= xp.asarray(self.mean)
        if self.featurewise_std_normalization:
            x /= xp.asarray(self.std) + 1e-6
        if self.zca_whitening:
            flat = x.reshape(-1, int(np.prod(x.shape[-3:])))
            x = (flat @ xp.asarray(self.zca_whitening_matrix)).reshape(x.shape)
        return x

    def fit(self, x, augment=False, rounds=1, seed=None):
        """Learn the featurewise mean and std (and the ZCA matrix) from sample images.

        Args:
            x: (N, H, W, C) images (channels first for data_format="channels_first"); rescale
                is applied first, as it will be to the batches.
            augment: learn from randomly transformed copies instead; rounds: how many copies.
            seed: makes the transforms repeatable.

        Raises:
            ValueError: if ``x`` is not 4-D or ``rounds`` is below 1.
        """
        xp = get_array_module(x)
        x = xp.array(x, dtype=self.dtype)
        if x.ndim != 4:
            raise ValueError(f"fit: x must be a 4-D array of images (N, H, W, C); got shape {tuple(x.shape)}."
                             + (" For grey images (N, H, W), pass x[..., None]." if x.ndim == 3 else ""))
        if isinstance(rounds, bool) or not isinstance(rounds, (int, np.integer)) or rounds < 1:
            raise ValueError(f"fit: rounds must be an integer >= 1, got {rounds!r}.")
        if self.rescale:
            x *= self.rescale
        if augment:
            rng = np.random.default_rng(seed) if seed is not None else mrandom.generator()
            x = xp.concatenate([self._transform(x[i:i + _FIT_CHUNK], self._draw(rng, len(x[i:i + _FIT_CHUNK]),
                                                                                  x.shape[1:]))
                                for _ in range(rounds) for i in range(0, len(x), _FIT_CHUNK)])
        shape = [1, 1, 1]
        shape[self.channel_axis - 1] = x.shape[self.channel_axis]
        axes = (0, self.row_axis, self.col_axis)
        if self.featurewise_center:
            self.mean = to_numpy(x.mean(axis=axes)).reshape(shape)
            x -= xp.asarray(self.mean)
        if self.featurewise_std_normalization:
            self.std = to_numpy(x.std(axis=axes)).reshape(shape)
            x /= xp.asarray(self.std) + 1e-6
        if self.zca_whitening:
            flat = to_numpy(x.reshape(len(x), -1)).astype(np.float64)
            u, s, _ = np.linalg.svd(flat.T, full_matrices=False)
            self.zca_whitening_matrix = ((u * (np.sqrt(len(flat)) / (s + self.zca_epsilon))) @ u.T).astype(self.dtype)

    def flow(self, x, y=None, batch_size=32, shuffle=True, sample_weight=None, seed=None, save_to_dir=None,
             save_prefix="", save_format="png", ignore_class_split=False, subset=None):
        """Batches of augmented images from arrays: an endless iterator that is also a Sequence.

        Args:
            x: (N, H, W, C) images (NumPy or CuPy; any number type), channels first for
                data_format="channels_first". y: labels, or None for batches of images alone.
            batch_size: default 32. shuffle: a new order at each pass (default True).
            sample_weight: per-image weights, returned as a third element.
            seed: makes the order and transforms repeatable.
            save_to_dir: must be None (writing image files is not supported).
            ignore_class_split: allow subsets with different classes.
            subset: "training" or "validation", split by ``validation_split``.

        Returns:
            a :class:`NumpyArrayIterator` yielding ``(x_batch, y_batch)`` (float ``dtype`` images).

        Raises:
            ValueError: for x not 4-D, lengths that differ, a subset without validation_split or
                with classes missing from one side, save_to_dir. TypeError: for a tuple x.
        """
        return NumpyArrayIterator(x, y, self, batch_size=batch_size, shuffle=shuffle, sample_weight=sample_weight,
                                  seed=seed, data_format=self.data_format, save_to_dir=save_to_dir,
                                  save_prefix=save_prefix, save_format=save_format, subset=subset,
                                  ignore_class_split=ignore_class_split, dtype=self.dtype)

    def flow_from_directory(self, *args, **kwargs):
        """Not supported: minicnn reads images from arrays."""
        raise NotImplementedError("flow_from_directory is not supported: load the images into an array "
                                  "(N, H, W, C) and call datagen.flow(x, y).")

    def flow_from_dataframe(self, *args, **kwargs):
        """Not supported: minicnn reads images from arrays."""
        raise NotImplementedError("flow_from_dataframe is not supported: load the images into an array "
                                  "(N, H, W, C) and call datagen.flow(x, y).")
