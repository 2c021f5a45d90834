"""The one random generator every random draw in minicnn uses (initialisers, dropout, shuffling),
and Keras 3's ``keras.random`` (``normal``, ``uniform``, ``randint``, ``SeedGenerator``) for the user's code.

``set_seed(seed)`` (public as ``minicnn.utils.set_random_seed``) reseeds it, and NumPy's global
generator too. Without ``set_seed`` the generator takes its seed from NumPy's global generator
at its first use, so the classic tutorial line ``np.random.seed(1337)`` makes runs repeatable, and
runs without any seed still differ (NumPy seeds its global generator from the operating system).

Under MPI (:mod:`minicnn.distributed`) every rank draws the same initial weights and shuffles from
this generator (an unseeded run takes rank 0's seed), while dropout masks, which should differ
between ranks, come from :func:`local_generator`.
"""
import random as _pyrandom

import numpy as np

from minicnn import distributed

_state = {"rng": None, "seed": None, "gpu_rng": None, "local": None}


def generator():
    """The host ``numpy.random.Generator`` of initialisers, shuffling and CPU dropout; unless
    :func:`set_seed` came first, made at the first call, seeded from ``np.random``."""
    if _state["rng"] is None:
        # 128 bits, so that unseeded runs do not collide; this consumes four draws of np.random.
        seed = distributed.broadcast(np.random.randint(2**32, size=4, dtype=np.uint64))
        _state["rng"] = np.random.default_rng(seed)
    return _state["rng"]


def local_generator():
    """Draws that differ between MPI ranks (dropout): :func:`generator`, or one seeded by it and the rank."""
    if _state["local"] is None:
        _state["local"] = generator() if distributed.size() == 1 else np.random.default_rng(
            [int(generator().integers(2**63)), distributed.rank()])
    return _state["local"]


def gpu_generator():
    """A ``cupy.random.RandomState`` seeded from the host generator (created on first use)."""
    if _state["gpu_rng"] is None:
        # CuPy itself, not backend.xp(): draws for CuPy arrays are needed whatever the global
        # backend is (a model kept on the GPU after set_backend("numpy"), a GPU gradient check).
        from minicnn.backend import _import_cupy
        _state["gpu_rng"] = _import_cupy().random.RandomState(int(local_generator().integers(2**31)))
    return _state["gpu_rng"]


def set_seed(seed):
    """Seed every random draw: minicnn's generators, NumPy's global one and Python's ``random``.

    The same seed on the same backend gives a bit-identical run.

    Raises:
        TypeError: if ``seed`` is not an integer.
        ValueError: if ``seed`` is negative.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative integer, got {seed!r} ({type(seed).__name__}).")
    if seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed}.")
    seed = int(seed)
    _state["rng"] = np.random.default_rng(seed)
    _state["seed"] = seed
    _state["gpu_rng"] = _state["local"] = None
    np.random.seed(seed % 2**32)
    _pyrandom.seed(seed)


def get_state():
    """A snapshot of the host generator's state (for replaying the same draws)."""
    return generator().bit_generator.state


def set_state(state):
    """Restore a snapshot taken by :func:`get_state`.

    GPU draws replay too: the GPU generator is dropped and reseeded from the restored host
    generator at its next use (CuPy's RandomState has no state to snapshot).
    """
    generator().bit_generator.state = state
    _state["gpu_rng"] = None


# -- keras.random: draws for the user's code (a VAE's Sampling layer) ----------------------------------

class SeedGenerator:
    """Keras 3's ``keras.random.SeedGenerator(seed)``: a generator of its own, for ``seed=`` of the
    draws below; each draw advances it (a layer keeps one and draws different noise every call)."""

    def __init__(self, seed=None):
        self.rng = np.random.default_rng(seed if seed is not None else int(local_generator().integers(2**63)))


def _rng(seed):
    """The generator a draw with ``seed`` uses: an int draws the same each time (as Keras's), a
    SeedGenerator its own advancing stream, None minicnn's (differing between MPI ranks, as dropout)."""
    if isinstance(seed, SeedGenerator):
        return seed.rng
    if seed is None:
        return local_generator()
    return np.random.default_rng(int(seed))


def _placed(values, dtype):
    from minicnn import backend
    return backend.to_device(values.astype(dtype or backend.floatx(), copy=False))


def normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None):
    """Normal draws of ``shape`` (float32 by default) on the current backend."""
    return _placed(_rng(seed).normal(mean, stddev, size=tuple(shape)), dtype)


def uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None):
    """Uniform draws in [minval, maxval) of ``shape`` (float32 by default) on the current backend."""
    return _placed(_rng(seed).uniform(minval, maxval, size=tuple(shape)), dtype)


def randint(shape, minval, maxval, dtype="int32", seed=None):
    """Integers in [minval, maxval) of ``shape`` on the current backend."""
    return _placed(_rng(seed).integers(minval, maxval, size=tuple(shape)), dtype)
