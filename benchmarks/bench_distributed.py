"""Data-parallel training of the tutorial CNN over MPI: where a step's time goes on each rank, one
process per core against one process with a thread per core, scaling, and the ring all-reduce's
cost beyond this machine.

    python benchmarks/bench_distributed.py                 # everything (needs mpi4py and mpiexec)
    python benchmarks/bench_distributed.py --cost-model    # the cost model alone, no runs

Each measurement runs `mpiexec -n N python bench_distributed.py --child ...` (or one process for
N = 1); the child ranks time their own steps and rank 0 reports medians as JSON. Alternating runs
repeat each configuration, so a noisy neighbour hits both sides alike.
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time

import numpy as np

from common import fashion_batches, header, minicnn_model

from minicnn import distributed

GRAD_BYTES = 600_810 * 4  # the tutorial CNN's gradients in float32


def child(args):
    """Under mpiexec: time the phases of each step and the whole steps; rank 0 prints JSON."""
    n, r = distributed.size(), distributed.rank()
    per_rank = args.global_batch // n
    x, y, _ = fashion_batches(args.global_batch * 4)
    model = minicnn_model()
    plan = model._plan()
    weights = plan.weights
    buffers, phases = {}, {"compute": [], "pack": [], "wait": [], "allreduce": [], "update": []}

    def batch(i):
        lo = (i % 4) * args.global_batch + r * per_rank
        return x[lo:lo + per_rank], y[lo:lo + per_rank]
    for i in range(args.warmup + args.steps):  # the phases, one by one, as _train_step runs them
        xb, yb = batch(i)
        with plan.running():
            t0 = time.perf_counter()
            outs, caches = plan.forward([xb], True)
            _, _, douts = plan.loss([(model.loss, 1.0)], [yb], outs)
            grads = plan.backward([douts[0] * np.float32(1 / n)], caches)
            t1 = time.perf_counter()
            flat = buffers.setdefault("flat", np.empty(sum(g.size for g in grads), np.float32))
            views, at = [], 0
            for g in grads:
                flat[at:at + g.size] = g.reshape(-1)
                views.append(flat[at:at + g.size].reshape(g.shape))
                at += g.size
            t2 = time.perf_counter()
            distributed.barrier()  # the other ranks' lag, apart from the all-reduce's own time
            t2b = time.perf_counter()
            distributed.allreduce_sum_(flat)
            t3 = time.perf_counter()
            model.optimizer.apply_gradients(weights, views)
            t4 = time.perf_counter()
        if i >= args.warmup:
            for name, dt in zip(phases, (t1 - t0, t2 - t1, t2b - t2, t3 - t2b, t4 - t3)):
                phases[name].append(1000 * dt)
    rounds = []
    for _ in range(args.rounds):  # whole steps through the real training step
        distributed.barrier()
        t = time.perf_counter()
        for i in range(args.steps):
            xb, yb = batch(i)
            model._train_step([xb], [yb], 1 / n)
        distributed.barrier()
        rounds.append(args.steps * args.global_batch / (time.perf_counter() - t))
    if distributed.is_main():
        print(json.dumps({"ranks": n, "threads": args.threads, "global_batch": args.global_batch,
                          "ms": {k: statistics.median(v) for k, v in phases.items()},
                          "samples_per_s": statistics.median(rounds)}))


def measure(n, threads, global_batch, args):
    """One child run on n ranks with ``threads`` threads each: its JSON."""
    me = [sys.executable, os.path.abspath(__file__), "--child", "--global-batch", str(global_batch),
          "--steps", str(args.steps), "--rounds", str(args.rounds), "--warmup", str(args.warmup),
          "--threads", str(threads)]
    cmd = me if n == 1 else [shutil.which("mpiexec") or "mpiexec", "-n", str(n), *me]
    # BLAS gets the same thread count as minicnn's workers: a "1 thread" process must not run its
    # products on the other core (under mpiexec minicnn sets this itself).
    env = {**os.environ, "MINICNN_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
           "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    done = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def cost_model(step_ms):
    """Ring all-reduce time 2(N-1)/N * S / B + 2(N-1) * latency against a step's compute."""
    print(f"\nRing all-reduce cost model (latency 20 us per message; compute {step_ms:.0f} ms per step "
          "at 128 samples per rank, from the 1-rank run above; no overlap with the backward):")
    print("| gradients | link | nodes | all-reduce ms | share of a step | efficiency |")
    print("| --- | --- | --- | --- | --- | --- |")
    for label, size in (("tutorial CNN, 2.4 MB", GRAD_BYTES), ("10x larger, 24 MB", 10 * GRAD_BYTES)):
        for gbit in (1, 10, 100):
            for nodes in (2, 8, 64):
                ms = 1000 * (2 * (nodes - 1) / nodes * size / (gbit * 1e9 / 8) + 2 * (nodes - 1) * 20e-6)
                compute = step_ms * (10 if size > GRAD_BYTES else 1)
                print(f"| {label} | {gbit} Gbit/s | {nodes} | {ms:.1f} | {ms / (ms + compute):.0%} | "
                      f"{compute / (ms + compute):.0%} |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    p.add_argument("--global-batch", type=int, default=256)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--repeat", type=int, default=3, help="alternating runs of each comparison")
    p.add_argument("--cost-model", action="store_true")
    args = p.parse_args()
    if args.child:
        return child(args)
    print(header(args))
    if args.cost_model:
        return cost_model(50.0)
    cores = len(os.sched_getaffinity(0))
    print("\nPer step, 128 samples per rank (median ms on rank 0):")
    print("| ranks | threads each | compute | packing | waiting for the other ranks | all-reduce | update | "
          "all-reduce share | samples/s |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    runs = {}
    for n in (1, 2, 4):
        runs[n] = m = measure(n, max(1, cores // n), 128 * n, args)
        total = sum(m["ms"].values())
        print(f"| {n} | {m['threads']} | {m['ms']['compute']:.1f} | {m['ms']['pack']:.2f} | {m['ms']['wait']:.2f} | "
              f"{m['ms']['allreduce']:.2f} | {m['ms']['update']:.1f} | {m['ms']['allreduce'] / total:.1%} | "
              f"{m['samples_per_s']:.0f} |")
    for batch in (128, 256):
        threaded, ranks = [], []
        for _ in range(args.repeat):  # alternating: one process with all cores, then one per core
            threaded.append(measure(1, cores, batch, args)["samples_per_s"])
            ranks.append(measure(cores, 1, batch, args)["samples_per_s"])
        print(f"\nglobal batch {batch}: 1 process x {cores} threads {statistics.median(threaded):.0f} samples/s "
              f"(runs {', '.join(f'{v:.0f}' for v in threaded)}); {cores} ranks x 1 thread "
              f"{statistics.median(ranks):.0f} (runs {', '.join(f'{v:.0f}' for v in ranks)}); ratio "
              f"{statistics.median(ranks) / statistics.median(threaded):.2f}x")
    one, two = [], []
    for _ in range(args.repeat):
        one.append(measure(1, 1, 128, args)["samples_per_s"])
        two.append(measure(2, 1, 256, args)["samples_per_s"])
    print(f"\nscaling at 128 samples per rank, 1 thread each: 1 rank {statistics.median(one):.0f} samples/s, "
          f"2 ranks {statistics.median(two):.0f}: efficiency {statistics.median(two) / (2 * statistics.median(one)):.0%}")
    cost_model(sum(runs[1]["ms"].values()))


if __name__ == "__main__":
    main()
