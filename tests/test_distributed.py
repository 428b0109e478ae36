import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from asteris import load_model
from asteris.config import TrainConfig
from asteris.distributed import World
from asteris.stack import Stack, write_stack

ARGS = [
    "--set",
    "patch_size=16",
    "--set",
    "batch_size=2",
    "--set",
    "epochs=1",
    "--set",
    "max_steps_per_epoch=3",
    "--set",
    "val_fraction=0",
    "--quiet",
]


def test_shard_splits_a_global_batch():
    batch = list(range(6))
    assert World(rank=0, size=2).shard(batch) == [0, 1, 2] and World(rank=1, size=2).shard(batch) == [3, 4, 5]
    assert World().shard(batch) == batch and World().mean(2.5) == 2.5


def _run(cwd, env, run_dir, *extra, processes=1):
    launcher = (
        ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(processes)]
        if processes > 1
        else []
    )
    cmd = [
        sys.executable,
        *launcher,
        "-m",
        "asteris.cli",
        "train",
        "stack.fits",
        "--run-dir",
        run_dir,
        *ARGS,
        *extra,
    ]
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]


def _losses(run_dir):
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.mark.slow
def test_torchrun_two_processes_equal_one_process(tmp_path):
    """Two Gloo processes with one sample each compute the gradient of one process with both.

    After step 1, Adam's first moment is exactly 0.1 x the gradient, so it is compared to
    round-off. Weights after several Adam steps are not: Adam moves every weight by about
    lr x sign(gradient), and for the near-zero gradients of the latent level that sign is
    decided by round-off. Both runs are then resumed to the end and their losses compared.
    """
    rng = np.random.default_rng(0)
    sky = rng.normal(0, 3, (48, 48)).clip(0) + 10
    write_stack(Stack((sky + rng.normal(0, 1, (16, 48, 48))).astype(np.float32)), tmp_path / "stack.fits")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    _run(tmp_path, env, "one", "--stop-after", "1")
    _run(tmp_path, env, "two", "--stop-after", "1", processes=2)
    states = [torch.load(tmp_path / d / "checkpoint_last.pt", weights_only=True) for d in ("one", "two")]
    m1, m2 = (s["optimizer_state_dict"]["state"] for s in states)
    assert m1.keys() == m2.keys() and len(m1) > 50
    for i in m1:
        g1, g2 = m1[i]["exp_avg"], m2[i]["exp_avg"]
        assert torch.allclose(g1, g2, rtol=1e-3, atol=1e-3 * float(g1.abs().max())), i
    _run(tmp_path, env, "one", "--resume")
    _run(tmp_path, env, "two", "--resume", processes=2)
    one, two = _losses(tmp_path / "one"), _losses(tmp_path / "two")
    assert len(one) == len(two) == 3
    assert np.allclose(one, two, rtol=1e-4)
    assert (
        load_model(tmp_path / "two" / "model.pt").config == load_model(tmp_path / "one" / "model.pt").config
    )


def test_each_rank_trains_on_its_half_of_the_global_batch():
    from asteris.sampling import prepare_training_stack
    from asteris.training import _Data

    rng = np.random.default_rng(1)
    stack = prepare_training_stack((10 + rng.normal(0, 1, (16, 48, 48))).astype(np.float32))
    cfg = TrainConfig.preset("tiny", patch_size=16, batch_size=4)
    data = _Data([stack], cfg)
    full_inp, full_tgt = data.batch(5, World())
    halves = [data.batch(5, World(rank=r, size=2)) for r in (0, 1)]
    assert all(h[0].shape[0] == 2 for h in halves)
    assert torch.equal(torch.cat([h[0] for h in halves]), full_inp)
    assert torch.equal(torch.cat([h[1] for h in halves]), full_tgt)
