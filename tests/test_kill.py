"""Nothing is lost when a job is killed: SIGKILL a `denoise` and a `train` mid-run.

The denoised output path then holds the previous complete file, untouched, and
`train --resume` reaches the same final weights, bit for bit, as a run that was
never interrupted.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from astropy.io import fits

from asteris import build_network, save_checkpoint

pytestmark = pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")

TRAIN_SETTINGS = ["--preset", "tiny", "--quiet", "--set", "epochs=5", "--set", "patch_size=32",
                  "--set", "checkpoint_every=1"]  # fmt: skip


def asteris_cli(*args: str, **kwargs) -> subprocess.Popen:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}  # the same arithmetic in every process
    return subprocess.Popen([sys.executable, "-m", "asteris.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)  # fmt: skip


def wait_for(condition, proc: subprocess.Popen, timeout: float = 120.0) -> None:
    start = time.monotonic()
    while not condition():
        if proc.poll() is not None:
            pytest.fail(f"the process ended before it could be killed: {proc.communicate()[1][-2000:]}")
        if time.monotonic() - start > timeout:
            proc.kill()
            pytest.fail("the process did not reach the point where it is killed")
        time.sleep(0.05)


def kill(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def test_a_killed_denoise_leaves_the_previous_output_as_it_was(tmp_path):
    stack = tmp_path / "stack.fits"
    cube = np.random.default_rng(0).normal(10, 1, (16, 1024, 1024)).astype(np.float32)
    fits.PrimaryHDU(cube).writeto(stack)
    net = build_network(frames=8, f_maps=8, num_blocks=[1, 1, 1, 1], num_refinement_blocks=1)
    model = save_checkpoint(tmp_path / "model.pt", net)
    out = tmp_path / "out"
    out.mkdir()
    previous = out / "denoised.fits"
    fits.PrimaryHDU(np.zeros((4, 4), np.float32)).writeto(previous)
    before = previous.read_bytes()
    log = tmp_path / "progress.log"
    with open(log, "w") as progress:
        proc = subprocess.Popen([sys.executable, "-m", "asteris.cli", "denoise", str(stack), "--model",
                                 str(model), "--out", str(previous), "--overwrite", "--tile-size", "128"],
                                stdout=subprocess.DEVNULL, stderr=progress, text=True)  # fmt: skip
        wait_for(lambda: "tile" in log.read_text(), proc)  # the network is running over the tiles
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL
    assert previous.read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["denoised.fits"]  # no partial or temporary file


def final_weights(run_dir: Path) -> dict:
    return torch.load(run_dir / "model.pt", map_location="cpu", weights_only=False)["model_state_dict"]


@pytest.mark.slow
def test_a_killed_training_resumes_to_the_same_weights(tmp_path):
    stack = tmp_path / "stack.fits"
    fits.PrimaryHDU(np.random.default_rng(1).normal(10, 1, (16, 64, 64)).astype(np.float32)).writeto(stack)
    straight = asteris_cli("train", str(stack), "--run-dir", str(tmp_path / "straight"), *TRAIN_SETTINGS)
    assert straight.wait(timeout=600) == 0, straight.communicate()[1]

    killed = tmp_path / "killed"
    proc = asteris_cli("train", str(stack), "--run-dir", str(killed), *TRAIN_SETTINGS)

    def some_steps_done() -> bool:
        metrics = killed / "metrics.jsonl"
        return metrics.exists() and len(metrics.read_text().splitlines()) >= 5

    wait_for(some_steps_done, proc)
    kill(proc)
    assert not (killed / "model.pt").exists()
    saved = [json.loads(line) for line in (killed / "metrics.jsonl").read_text().splitlines()]
    total = json.loads((tmp_path / "straight" / "metrics.jsonl").read_text().splitlines()[-1])["step"]
    assert 3 <= saved[-1]["step"] < total  # killed mid-run, after some checkpoints
    resumed = asteris_cli("train", str(stack), "--run-dir", str(killed), "--resume", *TRAIN_SETTINGS)
    assert resumed.wait(timeout=600) == 0, resumed.communicate()[1]
    a, b = final_weights(tmp_path / "straight"), final_weights(killed)
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
