"""SpatialDropout2D, GaussianNoise and GaussianDropout: regularisers active only in training
(``training=True``) and the identity otherwise, over :mod:`minicnn.nn.noise`.

Their draws come from minicnn's one seeded generator (``minicnn.utils.set_random_seed``), as
Dropout's do; a layer's ``seed`` is accepted for Keras's spelling and kept in its config.
"""
import math
import numbers

from minicnn.layers.base import Layer, check_positive_int, normalize_data_format
from minicnn.layers.spatial import image_shape
from minicnn.nn import noise


def _rate(value, layer, what="rate"):
    """A rate in [0, 1) as float (1 would scale the kept units by 1/0)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{layer}: {what} must be a number in [0, 1), got {value!r}.")
    if not 0 <= value < 1:
        raise ValueError(f"{layer}: {what} must be in [0, 1), got {value}.")
    return float(value)


def _seed(value, layer):
    return None if value is None else check_positive_int(value, "seed", layer, allow_zero=True)


class SpatialDropout2D(Layer):
    """Dropout of whole feature maps: in training, each channel of each sample is zeroed with
    probability ``rate`` or kept and scaled by 1/(1-rate) (Keras's noise shape (N, 1, 1, C)); the
    identity at inference. For convolutional features, whose neighbouring pixels are correlated,
    this regularises where element-wise Dropout barely does (Tompson et al., 2014).

    Args:
        rate: the fraction of channels dropped, in [0, 1) (Keras 1: ``p``).
        data_format: as Conv2D (Keras 1: dim_ordering).
        seed: accepted and kept in the config; the draws come from minicnn's generator.

    Raises:
        ValueError/TypeError: for a rate outside [0, 1), a negative or non-integer seed, and (at
            build) an input that is not an image.
    """

    def __init__(self, rate=None, data_format=None, seed=None, p=None, dim_ordering=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate if rate is not None else p, self.name)
        self.data_format = normalize_data_format(data_format or dim_ordering, self.name)
        self.seed = _seed(seed, self.name)

    def compute_output_shape(self, input_shape):
        image_shape(self, input_shape)
        return tuple(input_shape)

    def forward(self, x, training=False):
        """``(y, mask)``, the mask (N, 1, 1, C) or (N, C, 1, 1); ``(x, None)`` at inference or rate 0."""
        if not training or self.rate == 0:
            return x, None
        N = x.shape[0]
        C = x.shape[1] if self.data_format == "channels_first" else x.shape[3]
        shape = (N, C, 1, 1) if self.data_format == "channels_first" else (N, 1, 1, C)
        return noise.spatial_dropout_forward(x, self.rate, shape)

    def backward(self, dy, mask):
        return (dy if mask is None else noise.spatial_dropout_backward(dy, mask)), {}

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, data_format=self.data_format, seed=self.seed)
        return config


class GaussianNoise(Layer):
    """Adds zero-mean Gaussian noise of standard deviation ``stddev`` in training; the identity at
    inference. Its gradient is the identity.

    Args:
        stddev: a non-negative number (Keras 1: ``sigma``). Keras 3 refuses values above 1; minicnn
            takes any, as Keras 2 did.
        seed: accepted and kept in the config; the draws come from minicnn's generator.

    Raises:
        ValueError/TypeError: for a negative, infinite or non-numeric stddev, or a bad seed.
    """

    def __init__(self, stddev=None, seed=None, sigma=None, **kwargs):
        super().__init__(**kwargs)
        stddev = stddev if stddev is not None else sigma
        if isinstance(stddev, bool) or not isinstance(stddev, numbers.Real):
            raise TypeError(f"{self.name}: GaussianNoise needs stddev, a non-negative number, got {stddev!r}.")
        if not 0 <= stddev < math.inf:
            raise ValueError(f"{self.name}: stddev must be a non-negative finite number, got {stddev}.")
        self.stddev = float(stddev)
        self.seed = _seed(seed, self.name)

    def forward(self, x, training=False):
        if not training or self.stddev == 0:
            return x, None
        return noise.gaussian_noise_forward(x, self.stddev), None

    def backward(self, dy, cache):
        return dy, {}

    def get_config(self):
        config = super().get_config()
        config.update(stddev=self.stddev, seed=self.seed)
        return config


class GaussianDropout(Layer):
    """Multiplies each input by Gaussian noise of mean 1 and variance rate / (1 - rate) in
    training (the variance of inverted dropout of that rate); the identity at inference.

    Args:
        rate: in [0, 1) (Keras 1: ``p``).
        seed: accepted and kept in the config; the draws come from minicnn's generator.

    Raises:
        ValueError/TypeError: for a rate outside [0, 1) or a bad seed.
    """

    def __init__(self, rate=None, seed=None, p=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate if rate is not None else p, self.name)
        self.seed = _seed(seed, self.name)

    def forward(self, x, training=False):
        """``(y, m)``, m the multipliers; ``(x, None)`` at inference or rate 0."""
        if not training or self.rate == 0:
            return x, None
        return noise.gaussian_dropout_forward(x, self.rate)

    def backward(self, dy, m):
        return (dy if m is None else noise.gaussian_dropout_backward(dy, m)), {}

    def get_config(self):
        config = super().get_config()
        config.update(rate=self.rate, seed=self.seed)
        return config
