"""The CPU tuning, kept beside the plain ops it replaces (each module names its op in minicnn.nn).

Chunks over the batch on worker threads (threads), reused scratch owned by the calling thread
(workspace), glibc's malloc thresholds (allocator), and the tuned ops: conv, pooling, dense,
dropout, normalization, optimizer. steps.py wraps them as the steps minicnn.plan chooses when
the fast path is on (``minicnn.set_fast_path``, ``MINICNN_FAST_PATH``). The GPU never runs them.
"""
