"""One seeded training run with BackupAndRestore, for tests/callbacks/test_backup.py to kill and resume:
``python backup_job.py OUT [--epochs 6] [--pause 0.03]``.

A small CNN with dropout, shuffled batches and Adam (so the weights, the optimizer state and the
random generator all have to come back); ``--pause`` seconds after every batch leave the test time
to kill the process mid-run, and change no number. At the end it writes OUT/final.npz (the weights)
and OUT/history.json; the backup lives in OUT/backup.
"""
import argparse
import json
import os
import time

import numpy as np

from minicnn import Sequential
from minicnn.callbacks import BackupAndRestore, LambdaCallback
from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
from minicnn.optimizers import Adam
from minicnn.utils import set_random_seed


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--epochs", type=int, default=6)
    p.add_argument("--pause", type=float, default=0.0)
    args = p.parse_args()
    set_random_seed(7)
    rng = np.random.default_rng(0)
    x = rng.random((64, 8, 8, 1), dtype=np.float32)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, 64)]
    model = Sequential([Conv2D(4, 3, activation="relu", input_shape=(8, 8, 1)), MaxPooling2D(), Dropout(0.3),
                        Flatten(), Dense(8, activation="relu"), Dropout(0.2), Dense(3, activation="softmax")])
    model.compile(optimizer=Adam(0.01), loss="categorical_crossentropy", metrics=["accuracy"])
    pause = LambdaCallback(on_train_batch_begin=lambda batch, logs: time.sleep(args.pause))
    history = model.fit(x, y, batch_size=8, epochs=args.epochs, verbose=0, validation_split=0.25,
                        callbacks=[BackupAndRestore(os.path.join(args.out, "backup")), pause])
    np.savez(os.path.join(args.out, "final.npz"), *model.get_weights())
    with open(os.path.join(args.out, "history.json"), "w") as f:
        json.dump(history.history, f)


if __name__ == "__main__":
    main()
