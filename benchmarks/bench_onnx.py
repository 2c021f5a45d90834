"""Serving the tutorial CNN: predict throughput of minicnn against onnxruntime running the model
minicnn exported (``model.export(path, format="onnx")``), interleaved in one process.

    python benchmarks/bench_onnx.py                              # batches 128 and 1024, 5 rounds
    python benchmarks/bench_onnx.py --batch-sizes 1 128 1024 --rounds 7 --samples 8192

The model is examples/mnist_conv.py's (28x28x1, 600,810 parameters), untrained: the speed does
not depend on the weights. Each round times, for each batch size, minicnn's ``predict(x,
batch_size=B)`` over ``--samples`` images and onnxruntime's ``session.run`` over the same images
in slices of B, alternating which goes first. onnxruntime gets ``--threads`` intra-op threads (one
inter-op thread, sequential execution), the number of worker threads minicnn uses (its
``MINICNN_NUM_THREADS``, default: the cores), so both use the same cores. Samples/s are the
median over the rounds, with the lowest and highest in brackets; ratio = onnxruntime / minicnn.
"""
import argparse
import os
import statistics
import sys
import tempfile
import time

import numpy as np

from common import REPO, fashion_batches, header

from minicnn.cpu.threads import num_threads, set_num_threads

sys.path.insert(0, str(REPO / "examples"))
from mnist_conv import build_model  # noqa: E402


def versions():
    """onnx, onnxruntime and the BLAS libraries loaded (threadpoolctl) with their thread counts."""
    import onnx
    import onnxruntime
    lines = [f"onnx {onnx.__version__}, onnxruntime {onnxruntime.__version__} "
             f"(providers {onnxruntime.get_available_providers()})"]
    try:
        from threadpoolctl import threadpool_info
        for info in threadpool_info():
            lines.append(f"threadpool: {info.get('internal_api')} {info.get('version')} "
                         f"({info.get('architecture', '?')}), {info.get('num_threads')} threads, "
                         f"{info.get('filepath')}")
    except ImportError:
        lines.append("threadpoolctl: not installed")
    return "\n".join(lines)


def session(path, threads):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--batch-sizes", type=int, nargs="+", default=[128, 1024])
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--samples", type=int, default=4096, help="images per timed pass")
    p.add_argument("--threads", type=int, default=None, help="minicnn workers and onnxruntime intra-op threads "
                   "(default: minicnn's default, the cores)")
    args = p.parse_args(argv)
    if args.threads is not None:
        set_num_threads(args.threads)
    args.threads = num_threads()
    print(header(args))
    print(versions())
    print(f"minicnn worker threads: {num_threads()}; onnxruntime intra_op_num_threads: {args.threads}, "
          "inter_op_num_threads: 1, sequential")

    x, _, source = fashion_batches(args.samples)
    print(f"data: {len(x)} images from {source}")
    model = build_model()
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "mnist_cnn.onnx")
        model.export(path, format="onnx", verbose=False)
        sess = session(path, args.threads)
    name = sess.get_inputs()[0].name

    def run_minicnn(B):
        return model.predict(x, batch_size=B, verbose=0)

    def run_onnx(B):
        return np.concatenate([sess.run(None, {name: x[i:i + B]})[0] for i in range(0, len(x), B)])

    runners = {"minicnn": run_minicnn, "onnxruntime": run_onnx}
    for B in args.batch_sizes:  # warm up both, and check they agree
        diff = np.abs(run_minicnn(B) - run_onnx(B)).max()
        print(f"batch {B}: largest |onnxruntime - minicnn| over the outputs: {diff:.2e}")
    rates = {(k, B): [] for k in runners for B in args.batch_sizes}
    for r in range(args.rounds):
        order = list(runners) if r % 2 == 0 else list(reversed(runners))
        for B in args.batch_sizes:
            for k in order:
                t = time.perf_counter()
                runners[k](B)
                rates[(k, B)].append(len(x) / (time.perf_counter() - t))

    print("\n| batch | minicnn predict (samples/s) | onnxruntime (samples/s) | ratio (median) |")
    print("| --- | --- | --- | --- |")
    for B in args.batch_sizes:
        m, o = rates[("minicnn", B)], rates[("onnxruntime", B)]
        cell = lambda v: f"{statistics.median(v):,.0f} [{min(v):,.0f}-{max(v):,.0f}]"  # noqa: E731
        print(f"| {B} | {cell(m)} | {cell(o)} | {statistics.median(o) / statistics.median(m):.2f} |")


if __name__ == "__main__":
    main()
