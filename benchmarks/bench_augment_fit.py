"""Augmentation's share of a training epoch: the tutorial CNN fed arrays, a plain flow and an
augmented flow, alternated in one process.

    python benchmarks/bench_augment_fit.py [--rounds 3] [--steps 60] [--batch-size 128]

Each round trains the same model for ``--steps`` batches three ways, in turn: from arrays (as
fashion_mnist_conv.py), from ``ImageDataGenerator().flow`` (no transform: the worker thread and
the batch copies alone) and from the augmented flow of fashion_mnist_augmented.py (shifts of up to
10% each way, horizontal flips); then it times the augmented batches alone, on the main thread
with nothing else running. Alternating makes a noisy neighbour hit every way alike. Printed per
way: wall and process CPU milliseconds per step; the share is (augmented - arrays) / augmented.
"""
import argparse
import statistics
import time

from common import fashion_batches, header, minicnn_model

from minicnn.preprocessing.image import ImageDataGenerator

AUGMENT = dict(width_shift_range=0.1, height_shift_range=0.1, horizontal_flip=True)


def per_step(fn, steps):
    """(wall, process CPU) milliseconds per step of ``fn()``."""
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    return 1000 * (time.perf_counter() - wall) / steps, 1000 * (time.process_time() - cpu) / steps


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--steps", type=int, default=60, help="training steps per way and round")
    p.add_argument("--batch-size", type=int, default=128)
    args = p.parse_args()
    print(header(args))
    B, steps = args.batch_size, args.steps
    x, y, source = fashion_batches(steps * B)
    print(f"data: {source}, x {x.shape} {x.dtype}; {steps} steps of batch {B} per way and round\n")
    model = minicnn_model()
    model.fit(x[:4 * B], y[:4 * B], batch_size=B, epochs=1, verbose=0)  # warm-up: plans, scratch, threads
    plain, augment = ImageDataGenerator(), ImageDataGenerator(**AUGMENT)
    ways = {
        "arrays": lambda: model.fit(x, y, batch_size=B, epochs=1, verbose=0),
        "flow, no transform": lambda: model.fit(plain.flow(x, y, batch_size=B), epochs=1, verbose=0),
        "flow, augmented": lambda: model.fit(augment.flow(x, y, batch_size=B), epochs=1, verbose=0),
        "augmentation alone": lambda: [batch for _, batch in zip(range(steps), augment.flow(x, y, batch_size=B))],
    }
    print("| round | " + " | ".join(f"{name}: wall / CPU ms per step" for name in ways) + " | share of the step |")
    print("| --- " * (len(ways) + 2) + "|")
    rows = []
    for r in range(args.rounds):
        row = [per_step(fn, steps) for fn in ways.values()]
        share = (row[2][0] - row[0][0]) / row[2][0]
        rows.append((row, share))
        print(f"| {r + 1} | " + " | ".join(f"{w:.1f} / {c:.1f}" for w, c in row) + f" | {100 * share:.1f}% |")
    medians = [[statistics.median(row[i][j] for row, _ in rows) for j in (0, 1)] for i in range(len(ways))]
    share = statistics.median(s for _, s in rows)
    print("| median | " + " | ".join(f"{w:.1f} / {c:.1f}" for w, c in medians) + f" | {100 * share:.1f}% |")
    print(f"\naugmentation alone / arrays step (wall): {100 * medians[3][0] / medians[0][0]:.1f}%")


if __name__ == "__main__":
    main()
