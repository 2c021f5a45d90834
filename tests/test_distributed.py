"""minicnn.distributed in one process: what it reads from the MPI launcher's environment, how a
global batch and an evaluation set are shared out, and the threads each rank takes."""
import os

import numpy as np
import pytest

from minicnn import distributed


@pytest.fixture
def ranks(monkeypatch):
    """Pretend to be rank ``r`` of ``n``, ``local`` ranks on this machine (MPICH's variables)."""
    def set_(r, n, local=None):
        for name, value in {"PMI_RANK": r, "PMI_SIZE": n, "MPI_LOCALRANKID": r,
                            "MPI_LOCALNRANKS": local or n}.items():
            monkeypatch.setenv(name, str(value))
        reread()

    def reread():  # the module reads the launch once, at import; read it again after a change
        monkeypatch.setattr(distributed, "_launch", distributed.read_launch())
    set_.reread = reread
    monkeypatch.delenv("MINICNN_DISTRIBUTED", raising=False)
    monkeypatch.delenv("MINICNN_NUM_THREADS", raising=False)
    return set_


def test_a_single_process_is_rank_zero_of_one():
    assert (distributed.size(), distributed.rank(), distributed.local_rank(), distributed.is_main()) == (1, 0, 0, True)
    assert distributed.shard(7) == (0, 7)
    x = np.arange(3.0)
    assert distributed.broadcast(x) is x and np.array_equal(distributed.allreduce(x), x)


def test_launch_read_from_the_environment_and_the_opt_out(ranks, monkeypatch):
    ranks(2, 3)
    assert (distributed.size(), distributed.rank(), distributed.is_main()) == (3, 2, False)
    monkeypatch.setenv("MINICNN_DISTRIBUTED", "0")
    ranks.reread()
    assert (distributed.size(), distributed.rank()) == (1, 0)
    monkeypatch.delenv("MINICNN_DISTRIBUTED")
    for name in ("PMI_RANK", "PMI_SIZE"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")  # Open MPI's names
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "1")
    ranks.reread()
    assert (distributed.size(), distributed.rank()) == (4, 1)


@pytest.mark.parametrize("n", [2, 3, 4])
@pytest.mark.parametrize("batch", [1, 5, 12, 13])
def test_global_batches_and_evaluation_sets_are_shared_out_evenly(ranks, n, batch):
    shards = []
    for r in range(n):
        ranks(r, n)
        shards.append(distributed.shard(batch))
    # contiguous shares covering every sample once, in order, sizes within one
    assert [first for first, _ in shards] == [sum(c for _, c in shards[:r]) for r in range(n)]
    assert sum(c for _, c in shards) == batch and max(c for _, c in shards) - min(c for _, c in shards) <= 1


def test_threads_per_rank_share_the_machines_cores(ranks, monkeypatch):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(8)))
    ranks.reread()
    assert distributed.threads_per_rank() == 8
    ranks(0, 4, local=2)
    assert distributed.threads_per_rank() == 4
    ranks(0, 16, local=16)
    assert distributed.threads_per_rank() == 1  # never fewer than one
    monkeypatch.setenv("MINICNN_NUM_THREADS", "3")
    assert distributed.threads_per_rank() == 3
    monkeypatch.setenv("MINICNN_NUM_THREADS", "many")
    with pytest.raises(ValueError, match="MINICNN_NUM_THREADS must be a positive integer"):
        distributed.threads_per_rank()


def test_allreduce_checks_its_op():
    with pytest.raises(ValueError, match="'sum' or 'mean'"):
        distributed.allreduce(np.ones(2), op="max")


@pytest.mark.parametrize("data", ["abc", np.array(["a", "b"]), np.array([object(), 1], dtype=object)])
def test_allreduce_refuses_what_is_not_numbers(data):
    with pytest.raises(TypeError, match="allreduce sums numbers"):
        distributed.allreduce(data)


def test_allreduce_of_numbers_of_every_kind():
    for data in (np.arange(3), np.array([True, False]), 2.5, np.ones((2, 2), np.float32)):
        out = distributed.allreduce(data, op="sum")
        np.testing.assert_array_equal(out, data)


@pytest.mark.parametrize("root", [3, 1, -1, True, "0", 0.0])
def test_broadcast_refuses_a_root_outside_the_job(root):
    """A root that is no rank returned x unchanged in one process (and would leave every rank waiting
    under MPI); it is refused on every rank."""
    expected = rf"broadcast: root={root!r} is not a rank of this job, whose ranks are 0 to 0"
    with pytest.raises(ValueError, match=expected):
        distributed.broadcast(np.arange(3.0), root=root)
    x = np.arange(3.0)
    assert distributed.broadcast(x, root=np.int64(0)) is x


def test_broadcast_checks_the_root_against_the_job_size(ranks):
    ranks(0, 2)
    with pytest.raises(ValueError, match="ranks are 0 to 1"):
        distributed.broadcast(np.arange(3.0), root=2)
