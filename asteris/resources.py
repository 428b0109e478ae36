"""Files of the repository that the package reads: committed results, the reference model, manifests.

They live where the repository keeps them (``benchmarks/results/``,
``benchmarks/reference/``, ``data_manifests/``) and are named by their
repository path. A built wheel carries a copy of each under
``asteris/_shipped/<repository path>`` (``setup.py`` copies `SHIPPED` there),
so that an installed package, a lone notebook on Colab for example, reads the
same files as a source checkout. This module imports nothing but the standard
library: ``setup.py`` loads it by path at build time.

>>> shipped_file("benchmarks/results/mock_calibration.json").name
'mock_calibration.json'
"""

from __future__ import annotations

import glob
import os
from pathlib import Path

__all__ = ["SHIPPED", "shipped_file", "shipped_folder", "shipped_files", "ShippedFileError"]

#: Repository paths (globs) that every installation of the package carries.
SHIPPED = (
    "benchmarks/results/*.json",
    "benchmarks/reference/asteris_tiny_f200w.*",  # the reference model of the book's ci mode
    "benchmarks/reference/chapters/*",  # the models ci-mode chapters load instead of training them
    "data_manifests/*.yaml",
)

#: Where a built wheel keeps them, and the root of a source checkout.
PACKAGED_ROOT = Path(__file__).resolve().parent / "_shipped"
CHECKOUT_ROOT = Path(__file__).resolve().parent.parent


class ShippedFileError(FileNotFoundError):
    """A file the package reads is in neither the installed package nor a source checkout."""


def _find(repository_path: str, exists) -> Path | None:
    """The installed copy of ``repository_path``, else the checkout's, if ``exists`` says it is there."""
    for root in (PACKAGED_ROOT, CHECKOUT_ROOT):
        if exists(root / repository_path):
            return root / repository_path
    return None


def shipped_files(root: str | os.PathLike = CHECKOUT_ROOT) -> list[str]:
    """Repository paths of the files of `SHIPPED` found under ``root``, sorted."""
    root = Path(root)
    found = {Path(p).relative_to(root).as_posix() for g in SHIPPED for p in glob.glob(str(root / g))}
    return sorted(found)


def shipped_file(repository_path: str) -> Path:
    """The file at ``repository_path``: the installed copy, else the source checkout's.

    Raises
    ------
    ShippedFileError
        If neither has it (a file outside `SHIPPED`, or a damaged installation).
    """
    found = _find(repository_path, Path.is_file)
    if found is not None:
        return found
    raise ShippedFileError(
        f"{repository_path} is not installed with asteris and there is no source checkout around it; "
        "reinstall asteris (pip install --force-reinstall asteris) or work in a clone of the repository"
    )


def shipped_folder(repository_path: str) -> Path:
    """The folder at ``repository_path``: the installed copy, else the source checkout's."""
    found = _find(repository_path, Path.is_dir)
    if found is not None:
        return found
    raise ShippedFileError(f"{repository_path}/ is neither installed with asteris nor in a source checkout")
