"""Scratch buffers reused from one call to the next, owned by the calling thread.

Allocating a fresh 10-100 MB patch matrix every step costs page faults on first touch; a step
that asks for its Workspace gets the same memory back whenever the shape repeats (every full
batch). Only scratch that never escapes a call lives here (patches, padded copies, masks), never
outputs. Each calling thread has its own workspaces, and each worker of a call its own part of
them (:func:`for_thread`), so one model can run in many threads at once.
"""
import math
import threading
import weakref

import numpy as np

_local = threading.local()


class Workspace:
    """Named NumPy buffers, reallocated only when a larger size or another dtype is requested."""

    def __init__(self):
        self._buffers = {}
        self._views = {}  # (name, shape, dtype) -> the view get returned last time
        self._threads = {}

    def thread(self, t):
        """The sub-workspace of worker ``t`` of the current call (workers never share scratch)."""
        if t not in self._threads:
            self._threads[t] = Workspace()
        return self._threads[t]

    def get(self, name, shape, dtype, fill=None):
        """An uninitialised array; ``fill`` is written when the buffer is (re)allocated, never after.
        A name's memory only grows: a batch's last, smaller chunk gets a view of the same buffer."""
        key = (name, shape, dtype)
        view = self._views.get(key)
        if view is not None:  # the common case, every step: a dict lookup
            return view
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != np.dtype(dtype):
            buf = np.empty(size, dtype=dtype)
            if fill is not None:
                buf.fill(fill)
            self._buffers[name] = buf
            for k in [k for k in self._views if k[0] == name]:
                del self._views[k]
        view = self._views[key] = buf[:size].reshape(shape)
        return view


def workspace(owner):
    """The calling thread's Workspace for ``owner`` (a step of a plan); freed with the owner."""
    if not hasattr(_local, "spaces"):
        _local.spaces = weakref.WeakKeyDictionary()
    if owner not in _local.spaces:
        _local.spaces[owner] = Workspace()
    return _local.spaces[owner]


def release(owner):
    """Free the calling thread's buffers for ``owner`` (after fit: the memory goes back)."""
    getattr(_local, "spaces", {}).pop(owner, None)


def for_thread(ws, t):
    """``ws``'s sub-workspace for worker ``t``, or None without a workspace."""
    return None if ws is None else ws.thread(t)


def scratch(ws, name, shape, dtype):
    """A buffer from ``ws``, or a fresh array when there is no workspace."""
    if ws is None:
        return np.empty(shape, dtype=dtype)
    return ws.get(name, shape, dtype)
