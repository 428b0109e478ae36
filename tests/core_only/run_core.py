"""Run the core as a user with only ``pip install asteris`` would: make a small stack, then
``asteris info``, ``asteris train`` (a few steps) and ``asteris denoise`` through the command line.

Prints one JSON line: the exit statuses, whether the output is a finite image, which optional
packages were imported along the way (there must be none) and what importing each subpackage
said. Used by ``tests/test_layout.py`` (in the full environment) and by ``make core-check`` (in a
fresh virtual environment with the core alone).

    python tests/core_only/run_core.py WORKDIR
"""

from __future__ import annotations

import contextlib
import io
import json
import sys
from pathlib import Path

import numpy as np
from astropy.io import fits

OPTIONAL = ("matplotlib", "photutils", "skimage", "sedpy", "bagpipes", "eazy", "emcee", "astroquery",
            "requests", "drizzle", "dask", "distributed")  # fmt: skip


def write_stack(path: Path) -> None:
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[:64, :64]
    sky = 50.0 * np.exp(-((xx - 30) ** 2 + (yy - 34) ** 2) / 4.0)
    cube = (sky + rng.normal(10.0, 1.0, (16, 64, 64))).astype(np.float32)
    fits.PrimaryHDU(cube).writeto(path)


def run(argv: list[str]) -> tuple[int, str]:
    from asteris.cli import main

    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        status = main(argv)
    return status, err.getvalue()


def subpackage_messages() -> dict[str, str]:
    out = {}
    for name in ("archive", "sky", "mock", "science"):
        try:
            __import__(f"asteris.{name}")
            out[name] = "imported"
        except ImportError as exc:
            out[name] = f"{type(exc).__name__}: {exc}"
    return out


def main(workdir: str) -> dict:
    work = Path(workdir)
    stack = work / "stack.fits"
    write_stack(stack)
    statuses = {
        "info": run(["info", str(stack)]),
        "train": run(["train", str(stack), "--run-dir", str(work / "run"), "--preset", "tiny", "--quiet",
                      "--set", "epochs=1", "--set", "max_steps_per_epoch=2", "--set", "patch_size=32"]),
        "denoise": run(["denoise", str(stack), "--model", str(work / "run" / "model.pt"),
                        "--out", str(work / "denoised.fits"), "--quiet"]),
    }  # fmt: skip
    image = fits.getdata(work / "denoised.fits") if (work / "denoised.fits").exists() else None
    return {
        "status": {k: s for k, (s, _) in statuses.items()},
        "stderr": {k: e for k, (_, e) in statuses.items() if e},
        "output_finite": bool(image is not None and image.shape == (64, 64) and np.isfinite(image).any()),
        "optional_imported": sorted(m for m in OPTIONAL if m in sys.modules),
        "subpackages": subpackage_messages(),
    }


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
