"""glibc malloc settings for the NumPy path: each step's arrays come back from the heap instead of
being mapped afresh and page-faulted in.

A training step allocates and frees the same 1-50 MB arrays every step (layer outputs, gradients,
dropout masks). glibc serves requests above its mmap threshold (128 KiB at start, raised
automatically only up to 32 MiB) with fresh pages from the kernel and unmaps them at free, and
it returns free memory at the top of the heap to the kernel beyond 128 KiB. So every step pays
page faults, each a kernel entry and a zeroed page: 3,463 per step at batch 128 for the tutorial
CNN on the 2-core VMs we measure on, about 10% of the step (PyTorch's default CPU allocator has
the same problem; its tuning guide recommends swapping the allocator).

:func:`tune_malloc` raises both thresholds through ``mallopt``, as the environment variables
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` would. It affects the whole process:
memory freed after training stays with the process for reuse instead of going back to the
system, and the heap's fragmentation can raise the peak a little (tutorial CNN: 101 instead of
95 MiB at batch 128, 219 instead of 186 MiB at batch 512). It runs once, the first time a model
computes on the CPU, and does nothing when:

- ``MINICNN_MALLOC_TUNING=0`` is set (keep glibc's defaults),
- either glibc variable above is set (the user's own choice wins),
- the C library is not glibc (macOS, Windows, musl): their allocators differ.
"""
import ctypes
import os
import platform
import sys

# mallopt parameter numbers from glibc's <malloc.h>.
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

# Arrays below this come from the heap (a batch-512 step's largest are 44 MB).
MMAP_THRESHOLD = 256 << 20
# Free memory kept at the top of the heap: more than a step's worth of temporaries.
TRIM_THRESHOLD = 1 << 30

_state = {"tried": False, "applied": False}


def tune_malloc():
    """Apply the settings once per process (see the module docstring). Returns whether they are
    in effect."""
    if not _state["tried"]:
        _state["tried"] = True
        _state["applied"] = _wanted() and _apply()
    return _state["applied"]


def is_tuned():
    """Whether :func:`tune_malloc` has applied the settings in this process."""
    return _state["applied"]


def _wanted():
    if os.environ.get("MINICNN_MALLOC_TUNING", "1").strip().lower() in ("0", "false", "no", "off"):
        return False
    if "MALLOC_MMAP_THRESHOLD_" in os.environ or "MALLOC_TRIM_THRESHOLD_" in os.environ:
        return False
    return sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _apply():
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    # mallopt returns 1 on success, 0 for a value it refuses; both are tried either way.
    mmap_ok = mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD) == 1
    trim_ok = mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD) == 1
    return mmap_ok and trim_ok
