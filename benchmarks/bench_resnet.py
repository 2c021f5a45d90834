"""ResNet v1 (ResNet-20 by default) on 32x32x3 images: minicnn against the same network in PyTorch,
interleaved in one run, plus each one's peak RSS (in a child process each); or, with --profile,
where one minicnn training step spends its time, step of the plan by step.

    python benchmarks/bench_resnet.py                          # train at batch 128, predict at 1000
    python benchmarks/bench_resnet.py --rounds 3 --steps 3 --depth 8 --threads 2
    python benchmarks/bench_resnet.py --profile                # per plan step, forward and backward

The minicnn network is examples/cifar10_resnet.py's ``resnet_v1`` with its Adam and L2(1e-4) on the
kernels. The PyTorch one has the same layers and shapes (NCHW, as PyTorch wants it): convolutions
with biases, BatchNorm2d with eps 1e-3 and momentum 0.01 (Keras's momentum 0.99 counted from the
other side), AvgPool2d(8), Linear, Adam(1e-3, eps 1e-7) with weight decay 2e-4 on the kernels
(the gradient of Keras's 1e-4 * sum(w**2)). The data are random, the speed does not depend on them.
Rounds alternate minicnn and PyTorch, as in bench_train.py, both under the same malloc settings
and thread count. PyTorch is a benchmark-only peer (pip install torch==2.13.0).
"""
import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

import numpy as np

from common import REPO, header, interleaved as common_interleaved, peak_rss_mib, timed, torch_steps

import minicnn
from minicnn.cpu.threads import set_num_threads
from minicnn.layers import Conv2D
from minicnn.optimizers import Adam
from minicnn.plan import LayerStep

sys.path.insert(0, str(REPO / "examples"))
from cifar10_resnet import resnet_v1  # noqa: E402


def random_batches(n, seed=0):
    """``n`` random images (N, 32, 32, 3) float32 around 0, as the example's mean-subtracted ones,
    and one-hot labels."""
    rng = np.random.default_rng(seed)
    x = rng.random((n, 32, 32, 3), dtype=np.float32) - np.float32(0.5)
    return x, np.eye(10, dtype=np.float32)[rng.integers(0, 10, n)]


def minicnn_model(depth):
    model = resnet_v1((32, 32, 3), depth)
    model.compile(loss="categorical_crossentropy", optimizer=Adam(learning_rate=1e-3), metrics=["accuracy"])
    return model


def minicnn_runner(args, batch, x, y):
    model = minicnn_model(args.depth)

    def train_steps(n, offset):
        for i in range(n):
            lo = ((offset + i) * batch) % (len(x) - batch + 1)
            model._train_step([x[lo:lo + batch]], [y[lo:lo + batch]])

    def predict(n_samples):
        model.predict(x[:n_samples], batch_size=args.predict_batch)
    return train_steps, predict


def torch_model(depth):
    """Keras's ResNet v1 in PyTorch, with its Adam (weight decay on the convolution kernels only)."""
    import torch
    from torch import nn

    def unit(c_in, c_out, k=3, stride=1, bn=True, relu=True):
        mods = [nn.Conv2d(c_in, c_out, k, stride, padding=k // 2)]  # "same" for odd k
        if bn:
            mods.append(nn.BatchNorm2d(c_out, eps=1e-3, momentum=0.01))
        if relu:
            mods.append(nn.ReLU())
        return nn.Sequential(*mods)

    class Block(nn.Module):
        def __init__(self, c_in, c_out, stride):
            super().__init__()
            self.a = unit(c_in, c_out, stride=stride)
            self.b = unit(c_out, c_out, relu=False)
            self.shortcut = unit(c_in, c_out, 1, stride, bn=False, relu=False) if stride != 1 else nn.Identity()

        def forward(self, x):
            return torch.relu(self.shortcut(x) + self.b(self.a(x)))

    n = (depth - 2) // 6
    layers, c = [unit(3, 16)], 16
    for stack, filters in enumerate((16, 32, 64)):
        for block in range(n):
            layers.append(Block(c, filters, 2 if stack > 0 and block == 0 else 1))
            c = filters
    layers += [nn.AvgPool2d(8), nn.Flatten(), nn.Linear(64, 10)]
    net = nn.Sequential(*layers)
    kernels = [p for p in net.parameters() if p.ndim == 4]
    others = [p for p in net.parameters() if p.ndim != 4]
    opt = torch.optim.Adam([{"params": kernels, "weight_decay": 2e-4}, {"params": others}], lr=1e-3, eps=1e-7)
    return net, opt


def torch_runner(args, batch, x, y):
    import torch
    net, opt = torch_model(args.depth)
    xt = torch.from_numpy(np.ascontiguousarray(x.transpose(0, 3, 1, 2)))
    return torch_steps(net, opt, xt, torch.from_numpy(y.argmax(1)), batch, args.predict_batch)


def interleaved(args, x, y, frameworks):
    """{"train": {name: [samples/s per round]}, "predict": {...}}, rounds alternating the frameworks."""
    makers = {"minicnn": minicnn_runner, "torch": torch_runner}
    runners = {name: makers[name](args, args.batch, x, y) for name in frameworks}
    return common_interleaved(runners, args, min(len(x), args.predict_samples))


def rss_of(framework, args):
    """Peak RSS and RSS before building the model (MiB) of a child process that trains
    ``framework`` for ``args.warmup + args.steps`` steps at ``args.batch``."""
    cmd = [sys.executable, __file__, "--child", framework, "--batch", str(args.batch), "--steps", str(args.steps),
           "--warmup", str(args.warmup), "--depth", str(args.depth), "--threads", str(args.threads),
           "--malloc", args.malloc]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def child(args):
    x, y = random_batches(args.batch * 2)
    before = peak_rss_mib()
    train, _ = (minicnn_runner if args.child == "minicnn" else torch_runner)(args, args.batch, x, y)
    train(args.warmup, 0)
    faults = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    train(args.steps, args.warmup)
    faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - faults) / args.steps
    print(json.dumps({"peak_rss_mib": peak_rss_mib(), "before_mib": before, "faults_per_step": faults}))


def conv_flops(step, x, y):
    """(forward, backward) FLOPs of a lone Conv2D step from its input and output, else None: the
    backward is the kernel's gradient, and the input's unless the step skips it."""
    layer = step.layers[0]
    if type(layer) is not Conv2D or len(step.layers) > 1:
        return None
    N, OH, OW, F = y.shape
    KH, KW = layer.kernel_size
    forward = 2 * N * OH * OW * KH * KW * x.shape[-1] * F
    return forward, forward * (2 if getattr(step, "need_dx", True) else 1)


def profile(args):
    """Median forward and backward ms of each step of the plan, timed inside whole training steps
    (the plan's own walk, with a clock around each step), and the rest of the step."""
    x, y = random_batches(args.batch)
    model = minicnn_model(args.depth)
    for _ in range(args.warmup):
        model._train_step([x], [y])
    plan = model._plan()
    losses = list(zip(model._objectives.losses, model._objectives.loss_weights))
    fwd = [[] for _ in plan.calls]
    bwd = [[] for _ in plan.calls]
    whole, flops = [], [None] * len(plan.calls)
    for _ in range(args.steps):
        whole.append(timed(model._train_step, [x], [y]))
        with plan.running():
            values = [x] + [None] * (plan.n_slots - 1)
            caches = []
            for k, call in enumerate(plan.calls):
                xin = [values[i] for i in call.ins] if call.list_input else values[call.ins[0]]
                t = time.perf_counter()
                values[call.outs[0]], cache = call.step.forward(xin, True)
                fwd[k].append(time.perf_counter() - t)
                flops[k] = conv_flops(call.step, xin, values[call.outs[0]])
                caches.append(cache)
            _, _, douts = plan.loss(losses, [y], [values[i] for i in plan.output_slots])
            grads = [None] * plan.n_slots
            grads[plan.output_slots[0]] = douts[0]
            for k in reversed(range(len(plan.calls))):
                call = plan.calls[k]
                t = time.perf_counter()
                dx, _ = call.step.backward(grads[call.outs[0]], caches[k])
                bwd[k].append(time.perf_counter() - t)
                for i, d in zip(call.ins, dx if call.list_input else [dx]):
                    if i >= plan.n_inputs:
                        grads[i] = d if grads[i] is None else grads[i] + d  # as Plan.backward sums
    ms = [(1000 * statistics.median(f), 1000 * statistics.median(b)) for f, b in zip(fwd, bwd)]
    step_ms = 1000 * statistics.median(whole)
    print(f"model: ResNet-{args.depth} v1, batch {args.batch}, fast path {minicnn.fast_path()}, "
          f"median of {args.steps} steps\n")
    print("| # | step | layers | tuned | forward ms | backward ms | total ms | share | conv GFLOP/s fwd, bwd |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    for k, (call, (f, b)) in enumerate(zip(plan.calls, ms)):
        step = call.step
        layers = " + ".join(f"{layer.name}" for layer in step.layers)
        tuned = "no" if isinstance(step, LayerStep) else "yes"
        rate = "-" if flops[k] is None else f"{flops[k][0] / f / 1e6:.1f}, {flops[k][1] / b / 1e6:.1f}"
        print(f"| {k} | {type(step).__name__} | {layers} | {tuned} | {f:.2f} | {b:.2f} | {f + b:.2f} | "
              f"{(f + b) / step_ms:.1%} | {rate} |")
    by_kind = {}
    for call, (f, b) in zip(plan.calls, ms):
        kind = (type(call.step).__name__, type(call.step.layers[0]).__name__)
        n, tf, tb = by_kind.get(kind, (0, 0.0, 0.0))
        by_kind[kind] = (n + 1, tf + f, tb + b)
    print("\n| step kind | layer type | steps | forward ms | backward ms | total ms | share |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for (cls, layer), (n, f, b) in sorted(by_kind.items(), key=lambda kv: -(kv[1][1] + kv[1][2])):
        print(f"| {cls} | {layer} | {n} | {f:.1f} | {b:.1f} | {f + b:.1f} | {(f + b) / step_ms:.1%} |")
    total = sum(f + b for f, b in ms)
    print(f"\nsum of steps: forward {sum(f for f, _ in ms):.1f} ms, backward {sum(b for _, b in ms):.1f} ms; "
          f"whole training step {step_ms:.1f} ms (loss, regularizers, optimizer and the rest: "
          f"{step_ms - total:.1f} ms)")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--depth", type=int, default=20, help="6n+2: 8, 14, 20 (default), 32...")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="training steps per timed round (per profile: steps timed)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--predict-samples", type=int, default=2000)
    p.add_argument("--predict-batch", type=int, default=1000)
    p.add_argument("--threads", type=int, default=os.cpu_count(), help="minicnn's workers and PyTorch's threads")
    p.add_argument("--no-torch", action="store_true")
    p.add_argument("--no-rss", action="store_true")
    p.add_argument("--profile", action="store_true", help="time each step of minicnn's plan instead")
    p.add_argument("--malloc", default="tuned", choices=["tuned", "default"],
                   help="tuned: minicnn's glibc malloc settings for the whole process (PyTorch's too); "
                        "default: glibc's defaults for both")
    p.add_argument("--child", choices=["minicnn", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.depth < 8 or (args.depth - 2) % 6:
        p.error(f"--depth must be 6n+2 (8, 14, 20, 32...), got {args.depth}")
    if args.malloc == "default":
        os.environ["MINICNN_MALLOC_TUNING"] = "0"
    minicnn.cpu.allocator.tune_malloc()  # before either framework allocates: both run under it
    set_num_threads(args.threads)
    frameworks = ["minicnn"]
    if args.child != "minicnn" and not args.no_torch and not args.profile:
        try:
            import torch
            torch.set_num_threads(args.threads)
            frameworks.append("torch")
        except ImportError:
            pass
    if args.child:
        return child(args)
    print(header(args))
    if args.profile:
        return profile(args)
    x, y = random_batches(max(args.batch * (args.steps + 1), args.predict_samples))
    print(f"data: random 32x32x3 images, {len(x)} samples; model: ResNet-{args.depth} v1 "
          f"({minicnn_model(args.depth).count_params():,} parameters)\n")
    rates = interleaved(args, x, y, frameworks)
    print("| what | batch | minicnn samples/s | torch samples/s | ratio minicnn/torch "
          "| per-round ratios: median (range) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for what, batch in (("train", args.batch), ("predict", args.predict_batch)):
        ours = statistics.median(rates[what]["minicnn"])
        theirs = rates[what].get("torch")
        if theirs:
            pairs = [a / b for a, b in zip(rates[what]["minicnn"], theirs)]
            print(f"| {what} | {batch} | {ours:.0f} | {statistics.median(theirs):.0f} | "
                  f"{ours / statistics.median(theirs):.2f}x | {statistics.median(pairs):.2f}x "
                  f"({min(pairs):.2f}-{max(pairs):.2f}) |")
        else:
            print(f"| {what} | {batch} | {ours:.0f} | - | - | - |")
    if not args.no_rss:
        print(f"\npeak RSS training at batch {args.batch} ({args.warmup} + {args.steps} steps, own process each):")
        for name in frameworks:
            try:
                r = rss_of(name, args)
                print(f"  {name:8s} peak {r['peak_rss_mib']:.0f} MiB (after imports, before the model: "
                      f"{r['before_mib']:.0f} MiB); {r['faults_per_step']:.0f} page faults per step")
            except subprocess.CalledProcessError as e:
                print(f"  {name:8s} failed: {e.stderr.strip().splitlines()[-1]}")


if __name__ == "__main__":
    main()
