"""Keras 1/2's backend functions (``K = keras.backend``; minicnn/ops/backend_functions.py) against
NumPy, with Keras 2's argument names and defaults; the siamese example's euclidean distance and its
gradient; ``int_shape`` of arrays, Tensors and symbolic tensors."""
import numpy as np
import pytest

import minicnn as keras
from minicnn.tape import GradientTape, Tensor
from ops.checks import away_from_zero, check_op, distinct, positive

K = keras.backend


def test_the_siamese_euclidean_distance_and_its_gradient(device):
    """mnist_siamese.py: sqrt(max(sum((x - y)**2, axis=1, keepdims=True), epsilon))."""
    x, y = away_from_zero((4, 5), 1), away_from_zero((4, 5), 2)
    x[3] = y[3]  # identical pair: the epsilon floor keeps sqrt's gradient finite (and zero)

    def distance(x, y):
        return K.sqrt(K.maximum(K.sum(K.square(x - y), axis=1, keepdims=True), K.epsilon()))
    check_op(device, distance, x[:3], y[:3], reference=lambda x, y: np.linalg.norm(x - y, axis=1, keepdims=True),
             tensors=True)
    with GradientTape() as tape:
        tx, ty = Tensor(x), Tensor(y)  # a Lambda's inputs
        tape.watch([tx, ty])
        d = distance(tx, ty)
    np.testing.assert_allclose(d.numpy()[3], [np.sqrt(1e-7)])
    gx, gy = tape.gradient(d, [tx, ty])
    np.testing.assert_array_equal(gx.numpy()[3], 0)
    np.testing.assert_allclose(gx.numpy()[:3], (x - y)[:3] / np.linalg.norm(x - y, axis=1, keepdims=True)[:3])
    np.testing.assert_allclose(gy.numpy(), -gx.numpy())
    x32, y32 = x.astype(np.float32), y.astype(np.float32)
    assert distance(x32, y32).dtype == np.float32 and type(distance(x32, y32)) is np.ndarray


def test_epsilon_floatx_and_the_existing_settings():
    assert K.epsilon() == 1e-7 and K.floatx() == "float32" and K.image_data_format() == "channels_last"
    K.set_epsilon(1e-5)
    try:
        assert K.epsilon() == 1e-5
    finally:
        K.set_epsilon(1e-7)
    assert callable(K.clear_session)


@pytest.mark.parametrize("name, call, reference", [
    ("sum", lambda K, x: K.sum(x), lambda x: np.sum(x)),
    ("sum", lambda K, x: K.sum(x, axis=1, keepdims=True), lambda x: np.sum(x, axis=1, keepdims=True)),
    ("mean", lambda K, x: K.mean(x, axis=-1), lambda x: np.mean(x, axis=-1)),
    ("max", lambda K, x: K.max(x, axis=0), lambda x: np.max(x, axis=0)),
    ("min", lambda K, x: K.min(x, 1, True), lambda x: np.min(x, 1, keepdims=True)),
    ("std", lambda K, x: K.std(x, axis=1), lambda x: np.std(x, axis=1)),
    ("var", lambda K, x: K.var(x), lambda x: np.var(x)),
    ("prod", lambda K, x: K.prod(x, axis=1), lambda x: np.prod(x, axis=1)),
    ("logsumexp", lambda K, x: K.logsumexp(x, axis=1), lambda x: np.log(np.exp(x).sum(axis=1))),
    ("square", lambda K, x: K.square(x), np.square),
    ("sqrt", lambda K, x: K.sqrt(x * x), lambda x: np.abs(x)),
    ("abs", lambda K, x: K.abs(x), np.abs),
    ("exp", lambda K, x: K.exp(x), np.exp),
    ("log", lambda K, x: K.log(x * x), lambda x: np.log(x * x)),
    ("pow", lambda K, x: K.pow(x, 3), lambda x: x ** 3),
    ("clip", lambda K, x: K.clip(x, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7)),
    ("clip", lambda K, x: K.clip(x, None, 0.7), lambda x: np.minimum(x, 0.7)),
    ("maximum", lambda K, x: K.maximum(x, 0.3), lambda x: np.maximum(x, 0.3)),
    ("minimum", lambda K, x: K.minimum(x, 0.3), lambda x: np.minimum(x, 0.3)),
    ("concatenate", lambda K, x: K.concatenate([x, 2 * x]), lambda x: np.concatenate([x, 2 * x], axis=-1)),
    ("stack", lambda K, x: K.stack([x, x], axis=1), lambda x: np.stack([x, x], axis=1)),
    ("reshape", lambda K, x: K.reshape(x, (4, 3)), lambda x: x.reshape(4, 3)),
    ("flatten", lambda K, x: K.flatten(x), np.ravel),
    ("batch_flatten", lambda K, x: K.batch_flatten(K.expand_dims(x)), lambda x: x),
    ("expand_dims", lambda K, x: K.expand_dims(x), lambda x: x[..., None]),
    ("squeeze", lambda K, x: K.squeeze(K.expand_dims(x, 1), 1), lambda x: x),
    ("transpose", lambda K, x: K.transpose(x), np.transpose),
    ("permute_dimensions", lambda K, x: K.permute_dimensions(x, (1, 0)), np.transpose),
    ("dot", lambda K, x: K.dot(x, np.ones((4, 2))), lambda x: x @ np.ones((4, 2))),
    ("softmax", lambda K, x: K.softmax(x), lambda x: np.exp(x) / np.exp(x).sum(-1, keepdims=True)),
    ("relu", lambda K, x: K.relu(x), lambda x: np.maximum(x, 0)),
    ("relu", lambda K, x: K.relu(x, alpha=0.1, max_value=0.8, threshold=0.25),
     lambda x: np.where(x > 0.25, np.minimum(x, 0.8), 0.1 * (x - 0.25))),
    ("sigmoid", lambda K, x: K.sigmoid(x), lambda x: 1 / (1 + np.exp(-x))),
    ("hard_sigmoid", lambda K, x: K.hard_sigmoid(x * 4), lambda x: np.clip(0.8 * x + 0.5, 0, 1)),
    ("tanh", lambda K, x: K.tanh(x), np.tanh),
    ("elu", lambda K, x: K.elu(x, 0.5), lambda x: np.where(x > 0, x, 0.5 * np.expm1(x))),
    ("l2_normalize", lambda K, x: K.l2_normalize(x, axis=1), lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)),
    ("switch", lambda K, x: K.switch(x > 0, x, -2 * x), lambda x: np.where(x > 0, x, -2 * x)),
    ("gather", lambda K, x: K.gather(x, np.array([2, 0, 2])), lambda x: x[[2, 0, 2]]),
    ("repeat_elements", lambda K, x: K.repeat_elements(x, 2, axis=1), lambda x: np.repeat(x, 2, axis=1)),
    ("tile", lambda K, x: K.tile(x, (1, 2)), lambda x: np.tile(x, (1, 2))),
    ("cumsum", lambda K, x: K.cumsum(x), lambda x: np.cumsum(x, axis=0)),
    ("cast", lambda K, x: K.cast(x, "float64"), lambda x: x),
])
def test_backend_functions_against_numpy_with_keras_2_defaults(device, name, call, reference):
    x = distinct((3, 4), 3) + 0.05  # no zeros, no ties
    check_op(device, lambda x: call(K, x), x, reference=reference, rtol=1e-9, tensors=True)


def test_no_gradient_functions_and_keras_2_defaults():
    x = distinct((3, 4), 4)
    np.testing.assert_array_equal(K.argmax(x), np.argmax(x, axis=-1))
    np.testing.assert_array_equal(K.argmin(x, axis=0), np.argmin(x, axis=0))
    np.testing.assert_array_equal(K.equal(x, x[0]), x == x[0])
    np.testing.assert_array_equal(K.not_equal(x, 0.1), x != 0.1)
    np.testing.assert_array_equal(K.greater(x, 0), x > 0)
    np.testing.assert_array_equal(K.less_equal(x, 0), x <= 0)
    np.testing.assert_array_equal(K.one_hot(np.array([1, 0]), 3), np.eye(3, dtype=np.float32)[[1, 0]])
    assert K.cast(x, "int32").dtype == np.int32
    assert K.arange(3).dtype == np.int32
    np.testing.assert_array_equal(K.round(np.array([0.4, 1.6])), [0, 2])
    np.testing.assert_array_equal(K.sign(np.array([-2.0, 0, 3])), [-1, 0, 1])
    assert bool(K.any(x > 0)) and not bool(K.all(x > 0))


def test_batch_dot_as_keras_2_documents_it():
    x, y = positive((32, 20), 5), positive((32, 30, 20), 6)
    out = K.batch_dot(x, y, axes=(1, 2))
    assert K.int_shape(out) == (32, 30)
    np.testing.assert_allclose(out, np.einsum("bi,bji->bj", x, y))
    a, b = positive((4, 3), 7), positive((4, 3), 8)
    np.testing.assert_allclose(K.batch_dot(a, b, axes=1), (a * b).sum(1, keepdims=True))
    c, d = positive((2, 3, 4), 9), positive((2, 4, 5), 10)
    np.testing.assert_allclose(K.batch_dot(c, d), c @ d)
    with pytest.raises(ValueError, match="batch axis"):
        K.batch_dot(a, b, axes=0)


def test_batch_dot_gradient(device):
    check_op(device, lambda c, d: K.batch_dot(c, d, axes=(1, 2)), positive((2, 3, 4), 11), positive((2, 2, 3), 12),
             reference=lambda c, d: np.einsum("bij,bki->bjk", c, d))


def test_int_shape_and_shape_on_arrays_tensors_and_symbolic_tensors():
    x = np.zeros((2, 3), np.float32)
    assert K.int_shape(x) == (2, 3) and K.int_shape(Tensor(x)) == (2, 3)
    assert K.int_shape(keras.Input((28, 28, 1))) == (None, 28, 28, 1)
    assert K.shape(x)[0] == 2 and K.ndim(x) == 2 and K.dtype(x) == "float32"
    assert K.count_params(x) == 6
    assert K.is_keras_tensor(keras.Input((3,))) and not K.is_keras_tensor(x)


def test_variables_constants_and_values():
    v = K.variable([[1.0, 2.0]])
    assert v.dtype == np.float32 and K.int_shape(v) == (1, 2)
    K.set_value(v, [[3.0, 4.0]])
    np.testing.assert_array_equal(K.get_value(v), [[3, 4]])
    np.testing.assert_array_equal(K.eval(K.constant(2.0, shape=(2, 2))), np.full((2, 2), 2.0, np.float32))
    assert K.constant(1, dtype="int32").dtype == np.int32
    assert K.zeros((2, 3)).dtype == np.float32 and K.ones((2,), dtype="int32").dtype == np.int32
    np.testing.assert_array_equal(K.eye(2), np.eye(2))
    np.testing.assert_array_equal(K.zeros_like(v), [[0, 0]])
    np.testing.assert_array_equal(K.ones_like(v), [[1, 1]])
    assert [a.tolist() for a in K.batch_get_value([v])] == [[[3.0, 4.0]]]


def test_keras_backend_lists_them_and_a_misspelling_says_the_closest():
    assert {"sum", "epsilon", "int_shape", "batch_dot", "floatx"} <= set(dir(K))
    with pytest.raises(AttributeError, match="Closest in minicnn.backend: square"):
        K.sqaure  # noqa: B018
    import minicnn.backend as backend_module
    assert backend_module.sum is K.sum
