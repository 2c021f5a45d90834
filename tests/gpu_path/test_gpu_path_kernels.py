"""Every CUDA kernel minicnn ships is used by the CuPy path, and makes fewer passes over device
memory than the plain CuPy expressions it replaces (the same ops run without it on the same device
arrays), counted by the fake CuPy's pass log; both give the same result."""
import numpy as np
import pytest

from minicnn import cuda
from minicnn.backend import to_numpy
from minicnn.nn import conv, layer_norm, pooling
from minicnn.optimizers import SGD, Adadelta, Adam, RMSprop


def passes(fake, fn):
    fake.passes.clear()
    out = fn()
    return list(fake.passes), out


def both(fake, monkeypatch, module, fn):
    """(passes, result) with the kernel, then with the plain expressions on the same device arrays."""
    with_kernel = passes(fake, fn)
    with monkeypatch.context() as m:
        m.setattr(module, "is_cupy_array", lambda a: False)
        plain = passes(fake, fn)
    return with_kernel, plain


def assert_same(a, b):
    for u, v in zip(a if isinstance(a, tuple) else (a,), b if isinstance(b, tuple) else (b,)):
        if isinstance(u, tuple):
            continue  # caches: the kernels keep their own layouts
        np.testing.assert_allclose(to_numpy(u), to_numpy(v), rtol=1e-6, atol=1e-6)


def test_conv_kernels(fake_cupy, monkeypatch):
    rng = np.random.default_rng(0)
    x = fake_cupy.asarray(rng.standard_normal((2, 8, 8, 3)).astype(np.float32))
    (k, cols), (p, plain_cols) = both(fake_cupy, monkeypatch, conv, lambda: conv.im2col(x, 3, 3, (1, 1), "same"))
    assert k == ["kernel im2col"] and len(p) >= 9
    assert_same(cols, plain_cols)
    d = fake_cupy.asarray(rng.standard_normal(cols.shape).astype(np.float32))
    (k, dx), (p, plain_dx) = both(fake_cupy, monkeypatch, conv, lambda: conv.col2im(d, x.shape, 3, 3, (1, 1), "same"))
    assert k == ["kernel col2im"] and len(p) >= 9
    assert_same(dx, plain_dx)


@pytest.mark.parametrize("kind", ["max", "avg"])
def test_pooling_kernels(fake_cupy, monkeypatch, kind):
    rng = np.random.default_rng(1)
    x = fake_cupy.asarray(rng.standard_normal((2, 6, 6, 4)).astype(np.float32))
    fwd, bwd = ((pooling.maxpool2d_forward, pooling.maxpool2d_backward) if kind == "max"
                else (pooling.avgpool2d_forward, pooling.avgpool2d_backward))
    (k, (y, cache)), (p, (plain_y, plain_cache)) = both(fake_cupy, monkeypatch, pooling,
                                                         lambda: fwd(x, (2, 2), None, "valid"))
    assert k == [f"kernel {kind}pool_forward"] and len(p) > 4
    assert_same(y, plain_y)
    dy = fake_cupy.asarray(rng.standard_normal(y.shape).astype(np.float32))
    k, dx = passes(fake_cupy, lambda: bwd(dy, cache))
    with monkeypatch.context() as m:
        m.setattr(pooling, "is_cupy_array", lambda a: False)
        p, plain_dx = passes(fake_cupy, lambda: bwd(dy, plain_cache))
    assert k == [f"kernel {kind}pool_backward"] and len(p) > 4
    assert_same(dx, plain_dx)


NORMS = {  # x (2, 5, 4, 6); gamma and beta (C,) for group normalization, in the layer's broadcast shape otherwise
    "layer, channels": (lambda x, g, b: layer_norm.layernorm_forward(x, g, b, (3,), 1e-3),
                        layer_norm.layernorm_backward, (1, 1, 1, 6)),
    "layer, image": (lambda x, g, b: layer_norm.layernorm_forward(x, g, b, (1, 2, 3), 1e-3),
                     layer_norm.layernorm_backward, (1, 5, 4, 6)),
    "group, channels last": (lambda x, g, b: layer_norm.groupnorm_forward(x, g, b, 2, 3, 1e-3),
                             layer_norm.groupnorm_backward, (6,)),
    "group, channels first": (lambda x, g, b: layer_norm.groupnorm_forward(x, g, b, 5, 1, 1e-3),
                              layer_norm.groupnorm_backward, (5,)),
}
NORM_KERNELS = ["kernel norm_moments", "kernel norm_stats", "kernel norm_forward", "kernel norm_backward_sums",
                "add.reduce", "kernel norm_backward", "kernel norm_param_sums", "add.reduce"]


@pytest.mark.parametrize("case", sorted(NORMS))
def test_normalization_kernels(fake_cupy, monkeypatch, case):
    """Forward and backward: 8 calls, 5 over arrays of x's size (the other 3 on the per-row and
    per-segment sums), where the plain expressions make 25, 18 of them over arrays of x's size."""
    forward, backward, weight_shape = NORMS[case]
    rng = np.random.default_rng(3)
    x, dy = (fake_cupy.asarray(rng.standard_normal((2, 5, 4, 6)).astype(np.float32)) for _ in range(2))
    gamma, beta = (fake_cupy.asarray(rng.standard_normal(weight_shape).astype(np.float32)) for _ in range(2))

    def step():
        y, cache = forward(x, gamma, beta)
        return (y, *backward(dy, cache))
    (k, got), (p, plain) = both(fake_cupy, monkeypatch, layer_norm, step)
    assert k == NORM_KERNELS and len(p) == 25
    for u, v in zip(got, plain):  # float32 sums in another order: a few ulps of the weight gradients
        np.testing.assert_allclose(to_numpy(u), to_numpy(v), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: SGD(0.1), lambda: SGD(0.1, momentum=0.9, nesterov=True), Adam,
                                  RMSprop, Adadelta])
def test_optimizer_kernels(fake_cupy, monkeypatch, make):
    rng = np.random.default_rng(2)
    w0, g = rng.standard_normal((5, 7)).astype(np.float32), rng.standard_normal((5, 7)).astype(np.float32)
    results = []
    for fused in (True, False):
        opt = make()
        if not fused:
            opt.kernel = None  # the optimizer's plain CuPy expressions
        w, gd = fake_cupy.asarray(w0), fake_cupy.asarray(g)
        opt.apply_gradients([w], [gd])  # slots built
        log, _ = passes(fake_cupy, lambda: opt.apply_gradients([w], [gd]))
        results.append((log, to_numpy(w)))
    (k, w_kernel), (p, w_plain) = results
    assert len(k) == 1 and k[0].startswith("kernel ") and len(p) >= 2
    np.testing.assert_allclose(w_kernel, w_plain, rtol=1e-6, atol=1e-6)


def test_every_kernel_file_is_a_family_the_cupy_path_uses():
    names = {path.name for path in cuda.kernel_dir().iterdir() if path.name.endswith(".cu")}
    assert names == {f"{family}.cu" for family in cuda.FAMILIES} == {"conv.cu", "pooling.cu", "optimizers.cu",
                                                                                "normalization.cu"}
