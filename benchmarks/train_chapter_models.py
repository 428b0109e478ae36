"""Train the models that a chapter's ``ci`` mode loads instead of training them for minutes.

Chapter 4 compares three models on the HSC-like i-band stack of ``ci`` mode; one of them is
retrained there from random weights with the whole ``tiny`` schedule (800 steps), which took
about two of the chapter's three minutes on 2 CPU cores, every time the book was executed or
tested. This script trains it exactly as the chapter did (the chapter's stack, the chapter's
configuration `asteris.book.training_preset`, seeded) and writes into ``benchmarks/reference/chapters/``:

- ``<name>.pt``: the weights (published checkpoint layout);
- ``<name>.json``: the configuration, the stack's shape and pixel statistics, the steps, the validation
  losses, the SHA-256 of the weights, their output on a fixed input (`asteris.book.check_output`,
  which CI reproduces), the command and the machine;
- ``<name>.metrics.jsonl``: the training log.

The chapter loads them with `asteris.book.committed_run`, which refuses weights that do not
match their record or a stack other than the one they were trained on. ``full`` mode
still trains on the reader's data.

Usage: ``python benchmarks/train_chapter_models.py [--work DIR] [--overwrite]``
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import torch
from _results import write_result
from train_reference import check_committable, commit_run

from asteris import train
from asteris.book import chapter_stack, stack_fingerprint, training_preset
from asteris.mock.datasets import MOCK_VERSION
from asteris.tuning import machine_description

REFERENCE = Path(__file__).parent / "reference" / "chapters"
#: name -> the chapter, and the stack and configuration it trains on.
RUNS = {
    "chapter4_retrained_tiny_hsc_i": {
        "chapter": "notebooks/04_cross_instrument.py",
        "stack": {"instrument": "hsc", "band": "i", "manifest": "hsc_cosmos_i_warps"},
        "from_scratch": True,
    },
}


def train_chapter_model(name: str, work: Path, out: Path, *, overwrite: bool = False) -> dict:
    """Train (or resume) run ``name`` of `RUNS` and write its weights, record and log into ``out``."""
    spec = RUNS[name]
    check_committable(out, name, overwrite=overwrite)
    stack, _ = chapter_stack("ci", **spec["stack"])
    config = training_preset("ci", from_scratch=spec["from_scratch"])
    run_dir = work / name
    resume = (run_dir / "checkpoint_last.pt").exists()
    result = train(stack, run_dir=run_dir, config=config, resume=resume, overwrite=not resume, progress=True)
    committed = commit_run(result, out, name, overwrite=overwrite)
    record = {
        "name": name, "chapter": spec["chapter"], "mode": "ci", "stack": spec["stack"],
        "mock_version": MOCK_VERSION, "stack_fingerprint": stack_fingerprint(stack),
        "config": config.to_dict(), "steps": result.step, "validation": committed["validation"],
        "train_seconds": committed["train_seconds"],
        "torch_threads": torch.get_num_threads(), "layout": os.environ.get("ASTERIS_LAYOUT", "default"),
        "sha256": committed["sha256"], "check": committed["check"],
        "command": "python benchmarks/train_chapter_models.py", "machine": machine_description(),
    }  # fmt: skip
    write_result(out / f"{name}.json", record, indent=2)
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--work", default="chapter_model_runs", help="folder of the runs (resumable)")
    parser.add_argument("--out", default=str(REFERENCE))
    parser.add_argument("--overwrite", action="store_true", help="replace committed files")
    args = parser.parse_args()
    for name in RUNS:
        record = train_chapter_model(name, Path(args.work), Path(args.out), overwrite=args.overwrite)
        print(f"{name}: {record['steps']} steps in {record['train_seconds']:.0f} s, last validation loss "
              f"{record['validation'][-1][1]:.4g}, sha256 {record['sha256'][:16]}...")  # fmt: skip


if __name__ == "__main__":
    main()
