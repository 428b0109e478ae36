"""Survey-scale denoising: many stacks mapped over a Dask cluster.

Each worker loads the model once and keeps it; failed tasks are retried;
outputs are written atomically and a stack whose output exists is never
recomputed or overwritten, so an interrupted survey run simply resumes.
"""

from __future__ import annotations

import dataclasses
import os
import time
from collections.abc import Sequence
from pathlib import Path

from astropy.table import QTable

from .engine import InferenceOptions
from .fanout import fan_out

__all__ = ["denoise_many", "output_paths"]

#: Models loaded in this (worker) process, by checkpoint path and modification time.
_MODELS: dict = {}


def output_paths(inputs: Sequence[str | os.PathLike], folder: str | os.PathLike) -> list[Path]:
    """``folder/STEM_asteris.fits`` for each input; two inputs may not share a stem."""
    outputs = [Path(folder) / f"{Path(p).name.removesuffix('.fits')}_asteris.fits" for p in inputs]
    if len(set(outputs)) != len(outputs):
        raise ValueError("two inputs have the same file name; give explicit output paths")
    return outputs


def _cached_model(path: str):
    from .checkpoint import load_model

    key = (str(Path(path).resolve()), os.path.getmtime(path))
    if key not in _MODELS:
        _MODELS[key] = load_model(path)
    return _MODELS[key]


def models_loaded() -> int:
    """How many models this process has loaded (asked of each worker by the tests)."""
    return len(_MODELS)


def _denoise_one(source: str, output: str, model_path: str, options: dict) -> tuple[str, float]:
    from .denoise import denoise

    if Path(output).exists():
        return "present", 0.0
    start = time.perf_counter()
    denoise(source, model=_cached_model(model_path), output=output, progress=False, **options)
    return "done", time.perf_counter() - start


def denoise_many(
    inputs: Sequence[str | os.PathLike],
    outputs: Sequence[str | os.PathLike] | str | os.PathLike,
    *,
    model: str | os.PathLike,
    scheduler=None,
    n_workers: int = 2,
    retries: int = 2,
    options: InferenceOptions | None = None,
    **overrides,
) -> QTable:
    """Denoise many stacks on a Dask cluster; return what happened to each.

    Parameters
    ----------
    inputs : sequence of paths
        One FITS cube per stack.
    outputs : sequence of paths, or a folder
        Where each result goes (``folder/STEM_asteris.fits`` for a folder).
    model : path
        A checkpoint; each worker loads it once.
    scheduler : None, ``"local"``, an address, or a `distributed.Client`
        ``None``/``"local"`` starts a `distributed.LocalCluster` of ``n_workers``
        processes; an address such as ``tcp://host:8786`` (e.g. a dask-jobqueue
        SLURM cluster) connects to that scheduler.
    retries : int
        How often a failed stack is tried again before it is reported failed.
    options, **overrides
        As `asteris.denoise` (`~asteris.engine.InferenceOptions`: ``tile_size``, ``batch_size``,
        ``device``, ``bf16``...), checked before any worker starts.

    Returns
    -------
    `~astropy.table.QTable`
        ``input``, ``output``, ``status`` (done, present, failed), ``seconds``, ``error``.
    """
    options = dataclasses.asdict(InferenceOptions.resolve(options, **overrides))
    outs = (
        output_paths(inputs, outputs)
        if isinstance(outputs, (str, os.PathLike))
        else [Path(o) for o in outputs]
    )
    if len(outs) != len(inputs):
        raise ValueError(f"{len(inputs)} inputs but {len(outs)} outputs")
    for o in outs:
        o.parent.mkdir(parents=True, exist_ok=True)
    tasks = {f"{k}-{o.stem}": (str(i), str(o), str(model), options)
             for k, (i, o) in enumerate(zip(inputs, outs))}  # fmt: skip
    done = fan_out(_denoise_one, tasks, scheduler=scheduler, n_workers=n_workers, retries=retries,
                   feature="denoise_many (Dask)")  # fmt: skip
    rows = []
    for name, source, out in zip(tasks, inputs, outs):
        if isinstance(done[name], Exception):  # reported per stack: one bad stack must not sink the survey
            rows.append((str(source), str(out), "failed", 0.0, f"{type(done[name]).__name__}: {done[name]}"))
        else:
            rows.append((str(source), str(out), *done[name], ""))
    return QTable(rows=rows, names=("input", "output", "status", "seconds", "error"))
