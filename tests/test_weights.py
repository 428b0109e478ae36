"""Published weights by name, against a local stand-in for Zenodo's records API.

The stand-in (`standins.ZenodoStandin`) answers on 127.0.0.1 in the wire format of
``GET /api/records/ID`` (``files`` entries with ``key``, ``size``, ``checksum: "md5:..."`` and
``links.self`` ending in ``/content``) and serves the files with HTTP Range
support; it can drop a connection half-way or serve corrupt bytes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import time

import numpy as np
import pytest
from standins import ZenodoStandin

from asteris import build_network, denoise, load_model, save_checkpoint, weights
from asteris.cli import main
from asteris.errors import ArchiveUnreachableError, CheckpointError, DownloadError


def tiny_checkpoint_bytes(tmp_path, frames: int, seed: int) -> bytes:
    import torch

    torch.manual_seed(seed)
    blocks = [1, 1, 1, 1] if frames == 8 else [1, 1, 1]
    net = build_network(frames=frames, f_maps=8, num_blocks=blocks, num_refinement_blocks=1)
    return save_checkpoint(tmp_path / f"seed{seed}.pt", net).read_bytes()


@pytest.fixture
def zenodo(tmp_path, monkeypatch):
    """The stand-in with two 8-frame models and one 4-frame model; its API URL is set."""
    with ZenodoStandin() as server:
        files = server.state.files
        files["ASTERIS8_nrclong.pth"] = tiny_checkpoint_bytes(tmp_path, 8, 1)
        files["ASTERIS8_nrcshort.pth"] = tiny_checkpoint_bytes(tmp_path, 8, 2)
        files["ASTERIS4_nrclong.pth"] = tiny_checkpoint_bytes(tmp_path, 4, 3)
        monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "data"))
        monkeypatch.setenv(weights.API_ENV, server.api)
        yield server


def test_the_record_is_listed_and_cached(zenodo):
    listed = weights.list_weights()
    assert [w.name for w in listed] == ["ASTERIS4_nrclong", "ASTERIS8_nrclong", "ASTERIS8_nrcshort"]
    long8 = listed[1]
    assert long8.size == len(zenodo.state.files["ASTERIS8_nrclong.pth"]) and len(long8.md5) == 32
    zenodo.__exit__(None, None, None)  # offline from here: the cached list still answers
    assert [w.name for w in weights.list_weights()] == [w.name for w in listed]


def test_a_name_is_checked_against_the_cached_record_only(zenodo, monkeypatch):
    weights.check_weights_name("ASTERIS8_nrcshort")  # no list cached: nothing to check, nothing asked
    assert zenodo.log == []
    weights.list_weights()
    weights.check_weights_name("ASTERIS8_nrclong")
    monkeypatch.setenv(weights.API_ENV, "http://127.0.0.1:9/api")  # the cached list is read, not Zenodo
    with pytest.raises(
        CheckpointError, match="'ASTERIS9_x' is neither a checkpoint file nor published weights"
    ):
        weights.check_weights_name("ASTERIS9_x")


def test_a_name_downloads_once_verified_and_loads(zenodo):
    path = weights.download_weights("ASTERIS8_nrclong", progress=False)
    assert path.read_bytes() == zenodo.state.files["ASTERIS8_nrclong.pth"]
    requests = len(zenodo.log)
    model = load_model("ASTERIS8_nrclong")  # by name: no second download
    assert len(zenodo.log) == requests and model.config.frames == 8
    assert model.provenance["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest()
    stack = np.random.default_rng(0).normal(10, 1, (16, 32, 32)).astype(np.float32)
    by_name = denoise(stack, model="ASTERIS4_nrclong", progress=False)
    assert by_name.image.shape == (32, 32) and np.isfinite(by_name.image).all()


def test_an_interrupted_download_resumes_with_a_range_request(zenodo):
    zenodo.state.drop_first.add("ASTERIS8_nrcshort.pth")
    path = weights.download_weights("ASTERIS8_nrcshort", progress=False)
    assert path.read_bytes() == zenodo.state.files["ASTERIS8_nrcshort.pth"]
    ranges = [r for p, r in zenodo.log if p.endswith("ASTERIS8_nrcshort.pth/content")]
    assert ranges[0] is None and ranges[1] is not None and ranges[1].startswith("bytes=")
    assert int(ranges[1][len("bytes=") : -1]) > 0  # it asked for the rest, not the whole file
    assert not list(path.parent.glob("*.part"))


def test_a_corrupt_download_is_refused_and_nothing_is_kept(zenodo):
    good = zenodo.state.files["ASTERIS8_nrclong.pth"]
    zenodo.state.served["ASTERIS8_nrclong.pth"] = good[:100] + bytes(10) + good[110:]
    with pytest.raises(DownloadError, match="MD5 mismatch"):
        weights.download_weights("ASTERIS8_nrclong", progress=False)
    assert not [p for p in weights.weights_dir().iterdir() if p.suffix in (".pth", ".part")]


def test_an_unknown_name_lists_the_published_ones(zenodo):
    with pytest.raises(CheckpointError, match="ASTERIS8_nrclong"):
        load_model("ASTERIS9_nircam")


def test_offline_a_name_fails_at_once_with_what_to_do(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv(weights.API_ENV, "http://127.0.0.1:9/api")  # discard port: nothing listens
    start = time.monotonic()
    with pytest.raises(ArchiveUnreachableError, match="doi.org/10.5281/zenodo.17114980"):
        load_model("ASTERIS8_nrclong")
    assert time.monotonic() - start < 10
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        assert main(["weights", "download", "ASTERIS8_nrclong"]) == 2
    assert len(err.getvalue().strip().splitlines()) == 1 and "cannot be reached" in err.getvalue()
    assert not list(tmp_path.rglob("*.p*"))


def test_the_command_line_lists_and_downloads(zenodo):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["weights", "list"]) == 0
        assert main(["weights", "download", "ASTERIS8_nrcshort", "--quiet"]) == 0
        assert main(["weights", "list"]) == 0
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("ASTERIS4_nrclong") and lines[2].endswith("not downloaded")
    assert "ASTERIS8_nrcshort: " in lines[3] and lines[-1].endswith(" downloaded")
