"""What every benchmark result file holds and how it is written, shared by the benchmark scripts.

A result is a JSON object: the ``command`` that made it, the ``machine`` it ran
on (`asteris.tuning.machine_description`), its figures with every non-finite
number written as null (JSON has no NaN), and files named by repository path.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from asteris.fileio import atomic_write
from asteris.tuning import machine_description

REPOSITORY = Path(__file__).resolve().parents[1]


def finite_or_none(value, digits: int | None = None) -> float | None:
    """``value`` as a float (rounded to ``digits``), or None where it is not finite."""
    value = float(value)
    if not math.isfinite(value):
        return None
    return value if digits is None else round(value, digits)


def json_ready(value, digits: int | None = None):
    """``value`` with numpy scalars as Python numbers and non-finite floats as None, all the way down;
    floats rounded to ``digits`` where given."""
    if isinstance(value, dict):
        return {k: json_ready(v, digits) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_ready(v, digits) for v in value]
    if isinstance(value, float | np.floating):
        return finite_or_none(value, digits)
    if isinstance(value, np.integer | np.bool_):
        return value.item()
    return value


def repository_path(path: str | os.PathLike) -> str:
    """``path`` relative to the repository (a result never names a path of one machine)."""
    resolved = Path(path).resolve()
    return str(resolved.relative_to(REPOSITORY)) if resolved.is_relative_to(REPOSITORY) else Path(path).name


def result_header(command: str) -> dict:
    """The two entries every result starts with: its command and its machine."""
    return {"command": command, "machine": machine_description()}


def write_result(path: str | os.PathLike, result: dict, *, indent: int = 1) -> Path:
    """Write ``result`` as JSON (non-finite numbers as null) atomically, replacing an older file."""
    text = json.dumps(json_ready(result), indent=indent) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text), overwrite=True)
    return Path(path)
