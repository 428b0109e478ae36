"""The mock's tables: each noise component's calibration and the simulator's cost."""

from __future__ import annotations

from ..chapters import committed_result
from .cells import COMPONENT_NAMES, markdown_table

__all__ = ["calibration_table", "simulate_table"]


def calibration_table(*, result: dict | None = None) -> str:
    """Each noise component of the mock: default, basis and what it measures on the mock's exposures."""
    rows = []
    for r in (result or committed_result("mock_calibration"))["rows"]:
        measured = f"{r['measured']:.4g}"
        if "published" in r:
            measured += f" (published {r['published']:.3g})"
        if "after_row_median" in r:
            measured += f"; {r['after_row_median']:.3g} after the row-median correction"
        if "flagged_in_dq" in r:
            measured += f"; {r['flagged_in_dq']:.2g} flagged in DQ"
        name = COMPONENT_NAMES.get(r["component"], r["component"].replace("_", " "))
        name += f" ({r['band']})" if "band" in r else ""
        excess = [f"{r[k]:.2f}" if k in r else "-" for k in ("coadd_excess_before", "coadd_excess_after")]
        if "correction" in r:
            excess[1] += f" ({r['correction'].replace('_', ' ')})"
        rows.append([name, r["default"], r["what"], r["source"], r["quantity"], measured, *excess])
    header = ["component", "default", "what", "based on", "measured quantity", "on the mock",
              "coadd excess, as it comes", "after correction (step)"]  # fmt: skip
    return markdown_table(header, rows)


def simulate_table(*, result: dict | None = None) -> str:
    """Time and memory of simulating the default field and one large band (``simulate.json``)."""
    rows = [
        [
            r["case"],
            f"{r['shape'][0]} x {r['shape'][1]}",
            f"{r['bands']} x {r['exposures']}",
            f"{r['objects']:,}",
            f"{r['seconds']:.0f} s",
            f"{r['peak_rss_mb'] / 1024:.1f} GB",
        ]
        for r in (result or committed_result("simulate"))["results"]
    ]
    return markdown_table(["case", "grid", "bands x exposures", "objects", "time", "peak RSS"], rows)
