"""The one Dask fan-out: every task's result or error, by name."""

import os

import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402

from asteris.fanout import SPAWN_ENV, WORKER_ENV, cluster_map, dask_client, fan_out  # noqa: E402


def _square_or_fail(value: int) -> int:
    if value < 0:
        raise ValueError(f"negative {value}")
    return value * value


def test_results_and_failures_come_back_by_name():
    done = []
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        results = fan_out(_square_or_fail, {"a": (3,), "b": (-1,), "c": (4,)}, scheduler=client, retries=0,
                          feature="a test", on_done=done.append)  # fmt: skip
        assert client.status == "running"  # a client given by the caller stays open
    assert results["a"] == 9 and results["c"] == 16
    assert isinstance(results["b"], ValueError) and "negative -1" in str(results["b"])
    assert sorted(done) == ["a", "b", "c"]


def _parts_of(values: list) -> list:
    """A task that spreads its parts over the cluster running it."""
    return cluster_map()(_square_or_fail, values)


def test_the_parts_of_one_task_run_on_the_cluster_that_runs_it():
    """Inside a task of a one-thread worker the parts still run: the task steps aside while they do."""
    with Client(processes=False, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
        assert cluster_map(client)(_square_or_fail, [3, 1, 2]) == [9, 1, 4]  # in order
        results = fan_out(_parts_of, {"a": ([1, 2],), "b": ([5, -1],)}, scheduler=client, retries=0,
                          feature="a test")  # fmt: skip
    assert results["a"] == [1, 4]
    assert isinstance(results["b"], ValueError)  # a part's failure is its task's


def _torch_threads(_) -> int:
    import torch

    return torch.get_num_threads()


def test_the_parts_run_on_the_callers_torch_threads():
    """Whatever its worker's, each part runs on the caller's number of torch threads, and the worker
    gets its own back."""
    torch = pytest.importorskip("torch")
    before = torch.get_num_threads()
    torch.set_num_threads(3)
    try:
        with Client(processes=True, n_workers=1, threads_per_worker=1, dashboard_address=":0") as client:
            assert cluster_map(client)(_torch_threads, [0, 1]) == [3, 3]
            assert client.submit(_torch_threads, 0).result() == 1  # the worker's own, restored
    finally:
        torch.set_num_threads(before)


def _environ(name: str) -> str | None:
    import os

    return os.environ.get(name)


def test_workers_started_here_keep_glibc_free_to_reuse_large_blocks(monkeypatch):
    """Dask would set ``MALLOC_TRIM_THRESHOLD_`` in its workers (and in this process, which starts
    them): a local cluster started here leaves it out of both, as they are without Dask."""
    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    import dask

    assert "MALLOC_TRIM_THRESHOLD_" in dask.config.get(SPAWN_ENV)  # what Dask alone would do
    client, cluster = dask_client(None, 1, feature="a test")
    try:
        assert client.submit(_environ, "MALLOC_TRIM_THRESHOLD_").result() is None
        assert client.submit(_environ, "OMP_NUM_THREADS").result() == "1"  # Dask's other settings stay
        assert "MALLOC_TRIM_THRESHOLD_" not in os.environ
    finally:
        client.close()
        cluster.close()


def test_workers_started_here_back_large_tensors_with_huge_pages():
    """A local cluster's workers get `WORKER_ENV`: torch reads it once, so it must be there at start."""
    client, cluster = dask_client(None, 1, feature="a test")
    try:
        assert WORKER_ENV == {"THP_MEM_ALLOC_ENABLE": "1"}
        assert client.submit(_environ, "THP_MEM_ALLOC_ENABLE").result() == "1"
    finally:
        client.close()
        cluster.close()
