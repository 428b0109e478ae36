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


def _alter_one_byte(path) -> None:
    with open(path, "r+b") as f:
        f.seek(-100, 2)
        byte = f.read(1)
        f.seek(-100, 2)
        f.write(bytes([byte[0] ^ 0xFF]))


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
    _alter_one_byte(tmp_path / f"{stem}.pt")
    with pytest.raises(CheckpointError, match="does not match the SHA-256"):
        reference_weights(*CI_REFERENCE, folder=tmp_path)


CHAPTER_RECORDS = sorted((reference_dir() / "chapters").glob("*.json"))


def test_the_model_that_chapter_4_loads_is_committed():
    assert reference_dir() / "chapters" / "chapter4_retrained_tiny_hsc_i.json" in CHAPTER_RECORDS


@pytest.mark.parametrize("record", CHAPTER_RECORDS, ids=[r.stem for r in CHAPTER_RECORDS])
def test_a_committed_chapter_run_is_loaded_as_its_record_says_and_only_for_its_stack(record, tmp_path,
                                                                                     monkeypatch):
    """The weights, steps and validation losses of the record; the stored output reproduced; another
    stack or altered weights refused (the chapter's own stack is checked by its nbval run)."""
    from asteris.book import committed_run, stack_fingerprint
    from asteris.fileio import sha256sum
    from asteris.mock.datasets import MOCK_VERSION

    info = json.loads(record.read_text())
    assert info["mock_version"] == MOCK_VERSION, f"the mock changed since {record.stem}: {info['command']}"
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    stack = np.random.default_rng(0).normal(100.0, 1.0, (8, 32, 32)).astype(np.float32)
    folder = tmp_path / "chapters"
    folder.mkdir()
    shutil.copyfile(record.with_suffix(".pt"), folder / f"{record.stem}.pt")
    (folder / record.name).write_text(json.dumps({**info, "stack_fingerprint": stack_fingerprint(stack)}))
    run = committed_run(record.stem, stack, folder=folder)
    assert run.step == info["steps"] == info["validation"][-1][0]
    assert [(row["step"], row["val_loss"]) for row in run.history] == [tuple(v) for v in info["validation"]]
    assert sha256sum(run.model_path) == info["sha256"]
    stored, now = info["check"], check_output(run.model_path)
    np.testing.assert_allclose(now["block_means"], stored["block_means"], rtol=0, atol=2e-3)
    with pytest.raises(CheckpointError, match="trained on another stack"):
        committed_run(record.stem, stack * 1.001, folder=folder)
    _alter_one_byte(folder / f"{record.stem}.pt")
    with pytest.raises(CheckpointError, match="does not match its record"):
        committed_run(record.stem, stack, folder=folder)
