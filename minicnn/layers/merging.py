"""The merge layers: Add, Subtract, Multiply, Average, Maximum, Minimum and Concatenate, thin
classes over :mod:`minicnn.nn.merge`, with Keras's lowercase functions and Keras 1's ``merge``.

A merge layer takes a list of inputs: ``compute_output_shape`` and ``build`` get the list of
per-sample shapes (batch axis excluded), ``forward(xs)`` the list of arrays (batch axis first),
and ``backward`` returns the list of input gradients and no weight gradients.
"""
import numbers

from minicnn.layers.base import Layer
from minicnn.nn.merge import ELEMENTWISE, concatenate_backward, concatenate_forward


def _shape_list(layer, shapes, exactly=None):
    """The per-sample shapes as a list of tuples of ints, or a ValueError saying what to pass."""
    kind = type(layer).__name__
    if not isinstance(shapes, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in shapes):
        raise ValueError(f"{layer.name}: a {kind} layer must be called on a list of inputs, e.g. "
                         f"{kind}()([a, b]); got input shape {shapes!r}, not a list of shapes.")
    if len(shapes) < 2 or (exactly is not None and len(shapes) != exactly):
        need = f"exactly {exactly}" if exactly is not None else "at least 2"
        raise ValueError(f"{layer.name}: {kind} needs {need} inputs, got {len(shapes)} "
                         f"(per-sample shapes {[tuple(s) for s in shapes]}).")
    return [tuple(int(d) for d in s) for s in shapes]


def _check_arrays(layer, xs):
    """What ``forward`` cannot take, as a clear error: not a list, batches of different sizes, or
    shapes the layer cannot merge (checked by ``compute_output_shape``)."""
    kind = type(layer).__name__
    if not isinstance(xs, (list, tuple)):
        raise ValueError(f"{layer.name}: a {kind} layer must be called on a list of arrays, e.g. "
                         f"{kind}()([a, b]); got {type(xs).__name__}.")
    if len({x.shape[0] for x in xs}) > 1:
        raise ValueError(f"{layer.name}: {kind} cannot merge batches of different sizes: input shapes "
                         f"{[tuple(x.shape) for x in xs]}. Give every input the same batch size.")
    layer.compute_output_shape([x.shape[1:] for x in xs])
    return list(xs)


class _Merge(Layer):
    """Base of the element-wise merges: ``op`` names the pair in ``minicnn.nn.ELEMENTWISE``.

    Per-sample shapes are aligned on the right and size-1 axes broadcast (a shorter shape gets
    size-1 axes in front), as in Keras 3: (3,) and (4, 3) give (4, 3).

    Raises:
        ValueError: for fewer than two inputs, an input that is not a list, shapes that do not
            broadcast, or (forward) batches of different sizes.
    """

    op = None
    exactly = None  # the one number of inputs allowed, if any (Subtract: 2)

    def compute_output_shape(self, input_shapes):
        shapes = _shape_list(self, input_shapes, self.exactly)
        out = ()
        for s in shapes:
            R = max(len(out), len(s))
            a, b = (1,) * (R - len(out)) + out, (1,) * (R - len(s)) + s
            if any(i != j and 1 not in (i, j) for i, j in zip(a, b)):
                raise ValueError(
                    f"{self.name}: {type(self).__name__} cannot combine inputs of per-sample shapes "
                    f"{shapes}: each axis must match or be 1 (shapes are aligned on the right). "
                    "Reshape the inputs (e.g. with a Dense or Reshape layer) so that they agree.")
            out = tuple(max(i, j) if 1 in (i, j) else i for i, j in zip(a, b))
        return out

    def forward(self, xs, training=False):
        """xs: list of (N, *s_i) arrays -> y (N, *broadcast shape), and the cache for backward."""
        return ELEMENTWISE[self.op][0](_check_arrays(self, xs))

    def backward(self, dy, cache):
        """The list of dx_i (each x_i's shape; possibly dy itself: do not modify in place), and {}."""
        return ELEMENTWISE[self.op][1](dy, cache), {}


class Add(_Merge):
    """y = x_0 + x_1 + ... over a list of inputs (Keras's ``keras.layers.Add``)."""
    op = "add"


class Subtract(_Merge):
    """y = x_0 - x_1 over a list of exactly two inputs (Keras's ``keras.layers.Subtract``)."""
    op = "subtract"
    exactly = 2


class Multiply(_Merge):
    """y = x_0 * x_1 * ... over a list of inputs (Keras's ``keras.layers.Multiply``)."""
    op = "multiply"


class Average(_Merge):
    """y = (x_0 + x_1 + ...) / n over a list of n inputs (Keras's ``keras.layers.Average``)."""
    op = "average"


class Maximum(_Merge):
    """The element-wise maximum of a list of inputs (Keras's ``keras.layers.Maximum``). The gradient
    goes to the input holding the maximum; on a tie of two it is split in halves (torch's rule,
    applied pair by pair as Keras 3 folds the inputs: three tied inputs get 1/4, 1/4, 1/2)."""
    op = "maximum"


class Minimum(_Merge):
    """The element-wise minimum of a list of inputs (Keras's ``keras.layers.Minimum``); ties as Maximum."""
    op = "minimum"


class Concatenate(Layer):
    """Joins a list of inputs along ``axis`` (Keras's ``keras.layers.Concatenate``).

    Args:
        axis: the axis to join along, counting the batch axis as Keras does: -1 (default) is the
            last, 1 the first per-sample axis; 0 (the batch axis) is refused.
    Shapes: (N, ..., d_i, ...) -> (N, ..., sum d_i, ...); all inputs of one rank, equal off the axis.

    Raises:
        TypeError: for an axis that is not an integer.
        ValueError: for axis 0, fewer than two inputs, an input that is not a list, inputs of
            different ranks, an axis out of range, or shapes that differ off the axis.
    """

    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
            raise TypeError(f"{self.name}: Concatenate axis must be an integer, got {axis!r}.")
        if axis == 0:
            raise ValueError(f"{self.name}: Concatenate cannot join along axis 0, the batch axis; "
                             "use axis=-1 (the last) or 1 (the first per-sample axis).")
        self.axis = int(axis)

    def _axis_for(self, rank):
        """The per-sample index of the axis for per-sample shapes of ``rank`` axes."""
        a = self.axis + rank + 1 if self.axis < 0 else self.axis
        if not 1 <= a <= rank:
            fix = f"use an axis in 1..{rank} or -{rank}..-1" if rank else "add a per-sample axis (Reshape((1,)))"
            raise ValueError(
                f"{self.name}: axis={self.axis} is out of range for inputs of per-sample rank {rank} "
                f"(rank {rank + 1} with the batch axis); {fix}.")
        return a - 1

    def compute_output_shape(self, input_shapes):
        shapes = _shape_list(self, input_shapes)
        if len({len(s) for s in shapes}) > 1:
            raise ValueError(f"{self.name}: Concatenate needs inputs of one rank, got per-sample shapes "
                             f"{shapes}. Reshape them to the same number of axes first.")
        a = self._axis_for(len(shapes[0]))
        off = {s[:a] + s[a + 1:] for s in shapes}
        if len(off) > 1:
            raise ValueError(
                f"{self.name}: Concatenate along axis {self.axis} needs the same size on every other axis, "
                f"got per-sample shapes {shapes}. Match them, or concatenate along the axis where they differ.")
        s = shapes[0]
        return s[:a] + (sum(t[a] for t in shapes),) + s[a + 1:]

    def forward(self, xs, training=False):
        """xs: list of (N, ...) arrays -> y joined along the axis, and the cache for backward."""
        xs = _check_arrays(self, xs)
        return concatenate_forward(xs, self._axis_for(xs[0].ndim - 1) + 1)

    def backward(self, dy, cache):
        """The list of dx_i (views of dy: do not modify in place), and {}."""
        return concatenate_backward(dy, cache), {}

    def get_config(self):
        config = super().get_config()
        config["axis"] = self.axis
        return config


def add(inputs, **kwargs):
    """``Add(**kwargs)(inputs)``: the sum of a list of inputs."""
    return Add(**kwargs)(inputs)


def subtract(inputs, **kwargs):
    """``Subtract(**kwargs)(inputs)``: the difference of two inputs."""
    return Subtract(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    """``Multiply(**kwargs)(inputs)``: the element-wise product of a list of inputs."""
    return Multiply(**kwargs)(inputs)


def average(inputs, **kwargs):
    """``Average(**kwargs)(inputs)``: the mean of a list of inputs."""
    return Average(**kwargs)(inputs)


def maximum(inputs, **kwargs):
    """``Maximum(**kwargs)(inputs)``: the element-wise maximum of a list of inputs."""
    return Maximum(**kwargs)(inputs)


def minimum(inputs, **kwargs):
    """``Minimum(**kwargs)(inputs)``: the element-wise minimum of a list of inputs."""
    return Minimum(**kwargs)(inputs)


def concatenate(inputs, axis=-1, **kwargs):
    """``Concatenate(axis=axis, **kwargs)(inputs)``: a list of inputs joined along ``axis``."""
    return Concatenate(axis=axis, **kwargs)(inputs)


_MODES = {"sum": Add, "mul": Multiply, "ave": Average, "max": Maximum}


def merge(inputs, mode="sum", concat_axis=-1, name=None):
    """Keras 1's ``merge``: ``mode`` 'sum' (Add), 'mul' (Multiply), 'concat' (Concatenate along
    ``concat_axis``), 'ave' (Average) or 'max' (Maximum), applied to a list of inputs.

    Raises:
        ValueError: for Keras 1's other modes ('cos', 'dot') or a callable mode.
    """
    if mode == "concat":
        return Concatenate(axis=concat_axis, name=name)(inputs)
    if not isinstance(mode, str) or mode not in _MODES:
        what = "a callable mode" if callable(mode) else f"mode {mode!r}"
        raise ValueError(
            f"merge: {what} is not supported; the modes are 'sum', 'mul', 'concat', 'ave' and 'max' "
            "(Keras 3's Add, Multiply, Concatenate, Average, Maximum). Write other merges, such as "
            "'cos' or 'dot', as a layer of your own.")
    return _MODES[mode](name=name)(inputs)
