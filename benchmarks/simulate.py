"""Time and peak memory to simulate the default mock field and a 4096x4096x16 NIRCam-like band.

Each case runs in a fresh process so that its peak resident memory (VmHWM) is
its own. The same-run baseline is the cheapest possible cube of that size:
Gaussian white noise drawn by numpy, written to FITS; the ratio says what the
sky, the SEDs, the PSFs and the noise components cost on top of it. Writes
``results/simulate.json``.

Usage: ``python benchmarks/simulate.py [--big 4096] [--workdir DIR]``
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _memory import status_mb
from _results import write_result

from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "simulate.json"


def run_case(case: str, size: int, workdir: Path) -> dict:
    """Runs inside the child process."""
    import numpy as np
    from astropy.io import fits

    from asteris.mock.datasets import default_parameters
    from asteris.mock.simulate import simulate_field

    start = time.perf_counter()
    if case == "default":
        field = simulate_field("nircam", progress=False, **default_parameters("nircam"))
        field.write(workdir / "default", overwrite=True)
        info = {
            "bands": len(field.bands),
            "shape": list(field.params["shape"]),
            "objects": len(field.catalog),
        }
    elif case == "big":
        field = simulate_field("nircam", shape=(size, size), exposures=16, bands=["F200W"], progress=False)
        field.write(workdir / "big", overwrite=True)
        info = {"bands": 1, "shape": [size, size], "objects": len(field.catalog)}
    else:  # baseline: white noise of the same cube as "big"
        cube = np.random.default_rng(0).normal(0, 1, (16, size, size)).astype(np.float32)
        fits.PrimaryHDU(cube).writeto(workdir / "baseline.fits", overwrite=True)
        info = {"bands": 1, "shape": [size, size], "objects": 0}
    return {
        "case": case,
        "exposures": 16,
        **info,
        "seconds": time.perf_counter() - start,
        "peak_rss_mb": status_mb(),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--big", type=int, default=4096, help="side of the big single-band field")
    parser.add_argument("--workdir", help="scratch folder (default: a temporary one)")
    parser.add_argument("--case", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.case:
        print(json.dumps(run_case(args.case, args.big, Path(args.workdir))))
        return
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        results = []
        for case in ("default", "baseline", "big"):
            cmd = [sys.executable, __file__, "--case", case, "--big", str(args.big), "--workdir", tmp]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            results.append(json.loads(out.strip().splitlines()[-1]))
            last = results[-1]
            print(f"{case:9s} {last['shape']} x16 x{last['bands']} bands: "
                  f"{last['seconds']:7.1f} s, peak RSS {last['peak_rss_mb']:7.0f} MB")  # fmt: skip
    by = {r["case"]: r for r in results}
    ratio = by["big"]["seconds"] / by["baseline"]["seconds"]
    print(f"big band / white-noise baseline of the same cube: {ratio:.1f}x the time")
    report = {
        "machine": machine_description(),
        "results": results,
        "big_over_baseline_time": ratio,
    }
    RESULTS.parent.mkdir(exist_ok=True)
    write_result(RESULTS, report, indent=2)
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
