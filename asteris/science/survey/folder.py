"""A survey's run folder: the files each finished pointing leaves, and how its tables are written."""

from __future__ import annotations

from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...fileio import atomic_write

__all__ = ["SUMMARY", "FIELD_HIGH_Z", "write_table", "counted"]


#: A pointing's files: its summary is written last, so a folder with one is complete.
SUMMARY = "summary.json"


#: A mock pointing's own z > 8.5 galaxies (its truth), with ``covered``: on its footprint.
FIELD_HIGH_Z = "field_high_z.ecsv"


def write_table(table: QTable, path: Path) -> None:
    """Write ``table`` as ECSV, atomically, its one-dimensional columns only (p(z) stays out).

    Each unit is written as astropy's own unit of that name: a table computed in another process
    (a Dask task's) holds copies of the units, which the ECSV header would otherwise write out
    where it refers to one shared unit, and the file would differ byte for byte.
    """
    keep = table[[c for c in table.colnames if getattr(table[c], "ndim", 1) == 1]]
    for name in keep.colnames:
        column = keep[name]
        if type(column) in (u.Quantity, u.Magnitude):  # AB magnitudes are Magnitudes
            keep[name] = type(column)(column.value, u.Unit(column.unit.to_string()), copy=False)
    atomic_write(path, lambda tmp: keep.write(tmp, format="ascii.ecsv", overwrite=True))


def counted(table: QTable) -> np.ndarray:
    """The selected rows that count: those on the pointing's footprint, where it records one."""
    chosen = np.asarray(table["selected"], bool)
    return chosen & np.asarray(table["in_footprint"], bool) if "in_footprint" in table.colnames else chosen
