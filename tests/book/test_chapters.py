import numpy as np
import pytest

from asteris import book
from asteris.archive.download import ArchiveUnreachableError
from asteris.config import TrainConfig
from asteris.errors import ConfigError


def test_mode_comes_from_the_argument_then_the_environment(monkeypatch):
    monkeypatch.delenv(book.MODE_ENV, raising=False)
    assert book.book_mode() == "ci"
    monkeypatch.setenv(book.MODE_ENV, "FULL")
    assert book.book_mode() == "full" and book.book_mode("ci") == "ci"
    with pytest.raises(ConfigError, match="unknown book mode"):
        book.book_mode("fast")


def test_presets_of_each_mode():
    ci = book.training_preset("ci")
    assert ci.f_maps == 8 and ci.epochs * ci.max_steps_per_epoch == book.CI_FINE_TUNE_STEPS
    assert book.training_preset("ci", from_scratch=True) == TrainConfig.preset("tiny")
    paper = book.training_preset("full")
    assert paper.f_maps == 24 and paper.patch_size == 128
    assert book.training_preset("full", from_scratch=True).epochs == TrainConfig.preset("paper").epochs


def test_ci_chapters_start_from_the_committed_reference_model(monkeypatch, tmp_path):
    import torch

    from asteris import load_model

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    # a step of at most 1e-30 leaves float32 weights unchanged: the run keeps its starting weights
    frozen = TrainConfig.preset("tiny", epochs=1, max_steps_per_epoch=2, patch_size=16, lr=1e-30,
                                lr_min=1e-30, weight_decay=0.0)  # fmt: skip
    monkeypatch.setattr(book.chapters, "training_preset", lambda mode: frozen)
    stack = np.random.default_rng(0).normal(0, 1, (16, 48, 48)).astype(np.float32)
    run = book.chapter_run(stack, "ci", name="test")
    reference = load_model(book.reference_weights(*book.CI_REFERENCE)).state_dict()
    for name, value in run.model.state_dict().items():
        assert torch.equal(value, reference[name]), name


def test_full_mode_offline_stops_at_once_and_says_what_to_do(monkeypatch, tmp_path):
    from astroquery.mast import conf

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    with conf.set_temp("server", "http://127.0.0.1:9"):  # nothing listens there: as offline
        with pytest.raises(ArchiveUnreachableError, match="cannot be reached.*offline"):
            book.chapter_stack("full")
        with pytest.raises(ArchiveUnreachableError, match="cannot be reached.*offline"):
            book.chapter_field("full")
    assert not [p for p in tmp_path.rglob("*") if p.is_file()]  # nothing half-downloaded


def test_chapter_runs_are_trained_once_and_shared(monkeypatch, tmp_path):
    import torch

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    quick = TrainConfig.preset("tiny", epochs=1, max_steps_per_epoch=3, patch_size=16, checkpoint_every=1)
    monkeypatch.setattr(book.chapters, "training_preset", lambda mode: quick)
    stack = np.random.default_rng(0).normal(0, 1, (16, 48, 48)).astype(np.float32)
    first = book.chapter_run(stack, "ci", name="test")
    assert first.model_path.exists() and first.step == 3
    stamp = (first.run_dir / "checkpoint_last.pt").stat().st_mtime_ns
    again = book.chapter_run(stack, "ci", name="test")
    assert again.run_dir == first.run_dir and again.step == 3
    assert (first.run_dir / "checkpoint_last.pt").stat().st_mtime_ns == stamp  # not trained again
    assert [r for r in again.history if "val_loss" in r] == [r for r in first.history if "val_loss" in r]
    for a, b in zip(first.model.state_dict().values(), again.model.state_dict().values()):
        assert torch.equal(a, b)
    other = book.chapter_run(stack[::-1].copy(), "ci", name="test")
    assert other.run_dir != first.run_dir  # another stack, another run


def test_a_chapter_run_waits_while_another_chapter_trains_it(monkeypatch, tmp_path):
    import shutil
    import threading

    from asteris.fileio import exclusive_lock

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    quick = TrainConfig.preset("tiny", epochs=1, max_steps_per_epoch=3, patch_size=16, checkpoint_every=1)
    monkeypatch.setattr(book.chapters, "training_preset", lambda mode: quick)
    stack = np.random.default_rng(0).normal(0, 1, (16, 48, 48)).astype(np.float32)
    first = book.chapter_run(stack, "ci", name="test")  # to learn where the run and its lock are
    lock = first.run_dir.with_name(f".{first.run_dir.name}.lock")
    assert lock.exists()
    runs = tmp_path / "book_runs"
    for path in runs.iterdir():  # as before any chapter trained it, the lock file aside
        if path != lock:
            shutil.rmtree(path)
    done = []
    with exclusive_lock(lock):  # another chapter (a process of its own) training this run
        second = threading.Thread(target=lambda: done.append(book.chapter_run(stack, "ci", name="test")))
        second.start()
        second.join(timeout=3.0)  # the three steps take a fraction of that
        assert second.is_alive() and not first.run_dir.exists()
    second.join()
    assert done[0].run_dir == first.run_dir and done[0].step == 3


def test_full_mode_fine_tunes_the_published_weights_of_the_detector_class():
    from astropy.io import fits

    from asteris import Stack

    cube = np.ones((16, 8, 8), np.float32)
    short = Stack(cube, fits.Header({"FILTER": "F200W"}))
    long = Stack(cube, fits.Header({"FILTER": "F444W"}))
    assert book.published_weights_for(short) == "ASTERIS8_nrcshort"
    assert book.published_weights_for(long) == "ASTERIS8_nrclong"
    full = book.training_preset("full")
    assert full.epochs == 1 and full.max_steps_per_epoch == book.FINE_TUNE_STEPS and full.lr < 1e-4


def test_a_rehearsal_of_full_mode_is_small_and_says_so(monkeypatch):
    monkeypatch.delenv(book.REHEARSAL_ENV, raising=False)
    assert not book.rehearsing()
    assert book.chapter_budget("full", ci=(2, 150), full=(4, 200), rehearsal=(1, 20)) == (4, 200)
    assert book.training_preset("full").f_maps == TrainConfig.preset("paper").f_maps
    monkeypatch.setenv(book.REHEARSAL_ENV, "1")
    assert book.rehearsing()
    assert book.chapter_budget("full", ci=(2, 150), full=(4, 200), rehearsal=(1, 20)) == (1, 20)
    assert book.chapter_budget("ci", ci=(2, 150), full=(4, 200), rehearsal=(1, 20)) == (2, 150)
    for from_scratch in (False, True):
        config = book.training_preset("full", from_scratch=from_scratch)
        assert config.f_maps == TrainConfig.preset("tiny").f_maps
        assert config.epochs * config.max_steps_per_epoch == book.REHEARSAL_STEPS
    monkeypatch.setenv(book.REHEARSAL_ENV, "0")
    assert not book.rehearsing()


def test_committed_results_and_the_reference_model_are_found_as_installed_files():
    from asteris.resources import ShippedFileError, shipped_file, shipped_files

    assert book.committed_result("depth_sweep")["sweep"]["rows"]
    shipped = shipped_files()
    assert "benchmarks/reference/asteris_tiny_f200w.pt" in shipped
    assert "benchmarks/reference/asteris_small_f200w.pt" not in shipped  # a benchmark's, not the book's
    assert "data_manifests/jades_1210_nircam.yaml" in shipped
    with pytest.raises(ShippedFileError, match="reinstall asteris"):
        shipped_file("benchmarks/results/no_such_result.json")


def test_chapter_method_keeps_each_denoised_image_by_content(monkeypatch, tmp_path):
    from types import SimpleNamespace

    import torch

    from asteris import build_network
    from asteris.stack import read_stack

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    torch.manual_seed(0)
    run = SimpleNamespace(model=build_network(8, 4, [1, 1, 1, 1], 1).eval())
    rng = np.random.default_rng(0)
    stack = read_stack(rng.normal(1.0, 0.1, (16, 40, 40)).astype(np.float32))
    method = book.chapter_method(run)
    first = method(stack)
    (kept,) = (tmp_path / "book_denoised").glob("*.npy")
    assert np.array_equal(np.load(kept), first)
    np.save(kept, np.zeros_like(first))  # what is kept is what a later call returns
    assert not book.chapter_method(run)(stack).any()
    other = read_stack(rng.normal(1.0, 0.1, (16, 40, 40)).astype(np.float32))
    assert method(other).any() and len(list((tmp_path / "book_denoised").glob("*.npy"))) == 2
