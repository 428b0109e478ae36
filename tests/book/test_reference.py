"""The committed reference models: present, matching their checksums, loadable with the architecture of
their record, and reproducing their stored output. CI checks them; it never retrains them."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from asteris import load_model
from asteris.book import CI_REFERENCE, check_output, reference_dir, reference_name, reference_weights
from asteris.errors import CheckpointError

RECORDS = sorted(reference_dir().glob("*.json"))


def test_the_reference_model_of_the_book_is_committed():
    assert (reference_dir() / f"{reference_name(*CI_REFERENCE)}.json") in RECORDS


@pytest.mark.parametrize("record", RECORDS, ids=[r.stem for r in RECORDS])
def test_reference_model_matches_its_record_and_reproduces_its_output(record):
    info = json.loads(record.read_text())
    weights = reference_weights(info["preset"], info["band"])  # refuses a checksum mismatch
    model = load_model(weights)
    for key in ("f_maps", "frames"):
        assert getattr(model.config, key) == info["config"][key]
    assert list(model.config.num_blocks) == list(info["config"]["num_blocks"])
    assert info["steps"] == info["validation"][-1][0]  # trained to its last validation
    stored, now = info["check"], check_output(weights)
    assert now["shape"] == stored["shape"]
    # float32 round-off differs between CPUs; other weights differ by orders of magnitude more
    np.testing.assert_allclose(now["block_means"], stored["block_means"], rtol=0, atol=2e-3)
    assert now["std"] == pytest.approx(stored["std"], rel=1e-3)


def test_missing_or_altered_weights_are_refused_with_advice(tmp_path):
    stem = reference_name(*CI_REFERENCE)
    with pytest.raises(CheckpointError, match="train_reference.py --preset tiny"):
        reference_weights(*CI_REFERENCE, folder=tmp_path)
    for suffix in (".pt", ".json"):
        shutil.copyfile(reference_dir() / f"{stem}{suffix}", tmp_path / f"{stem}{suffix}")
    assert reference_weights(*CI_REFERENCE, folder=tmp_path) == tmp_path / f"{stem}.pt"
    with open(tmp_path / f"{stem}.pt", "r+b") as f:
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        reference_weights(*CI_REFERENCE, folder=tmp_path)
