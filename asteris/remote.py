"""Plain HTTP(S) with the standard library: reachability, JSON, and resumable verified downloads.

The core uses it for the published weights, so that ``pip install asteris``
fetches them without the ``archive`` extra. A download goes to ``NAME.part``
beside its destination, resumes with an HTTP Range request after an
interruption, and is renamed into place only once its size and checksum match.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import os
import socket
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from tqdm.auto import tqdm

from .errors import ArchiveUnreachableError, DownloadError

__all__ = ["check_online", "check_url_online", "get_json", "download", "file_digest"]

CHUNK = 1 << 20


def check_online(host: str, *, port: int = 443, timeout: float = 5.0, advice: str) -> None:
    """Raise `ArchiveUnreachableError` (with ``advice``) unless ``host:port`` answers within ``timeout``."""
    try:
        socket.create_connection((host, port), timeout=timeout).close()
    except OSError as exc:
        raise ArchiveUnreachableError(f"{host} cannot be reached ({exc}); {advice}") from None


def check_url_online(url: str, *, advice: str, timeout: float = 5.0) -> None:
    """`check_online` for the host and port of ``url``."""
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    check_online(parts.hostname or "", port=port, timeout=timeout, advice=advice)


def get_json(url: str, *, timeout: float = 30.0) -> dict:
    """GET ``url`` and decode its JSON body; `DownloadError` on an HTTP error."""
    try:
        with urllib.request.urlopen(_request(url), timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, ValueError) as exc:
        raise DownloadError(f"could not read {url} ({exc})") from None


def file_digest(path: str | os.PathLike, algorithm: str = "md5") -> str:
    """Hex digest of a file, read in chunks."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(
    url: str,
    path: str | os.PathLike,
    *,
    size: int,
    md5: str,
    progress: bool = True,
    attempts: int = 3,
    timeout: float = 60.0,
) -> Path:
    """Fetch ``url`` into ``path`` via ``path.part``: resume, verify size and MD5, then rename.

    A short ``.part`` left by an interrupted run is resumed; a complete one that
    fails the checksum is discarded and fetched again, up to ``attempts`` times.
    """
    path = Path(path)
    part = path.with_name(path.name + ".part")
    problem = "not attempted"
    for _ in range(attempts):
        try:
            _fetch_into(url, part, size=size, progress=progress, timeout=timeout)
        except (urllib.error.URLError, OSError, http.client.HTTPException) as exc:
            problem = f"{type(exc).__name__}: {exc}"
            continue
        problem = _mismatch(part, size, md5)
        if problem is None:
            os.replace(part, path)
            return path
        if part.stat().st_size >= size:
            part.unlink()  # complete but corrupt, or too long: start again; a short file resumes
    raise DownloadError(f"{path.name} could not be fetched intact from {url} ({problem}); run it again")


def _request(url: str, headers: dict | None = None) -> urllib.request.Request:
    return urllib.request.Request(url, headers={"User-Agent": "asteris", **(headers or {})})


def _fetch_into(url: str, part: Path, *, size: int, progress: bool, timeout: float) -> None:
    have = part.stat().st_size if part.exists() else 0
    if have >= size:
        return
    request = _request(url, {"Range": f"bytes={have}-"} if have else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = response.status == 206
        with open(part, "ab" if resumed else "wb") as out, tqdm(
            total=size, initial=have if resumed else 0, unit="B", unit_scale=True, desc=part.stem,
            disable=not progress,
        ) as bar:  # fmt: skip
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                bar.update(len(block))


def _mismatch(path: Path, size: int, md5: str) -> str | None:
    got = path.stat().st_size
    if got != size:
        return f"{got} bytes, expected {size}"
    digest = file_digest(path)
    return None if digest == md5 else f"MD5 mismatch: {digest}, expected {md5}"
