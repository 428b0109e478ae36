"""What the book's chapters share: the run mode, and each mode's data and training preset.

Every chapter runs in one of two modes, chosen by its ``MODE`` parameter
(a papermill ``parameters`` cell) or the ``ASTERIS_BOOK_MODE`` environment
variable:

- ``ci`` (the default): the embedded mock field, ``tiny`` models, CPU, a few
  minutes per chapter, the same outputs every run (CI compares them);
- ``full``: archive data from the chapter's manifest, published-size models,
  a GPU when there is one. Without network it stops at once and says so.

>>> book_mode("ci")
'ci'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from .config import TrainConfig
from .errors import ConfigError
from .stack import Stack

__all__ = ["MODE_ENV", "MODES", "book_mode", "chapter_stack", "training_preset"]

MODE_ENV = "ASTERIS_BOOK_MODE"
MODES = ("ci", "full")


def book_mode(mode: str | None = None) -> str:
    """``mode`` if given, else ``$ASTERIS_BOOK_MODE``, else ``"ci"``; anything else is refused."""
    mode = (mode or os.environ.get(MODE_ENV) or "ci").lower()
    if mode not in MODES:
        raise ConfigError(f"unknown book mode {mode!r}; choose one of {list(MODES)} (or set ${MODE_ENV})")
    return mode


def chapter_stack(
    mode: str,
    *,
    instrument: str = "nircam",
    band: str = "F200W",
    manifest: str = "jades_1210_nircam",
    detectors: list[str] | None = None,
) -> tuple[Stack, np.ndarray | None]:
    """The stack a chapter works on, and its noiseless truth where there is one.

    ``ci``: the band of the embedded mock field of ``instrument`` (with its truth).
    ``full``: the manifest's exposures (of ``band`` and ``detectors`` for MAST
    manifests) fetched from the archive (resumable, checksum-verified, cached in
    the data folder) and resampled onto one grid; no truth. Offline,
    `~asteris.archive.ArchiveUnreachableError` says what to do.
    """
    from .datasets import data_dir, mock_field

    if book_mode(mode) == "ci":
        field = mock_field(instrument, progress=False)
        return field.bands[band].stack, field.bands[band].truth
    from .data import align, fetch, load_manifest

    dest = Path(data_dir()) / manifest
    products = load_manifest(manifest)
    selection = {"filters": [band], "detectors": detectors} if products.archive == "mast" else {}
    table = fetch(products, dest, **selection)
    stack, _ = align([dest / name for name in table["filename"]])
    return stack, None


def training_preset(mode: str) -> TrainConfig:
    """``tiny`` in ``ci`` mode; the published sizes in ``full`` mode (bf16 autocast on a CUDA GPU)."""
    if book_mode(mode) == "ci":
        return TrainConfig.preset("tiny")
    return TrainConfig.preset("paper", bf16=torch.cuda.is_available())
