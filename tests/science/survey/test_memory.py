"""A pointing too large for the machine's memory is refused before its chain starts, and its stacks
leave the process's own memory."""

import sys
from pathlib import Path

import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.science.survey.memory import check_pointing_memory, pointing_peak_bytes
from asteris.stack import Stack

MEASURED = {"runs": [{"voxels": 1_000_000, "peak_rss_mb": {"process": 1000.0}},
                     {"voxels": 4_000_000, "peak_rss_mb": {"process": 2500.0}}]}  # fmt: skip


def _stacks(side: int) -> dict:
    return {band: Stack(np.ones((4, side, side), np.float32)) for band in ("F277W", "F356W")}


def test_the_peak_follows_the_measured_line_and_a_pointing_too_large_is_refused():
    assert pointing_peak_bytes(7_000_000, scaling=MEASURED) == pytest.approx(4000 * 2**20)
    one_point = {"runs": MEASURED["runs"][:1]}
    assert pointing_peak_bytes(10, scaling=one_point) is None  # no line through one point
    check_pointing_memory(_stacks(500), "small", available=2e9, scaling=MEASURED)  # 2 M voxels: 1.6 GB
    with pytest.raises(ConfigError, match=r"pointing big needs about 1\.6 GB at its peak \(2 million voxels"):
        check_pointing_memory(_stacks(500), "big", available=1e9, scaling=MEASURED)


def test_the_committed_measurements_give_a_peak_that_grows_with_the_pointing():
    small, large = pointing_peak_bytes(10_000_000), pointing_peak_bytes(1_000_000_000)
    if small is None:
        pytest.skip("benchmarks/results/scaling.json holds no measured peaks")
    assert 0 < small < large


_ON_DISK = """
import sys
from pathlib import Path

import numpy as np

from asteris.science.survey.memory import stacks_on_disk
from asteris.stack import Stack

sys.path.insert(0, {benchmarks!r})
from _memory import status_mb

rng = np.random.default_rng(0)
stacks = {{b: Stack(rng.normal(size=(8, 1024, 1024)).astype(np.float32)) for b in ("F277W", "F356W")}}
stacks["F356W"].data[:, :10] = np.nan  # no data stays no data
before = status_mb("RssAnon")
held = stacks_on_disk(stacks, Path({folder!r}))
assert all(np.isnan(stack.data.sum()) == (b == "F356W") for b, stack in held.items())  # every page read
assert status_mb("RssAnon") - before < 16, "the copy is in the process's own memory"
for band, stack in stacks.items():
    np.testing.assert_array_equal(held[band].data, stack.data)
    assert held[band].wcs is stack.wcs and held[band].sources == stack.sources
before = status_mb("RssAnon")
del stacks, stack
freed = before - status_mb("RssAnon")
assert freed > 50, f"dropping the stacks freed {{freed:.1f}} MB"  # 64 MB: the process holds them no more
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads RssAnon of /proc/self/status")
def test_stacks_on_disk_hold_the_same_values_outside_the_process_own_memory(tmp_path):
    """In a fresh interpreter: a process that ran other tests first (a pytest-xdist worker) may keep
    freed memory for reuse, and its anonymous memory would not show what the stacks hold."""
    import subprocess

    benchmarks = str(Path(__file__).resolve().parents[3] / "benchmarks")  # _memory: their /proc reading
    script = _ON_DISK.format(benchmarks=benchmarks, folder=str(tmp_path / "stacks"))
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
