"""The reading path: the files, functions and lines of minicnn that one `train_on_batch` of the
tutorial CNN (or, with --model residual, of a residual block) enters (issue 15 asks to keep it short).

    python benchmarks/reading_path.py                  # both paths, each in a fresh process
    python benchmarks/reading_path.py --path plain     # MINICNN_FAST_PATH=0 only
    python benchmarks/reading_path.py --threads 2 --json

common.minicnn_model() takes one warm-up step on 128 random float32 images with one-hot labels
(seed 0); the second step runs under sys.setprofile. Each package function with a 'call' event
counts once, with all the lines of its source (inspect.getsourcelines: docstring, comments and
blanks too). A closure is a function of its own, so its lines also count in its parent; "distinct
lines" counts each line once. Comprehensions and lambdas (code objects of their own in Python
3.11) are skipped: their lines belong to the enclosing function.

"code lines" leave out each function's docstring, its comment lines and its blank lines.
--model residual: Input (32, 32, 16) -> Conv2D-BN-ReLU -> Conv2D-BN, added to the input, ReLU,
GlobalAveragePooling2D, Dense softmax (a ResNet v1 block as Keras 2's cifar10_resnet.py builds it).

MINICNN_NUM_THREADS is 1 unless --threads says otherwise, so the count does not depend on the
machine. The issue's "102 functions in 20 files, 1,050 lines" was counted with 2 threads (the
default on 2 cores): --threads 2 reproduces it, 1 thread skips 4 thread-pool functions (25 lines).
"""
import argparse
import ast
import gc
import inspect
import textwrap
import json
import os
import platform
import subprocess
import sys
import threading
from concurrent.futures import ThreadPoolExecutor

SKIPPED = {"<lambda>", "<listcomp>", "<genexpr>", "<dictcomp>", "<setcomp>", "<module>"}


def set_profile_on_workers(profiler):
    """threading.setprofile misses running threads: each minicnn worker sets it on itself."""
    pools = [p for p in gc.get_objects() if isinstance(p, ThreadPoolExecutor)
             and p._thread_name_prefix.startswith("minicnn") and not p._shutdown]
    for pool in pools:
        barrier = threading.Barrier(pool._max_workers)  # holds each worker to one task
        tasks = [pool.submit(lambda: (barrier.wait(10), sys.setprofile(profiler))) for _ in range(pool._max_workers)]
        [task.result() for task in tasks]
    return sum(pool._max_workers for pool in pools)


def code_lines(code):
    """The lines of a function's source that are code: no docstring, comment or blank lines."""
    lines, _ = inspect.getsourcelines(code)
    skip = {i for i, line in enumerate(lines) if not line.strip() or line.strip().startswith("#")}
    try:
        tree = ast.parse(textwrap.dedent("".join(lines)))
    except SyntaxError:  # a lambda's or a decorated fragment's source: count what is not skipped
        return len(lines) - len(skip)
    fn = tree.body[0]
    body = getattr(fn, "body", [])
    if body and isinstance(body[0], ast.Expr) and isinstance(getattr(body[0], "value", None), ast.Constant) \
            and isinstance(body[0].value.value, str):
        skip |= set(range(body[0].lineno - 1, body[0].end_lineno))
    return len(lines) - len(skip)


def residual_model():
    """A ResNet v1 block (Keras 2's cifar10_resnet.py), compiled as the tutorial CNN is."""
    import minicnn as keras
    from minicnn.layers import Activation, BatchNormalization, Conv2D, Dense, GlobalAveragePooling2D
    inputs = keras.Input(shape=(32, 32, 16))
    x = Activation("relu")(BatchNormalization()(Conv2D(16, 3, padding="same")(inputs)))
    x = BatchNormalization()(Conv2D(16, 3, padding="same")(x))
    x = Activation("relu")(keras.layers.add([inputs, x]))
    model = keras.Model(inputs, Dense(10, activation="softmax")(GlobalAveragePooling2D()(x)))
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    return model


def measure(args):
    os.environ["MINICNN_FAST_PATH"] = "1" if args.path == "fast" else "0"
    os.environ["MINICNN_NUM_THREADS"] = str(args.threads)  # both read when minicnn is imported
    import numpy as np
    from common import cpu_model, minicnn_model
    import minicnn
    from minicnn.utils import set_random_seed
    if hasattr(minicnn, "set_fast_path"):
        minicnn.set_fast_path(args.path == "fast")
    set_random_seed(0)
    model = residual_model() if args.model == "residual" else minicnn_model()
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, *((32, 32, 16) if args.model == "residual" else (28, 28, 1))), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)]
    model.train_on_batch(x, y)
    codes = set()

    def profiler(frame, event, arg):
        if event == "call":
            codes.add(frame.f_code)
    workers = set_profile_on_workers(profiler)
    threading.setprofile(profiler)
    sys.setprofile(profiler)
    try:
        model.train_on_batch(x, y)
    finally:
        sys.setprofile(None)
        threading.setprofile(None)
        set_profile_on_workers(None)
    package = os.path.dirname(os.path.abspath(minicnn.__file__)) + os.sep
    files = {}
    for code in codes:
        if code.co_filename.startswith(package) and code.co_name not in SKIPPED:
            files.setdefault(os.path.relpath(code.co_filename, package), []).append(
                [code.co_qualname, code.co_firstlineno, len(inspect.getsourcelines(code)[0]), code_lines(code)])
    files = {path: sorted(fns, key=lambda fn: fn[1]) for path, fns in sorted(files.items())}
    distinct = sum(len({i for _, first, n, _ in fns for i in range(first, first + n)}) for fns in files.values())
    settings = {"model": args.model, "path": args.path, "batch": args.batch, "MINICNN_FAST_PATH": os.environ["MINICNN_FAST_PATH"],
                "MINICNN_NUM_THREADS": args.threads, "set_fast_path called": hasattr(minicnn, "set_fast_path"),
                "running workers traced": workers}
    return {"machine": f"{cpu_model()} ({os.cpu_count()} logical cores)", "package": package, "settings": settings,
            "versions": f"python {platform.python_version()}, numpy {np.__version__}, minicnn {minicnn.__version__}",
            "files": files, "totals": {"files": len(files), "functions": sum(map(len, files.values())),
                                       "lines": sum(fn[2] for fns in files.values() for fn in fns),
                                       "code lines": sum(fn[3] for fns in files.values() for fn in fns),
                                       "distinct lines": distinct}}


def render(r):
    print(f"machine: {r['machine']}\n{r['versions']}\npackage: {r['package']}")
    print("settings: " + ", ".join(f"{k}={v}" for k, v in r["settings"].items()))
    print("(MINICNN_FAST_PATH and MINICNN_NUM_THREADS set by this script before importing minicnn: --path, --threads)")
    for path, fns in r["files"].items():
        print(f"\n{path}: {len(fns)} functions, {sum(fn[2] for fn in fns)} lines, {sum(fn[3] for fn in fns)} code "
              "lines  (first line, lines, code lines, function)")
        for name, first, lines, code in fns:
            print(f"  {first:5d} {lines:4d} {code:4d}  {name}")
    print("\ntotal: " + ", ".join(f"{v} {k}" for k, v in r["totals"].items()))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--path", choices=["fast", "plain", "both"], default="both")
    parser.add_argument("--threads", type=int, default=1, help="MINICNN_NUM_THREADS (default 1)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--model", choices=["tutorial", "residual"], default="tutorial")
    parser.add_argument("--json", action="store_true", help="print JSON (with --path both: settings and totals)")
    args = parser.parse_args()
    if args.path != "both":
        result = measure(args)
        return print(json.dumps(result)) if args.json else render(result)
    results = {}
    for path in ("fast", "plain"):  # a fresh process each: the switch is read when minicnn is imported
        cmd = [sys.executable, __file__, "--path", path, "--threads", str(args.threads), "--batch", str(args.batch),
               "--model", args.model, "--json"]
        env = dict(os.environ, MINICNN_FAST_PATH="1" if path == "fast" else "0")
        results[path] = json.loads(subprocess.run(cmd, env=env, check=True, stdout=subprocess.PIPE, text=True).stdout)
    if args.json:
        return print(json.dumps({p: {"settings": r["settings"], "totals": r["totals"]} for p, r in results.items()}))
    for path, result in results.items():
        print(f"===== {path} path =====")
        render(result)
    print("\n" + "; ".join(f"{path}: {r['totals']['files']} files, {r['totals']['functions']} functions, "
                           f"{r['totals']['lines']} lines ({r['totals']['code lines']} code)"
                           for path, r in results.items()))


if __name__ == "__main__":
    main()
