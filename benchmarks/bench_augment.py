"""Time to produce one epoch of augmented batches: ImageDataGenerator.flow on Fashion-MNIST.

    python benchmarks/bench_augment.py [--rounds 3] [--batch-size 128]

The issue's augmentation (random shifts of up to 10% each way and horizontal flips, rescaled to
[0, 1]) on the 60,000 training images (../shared/data/fashion-mnist; random images of the same
shape where it is absent), batch 128: 469 batches a pass. Printed for each round: the epoch of
augmented batches read directly, the same through the Prefetcher (its worker thread, nothing
else running), and the same batches with rescaling only (what flow costs without augmentation).
Compare the first with the epoch time of training (benchmarks/bench_train.py) on the same machine.
"""
import argparse
import time

import numpy as np

from common import SHARED, header

from minicnn.preprocessing.image import ImageDataGenerator
from minicnn.utils.prefetch import Prefetcher


def load(n):
    folder = SHARED / "fashion-mnist"
    if folder.is_dir():
        from minicnn.datasets import fashion_mnist
        (x, y), _ = fashion_mnist.load_data(path=folder)
        source = "Fashion-MNIST (../shared/data)"
    else:
        rng = np.random.default_rng(0)
        x, y, source = rng.integers(0, 256, (60000, 28, 28), dtype=np.uint8), rng.integers(0, 10, 60000), "random data"
    return x[:n, :, :, None], np.eye(10, dtype=np.float32)[y[:n]], source


def epoch_seconds(batches, steps):
    start = time.perf_counter()
    for _ in range(steps):
        next(batches)
    return time.perf_counter() - start


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--samples", type=int, default=60000)
    p.add_argument("--shift", type=float, default=0.1, help="width_shift_range and height_shift_range")
    args = p.parse_args()
    print(header(args))
    x, y, source = load(args.samples)
    print(f"data: {source}, x {x.shape} {x.dtype}")
    augment = ImageDataGenerator(rescale=1 / 255, width_shift_range=args.shift, height_shift_range=args.shift,
                                 horizontal_flip=True)
    plain = ImageDataGenerator(rescale=1 / 255)
    steps = len(augment.flow(x, y, batch_size=args.batch_size))
    print(f"{steps} batches of {args.batch_size} per epoch\n")
    print("| round | augmented, direct (s) | augmented, via Prefetcher (s) | rescale only (s) | ms per augmented batch |")
    print("| --- | --- | --- | --- | --- |")
    results = []
    for r in range(args.rounds):
        direct = epoch_seconds(augment.flow(x, y, batch_size=args.batch_size, seed=r), steps)
        with Prefetcher(augment.flow(x, y, batch_size=args.batch_size, seed=r), steps=steps) as batches:
            prefetched = epoch_seconds(batches, steps)
        rescaled = epoch_seconds(plain.flow(x, y, batch_size=args.batch_size, seed=r), steps)
        results.append((direct, prefetched, rescaled))
        print(f"| {r + 1} | {direct:.2f} | {prefetched:.2f} | {rescaled:.2f} | {1000 * direct / steps:.2f} |")
    direct, prefetched, rescaled = np.median(results, axis=0)
    print(f"| median | {direct:.2f} | {prefetched:.2f} | {rescaled:.2f} | {1000 * direct / steps:.2f} |")


if __name__ == "__main__":
    main()
