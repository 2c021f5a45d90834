"""Training-time noise: spatial dropout, additive Gaussian noise and multiplicative Gaussian
dropout, each with its backward beside it.

Every draw comes from minicnn's seeded generators on x's backend, as :mod:`minicnn.nn.dropout`'s
masks do (:func:`minicnn.random.local_generator` on the host, which differs between MPI ranks;
:func:`minicnn.random.gpu_generator` for CuPy arrays), so ``minicnn.utils.set_random_seed`` makes
them repeatable. Each op keeps its expectation: E[y] = x.
"""
from minicnn import random as mrandom
from minicnn.backend import is_cupy_array


def _uniform(x, shape):
    """Uniform [0, 1) draws of ``shape`` in x's dtype, on x's backend."""
    if is_cupy_array(x):
        return mrandom.gpu_generator().random_sample(shape, dtype=x.dtype)
    return mrandom.local_generator().random(shape, dtype=x.dtype)


def _normal(x):
    """Standard normal draws of x's shape and dtype, on x's backend."""
    if is_cupy_array(x):
        return mrandom.gpu_generator().standard_normal(x.shape, dtype=x.dtype)
    return mrandom.local_generator().standard_normal(x.shape, dtype=x.dtype)


def dropout_mask(x, rate, shape):
    """A dropout mask of ``shape`` in x's dtype, on x's backend: 0 with probability ``rate``, else 1/(1-rate)."""
    return (_uniform(x, shape) >= rate) * x.dtype.type(1 / (1 - rate))


def spatial_dropout_forward(x, rate, noise_shape):
    """Dropout with one draw per entry of ``noise_shape``, broadcast over x: for x (N, H, W, C)
    and noise_shape (N, 1, 1, C), whole feature maps are zeroed (probability ``rate``) or kept and
    scaled by 1/(1-rate). Returns y (x's shape) and the mask (noise_shape), all the backward needs."""
    mask = dropout_mask(x, rate, noise_shape)
    return x * mask, mask


def spatial_dropout_backward(dy, mask):
    """dx = dy * mask, the mask broadcast over the axes it was drawn without."""
    return dy * mask


def gaussian_noise_forward(x, stddev):
    """y = x + n, n ~ N(0, stddev**2) drawn per element. The backward is the identity: nothing to keep."""
    y = _normal(x)
    y *= stddev
    y += x
    return y


def gaussian_dropout_forward(x, rate):
    """y = x * m, m ~ N(1, rate / (1 - rate)) drawn per element (Srivastava et al., 2014, section 10);
    returns y and m, all the backward needs."""
    m = _normal(x)
    m *= (rate / (1 - rate)) ** 0.5
    m += 1
    return x * m, m


def gaussian_dropout_backward(dy, m):
    return dy * m
