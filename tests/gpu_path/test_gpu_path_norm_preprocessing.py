"""LayerNormalization, GroupNormalization and the preprocessing layers on the fake CuPy
(tests/fakecupy.py): outputs, input gradients and weight gradients stay on the device, nothing
goes back to the host (the random layers' parameters are drawn on the host and uploaded), and the
values are NumPy's. The normalizations run the kernels of kernels/normalization.cu, the others plain
CuPy expressions; the passes over device memory each makes are counted here, so a regression shows
(and so does the case for a fused kernel)."""
import numpy as np
import pytest

import minicnn

from minicnn.layers import (GroupNormalization, LayerNormalization, RandomContrast, RandomFlip, RandomRotation,
                            RandomTranslation, RandomZoom, Rescaling)

LAYERS = {
    "layer_norm": lambda: LayerNormalization(gamma_initializer="random_normal", beta_initializer="random_normal"),
    "layer_norm_image": lambda: LayerNormalization(axis=[1, 2, 3]),
    "group_norm": lambda: GroupNormalization(2, gamma_initializer="random_normal"),
    "group_norm_first": lambda: GroupNormalization(5, axis=1),
    "rescaling": lambda: Rescaling(1 / 255, -0.5),
    "flip": lambda: RandomFlip(seed=1),
    "rotation": lambda: RandomRotation(0.3, seed=2),
    "translation": lambda: RandomTranslation(0.2, 0.3, fill_mode="constant", seed=3),
    "zoom": lambda: RandomZoom(0.4, interpolation="nearest", fill_mode="wrap", seed=4),
    "contrast": lambda: RandomContrast(0.5, seed=5),
}
# Calls over device memory (ufuncs, reductions and kernels, as the fake counts them) for one training
# forward and backward. The normalizations' kernels make 5 passes over arrays of x's size (2 forward,
# 3 backward) and 3 over per-row or per-segment sums, where their plain expressions make 18 and 7
# (tests/gpu_path/test_gpu_path_kernels.py). The affine layers' many calls are on (N, H, W) coordinate
# arrays, C times smaller than x; the gathers and the bincount (not counted) are one pass each per tap.
MOST_PASSES = {"layer_norm": 8, "layer_norm_image": 8, "group_norm": 8, "group_norm_first": 8, "rescaling": 3,
               "flip": 0, "contrast": 15, "rotation": 125, "translation": 136, "zoom": 40}


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_on_the_device_give_numpys_results(fake_cupy, name):
    x = np.random.default_rng(0).uniform(0, 255, (2, 5, 4, 6)).astype(np.float32)
    dy = np.random.default_rng(1).standard_normal(x.shape).astype(np.float32)
    host, device = LAYERS[name](), LAYERS[name]()  # the same seed: the same draws
    with fake_cupy.transfers.paused():
        minicnn.set_backend("numpy")
        host.build(x.shape[1:])
        y, cache = host.forward(x, training=True)
        dx, grads = host.backward(dy, cache)
        minicnn.set_backend("cupy")
    device.build(x.shape[1:])
    device.set_weights(host.get_weights())
    x_d, dy_d = fake_cupy.asarray(x), fake_cupy.asarray(dy)
    fake_cupy.transfers.reset()
    fake_cupy.passes.clear()
    y_d, cache_d = device.forward(x_d, training=True)
    dx_d, grads_d = device.backward(dy_d, cache_d)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
    if name in MOST_PASSES:
        assert len(fake_cupy.passes) <= MOST_PASSES[name], (len(fake_cupy.passes), fake_cupy.passes)
    assert sorted(grads_d) == sorted(grads)
    for got, want in [(y_d, y), (dx_d, dx), *((grads_d[k], grads[k]) for k in grads)]:
        assert type(got).__module__ == "cupy" and got.dtype == np.float32
        np.testing.assert_allclose(got.get(), want, rtol=1e-5, atol=1e-4)
