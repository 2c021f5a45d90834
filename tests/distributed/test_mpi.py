"""Data-parallel training under `mpiexec -n 2` (and `-n 3` for uneven splits), each run a subprocess
with a timeout so a hang fails: the same weights as one process, identical weights on every rank,
metrics equal to a single process's, output and files from rank 0 only, and an error on one rank
ending the whole job."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

if importlib.util.find_spec("mpi4py") is None:  # looked for, not imported: the ranks import it
    pytest.skip("mpi4py is not installed (pip install 'minicnn[mpi]')", allow_module_level=True)
MPIEXEC = shutil.which("mpiexec") or str(Path(sys.executable).with_name("mpiexec"))
if not os.path.exists(MPIEXEC):
    pytest.skip("no mpiexec found (pip install 'minicnn[mpi]' brings one)", allow_module_level=True)

JOB = Path(__file__).with_name("mpi_job.py")
ROOT = Path(__file__).resolve().parents[2]
TIMEOUT = 120


def run(args, n=None, env=None, timeout=TIMEOUT):
    """python args (under mpiexec -n N when n is given); the finished process, stdout and stderr."""
    cmd = ([MPIEXEC, "-n", str(n)] if n else []) + [sys.executable, *map(str, args)]
    env = {**os.environ, "MINICNN_NUM_THREADS": "1", **(env or {})}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env, cwd=ROOT)


def job(tmp_path, name, *args, n=None):
    out = tmp_path / name
    out.mkdir()
    done = run([JOB, out, *args], n=n)
    assert done.returncode == 0, done.stderr[-3000:]
    ranks = [dict(np.load(out / f"rank{r}.npz")) for r in range(n or 1)]
    return ranks, json.loads((out / "result.json").read_text()), done


def assert_same_run(distributed, single, rtol=1e-12):
    ranks, result, _ = distributed
    (alone,), result_alone, _ = single
    for other in ranks[1:]:  # every rank holds the same weights, bit for bit
        assert all(np.array_equal(ranks[0][k], other[k]) for k in ranks[0])
    for k in alone:
        np.testing.assert_allclose(ranks[0][k], alone[k], rtol=rtol, atol=1e-14)
    for key, values in result_alone["history"].items():
        np.testing.assert_allclose(result["history"][key], values, rtol=rtol)
    np.testing.assert_allclose(result["evaluate"], result_alone["evaluate"], rtol=rtol)
    assert result["size"] == len(ranks)


def test_a_graph_model_trains_on_two_ranks_as_one_process_does(tmp_path):
    """Two inputs, a residual add, BatchNormalization and two outputs with loss weights."""
    assert_same_run(job(tmp_path, "mpi", "--graph", "--optimizer", "adam", n=2),
                    job(tmp_path, "one", "--graph", "--optimizer", "adam"))


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_train_as_one_process_does(tmp_path, optimizer):
    assert_same_run(job(tmp_path, "mpi", "--optimizer", optimizer, n=2),
                    job(tmp_path, "one", "--optimizer", optimizer))


def test_synchronized_batchnorm_trains_as_one_process_does(tmp_path):
    assert_same_run(job(tmp_path, "mpi", "--batchnorm", "synchronized", n=2),
                    job(tmp_path, "one", "--batchnorm", "synchronized"))


def test_local_batchnorm_keeps_the_ranks_identical(tmp_path):
    # Each rank normalises its own half-batch (as DDP and Horovod do), so the run differs from one
    # process; the moving statistics are averaged at each epoch's end, and the ranks stay equal.
    ranks, result, _ = job(tmp_path, "mpi", "--batchnorm", "local", n=2)
    assert all(np.array_equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    (alone,), _, _ = job(tmp_path, "one", "--batchnorm", "local")
    assert not all(np.allclose(ranks[0][k], alone[k]) for k in alone)


def test_three_ranks_with_uneven_batches(tmp_path):
    # 37 training samples in global batches of 6 over 3 ranks: the last batch has one sample, so
    # two ranks compute nothing in that step; no hang, no sample counted twice.
    args = ("--samples", "50", "--batch", "6")
    assert_same_run(job(tmp_path, "mpi", *args, n=3), job(tmp_path, "one", *args))


@pytest.mark.parametrize("n, args", [(2, ()), (3, ("--samples", "50", "--batch", "6"))])
def test_regularized_training_counts_each_penalty_once(tmp_path, n, args):
    # The penalties' gradients join after the sum over the ranks, and each rank adds the penalty
    # to its loss; with 3 ranks the last batch leaves two ranks only joining the step.
    args = ("--regularizers", *args)
    assert_same_run(job(tmp_path, "mpi", *args, n=n), job(tmp_path, "one", *args))


def test_backup_and_restore_resumes_every_rank(tmp_path):
    backup = tmp_path / "backup"
    job(tmp_path, "first", "--optimizer", "adam", "--epochs", "1", "--backup", backup, n=2)
    assert os.listdir(backup) == ["backup.npz"]  # written once, by rank 0
    ranks, result, _ = job(tmp_path, "resumed", "--optimizer", "adam", "--backup", backup, n=2)
    (alone,), result_alone, _ = job(tmp_path, "one", "--optimizer", "adam")
    assert all(np.array_equal(ranks[0][k], ranks[1][k]) for k in ranks[0])
    for k in alone:
        np.testing.assert_allclose(ranks[0][k], alone[k], rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(result["history"]["loss"], result_alone["history"]["loss"][1:], rtol=1e-12)


def test_output_and_files_come_from_rank_zero_only(tmp_path):
    _, _, done = job(tmp_path, "mpi", "--callbacks", n=2)
    out = done.stdout
    assert out.count("Epoch 1/2") == 1 and out.count("Epoch 2/2") == 1
    assert out.count("saving model to") == 2  # ModelCheckpoint's message, once per epoch
    assert "done on rank 0" in out and "done on rank 1" not in out
    rows = (tmp_path / "mpi" / "log.csv").read_text().splitlines()
    assert len(rows) == 3 and rows[0].startswith("epoch,") and [r.split(",")[0] for r in rows[1:]] == ["0", "1"]
    assert sorted(p.name for p in (tmp_path / "mpi").iterdir()) == [
        "ckpt.npz", "log.csv", "rank0.npz", "rank1.npz", "result.json"]


def test_an_error_on_one_rank_ends_the_whole_job(tmp_path):
    (tmp_path / "out").mkdir()
    done = run([JOB, tmp_path / "out", "--fail-on-rank", "1"], n=2, timeout=60)
    assert done.returncode != 0
    assert "rank 1 fails on purpose" in done.stderr


def test_a_global_batch_the_ranks_cannot_share_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    done = run([JOB, tmp_path / "out", "--batch", "7"], n=2, timeout=60)
    assert done.returncode != 0
    assert "batch_size=7 is the global batch, split over 2 ranks" in done.stderr and "multiple of 2" in done.stderr


RANK_CODE = """
import sys, numpy as np, minicnn
from minicnn import distributed
from minicnn.layers import Dropout
minicnn.utils.set_random_seed(3)
mask = Dropout(0.5)(np.ones((64, 32), np.float32), training=True)
total = distributed.allreduce(np.full(3, distributed.rank() + 1.0), op="sum")
mean = distributed.allreduce(np.full(3, distributed.rank() + 1.0))
got = distributed.broadcast(np.full(2, float(distributed.rank())), root=1)
np.save(sys.argv[1] + f"/mask{distributed.rank()}.npy", mask)
sys.stderr.write(f"rank {distributed.rank()}/{distributed.size()} local {distributed.local_rank()} "
                 f"sum {total.tolist()} mean {mean.tolist()} bcast {got.tolist()}\\n")
"""


def test_the_user_api_and_per_rank_dropout(tmp_path):
    for run_dir in ("a", "b"):
        (tmp_path / run_dir).mkdir()
        done = run(["-c", RANK_CODE, tmp_path / run_dir], n=2, timeout=60)
        assert done.returncode == 0, done.stderr
        lines = sorted(done.stderr.strip().splitlines())
        assert lines == ["rank 0/2 local 0 sum [3.0, 3.0, 3.0] mean [1.5, 1.5, 1.5] bcast [1.0, 1.0]",
                         "rank 1/2 local 1 sum [3.0, 3.0, 3.0] mean [1.5, 1.5, 1.5] bcast [1.0, 1.0]"]
    masks = {(d, r): np.load(tmp_path / d / f"mask{r}.npy") for d in "ab" for r in (0, 1)}
    assert not np.array_equal(masks["a", 0], masks["a", 1])  # the ranks' samples differ, so do their masks
    assert all(np.array_equal(masks["a", r], masks["b", r]) for r in (0, 1))  # a seeded run repeats


def test_without_mpiexec_nothing_changes_and_mpi4py_is_not_imported(tmp_path):
    code = ("import os, sys, minicnn; d = minicnn.distributed\n"
            "open(os.path.join(sys.argv[1], str(os.getpid())), 'w').write(f'{d.size()} {d.rank()} {\"mpi4py\" in sys.modules}')")
    for n, env in ((None, None), (2, {"MINICNN_DISTRIBUTED": "0"})):
        out = tmp_path / str(n)
        out.mkdir()
        assert run(["-c", code, out], n=n, env=env, timeout=60).returncode == 0
        # one process, then two independent ones: each of size 1, without mpi4py
        assert [p.read_text() for p in out.iterdir()] == ["1 0 False"] * (n or 1)


def test_the_main_example_learns_under_two_ranks():
    done = run([ROOT / "examples" / "mnist_conv.py", "--data", "sample", "--epochs", "2", "--limit", "4000",
                "--seed", "1", "--no-save"], n=2, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert out.count("Total params: 600,810") == 1 and out.count("Test accuracy") == 1
    accuracy = float(out.split("Test accuracy:")[1].split()[0])
    assert accuracy > 0.8, out[-2000:]  # 0.898 measured with this seed; 0.872 with seed 2
