"""Each tuned step against the plain layers it replaces, on shapes hypothesis draws: the fused
Conv2D + MaxPooling2D against the two plain layers, ReLU derivatives applied by the next step,
Dense, BatchNormalization and Dropout, and the first step without an input gradient."""
import numpy as np
from hypothesis import given, strategies as st

from minicnn.cpu import steps
from minicnn.layers import BatchNormalization, Conv2D, Dense, Dropout, MaxPooling2D
from minicnn.utils import set_random_seed


def plain_chain(layers, x, dy):
    """Forward and backward through the layers' own methods: the output, dx and each layer's grads."""
    caches = []
    for layer in layers:
        x, cache = layer.forward(x, training=True)
        caches.append(cache)
    grads = []
    for layer, cache in zip(reversed(layers), reversed(caches)):
        dy, g = layer.backward(dy, cache)
        grads[:0] = layer.trainable_gradients(g)
    return x, dy, grads


def assert_close(got, want):
    for g, w in zip(got, want):
        np.testing.assert_allclose(g, w, rtol=1e-10, atol=1e-12)


@st.composite
def conv_pool(draw):
    K = draw(st.integers(1, 3))
    S = draw(st.integers(1, 2))
    padding = draw(st.sampled_from(["valid", "same"]))
    H = draw(st.integers(K + 5, 10))  # the conv output is at least 3x3 for every pool
    pool = draw(st.sampled_from([(2, 2), (3, 3), (2, 1)]))
    pool_strides = draw(st.sampled_from([None, (1, 1), (2, 1)]))
    return (draw(st.integers(1, 4)), H, draw(st.integers(1, 3)), K, S, padding, draw(st.sampled_from(["relu", "linear"])),
            pool, pool_strides)


@given(conv_pool(), st.booleans())
def test_fused_conv_and_pool_match_the_plain_layers(cfg, need_dx):
    N, H, C, K, S, padding, activation, pool, pool_strides = cfg
    set_random_seed(1)
    conv = Conv2D(3, K, strides=S, padding=padding, activation=activation, dtype="float64",
                  bias_initializer="random_normal")
    conv.build((H, H, C))
    pooling = MaxPooling2D(pool, pool_strides, dtype="float64")
    pooling.build(conv.output_shape)
    assert steps.FusedConvPool.fuses(conv, pooling)
    rng = np.random.default_rng(2)
    x = rng.standard_normal((N, H, H, C))
    dy = rng.standard_normal((N, *pooling.output_shape))
    y, dx, grads = plain_chain([conv, pooling], x, dy)
    step = steps.FusedConvPool(conv, pooling)
    step.need_dx = need_dx
    got_y, cache = step.forward(x, training=True)
    got_dx, got_grads = step.backward(dy, cache)
    assert_close([got_y, *got_grads], [y, *grads])
    if need_dx:
        assert_close([got_dx], [dx])
    else:
        assert got_dx is None
    assert np.array_equal(step.forward(x, training=False)[0], got_y)


@given(st.integers(1, 5), st.booleans(), st.sampled_from([MaxPooling2D, Conv2D]))
def test_a_step_applying_the_previous_relu_derivative_matches_the_plain_layers(N, same, cls):
    # Conv2D(relu) then a step that absorbs its ReLU derivative: the pair against the plain pair.
    set_random_seed(3)
    first = Conv2D(3, 2, activation="relu", dtype="float64", bias_initializer="random_normal")
    first.build((7, 7, 2))
    second = (MaxPooling2D(2, padding="same" if same else "valid", dtype="float64") if cls is MaxPooling2D
              else Conv2D(2, 3, padding="same" if same else "valid", dtype="float64"))
    second.build(first.output_shape)
    rng = np.random.default_rng(4)
    x = rng.standard_normal((N, 7, 7, 2))
    dy = rng.standard_normal((N, *second.output_shape))
    y, dx, grads = plain_chain([first, second], x, dy)
    a = steps.FusedConvPool(first)
    b = steps.FastMaxPool(second) if cls is MaxPooling2D else steps.FusedConvPool(second)
    a.activation_grad_given, b.input_relu = True, True  # as the planner sets them
    h, ca = a.forward(x, True)
    out, cb = b.forward(h, True)
    d, gb = b.backward(dy, cb)
    got_dx, ga = a.backward(d, ca)
    assert_close([out, got_dx, *ga, *gb], [y, dx, *grads])


@given(st.integers(1, 6), st.sampled_from(["relu", "tanh", "softmax", "linear"]), st.booleans())
def test_dense_step_matches_the_plain_layer(N, activation, split):
    set_random_seed(5)
    layer = Dense(4, activation=activation, dtype="float64", bias_initializer="random_normal")
    layer.build((5,))
    rng = np.random.default_rng(6)
    x, dy = rng.standard_normal((N, 5)), rng.standard_normal((N, 4))
    y, dx, grads = plain_chain([layer], x, dy)
    from minicnn.cpu import dense
    saved = dense.SPLIT_ABOVE
    dense.SPLIT_ABOVE = 0 if split else saved  # split products: two pieces on the workers
    try:
        step = steps.FastDense(layer)
        got_y, cache = step.forward(x, True)
        got_dx, got_grads = step.backward(dy, cache)
    finally:
        dense.SPLIT_ABOVE = saved
    assert_close([got_y, got_dx, *got_grads], [y, dx, *grads])


@given(st.sampled_from([(6, 3), (4, 5, 5, 3)]), st.booleans())
def test_batch_normalization_step_matches_the_plain_layer(shape, trainable):
    # Trainable: batch statistics (and the moving ones updated); frozen: the inference transform.
    training = True
    rng = np.random.default_rng(7)
    x, dy = rng.standard_normal(shape) * 2 + 1, rng.standard_normal(shape)
    layers = []
    for _ in range(2):
        bn = BatchNormalization(dtype="float64", gamma_initializer="random_normal", trainable=trainable)
        bn.build(shape[1:])
        layers.append(bn)
    plain, fast = layers
    fast.set_weights(plain.get_weights())
    y, cache = plain.forward(x, training)
    dx, grads = plain.backward(dy, cache)
    step = steps.FastBatchNormalization(fast)
    got_y, got_cache = step.forward(x, training)
    got_dx, got_grads = step.backward(dy, got_cache)
    assert_close([got_y, got_dx, *got_grads, *fast.get_weights()],
                 [y, dx, *plain.trainable_gradients(grads), *plain.get_weights()])


def test_dropout_step_masks_and_scales_as_the_plain_layer():
    # The two draw from different streams; both give y = x * mask with the mask 0 or 1/(1-rate),
    # and the backward multiplies by the same mask.
    x = np.random.default_rng(8).standard_normal((300, 40)).astype(np.float32)
    for layer_or_step in (Dropout(0.25), steps.FastDropout(Dropout(0.25))):
        y, mask = layer_or_step.forward(x, True)
        assert set(np.unique(mask)) == {np.float32(0), np.float32(1 / 0.75)} and mask.dtype == np.float32
        assert abs((mask == 0).mean() - 0.25) < 0.01 and np.array_equal(y, x * mask)
        dx, _ = layer_or_step.backward(x, mask)
        assert np.array_equal(dx, x * mask)
        assert layer_or_step.forward(x, False)[0] is x
