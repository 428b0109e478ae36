"""Train an ASTERIS reference model on mock fields that no benchmark or chapter evaluates on.

The training fields are the embedded NIRCam-like mock (one band, every noise
component on) at seeds 101, 102, ... (the evaluation fields use seeds 0 and 1).
Training runs until the validation loss stops improving (the preset's
``plateau_patience``), resumes where it stopped if interrupted, keeps the
weights every 100 steps in the work folder for the convergence study
(``benchmarks/depth.py --convergence``), and writes into
``benchmarks/reference/``:

- ``<name>.pt``: the weights in the published checkpoint layout;
- ``<name>.json``: the training configuration, the fields, the command, the
  machine, the validation losses against step, the SHA-256 of the weights and
  their output on a fixed input (`asteris.book.check_output`, which CI reproduces);
- ``<name>.metrics.jsonl``: the training log, one row per step and validation.

Usage: ``python benchmarks/train_reference.py [--preset small] [--band F200W] [--fields 3]
[--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

from _results import write_result

from asteris import TrainConfig, train
from asteris.book import check_output, reference_name
from asteris.checkpoint import save_checkpoint
from asteris.fileio import atomic_write, check_writable, sha256sum
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.training import TrainResult
from asteris.tuning import machine_description

REFERENCE = Path(__file__).parent / "reference"
FIRST_SEED = 101  # evaluation fields use seeds 0 (default) and 1 (z > 8.5)
#: The tiny preset runs a fixed 800 steps (tests, demos); its reference model trains until it plateaus.
REFERENCE_OVERRIDES = {"tiny": dict(epochs=40, plateau_patience=6)}


def train_with_snapshots(stacks, run_dir: Path, config: TrainConfig, *, every: int) -> TrainResult:
    """Train (resuming where a run stopped) in chunks of ``every`` steps, keeping the weights after each
    chunk as ``run_dir/snapshots/step_NNNNN.pt`` for the convergence study
    (``benchmarks/depth.py --convergence``).
    The chunks change nothing in the run: the schedule and the data order depend on the step alone."""
    while True:
        resume = (run_dir / "checkpoint_last.pt").exists()
        result = train(stacks, run_dir=run_dir, config=config, resume=resume, overwrite=not resume,
                       stop_after=every, progress=True)  # fmt: skip
        save_checkpoint(run_dir / "snapshots" / f"step_{result.step:05d}.pt", result.model,
                        name=run_dir.name, step=result.step)  # fmt: skip
        if result.model_path.exists():
            return result


def train_reference(preset: str, band: str, fields: int, work: Path, out: Path, *, overwrite: bool = False,
                    shape: tuple[int, int] | None = None, snapshot_every: int = 100,
                    **overrides) -> dict:  # fmt: skip
    """Train (or resume) the reference model and write its weights, record and log into ``out``.

    Committed reference files are replaced only with ``overwrite``; this is checked before training.
    The weights every ``snapshot_every`` steps are kept in the work folder (not in ``out``).
    ``shape`` (default: the embedded field's) and ``overrides`` of the preset serve quick checks.
    """
    name = reference_name(preset, band)
    check_committable(out, name, overwrite=overwrite)
    seeds = list(range(FIRST_SEED, FIRST_SEED + fields))
    stacks = [
        mock_field(bands=[band], seed=seed, shape=shape, progress=False).bands[band].stack for seed in seeds
    ]
    config = TrainConfig.preset(preset, **(REFERENCE_OVERRIDES.get(preset, {}) | overrides))
    run_dir = work / reference_name(preset, band)
    start = time.perf_counter()
    result = train_with_snapshots(stacks, run_dir, config, every=snapshot_every)
    seconds = time.perf_counter() - start
    committed = commit_run(result, out, name, overwrite=overwrite)
    record = {
        "name": name, "preset": preset, "band": band, "config": config.to_dict(),
        "fields": {"mock_version": MOCK_VERSION, "seeds": seeds, "noise": "all components at their defaults"},
        "steps": result.step, "train_seconds": committed["train_seconds"],
        "planned_steps": config.epochs * config.max_steps_per_epoch
        if config.max_steps_per_epoch else None, "seconds_this_call": round(seconds, 1),
        "validation": committed["validation"], "sha256": committed["sha256"], "check": committed["check"],
        "command": f"python benchmarks/train_reference.py --preset {preset} --band {band} --fields {fields}",
        "machine": machine_description(),
    }  # fmt: skip
    write_result(out / f"{name}.json", record, indent=2)
    return record


def check_committable(out: Path, name: str, *, overwrite: bool) -> None:
    """Refuse, before any training, to replace the committed files ``<name>.*`` in ``out`` unless
    ``overwrite``."""
    for suffix in (".pt", ".json", ".metrics.jsonl"):
        check_writable(out / f"{name}{suffix}", overwrite=overwrite, create_folder=True)


def commit_run(result: TrainResult, out: Path, name: str, *, overwrite: bool) -> dict:
    """Copy a finished run's weights and log into ``out`` (``<name>.pt``, ``<name>.metrics.jsonl``); what
    its record says of them: validation losses, seconds of training, SHA-256 and stored output."""
    metrics = result.run_dir / "metrics.jsonl"
    out.mkdir(parents=True, exist_ok=True)
    for source, target in ((result.model_path, f"{name}.pt"), (metrics, f"{name}.metrics.jsonl")):
        atomic_write(out / target, lambda p, source=source: shutil.copyfile(source, p), overwrite=overwrite)
    validation = [(row["step"], row["val_loss"]) for row in result.history if row.get("val_loss") is not None]
    return {"validation": validation, "train_seconds": round(_step_seconds(metrics), 1),
            "sha256": sha256sum(out / f"{name}.pt"), "check": check_output(out / f"{name}.pt")}  # fmt: skip


def _step_seconds(metrics: Path) -> float:
    """Total seconds of the training steps a run logged (over every call that resumed it)."""
    rows = (json.loads(line) for line in metrics.read_text().splitlines())
    return sum(row.get("seconds", 0.0) for row in rows if "loss" in row)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", default="small", choices=["tiny", "small", "paper"])
    parser.add_argument("--band", default="F200W")
    parser.add_argument("--fields", type=int, default=3, help="training fields (seeds 101, 102, ...)")
    parser.add_argument("--work", default="reference_runs", help="folder of the training run (resumable)")
    parser.add_argument("--out", default=str(REFERENCE))
    parser.add_argument("--overwrite", action="store_true", help="replace committed reference files")
    args = parser.parse_args()
    record = train_reference(args.preset, args.band, args.fields, Path(args.work), Path(args.out),
                             overwrite=args.overwrite)  # fmt: skip
    last = record["validation"][-1][1]
    print(f"{record['name']}: {record['steps']} steps, last validation loss {last:.4g}, "
          f"sha256 {record['sha256'][:16]}..., written to {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
