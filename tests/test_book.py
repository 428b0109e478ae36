import pytest

from asteris import book
from asteris.archive import ArchiveUnreachableError
from asteris.errors import ConfigError


def test_mode_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(book.MODE_ENV, raising=False)
    assert book.book_mode() == "ci"
    monkeypatch.setenv(book.MODE_ENV, "FULL")
    assert book.book_mode() == "full" and book.book_mode("ci") == "ci"
    with pytest.raises(ConfigError, match="unknown book mode"):
        book.book_mode("fast")


def test_presets_of_each_mode():
    assert book.training_preset("ci").f_maps == 8
    paper = book.training_preset("full")
    assert paper.f_maps == 24 and paper.patch_size == 128


def test_full_mode_offline_stops_at_once_and_says_what_to_do(monkeypatch, tmp_path):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))

    def offline(host, **kwargs):
        raise ArchiveUnreachableError(f"{host} cannot be reached; run where the archive is reachable")

    monkeypatch.setattr("asteris.archive.check_online", offline)
    with pytest.raises(ArchiveUnreachableError, match="cannot be reached"):
        book.chapter_stack("full")
    with pytest.raises(ArchiveUnreachableError, match="cannot be reached"):
        book.chapter_field("full")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing half-downloaded
