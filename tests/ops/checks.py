"""What the keras.ops tests share: the device a check runs on (NumPy, or the fake CuPy of
tests/fakecupy.py), inputs that keep away from kinks and ties, and :func:`check_op`: an op's value
against a reference, and the tape's gradient of ``sum(y * R)`` (R random) against float64 central
differences, with no trip to the host on the device."""
import contextlib

import numpy as np

import fakecupy
from minicnn import cuda
from minicnn.tape import GradientTape, Tensor, unwrap
from minicnn.utils.gradcheck import numerical_gradient, relative_error


class Device:
    """NumPy (``build`` None) or the fake CuPy built with ``build``, installed only inside :meth:`on`."""

    def __init__(self, build):
        self.build, self.fake = build, None
        self.name = "numpy" if build is None else "fakecupy"

    def __repr__(self):
        return self.name

    @contextlib.contextmanager
    def on(self):
        """Run the block with this device's backend (the fake CuPy installed as ``cupy``)."""
        if self.build is None:
            yield self
            return
        with fakecupy.installed(fakecupy.FakeCupy(self.build, cuda.LANGUAGE_OPTIONS)) as fake:
            self.fake = fake
            try:
                yield self
            finally:
                self.fake = None

    def put(self, a):
        """A host array moved to this device (inside :meth:`on`); anything else as it is."""
        if self.fake is None or not isinstance(a, np.ndarray):
            return a
        return self.fake.asarray(a)

    def get(self, a):
        """A host copy of an op's output, checked to live on this device."""
        a = unwrap(a)
        if self.fake is None:
            assert type(a).__module__ != "cupy"
            return np.asarray(a)
        assert type(a).__module__ == "cupy", f"{type(a).__name__} is not a device array"
        return a.get()

    @contextlib.contextmanager
    def no_transfers(self):
        """Fail if the block moves anything from the device to the host."""
        if self.fake is not None:
            self.fake.transfers.reset()
        yield
        if self.fake is not None:
            assert self.fake.transfers.count == 0, self.fake.transfers.log


def away_from_zero(shape, seed, low=0.2, high=2.0):
    """float64 values of magnitude in [low, high], either sign (no kinks of abs/relu/sign at 0)."""
    rng = np.random.default_rng(seed)
    return np.asarray(rng.uniform(low, high, shape) * rng.choice([-1.0, 1.0], shape))


def distinct(shape, seed):
    """float64 values in [-2, 2], pairwise at least 4 / size apart (no ties for max, sort, argmax)."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return ((rng.permutation(n) - (n - 1) / 2) * (4.0 / max(n, 1))).reshape(shape)


def positive(shape, seed, low=0.5, high=2.0):
    return np.asarray(np.random.default_rng(seed).uniform(low, high, shape))


def _as_list(y):
    return list(y) if isinstance(y, (list, tuple)) else [y]


def check_op(device, fn, *args, wrt=None, reference=None, rtol=1e-10, atol=1e-12, grad_tol=1e-6, seed=0,
             tensors=False):
    """Check ``fn(*args)`` (``args``: host arrays; the float64 ones, or those at ``wrt``, differentiated):

    - on host arrays with no tape, it gives plain arrays (no Tensor) of ``args``' float dtype,
      equal to ``reference(*args)`` where given;
    - on ``device`` under a tape that watches them, it gives Tensors of the same values, and the
      tape's gradient of sum(y * R), R random, matches central differences, all without a host trip.

    ``tensors``: differentiate with respect to Tensors around the device arrays (as a Lambda's
    inputs are), so that NumPy operators in ``fn`` record too.

    Returns the host output (a list for an op with several outputs).
    """
    args = [np.asarray(a) if isinstance(a, np.generic) else a for a in args]  # 0-d results of NumPy arithmetic
    wrt = [i for i, a in enumerate(args) if isinstance(a, np.ndarray) and a.dtype == np.float64] \
        if wrt is None else wrt
    y = fn(*args)
    outs = _as_list(y)
    for o in outs:
        assert not isinstance(o, Tensor), "an op on plain arrays with no tape must give a plain array"
        assert np.asarray(o).dtype == np.float64, np.asarray(o).dtype
    if reference is not None:
        for o, r in zip(outs, _as_list(reference(*args)), strict=True):
            assert np.shape(o) == np.shape(r), (np.shape(o), np.shape(r))
            np.testing.assert_allclose(o, r, rtol=rtol, atol=atol)
    rng = np.random.default_rng(seed)
    Rs = [rng.standard_normal(np.shape(o)) for o in outs]
    with device.on():
        dargs = [device.put(a) for a in args]
        if tensors:
            dargs = [Tensor(a) if i in wrt else a for i, a in enumerate(dargs)]
        with device.no_transfers():
            with GradientTape() as tape:
                tape.watch([dargs[i] for i in wrt])
                douts = _as_list(fn(*dargs))
            assert all(isinstance(o, Tensor) for o in douts), [type(o) for o in douts]
            grads = tape.gradient(douts, [dargs[i] for i in wrt], output_gradients=[device.put(R) for R in Rs])
        for o, h in zip(douts, outs, strict=True):
            got = device.get(o)
            assert got.dtype == np.float64 and got.shape == np.shape(h)
            np.testing.assert_allclose(got, h, rtol=1e-9, atol=1e-12)
        assert all(g is not None for g in grads), "a watched input got no gradient"
        grads = [device.get(g) for g in grads]

    def loss():
        return sum(float((np.asarray(unwrap(o)) * R).sum()) for o, R in zip(_as_list(fn(*args)), Rs))
    for i, g in zip(wrt, grads):
        assert g.shape == args[i].shape and g.dtype == args[i].dtype, (g.shape, g.dtype, args[i].shape)
        err = relative_error(g, numerical_gradient(loss, args[i]))
        assert err < grad_tol, f"argument {i}: relative error {err:.2e}"
    return y
