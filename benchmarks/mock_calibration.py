"""The mock's noise calibration table: each component's default, its published basis, and its value
measured on the mock's own exposures (`asteris.mock.calibration.calibration_table`).

Prints the table and writes ``results/mock_calibration.json``, which chapter 1 shows.

Usage: ``python benchmarks/mock_calibration.py [--shape 768] [--exposures 8]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from _results import write_result

from asteris.mock.calibration import calibration_table
from asteris.mock.datasets import MOCK_VERSION
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "mock_calibration.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--shape", type=int, default=768)
    parser.add_argument("--exposures", type=int, default=8)
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = calibration_table(shape=(args.shape, args.shape), exposures=args.exposures)
    seconds = time.perf_counter() - start
    print(f"{'component':<14}{'band':<7}{'default':>10}{'measured':>10}  quantity")
    for row in rows:
        extra = {k: row[k] for k in ("published", "after_row_median", "flagged_in_dq") if k in row}
        print(f"{row['component']:<14}{row.get('band', 'F200W'):<7}{str(row['default'])[:10]:>10}"
              f"{row['measured']:>10.4g}  {row['quantity']} {extra or ''}")  # fmt: skip
    command = f"python benchmarks/mock_calibration.py --shape {args.shape} --exposures {args.exposures}"
    out = {"command": command,
           "mock_version": MOCK_VERSION, "seconds": round(seconds, 1), "machine": machine_description(),
           "rows": rows}  # fmt: skip
    write_result(args.out, out, indent=2)
    print(f"wrote {args.out} ({seconds:.0f} s)")


if __name__ == "__main__":
    main()
