"""The committed reference models: ASTERIS weights trained to a plateau on mock fields that no
chapter or benchmark evaluates on (``benchmarks/train_reference.py``), found, checked and reproduced.

Each model is three files in ``benchmarks/reference/`` of the repository (an installed package
carries the book's ``tiny`` model, `asteris.resources`):
``<name>.pt`` (the weights, published checkpoint layout), ``<name>.json``
(configuration, fields, command, machine, validation losses, SHA-256 and a
stored output, `check_output`) and ``<name>.metrics.jsonl`` (the training log).

Its subfolder ``chapters/`` keeps, in the same three files, the models that a
chapter's ``ci`` mode would otherwise train for minutes on its own stack
(`committed_run`, ``benchmarks/train_chapter_models.py``): their record also
holds the shape and pixel statistics of the stack they were trained on.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import CheckpointError
from ..resources import shipped_folder

__all__ = ["reference_dir", "reference_name", "reference_record", "reference_weights", "check_output",
           "stack_fingerprint", "committed_run"]


def reference_dir() -> Path:
    """The folder of the committed reference models (``benchmarks/reference``, written by
    ``benchmarks/train_reference.py``): the installed copy, else the source checkout's."""
    return shipped_folder("benchmarks/reference")


def reference_name(preset: str, band: str) -> str:
    """File stem of a reference model: ``asteris_<preset>_<band>``.

    >>> reference_name("small", "F200W")
    'asteris_small_f200w'
    """
    return f"asteris_{preset}_{band.lower()}"


def reference_record(
    preset: str = "tiny", band: str = "F200W", *, folder: str | os.PathLike | None = None
) -> dict:
    """The record of a reference model (``<name>.json``): its configuration, training fields, steps,
    validation losses, command, machine, SHA-256 and stored output."""
    import json

    record = _reference_path(preset, band, folder, ".json")
    if not record.exists():
        raise CheckpointError(
            f"no reference model {record.stem} in {record.parent}: an installed asteris carries the "
            f"book's {reference_name('tiny', 'F200W')}, a clone of the repository all of them; or train it "
            f"with python benchmarks/train_reference.py --preset {preset} --band {band}"
        )
    return json.loads(record.read_text())


def _reference_path(preset: str, band: str, folder: str | os.PathLike | None, suffix: str) -> Path:
    return Path(folder if folder is not None else reference_dir()) / f"{reference_name(preset, band)}{suffix}"


def reference_weights(
    preset: str = "tiny", band: str = "F200W", *, folder: str | os.PathLike | None = None
) -> Path:
    """The committed reference weights of ``preset`` and ``band``, checked against their record.

    The record (``<name>.json`` beside the weights) holds the SHA-256 the
    weights must match, their training configuration, log and command.

    Raises
    ------
    CheckpointError
        If the weights or their record are missing (an installation without
        the repository's ``benchmarks`` folder) or the weights do not match.
    """
    from ..fileio import sha256sum

    expected = reference_record(preset, band, folder=folder)["sha256"]
    weights = _reference_path(preset, band, folder, ".pt")
    if not weights.exists() or sha256sum(weights) != expected:
        problem = "does not match the SHA-256 of its record" if weights.exists() else "is missing"
        raise CheckpointError(
            f"{weights.name} in {weights.parent} {problem}; restore it (git checkout {weights.name}) "
            "or retrain it with the record's command"
        )
    return weights


#: The fixed input of `check_output`: its shape and seed.
CHECK_SHAPE, CHECK_SEED = (8, 64, 64), 2026


def check_output(weights: str | os.PathLike) -> dict:
    """A small output of ``weights`` that CI reproduces without retraining.

    The input is fixed: 8 frames of 64 x 64 px, white noise of unit sigma on a
    level of 100 (seed `CHECK_SEED`) with one Gaussian source of peak 20 and
    sigma 1.5 px in the middle. Returns the denoised image's mean, standard
    deviation and 8 x 8 block means.
    """
    from ..denoise import denoise

    rng = np.random.default_rng(CHECK_SEED)
    frames = rng.normal(100.0, 1.0, CHECK_SHAPE).astype(np.float32)
    yy, xx = np.mgrid[: CHECK_SHAPE[1], : CHECK_SHAPE[2]]
    centre = CHECK_SHAPE[1] / 2
    frames += (20.0 * np.exp(-((yy - centre) ** 2 + (xx - centre) ** 2) / (2 * 1.5**2))).astype(np.float32)
    image = denoise(frames, model=weights, progress=False).image.astype(np.float64)
    side = image.shape[0] // 8
    blocks = image[: 8 * side, : 8 * side].reshape(8, side, 8, side).mean(axis=(1, 3))
    return {"shape": list(image.shape), "mean": float(image.mean()), "std": float(image.std()),
            "block_means": np.round(blocks, 6).tolist()}  # fmt: skip


def stack_fingerprint(stack) -> dict:
    """Shape and pixel statistics of a stack (float64 sums): what a committed chapter model was
    trained on, compared within a relative 1e-6, as the same mock drawn on another CPU may
    differ in its last bits."""
    from ..stack import Stack

    data = np.asarray(stack.data if isinstance(stack, Stack) else stack, dtype=np.float64)
    finite = data[np.isfinite(data)]
    return {"shape": list(data.shape), "finite": int(finite.size), "mean": float(finite.mean()),
            "std": float(finite.std()), "median": float(np.median(finite))}  # fmt: skip


def _same_stack(fingerprint: dict, recorded: dict) -> bool:
    numbers = ("mean", "std", "median")
    same_pixels = np.allclose([fingerprint[k] for k in numbers], [recorded[k] for k in numbers], rtol=1e-6)
    same_size = fingerprint["shape"] == recorded["shape"] and fingerprint["finite"] == recorded["finite"]
    return same_size and same_pixels


def committed_run(name: str, stack, *, folder: str | os.PathLike | None = None):
    """The committed training run ``name`` (``benchmarks/train_chapter_models.py``), trained on ``stack``.

    Returns a `~asteris.training.TrainResult` like `asteris.train`'s: the model, its steps and
    validation losses, and a run folder in the data folder holding its weights (``model_path``).

    Raises
    ------
    CheckpointError
        If the weights are missing or do not match their record, or the record says they were
        trained on another stack than ``stack`` (`stack_fingerprint`; retrain with the record's command).
    """
    import json
    import shutil

    from ..checkpoint import load_model
    from ..fileio import atomic_write, data_dir, sha256sum
    from ..training import FINAL, TrainResult

    record_path = Path(folder if folder is not None else reference_dir() / "chapters") / f"{name}.json"
    if not record_path.exists():
        raise CheckpointError(f"no committed run {name} in {record_path.parent}: train it with "
                              "python benchmarks/train_chapter_models.py")  # fmt: skip
    record = json.loads(record_path.read_text())
    weights = record_path.with_suffix(".pt")
    if not weights.exists() or sha256sum(weights) != record["sha256"]:
        raise CheckpointError(f"{weights.name} is missing or does not match its record; restore it (git "
                              f"checkout {weights.name}) or retrain it: {record['command']}")  # fmt: skip
    if not _same_stack(stack_fingerprint(stack), record["stack_fingerprint"]):
        raise CheckpointError(f"{name} was trained on another stack than this (has the mock changed?); "
                              f"retrain it: {record['command']}")  # fmt: skip
    run_dir = Path(data_dir()) / "book_runs" / f"{name}-{record['sha256'][:10]}"
    if not (run_dir / FINAL).exists():
        atomic_write(run_dir / FINAL, lambda tmp: shutil.copyfile(weights, tmp), overwrite=True)
    history = [{"step": step, "val_loss": loss} for step, loss in record["validation"]]
    return TrainResult(load_model(run_dir / FINAL), run_dir, record["steps"], history)
