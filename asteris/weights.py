"""The published ASTERIS weights, by name.

Guo et al. publish their trained networks in Zenodo record
10.5281/zenodo.17114980 (``ASTERIS8_nrcshort``, ``ASTERIS8_nrclong`` and the
4-frame models). `list_weights` reads the record's file list (cached in the
data folder, so that a second call needs no network), `download_weights`
fetches one file once into ``<data folder>/weights/`` (resumable, verified
against the MD5 the record publishes), and `resolve_weights` turns a name into
that path. `asteris.denoise`, `asteris.load_model` and ``--init-from`` accept
the names. Offline, a name that is not downloaded yet fails at once and says
how to get the file by hand.

>>> is_weights_name("ASTERIS8_nrclong"), is_weights_name("runs/field1/model.pt"), is_weights_name("a.pth")
(True, False, False)
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from . import remote
from .errors import ArchiveUnreachableError, CheckpointError, DownloadError
from .fileio import atomic_write, data_dir, writable_folder

__all__ = [
    "RECORD_DOI",
    "PublishedWeights",
    "list_weights",
    "check_weights_name",
    "download_weights",
    "resolve_weights",
    "is_weights_name",
    "weights_dir",
]

RECORD_ID = "17114980"
RECORD_DOI = f"10.5281/zenodo.{RECORD_ID}"
#: The Zenodo REST API root (another one, e.g. a local mirror, can be set here).
API_ENV = "ASTERIS_ZENODO_API"
DEFAULT_API = "https://zenodo.org/api"
WEIGHT_SUFFIXES = (".pth", ".pt")


@dataclass(frozen=True)
class PublishedWeights:
    """One file of the record: its name (the file stem), file name, size, MD5 and download URL."""

    name: str
    filename: str
    size: int
    md5: str
    url: str

    @property
    def path(self) -> Path:
        return weights_dir() / self.filename

    @property
    def downloaded(self) -> bool:
        """The file is in place: verified when it was downloaded, and renamed into place only then."""
        return self.path.exists() and self.path.stat().st_size == self.size


def weights_dir() -> Path:
    """Where published weights are kept: ``<data folder>/weights``."""
    return data_dir() / "weights"


def is_weights_name(model) -> bool:
    """True for a bare name such as ``ASTERIS8_nrclong`` (no folder, no suffix) that is not a file."""
    bare = isinstance(model, str) and re.fullmatch(r"[A-Za-z][\w-]*", model) is not None
    return bare and not Path(model).exists()


def _record_url() -> str:
    return f"{os.environ.get(API_ENV, DEFAULT_API).rstrip('/')}/records/{RECORD_ID}"


def _offline_advice() -> str:
    return (
        f"published weights come from https://doi.org/{RECORD_DOI}; download the .pth file there on a "
        f"machine with internet access and pass its path to --model (or put it in {weights_dir()})"
    )


def _parse_record(record) -> list[PublishedWeights]:
    """The weights a Zenodo record lists; `DownloadError` in one sentence for a record of another shape."""
    files = record.get("files") if isinstance(record, dict) else None
    if not isinstance(files, list) or not all(isinstance(entry, dict) for entry in files):
        raise DownloadError(f"the Zenodo record {RECORD_ID} is not a record with a list of files; report it")
    found = []
    for entry in files:
        filename = entry.get("key") or entry.get("filename")
        if not isinstance(filename, str) or not filename.endswith(WEIGHT_SUFFIXES):
            continue
        found.append(_published(filename, entry))
    return sorted(found, key=lambda w: w.name)


def _published(filename: str, entry: dict) -> PublishedWeights:
    algorithm, _, digest = str(entry.get("checksum", "")).partition(":")
    links = entry.get("links") if isinstance(entry.get("links"), dict) else {}
    url = links.get("content") or links.get("self") or links.get("download")
    size = entry.get("size", entry.get("filesize"))
    if algorithm != "md5" or not isinstance(url, str) or not isinstance(size, int) or size <= 0:
        raise DownloadError(
            f"the record lists {filename} without an MD5 checksum, a link or a size; report it"
        )
    return PublishedWeights(Path(filename).stem, filename, size, digest, url)


def _record_cache() -> Path:
    """Where the record's file list is kept once fetched."""
    return weights_dir() / f"zenodo-{RECORD_ID}.json"


def list_weights(*, refresh: bool = False) -> list[PublishedWeights]:
    """The published weights of the record, from its cached file list or from Zenodo.

    Parameters
    ----------
    refresh : bool
        Ask Zenodo again even when the file list is cached.

    Raises
    ------
    ArchiveUnreachableError
        The list is not cached and Zenodo cannot be reached.
    """
    cache = _record_cache()
    if cache.exists() and not refresh:
        return _parse_record(json.loads(cache.read_text()))
    url = _record_url()
    remote.check_url_online(url, advice=_offline_advice())
    record = remote.get_json(url)
    weights = _parse_record(record)  # refuse a malformed record before caching it
    atomic_write(cache, lambda p: p.write_text(json.dumps(record)), overwrite=True)
    return weights


def check_weights_name(name: str) -> None:
    """Refuse ``name`` (`CheckpointError`, with the published names) where the record's file list is
    cached and does not hold it; without a cached list there is nothing to check offline."""
    if _record_cache().exists():
        _lookup(name)


def _lookup(name: str) -> PublishedWeights:
    try:
        weights = {w.name: w for w in list_weights()}
    except ArchiveUnreachableError as exc:
        raise ArchiveUnreachableError(
            f"{name!r} is no file here, so it was taken for the name of published weights, whose list "
            f"is not cached: {exc}"
        ) from None
    if name not in weights:
        raise CheckpointError(
            f"{name!r} is neither a checkpoint file nor published weights; the record has {sorted(weights)}"
        )
    return weights[name]


def download_weights(name: str, *, progress: bool = True) -> Path:
    """The local path of the published weights ``name``, downloaded and verified on first use."""
    entry = _lookup(name)
    if entry.downloaded:
        return entry.path
    remote.check_url_online(entry.url, advice=_offline_advice())
    writable_folder(weights_dir())
    return remote.download(entry.url, entry.path, size=entry.size, md5=entry.md5, progress=progress)


def resolve_weights(model, *, progress: bool = True):
    """``model`` itself, or the downloaded file when it is the name of published weights."""
    return download_weights(model, progress=progress) if is_weights_name(model) else model
