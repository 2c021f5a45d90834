"""Shared pieces of the benchmarks: machine description, data, the tutorial CNN in minicnn and
in PyTorch (the peer, imported only when installed), and timing helpers."""
import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared" / "data"
sys.path.insert(0, str(REPO))

import minicnn  # noqa: E402
from minicnn import Sequential  # noqa: E402
from minicnn.layers import BatchNormalization, Conv2D, Dense, Dropout, Flatten, MaxPooling2D  # noqa: E402

FLOP_PER_TRAIN_SAMPLE = 36.2e6  # the tutorial CNN: forward + both backward products


def cpu_model():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def blas_info():
    try:
        cfg = np.show_config(mode="dicts")
        blas = cfg["Build Dependencies"]["blas"]
        return f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # older NumPy has no mode="dicts"; the version line is informative enough
        return "unknown"


def header(args):
    """Lines describing the machine, versions and settings, printed before every result table."""
    lines = [f"date: {time.strftime('%Y-%m-%d %H:%M')}", f"cpu: {cpu_model()} ({os.cpu_count()} logical cores)",
             f"python {platform.python_version()}, numpy {np.__version__} ({blas_info()}), minicnn {minicnn.__version__}"]
    try:
        import torch
        lines.append(f"torch {torch.__version__}, threads {torch.get_num_threads()}")
    except ImportError:
        lines.append("torch: not installed (pip install torch==2.13.0 for the side-by-side numbers)")
    lines.append("settings: " + ", ".join(f"{k}={v}" for k, v in sorted(vars(args).items())))
    lines.append("glibc malloc thresholds raised for the whole process (minicnn.cpu.allocator): "
                 + ("yes" if minicnn.cpu.allocator.is_tuned() else "no"))
    env = {k: os.environ[k] for k in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "OPENBLAS_CORETYPE",
                                      "MINICNN_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")
           if k in os.environ}
    if env:
        lines.append(f"env: {env}")
    return "\n".join(lines)


def fashion_batches(n):
    """n real Fashion-MNIST training images (N, 28, 28, 1) float32 and one-hot labels, or random
    data of the same shape when ../shared/data is absent."""
    folder = SHARED / "fashion-mnist"
    if folder.is_dir():
        from minicnn.datasets import fashion_mnist
        (x, y), _ = fashion_mnist.load_data(path=folder)
        x, y, source = x[:n], y[:n], "Fashion-MNIST (../shared/data)"
    else:
        rng = np.random.default_rng(0)
        x, y, source = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8), rng.integers(0, 10, n), "random data"
    x = x.reshape(-1, 28, 28, 1).astype(np.float32) / 255
    return x, np.eye(10, dtype=np.float32)[y], source


def minicnn_model(batchnorm=False, optimizer="adadelta"):
    layers = [Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1))]
    if batchnorm:
        layers.append(BatchNormalization())
    layers += [Conv2D(32, (3, 3), activation="relu")]
    if batchnorm:
        layers.append(BatchNormalization())
    layers += [MaxPooling2D((2, 2)), Dropout(0.25), Flatten(), Dense(128, activation="relu"), Dropout(0.5),
               Dense(10, activation="softmax")]
    model = Sequential(layers)
    model.compile(optimizer=optimizer, loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def torch_model(batchnorm=False, device="cpu"):
    """The identical architecture in PyTorch (NCHW, as PyTorch wants it), with Adadelta(lr=1.0)."""
    import torch
    from torch import nn
    mods = [nn.Conv2d(1, 32, 3), nn.ReLU()]
    if batchnorm:
        mods.append(nn.BatchNorm2d(32, eps=1e-3, momentum=0.01))
    mods += [nn.Conv2d(32, 32, 3), nn.ReLU()]
    if batchnorm:
        mods.append(nn.BatchNorm2d(32, eps=1e-3, momentum=0.01))
    mods += [nn.MaxPool2d(2), nn.Dropout(0.25), nn.Flatten(), nn.Linear(4608, 128), nn.ReLU(), nn.Dropout(0.5),
             nn.Linear(128, 10)]
    net = nn.Sequential(*mods).to(device)
    opt = torch.optim.Adadelta(net.parameters(), lr=1.0, rho=0.95, eps=1e-7)
    return net, opt


def timed(fn, *args):
    t = time.perf_counter()
    fn(*args)
    return time.perf_counter() - t


def peak_rss_mib():
    """This process's peak resident memory in MiB. VmHWM, not ru_maxrss: Linux carries ru_maxrss
    over exec, so a child started by a big parent would report the parent's peak."""
    try:
        for line in open("/proc/self/status"):
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def keras_side(keras_python, script, arrays, *args):
    """Run ``script`` (Python source: reads the .npz of ``arrays`` from argv[1], writes its results to the
    .npz named by argv[2]; ``args`` follow) in ``keras_python`` with KERAS_BACKEND=torch; its results."""
    import subprocess
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        path_in, path_out = os.path.join(tmp, "in.npz"), os.path.join(tmp, "out.npz")
        np.savez(path_in, **arrays)
        subprocess.run([keras_python, "-c", script, path_in, path_out, *args], check=True,
                       env={**os.environ, "KERAS_BACKEND": "torch"})
        return dict(np.load(path_out))


def agreement_runs(doc, run):
    """The layer-agreement scripts' command line (``--keras-python``, ``--seed``) and their two runs,
    ``run(keras_python, dtype, seed) -> (rows, versions)`` in float32 and float64; prints the header
    and Keras's versions, returns (float32 rows, float64 rows)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    p.add_argument("--keras-python", required=True, help="a Python with keras and torch installed")
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    print(header(args))
    f32, versions = run(args.keras_python, "float32", args.seed)
    f64, _ = run(args.keras_python, "float64", args.seed)
    print(f"Keras side: {versions}, KERAS_BACKEND=torch")
    return f32, f64


def torch_steps(net, opt, xt, yt, batch, predict_batch):
    """``(train_steps(n, offset), predict(n_samples))`` for a PyTorch ``net`` with optimizer ``opt`` on the
    NCHW tensor ``xt`` and class labels ``yt``: crossentropy on the logits (Keras's loss with the softmax
    inside), ``batch`` samples a step taken in turn from ``offset``; predict applies the softmax."""
    import torch
    loss_fn = torch.nn.CrossEntropyLoss()

    def train_steps(n, offset):
        net.train()
        for i in range(n):
            lo = ((offset + i) * batch) % (len(xt) - batch + 1)
            opt.zero_grad(set_to_none=True)
            loss_fn(net(xt[lo:lo + batch]), yt[lo:lo + batch]).backward()
            opt.step()

    def predict(n_samples):
        net.eval()
        with torch.no_grad():
            for lo in range(0, n_samples, predict_batch):
                torch.softmax(net(xt[lo:lo + predict_batch]), 1)
    return train_steps, predict


def settle():
    """Let the other framework's idle worker threads stop spinning before timing."""
    time.sleep(0.3)


def interleaved(runners, args, n_samples):
    """{"train": {name: [samples/s per round]}, "predict": {...}} for ``runners`` (name -> (train_steps,
    predict)), rounds alternating them: ``args.warmup`` steps first, then ``args.rounds`` rounds of
    ``args.steps`` steps at ``args.batch`` and a predict of ``n_samples``."""
    for train, predict in runners.values():
        train(args.warmup, 0)
        predict(args.predict_batch)
    rates = {"train": {name: [] for name in runners}, "predict": {name: [] for name in runners}}
    for r in range(args.rounds):
        for name, (train, predict) in runners.items():
            settle()
            rates["train"][name].append(args.steps * args.batch / timed(train, args.steps, r * args.steps))
            settle()
            rates["predict"][name].append(n_samples / timed(predict, n_samples))
    return rates
