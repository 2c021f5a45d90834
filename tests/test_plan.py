"""The plan a model runs: the fast CPU path against the plain path and against a plain training
step written out here by hand (no framework code at all), the planner's fusion decisions, and the
switch between the two paths."""
import os
import subprocess
import sys

import numpy as np
import pytest

import minicnn
import minicnn.cpu.conv as fast_conv
from minicnn import Sequential, backend
from minicnn.cpu import threads
from minicnn.cpu import steps as fast_steps
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape, Softmax, ZeroPadding2D)
from minicnn.optimizers import SGD, Adadelta
from minicnn.plan import LayerStep
from minicnn.utils import set_random_seed


@pytest.fixture
def path():
    """Set the fast path on or off for one test; restored after."""
    saved = backend.fast_path()
    yield backend.set_fast_path
    backend.set_fast_path(saved)


def plain_im2col(x, K):
    N, H, W, C = x.shape
    OH, OW = H - K + 1, W - K + 1
    cols = np.zeros((N, OH, OW, K, K, C), dtype=x.dtype)
    for kh in range(K):
        for kw in range(K):
            cols[:, :, :, kh, kw] = x[:, kh:kh + OH, kw:kw + OW]
    return cols.reshape(N * OH * OW, K * K * C)


def plain_col2im(dcols, x_shape, K):
    N, H, W, C = x_shape
    OH, OW = H - K + 1, W - K + 1
    d = dcols.reshape(N, OH, OW, K, K, C)
    dx = np.zeros(x_shape, dtype=dcols.dtype)
    for kh in range(K):
        for kw in range(K):
            dx[:, kh:kh + OH, kw:kw + OW] += d[:, :, :, kh, kw]
    return dx


def plain_step(params, x, y, state, lr=1.0, rho=0.95, eps=1e-7):
    """One Adadelta step of conv(relu) -> conv(relu) -> maxpool 2 -> flatten -> dense(relu) -> dense(softmax)."""
    W1, b1, W2, b2, W3, b3, W4, b4 = params
    N = x.shape[0]
    c1 = plain_im2col(x, 3)
    z1 = c1 @ W1.reshape(-1, W1.shape[3]) + b1
    a1 = np.maximum(z1, 0).reshape(N, x.shape[1] - 2, x.shape[2] - 2, -1)
    c2 = plain_im2col(a1, 3)
    z2 = c2 @ W2.reshape(-1, W2.shape[3]) + b2
    a2 = np.maximum(z2, 0).reshape(N, a1.shape[1] - 2, a1.shape[2] - 2, -1)
    H2, W2s, C2 = a2.shape[1:]
    win = a2.reshape(N, H2 // 2, 2, W2s // 2, 2, C2).transpose(0, 1, 3, 5, 2, 4).reshape(N, H2 // 2, W2s // 2, C2, 4)
    first = win.argmax(axis=-1)  # argmax returns the first maximum, as Keras routes the gradient
    p = win.max(axis=-1)
    f = p.reshape(N, -1)
    z3 = f @ W3 + b3
    a3 = np.maximum(z3, 0)
    z4 = a3 @ W4 + b4
    e = np.exp(z4 - z4.max(1, keepdims=True))
    prob = e / e.sum(1, keepdims=True)
    dz4 = (prob - y) / N
    g4, gb4 = a3.T @ dz4, dz4.sum(0)
    dz3 = (dz4 @ W4.T) * (z3 > 0)
    g3, gb3 = f.T @ dz3, dz3.sum(0)
    dp = (dz3 @ W3.T).reshape(p.shape)
    dwin = np.zeros(win.shape, dtype=x.dtype)
    np.put_along_axis(dwin, first[..., None], dp[..., None], axis=-1)
    da2 = dwin.reshape(N, H2 // 2, W2s // 2, C2, 2, 2).transpose(0, 1, 4, 2, 5, 3).reshape(a2.shape)
    dz2 = da2.reshape(-1, C2) * (z2 > 0)
    g2, gb2 = (c2.T @ dz2).reshape(W2.shape), dz2.sum(0)
    da1 = plain_col2im(dz2 @ W2.reshape(-1, W2.shape[3]).T, a1.shape, 3)
    dz1 = da1.reshape(-1, W1.shape[3]) * (z1 > 0)
    g1, gb1 = (c1.T @ dz1).reshape(W1.shape), dz1.sum(0)
    new = []
    for i, (w, g) in enumerate(zip(params, [g1, gb1, g2, gb2, g3, gb3, g4, gb4])):
        a, b = state.setdefault(i, [np.zeros_like(w), np.zeros_like(w)])
        a[...] = rho * a + (1 - rho) * g * g
        d = -np.sqrt(b + eps) / np.sqrt(a + eps) * g
        b[...] = rho * b + (1 - rho) * d * d
        new.append(w + lr * d)
    return new



@pytest.mark.parametrize("fast, n_threads", [(True, 1), (True, 2), (False, 1)])
def test_training_matches_the_hand_written_step(fast, n_threads, path, monkeypatch):
    # Small chunks so chunk boundaries and both workers are exercised.
    monkeypatch.setattr(fast_conv, "CHUNK_BYTES", 64 << 10)
    path(fast)
    threads.set_num_threads(n_threads)
    try:
        rng = np.random.default_rng(0)
        x = rng.random((24, 12, 12, 1), dtype=np.float32)
        y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 24)]
        model = Sequential([Conv2D(6, (3, 3), activation="relu", input_shape=(12, 12, 1)),
                            Conv2D(5, (3, 3), activation="relu"), MaxPooling2D((2, 2)), Flatten(),
                            Dense(16, activation="relu"), Dense(10, activation="softmax")])
        model.compile(optimizer=Adadelta(), loss="categorical_crossentropy")
        params = [w.astype(np.float64) for w in model.get_weights()]
        state = {}
        for step in range(3):
            batch = slice(8 * step, 8 * step + 8)
            model.train_on_batch(x[batch], y[batch])
            params = plain_step(params, x[batch].astype(np.float64), y[batch], state)
        for got, want in zip(model.get_weights(), params):
            np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-6)
    finally:
        threads.set_num_threads(threads.default_num_threads())


def test_the_planner_fuses_the_tutorial_cnn(path):
    path(True)
    model = Sequential([Conv2D(32, 3, activation="relu", input_shape=(28, 28, 1)), Conv2D(64, 3, activation="relu"),
                        MaxPooling2D(), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
                        Dense(10, activation="softmax")])
    model.compile("adadelta", "categorical_crossentropy")
    plan = model._plan()
    names = [type(s).__name__ for s in plan.steps]
    assert names == ["FusedConvPool", "FusedConvPool", "FastDropout", "LayerStep", "FastDense", "FastDropout",
                     "FastDense"]
    first, second = plan.steps[:2]
    assert [layer.name for s in plan.steps for layer in s.layers] == [layer.name for layer in model.layers]
    assert second.pool is model.layers[2] and first.pool is None
    # conv2 applies conv1's ReLU derivative; the softmax's goes with the loss; conv1 needs no dx.
    assert second.input_relu and first.activation_grad_given and not first.need_dx
    assert plan.softmax_loss and plan.steps[-1].activation_grad_given and plan.fast
    path(False)
    plain = model._plan()
    assert not plain.fast and all(type(s) is LayerStep for s in plain.steps)
    assert [s.layers[0] for s in plain.steps] == model.layers


def test_fast_path_switched_off_from_the_environment_runs_the_plain_steps():
    code = ("import numpy as np, minicnn\n"
            "from minicnn.layers import Conv2D, MaxPooling2D, Flatten, Dense\n"
            "m = minicnn.Sequential([Conv2D(4, 3, activation='relu', input_shape=(8, 8, 1)), MaxPooling2D(),"
            " Flatten(), Dense(3, activation='softmax')])\n"
            "m.compile('sgd', 'categorical_crossentropy')\n"
            "m.train_on_batch(np.ones((2, 8, 8, 1), 'float32'), np.eye(3, dtype='float32')[:2])\n"
            "print(minicnn.backend.fast_path(), sorted({type(s).__module__ for s in m._plan().steps}))\n")
    env = {**os.environ, "MINICNN_FAST_PATH": "0"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "['minicnn.plan']"]
    env["MINICNN_FAST_PATH"] = "maybe"
    bad = subprocess.run([sys.executable, "-c", "import minicnn"], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "MINICNN_FAST_PATH must be 0 or 1" in bad.stderr


def test_set_fast_path_is_public_and_checks_its_argument(path):
    assert minicnn.set_fast_path is backend.set_fast_path
    with pytest.raises(TypeError, match="True or False"):
        path("no")


STACKS = {
    "tutorial": lambda kw, shape: [Conv2D(4, 3, activation="relu", input_shape=shape, **kw),
                                   Conv2D(3, 3, activation="relu", padding="same", **kw), MaxPooling2D(2, **kw),
                                   Flatten(**kw), Dense(8, activation="relu", **kw),
                                   Dense(4, activation="softmax", **kw)],
    "activation_layers": lambda kw, shape: [Conv2D(4, 3, input_shape=shape, **kw), Activation("relu", **kw),
                                            Conv2D(3, 3, **kw), Activation("relu", **kw), MaxPooling2D(2, **kw),
                                            Flatten(**kw), Dense(8, activation="relu", **kw),
                                            Dense(4, activation="softmax", **kw)],
    "pool_not_fused": lambda kw, shape: [Conv2D(4, 3, activation="relu", input_shape=shape, **kw),
                                         MaxPooling2D(2, padding="same", **kw), Conv2D(3, 2, strides=2, **kw),
                                         Activation("relu", **kw), MaxPooling2D(2, strides=1, **kw),
                                         Flatten(**kw), Dense(4, activation="softmax", **kw)],
    "batchnorm_tanh_avg": lambda kw, shape: [Conv2D(4, 3, activation="tanh", input_shape=shape, **kw),
                                             BatchNormalization(**kw), AveragePooling2D(**kw),
                                             Conv2D(3, 2, activation="sigmoid", **kw), Flatten(**kw), Dense(6, **kw),
                                             BatchNormalization(**kw), Activation("relu", **kw),
                                             Dense(4, activation="softmax", **kw)],
    # The tuned im2col has no dilation: these convolutions stay on the plain LayerStep.
    "dilated": lambda kw, shape: [Conv2D(4, 3, dilation_rate=2, activation="relu", input_shape=shape, **kw),
                                  MaxPooling2D(2, **kw), Conv2D(3, 2, dilation_rate=(1, 2), padding="same",
                                                                activation="gelu", **kw),
                                  Flatten(**kw), Dense(8, activation="swish", **kw), Dense(4, activation="softmax", **kw)],
    # Activations whose backward takes the input, inside the tuned conv and dense steps.
    "new_activations": lambda kw, shape: [Conv2D(4, 3, activation="gelu", input_shape=shape, **kw),
                                          Conv2D(3, 3, activation="elu", **kw), MaxPooling2D(2, **kw), Flatten(**kw),
                                          Dense(8, activation="silu", **kw), Dense(6, activation="softplus", **kw),
                                          Dense(4, activation="softmax", **kw)],
    "new_layers": lambda kw, shape: [ZeroPadding2D(1, input_shape=shape, **kw), Conv2D(4, 3, **kw),
                                     ReLU(max_value=6.0, **kw), MaxPooling2D(2, **kw), LeakyReLU(**kw),
                                     GlobalAveragePooling2D(**kw), Reshape((2, 2), **kw), Flatten(**kw),
                                     Dense(4, **kw), Softmax(**kw)],
}


def test_the_planner_keeps_dilated_convolutions_on_the_plain_step(path):
    path(True)
    model = Sequential(STACKS["dilated"]({}, (10, 10, 2)))
    model.compile("sgd", "categorical_crossentropy")
    assert [type(s).__name__ for s in model._plan().steps] == ["LayerStep", "FastMaxPool", "LayerStep", "LayerStep",
                                                              "FastDense", "FastDense"]
    assert not fast_steps.FusedConvPool.takes(model.layers[0])
    assert not fast_steps.FusedConvPool.fuses(model.layers[0], model.layers[1])


@pytest.mark.parametrize("stack", sorted(STACKS) + ["channels_first"])
def test_fast_and_plain_training_steps_agree(stack, path):
    # float64, one SGD step, so the two paths differ only by rounding: the fast steps' fusions
    # (pool inside the conv, ReLU derivatives applied by the next step) against each layer's own.
    rng = np.random.default_rng(7)
    fmt = "channels_first" if stack == "channels_first" else "channels_last"
    shape = (2, 10, 10) if fmt == "channels_first" else (10, 10, 2)
    x = rng.standard_normal((6, *shape))
    y = np.eye(4)[rng.integers(0, 4, 6)]
    kw = dict(dtype="float64")
    results = []
    for fast in (True, False):
        path(fast)
        set_random_seed(3)
        layers = STACKS["tutorial" if stack == "channels_first" else stack](kw, shape)
        if stack == "channels_first":
            for layer in layers:
                if hasattr(layer, "data_format"):
                    layer.data_format = fmt
        model = Sequential(layers)
        model.compile(optimizer=SGD(0.1), loss="categorical_crossentropy", metrics=["accuracy"])
        out = model.predict(x)
        loss = model.train_on_batch(x, y)
        results.append([out, np.array(loss), *model.get_weights()])
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
