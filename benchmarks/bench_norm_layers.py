"""Forward and backward time of LayerNormalization and GroupNormalization against PyTorch's
LayerNorm and GroupNorm, in one process, interleaved.

    python benchmarks/bench_norm_layers.py --rounds 5 --repeat 3

Each case times a training forward and its backward (input and weight gradients) separately, the
median over ``--rounds`` rounds of ``--repeat`` runs, the rounds alternating minicnn and PyTorch so
that both see the same machine state; each round starts with an untimed run, during which the other
framework's idle threads stop spinning. minicnn is timed on its plain layer (minicnn.nn.layer_norm,
one thread: NumPy) and on the CPU's tuned step that the fast path runs (minicnn.cpu.steps, worker
threads), where there is one. PyTorch gets the same data, laid out as it wants it: channels-last images are permuted to
(N, C, H, W) views for GroupNorm (PyTorch's channels-last memory format, no copy); LayerNorm over
the last axis takes them as they are. The ratio is PyTorch's time over minicnn's (1.0: as fast;
0.5: twice as slow).
"""
import argparse
import contextlib
import statistics
import time

import numpy as np

from common import header

import minicnn
from minicnn.cpu import steps
from minicnn.cpu.threads import cpu_threads, num_threads, set_num_threads
from minicnn.layers import GroupNormalization, LayerNormalization

CASES = [  # (name, minicnn layer, minicnn input shape, torch module factory, torch input from the array)
    ("LayerNormalization() on (64, 32, 32, 64) NHWC", lambda: LayerNormalization(), (64, 32, 32, 64),
     lambda nn: nn.LayerNorm(64, eps=1e-3), lambda t: t),
    ("LayerNormalization() on (256, 1024)", lambda: LayerNormalization(), (256, 1024),
     lambda nn: nn.LayerNorm(1024, eps=1e-3), lambda t: t),
    ("LayerNormalization(axis=[1, 2, 3]) on (64, 16, 16, 64)", lambda: LayerNormalization(axis=[1, 2, 3]),
     (64, 16, 16, 64), lambda nn: nn.LayerNorm((16, 16, 64), eps=1e-3), lambda t: t),
    ("GroupNormalization(32) on (16, 32, 32, 64) NHWC", lambda: GroupNormalization(32), (16, 32, 32, 64),
     lambda nn: nn.GroupNorm(32, 64, eps=1e-3), lambda t: t.permute(0, 3, 1, 2)),
    ("GroupNormalization(8) on (16, 32, 32, 64) NHWC", lambda: GroupNormalization(8), (16, 32, 32, 64),
     lambda nn: nn.GroupNorm(8, 64, eps=1e-3), lambda t: t.permute(0, 3, 1, 2)),
    ("GroupNormalization(8, axis=1) on (16, 64, 32, 32) NCHW", lambda: GroupNormalization(8, axis=1),
     (16, 64, 32, 32), lambda nn: nn.GroupNorm(8, 64, eps=1e-3), lambda t: t),
]


def minicnn_runner(step, x, dy):
    """One forward and one backward of a layer or step: their times in seconds."""
    def run():
        t0 = time.perf_counter()
        _, cache = step.forward(x, True)
        t1 = time.perf_counter()
        step.backward(dy, cache)
        return t1 - t0, time.perf_counter() - t1
    return run


def torch_runner(module, x, dy):
    def run():
        x.grad = None
        module.zero_grad(set_to_none=True)
        t0 = time.perf_counter()
        y = module(x)
        t1 = time.perf_counter()
        y.backward(dy)
        return t1 - t0, time.perf_counter() - t1
    return run


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=5, help="rounds alternating the runners")
    p.add_argument("--repeat", type=int, default=3, help="timed runs of each runner per round")
    p.add_argument("--threads", type=int, default=None,
                   help="minicnn's workers and PyTorch's threads (default: each one's own default)")
    args = p.parse_args()
    import torch
    if args.threads:
        set_num_threads(args.threads)
        torch.set_num_threads(args.threads)
    minicnn.cpu.allocator.tune_malloc()  # as a model's first step would; the header reports it
    print(header(args))
    print(f"minicnn workers: {num_threads()}")
    print("\n| layer and input | minicnn plain fwd / bwd ms | minicnn tuned fwd / bwd ms | PyTorch fwd / bwd ms "
          "| ratio plain (fwd+bwd) | ratio tuned (fwd+bwd) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, make, shape, torch_make, to_torch in CASES:
        rng = np.random.default_rng(0)
        x = rng.standard_normal(shape).astype(np.float32) * 2 + 1
        dy = rng.standard_normal(shape).astype(np.float32)
        layer = make()
        layer.build(shape[1:])
        for w in layer.params.values():
            w[...] = rng.standard_normal(w.shape) * 0.5 + 1
        module = torch_make(torch.nn)
        with torch.no_grad():
            module.weight.copy_(torch.from_numpy(layer.params["gamma"].reshape(module.weight.shape)))
            module.bias.copy_(torch.from_numpy(layer.params["beta"].reshape(module.bias.shape)))
        tx = to_torch(torch.from_numpy(x.copy())).detach().requires_grad_(True)
        tdy = to_torch(torch.from_numpy(dy.copy()))
        tuned_cls = steps.STEPS.get(type(layer))
        tuned = tuned_cls(layer) if tuned_cls is not None and tuned_cls.takes(layer) else None
        runners = {"plain": minicnn_runner(layer, x, dy), "torch": torch_runner(module, tx, tdy)}
        if tuned is not None:
            runners["tuned"] = minicnn_runner(tuned, x, dy)
        times = {k: [] for k in runners}
        for _ in range(args.rounds):
            for k, run in runners.items():
                # minicnn's steps run as the fast path runs them: BLAS on one thread a call
                with (cpu_threads() if k != "torch" else contextlib.nullcontext()):
                    run()  # untimed: the other framework's threads stop spinning, caches warm up
                    times[k].extend(run() for _ in range(args.repeat))
        med = {k: [1000 * statistics.median(t[i] for t in v) for i in (0, 1)] for k, v in times.items()}
        torch_total = sum(med["torch"])
        cell = lambda k: f"{med[k][0]:.2f} / {med[k][1]:.2f}" if k in med else "-"  # noqa: E731
        ratio = lambda k: f"{torch_total / sum(med[k]):.2f}x" if k in med else "-"  # noqa: E731
        print(f"| {name} | {cell('plain')} | {cell('tuned')} | {cell('torch')} | {ratio('plain')} "
              f"| {ratio('tuned')} |")


if __name__ == "__main__":
    main()
