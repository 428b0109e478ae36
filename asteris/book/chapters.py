"""What the book's chapters share: the run mode, and each mode's data and training preset.

Every chapter runs in one of two modes, chosen by its ``MODE`` parameter
(a papermill ``parameters`` cell) or the ``ASTERIS_BOOK_MODE`` environment
variable:

- ``ci`` (the default): the embedded mock field, the committed ``tiny``
  reference model fine-tuned briefly on the chapter's stack, CPU, a few
  minutes per chapter, the same outputs every run (CI compares them). Its
  exposures are detector-frame ``_cal``-like files drizzled by the same
  `asteris.archive.align` call as ``full`` mode's archive files;
- ``full``: archive data from the chapter's manifest, published-size models,
  a GPU when there is one. Without network it stops at once and says so.
  Its rehearsal (``$ASTERIS_BOOK_REHEARSAL=1``, `rehearsing`) runs the same road
  at a size a CPU does in seconds: whatever archive is configured (the tests'
  local stand-ins), the published weights' architecture replaced by the
  ``tiny`` one, a few fine-tuning steps and the smallest injection counts
  (`chapter_budget`).

>>> book_mode("ci")
'ci'
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch
from astropy.table import QTable

from ..config import TrainConfig
from ..errors import ConfigError
from ..stack import Stack
from ..training import TrainResult, train
from ..weights import download_weights
from .reference import reference_weights

__all__ = [
    "MODE_ENV",
    "MODES",
    "REHEARSAL_ENV",
    "REHEARSAL_STEPS",
    "rehearsing",
    "chapter_budget",
    "committed_result",
    "HIGH_Z_BANDS",
    "book_mode",
    "chapter_stack",
    "chapter_field",
    "chapter_run",
    "chapter_method",
    "published_weights_for",
    "FINE_TUNE_STEPS",
    "CI_FINE_TUNE_STEPS",
    "CI_REFERENCE",
    "training_preset",
]

MODE_ENV = "ASTERIS_BOOK_MODE"
MODES = ("ci", "full")


def book_mode(mode: str | None = None) -> str:
    """``mode`` if given, else ``$ASTERIS_BOOK_MODE``, else ``"ci"``; anything else is refused."""
    mode = (mode or os.environ.get(MODE_ENV) or "ci").lower()
    if mode not in MODES:
        raise ConfigError(f"unknown book mode {mode!r}; choose one of {list(MODES)} (or set ${MODE_ENV})")
    return mode


REHEARSAL_ENV = "ASTERIS_BOOK_REHEARSAL"
#: Fine-tuning steps of a rehearsal of ``full`` mode (and training steps of a model trained from scratch).
REHEARSAL_STEPS = 3


def rehearsing() -> bool:
    """True when ``$ASTERIS_BOOK_REHEARSAL`` is set (not to ``0``): ``full`` mode at rehearsal size."""
    return os.environ.get(REHEARSAL_ENV, "0") not in ("", "0")


def chapter_budget(mode: str, *, ci, full, rehearsal):
    """A chapter's sizes (injection counts and the like) in ``mode``: ``ci`` in ``ci`` mode, ``full``
    in ``full`` mode, ``rehearsal`` in a rehearsal of ``full`` mode (`rehearsing`).

    >>> chapter_budget("ci", ci=(2, 150), full=(4, 200), rehearsal=(1, 10))
    (2, 150)
    """
    if book_mode(mode) == "ci":
        return ci
    return rehearsal if rehearsing() else full


def committed_result(name: str) -> dict:
    """The committed benchmark result ``benchmarks/results/<name>.json`` (installed with the package).

    >>> committed_result("mock_calibration")["mock_version"] >= 3
    True
    """
    import json

    from ..resources import shipped_file

    return json.loads(shipped_file(f"benchmarks/results/{name}.json").read_text())


def chapter_stack(
    mode: str,
    *,
    instrument: str = "nircam",
    band: str = "F200W",
    manifest: str = "jades_1210_nircam",
    detectors: list[str] | None = None,
) -> tuple[Stack, np.ndarray | None]:
    """The stack a chapter works on, and its noiseless truth where there is one.

    ``ci``: the band of the embedded mock field of ``instrument`` (with its truth),
    its exposures aligned by `asteris.archive.align` (NIRCam) or stacked as warps (HSC).
    ``full``: the manifest's exposures fetched from the archive (resumable,
    checksum-verified, cached in the data folder): for a MAST manifest those of
    ``band`` (and ``detectors``; by default the manifest's, of which a band has
    either the short- or the long-wave ones) drizzled onto one grid and kept
    there (`~asteris.archive.aligned_band_stacks`), for an
    HSC-SSP manifest its warps, stacked; no truth. Offline,
    `~asteris.archive.download.ArchiveUnreachableError` says what to do.
    """
    from ..fileio import data_dir
    from ..mock.datasets import mock_field

    if book_mode(mode) == "ci":
        field = mock_field(instrument, progress=False)
        return field.bands[band].stack, field.bands[band].truth
    from ..archive import aligned_band_stacks, fetch, load_manifest, stack_warps

    dest = Path(data_dir()) / manifest
    products = load_manifest(manifest)
    if products.archive == "hsc":
        table = fetch(products, dest)
        return stack_warps([dest / name for name in table["filename"]]), None
    table = fetch(products, dest, filters=[band], detectors=detectors)
    if not len(table):
        wanted = detectors or products.query.get("detectors")
        raise ConfigError(f"the manifest {manifest} has no {band} exposures of detectors {wanted}; choose "
                          f"one of its filters {products.query.get('filters')}")  # fmt: skip
    files = {band: [dest / name for name in table["filename"]]}  # kept aligned: chapter 3 reads chapter 2's
    return aligned_band_stacks(files, cache=dest / "aligned", shared_only=False)[band], None


#: The bands of the z > 8.5 chapters (F410M is left out: the published searches use the broad bands).
HIGH_Z_BANDS = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")


def chapter_field(
    mode: str,
    *,
    bands: tuple[str, ...] = HIGH_Z_BANDS,
    manifest: str = "jades_1210_nircam",
    detectors: list[str] | None = None,
) -> tuple[dict[str, Stack], dict, QTable | None]:
    """Stacks of several bands on one grid, each band's renderer, and the truth catalogue.

    ``ci``: the z > 8.5 mock field (`asteris.mock.datasets.high_z_field`) with its
    truth catalogue. ``full``: every band of the manifest fetched (resumable,
    checksum-verified) and drizzled onto one grid covering all their
    exposures; no truth. Offline, `~asteris.archive.download.ArchiveUnreachableError`
    says what to do.
    """
    from ..mock.datasets import high_z_field
    from ..science.injection import SourceRenderer

    if book_mode(mode) == "ci":
        field = high_z_field(progress=False)
        stacks = {b: field.bands[b].stack for b in bands}
        return stacks, {b: SourceRenderer.for_mock(field, b) for b in bands}, field.catalog
    from ..archive import band_stacks

    stacks = band_stacks(manifest, bands=bands, detectors=detectors)
    return stacks, {b: SourceRenderer.for_stack(s) for b, s in stacks.items()}, None


def chapter_run(stack: Stack, mode: str, *, name: str) -> TrainResult:
    """A model for ``stack`` with the mode's preset, shared between chapters.

    Both modes follow the paper's pretrain-then-apply workflow: trained
    weights fine-tuned on the stack for a bounded number of steps.
    ``ci``: the committed reference model `CI_REFERENCE` (`reference_weights`,
    trained to a plateau on mock fields no chapter uses) for
    `CI_FINE_TUNE_STEPS` steps. ``full``: the published weights of the stack's
    detector class (`published_weights_for`, downloaded once by name) for at
    most `FINE_TUNE_STEPS` steps.

    The run lives in ``<data folder>/book_runs/<name>-<mode>-<key>``, the key
    a hash of the training configuration, the starting weights and the
    stack's pixels. The first call trains it (resuming an interrupted run from
    its last checkpoint); later calls, from any chapter, return the finished
    run (its model and history) without training again; a chapter running at
    the same time waits for the first to finish it. Training is seeded, so
    either way the model is the same.
    """
    import hashlib
    import json

    from ..fileio import data_dir, exclusive_lock, sha256sum

    config = training_preset(mode)
    if book_mode(mode) == "ci":
        init_from = reference_weights(*CI_REFERENCE)
        start = sha256sum(init_from)
    else:
        start = published_weights_for(stack)
        init_from = download_weights(start)
    digest = hashlib.sha256(json.dumps([config.to_dict(), start], sort_keys=True).encode())
    digest.update(
        np.ascontiguousarray(stack.data if isinstance(stack, Stack) else np.asarray(stack)).tobytes()
    )
    run_dir = Path(data_dir()) / "book_runs" / f"{name}-{book_mode(mode)}-{digest.hexdigest()[:10]}"
    with exclusive_lock(run_dir.with_name(f".{run_dir.name}.lock")):  # two chapters at once: one trains
        resume = (run_dir / "checkpoint_last.pt").exists()
        return train(stack, run_dir=run_dir, config=config, resume=resume, overwrite=not resume,
                     progress=False, init_from=init_from)  # fmt: skip


def chapter_method(run: TrainResult):
    """The ASTERIS method of a chapter: ``run``'s model denoising a stack, each image kept by content.

    A `~asteris.science.methods.asteris_method` whose outputs are stored in
    ``<data folder>/book_denoised/`` under a hash of the model's weights and the
    stack's pixels, so that a chapter denoising what an earlier chapter
    denoised (chapter 6 the bands of chapter 5) reads the image instead of
    computing it again. The same model and pixels give the same image, so
    nothing a chapter shows depends on which chapter ran first.
    """
    import hashlib

    from ..fileio import atomic_write, data_dir
    from ..science.methods import asteris_method

    method = asteris_method(run.model)
    weights = hashlib.sha256()
    for name, tensor in sorted(run.model.state_dict().items()):
        weights.update(name.encode() + tensor.detach().cpu().contiguous().numpy().tobytes())
    folder = Path(data_dir()) / "book_denoised"

    def denoised(stack: Stack) -> np.ndarray:
        key = weights.copy()
        key.update(str(stack.data.shape).encode() + np.ascontiguousarray(stack.data).tobytes())
        path = folder / f"{key.hexdigest()[:24]}.npy"
        if path.exists():
            return np.load(path)
        image = method(stack)

        def write(tmp: Path) -> None:
            with open(tmp, "wb") as f:  # a file object: np.save would add ".npy" to a path
                np.save(f, image)

        atomic_write(path, write, overwrite=True)
        return image

    return denoised


#: The reference model ``ci`` mode starts from: (preset, band).
CI_REFERENCE = ("tiny", "F200W")
#: Fine-tuning the reference model on a chapter's stack (``ci`` mode) stops after this many steps.
CI_FINE_TUNE_STEPS = 100

#: Fine-tuning the published weights on a chapter's stack (``full`` mode) stops after this many steps.
FINE_TUNE_STEPS = 300


def published_weights_for(stack: Stack) -> str:
    """``ASTERIS8_nrclong`` for a long-wave NIRCam stack (F250M and redder), else ``ASTERIS8_nrcshort``."""
    header = stack.header if isinstance(stack, Stack) else {}
    band = str(header.get("FILTER", "")).upper()
    wavelength = int(band[1:4]) if band[:1] == "F" and band[1:4].isdigit() else 0
    return "ASTERIS8_nrclong" if wavelength >= 250 else "ASTERIS8_nrcshort"


def training_preset(mode: str, *, from_scratch: bool = False) -> TrainConfig:
    """The fine-tuning configuration of each mode: in ``ci`` mode the ``tiny`` sizes for
    `CI_FINE_TUNE_STEPS` steps at a tenth of the preset's learning rate; in ``full`` mode the
    published sizes, for at most `FINE_TUNE_STEPS` steps at a tenth of the paper's learning
    rate (bf16 autocast on a CUDA GPU). ``from_scratch``: the whole preset instead (``tiny``,
    or ``paper``), for a model trained from random weights. A rehearsal of ``full`` mode
    (`rehearsing`) takes the ``tiny`` sizes for `REHEARSAL_STEPS` steps either way."""
    ci = book_mode(mode) == "ci"
    if not ci and rehearsing():
        return TrainConfig.preset("tiny", epochs=1, max_steps_per_epoch=REHEARSAL_STEPS, checkpoint_every=1)
    preset = TrainConfig.preset("tiny") if ci else TrainConfig.preset("paper", bf16=torch.cuda.is_available())
    if from_scratch:
        return preset
    return preset.fine_tuning(CI_FINE_TUNE_STEPS if ci else FINE_TUNE_STEPS)
