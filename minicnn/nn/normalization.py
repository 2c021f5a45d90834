"""Batch normalization over every axis but the last (the channel axis), with backward.

    x_hat = (x - mean) / sqrt(var + eps)        mean, var over all axes but the last
    y     = gamma * x_hat + beta

Works for (N, F) after Dense and (N, H, W, C) after a channels-last convolution alike, because
both keep the features on the last axis. (Tuned for the CPU: minicnn.cpu.normalization.)
"""
from minicnn.backend import get_array_module


def batchnorm_forward(x, gamma, beta, eps, total=None):
    """Training-mode forward with the batch's statistics.

    Args:
        x: (..., C); gamma, beta: (C,).
        total: sums a count or a (C,) array over the batches of all ranks, for statistics of the
            global batch (synchronized BatchNormalization); None: this batch alone.
    Returns:
        y (..., C), the batch mean and (biased) variance (C,), and the cache for the backward.
    """
    total = total or _alone
    xp = get_array_module(x)
    x2 = x.reshape(-1, x.shape[-1])
    M = total(x2.shape[0])
    mean = total(x2.sum(axis=0)) / M
    xc = x2 - mean
    var = total((xc * xc).sum(axis=0)) / M
    inv_std = 1 / xp.sqrt(var + eps)
    y = xc * (gamma * inv_std) + beta
    return y.reshape(x.shape), mean, var, (xc, gamma, inv_std, M, total)


def _alone(value):
    return value


def batchnorm_inference(x, gamma, beta, mean, var, eps):
    """Inference-mode forward with fixed (moving) statistics; (..., C) -> (..., C)."""
    scale = gamma / get_array_module(x).sqrt(var + eps)
    return x * scale + (beta - mean * scale)


def batchnorm_backward(dy, cache):
    """Gradients of the training-mode forward: dx (..., C), dgamma (C,), dbeta (C,). Under a
    synchronized forward dx uses the sums over all ranks, while dgamma and dbeta are this batch's
    contributions (the gradient all-reduce adds the ranks' up)."""
    xc, gamma, inv_std, M, total = cache
    dy2 = dy.reshape(xc.shape)
    x_hat = xc * inv_std
    dbeta = dy2.sum(axis=0)
    dgamma = (dy2 * x_hat).sum(axis=0)
    # Normalising removes the mean and the scale of x; dx keeps dy's component orthogonal to both.
    dx = (gamma * inv_std) * (dy2 - (total(dbeta) + x_hat * total(dgamma)) / M)
    return dx.reshape(dy.shape), dgamma, dbeta
