"""A survey's run folder: the files each finished pointing leaves, and how its tables are written."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from astropy.table import QTable

from ...fileio import atomic_write

__all__ = ["SUMMARY", "FIELD_HIGH_Z", "write_table", "counted"]


#: A pointing's files: its summary is written last, so a folder with one is complete.
SUMMARY = "summary.json"


#: A mock pointing's own z > 8.5 galaxies (its truth), with ``covered``: on its footprint.
FIELD_HIGH_Z = "field_high_z.ecsv"


def write_table(table: QTable, path: Path) -> None:
    keep = [c for c in table.colnames if getattr(table[c], "ndim", 1) == 1]  # p(z) stays out
    atomic_write(path, lambda tmp: table[keep].write(tmp, format="ascii.ecsv", overwrite=True))


def counted(table: QTable) -> np.ndarray:
    """The selected rows that count: those on the pointing's footprint, where it records one."""
    chosen = np.asarray(table["selected"], bool)
    return chosen & np.asarray(table["in_footprint"], bool) if "in_footprint" in table.colnames else chosen
