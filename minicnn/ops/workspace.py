"""Scratch buffers reused from one training step to the next.

Allocating a fresh 10-100 MB patch matrix every step costs page faults on first touch; a layer
that keeps a Workspace gets the same memory back whenever the shape repeats (every full batch).
Only scratch that never escapes the layer lives here (patches, padded copies), never outputs.
"""
import math

from minicnn.backend import get_array_module


class Workspace:
    """Named buffers, reallocated only when a larger size or another dtype is requested."""

    def __init__(self):
        self._buffers = {}
        self._views = {}  # (name, shape, dtype, array type) -> the view get returned last time
        self._threads = {}

    def thread(self, t):
        """The sub-workspace of worker thread ``t`` (worker threads never share scratch)."""
        if t not in self._threads:
            self._threads[t] = Workspace()
        return self._threads[t]

    def get(self, name, shape, dtype, like, fill=None):
        """An uninitialised array ``shape``/``dtype`` on the backend of ``like``.

        The memory behind a name only grows: a batch's last, smaller chunk gets a view of the
        same buffer instead of a fresh allocation (and fresh page faults) every step.
        ``fill``: a value written over the whole buffer when it is (re)allocated, never after.
        """
        key = (name, shape, dtype, type(like))
        view = self._views.get(key)
        if view is not None:  # the common case, every step: a dict lookup
            return view
        xp = get_array_module(like)
        size = math.prod(shape)
        buf = self._buffers.get(name)
        if buf is None or buf.size < size or buf.dtype != xp.dtype(dtype) or get_array_module(buf) is not xp:
            buf = xp.empty(size, dtype=dtype)
            if fill is not None:
                buf.fill(fill)
            self._buffers[name] = buf
            for k in [k for k in self._views if k[0] == name]:
                del self._views[k]
        view = self._views[key] = buf[:size].reshape(shape)
        return view

    def clear(self):
        self._buffers.clear()
        self._views.clear()
        self._threads.clear()


def for_thread(ws, t):
    """``ws``'s sub-workspace for worker ``t``, or None without a workspace."""
    return None if ws is None else ws.thread(t)


def scratch(ws, name, shape, dtype, like):
    """A buffer from ``ws``, or a fresh array when there is no workspace."""
    if ws is None:
        return get_array_module(like).empty(shape, dtype=dtype)
    return ws.get(name, shape, dtype, like)
