"""benchmarks/train_reference.py: the reference models' training script, run quickly on small fields."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from asteris import load_model
from asteris.book import reference_name
from asteris.errors import OutputExistsError
from asteris.fileio import sha256sum

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from train_reference import train_reference  # noqa: E402


def test_reference_training_writes_weights_record_and_log_and_refuses_to_overwrite(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    quick = dict(shape=(128, 128), patch_size=32, epochs=2, max_steps_per_epoch=2, plateau_patience=1)
    out = tmp_path / "reference"
    record = train_reference("tiny", "F200W", 2, tmp_path / "work", out, **quick)
    name = reference_name("tiny", "F200W")
    assert record["fields"]["seeds"] == [101, 102] and record["steps"] == 4
    assert record["sha256"] == sha256sum(out / f"{name}.pt") and record["check"]["shape"] == [64, 64]
    assert sorted(p.name for p in (tmp_path / "work" / name / "snapshots").iterdir()) == ["step_00004.pt"]
    assert load_model(out / f"{name}.pt").config.f_maps == 8
    written = json.loads((out / f"{name}.json").read_text())
    assert written["validation"] == [list(v) for v in record["validation"]]
    assert (out / f"{name}.metrics.jsonl").read_text().count("val_loss") == 2
    with pytest.raises(OutputExistsError):
        train_reference("tiny", "F200W", 2, tmp_path / "work", out, **quick)
