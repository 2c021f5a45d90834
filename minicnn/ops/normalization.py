"""Batch normalization over every axis but the last (the channel axis), with backward.

    x_hat = (x - mean) / sqrt(var + eps)        mean, var over all axes but the last
    y     = gamma * x_hat + beta

Works for (N, F) after Dense and (N, H, W, C) after a channels-last convolution alike, because
both keep the features on the last axis. (Tuned for the CPU: minicnn.cpu.normalization.)
"""
from minicnn.backend import get_array_module


def batchnorm_forward(x, gamma, beta, eps):
    """Training-mode forward with the batch's statistics.

    Args:
        x: (..., C); gamma, beta: (C,).
    Returns:
        y (..., C), the batch mean and (biased) variance (C,), and the cache for the backward.
    """
    xp = get_array_module(x)
    x2 = x.reshape(-1, x.shape[-1])
    mean = x2.mean(axis=0)
    xc = x2 - mean
    var = (xc * xc).mean(axis=0)
    inv_std = 1 / xp.sqrt(var + eps)
    y = xc * (gamma * inv_std) + beta
    return y.reshape(x.shape), mean, var, (xc, gamma, inv_std)


def batchnorm_inference(x, gamma, beta, mean, var, eps):
    """Inference-mode forward with fixed (moving) statistics; (..., C) -> (..., C)."""
    scale = gamma / get_array_module(x).sqrt(var + eps)
    return x * scale + (beta - mean * scale)


def batchnorm_backward(dy, cache):
    """Gradients of the training-mode forward: dx (..., C), dgamma (C,), dbeta (C,)."""
    xc, gamma, inv_std = cache
    dy2 = dy.reshape(xc.shape)
    M = xc.shape[0]
    x_hat = xc * inv_std
    dbeta = dy2.sum(axis=0)
    dgamma = (dy2 * x_hat).sum(axis=0)
    # Normalising removes the mean and the scale of x; dx keeps dy's component orthogonal to both.
    dx = (gamma * inv_std) * (dy2 - (dbeta + x_hat * dgamma) / M)
    return dx.reshape(dy.shape), dgamma, dbeta
