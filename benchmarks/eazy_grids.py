"""Integrate the EAZY template grids that the package ships, and record them.

EAZY integrates every template through every filter at every redshift before it
fits: about 40 s on one core for the package's default templates, the survey's
seven NIRCam bands and the default redshift grid. `asteris.science.photoz` keeps
an integrated grid in the data folder under a name that hashes everything it
depends on (the eazy version, the filter curves, the templates and the fit's
settings) and, where the data folder has none, reads the copy the package ships
(``asteris/science/data/eazy_grids/``). This script makes those copies: for each
setting it fits a one-object catalogue with EAZY in an empty data folder (so the
grid is integrated afresh), copies the grid it integrated into the package, and
writes ``results/eazy_grids.json`` with each grid's repository path, SHA-256,
bands, settings, the eazy version and the machine.

Usage: ``python benchmarks/eazy_grids.py [--overwrite]``
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from importlib.metadata import version
from pathlib import Path
from unittest.mock import patch

import astropy.units as u
from _results import write_result
from astropy.table import QTable

from asteris.fileio import DATA_DIR_ENV, atomic_path, sha256sum
from asteris.science import photoz
from asteris.science.photoz import SHIPPED_GRIDS, photometric_redshifts
from asteris.science.survey import SurveyConfig
from asteris.tuning import machine_description

ROOT = Path(__file__).resolve().parents[1]
#: The settings whose grids are shipped: the survey's bands with the default fit (chapters 5 and 6,
#: the survey runner, the closure test).
SETTINGS = {"survey_bands_default_fit": {"filters": SurveyConfig().filters, "options": {}}}


def one_object(bands) -> QTable:
    """A catalogue of one object with a flat spectrum: what EAZY needs to integrate its grid."""
    table = QTable({"id": [1]})
    for band in bands:
        table[f"f_{band}"], table[f"e_{band}"] = [20.0] * u.nJy, [2.0] * u.nJy
    return table


def integrate(filters: dict, options: dict) -> tuple[Path, float, Path]:
    """Fit one object in an empty data folder, with no shipped grid to read; the grid EAZY integrated,
    the seconds, the folder."""
    folder = Path(tempfile.mkdtemp(prefix="asteris-grids-"))
    unshipped = patch.object(photoz, "SHIPPED_GRIDS", folder / "none shipped")
    with patch.dict(os.environ, {DATA_DIR_ENV: str(folder)}), unshipped:
        start = time.perf_counter()
        photometric_redshifts(one_object(filters), filters, **options)
        seconds = time.perf_counter() - start
    (grid,) = (folder / "eazy_grids").glob("*.npy")
    return grid, seconds, folder


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--overwrite", action="store_true", help="replace grids the package already ships")
    parser.add_argument("--out", type=Path, default=Path(__file__).parent / "results" / "eazy_grids.json")
    args = parser.parse_args(argv)
    grids = []
    for name, setting in SETTINGS.items():
        integrated, seconds, folder = integrate(setting["filters"], setting["options"])
        shipped = SHIPPED_GRIDS / integrated.name
        if shipped.exists() and not args.overwrite:
            shutil.rmtree(folder)
            raise SystemExit(f"{shipped.relative_to(ROOT)} exists; --overwrite replaces it")
        with atomic_path(shipped, overwrite=True) as tmp:
            shutil.copyfile(integrated, tmp)
        shutil.rmtree(folder)
        file = shipped.relative_to(ROOT).as_posix()
        bands = list(setting["filters"])
        grids.append({"name": name, "file": file, "sha256": sha256sum(shipped), "bands": bands, **setting,
                      "seconds_to_integrate": round(seconds, 1)})  # fmt: skip
        print(f"{name}: {shipped.relative_to(ROOT)}, integrated in {seconds:.1f} s")
    write_result(args.out, {"command": "python benchmarks/eazy_grids.py", "eazy": version("eazy"),
                            "grids": grids, "machine": machine_description()})  # fmt: skip


if __name__ == "__main__":
    main()
