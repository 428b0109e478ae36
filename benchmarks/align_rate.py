"""Seconds to align JWST ``_cal`` exposures against their pixels: the first stage of ``full`` mode.

For each ``--sizes`` S the mock writes ``_cal``-like exposures of one short-wave
and one long-wave band (`asteris.mock.simulate.simulate_field` with
``exposures_dir``, an S x S grid, ``--exposures`` each); `asteris.archive.align`
then aligns each band's files in this process, timed alone (best of
``--repeats``), once with the exposure-level corrections (the default, as full
mode runs it) and once without them (``CorrectionConfig.none()``, the drizzle
alone: the same-run baseline). A straight line, seconds per exposure = a + b *
megapixels of the exposure, is fitted to each, and evaluated at the 2048 x 2048
frame of a NIRCam detector; `asteris.book.estimate.alignment_minutes` reads it.
Writes ``results/align_rate.json``.

Usage: ``python benchmarks/align_rate.py [--sizes 384 768 1152] [--exposures 4] [--repeats 2]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import write_result

from asteris.archive import CorrectionConfig, align, read_cal_exposure
from asteris.mock.simulate import simulate_field
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "align_rate.json"
BANDS = ["F200W", "F444W"]
NIRCAM_FRAME_MPX = 2048**2 / 1e6


def best_seconds(files: list[Path], corrections: CorrectionConfig, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        align(files, corrections=corrections)
        times.append(time.perf_counter() - start)
    return min(times)


def measure(size: int, exposures: int, repeats: int) -> list[dict]:
    """One row per band: the exposures' megapixels and the seconds per exposure with and without
    the corrections."""
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        simulate_field("nircam", shape=(size, size), exposures=exposures, bands=BANDS, exposures_dir=folder,
                       workers=1, progress=False)  # fmt: skip
        for band in BANDS:
            files = sorted(Path(folder).glob(f"mock_{band.lower()}_*_cal.fits"))
            frame = read_cal_exposure(files[0])[0].shape
            seconds = {name: best_seconds(files, config, repeats) / len(files)
                       for name, config in (("corrected", CorrectionConfig()),
                                            ("drizzle_only", CorrectionConfig.none()))}  # fmt: skip
            rows.append({"grid": size, "band": band, "exposures": len(files), "frame": list(frame),
                         "megapixels": frame[0] * frame[1] / 1e6,
                         "seconds_per_exposure": seconds})  # fmt: skip
            print(rows[-1])
    return rows


def line(rows: list[dict], key: str) -> dict:
    """seconds per exposure = a + b * megapixels, least squares over every row."""
    mpx = np.array([r["megapixels"] for r in rows])
    seconds = np.array([r["seconds_per_exposure"][key] for r in rows])
    b, a = np.polyfit(mpx, seconds, 1)
    return {"a": float(a), "b_per_megapixel": float(b),
            "nircam_frame_seconds": float(a + b * NIRCAM_FRAME_MPX)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[384, 768, 1152])
    parser.add_argument("--exposures", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    rows = [row for size in args.sizes for row in measure(size, args.exposures, args.repeats)]
    fits = {key: line(rows, key) for key in ("corrected", "drizzle_only")}
    sizes = " ".join(map(str, args.sizes))
    result = {
        "command": f"python benchmarks/align_rate.py --sizes {sizes} --exposures {args.exposures} "
                   f"--repeats {args.repeats}",
        "machine": machine_description(),
        "note": "one process, numpy and drizzle on one thread each; seconds per exposure, best of the "
                "repeats; the fits are evaluated at a NIRCam detector's 2048 x 2048 frame",
        "rows": rows,
        "fits": fits,
    }  # fmt: skip
    for key, fit in fits.items():
        print(f"{key}: {fit['a']:.3f} s + {fit['b_per_megapixel']:.3f} s/Mpx; "
              f"a 2048 x 2048 exposure {fit['nircam_frame_seconds']:.1f} s")
    write_result(Path(args.out), result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
