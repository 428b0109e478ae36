"""Writing files: atomically, never over an existing one unless asked, and checksummed."""

import hashlib

import pytest

from asteris.errors import OutputExistsError, OutputPathError
from asteris.fileio import atomic_path, atomic_write, check_writable, data_dir, exclusive_lock, sha256sum


def test_a_write_that_fails_leaves_nothing_and_an_existing_file_is_kept(tmp_path):
    target = tmp_path / "out.txt"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("killed mid-way")
    assert list(tmp_path.iterdir()) == []
    atomic_write(target, lambda tmp: tmp.write_text("first"))
    with pytest.raises(OutputExistsError, match="overwrite=True"):
        atomic_write(target, lambda tmp: tmp.write_text("second"))
    atomic_write(target, lambda tmp: tmp.write_text("second"), overwrite=True)
    assert target.read_text() == "second" and sorted(p.name for p in tmp_path.iterdir()) == ["out.txt"]


def test_paths_that_cannot_be_written_are_named(tmp_path):
    (tmp_path / "file").write_text("x")
    with pytest.raises(OutputPathError, match="is a file, not a folder"):
        check_writable(tmp_path / "file" / "out.fits")
    with pytest.raises(OutputPathError, match="is a folder"):
        check_writable(tmp_path)


def test_checksums_and_the_data_folder(tmp_path, monkeypatch):
    (tmp_path / "blob").write_bytes(b"asteris" * 1000)
    assert sha256sum(tmp_path / "blob", chunk=64) == hashlib.sha256(b"asteris" * 1000).hexdigest()
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
    assert data_dir() == tmp_path / "data"


def test_a_lock_is_held_by_one_holder_at_a_time(tmp_path):
    lock = tmp_path / "folder" / ".lock"
    with exclusive_lock(lock) as held:
        assert held and lock.exists()
        with pytest.raises(BlockingIOError), exclusive_lock(lock, wait=False):
            pass
    with exclusive_lock(lock, wait=False) as held:  # released when its block ends
        assert held
