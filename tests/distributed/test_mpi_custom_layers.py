"""A model with custom layers (on the tape inside the plan) trains under `mpiexec -n 2` as in one
process: the same weights on every rank, and the same history and evaluation as alone."""
import json
from pathlib import Path

import numpy as np

from distributed.test_mpi import assert_same_run, run  # skips the module where mpi4py/mpiexec are missing

JOB = Path(__file__).with_name("custom_layer_job.py")


def _job(tmp_path, name, n=None):
    out = tmp_path / name
    out.mkdir()
    done = run([JOB, out], n=n)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [dict(np.load(out / f"rank{r}.npz")) for r in range(n or 1)]
    return ranks, json.loads((out / "result.json").read_text()), done


def test_a_custom_layer_model_trains_on_two_ranks_as_one_process_does(tmp_path):
    assert_same_run(_job(tmp_path, "mpi", n=2), _job(tmp_path, "one"))
