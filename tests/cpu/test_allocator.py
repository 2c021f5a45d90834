"""minicnn.cpu.allocator: glibc's malloc thresholds raised once, so training steps stop page-faulting
their arrays in. Each case runs in a fresh process: the settings are process-wide and one-way."""
import json
import os
import platform
import subprocess
import sys

import pytest

glibc_linux = pytest.mark.skipif(not (sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"),
                                 reason="the settings are glibc's (Linux)")

# Trains the tutorial CNN at batch 512 and reports whether the settings were applied and the minor
# page faults per step after warm-up (the kernel's count: no timing involved).
CHILD = r"""
import json, resource, sys
import numpy as np
import minicnn
from minicnn import Sequential
from minicnn.layers import Conv2D, Dense, Dropout, Flatten, MaxPooling2D
m = Sequential([Conv2D(32, (3, 3), activation="relu", input_shape=(28, 28, 1)),
                Conv2D(32, (3, 3), activation="relu"), MaxPooling2D((2, 2)), Dropout(0.25), Flatten(),
                Dense(128, activation="relu"), Dropout(0.5), Dense(10, activation="softmax")])
m.compile(loss="categorical_crossentropy", optimizer="adadelta")
rng = np.random.default_rng(0)
x = rng.random((512, 28, 28, 1), dtype=np.float32)
y = np.eye(10, dtype=np.float32)[rng.integers(0, 10, 512)]
for _ in range(4):
    m.train_on_batch(x, y)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(3):
    m.train_on_batch(x, y)
faults = (resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) / 3
print(json.dumps({"tuned": minicnn.cpu.allocator.is_tuned(), "faults_per_step": faults}))
"""


def run_child(**env):
    environ = {k: v for k, v in os.environ.items()
               if k not in ("MINICNN_MALLOC_TUNING", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")}
    environ.update(env, MINICNN_NUM_THREADS="2")
    out = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, env=environ, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


@glibc_linux
def test_training_steps_stop_taking_page_faults_once_tuned():
    tuned, untuned = run_child(), run_child(MINICNN_MALLOC_TUNING="0")
    assert tuned["tuned"] and not untuned["tuned"]
    # glibc's defaults map and unmap the step's largest arrays (44 MB at batch 512, above glibc's
    # automatic mmap threshold) every step: about 2,600 faults per step on the machine this was
    # written on; tuned, 0 in most steps (a step that grows the heap takes a few hundred).
    assert untuned["faults_per_step"] > 1000, untuned
    assert tuned["faults_per_step"] < untuned["faults_per_step"] / 5, (tuned, untuned)


@glibc_linux
def test_the_users_own_glibc_settings_are_left_alone():
    result = run_child(MALLOC_TRIM_THRESHOLD_="131072")
    assert not result["tuned"]


def test_tune_malloc_runs_once_and_reports_its_state(monkeypatch):
    from minicnn.cpu import allocator
    monkeypatch.setattr(allocator, "_state", {"tried": False, "applied": False})
    calls = []
    monkeypatch.setattr(allocator, "_wanted", lambda: True)
    monkeypatch.setattr(allocator, "_apply", lambda: calls.append(1) or True)
    assert allocator.tune_malloc() and allocator.tune_malloc()
    assert calls == [1] and allocator.is_tuned()


def test_opting_out_keeps_the_defaults(monkeypatch):
    from minicnn.cpu import allocator
    monkeypatch.setattr(allocator, "_state", {"tried": False, "applied": False})
    monkeypatch.setenv("MINICNN_MALLOC_TUNING", "0")
    monkeypatch.setattr(allocator, "_apply", lambda: pytest.fail("applied despite MINICNN_MALLOC_TUNING=0"))
    assert not allocator.tune_malloc() and not allocator.is_tuned()
