"""Training steps with sample weights on the CuPy path (the fake CuPy): each loss's per-sample form
and the weighted metrics run on the device, in one pass with no host round trip, and match NumPy."""
import numpy as np
import pytest

from minicnn import losses, metrics, optimizers
from minicnn.backend import to_numpy
from minicnn.utils import set_random_seed

from gpu_path_models import assert_same_weights, data, flat_model, twins

CASES = {  # name: (loss, last layer's units and activation, targets from one-hot y, metrics)
    "cce_fused_softmax": (lambda: "categorical_crossentropy", 10, "softmax", lambda y: y,
                          lambda: ["accuracy", metrics.TopKCategoricalAccuracy(k=2)]),
    "sparse_logits_sum": (lambda: losses.SparseCategoricalCrossentropy(from_logits=True, reduction="sum"), 10, None,
                          lambda y: y.argmax(axis=1).astype(np.float32),
                          lambda: ["accuracy", metrics.SparseTopKCategoricalAccuracy(k=3)]),
    "bce_smoothed_mean_with_sample_weight": (
        lambda: losses.BinaryCrossentropy(from_logits=True, label_smoothing=0.1, reduction="mean_with_sample_weight"),
        3, None, lambda y: y[:, :3], lambda: ["binary_accuracy", "mse"]),
    "huber": (lambda: losses.Huber(delta=0.5), 10, None, lambda y: y * 3, lambda: ["mae"]),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_weighted_steps_match_numpy_without_host_round_trips(fake_cupy, case):
    make_loss, units, activation, targets, make_metrics = CASES[case]
    set_random_seed(0)
    x, y = data()
    y = targets(y)
    w = np.linspace(0, 2, len(x), dtype=np.float32)
    cpu, gpu = twins(flat_model(units, activation), lambda: optimizers.SGD(0.1), loss=make_loss(),
                     metrics=make_metrics())
    xb, yb, wb = fake_cupy.asarray(x), fake_cupy.asarray(y), fake_cupy.asarray(w)
    for step in range(2):
        fake_cupy.transfers.reset()
        got_loss, got_sums = gpu._train_step([xb], [yb], weight=wb)
        assert fake_cupy.transfers.count == 0, f"step {step}: host round trips {fake_cupy.transfers.log}"
        loss, sums = cpu._train_step([x], [y], weight=w)
        np.testing.assert_allclose(to_numpy(got_loss), loss, rtol=1e-5, err_msg=f"step {step}: loss")
        np.testing.assert_allclose([to_numpy(s) for s in got_sums], sums, rtol=1e-5, atol=1e-6,
                                   err_msg=f"step {step}: metric sums")
    assert_same_weights(gpu, cpu)
