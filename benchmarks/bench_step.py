"""The fastest training step of the tutorial CNN, for comparing two trees of minicnn alternately.

    python benchmarks/bench_step.py --batch 128                      # this tree
    python benchmarks/bench_step.py --tree /tmp/base --batch 128      # another checkout (git worktree)

Each run is its own process: the tutorial CNN of ``benchmarks/common.py`` (Conv2D 32, Conv2D 32,
MaxPooling2D, Dropout, Flatten, Dense 128, Dropout, Dense 10; Adadelta) on random data, 5 warm-up
``train_on_batch`` steps, then 150 timed ones; it prints the fastest, the 10th percentile and the
median. The fastest step is the least disturbed by a noisy neighbour, so run the trees in turns
(old, new, old, new...) and compare those. RESULTS.md's "no slower" tables for issue 24 were taken
with this code (then a scratch script without the header lines).
"""
import argparse
import os
import platform
import sys
import time

import numpy as np


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the checkout whose minicnn is timed (default: this one)")
    parser.add_argument("--batch", type=int, default=128)
    parser.add_argument("--steps", type=int, default=150)
    args = parser.parse_args()
    sys.path.insert(0, args.tree)
    import minicnn
    from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, python {platform.python_version()}, "
          f"numpy {np.__version__}; minicnn from {os.path.dirname(minicnn.__file__)}; batch {args.batch}")
    model = minicnn.Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                                Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)), Dropout(0.25),
                                Flatten(), Dense(128, activation="relu"), Dropout(0.5),
                                Dense(10, activation="softmax")])
    model.compile(optimizer="adadelta", loss="categorical_crossentropy", metrics=["accuracy"])
    rng = np.random.default_rng(0)
    x = rng.random((args.batch, 28, 28, 1), dtype=np.float32)
    y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, args.batch)]
    for _ in range(5):
        model.train_on_batch(x, y)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        model.train_on_batch(x, y)
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"fastest {times[0] * 1e3:.2f} ms, p10 {times[len(times) // 10] * 1e3:.2f} ms, "
          f"median {times[len(times) // 2] * 1e3:.2f} ms")


if __name__ == "__main__":
    main()
