"""Forward and backward time of Conv2DTranspose, DepthwiseConv2D and SeparableConv2D against PyTorch's
equivalents, at U-Net and MobileNet sizes, in one process, interleaved.

    python benchmarks/bench_conv_layers.py --batch 32 --repeat 7

minicnn runs each layer as a training step runs it (minicnn.plan: the tuned step of minicnn.cpu
where there is one, else the layer itself, inside the CPU step's thread context). PyTorch runs the
same shapes in NCHW, its own layout, on its threads: ConvTranspose2d, Conv2d with groups=C, and
groups=C followed by a 1x1 Conv2d. Backward is the input gradient and every weight gradient for a
given dy (PyTorch: autograd from the forward's graph). "ratio" is PyTorch's time over minicnn's
(1.0: as fast; 0.5: twice as slow).

A depthwise convolution does little arithmetic per byte, so the table also gives its bytes per
second: the least it must move (forward: read x, write y; backward: read x and dy, write dx), over
the measured time, next to this machine's copy bandwidth (np.copyto of 64 MiB, one thread and all
the chunk workers), the rate no NumPy pass can beat. Its tuned step is one einsum per chunk whose
inner loop runs along whole rows; "einsum floor" is the time its multiply-adds take at the rate that
einsum reaches on this machine in cache (measured here, on all the workers): forward
N*OH*OW*Q*KH*KW, backward that for dW plus N*H*W*Q*KH*KW for dx (dy spread out by the strides).
"""
import argparse
import statistics
import time

import numpy as np

from common import header

import minicnn
from minicnn.cpu import steps as fast
from minicnn.cpu.threads import cpu_threads, num_threads, run_chunks
from minicnn.layers import Conv2DTranspose, DepthwiseConv2D, SeparableConv2D
from minicnn.plan import LayerStep


def cases(N):
    """(name, minicnn layer, NHWC input shape, torch module maker, bytes a depthwise pass must move or None)."""
    from torch import nn
    return [
        ("Conv2DTranspose(32, 2, strides=2) U-Net up-conv", Conv2DTranspose(32, 2, strides=2), (N, 16, 16, 64),
         lambda: nn.ConvTranspose2d(64, 32, 2, stride=2)),
        ('Conv2DTranspose(32, 3, strides=2, padding="same")', Conv2DTranspose(32, 3, strides=2, padding="same"),
         (N, 16, 16, 64), lambda: nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1)),
        ('Conv2DTranspose(64, 3, padding="same")', Conv2DTranspose(64, 3, padding="same"), (N, 32, 32, 32),
         lambda: nn.ConvTranspose2d(32, 64, 3, padding=1)),
        ('DepthwiseConv2D(3, padding="same")', DepthwiseConv2D(3, padding="same"), (N, 32, 32, 64),
         lambda: nn.Conv2d(64, 64, 3, padding=1, groups=64)),
        ('DepthwiseConv2D(3, strides=2, padding="same")', DepthwiseConv2D(3, strides=2, padding="same"),
         (N, 32, 32, 32), lambda: nn.Conv2d(32, 32, 3, stride=2, padding=1, groups=32)),
        ('DepthwiseConv2D(3, padding="same", depth_multiplier=2)',
         DepthwiseConv2D(3, padding="same", depth_multiplier=2), (N, 32, 32, 32),
         lambda: nn.Conv2d(32, 64, 3, padding=1, groups=32)),
        ('SeparableConv2D(64, 3, padding="same")', SeparableConv2D(64, 3, padding="same"), (N, 32, 32, 32),
         lambda: nn.Sequential(nn.Conv2d(32, 32, 3, padding=1, groups=32, bias=False), nn.Conv2d(32, 64, 1))),
        ('SeparableConv2D(128, 3, padding="same")', SeparableConv2D(128, 3, padding="same"), (N, 16, 16, 64),
         lambda: nn.Sequential(nn.Conv2d(64, 64, 3, padding=1, groups=64, bias=False), nn.Conv2d(64, 128, 1))),
    ]


def training_step(layer):
    """The step a model's plan runs for ``layer`` in the middle of a network (its input gradient needed)."""
    cls = fast.STEPS.get(type(layer))
    return cls(layer) if cls is not None and cls.takes(layer) else LayerStep(layer)


def minicnn_times(step, x, dy):
    with cpu_threads():
        t0 = time.perf_counter()
        _, cache = step.forward(x, True)
        t1 = time.perf_counter()
        step.backward(dy.copy(), cache)
        t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def torch_times(module, x, dy):
    x = x.detach().requires_grad_(True)
    t0 = time.perf_counter()
    y = module(x)
    t1 = time.perf_counter()
    y.backward(dy)
    t2 = time.perf_counter()
    module.zero_grad(set_to_none=True)
    return t1 - t0, t2 - t1


def copy_bandwidth(repeat):
    """GB/s of np.copyto over 64 MiB (bytes read + written), on one thread and on all chunk workers."""
    a = np.ones(16 << 20, np.float32)
    b = np.empty_like(a)
    rows_a, rows_b = a.reshape(64, -1), b.reshape(64, -1)

    def one():
        np.copyto(b, a)

    def workers():
        run_chunks(lambda lo, hi, t: np.copyto(rows_b[lo:hi], rows_a[lo:hi]), 64, 64 // (2 * num_threads()))
    rates = []
    for fn in (one, workers):
        fn()
        times = []
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            times.append(time.perf_counter() - t)
        rates.append(2 * a.nbytes / statistics.median(times) / 1e9)
    return rates


def einsum_rate(repeat):
    """Multiply-adds per second of the tuned depthwise step's einsum on a chunk in cache (3 samples,
    32 rows of 32 x 64 floats, 3x3 taps), on all the chunk workers at once."""
    rng = np.random.default_rng(1)
    parts = 2 * num_threads()
    P = rng.standard_normal((parts, 3, 34, 34, 64)).astype(np.float32)
    kernel = rng.standard_normal((3, 3, 32 * 64)).astype(np.float32)
    out = np.empty((parts, 3, 32, 32 * 64), np.float32)
    sN, sH, sW, sQ = P.strides[1:]

    def chunk(lo, hi, t):
        for k in range(lo, hi):
            view = np.ndarray((3, 32, 3, 3, 32 * 64), np.float32, P[k], 0, (sN, sH, sH, sW, sQ))
            np.einsum("nhijr,ijr->nhr", view, kernel, out=out[k])
    times = []
    for _ in range(repeat + 1):
        t = time.perf_counter()
        run_chunks(chunk, parts, 1)
        times.append(time.perf_counter() - t)
    return out.size * 9 / statistics.median(times[1:])


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--repeat", type=int, default=7)
    args = p.parse_args()
    import torch
    minicnn.cpu.allocator.tune_malloc()
    print(header(args))
    one, every = copy_bandwidth(args.repeat)
    with cpu_threads():
        rate = einsum_rate(args.repeat)
    print(f"copy bandwidth (np.copyto, 64 MiB, read + write): {one:.1f} GB/s on one thread, "
          f"{every:.1f} GB/s on {num_threads()} workers")
    print(f"einsum multiply-add rate (the depthwise step's inner loop, in cache): {rate / 1e9:.1f} G/s on "
          f"{num_threads()} workers\n")
    print("| layer | input (NHWC) | minicnn step | fwd ms | torch fwd ms | fwd ratio | bwd ms | torch bwd ms "
          "| bwd ratio | depthwise GB/s fwd, bwd | einsum floor ms fwd, bwd |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    rng = np.random.default_rng(0)
    for name, layer, shape, make_torch in cases(args.batch):
        layer.build(shape[1:])
        step = training_step(layer)
        x = rng.standard_normal(shape).astype(np.float32)
        y, _ = step.forward(x, True)
        dy = rng.standard_normal(y.shape).astype(np.float32)
        module = make_torch()
        tx = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
        tdy = torch.from_numpy(np.ascontiguousarray(dy.transpose(0, 3, 1, 2)))
        assert tuple(module(tx).shape) == (y.shape[0], y.shape[3], y.shape[1], y.shape[2]), name
        ours, theirs = [], []
        for i in range(args.repeat + 1):  # interleaved; the first round warms both up and is dropped
            ours.append(minicnn_times(step, x, dy))
            theirs.append(torch_times(module, tx, tdy))
        f, b = (1000 * statistics.median(t[k] for t in ours[1:]) for k in (0, 1))
        tf, tb = (1000 * statistics.median(t[k] for t in theirs[1:]) for k in (0, 1))
        moved = floor = "-"
        if isinstance(layer, DepthwiseConv2D):
            moved_f, moved_b = x.nbytes + y.nbytes, 2 * x.nbytes + y.nbytes
            moved = f"{moved_f / f / 1e6:.1f}, {moved_b / b / 1e6:.1f}"
            taps = layer.kernel_size[0] * layer.kernel_size[1] * layer.depth_multiplier
            mac_f, mac_dx = y.size * taps / layer.depth_multiplier, x.size * taps
            floor = f"{1000 * mac_f / rate:.2f}, {1000 * (mac_f + mac_dx) / rate:.2f}"
        print(f"| `{name}` | {shape} | {type(step).__name__} | {f:.2f} | {tf:.2f} | {tf / f:.2f} | {b:.2f} | {tb:.2f} "
              f"| {tb / b:.2f} | {moved} | {floor} |")


if __name__ == "__main__":
    main()
