"""The CPU's way of running an optimizer's update on a large parameter: in cache-sized chunks.

Every pass of an update (Adadelta makes about twelve) then works on a chunk still in cache
instead of streaming the whole array from memory again: 1.3-1.6x faster for Adam, RMSprop and
Adadelta on the tutorial CNN's 600,810 weights (measured on a 2-core Xeon). The chunks go to the
worker threads; each element's update is the same whichever thread runs it.
"""
import numpy as np

from minicnn.cpu.threads import run_chunks
from minicnn.cpu.workspace import for_thread, workspace

# Elements per chunk: the six or so arrays one update touches (1.5 MB in float32) stay in cache.
CHUNK = 65536


def update_in_chunks(optimizer, p, g, slots, scalars):
    """Run ``optimizer._update`` over flat chunks of the NumPy parameter p, in place."""
    pf, gf = p.reshape(-1), g.reshape(-1)
    sf = [s.reshape(-1) for s in slots]
    ws = workspace(optimizer)

    def chunk(lo, hi, t):
        wst = for_thread(ws, t)
        buffers = [wst.get(f"scratch{k}", (hi - lo,), p.dtype) for k in range(optimizer.n_scratch)]
        optimizer._update(np, pf[lo:hi], gf[lo:hi], [s[lo:hi] for s in sf], buffers, *scalars)
    run_chunks(chunk, pf.size, CHUNK)
