"""Safe file output: atomic writes that refuse to overwrite unless asked, and the data folder."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExistsError

__all__ = ["check_writable", "atomic_path", "atomic_write", "sha256sum", "data_dir", "DATA_DIR_ENV"]

DATA_DIR_ENV = "ASTERIS_DATA_DIR"


def data_dir() -> Path:
    """The cache of downloads, mock fields and trained runs.

    ``$ASTERIS_DATA_DIR`` when set, else ``~/.cache/asteris``.
    """
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "asteris").expanduser()


def check_writable(path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Raise `OutputExistsError` if ``path`` exists and ``overwrite`` is false."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    return path


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A crash or an exception leaves ``path`` as it was and removes the temporary file.
    """
    path = check_writable(path, overwrite=overwrite)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes private files; outputs get the usual mode
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def _read_umask() -> int:
    mask = os.umask(0)  # the only way to read it is to set it; done once, at import
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def atomic_write(
    path: str | os.PathLike, write: Callable[[Path], object], *, overwrite: bool = False
) -> Path:
    """Call ``write(tmp_path)`` and atomically move the result to ``path``."""
    with atomic_path(path, overwrite=overwrite) as tmp:
        write(tmp)
    return Path(path)


def sha256sum(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
