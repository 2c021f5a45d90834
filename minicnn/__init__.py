"""minicnn: a readable, fast convolutional-network framework on NumPy (and CuPy).

    from minicnn import Sequential
    from minicnn.layers import Conv2D, MaxPooling2D, Dropout, Flatten, Dense

    model = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)), ...])
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    model.fit(x_train, y_train, batch_size=128, epochs=12, validation_split=0.1)

Reading order: see "Read the code" in the README (minicnn/nn/conv.py first).
"""
from minicnn.backend import fast_path, get_backend, set_backend, set_fast_path
from minicnn.layers import (Activation, AveragePooling2D, BatchNormalization, Conv2D, Convolution2D, Dense,
                            Dropout, Flatten, GlobalAveragePooling2D, GlobalMaxPooling2D, Input, LeakyReLU,
                            MaxPooling2D, ReLU, Reshape, Softmax, ZeroPadding2D)
from minicnn.models import Model, Sequential, load_model, model_from_json
from minicnn.tape import GradientTape, Tensor, Variable
from minicnn.layers import Layer  # noqa: E402  (Keras 3's keras.Layer, keras.Loss, keras.Metric, keras.Optimizer)
from minicnn.losses import Loss
from minicnn.metrics import Metric
from minicnn.optimizers import Optimizer

__version__ = "0.1.0"

# `import minicnn as keras` gives keras.datasets, keras.preprocessing, ... as `import keras` does;
# these submodules are imported at first use, so that `import minicnn` stays fast.
_LAZY = ("activations", "datasets", "distributed", "info", "initializers", "ops", "preprocessing", "regularizers",
         "saving", "utils")


def __getattr__(name):
    if name in _LAZY:
        import importlib
        return importlib.import_module(f"minicnn.{name}")
    from minicnn.missing import attribute_error
    raise attribute_error("minicnn", name, [n for n in globals() if not n.startswith("_")] + list(_LAZY))

__all__ = ["Model", "Sequential", "load_model", "model_from_json", "GradientTape", "Tensor", "Variable", "Layer",
           "Loss", "Metric", "Optimizer", "set_backend", "get_backend", "set_fast_path", "fast_path", "Conv2D", "Convolution2D", "MaxPooling2D",
           "AveragePooling2D", "Dropout", "BatchNormalization", "Dense", "Flatten", "Activation", "Input",
           "GlobalAveragePooling2D", "GlobalMaxPooling2D", "ZeroPadding2D", "Reshape", "Softmax", "ReLU", "LeakyReLU"]
