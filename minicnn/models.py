"""Sequential: a model's structure — its layers, build, summary, weights and configuration.

Training, evaluation and prediction come from :class:`minicnn.training.Trainer`, as Keras keeps
``models/sequential.py`` apart from its trainer.
"""
from minicnn import backend, saving
from minicnn import data_checks as checks
from minicnn.layers.base import Layer, unique_name
from minicnn.layers.core import InputLayer
from minicnn.training import Trainer


class Sequential(Trainer):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an ``Input``/``InputLayer`` may come first).
        name: the model's name (default ``sequential``, ``sequential_1``, ...).
    """

    def __init__(self, layers=None, name=None):
        super().__init__()
        self.name = name or unique_name("sequential")
        self._layers = []
        self.input_shape_ = None
        for layer in layers or []:
            self.add(layer)

    # -- building -----------------------------------------------------------------------------

    @property
    def layers(self):
        return list(self._layers)

    def add(self, layer):
        """Append a layer; with a known input shape it is built at once, so shape errors show here.

        A Sequential model may be added as a layer (Keras's ``Sequential([model, Softmax()])``): its
        layers are appended themselves, so the two models share their weights.

        Raises:
            TypeError: if ``layer`` is not a minicnn layer.
            ValueError: if the layer cannot take the previous layer's output.
        """
        if isinstance(layer, Sequential):
            if layer.input_shape_ is not None and not self._layers and self.input_shape_ is None:
                self.input_shape_ = layer.input_shape_
            for inner in layer.layers:
                self._add_layer(inner, declared=False)
            return
        self._add_layer(layer)

    def _add_layer(self, layer, declared=True):
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add expects a minicnn layer, got {layer!r} ({type(layer).__name__}).")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"{layer.name}: an Input can only be the first entry of a Sequential model.")
            self.input_shape_ = layer.declared_input_shape
            return
        previous_input_shape = self.input_shape_
        if declared and layer.declared_input_shape is not None:
            if self._layers:
                raise ValueError(
                    f"{layer.name}: input_shape can only be given to the first layer; this layer takes "
                    f"the output of {self._layers[-1].name}.")
            self.input_shape_ = layer.declared_input_shape
        self._layers.append(layer)
        self._plans.clear()
        if self.input_shape_ is not None:
            shape = self.input_shape_ if len(self._layers) == 1 else self._layers[-2].output_shape
            try:
                checks.check_image_layout(self._layers, self.input_shape_)
                if not layer.built or layer.input_shape != tuple(shape):  # a shared layer keeps its weights
                    layer.build(shape)
            except Exception:
                # A layer that does not fit is not kept, so the model stays usable after the error.
                self._layers.pop()
                self.input_shape_ = previous_input_shape
                raise

    def pop(self):
        """Remove the last layer (Keras's ``model.pop()``); returns it.

        Raises:
            TypeError: if the model has no layers.
        """
        if not self._layers:
            raise TypeError("There are no layers in the model to pop.")
        self._plans.clear()
        return self._layers.pop()

    def get_layer(self, name=None, index=None):
        """The layer called ``name``, or at position ``index``.

        Raises:
            ValueError: for an unknown name, an index out of range, or neither or both given.
        """
        if (name is None) == (index is None):
            raise ValueError("get_layer needs a name or an index (one of them), e.g. model.get_layer('dense').")
        if index is not None:
            if not -len(self._layers) <= index < len(self._layers):
                raise ValueError(f"get_layer: index {index} is out of range for a model of {len(self._layers)} layers.")
            return self._layers[index]
        for layer in self._layers:
            if layer.name == name:
                return layer
        raise ValueError(f"No such layer: {name!r}. The model's layers are {[l.name for l in self._layers]}.")

    def build(self, input_shape=None):
        """Build every layer for a per-sample ``input_shape`` (a leading None batch axis is accepted).

        Raises:
            ValueError: if no input shape is known.
        """
        if input_shape is not None:
            input_shape = tuple(input_shape)
            if input_shape and input_shape[0] is None:
                input_shape = input_shape[1:]
            self.input_shape_ = tuple(int(d) for d in input_shape)
        if self.input_shape_ is None:
            raise ValueError(
                "The model has no input shape: give the first layer input_shape=(...) (e.g. "
                "Conv2D(32, (3, 3), input_shape=(28, 28, 1))), call model.build((None, 28, 28, 1)), or "
                "call fit/predict with data first.")
        if not self._layers:
            raise ValueError("The model has no layers; add some with model.add(...).")
        checks.check_image_layout(self._layers, self.input_shape_)
        self._plans.clear()
        shape = self.input_shape_
        for layer in self._layers:
            if not layer.built or layer.input_shape != shape:
                layer.build(shape)
            shape = layer.output_shape

    @property
    def built(self):
        return bool(self._layers) and all(layer.built for layer in self._layers)

    def _ensure_built(self, x=None):
        if not self.built:
            inferred = self.input_shape_ is None and x is not None
            if inferred:
                self.input_shape_ = tuple(x.shape[1:])
            try:
                self.build()
            except Exception:
                if inferred:  # forget a shape taken from data the model could not take
                    self.input_shape_ = None
                raise

    @property
    def input_shape(self):
        return None if self.input_shape_ is None else (None, *self.input_shape_)

    @property
    def output_shape(self):
        self._ensure_built()
        return (None, *self._layers[-1].output_shape)

    def count_params(self):
        return sum(layer.count_params() for layer in self._layers)

    def summary(self, print_fn=None, line_length=None, show_memory=False, batch_size=32):
        """Print Keras's summary table; ``show_memory`` adds a batch's activation memory."""
        from minicnn.utils.summary import format_summary
        self._ensure_built()
        text = format_summary(self, line_length=line_length, show_memory=show_memory, batch_size=batch_size)
        (print_fn or print)(text)

    # -- weights ------------------------------------------------------------------------------

    @property
    def weights(self):
        return [w for layer in self._layers for w in layer.weights]

    @property
    def trainable_weights(self):
        return [w for layer in self._layers for w in layer.trainable_weights]

    def get_weights(self):
        """Every layer's weights as NumPy arrays, in Keras's order."""
        return [w for layer in self._layers for w in layer.get_weights()]

    def set_weights(self, weights):
        """Set all weights from a flat list in :meth:`get_weights` order.

        Raises:
            ValueError: on a wrong count or shape.
        """
        self._ensure_built()
        weights = list(weights)
        expected = sum(len(layer.params) for layer in self._layers)
        if len(weights) != expected:
            raise ValueError(f"set_weights expected {expected} arrays for model '{self.name}', got {len(weights)}.")
        i = 0
        for layer in self._layers:
            n = len(layer.params)
            layer.set_weights(weights[i:i + n])
            i += n

    def to(self, backend_name):
        """Move the model (parameters and optimizer state) to ``"numpy"`` or ``"cupy"``; returns self."""
        backend.set_backend(backend_name)
        self._plans.clear()
        for layer in self._layers:
            layer.to_backend()
        if self.optimizer is not None:
            self.optimizer.set_state([backend.to_numpy(a) for a in self.optimizer.get_state()])
        return self

    # -- configuration and saving -------------------------------------------------------------

    def get_config(self):
        return {"name": self.name, "input_shape": list(self.input_shape_) if self.input_shape_ else None,
                "layers": [{"class_name": type(l).__name__, "config": l.get_config()} for l in self._layers]}

    def save(self, filepath, overwrite=True, include_optimizer=True):
        """Save architecture, weights and optimizer state to one ``.npz`` file (no pickle), atomically."""
        saving.save_model(self, filepath, overwrite=overwrite, include_optimizer=include_optimizer)

    def save_weights(self, filepath, overwrite=True):
        """Save the weights alone to an ``.npz`` file, atomically."""
        saving.save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath):
        """Load weights saved by :meth:`save_weights` (or :meth:`save`) into this model."""
        saving.load_weights(self, filepath)


def load_model(filepath, compile=True):
    """Load a model saved by :meth:`Sequential.save`."""
    return saving.load_model(filepath, Sequential, compile=compile)
