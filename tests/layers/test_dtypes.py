"""float32 stays float32 through forward and backward of a stack of every layer."""
import numpy as np

import pytest

from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Dense, Dropout, Flatten,
                            GlobalAveragePooling2D, GlobalMaxPooling2D, LeakyReLU, MaxPooling2D, ReLU, Reshape,
                            Softmax, ZeroPadding2D)
from minicnn.nn.activations import ACTIVATIONS

STACKS = {
    "classic": lambda: [Conv2D(4, 3, padding="same", activation="relu"), BatchNormalization(), MaxPooling2D(),
                        Conv2D(3, 2, activation="tanh"), AveragePooling2D(), Dropout(0.3), Flatten(),
                        Dense(8, activation="sigmoid"), Activation("relu"), Dense(5, activation="softmax")],
    "issue17": lambda: [ZeroPadding2D(1), Conv2D(4, 3, dilation_rate=2, activation="gelu"), ReLU(max_value=6.0),
                        LeakyReLU(), GlobalMaxPooling2D(keepdims=True), Reshape((2, 2)), Softmax(),
                        Reshape((4, 1, 1)), GlobalAveragePooling2D(),
                        *[Dense(4, activation=name) for name in sorted(ACTIVATIONS)]],
}


@pytest.mark.parametrize("stack", sorted(STACKS))
def test_float32_stack_produces_only_float32(stack):
    stack = STACKS[stack]()
    shape = (9, 9, 2)
    for layer in stack:
        layer.build(shape)
        shape = layer.output_shape
    x = np.random.default_rng(0).standard_normal((4, 9, 9, 2)).astype(np.float32)
    seen, caches = [], []
    for layer in stack:
        x, cache = layer.forward(x, training=True)
        caches.append(cache)
        seen.append(x.dtype)
    dy = np.ones_like(x)
    for layer, cache in zip(reversed(stack), reversed(caches)):
        dy, grads = layer.backward(dy, cache)
        seen.append(dy.dtype)
        seen.extend(g.dtype for g in grads.values())
        seen.extend(p.dtype for p in layer.params.values())
    assert set(seen) == {np.dtype(np.float32)}, seen
