"""minicnn.random: where the seed of every random draw comes from, in fresh processes.

Each run is a new Python process, because the generator takes its seed once per process.
"""
import subprocess
import sys

# Initialisers, shuffling and dropout all draw; the printed digest covers every weight.
SCRIPT = """
import hashlib, sys
import numpy as np
if sys.argv[1] != "none":
    np.random.seed(int(sys.argv[1]))
from minicnn import Sequential
from minicnn.layers import Dense, Dropout
x = np.linspace(-1, 1, 60, dtype=np.float32).reshape(20, 3)
y = np.eye(2, dtype=np.float32)[np.arange(20) % 2]
model = Sequential([Dense(8, activation="relu", input_dim=3), Dropout(0.5), Dense(2, activation="softmax")])
model.compile(optimizer="sgd", loss="categorical_crossentropy")
model.fit(x, y, batch_size=5, epochs=2, verbose=0)
print(hashlib.sha256(b"".join(w.tobytes() for w in model.get_weights())).hexdigest())
"""


def run(seed):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(seed)], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout.strip()


def test_np_random_seed_makes_runs_repeatable():
    assert run(1337) == run(1337)
    assert run(1337) != run(1338)


def test_unseeded_runs_differ():
    assert run("none") != run("none")
