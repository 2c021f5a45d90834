"""A fake ``cupy`` that runs minicnn's GPU code path on the CPU, and counts its host round trips.

Arrays are :class:`ndarray`, a NumPy subclass whose ``__module__`` is ``"cupy"``, so minicnn
(:func:`minicnn.backend.is_cupy_array`) takes them for CuPy arrays and goes down its CuPy branches.
They behave as CuPy's do where minicnn could tell the difference:

- results stay on the "device": reductions and integer indexing give 0-d arrays, never host
  scalars; every NumPy function or ufunc that gets a fake array returns fake arrays;
- the host is reached only explicitly, and each time is counted in :data:`TRANSFERS`:
  ``.get()``, ``asnumpy``, ``float()``, ``int()``, ``bool()``, ``operator.index``, ``item``,
  ``tolist``, ``tobytes``, printing, ``in``;
- implicit conversion is refused with CuPy's TypeError: ``np.asarray``/``np.array``/... of a fake
  array (while :func:`installed` is active), ``__array__``, and NumPy-only functions that convert
  internally (``np.lib.stride_tricks.as_strided``);
- host arrays do not mix with device arrays: a plain ``numpy.ndarray`` operand of a ufunc, a NumPy
  function called on fake arrays, a kernel argument, ``ascontiguousarray`` or an ``out=`` raises
  TypeError, and a basic-slice assignment of one raises ValueError, as in CuPy (host arrays as
  index arrays, and ``asarray``/``array`` of host data, are allowed: those are uploads).

``RawModule`` compiles ``kernels/*.cu`` for the CPU through ``tests/kernels/kernel_shim.py`` (the
same C++ build the kernel tests use); a launch records the kernel's name in
:attr:`FakeCupy.launches` and runs it on the fake arrays' own memory.

What it cannot catch, because NumPy treats any ndarray subclass as one of its own: a device
array assigned into a host array (``host[...] = device``, which CuPy refuses), a host array
indexed with a device array, and code that bound ``numpy.asarray`` (or another converter) to a
name of its own before :func:`installed` patched them. minicnn does none of these (checked by
reading); keep it that way.
"""
import contextlib
import functools
import sys
import types
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent / "kernels"))
from kernel_shim import ShimCupy  # noqa: E402

IMPLICIT_CONVERSION = ("Implicit conversion to a NumPy array is not allowed. "
                       "Please use `.get()` to construct a NumPy array explicitly.")
_NUMPY_CONVERTERS = ("array", "asarray", "asanyarray", "ascontiguousarray", "asfortranarray",
                     "asarray_chkfinite")
_ORIGINAL = {name: getattr(np, name) for name in _NUMPY_CONVERTERS}


PASSES = []
"""Every pass over device memory, in order: each elementwise ufunc call, NumPy function, slice
assignment and kernel launch on fake arrays (``FakeCupy.passes``; cleared when installed)."""


class Transfers:
    """Counts device-to-host round trips (``count``, with ``log`` naming each) and host uploads."""

    def __init__(self):
        self.reset()

    def reset(self):
        self.count, self.log, self.uploads, self.syncs, self._paused = 0, [], 0, 0, 0

    def hit(self, what):
        if not self._paused:
            self.count += 1
            self.log.append(what)

    def upload(self):
        if not self._paused:
            self.uploads += 1

    @contextlib.contextmanager
    def paused(self):
        self._paused += 1
        try:
            yield
        finally:
            self._paused -= 1


TRANSFERS = Transfers()


# -- moving between the fake device and the host ----------------------------------------------------

def _base(a):
    """The plain NumPy view of a fake array (same memory; nothing counted: the device's own view)."""
    return a.view(np.ndarray)


def _device(a):
    """A NumPy result as a fake array: arrays viewed, scalars made 0-d (CuPy never returns host scalars)."""
    if isinstance(a, ndarray):
        return a
    if isinstance(a, np.ndarray):
        return a.view(ndarray)
    if isinstance(a, np.generic):
        return _ORIGINAL["array"](a).view(ndarray)
    if isinstance(a, tuple):
        return tuple(_device(v) for v in a)
    if isinstance(a, list):
        return [_device(v) for v in a]
    return a


def _operand(a, where):
    """A fake array's base view; host arrays refused (CuPy: 'Unsupported type'); others as they are."""
    if isinstance(a, ndarray):
        return _base(a)
    if isinstance(a, np.ndarray):
        raise TypeError(f"Unsupported type {np.ndarray} in {where}: a host array mixed with device arrays "
                        "(move it with cupy.asarray first).")
    if isinstance(a, (tuple, list)):
        return type(a)(_operand(v, where) for v in a)
    if isinstance(a, dict):
        return {k: _operand(v, where) for k, v in a.items()}
    return a


def _contains_fake(a):
    if isinstance(a, ndarray):
        return True
    return isinstance(a, (list, tuple)) and any(_contains_fake(v) for v in a)


def _advanced_index(key):
    parts = key if isinstance(key, tuple) else (key,)
    return any(isinstance(k, (np.ndarray, list)) for k in parts)


class ndarray(np.ndarray):  # noqa: N801 (CuPy's name)
    """A "device" array: NumPy memory that behaves as a CuPy array towards minicnn."""

    __module__ = "cupy"  # what minicnn.backend.is_cupy_array looks at

    @property
    def data(self):
        """CuPy's MemoryPointer, as far as NCCL calls need it: the address of the first element."""
        return types.SimpleNamespace(ptr=self.__array_interface__["data"][0])

    # -- explicit host transfers, each counted ------------------------------------------------------

    def get(self, stream=None, order="C", out=None):
        TRANSFERS.hit("get")
        if out is not None:
            out[...] = _base(self)
            return out
        return _ORIGINAL["array"](_base(self), order=order, copy=True)

    def set(self, arr, stream=None):
        if isinstance(arr, ndarray):
            raise TypeError("ndarray.set takes a host array")
        TRANSFERS.upload()
        _base(self)[...] = arr

    def _host(what):  # noqa: N805 (a decorator factory used in the class body)
        def wrap(method):
            @functools.wraps(method)
            def counted(self, *args, **kwargs):
                TRANSFERS.hit(what)
                return method(_base(self), *args, **kwargs)
            return counted
        return wrap

    __float__ = _host("__float__")(np.ndarray.__float__)
    __int__ = _host("__int__")(np.ndarray.__int__)
    __index__ = _host("__index__")(np.ndarray.__index__)
    __bool__ = _host("__bool__")(np.ndarray.__bool__)
    __complex__ = _host("__complex__")(np.ndarray.__complex__)
    __contains__ = _host("__contains__")(np.ndarray.__contains__)
    __repr__ = _host("__repr__")(np.ndarray.__repr__)
    __str__ = _host("__str__")(np.ndarray.__str__)
    __format__ = _host("__format__")(np.ndarray.__format__)
    item = _host("item")(np.ndarray.item)
    tolist = _host("tolist")(np.ndarray.tolist)
    tobytes = _host("tobytes")(np.ndarray.tobytes)
    tofile = _host("tofile")(np.ndarray.tofile)
    del _host

    def __array__(self, dtype=None, copy=None):
        TRANSFERS.hit("__array__")
        raise TypeError(IMPLICIT_CONVERSION)

    # -- staying on the device ------------------------------------------------------------------------

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        where = f"{ufunc.__name__}.{method}" if method != "__call__" else ufunc.__name__
        PASSES.append(where)
        args = [_operand(a, where) for a in inputs]
        if out is not None:
            if not all(isinstance(o, ndarray) for o in out):
                raise TypeError(f"{where}: out must be a cupy.ndarray, got {[type(o) for o in out]}")
            kwargs["out"] = tuple(_base(o) for o in out)
        if "where" in kwargs:
            kwargs["where"] = _operand(kwargs["where"], where)
        result = getattr(ufunc, method)(*args, **kwargs)
        if method == "at":
            return None
        if out is not None:
            return out[0] if len(out) == 1 else out
        return _device(result)

    def __array_function__(self, func, types, args, kwargs):
        where = f"numpy.{func.__name__}"
        PASSES.append(where)
        return _device(func(*_operand(args, where), **_operand(kwargs, where)))

    def __getitem__(self, key):
        result = super().__getitem__(key)
        if isinstance(result, np.generic):
            # CuPy's integer indexing gives a 0-d view on the device, never a host scalar.
            result = super().__getitem__((key if isinstance(key, tuple) else (key,)) + (Ellipsis,))
        return result

    def __setitem__(self, key, value):
        if type(value) is np.ndarray and value.ndim and not _advanced_index(key):
            raise ValueError("non-scalar numpy.ndarray cannot be used for fill")  # CuPy's message
        if type(value) is np.ndarray:
            TRANSFERS.upload()
        PASSES.append("setitem")
        super().__setitem__(key, value)

    def __iter__(self):
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d array")
        return (self[i] for i in range(len(self)))


def _device_method(name):
    """A C-level ndarray method that would return host scalars or base arrays, kept on the device."""
    method = getattr(np.ndarray, name)

    @functools.wraps(method)
    def on_device(self, *args, **kwargs):
        where = f"ndarray.{name}"
        return _device(method(_base(self), *_operand(args, where), **_operand(kwargs, where)))
    return on_device


for _name in ("argmax", "argmin", "dot", "cumsum", "cumprod", "round", "trace", "take", "repeat",
              "nonzero", "searchsorted", "argsort", "diagonal", "compress", "choose", "ptp"):
    if hasattr(np.ndarray, _name):
        setattr(ndarray, _name, _device_method(_name))


# -- the module ---------------------------------------------------------------------------------------

def _device_function(fn, name):
    """``fn`` (a NumPy function) as a CuPy function: device arrays in (host arrays refused), device out."""
    @functools.wraps(fn)
    def call(*args, **kwargs):
        where = f"cupy.{name}"
        return _device(fn(*_operand(args, where), **_operand(kwargs, where)))
    return call


class _Ufunc:
    """A NumPy ufunc as a CuPy ufunc: the call and its methods take and give device arrays only."""

    def __init__(self, ufunc):
        self._ufunc = ufunc
        self.__name__ = ufunc.__name__

    def __call__(self, *args, **kwargs):
        PASSES.append(self.__name__)
        return _device_function(self._ufunc, self.__name__)(*args, **kwargs)

    def __getattr__(self, name):
        attr = getattr(self._ufunc, name)
        return _device_function(attr, f"{self.__name__}.{name}") if callable(attr) else attr


class RandomState:
    """``cupy.random.RandomState``: seeded draws made on the "device"."""

    def __init__(self, seed=None):
        self._rs = np.random.RandomState(seed)

    def random_sample(self, size=None, dtype=float):
        dtype = np.dtype(dtype)
        if dtype.char not in "fd":
            raise TypeError(f"Unsupported dtype {dtype} for random_sample")
        return _device(self._rs.random_sample(size).astype(dtype))

    def uniform(self, low=0.0, high=1.0, size=None, dtype=float):
        return _device(self._rs.uniform(low, high, size).astype(dtype))

    def standard_normal(self, size=None, dtype=float):
        return _device(self._rs.standard_normal(size).astype(dtype))

    def normal(self, loc=0.0, scale=1.0, size=None, dtype=float):
        return _device(self._rs.normal(loc, scale, size).astype(dtype))


def _as_strided(x, shape=None, strides=None):
    """``cupy.lib.stride_tricks.as_strided``: a view of a device array; no ``writeable`` argument."""
    if not isinstance(x, ndarray):
        raise TypeError(f"as_strided takes a cupy.ndarray, got {type(x).__name__}")
    return _device(np.lib.stride_tricks.as_strided(_base(x), shape=shape, strides=strides))


class _Stream:
    ptr = 0  # the default stream, as CuPy numbers it

    def synchronize(self):
        TRANSFERS.syncs += 1


class _MemoryPool:
    """``cupy.get_default_memory_pool()``: a stub (the fake's memory is NumPy's)."""

    def used_bytes(self):
        return 0

    def total_bytes(self):
        return 0

    def free_all_blocks(self):
        pass


class _RecordingModule:
    """A ShimModule whose kernels log their launches and receive the fake arrays' memory."""

    def __init__(self, shim_module, launches):
        self._module, self._launches = shim_module, launches

    def get_function(self, name):
        kernel = self._module.get_function(name)
        launches = self._launches

        def launch(grid, block, args, shared_mem=0):
            for k, a in enumerate(args):
                if isinstance(a, np.ndarray) and not isinstance(a, ndarray):
                    raise TypeError(f"kernel {name} argument {k}: Unsupported type {np.ndarray} "
                                    "(a host array passed to a GPU kernel)")
            launches.append(name)
            PASSES.append(f"kernel {name}")
            # Base views share the fake arrays' memory: the kernel writes the arrays themselves.
            with TRANSFERS.paused():
                kernel(grid, block, tuple(_base(a) if isinstance(a, ndarray) else a for a in args),
                       shared_mem)
        return launch


class FakeCupy(types.ModuleType):
    """The fake ``cupy`` module. ``launches`` lists the kernels run, in order.

    Args:
        shim_builder: a ``kernel_shim.ShimBuilder`` (the C++ build of ``kernels/*.cu``).
        language_options: the options minicnn.cuda compiles with (``minicnn.cuda.LANGUAGE_OPTIONS``).
    """

    ndarray = ndarray
    newaxis = None

    def __init__(self, shim_builder, language_options):
        super().__init__("cupy", "A fake cupy for running minicnn's GPU path on the CPU (tests/fakecupy.py).")
        self._shim = ShimCupy(shim_builder, language_options)
        self.launches = []
        self.passes = PASSES
        PASSES.clear()
        self.transfers = TRANSFERS
        self.random = types.SimpleNamespace(RandomState=RandomState)
        self.lib = types.SimpleNamespace(stride_tricks=types.SimpleNamespace(as_strided=_as_strided))
        stream = _Stream()
        self.cuda = types.SimpleNamespace(
            runtime=types.SimpleNamespace(getDeviceCount=lambda: 1),
            get_current_stream=lambda: stream,
            Device=lambda device=0: types.SimpleNamespace(synchronize=stream.synchronize, id=device,
                                                          use=lambda: self.devices_used.append(device)))
        self.devices_used = []
        self._pool = _MemoryPool()

    # -- transfers --------------------------------------------------------------------------------

    def asarray(self, a, dtype=None, order=None):
        if isinstance(a, ndarray):
            return a if dtype is None or a.dtype == np.dtype(dtype) else a.astype(dtype)
        return self.array(a, dtype=dtype, order=order or "K")

    def array(self, obj, dtype=None, copy=True, order="K", subok=False, ndmin=0):
        if isinstance(obj, ndarray):
            return _device(_ORIGINAL["array"](_base(obj), dtype=dtype, copy=copy or None, order=order,
                                              ndmin=ndmin))
        if isinstance(obj, np.ndarray):
            TRANSFERS.upload()
        # A host-to-device copy: the device array never shares the host's memory.
        return _device(_ORIGINAL["array"](obj, dtype=dtype, copy=True, order=order, ndmin=ndmin))

    asanyarray = asarray

    def ascontiguousarray(self, a, dtype=None):
        if not isinstance(a, ndarray):
            raise TypeError(f"cupy.ascontiguousarray: Argument 'a' has incorrect type "
                            f"(expected cupy.ndarray, got {type(a).__name__})")
        return _device(_ORIGINAL["ascontiguousarray"](_base(a), dtype=dtype))

    def asnumpy(self, a, stream=None, order="C", out=None):
        if isinstance(a, ndarray):
            return a.get(order=order, out=out)
        return _ORIGINAL["asarray"](a, order=order)

    def get_array_module(self, *args):
        return self if any(isinstance(a, ndarray) for a in args) else np

    def get_default_memory_pool(self):
        return self._pool

    def get_default_pinned_memory_pool(self):
        return self._pool

    # -- kernels ----------------------------------------------------------------------------------

    def RawModule(self, code=None, options=(), **kwargs):  # noqa: N802 (cupy's name)
        if kwargs:
            raise TypeError(f"the fake RawModule takes code= and options= only, got {sorted(kwargs)}")
        return _RecordingModule(self._shim.RawModule(code, options=options), self.launches)

    # -- everything else: NumPy's, kept on the device ---------------------------------------------

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        attr = getattr(np, name, None)
        if attr is None or isinstance(attr, types.ModuleType):
            raise AttributeError(f"the fake cupy (tests/fakecupy.py) has no {name!r}; add it if minicnn needs it")
        if isinstance(attr, np.ufunc):
            return _Ufunc(attr)
        if callable(attr) and not isinstance(attr, type):
            return _device_function(attr, name)
        return attr  # dtypes (cupy.float32), constants (cupy.inf)


# -- installing it ------------------------------------------------------------------------------------

def _refusing(name):
    convert = _ORIGINAL[name]

    @functools.wraps(convert)
    def refuse_device_arrays(a, *args, **kwargs):
        if _contains_fake(a):
            TRANSFERS.hit(f"numpy.{name}")
            raise TypeError(IMPLICIT_CONVERSION)
        return convert(a, *args, **kwargs)
    return refuse_device_arrays


_MISSING = object()


@contextlib.contextmanager
def installed(fake):
    """Make ``fake`` minicnn's ``cupy`` and select the cupy backend; restore everything on exit.

    Restored: ``sys.modules["cupy"]``, the backend, minicnn.random's GPU generator, minicnn.cuda's
    compile caches, and NumPy's conversion functions (patched to refuse fake arrays, as CuPy's
    ``__array__`` refuses; NumPy never calls ``__array__`` on an ndarray subclass).
    """
    from minicnn import backend, cuda, random as mrandom
    saved = sys.modules.get("cupy", _MISSING), backend.get_backend(), mrandom._state["gpu_rng"]
    caches = (cuda._cupy, cuda._module, cuda._kernel)
    for cache in caches:
        cache.cache_clear()
    sys.modules["cupy"] = fake
    mrandom._state["gpu_rng"] = None
    for name in _NUMPY_CONVERTERS:
        setattr(np, name, _refusing(name))
    TRANSFERS.reset()
    try:
        backend.set_backend("cupy")
        yield fake
    finally:
        for name in _NUMPY_CONVERTERS:
            setattr(np, name, _ORIGINAL[name])
        module, backend_name, gpu_rng = saved
        if module is _MISSING:
            sys.modules.pop("cupy", None)
        else:
            sys.modules["cupy"] = module
        for cache in caches:
            cache.cache_clear()
        mrandom._state["gpu_rng"] = gpu_rng
        backend._state["backend"] = backend_name  # the saved one was valid; no need to probe a GPU again
