"""Training and inference throughput of the tutorial CNN: minicnn against PyTorch, interleaved in
one run on the same machine, plus each framework's peak RSS (measured in a child process each).

    python benchmarks/bench_train.py                      # batch 32, 128, 512; predict at 1000
    python benchmarks/bench_train.py --batch-sizes 128 --rounds 5 --steps 20 --batchnorm

Rounds alternate minicnn and PyTorch so drifting clocks or a noisy neighbour hit both alike; the
table gives the median round. Both run under the same malloc settings (``--malloc``): minicnn's
(minicnn.cpu.allocator), which spare PyTorch its per-step page faults too, or glibc's defaults.
PyTorch is a benchmark-only peer (pip install torch==2.13.0).
"""
import argparse
import inspect
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from common import (FLOP_PER_TRAIN_SAMPLE, fashion_batches, header, minicnn_model, peak_rss_mib,
                    timed, torch_model)

import minicnn


def minicnn_runner(args, batch, x, y, train=True):
    model = minicnn_model(batchnorm=args.batchnorm)
    dtype = np.float32
    # Since the functional API the step takes lists (one array per input and output); before, arrays.
    graph_api = "xs" in inspect.signature(model._train_step).parameters

    def train_steps(n, offset):
        for i in range(n):
            lo = ((offset + i) * batch) % (len(x) - batch)
            xb = minicnn.backend.to_device(x[lo:lo + batch], dtype)
            yb = minicnn.backend.to_device(y[lo:lo + batch], dtype)
            model._train_step(*(([xb], [yb]) if graph_api else (xb, yb)))
        minicnn.backend.synchronize()

    def predict(n_samples):
        model.predict(x[:n_samples], batch_size=args.predict_batch)
        minicnn.backend.synchronize()
    return train_steps, predict


def torch_runner(args, batch, x, y):
    import torch
    device = args.device
    net, opt = torch_model(batchnorm=args.batchnorm, device=device)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2))).to(device)
    yt = torch.from_numpy(y.argmax(1)).to(device)
    loss_fn = torch.nn.CrossEntropyLoss()

    def sync():
        if device.startswith("cuda"):
            torch.cuda.synchronize()

    def train_steps(n, offset):
        net.train()
        for i in range(n):
            lo = ((offset + i) * batch) % (len(x) - batch)
            opt.zero_grad(set_to_none=True)
            loss = loss_fn(net(xt[lo:lo + batch]), yt[lo:lo + batch])
            loss.backward()
            opt.step()
        sync()

    def predict(n_samples):
        net.eval()
        with torch.no_grad():
            for lo in range(0, n_samples, args.predict_batch):
                torch.softmax(net(xt[lo:lo + args.predict_batch]), 1)
        sync()
    return train_steps, predict


def settle():
    """Let the other framework's idle worker threads stop spinning before timing (OpenMP and
    OpenBLAS threads busy-wait for a while after their last job)."""
    time.sleep(0.3)


def interleaved(args, x, y):
    """rows of (what, batch, minicnn samples/s, torch samples/s or None, per-round ratios)."""
    have_torch = not args.no_torch
    if have_torch:
        try:
            import torch
            torch.set_num_threads(args.threads)
        except ImportError:
            have_torch = False
    rows = []
    for batch in args.batch_sizes:
        runners = {"minicnn": minicnn_runner(args, batch, x, y)}
        if have_torch:
            runners["torch"] = torch_runner(args, batch, x, y)
        for name, (train, _) in runners.items():
            train(args.warmup, 0)
        rates = {name: [] for name in runners}
        for r in range(args.rounds):
            for name, (train, _) in runners.items():
                settle()
                rates[name].append(args.steps * batch / timed(train, args.steps, r * args.steps))
        rows.append(_row("train", batch, rates))
    n = min(len(x), args.predict_samples)
    runners = {"minicnn": minicnn_runner(args, 128, x, y)}
    if have_torch:
        runners["torch"] = torch_runner(args, 128, x, y)
    for _, predict in runners.values():
        predict(args.predict_batch)
    rates = {name: [] for name in runners}
    for r in range(args.rounds):
        for name, (_, predict) in runners.items():
            settle()
            rates[name].append(n / timed(predict, n))
    rows.append(_row("predict", args.predict_batch, rates))
    return rows


def _row(what, batch, rates):
    """Medians of each framework's rounds, and the ratio of each round to the PyTorch round right
    after it: on a shared machine whose speed drifts, those pairs see the same conditions."""
    theirs = rates.get("torch")
    pairs = [a / b for a, b in zip(rates["minicnn"], theirs)] if theirs else []
    return (what, batch, statistics.median(rates["minicnn"]), statistics.median(theirs) if theirs else None,
            pairs)


def rss_of(framework, args, batch):
    """Peak RSS, RSS before building the model (MiB) and page faults per step of a child process
    that trains ``framework`` for ``args.steps`` steps at ``batch`` after a warm-up."""
    cmd = [sys.executable, __file__, "--child", framework, "--batch-sizes", str(batch),
           "--steps", str(args.steps), "--threads", str(args.threads), "--device", args.device,
           "--malloc", args.malloc]
    if args.batchnorm:
        cmd.append("--batchnorm")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child(args):
    """Train one framework in this process; print its peak RSS and the page faults per step after
    warm-up (each a kernel entry and a zeroed page: memory handed back and taken again every
    step). Random data of the real shape keep data loading out of the peak: what is measured is
    the framework and its training step."""
    batch = args.batch_sizes[0]
    rng = np.random.default_rng(0)
    x = rng.random((batch * 4, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, batch * 4)]
    make = minicnn_runner if args.child == "minicnn" else torch_runner
    if args.child == "torch":
        import torch
        torch.set_num_threads(args.threads)
    before = peak_rss_mib()
    train, _ = make(args, batch, x, y)
    train(args.warmup, 0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    train(args.steps, args.warmup)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps
    print(json.dumps({"peak_rss_mib": peak_rss_mib(), "before_mib": before, "faults_per_step": faults}))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[32, 128, 512])
    p.add_argument("--steps", type=int, default=10, help="training steps per timed round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--predict-samples", type=int, default=5000)
    p.add_argument("--predict-batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count())
    p.add_argument("--batchnorm", action="store_true", help="the BatchNormalization variant")
    p.add_argument("--backend", default="numpy", choices=["numpy", "cupy"])
    p.add_argument("--device", default="cpu", help="PyTorch device (cpu, cuda)")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-rss", action="store_true")
    p.add_argument("--malloc", default="tuned", choices=["tuned", "default"],
                   help="tuned: minicnn's glibc malloc settings (minicnn.cpu.allocator) for the whole "
                        "process, so PyTorch runs with them too; default: glibc's defaults for both")
    p.add_argument("--child", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    minicnn.set_backend(args.backend)
    # Settle the allocator before either framework allocates: both run under the same settings.
    if args.malloc == "default":
        os.environ["MINICNN_MALLOC_TUNING"] = "0"
    minicnn.cpu.allocator.tune_malloc()
    if args.child:
        return child(args)
    print(header(args))
    x, y, source = fashion_batches(max(max(args.batch_sizes) * args.steps, args.predict_samples, 4096))
    print(f"data: {source}, {len(x)} samples\n")
    rows = interleaved(args, x, y)
    title = "model: tutorial CNN" + (" + BatchNormalization" if args.batchnorm else "")
    print(f"{title}\n| what | batch | minicnn samples/s | torch samples/s | ratio minicnn/torch "
          "| per-round ratios: median (range) | minicnn GFLOP/s |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for what, batch, ours, theirs, pairs in rows:
        gflops = f"{ours * FLOP_PER_TRAIN_SAMPLE / 1e9:.1f}" if what == "train" else "-"
        if theirs:
            paired = f"{statistics.median(pairs):.2f}x ({min(pairs):.2f}-{max(pairs):.2f})"
            print(f"| {what} | {batch} | {ours:.0f} | {theirs:.0f} | {ours / theirs:.2f}x | {paired} | {gflops} |")
        else:
            print(f"| {what} | {batch} | {ours:.0f} | - | - | - | {gflops} |")
    if not args.no_rss:
        batch = 128 if 128 in args.batch_sizes else args.batch_sizes[0]
        print(f"\npeak RSS training at batch {batch} ({args.warmup} + {args.steps} steps, random data, "
              "own process each):")
        for name in ["minicnn"] + ([] if args.no_torch else ["torch"]):
            try:
                r = rss_of(name, args, batch)
                print(f"  {name:8s} peak {r['peak_rss_mib']:.0f} MiB (after imports, before the model: "
                      f"{r['before_mib']:.0f} MiB); {r['faults_per_step']:.0f} page faults per step")
            except subprocess.CalledProcessError as e:
                print(f"  {name:8s} failed: {e.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
