"""What every benchmark result file holds and how it is written, shared by the benchmark scripts.

A result is a JSON object written atomically, with numpy numbers as Python ones and every
non-finite number as null (JSON has no NaN). Each benchmark puts in it the ``command`` that
made it and the ``machine`` it ran on (`asteris.tuning.machine_description`).
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from asteris.fileio import atomic_write


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


def same_rows(a, b) -> bool:
    """Whether two tables hold the same columns with the same values, row for row (NaN equal to NaN)."""
    if list(a.colnames) != list(b.colnames):
        return False
    for name in a.colnames:
        x, y = np.asarray(a[name]), np.asarray(b[name])
        if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f" and y.dtype.kind == "f"):
            return False
    return True


def write_result(path: str | os.PathLike, result: dict, *, indent: int = 1) -> Path:
    """Write ``result`` as JSON (non-finite numbers as null) atomically, replacing an older file."""
    text = json.dumps(json_ready(result), indent=indent) + "\n"
    atomic_write(path, lambda tmp: Path(tmp).write_text(text), overwrite=True)
    return Path(path)
