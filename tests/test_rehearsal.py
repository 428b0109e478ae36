"""The ``full`` road of the book, rehearsed end to end against local stand-ins of the archives.

Chapters 2 to 6 run in ``full`` mode at rehearsal size (``ASTERIS_BOOK_REHEARSAL=1``)
through the code a reader runs: the MAST query (astroquery, pointed at the
stand-in by its own ``astroquery.cfg``), the lock file in the data folder,
downloads (one of them cut half-way and resumed), alignment, HSC-SSP warps
behind Basic authentication, published weights fetched by name and fine-tuned,
denoising, injection-recovery, photo-z and the UV luminosity function. The
archive's files are a small mock field's ``_cal`` files and warps.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from standins import HscStandin, MastStandin, ZenodoStandin

from asteris.book import HIGH_Z_BANDS, reference_weights

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = [
    ROOT / "notebooks" / f"{name}.py"
    for name in (
        "02_train_and_denoise",
        "03_injection_recovery",
        "04_cross_instrument",
        "05_photoz_candidates",
        "06_uv_luminosity_function",
    )
]


def _archive_files(folder: Path) -> tuple[list[Path], dict[str, bytes]]:
    """A small mock field's NIRCam ``_cal`` files (7 bands x 16) and HSC-like warps (16)."""
    from asteris.mock.simulate import simulate_field

    simulate_field(
        "nircam",
        shape=(224, 224),
        exposures=16,
        bands=list(HIGH_Z_BANDS),
        seed=11,
        exposures_dir=folder / "cal",
        progress=False,
    )
    simulate_field(
        "hsc",
        shape=(128, 128),
        exposures=16,
        bands=["i"],
        seed=12,
        exposures_dir=folder / "warps",
        progress=False,
    )
    warps = sorted((folder / "warps").glob("*.fits"))
    return sorted((folder / "cal").glob("*_cal.fits")), {
        str(1200 + 2 * i): p.read_bytes() for i, p in enumerate(warps)
    }


@pytest.mark.slow
def test_full_mode_rehearsal_runs_chapters_2_to_6(tmp_path):
    cal, warps = _archive_files(tmp_path / "archive")
    with MastStandin() as mast, HscStandin() as hsc, ZenodoStandin() as zenodo:
        served = mast.add_cal_files(cal, proposal="1210")
        cut = next(name for name in served if "_02104_" in name)  # an F200W file: its first download breaks
        mast.state.drop_first.add(f"mast:JWST/product/{cut}")
        hsc.serve_warps(warps)
        model = reference_weights("tiny", "F200W").read_bytes()  # a small checkpoint under published names
        zenodo.state.files.update({"ASTERIS8_nrcshort.pth": model, "ASTERIS8_nrclong.pth": model})
        data = tmp_path / "data"
        env = {
            **os.environ,
            **hsc.environment(),
            "ASTERIS_BOOK_MODE": "full",
            "ASTERIS_BOOK_REHEARSAL": "1",
            "ASTERIS_DATA_DIR": str(data),
            "ASTERIS_ZENODO_API": zenodo.api,
            "MPLBACKEND": "Agg",
            "ASTROPY_CONFIG_DIR": str(mast.astroquery_config(tmp_path / "astroquery", pagesize=50)),
        }
        times = tmp_path / "times.json"
        run = subprocess.run(
            [
                sys.executable,
                str(ROOT / "tests" / "run_chapters.py"),
                "--times",
                str(times),
                *map(str, CHAPTERS),
            ],
            env=env,
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=900,
        )
    print(run.stdout[-6000:], run.stderr[-6000:], sep="\n")
    assert run.returncode == 0, run.stderr[-3000:]
    assert list(json.loads(times.read_text())) == [c.stem for c in CHAPTERS]
    lock = data / "manifests" / "jades_1210_nircam.lock.yaml"
    assert lock.exists() and cut in lock.read_text()
    ranges = [h.get("Range") for method, url, h in mast.log if cut in url]
    assert len(ranges) == 2 and ranges[0] is None and ranges[1].startswith("bytes=")  # cut, then resumed
    assert len(list((data / "jades_1210_nircam").glob("*_cal.fits"))) == 16 * len(HIGH_Z_BANDS)
    assert not list((data / "jades_1210_nircam").glob("*.part"))
    assert (data / "weights" / "ASTERIS8_nrcshort.pth").read_bytes() == model
    assert len(list((data / "hsc_cosmos_i_warps").glob("warp-*.fits"))) == 16
