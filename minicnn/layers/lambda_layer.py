"""Lambda: a function of :mod:`minicnn.ops` (or of Keras 1/2's ``K.*``) as a layer.

    distance = Lambda(euclidean_distance)([processed_a, processed_b])   # Keras 2's mnist_siamese.py

It runs on the tape, like any layer of one's own, so it trains. A saved model stores the
function's name, never its code: loading needs it in ``custom_objects`` (or registered with
``register_keras_serializable``), as Keras 3's safe mode refuses to run code from a file.
"""
from minicnn import tape
from minicnn.layers.base import Layer


class Lambda(Layer):
    """``function(inputs, **arguments)`` as a layer; ``inputs`` is a list when the layer is called on one.

    Args:
        function: a callable of arrays/Tensors written with minicnn.ops or keras.backend functions.
        output_shape: the per-sample output shape (a tuple), or a function of the input shape (batch
            included) giving the output shape (batch included); by default, what ``function``
            gives on a batch of zeros.
        arguments: a dict of keyword arguments for ``function``.
        mask: accepted as Keras 2 takes it; must be None.

    Raises:
        TypeError: when ``function`` is not callable or ``arguments`` not a dict.
        ValueError: for a mask.
    """

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"{self.name}: Lambda needs a function, got {function!r}.")
        if arguments is not None and not isinstance(arguments, dict):
            raise TypeError(f"{self.name}: arguments must be a dict of keyword arguments, got {arguments!r}.")
        if mask is not None:
            raise ValueError(f"{self.name}: masks are not supported; leave mask out.")
        self.function, self.arguments, self._output_shape = function, dict(arguments or {}), output_shape

    def call(self, inputs, training=None):
        kwargs = dict(self.arguments)
        if tape.takes_argument(self.function, "training"):
            kwargs["training"] = training
        return self.function(inputs, **kwargs)

    def compute_output_shape(self, input_shape):
        """The output shape (batch included) from ``output_shape``; None to infer it from a call."""
        if self._output_shape is None:
            return None
        if callable(self._output_shape):
            return tuple(self._output_shape(input_shape))
        batch = input_shape[0][0] if isinstance(input_shape, list) else input_shape[0]
        return (batch, *self._output_shape)

    def get_config(self):
        """The function by name only (no code); ``output_shape`` when it is a tuple."""
        config = {**super().get_config(), "function": _function_name(self.function), "arguments": self.arguments}
        if self._output_shape is not None and not callable(self._output_shape):
            config["output_shape"] = list(self._output_shape)
        return config

    @classmethod
    def from_config(cls, config, custom_objects=None):
        """Raises ValueError when the function is not in ``custom_objects`` nor registered: nothing of
        a file is ever run as code."""
        from minicnn.serialization import _REGISTERED
        config = dict(config)
        name = config.pop("function")
        if not isinstance(name, str):
            raise ValueError("A Lambda layer's config holds code or data instead of a function name; minicnn never "
                             "runs code from a file (as Keras 3's safe_mode). Rebuild the model in Python, or save it "
                             "from minicnn, which stores the function's name.")
        if name == "<lambda>":
            raise ValueError(f"Lambda layer '{config.get('name')}' was saved from an anonymous lambda: a saved model "
                             "keeps only a function's name, and every lambda is '<lambda>', so minicnn cannot know "
                             "which function it was. Define the function with def and a name, or rebuild the model "
                             "in Python and load its weights.")
        registered = [f for key, f in _REGISTERED.items() if key.split(">")[-1] == name]
        function = (custom_objects or {}).get(name) or (registered[0] if registered else None)
        if function is None:
            raise ValueError(f"Lambda layer '{config.get('name')}' calls the function '{name}', whose code a saved model "
                             "does not carry (minicnn never runs code from a file, as Keras 3's safe_mode). Pass it "
                             f"when loading: load_model(path, custom_objects={{'{name}': {name}}}).")
        if "output_shape" in config:
            config["output_shape"] = tuple(config["output_shape"])
        return cls(function, **config)


def _function_name(function):
    return getattr(function, "__name__", type(function).__name__)
