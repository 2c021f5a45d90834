"""A graph model on the GPU path (the fake CuPy): two inputs, a residual add, a concatenation, a
shared layer and two outputs train and predict as on NumPy, with no host round trip in a step."""
import numpy as np

import minicnn
from minicnn import optimizers
from minicnn.layers import BatchNormalization, Conv2D, Dense, Flatten, MaxPooling2D, add, concatenate
from minicnn.utils import set_random_seed

from gpu_path_models import assert_same_weights


def graph_model():
    set_random_seed(4)
    image, vector = minicnn.Input(shape=(10, 10, 1)), minicnn.Input(shape=(6,))
    a = Conv2D(4, 3, padding="same", activation="relu")(image)
    b = BatchNormalization()(Conv2D(4, 3, padding="same", use_bias=False)(a))
    h = Flatten()(MaxPooling2D()(add([a, b])))
    shared = Dense(5, activation="tanh")
    h = concatenate([h, shared(vector), shared(vector)])  # one layer, two calls
    model = minicnn.Model([image, vector], [Dense(3, activation="softmax", name="cls")(h), Dense(2, name="reg")(h)])
    model.compile(optimizers.Adam(0.01), ["categorical_crossentropy", "mse"], loss_weights=[1.0, 0.5],
                  metrics=[["accuracy"], []])
    return model


def test_a_graph_model_trains_on_the_fake_cupy_as_on_numpy(fake_cupy):
    minicnn.set_backend("numpy")
    cpu = graph_model()
    minicnn.set_backend("cupy")
    gpu = graph_model()
    gpu.set_weights(cpu.get_weights())
    rng = np.random.default_rng(0)
    xs = [rng.random((12, 10, 10, 1), dtype=np.float32), rng.random((12, 6), dtype=np.float32)]
    ys = [np.eye(3, dtype=np.float32)[rng.integers(0, 3, 12)], rng.random((12, 2), dtype=np.float32)]
    for model in (gpu, cpu):
        set_random_seed(1)
        model.fit(xs, ys, batch_size=4, epochs=2, verbose=0)
    assert_same_weights(gpu, cpu)
    for a, b in zip(gpu.predict(xs), cpu.predict(xs)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)  # float32 weights that differ by ulps
    batch = [fake_cupy.asarray(a) for a in xs], [fake_cupy.asarray(a) for a in ys]
    fake_cupy.transfers.reset()
    gpu._train_step(*batch)
    assert fake_cupy.transfers.count == 0, fake_cupy.transfers.log
