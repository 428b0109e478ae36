"""The one Dask fan-out: every task's result or error, by name."""

import pytest

pytest.importorskip("distributed")

from distributed import Client  # noqa: E402

from asteris.fanout import fan_out  # noqa: E402


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
