"""Per-step forward and backward time of the tutorial CNN's training step (the steps of its plan,
minicnn.plan: fused layers timed as one), and for each convolution the share of its time spent
in matrix products.

    python benchmarks/bench_layers.py --batch 128

For a convolution the "GEMM ms" column times the very matrix products the layer runs (same
shapes, same chunking) on their own, with the same BLAS and threads: GEMM ms / layer ms is the
share of the layer spent in BLAS, and the GFLOP/s columns compare the layer's useful arithmetic
rate with BLAS's rate on those shapes.
"""
import argparse
import statistics
import time

import numpy as np

from common import fashion_batches, header, minicnn_model

import minicnn
from minicnn.cpu.conv import chunk_size
from minicnn.cpu.threads import cpu_threads, run_chunks
from minicnn.layers import Conv2D
from minicnn.nn.geometry import conv_output_length


def median_ms(fn, repeat):
    fn()
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1000 * statistics.median(times)


def forward_backward_ms(step, x, dy, repeat):
    """Median forward and backward times of a plan step, each timed on its own, as in a training step."""
    fwd, bwd = [], []
    with cpu_threads():
        for _ in range(repeat + 1):
            grad = dy.copy()  # a step may overwrite its input gradient; not timed
            t0 = time.perf_counter()
            _, cache = step.forward(x, True)
            t1 = time.perf_counter()
            step.backward(grad, cache)
            t2 = time.perf_counter()
            fwd.append(t1 - t0)
            bwd.append(t2 - t1)
    return 1000 * statistics.median(fwd[1:]), 1000 * statistics.median(bwd[1:])


def conv_gemm_ms(layer, x_shape, repeat, need_dx):
    """Time the forward GEMMs and the backward GEMMs (dW and, if ``need_dx``, dx) of ``layer``."""
    N, H, W, C = x_shape
    KH, KW = layer.kernel_size
    F = layer.filters
    OH = conv_output_length(H, KH, layer.strides[0], layer.padding)
    OW = conv_output_length(W, KW, layer.strides[1], layer.padding)
    step = chunk_size(N, OH * OW * KH * KW * C * 4)
    rng = np.random.default_rng(0)
    cols = rng.random((step * OH * OW, KH * KW * C), dtype=np.float32)
    W2 = rng.random((KH * KW * C, F), dtype=np.float32)
    dz = rng.random((step * OH * OW, F), dtype=np.float32)
    dcols = rng.random((step * H * W, KH * KW * F), dtype=np.float32)
    Wf = rng.random((KH * KW * F, C), dtype=np.float32)
    # The same chunks on the same worker threads as the layer, each product on private inputs.
    per_thread = {}

    def arrays(t):
        if t not in per_thread:
            per_thread[t] = [a.copy() for a in (cols, W2, dz, dcols, Wf)]
        return per_thread[t]

    def fwd_chunk(lo, hi, t):
        c, w, _, _, _ = arrays(t)
        return c[:(hi - lo) * OH * OW] @ w

    def bwd_chunk(lo, hi, t):
        c, _, d, dc, wf = arrays(t)
        c[:(hi - lo) * OH * OW].T @ d[:(hi - lo) * OH * OW]
        if need_dx:
            dc[:(hi - lo) * H * W] @ wf
    with cpu_threads():
        fwd = median_ms(lambda: run_chunks(fwd_chunk, N, step), repeat)
        bwd = median_ms(lambda: run_chunks(bwd_chunk, N, step), repeat)
    flop_f = 2 * N * OH * OW * KH * KW * C * F
    flop_b = flop_f * (2 if need_dx else 1)
    return fwd, bwd, flop_f, flop_b


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--batchnorm", action="store_true")
    args = p.parse_args()
    minicnn.cpu.allocator.tune_malloc()  # as a model's first step would; the header reports it
    print(header(args))
    x, y, source = fashion_batches(args.batch)
    print(f"data: {source}\n")
    model = minicnn_model(batchnorm=args.batchnorm)
    for _ in range(2):
        model._train_step([x], [y])
    steps = model._plan().steps
    print("| step (layers) | forward ms | backward ms | GEMM fwd ms | GEMM bwd ms | GEMM share | layer GFLOP/s | BLAS GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    total_f = total_b = 0.0
    inputs = [x]
    for step in steps:
        inputs.append(step.forward(inputs[-1], True)[0])
    for i, step in enumerate(steps):
        xin, out = inputs[i], inputs[i + 1]
        dy = np.random.default_rng(i).standard_normal(out.shape).astype(np.float32)
        fwd, bwd = forward_backward_ms(step, xin, dy, args.repeat)
        total_f, total_b = total_f + fwd, total_b + bwd
        name = f"{type(step).__name__} ({' + '.join(layer.name for layer in step.layers)})"
        layer = step.layers[0]
        if isinstance(layer, Conv2D):
            gf, gb, flop_f, flop_b = conv_gemm_ms(layer, xin.shape, args.repeat, getattr(step, "need_dx", True))
            share = (gf + gb) / (fwd + bwd)
            rate = (flop_f + flop_b) / ((fwd + bwd) / 1000) / 1e9
            blas = (flop_f + flop_b) / ((gf + gb) / 1000) / 1e9
            print(f"| {name} | {fwd:.2f} | {bwd:.2f} | {gf:.2f} | {gb:.2f} | {share:.0%} | {rate:.1f} | {blas:.1f} |")
        else:
            print(f"| {name} | {fwd:.2f} | {bwd:.2f} | - | - | - | - | - |")
    step = median_ms(lambda: model._train_step([x], [y]), args.repeat)
    print(f"\nsum of layers: forward {total_f:.1f} ms, backward {total_b:.1f} ms; "
          f"whole training step (with loss and optimizer): {step:.1f} ms at batch {args.batch}")


if __name__ == "__main__":
    main()
