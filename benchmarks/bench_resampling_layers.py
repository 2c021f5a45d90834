"""Forward and backward time of UpSampling2D, Cropping2D, SpatialDropout2D, GaussianNoise and
GaussianDropout against their PyTorch equivalents, interleaved in one process.

    python benchmarks/bench_resampling_layers.py --batch 64 --repeat 15
    python benchmarks/bench_resampling_layers.py --only bilinear

minicnn runs each layer as a training step of its plan would: the tuned step of minicnn.cpu when
there is one (minicnn.cpu.steps.STEPS), else the layer; channels-last float32 (N, H, W, C).
PyTorch gets the same values as NCHW float32 (its default layout) with requires_grad, and its
backward is torch.autograd.grad of the output with the same dy. The peers: nn.Upsample (nearest;
bilinear with align_corners=False), slicing (a view, and the view made contiguous as a following
convolution would), nn.Dropout2d, x + randn_like(x) * stddev, x * (1 + randn_like(x) * std).
Each repeat times minicnn's forward and backward, then PyTorch's; the table gives medians and
the ratio PyTorch time / minicnn time (above 1: minicnn is faster). PyTorch is a benchmark-only
peer (pip install torch==2.13.0).
"""
import argparse
import statistics
import time

import numpy as np

from common import header

import minicnn
from minicnn.cpu import steps
from minicnn.cpu.threads import cpu_threads
from minicnn.layers import Cropping2D, GaussianDropout, GaussianNoise, SpatialDropout2D, UpSampling2D


def cases(N):
    """(name, minicnn layer, its input shape (H, W, C), PyTorch forward of an NCHW tensor)."""
    import torch
    from torch import nn
    crop = lambda x: x[:, :, 2:-2, 2:-2]  # noqa: E731
    return [
        ("UpSampling2D() nearest", UpSampling2D(), (14, 14, 32), nn.Upsample(scale_factor=2, mode="nearest")),
        ('UpSampling2D(interpolation="bilinear")', UpSampling2D(interpolation="bilinear"), (14, 14, 32),
         nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)),
        ("UpSampling2D((3, 3)) nearest, 3 channels", UpSampling2D(3), (32, 32, 3),
         nn.Upsample(scale_factor=3, mode="nearest")),
        ('UpSampling2D((3, 3), "bilinear"), 3 channels', UpSampling2D(3, interpolation="bilinear"), (32, 32, 3),
         nn.Upsample(scale_factor=3, mode="bilinear", align_corners=False)),
        ("Cropping2D(2) vs a view", Cropping2D(2), (28, 28, 32), crop),
        ("Cropping2D(2) vs .contiguous()", Cropping2D(2), (28, 28, 32), lambda x: crop(x).contiguous()),
        ("SpatialDropout2D(0.3)", SpatialDropout2D(0.3), (28, 28, 32), nn.Dropout2d(0.3).train()),
        ("GaussianNoise(0.5)", GaussianNoise(0.5), (28, 28, 32), lambda x: x + torch.randn_like(x) * 0.5),
        ("GaussianDropout(0.3)", GaussianDropout(0.3), (28, 28, 32),
         lambda x: x * (1 + torch.randn_like(x) * (0.3 / 0.7) ** 0.5)),
    ]


def runner(layer, shape, N):
    """What a training step runs for ``layer``: its tuned step if minicnn.cpu has one."""
    layer.build(shape)
    step_cls = steps.STEPS.get(type(layer))
    tuned = step_cls is not None and step_cls.takes(layer)
    return (step_cls(layer) if tuned else layer), tuned


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--repeat", type=int, default=15)
    p.add_argument("--only", default="", help="run only the layers whose name contains this text")
    args = p.parse_args()
    import torch
    minicnn.cpu.allocator.tune_malloc()
    print(header(args))
    rng = np.random.default_rng(0)
    print("\n| layer | input (N, H, W, C) | tuned step | minicnn fwd ms | bwd ms | PyTorch fwd ms | bwd ms "
          "| fwd ratio | bwd ratio |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, layer, shape, peer in cases(args.batch):
        if args.only not in name:
            continue
        run, tuned = runner(layer, shape, args.batch)
        x = rng.standard_normal((args.batch, *shape), dtype=np.float32)
        y = run.forward(x, True)[0]
        dy = rng.standard_normal(y.shape, dtype=np.float32)
        xt = torch.from_numpy(x.transpose(0, 3, 1, 2).copy()).requires_grad_(True)
        dyt = torch.from_numpy(dy.transpose(0, 3, 1, 2).copy())
        times = {k: [] for k in ("mf", "mb", "tf", "tb")}
        for i in range(args.repeat + 1):
            with cpu_threads():
                t0 = time.perf_counter()
                _, cache = run.forward(x, True)
                t1 = time.perf_counter()
                run.backward(dy, cache)
                t2 = time.perf_counter()
            t3 = time.perf_counter()
            yt = peer(xt)
            t4 = time.perf_counter()
            torch.autograd.grad(yt, xt, dyt)
            t5 = time.perf_counter()
            if i:  # the first round warms both up
                for k, v in zip(times, (t1 - t0, t2 - t1, t4 - t3, t5 - t4)):
                    times[k].append(1000 * v)
        mf, mb, tf, tb = (statistics.median(times[k]) for k in times)
        print(f"| {name} | {(args.batch, *shape)} | {'yes' if tuned else 'no'} | {mf:.2f} | {mb:.2f} | {tf:.2f} "
              f"| {tb:.2f} | {tf / mf:.2f} | {tb / mb:.2f} |")


if __name__ == "__main__":
    main()
