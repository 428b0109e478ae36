"""The z > 8.5 chain's tables: photo-z, the selection and the binned luminosity function."""

from __future__ import annotations

import astropy.units as u
from astropy.table import QTable

from ...tuning import machine_line
from ..chapters import committed_result
from .cells import METHOD_NAMES, format_number, markdown_table

__all__ = ["photoz_table", "uvlf_table", "photoz_templates_table", "binned_table"]


def photoz_table(*, result: dict | None = None) -> str:
    """Photo-z quality and the z > 8.5 selection per method (``photoz_uvlf.json``)."""
    rows = []
    for k, m in (result or committed_result("photoz_uvlf"))["methods"].items():
        snr = m["by_snr"]
        rows.append(
            [
                METHOD_NAMES.get(k, k),
                m["n"],
                " / ".join(format_number(snr[b]["sigma_nmad"], ".3f") for b in ("5-10", "10-20", "20-inf")),
                " / ".join(format_number(snr[b]["outlier_fraction"]) for b in ("5-10", "10-20", "20-inf")),
                m["n_candidates"],
                f"{m['n_true_high_z_detected']} of {m['n_true_high_z_in_field']}",
                format_number(m["highz_completeness"]),
                format_number(m["highz_contamination"]),
                f"{m['uvlf_bins_within_errors']} of {m['uvlf_bins_tested']}",
            ]
        )
    header = [
        "method",
        "galaxies with a photo-z",
        "sigma_NMAD at S/N 5-10 / 10-20 / > 20",
        "outliers at S/N 5-10 / 10-20 / > 20",
        "z > 8.5 candidates",
        "z > 8.5 galaxies detected",
        "selected of those detected",
        "contamination",
        "bins with >= 5 candidates within errors",
    ]
    return markdown_table(header, rows)


def uvlf_table(*, result: dict | None = None) -> str:
    """Recovered phi against the input per M_UV bin, in 1e-5 Mpc^-3 mag^-1 (Poisson intervals)."""
    methods = (result or committed_result("photoz_uvlf"))["methods"]
    first = next(iter(methods.values()))["bins"]
    realized = "phi_realized" in first[0]
    rows = []
    for i, b in enumerate(first):
        cells = [f"{b['M_UV']:.2f}", f"{b['phi_input'] / 1e-5:.3g}"]
        if realized:
            cells.append(f"{b['phi_realized'] / 1e-5:.3g}")
        for m in methods.values():
            c = m["bins"][i]
            cells.append(
                f"{c['n']}: < {c['phi_hi'] / 1e-5:.3g}"
                if c["n"] == 0
                else f"{c['n']}: {c['phi'] / 1e-5:.3g} [{c['phi_lo'] / 1e-5:.2g}, {c['phi_hi'] / 1e-5:.3g}]"
            )
        rows.append(cells)
    header = ["M_UV", "input", *(["pointings' own truth"] if realized else [])]
    header += [f"{METHOD_NAMES.get(k, k)}: n, phi" for k in methods]
    return markdown_table(header, rows)


def photoz_templates_table(*, result: dict | None = None) -> str:
    """Photo-z accuracy per template set and photometry, overall and per S/N (``photoz_templates.json``)."""
    pz = result or committed_result("photoz_templates")
    rows = []
    for way, f in pz["ways"].items():
        templates, photometry = way.split("/")
        cells = [
            f"{format_number(r['sigma_nmad'], '.3f')} / {format_number(r['outlier_fraction'])}"
            for r in f["all"]
        ]
        h, s = f["true_high_z"], f["selection"]
        rows.append([templates.replace("_", " "), photometry.replace("_", " "), *cells,
                     f"{format_number(h['sigma_nmad'], '.3f')} / {format_number(h['outlier_fraction'])}",
                     f"{s['candidates']}: {s['completeness']:.2f} / {s['contamination']:.2f}"])  # fmt: skip
    bins = [f"S/N {r['snr']} (n = {r['n']})" for r in next(iter(pz["ways"].values()))["all"]]
    header = ["templates", "photometry", *bins, "true z > 8.5", "candidates: completeness / contamination"]
    caption = (f"`{pz['command']}` on a {machine_line(pz)}; {pz['detections']} detections; each cell: "
               "sigma_NMAD / outlier fraction.")  # fmt: skip
    return caption + "\n\n" + markdown_table(header, rows)


def binned_table(method: dict) -> QTable:
    """One method's binned luminosity function from a result's JSON, as `plot_luminosity_function` takes it.

    >>> table = binned_table({"bins": [{"M_UV": -20.0, "n": 3, "phi": 1e-5, "phi_lo": 5e-6, "phi_hi": 2e-5}]})
    >>> table["phi"].unit
    Unit("1 / (mag Mpc3)")
    """
    bins = method["bins"]
    phi_unit = u.Mpc**-3 / u.mag
    table = QTable({"M_UV": [b["M_UV"] for b in bins] * u.mag, "n": [b["n"] for b in bins]})
    for column in ("phi", "phi_lo", "phi_hi"):
        table[column] = [b[column] for b in bins] * phi_unit
    return table
