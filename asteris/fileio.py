"""Safe file output: atomic writes that refuse to overwrite unless asked, and the data folder."""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from .errors import OutputExistsError, OutputPathError

__all__ = [
    "human_size",
    "check_writable",
    "writable_folder",
    "atomic_path",
    "atomic_write",
    "exclusive_lock",
    "sha256sum",
    "data_dir",
    "DATA_DIR_ENV",
]

DATA_DIR_ENV = "ASTERIS_DATA_DIR"


def data_dir() -> Path:
    """The cache of downloads, mock fields and trained runs.

    ``$ASTERIS_DATA_DIR`` when set, else ``~/.cache/asteris``.
    """
    return Path(os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "asteris").expanduser()


def check_writable(path: str | os.PathLike, *, overwrite: bool = False, create_folder: bool = False) -> Path:
    """Check that a file can be written at ``path`` before any work is done.

    Raises `OutputExistsError` if ``path`` exists and ``overwrite`` is false, and
    `OutputPathError` if it is a folder, or if its folder is missing (unless
    ``create_folder``) or cannot be written in.
    """
    path = _refuse_existing(Path(path), overwrite)
    if path.parent.exists() and not path.parent.is_dir():
        raise OutputPathError(f"{path.parent} is a file, not a folder; choose another output path")
    if not path.parent.is_dir() and not create_folder:
        raise OutputPathError(
            f"the folder {path.parent} does not exist; create it first or choose another output path"
        )
    writable_folder(path.parent)
    return path


def writable_folder(folder: str | os.PathLike) -> Path:
    """Create ``folder`` (and its parents) if needed and check that files can be written in it.

    Raises `OutputPathError` naming the folder and the reason otherwise.
    """
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".asteris-write-test.", dir=folder)
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise _cannot_write(folder, exc) from None
    return folder


def _refuse_existing(path: Path, overwrite: bool) -> Path:
    if path.is_dir():
        raise OutputPathError(f"{path} is a folder; give the path of the file to write")
    if path.exists() and not overwrite:
        raise OutputExistsError(f"{path} already exists; pass overwrite=True (--overwrite) to replace it")
    return path


def _cannot_write(folder: Path, exc: OSError) -> OutputPathError:
    if isinstance(exc, FileExistsError):
        return OutputPathError(f"{folder} exists and is not a folder; choose another output folder")
    reason = exc.strerror or exc
    return OutputPathError(f"cannot write in {folder} ({reason}); choose a folder you can write to")


@contextmanager
def atomic_path(path: str | os.PathLike, *, overwrite: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it onto ``path`` on success.

    A crash or an exception leaves ``path`` as it was and removes the temporary file.
    """
    path = _refuse_existing(Path(path), overwrite)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise _cannot_write(path.parent, exc) from None
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


@contextmanager
def exclusive_lock(path: str | os.PathLike, *, wait: bool = True) -> Iterator[bool]:
    """Hold the lock file ``path`` (made if absent) for this process alone while the block runs.

    Another process asking for it waits (``wait=False``: raises `BlockingIOError`). The lock goes
    with its holder, a killed one included, so none is ever left stale. Yields whether the lock is
    held: False where the system has no POSIX file locks, and then nothing is excluded.

    Examples
    --------
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder, exclusive_lock(Path(folder) / ".lock") as held:
    ...     held
    True
    """
    try:
        import fcntl
    except ImportError:  # not POSIX
        yield False
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        yield True


def human_size(n_bytes: int) -> str:
    """A number of bytes as a reader says it.

    >>> human_size(0), human_size(512), human_size(183_000), human_size(1_901_000_000)
    ('0 bytes', '512 bytes', '183 kB', '1.90 GB')
    """
    for unit, size in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n_bytes >= size:
            value = n_bytes / size
            digits = 2 if value < 10 else 1 if value < 100 else 0
            return f"{value:.{digits}f} {unit}"
    return f"{n_bytes} bytes"


def sha256sum(path: str | os.PathLike, *, chunk: int = 1 << 20) -> str:
    """SHA-256 hex digest of a file, read in chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()
