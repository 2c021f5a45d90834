"""The fast CPU path (chunks, worker threads, reused buffers, fused ReLU and bias, ReLU
derivatives applied by the next layer, flipped-kernel input gradient, first layer without input
gradient) against a plain reference training step kept here: straightforward im2col, col2im, no
buffer reuse, no fusion, no threads."""
import numpy as np
import pytest

import minicnn.ops.conv as conv
import minicnn.ops.dense as dense_ops
import minicnn.ops.dropout as dropout_ops
from minicnn import Sequential, parallel
from minicnn.layers import Activation, Conv2D, Dense, Flatten, MaxPooling2D
from minicnn.ops.workspace import Workspace
from minicnn.optimizers import SGD, Adadelta
from minicnn.utils import set_random_seed


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


@pytest.mark.parametrize("threads", [1, 2])
def test_fast_training_matches_the_plain_reference(threads, monkeypatch):
    # Small chunks so chunk boundaries and both workers are exercised.
    monkeypatch.setattr(conv, "CHUNK_BYTES", 64 << 10)
    parallel.set_num_threads(threads)
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
        parallel.set_num_threads(parallel.default_num_threads())


def test_results_do_not_depend_on_the_thread_count(monkeypatch):
    monkeypatch.setattr(conv, "CHUNK_BYTES", 32 << 10)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((13, 9, 9, 3)).astype(np.float32)
    Wk = rng.standard_normal((3, 3, 3, 4)).astype(np.float32)
    b = rng.standard_normal(4).astype(np.float32)
    dy = rng.standard_normal((13, 9, 9, 4)).astype(np.float32)
    outs = []
    for threads in (1, 2, 3):
        parallel.set_num_threads(threads)
        y, cache = conv.conv2d_forward(x, Wk, b, padding="same", relu=True, ws=Workspace())
        outs.append((y, *conv.conv2d_backward(dy, cache, ws=Workspace())))
    parallel.set_num_threads(parallel.default_num_threads())
    for other in outs[1:]:
        for a, b_ in zip(outs[0], other):
            assert np.array_equal(a, b_)


def _one_sgd_step(layers, x, y):
    model = Sequential(layers)
    model.compile(optimizer=SGD(0.1), loss="categorical_crossentropy")
    model.train_on_batch(x, y)
    return model.get_weights()


@pytest.mark.parametrize("stack", ["fused", "activation_layers", "channels_first"])
def test_relu_derivative_applied_by_the_next_layer_changes_nothing(stack, monkeypatch):
    # The conv / max-pool after a ReLU apply its derivative (Layer.absorbs_input_relu); with
    # that switched off every layer applies its own, as the layer gradient checks verify.
    rng = np.random.default_rng(7)
    fmt = "channels_first" if stack == "channels_first" else "channels_last"
    shape = (2, 10, 10) if fmt == "channels_first" else (10, 10, 2)
    x = rng.standard_normal((6, *shape))
    y = np.eye(4)[rng.integers(0, 4, 6)]

    def layers():
        set_random_seed(3)
        kw = dict(dtype="float64", data_format=fmt)
        if stack == "activation_layers":
            return [Conv2D(4, 3, input_shape=shape, **kw), Activation("relu", dtype="float64"),
                    Conv2D(3, 3, **kw), Activation("relu", dtype="float64"), MaxPooling2D(2, **kw),
                    Flatten(dtype="float64"), Dense(8, activation="relu", dtype="float64"),
                    Dense(4, activation="softmax", dtype="float64")]
        return [Conv2D(4, 3, activation="relu", input_shape=shape, **kw),
                Conv2D(3, 3, activation="relu", padding="same", **kw), MaxPooling2D(2, **kw),
                Flatten(dtype="float64", data_format=fmt), Dense(8, activation="relu", dtype="float64"),
                Dense(4, activation="softmax", dtype="float64")]
    absorbed = _one_sgd_step(layers(), x, y)
    monkeypatch.setattr(Conv2D, "absorbs_input_relu", False)
    monkeypatch.setattr(MaxPooling2D, "absorbs_input_relu", False)
    own = _one_sgd_step(layers(), x, y)
    assert len(absorbed) == len(own)
    for a, b in zip(absorbed, own):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("threads", [1, 2])
def test_split_dense_products_match_the_plain_products(threads, monkeypatch):
    monkeypatch.setattr(dense_ops, "SPLIT_ABOVE", 0)
    parallel.set_num_threads(threads)
    try:
        rng = np.random.default_rng(2)
        x, Wk, b = rng.standard_normal((7, 5)), rng.standard_normal((5, 3)), rng.standard_normal(3)
        dy = rng.standard_normal((7, 3))
        np.testing.assert_allclose(dense_ops.dense_forward(x, Wk, b), x @ Wk + b, rtol=1e-13)
        dx, dW, db = dense_ops.dense_backward(dy, x, Wk, True)
        np.testing.assert_allclose(dx, dy @ Wk.T, rtol=1e-13)
        np.testing.assert_allclose(dW, x.T @ dy, rtol=1e-13)
        np.testing.assert_allclose(db, dy.sum(axis=0), rtol=1e-13)
    finally:
        parallel.set_num_threads(parallel.default_num_threads())


def test_dropout_masks_do_not_depend_on_the_thread_count():
    x = np.random.default_rng(4).standard_normal((64, 40, 40)).astype(np.float32)
    results = []
    for threads in (1, 2, 3):
        parallel.set_num_threads(threads)
        set_random_seed(11)
        results.append(dropout_ops.dropout_forward(x, 0.3))
    parallel.set_num_threads(parallel.default_num_threads())
    y, mask = results[0]
    for other_y, other_mask in results[1:]:
        assert np.array_equal(y, other_y) and np.array_equal(mask, other_mask)
    # The mask is 0 or 1/(1-rate), drops about 30% (binomial sd 0.0011 here) and y = x * mask.
    assert set(np.unique(mask)) == {np.float32(0), np.float32(1 / 0.7)}
    assert abs((mask == 0).mean() - 0.3) < 0.006
    assert mask.dtype == np.float32 and np.array_equal(y, x * mask)
    # The two halves of the batch are drawn from different streams.
    assert not np.array_equal(mask[:32], mask[32:])


def test_workspace_gives_a_smaller_request_the_same_memory():
    ws = Workspace()
    big = ws.get("cols", (4, 6), np.float32, np.zeros(1))
    small = ws.get("cols", (3, 5), np.float32, np.zeros(1))
    assert small.shape == (3, 5) and np.shares_memory(big, small)
    larger = ws.get("cols", (5, 6), np.float32, np.zeros(1))
    assert larger.shape == (5, 6) and not np.shares_memory(big, larger)
    assert ws.get("cols", (2, 2), np.float64, np.zeros(1)).dtype == np.float64


@pytest.mark.parametrize("activation", ["relu", None])
@pytest.mark.parametrize("pool, strides", [((2, 2), None), ((2, 2), (1, 1)), ((3, 3), (2, 2)), ((2, 3), (2, 1))])
def test_max_pool_done_inside_the_convolution_changes_nothing(activation, pool, strides, monkeypatch):
    # Conv2D.fuses_with lets the convolution pool each chunk itself; the separate layers are the
    # reference (each checked against naive loops and numerical gradients). The conv output is
    # 9x9 (odd: the last row and column are outside every 2x2 window) or overlapping windows.
    monkeypatch.setattr(conv, "CHUNK_BYTES", 16 << 10)  # several chunks of a few samples
    rng = np.random.default_rng(5)
    x = rng.standard_normal((10, 11, 11, 2))
    y = np.eye(3)[rng.integers(0, 3, 10)]

    def run():
        set_random_seed(1)
        model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(11, 11, 2), dtype="float64"),
                            Conv2D(5, 3, activation=activation, dtype="float64"),
                            MaxPooling2D(pool, strides, dtype="float64"), Flatten(dtype="float64"),
                            Dense(3, activation="softmax", dtype="float64")])
        model.compile(optimizer=SGD(0.1), loss="categorical_crossentropy")
        out = model.predict(x, verbose=0)
        model.train_on_batch(x, y)
        return model, [out, *model.get_weights()]
    model, fused = run()
    assert model.layers[2].fused_into_previous
    monkeypatch.setattr(Conv2D, "fuses_with", lambda self, nxt: False)
    model, separate = run()
    assert not model.layers[2].fused_into_previous
    for a, b in zip(fused, separate):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("N, step", [(32, 3), (128, 3), (7, 7), (7, 2), (5, 1), (1, 4), (100, 64)])
def test_chunks_cover_the_range_in_balanced_pieces(N, step):
    chunks = parallel.chunk_bounds(N, step)
    assert [lo for lo, _ in chunks] == [0] + [hi for _, hi in chunks[:-1]] and chunks[-1][1] == N
    sizes = [hi - lo for lo, hi in chunks]
    assert max(sizes) <= step and max(sizes) - min(sizes) <= 1
    # An even number of chunks (two workers get equal shares) unless that would need empty ones.
    assert len(chunks) == 1 or len(chunks) % 2 == 0 or len(chunks) == N
    assert parallel.chunk_bounds(0, step) == []


def test_run_chunks_calls_every_chunk_once_and_returns_results_in_order():
    seen = []
    parallel.set_num_threads(2)
    try:
        results = parallel.run_chunks(lambda lo, hi, t: seen.append((lo, hi, t)) or (lo, hi), 32, 3)
    finally:
        parallel.set_num_threads(parallel.default_num_threads())
    assert results == parallel.chunk_bounds(32, 3)
    assert sorted((lo, hi) for lo, hi, _ in seen) == results  # each chunk once, whoever ran it
    assert {t for _, _, t in seen} <= {0, 1}


def test_zero_padded_buffers_keep_their_border_across_geometries():
    # One workspace, several geometries and chunk sizes in turn: every padded copy must equal
    # np.pad's, although each buffer's border is written only when it is allocated.
    ws = Workspace()
    rng = np.random.default_rng(8)
    for N, H, W, pads in [(3, 5, 5, ((1, 1), (1, 1))), (2, 5, 5, ((1, 1), (1, 1))),
                          (3, 5, 5, ((0, 2), (0, 2))), (4, 6, 4, ((1, 1), (1, 1))), (3, 5, 5, ((1, 1), (1, 1)))]:
        x = rng.standard_normal((N, H, W, 2))
        got = conv.zero_padded(x, pads, ws, "p")
        np.testing.assert_array_equal(got, np.pad(x, ((0, 0), *pads, (0, 0))))
