"""A built-in layer or model on a GradientTape is one record whose backward is its own hand-written
one: the tape's gradients equal ``layer.backward``'s exactly, and ``tape.gradient`` of a model's
loss is the very update ``train_on_batch`` applies."""
import numpy as np
import pytest

import minicnn
from minicnn import layers as L
from minicnn.optimizers import SGD
from minicnn.utils import set_random_seed

F64 = "float64"

# name -> (make the layer, per-batch input shape(s), training)
LAYERS = {
    "conv2d": (lambda: L.Conv2D(3, 3, padding="same", activation="relu", dtype=F64), (2, 5, 5, 2), True),
    "conv2d_strided_cf": (lambda: L.Conv2D(2, 2, strides=2, data_format="channels_first", dtype=F64),
                          (2, 3, 6, 6), True),
    "dense": (lambda: L.Dense(4, activation="tanh", dtype=F64), (3, 5), True),
    "dense_softmax": (lambda: L.Dense(4, activation="softmax", dtype=F64), (3, 5), True),
    "batchnorm_train": (lambda: L.BatchNormalization(dtype=F64), (4, 3, 3, 2), True),
    "batchnorm_inference": (lambda: L.BatchNormalization(dtype=F64), (4, 3, 3, 2), False),
    "depthwise": (lambda: L.DepthwiseConv2D(3, depth_multiplier=2, dtype=F64), (2, 5, 5, 2), True),
    "separable": (lambda: L.SeparableConv2D(3, 3, padding="same", dtype=F64), (2, 5, 5, 2), True),
    "conv_transpose": (lambda: L.Conv2DTranspose(3, 3, strides=2, dtype=F64), (2, 4, 4, 2), True),
    "max_pool": (lambda: L.MaxPooling2D(dtype=F64), (2, 4, 4, 2), True),
    "avg_pool": (lambda: L.AveragePooling2D(padding="same", dtype=F64), (2, 5, 5, 2), True),
    "global_max_pool": (lambda: L.GlobalMaxPooling2D(dtype=F64), (2, 4, 4, 2), True),
    "global_avg_pool": (lambda: L.GlobalAveragePooling2D(dtype=F64), (2, 4, 4, 2), True),
    "dropout": (lambda: L.Dropout(0.5, dtype=F64), (3, 6), True),
    "spatial_dropout": (lambda: L.SpatialDropout2D(0.5, dtype=F64), (2, 3, 3, 4), True),
    "gaussian_noise": (lambda: L.GaussianNoise(0.3, dtype=F64), (3, 6), True),
    "gaussian_dropout": (lambda: L.GaussianDropout(0.3, dtype=F64), (3, 6), True),
    "layer_norm": (lambda: L.LayerNormalization(dtype=F64), (3, 6), True),
    "group_norm": (lambda: L.GroupNormalization(groups=2, dtype=F64), (2, 3, 3, 4), True),
    "upsampling": (lambda: L.UpSampling2D(dtype=F64), (2, 3, 3, 2), True),
    "zero_padding": (lambda: L.ZeroPadding2D(1, dtype=F64), (2, 3, 3, 2), True),
    "cropping": (lambda: L.Cropping2D(1, dtype=F64), (2, 4, 4, 2), True),
    "flatten": (lambda: L.Flatten(dtype=F64), (2, 3, 3, 2), True),
    "reshape": (lambda: L.Reshape((9, 2), dtype=F64), (2, 3, 3, 2), True),
    "softmax": (lambda: L.Softmax(dtype=F64), (3, 5), True),
    "activation_elu": (lambda: L.Activation("elu", dtype=F64), (3, 5), True),
    "relu_capped": (lambda: L.ReLU(max_value=0.5, dtype=F64), (3, 5), True),
    "leaky_relu": (lambda: L.LeakyReLU(dtype=F64), (3, 5), True),
    "rescaling": (lambda: L.Rescaling(0.5, 0.1, dtype=F64), (3, 5), True),
}
for _merge in ("Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate"):
    LAYERS[_merge.lower()] = (lambda m=_merge: getattr(L, m)(dtype=F64), [(3, 4), (3, 4)], True)


def _random_weights(layer, rng):
    for name, w in layer.params.items():
        w[...] = np.abs(rng.standard_normal(w.shape)) + 0.5 if "variance" in name else rng.standard_normal(w.shape)


RANDOM = {"dropout", "spatial_dropout", "gaussian_dropout", "gaussian_noise"}


@pytest.fixture(params=[False, True], ids=["plain", "fast"])
def fast_path(request):
    previous = minicnn.backend.fast_path()
    minicnn.set_fast_path(request.param)
    yield request.param
    minicnn.set_fast_path(previous)


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_the_tape_gives_the_layers_own_backward(name, fast_path):
    """On the plain path the tape's record is the layer's own forward and backward, bit for bit; on
    the fast path (a tuned step where there is one) the same to rounding, and a random layer's input
    gradient is its own mask's (dx = dy * y / x, or dy for additive noise)."""
    make, shape, training = LAYERS[name]
    rng = np.random.default_rng(sorted(LAYERS).index(name))
    layer = make()
    many = isinstance(shape, list)
    x = [rng.standard_normal(s) for s in shape] if many else rng.standard_normal(shape)
    layer.build([s[1:] for s in shape] if many else shape[1:])
    _random_weights(layer, rng)
    moving = [w.copy() for w in layer.non_trainable_weights]
    set_random_seed(1)  # the same dropout mask / noise on both runs
    y, cache = layer.forward(x, training=training)
    dy = rng.standard_normal(y.shape)
    dx, grads = layer.backward(dy, cache)
    expected = (list(dx) if many else [dx]) + list(layer.trainable_gradients(grads))

    set_random_seed(1)
    with minicnn.GradientTape() as tape:
        tape.watch(x)
        out = layer(x, training=training)
    sources = (list(x) if many else [x]) + layer.trainable_weights
    got = tape.gradient(out, sources, output_gradients=dy)
    assert isinstance(out, minicnn.ops.Tensor) and out.dtype == np.float64
    assert len(got) == len(expected)
    if fast_path and name in RANDOM:  # the tuned step draws its own mask: check the gradient is that mask's
        mask = np.ones_like(x) if name == "gaussian_noise" else out.numpy() / x
        np.testing.assert_allclose(got[0].numpy(), dy * mask, rtol=1e-12)
        return
    if not fast_path:
        np.testing.assert_array_equal(out.numpy(), y)
    else:
        np.testing.assert_allclose(out.numpy(), y, rtol=1e-10, atol=1e-12)
    for g, e in zip(got, expected):
        assert e is not None and g is not None and g.dtype == np.float64
        if fast_path:
            np.testing.assert_allclose(g.numpy(), e, rtol=1e-10, atol=1e-12)
        else:
            np.testing.assert_array_equal(g.numpy(), e)
    if name == "batchnorm_train":  # the call on the tape committed the batch statistics, as a training step does
        assert not any(np.array_equal(a, b) for a, b in zip(moving, layer.non_trainable_weights))
    else:
        assert all(np.array_equal(a, b) for a, b in zip(moving, layer.non_trainable_weights))


def test_batchnorm_in_inference_gives_gamma_and_beta_their_gradients():
    rng = np.random.default_rng(7)
    layer = L.BatchNormalization(dtype=F64)
    layer.build((3, 2))
    _random_weights(layer, rng)
    gamma, beta, mean, var = layer.get_weights()
    x, dy = rng.standard_normal((4, 3, 2)), rng.standard_normal((4, 3, 2))
    with minicnn.GradientTape() as tape:
        out = layer(x, training=False)
    dgamma, dbeta = tape.gradient(out, layer.trainable_weights, output_gradients=dy)
    np.testing.assert_allclose(dbeta.numpy(), dy.sum(axis=(0, 1)))
    np.testing.assert_allclose(dgamma.numpy(), (dy * (x - mean) / np.sqrt(var + layer.epsilon)).sum(axis=(0, 1)))


def tutorial_cnn():
    return minicnn.Sequential([L.Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), L.MaxPooling2D(),
                               L.Dropout(0.25), L.Flatten(), L.Dense(10, activation="softmax")])


def residual_bn():
    inputs = minicnn.Input((6, 6, 2))
    x = L.Activation("relu")(L.BatchNormalization(momentum=0.5)(L.Conv2D(3, 3, padding="same")(inputs)))
    y = L.BatchNormalization()(L.Conv2D(3, 3, padding="same", use_bias=False)(x))
    h = L.GlobalAveragePooling2D()(L.add([x, y]))
    return minicnn.Model(inputs, L.Dense(5)(h))


CASES = {
    "sequential_cce": (tutorial_cnn, (6, 8, 8, 1), lambda: minicnn.losses.CategoricalCrossentropy(),
                       lambda rng: np.eye(10, dtype="float32")[rng.integers(0, 10, 6)], 1e-6),
    "residual_sparse_logits": (residual_bn, (6, 6, 6, 2),
                               lambda: minicnn.losses.SparseCategoricalCrossentropy(from_logits=True),
                               lambda rng: rng.integers(0, 5, 6), 1e-6),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_tape_gradient_of_a_models_loss_is_what_train_on_batch_applies(case, fast_path):
    make, shape, make_loss, targets, atol = CASES[case]
    rng = np.random.default_rng(3)
    set_random_seed(0)
    by_fit, by_tape = make(), make()
    by_tape.set_weights(by_fit.get_weights())
    by_fit.compile(SGD(0.1), loss=make_loss())
    loss_fn, optimizer = make_loss(), SGD(0.1)
    for step in range(3):
        x, y = rng.standard_normal(shape).astype("float32"), targets(rng)
        set_random_seed(10 + step)
        fit_loss = by_fit.train_on_batch(x, y)
        set_random_seed(10 + step)
        with minicnn.GradientTape() as tape:
            loss = loss_fn(y, by_tape(x, training=True))
        grads = tape.gradient(loss, by_tape.trainable_weights)
        assert all(g.dtype == np.float32 for g in grads)
        optimizer.apply_gradients(zip(grads, by_tape.trainable_weights))
        assert float(loss) == pytest.approx(float(fit_loss), rel=1e-6)
        for a, b in zip(by_fit.get_weights(), by_tape.get_weights()):  # moving statistics included
            np.testing.assert_allclose(b, a, rtol=0, atol=atol)
    np.testing.assert_allclose(by_tape.predict(x, verbose=0), by_fit.predict(x, verbose=0), atol=1e-5)
