"""benchmarks/device_check.sh, the one command for a lent GPU: its CPU dry run at toy sizes, in CI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

pytest.importorskip("photutils")

SCRIPT = Path(__file__).parents[1] / "benchmarks" / "device_check.sh"


def run_script(*args: str, tmp_path: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHON": sys.executable, "ASTERIS_DATA_DIR": str(tmp_path / "data")}
    return subprocess.run(["bash", str(SCRIPT), *args], env=env, capture_output=True, text=True, timeout=900)


@pytest.mark.slow
def test_the_dry_run_goes_through_every_step(tmp_path):
    out = tmp_path / "device_check.json"
    done = run_script("--dry-run", "--out", str(out), "--work", str(tmp_path / "work"), tmp_path=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["dry_run"] and result["device"] == "cpu" and result["command"].endswith("--dry-run")
    assert result["train"]["preset"] == "tiny" and result["train"]["steps"] >= 2
    assert len(result["train"]["sha256"]) == 64
    assert set(result["evaluate"]["protocols"]) == {"optimal", "paper"}
    for protocol in result["evaluate"]["protocols"].values():
        assert set(protocol["methods"]) == {"ivar", "mean", "asteris"}
    assert result["denoise_4k"]["stack"] == "8x256x256" and result["denoise_4k"]["modes"]


@pytest.mark.skipif(torch.cuda.is_available(), reason="the refusal is for machines without a GPU")
def test_without_a_gpu_it_refuses_in_one_sentence(tmp_path):
    done = run_script(tmp_path=tmp_path)
    assert done.returncode != 0 and "no CUDA GPU: use --dry-run" in done.stderr
