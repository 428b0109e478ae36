"""How far purity estimated without a truth is from the truth, for a coadd and for ASTERIS.

On archive data there is no truth: purity comes from false detections counted
on negated data. Two estimates (`asteris.science.recovery.compare_protocols`,
``negatives=``): the method's image negated, which holds for a linear method
only, and the method applied to the negated stack (every exposure times -1),
which holds for any method. On the embedded NIRCam-like mock (F200W, every
noise component on) the truth is known, so each estimate is compared with the
truth-based purity at every threshold of the optimal protocol, for the
inverse-variance coadd and the chapters' ASTERIS model (the committed ``tiny``
reference model fine-tuned on the stack). Writes
``results/purity_estimates.json``.

Usage: ``python benchmarks/purity_estimates.py [--realizations 2] [--per 150] [--out FILE]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _results import finite_or_none, write_result

from asteris.book import chapter_run
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.science.injection import SourceRenderer
from asteris.science.methods import asteris_method, coadd_method
from asteris.science.photometry import limiting_magnitude
from asteris.science.recovery import compare_protocols
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results"
ESTIMATES = ("truth", "negated_stack", "negated_image")


def purity_rows(result, method: str) -> list[dict]:
    """Per scanned threshold: detections and the purity from the truth and from each estimate."""
    rows = []
    for threshold in result.thresholds:
        mags, _ = result.detections[method][result._t(threshold)]
        row = {"threshold": float(threshold), "detections": int(len(mags))}
        row |= {k: finite_or_none(v, 4)
                for k, v in result.purity_estimates(method, threshold).items()}  # fmt: skip
        rows.append(row)
    return rows


def summary(rows: list[dict]) -> dict:
    """Mean absolute error of each estimate against the truth over the thresholds with detections."""
    out = {}
    for estimate in ESTIMATES[1:]:
        pairs = [(r[estimate], r["truth"]) for r in rows]
        errors = [abs(e - t) for e, t in pairs if e is not None and t is not None]
        out[f"{estimate}_mean_abs_error"] = round(float(np.mean(errors)), 4) if errors else None
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--realizations", type=int, default=2)
    parser.add_argument("--per", type=int, default=150, help="sources per injected stack")
    parser.add_argument("--band", default="F200W")
    parser.add_argument("--out", type=Path, default=RESULTS / "purity_estimates.json")
    args = parser.parse_args()
    field = mock_field(bands=[args.band], progress=False)
    stack, truth = field.bands[args.band].stack, field.bands[args.band].truth
    renderer = SourceRenderer.for_mock(field, args.band)
    run = chapter_run(stack, "ci", name=f"nircam-{args.band.lower()}")
    methods = {"ivar coadd": coadd_method("ivar"), "ASTERIS tiny fine-tuned": asteris_method(run.model)}
    m5 = limiting_magnitude(methods["ivar coadd"](stack), renderer)
    start = time.perf_counter()
    result = compare_protocols(stack, methods, renderer, mags=(m5 - 3.5, m5 + 1.0), protocols=("optimal",),
                               truth=truth, negatives=("stack", "image"), n_per_realization=args.per,
                               realizations=args.realizations, seed=1, progress=True)["optimal"]  # fmt: skip
    seconds = time.perf_counter() - start
    out = {
        "command": "python benchmarks/purity_estimates.py "
        f"--realizations {args.realizations} --per {args.per} --band {args.band}",
        "machine": machine_description(),
        "mock_version": MOCK_VERSION,
        "field": "embedded NIRCam-like mock, every noise component on",
        "protocol": "optimal",
        "seconds": round(seconds, 1),
        "methods": {},
    }
    for method in methods:
        rows = purity_rows(result, method)
        out["methods"][method] = {"thresholds": rows, **summary(rows)}
        print(f"{method}:")
        for r in rows:
            print("  " + ", ".join(f"{k} {v}" for k, v in r.items()))
        print("  " + ", ".join(f"{k} {v}" for k, v in summary(rows).items()))
    write_result(args.out, out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
