"""What the tape follows: :class:`Tensor` (an array with NumPy-like operators that are ops of
:mod:`minicnn.ops`) and :class:`Variable` (a layer's weight, as its ``call`` reads it)."""
from minicnn import backend


class Tensor:
    """An array the tape can follow: ``data`` (NumPy or CuPy), with NumPy-like operators that go
    through :mod:`minicnn.ops`. ``numpy()`` gives a NumPy copy (TensorFlow's spelling); NumPy
    functions take a Tensor like an array."""

    __array_priority__ = 1000  # ndarray + Tensor calls Tensor.__radd__, so the tape sees it

    def __init__(self, data):
        self.data = data

    shape = property(lambda self: tuple(self.data.shape))
    dtype = property(lambda self: self.data.dtype)
    ndim = property(lambda self: self.data.ndim)
    size = property(lambda self: self.data.size)

    def numpy(self):
        return backend.to_numpy(self.data)

    def __array__(self, dtype=None, copy=None):
        """A NumPy array of the values (``np.asarray(t)``).

        Raises:
            TypeError: while an open GradientTape follows this Tensor: NumPy cannot record, so its
                gradient would silently stop there (the ops of minicnn.ops record).
        """
        from minicnn.tape.recording import follows
        if follows(self):
            raise TypeError("A NumPy function was given a Tensor that a GradientTape follows: NumPy cannot record, "
                            "so the gradient would stop there. Use minicnn.ops (ops.tanh(x), not np.tanh(x)), or "
                            "t.numpy() for a value you only want to look at.")
        a = backend.to_numpy(self.data)
        return a if dtype is None else a.astype(dtype)

    def __len__(self):
        return len(self.data)

    def __float__(self):
        return float(self.data)

    def __int__(self):
        return int(self.data)

    def __bool__(self):
        return bool(self.data)

    def __format__(self, spec):
        return format(float(self.data), spec) if self.data.ndim == 0 else format(str(self), spec)

    def __repr__(self):
        return f"<Tensor shape={self.shape}, dtype={self.dtype}>\n{self.data!r}"

    def __iter__(self):
        from minicnn import ops
        return (ops.take(self, i, axis=0) for i in range(len(self)))

    @property
    def T(self):
        from minicnn import ops
        return ops.transpose(self)

    def reshape(self, *shape):
        from minicnn import ops
        return ops.reshape(self, shape[0] if len(shape) == 1 else shape)

    def astype(self, dtype):
        from minicnn import ops
        return ops.cast(self, dtype)


def install_operators():
    """Tensor's arithmetic, comparison and indexing operators and NumPy's reduction methods, as ops of
    :mod:`minicnn.ops`."""
    from minicnn import ops
    binary = {"add": ops.add, "sub": ops.subtract, "mul": ops.multiply, "truediv": ops.divide,
              "floordiv": ops.floor_divide, "mod": ops.mod, "pow": ops.power, "matmul": ops.matmul}
    for name, fn in binary.items():
        setattr(Tensor, f"__{name}__", lambda a, b, fn=fn: fn(a, b))
        setattr(Tensor, f"__r{name}__", lambda a, b, fn=fn: fn(b, a))
    for name, fn in {"lt": ops.less, "le": ops.less_equal, "gt": ops.greater, "ge": ops.greater_equal,
                     "eq": ops.equal, "ne": ops.not_equal}.items():
        setattr(Tensor, f"__{name}__", lambda a, b, fn=fn: fn(a, b))
    Tensor.__hash__ = object.__hash__  # elementwise == leaves Tensors hashable by identity, as torch's
    Tensor.__neg__ = lambda a: ops.negative(a)
    Tensor.__pos__ = lambda a: a
    Tensor.__abs__ = lambda a: ops.abs(a)
    Tensor.__getitem__ = lambda a, index: ops.getitem(a, index)
    for name in ("sum", "mean", "max", "min", "var", "std", "prod", "argmax", "argmin"):  # NumPy's methods
        setattr(Tensor, name, lambda a, axis=None, keepdims=False, fn=getattr(ops, name): fn(a, axis=axis,
                                                                                            keepdims=keepdims))
    Tensor.clip = lambda a, low, high: ops.clip(a, low, high)
    Tensor.squeeze = lambda a, axis=None: ops.squeeze(a, axis)
    Tensor.flatten = lambda a: ops.reshape(a, (-1,))


class Variable(Tensor):
    """A weight as a custom layer's ``call`` reads it (``self.kernel = self.add_weight(...)``): a view
    of ``layer.params[name]``, so the optimizer's in-place updates and ``set_weights`` show here.

    ``assign``, ``assign_add`` and ``assign_sub`` write into the weight (a custom layer's or a
    metric's state); ``value`` and ``numpy()`` read it.
    """

    def __init__(self, layer, name):
        self._layer, self._name = layer, name

    @property
    def data(self):
        return self._layer.params[self._name]

    @property
    def name(self):
        return self._name

    @property
    def path(self):
        return f"{self._layer.name}/{self._name}"

    @property
    def trainable(self):
        return self._layer.trainable and self._name in self._layer.trainable_names

    @property
    def value(self):
        return self.data

    def assign(self, value):
        self.data[...] = unwrap(value)
        return self

    def assign_add(self, value):
        self.data[...] += unwrap(value)
        return self

    def assign_sub(self, value):
        self.data[...] -= unwrap(value)
        return self

    def __repr__(self):
        return f"<Variable path={self.path}, shape={self.shape}, dtype={self.dtype}>\n{self.data!r}"


class _Weight(Variable):
    """A built-in layer's trainable weight, as an input of that layer's record."""

    def __init__(self, array):
        self._array = array

    data = property(lambda self: self._array)
    trainable = True


def unwrap(x):
    """The array inside a Tensor (anything else as it is)."""
    return x.data if isinstance(x, Tensor) else x


def any_tensor(inputs):
    """Whether ``inputs`` (a value or a list of them) holds a Tensor."""
    return any(isinstance(x, Tensor) for x in inputs) if isinstance(inputs, (list, tuple)) else \
        isinstance(inputs, Tensor)
