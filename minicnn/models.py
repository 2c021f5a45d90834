"""Sequential: the one-path case of a graph model (:class:`minicnn.functional.Model`).

A Sequential keeps its list of layers; once its input shape is known it is a graph like any
other, ``Input -> layer -> layer -> ...``, made by calling each layer on the previous output, so
training, prediction, saving and ``layer.output`` work on it exactly as on a functional model.
"""
from minicnn import saving
from minicnn import data_checks as checks
from minicnn.functional import Model
from minicnn.graph import KerasTensor
from minicnn.layers.base import Layer
from minicnn.layers.core import InputLayer

__all__ = ["Model", "Sequential", "load_model", "model_from_json"]


class Sequential(Model):
    """A linear stack of layers.

    Args:
        layers: optional list of layers (an ``Input``/``InputLayer`` may come first).
        name: the model's name (default ``sequential``, ``sequential_1``, ...).
    """

    def __init__(self, layers=None, name=None, trainable=True):
        super().__init__(name=name)
        self._layers = []
        self.input_shape_ = None
        self._input_layer = None
        for layer in layers or []:
            self.add(layer)
        if not trainable:
            self.trainable = False

    @staticmethod
    def _default_name():
        return "sequential"

    # -- building -----------------------------------------------------------------------------

    @property
    def layers(self):
        """The layers, without the input (as Keras's Sequential lists them)."""
        return list(self._layers)

    def add(self, layer):
        """Append a layer; with a known input shape it is built at once, so shape errors show here.

        A Sequential model may be added as a layer (Keras's ``Sequential([model, Softmax()])``): its
        layers are appended themselves, so the two models share their weights.

        Raises:
            TypeError: if ``layer`` is not a minicnn layer.
            ValueError: if the layer cannot take the previous layer's output.
        """
        if isinstance(layer, KerasTensor) and layer.node.is_input:  # Sequential([keras.Input(...), ...])
            layer = layer.node.layer
        if isinstance(layer, Sequential):
            if layer.input_shape_ is not None and not self._layers and self.input_shape_ is None:
                self.input_shape_ = layer.input_shape_
            for inner in layer.layers:
                self._add_layer(inner, declared=False)
            return
        self._add_layer(layer)

    def _add_layer(self, layer, declared=True):
        if not isinstance(layer, (Layer, Model)):
            raise TypeError(f"Sequential.add expects a minicnn layer, got {layer!r} ({type(layer).__name__}).")
        if isinstance(layer, InputLayer):
            if self._layers:
                raise ValueError(f"{layer.name}: an Input can only be the first entry of a Sequential model.")
            self.input_shape_ = layer.declared_input_shape
            return
        previous_input_shape = self.input_shape_
        if declared and getattr(layer, "declared_input_shape", None) is not None:
            if self._layers:
                raise ValueError(
                    f"{layer.name}: input_shape can only be given to the first layer; this layer takes "
                    f"the output of {self._layers[-1].name}.")
            self.input_shape_ = layer.declared_input_shape
        self._layers.append(layer)
        self._forget_graph()
        if self.input_shape_ is not None:
            try:
                self.build()
            except Exception:
                # A layer that does not fit is not kept, so the model stays usable after the error.
                self._layers.pop()
                self.input_shape_ = previous_input_shape
                self._forget_graph()
                if self._layers and self.input_shape_ is not None:
                    self.build()
                raise

    def pop(self):
        """Remove the last layer (Keras's ``model.pop()``); returns it.

        Raises:
            TypeError: if the model has no layers.
        """
        if not self._layers:
            raise TypeError("There are no layers in the model to pop.")
        self._forget_graph()
        layer = self._layers.pop()
        if self._layers and self.input_shape_ is not None:
            self.build()
        return layer

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
        self._forget_graph()
        if self._input_layer is None or self._input_layer.declared_input_shape != self.input_shape_:
            self._input_layer = InputLayer(shape=self.input_shape_, dtype=self._layers[0].dtype,
                                           name=f"{self.name}_input")
        x = self._input_layer.output
        try:
            for layer in self._layers:
                if isinstance(layer, Layer) and layer.built and layer.input_shape != x.sample_shape:
                    layer.build(x.sample_shape)  # a layer moved to another input shape (model.build)
                x = layer(x)
        except Exception:
            self._forget_graph()
            raise
        self._set_graph(self._input_layer.output, x)

    def _forget_graph(self):
        """Drop the graph (the layers changed): its nodes leave the layers, so ``layer.output`` never
        names a graph the model no longer has."""
        if self._graph is not None:
            for node in self._graph.nodes:
                if node in node.layer._inbound_nodes:
                    node.layer._inbound_nodes.remove(node)
        self._graph = self._leaves = None
        self._plans.clear()

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
        return self._graph.outputs[0].shape

    @property
    def output_names(self):
        return super().output_names if self.built else [self._layers[-1].name] if self._layers else ["output"]

    # -- configuration ------------------------------------------------------------------------

    def get_config(self):
        from minicnn.serialization import serialize_layer
        return {"name": self.name, "input_shape": list(self.input_shape_) if self.input_shape_ else None,
                "layers": [serialize_layer(l) for l in self._layers]}


    @classmethod
    def from_config(cls, config, custom_objects=None):
        """The Sequential model :meth:`get_config` describes (its layers made from their configs)."""
        from minicnn.serialization import deserialize_layer
        model = cls([deserialize_layer(e, custom_objects) for e in config["layers"]], name=config.get("name"))
        if config.get("input_shape") and not model.built:
            model.build(config["input_shape"])
        return model


def load_model(filepath, custom_objects=None, compile=True, safe_mode=True):
    """Load a model saved by ``model.save`` (a Sequential or a functional Model): minicnn's ``.npz``,
    or a Keras ``.keras`` archive or legacy ``.h5`` file, written by Keras or minicnn (needs h5py); layers
    of your own come from ``custom_objects`` ({class name: class}) or
    :func:`minicnn.saving.register_keras_serializable`. ``safe_mode`` is Keras 3's argument, accepted
    for its callers: minicnn never runs code stored in a file, whatever it says (a Lambda's function
    comes from ``custom_objects``)."""
    return saving.load_model(filepath, custom_objects=custom_objects, compile=compile, safe_mode=safe_mode)


def model_from_json(json_string, custom_objects=None):
    """A model (new weights) from the architecture ``model.to_json()`` wrote, minicnn's or Keras's.

    Raises:
        ValueError: for text that is not a minicnn model's JSON, or an unknown layer class.
    """
    import json
    from minicnn.serialization import deserialize_layer
    try:
        entry = json.loads(json_string)
    except (TypeError, json.JSONDecodeError) as e:
        raise ValueError(f"model_from_json: the text is not valid JSON ({e}).") from None
    if not isinstance(entry, dict) or entry.get("class_name") not in ("Sequential", "Functional", "Model"):
        raise ValueError("model_from_json: the JSON does not describe a model (expected the output of model.to_json()).")
    if "module" in entry or "keras_version" in entry:  # Keras's own to_json() (3's, or 2's)
        from minicnn.keras_files.model_config import model_from_keras
        return model_from_keras(entry, custom_objects, "model_from_json")[0]
    return deserialize_layer(entry, custom_objects)
