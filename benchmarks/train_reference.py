"""Train an ASTERIS reference model on mock fields that no benchmark or chapter evaluates on.

The training fields are the embedded NIRCam-like mock (one band, every noise
component on) at seeds 101, 102, ... (the evaluation fields use seeds 0 and 1).
Training runs until the validation loss stops improving (the preset's
``plateau_patience``), resumes where it stopped if interrupted, and writes into
``benchmarks/reference/``:

- ``<name>.pt``: the weights in the published checkpoint layout;
- ``<name>.json``: the training configuration, the fields, the command, the
  machine, the validation losses against step and the SHA-256 of the weights;
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

from asteris import TrainConfig, train
from asteris.fileio import atomic_write, check_writable, sha256sum
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.tuning import machine_description

REFERENCE = Path(__file__).parent / "reference"
FIRST_SEED = 101  # evaluation fields use seeds 0 (default) and 1 (z > 8.5)


def reference_name(preset: str, band: str) -> str:
    return f"asteris_{preset}_{band.lower()}"


def train_reference(preset: str, band: str, fields: int, work: Path, out: Path, *, overwrite: bool = False,
                    shape: tuple[int, int] | None = None, **overrides) -> dict:  # fmt: skip
    """Train (or resume) the reference model and write its weights, record and log into ``out``.

    Committed reference files are replaced only with ``overwrite``; this is checked before training.
    ``shape`` (default: the embedded field's) and ``overrides`` of the preset serve quick checks.
    """
    name = reference_name(preset, band)
    for suffix in (".pt", ".json", ".metrics.jsonl"):
        check_writable(out / f"{name}{suffix}", overwrite=overwrite, create_folder=True)
    seeds = list(range(FIRST_SEED, FIRST_SEED + fields))
    stacks = [
        mock_field(bands=[band], seed=seed, shape=shape, progress=False).bands[band].stack for seed in seeds
    ]
    config = TrainConfig.preset(preset, **overrides)
    run_dir = work / reference_name(preset, band)
    resume = (run_dir / "checkpoint_last.pt").exists()
    start = time.perf_counter()
    result = train(stacks, run_dir=run_dir, config=config, resume=resume, overwrite=not resume, progress=True)
    seconds = time.perf_counter() - start
    out.mkdir(parents=True, exist_ok=True)
    for source, target in (
        (result.model_path, f"{name}.pt"),
        (run_dir / "metrics.jsonl", f"{name}.metrics.jsonl"),
    ):
        atomic_write(out / target, lambda p, source=source: shutil.copyfile(source, p), overwrite=overwrite)
    validation = [(row["step"], row["val_loss"]) for row in result.history if row.get("val_loss") is not None]
    record = {
        "name": name, "preset": preset, "band": band, "config": config.to_dict(),
        "fields": {"mock_version": MOCK_VERSION, "seeds": seeds, "noise": "all components at their defaults"},
        "steps": result.step, "planned_steps": config.epochs * config.max_steps_per_epoch
        if config.max_steps_per_epoch else None, "seconds_this_call": round(seconds, 1),
        "validation": validation, "sha256": sha256sum(out / f"{name}.pt"),
        "command": f"python benchmarks/train_reference.py --preset {preset} --band {band} --fields {fields}",
        "machine": machine_description(),
    }  # fmt: skip
    atomic_write(
        out / f"{name}.json", lambda p: p.write_text(json.dumps(record, indent=2) + "\n"), overwrite=True
    )
    return record


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
