"""The book's figures as text: Markdown tables and sentences written from the committed results.

Every number the book's front page and its reference pages quote is read here from
``benchmarks/results/*.json`` (installed with the package), so that re-running a benchmark
updates the book and nothing is typed by hand. Each function returns MyST Markdown; the
pages display it with ``IPython.display.Markdown``.

>>> print(markdown_table(["a", "b"], [[1, "x"]]))
| a | b |
| --- | --- |
| 1 | x |
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import astropy.units as u
from astropy.table import QTable

from ..tuning import emulated_isa, machine_line
from .chapters import committed_result

__all__ = [
    "bf16_table",
    "binned_table",
    "book_times_table",
    "calibration_table",
    "closure_contamination_table",
    "injection_check_table",
    "closure_injections_table",
    "closure_report_table",
    "closure_summary",
    "compile_table",
    "convergence_table",
    "corrections_attribution_table",
    "corrections_table",
    "depth_table",
    "findings",
    "gpu_table",
    "machine_line",
    "markdown_table",
    "paper_protocol_table",
    "photoz_table",
    "photoz_templates_table",
    "purity_estimates_table",
    "readme_findings",
    "simulate_table",
    "streaming_table",
    "survey_cost_table",
    "survey_table",
    "sweep_table",
    "throughput_table",
    "update_readme",
    "uvlf_table",
]

#: Where each result's figures are shown and how they were made (MyST references).
CHAPTER_3 = "[chapter 3](../notebooks/03_injection_recovery.ipynb)"
CHAPTER_6 = "[chapter 6](../notebooks/06_uv_luminosity_function.ipynb)"
METHOD_NAMES = {
    "asteris_tiny": "ASTERIS `tiny`",
    "asteris_small": "ASTERIS `small`",
    "asteris_tiny_ft": "ASTERIS `tiny` fine-tuned",
    "asteris": "ASTERIS `tiny` fine-tuned per pointing",
    "coadd": "ivar coadd",
}
COMPONENT_NAMES = {"one_over_f": "1/f striping", "all": "all together"}


def markdown_table(header: Sequence[str], rows: Iterable[Sequence]) -> str:
    """A GitHub-style Markdown table from a header and rows of cells (anything with ``str``)."""
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _num(value, fmt: str = ".2f", missing: str = "") -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return missing
    return format(value, fmt)


def _gain(value, error=None) -> str:
    if value is None or not math.isfinite(value):
        return "none"
    return f"{value:+.2f}" + (f" ± {error:.2f}" if error is not None and math.isfinite(error) else "")


# --- depth ------------------------------------------------------------------------------------


def depth_table(field: str = "all_noise", *, result: dict | None = None) -> str:
    """The optimal protocol's figures per method of one field of ``depth.json``."""
    figures = (result or committed_result("depth"))["fields"][field]
    optimal = figures["protocols"]["optimal"]
    header = [
        "method",
        "threshold (sigma)",
        "m90 (AB)",
        "purity",
        "bias at S/N 10: own / dual (mag)",
        "random-aperture noise ratio",
        "FWHM ratio",
        "spurious / arcmin²",
        "dm90 vs ivar",
        "fraction of headroom",
        "dm90 at the coadd's spurious rate",
    ]
    rows = []
    for method, s in figures["methods"].items():
        equal = s.get("dm90_equal_spurious")
        at_equal = (
            f"{_gain(equal, s.get('dm90_equal_spurious_err'))} at {s['threshold_equal_spurious']:g}"
            if equal is not None
            else ("no threshold reaches it" if "dm90" in s else "")
        )
        fraction = optimal.get(method, {}).get("fraction_of_headroom") if figures["headroom"] > 0 else None
        rows.append(
            [
                METHOD_NAMES.get(method, method),
                _num(s["threshold"], "g"),
                f"{s['m90']:.2f} ± {s['m90_err']:.2f}",
                _num(s["purity"], ".3f"),
                f"{s['mag_bias_sn10']:+.2f} / {s['mag_bias_sn10_dual']:+.2f}",
                _num(s["random_aperture_noise_ratio"]),
                _num(s["fwhm_ratio"], ".3f"),
                _num(s["spurious_per_arcmin2"], ".0f"),
                f"**{_gain(s['dm90'], s['dm90_err'])}**" if "dm90" in s else "",
                _num(fraction) if "dm90" in s else "",
                at_equal,
            ]
        )
    return markdown_table(header, rows)


#: The fields of ``depth_corrections.json`` and how the tables name them.
CORRECTION_FIELDS = {
    "plain": "ivar coadd, exposures as they come",
    "corrected": "ivar coadd, corrected exposures",
    "physical": "physical limit (no structured noise)",
    "physical_corrected": "physical limit, corrected",
    "white": "white-noise twin (no resampling, no gaps)",
}


def corrections_table(*, result: dict | None = None) -> str:
    """The coadd as it comes, corrected, and the limits, both protocols (``depth_corrections.json``)."""
    r = result or committed_result("depth_corrections")
    limit = r["summary"]["physical_m90"]
    rows = []
    for name, label in CORRECTION_FIELDS.items():
        field = r["fields"][name]
        optimal, paper = field["optimal"], field.get("paper", {})
        rows.append([
            label,
            f"{_num(optimal['m90'])} ± {_num(optimal['m90_err'])}",
            _num(limit - optimal["m90"], "+.2f", "n/a") if name in ("plain", "corrected") else "-",
            _num(optimal["purity"], ".3f", "n/a"),
            _num(optimal.get("spurious_per_arcmin2"), ".1f", "-"),
            _num(optimal["mag_bias_sn10"], "+.3f", "n/a"),
            f"{_num(paper.get('m90'), '.2f', '-')} / {_num(paper.get('purity'), '.3f', '-')}"
            f" / {_num(paper.get('spurious_per_arcmin2'), '.1f', '-')}",
        ])  # fmt: skip
    header = ["F200W field", "m90 (optimal)", "headroom left", "purity", "spurious / arcmin²",
              "bias at S/N 10", "paper-style: m90 / purity / spurious (mean coadd)"]  # fmt: skip
    return markdown_table(header, rows)


def corrections_attribution_table(*, result: dict | None = None) -> str:
    """The m90 each structured component costs the coadd, as it comes and after its correction."""
    from ..mock.calibration import CORRECTED

    r = result or committed_result("depth_corrections")
    rows = [
        [COMPONENT_NAMES.get(name, name.replace("_", " ")), _num(row["before"], "+.2f", "n/a"),
         _num(row["after"], "+.2f", "n/a"), _num(row.get("before_by_noise"), "+.3f", "-"),
         _num(row.get("after_by_noise"), "+.3f", "-"), CORRECTED.get(name, "none").replace("_", " ")]
        for name, row in r["summary"]["attribution"].items()
    ]  # fmt: skip
    header = ["component", "m90 it costs, as it comes", "after the corrections",
              "by the filtered noise, as it comes", "after", "correction step"]  # fmt: skip
    return markdown_table(header, rows)


#: The rows of the headroom table (``headroom_methods.json``): method@field -> label
HEADROOM_ROWS = {
    "ivar@plain": "ivar coadd, exposures as they come",
    "ivar@corrected": "ivar coadd, corrected (best practice: the baseline)",
    "asteris_tiny_ft@corrected": "ASTERIS tiny fine-tuned on the corrected stack",
    "ivar@corrected_auto": "new: column pass only where needed, ivar coadd",
    "asteris_tiny_ft@corrected_auto": "new: the same stack, ASTERIS tiny fine-tuned on it",
    "ivar@corrected_model": "new: corrections against a leave-one-out sky model",
    "local_ivar@corrected": "new: residual-weighted coadd (against the median)",
    "local_ivar_net@corrected": "new: residual-weighted coadd (against the network)",
}


PAPER_CELLS = (("m90", ".2f"), ("gain_over_mean", "+.2f"), ("purity", ".3f"), ("spurious_per_arcmin2", ".0f"))


def _best_new_pipeline(summary: dict) -> str:
    """The new linear pipeline (``method@field``) that takes the most of the headroom in filtered noise."""
    new = [k for k in summary["rows"] if HEADROOM_ROWS.get(k, "").startswith("new: ")]
    linear = [k for k in new if summary["rows"][k].get("gain_by_noise") is not None]
    return max(linear, key=lambda k: summary["rows"][k]["gain_by_noise"])


def headroom_table(*, result: dict | None = None, short: bool = False) -> str:
    """Each pipeline against the corrected coadd, both protocols (``headroom_methods.json``): m90, dm90,
    its share of the headroom left after the corrections (by m90 and by filtered noise), purity,
    spurious rate and dual-image bias at S/N 10. ``short``: the plain and corrected coadds, ASTERIS and
    the best new pipeline only."""
    r = result or committed_result("headroom_methods")
    summary, rows = r["summary"], []
    keys = list(HEADROOM_ROWS)
    if short:
        keys = ["ivar@plain", "ivar@corrected", "asteris_tiny_ft@corrected", _best_new_pipeline(summary)]
    for key in keys:
        row, label = summary["rows"].get(key), HEADROOM_ROWS[key]
        if row is None:
            continue
        paper = row.get("paper", {})
        noise = (_num(row.get("gain_by_noise"), "+.3f", "-"), _num(row.get("fraction_by_noise"), ".2f", "-"))
        rows.append([
            label,
            f"{_num(row['m90'])} ± {_num(row['m90_err'])}",
            _num(row["gain"], "+.2f", "n/a"),
            _num(row["fraction_of_headroom"], ".2f", "n/a"),
            " / ".join(noise),
            _num(row["purity"], ".3f", "n/a"),
            _num(row["spurious_per_arcmin2"], ".0f", "n/a"),
            _num(row["mag_bias_sn10_dual"], "+.3f", "n/a"),
            " / ".join(_num(paper.get(k), f, "-") for k, f in PAPER_CELLS),
        ])  # fmt: skip
    header = ["F200W pipeline", "m90 (optimal)", "dm90", "share of headroom", "by filtered noise: dm / share",
              "purity", "spurious / arcmin²", "dual-image bias at S/N 10",
              "paper-style (coadds: the mean): m90 / dm90 vs corrected mean / purity / spurious"]  # fmt: skip
    return markdown_table(header, rows)


def headroom_sentence(*, result: dict | None = None) -> str:
    """The headroom left after the corrections and the share the best linear pipeline takes of it."""
    r = result or committed_result("headroom_methods")
    summary = r["summary"]
    base = summary["rows"]["ivar@corrected"]
    best = _best_new_pipeline(summary)
    row = summary["rows"][best]
    return (
        f"the headroom left after the corrections is {summary['headroom_by_noise']:.3f} mag in filtered "
        f"noise ({summary['headroom_m90']:+.2f} mag in m90); the best new pipeline "
        f"({HEADROOM_ROWS.get(best, best).removeprefix('new: ')}) takes {row['gain_by_noise']:+.3f} mag of "
        f"it ({row['fraction_by_noise']:.0%}), {row['gain']:+.2f} ± {row['m90_err']:.2f} mag in m90, with "
        f"{row['spurious_per_arcmin2']:.0f} false detections per arcmin² at its threshold against the "
        f"corrected coadd's {base['spurious_per_arcmin2']:.0f}"
    )


def paper_protocol_table(*, result: dict | None = None) -> str:
    """The paper-style protocol (1.5 sigma per pixel, against the mean of the frames), both fields."""
    result = result or committed_result("depth")
    rows = []
    for field, figures in result["fields"].items():
        for method, p in figures["protocols"]["paper"].items():
            rows.append(
                [
                    field.replace("_", " "),
                    METHOD_NAMES.get(method, method),
                    f"{p['m90']:.2f}",
                    _num(p["purity"]),
                    _num(p["spurious_per_arcmin2"], ".0f"),
                    _gain(p.get("dm90"), p.get("dm90_err")) if "dm90" in p else "baseline",
                ]
            )
    return markdown_table(
        ["field", "method", "m90 (AB)", "purity", "spurious / arcmin²", "dm90 vs mean"], rows
    )


def sweep_table(*, result: dict | None = None) -> str:
    """Headroom and gains against the strength of the structured noise (``depth_sweep.json``)."""
    rows, sweep = [], (result or committed_result("depth_sweep"))["sweep"]["rows"]
    model = _sweep_model(sweep)
    for r in sweep:
        gain = r["dm90"].get(model)
        headroom = r["headroom"]
        fraction = gain / headroom if gain is not None and math.isfinite(gain) and headroom > 0 else None
        coadds = " / ".join(_gain(r["dm90"].get(m)) for m in ("mean", "median", "sigma_clip"))
        rows.append(
            [
                f"{r['scale']:g}",
                f"{r['coadd_m90']:.2f}",
                f"{headroom:+.2f}",
                _gain(gain, r["dm90_err"].get(model)),
                _num(fraction, ".2f", "n/a"),
                coadds,
                _gain(r["dm90_paper"].get(model)),
                _num(r["purity_paper"].get(model)),
            ]
        )
    header = [
        "structured_scale",
        "ivar coadd m90",
        "headroom",
        f"dm90 {METHOD_NAMES.get(model, model)} (optimal)",
        "fraction of headroom",
        "dm90 mean / median / sigma_clip (optimal)",
        "dm90 ASTERIS vs mean (paper-style)",
        "ASTERIS purity (paper-style)",
    ]
    return markdown_table(header, rows)


def convergence_table(*, result: dict | None = None) -> str:
    """dm90 and validation loss against training steps (``convergence.json``)."""
    rows = [
        [f"`{r['preset']}`", f"{r['step']:,}", f"{r['val_loss']:,.0f}", _gain(r["dm90"], r["dm90_err"])]
        for r in (result or committed_result("convergence"))["convergence"]["rows"]
    ]
    return markdown_table(["model", "steps", "validation loss", "dm90 vs ivar (optimal)"], rows)


def _asteris_models(field: dict) -> dict:
    """The ASTERIS models of one field of ``depth.json`` (the coadds are the baselines)."""
    return {k: v for k, v in field["methods"].items() if k.startswith("asteris_")}


def findings(*, depth: dict | None = None, sweep: dict | None = None, highz: dict | None = None) -> str:
    """The front page's answer: depth under each protocol against the limit, photometry, PSF, z > 8.5."""
    depth = depth or committed_result("depth")
    all_noise, white = depth["fields"]["all_noise"], depth["fields"]["white_noise"]
    ivar = all_noise["methods"]["ivar"]
    models = _asteris_models(all_noise)
    rows = [
        [
            METHOD_NAMES[k],
            _gain(s["dm90"], s["dm90_err"]),
            _gain(all_noise["protocols"]["paper"][k].get("dm90")),
            _gain(white["protocols"]["paper"][k].get("dm90")),
            f"{s['mag_bias_sn10']:+.2f} / {s['mag_bias_sn10_dual']:+.2f}",
            f"{s['fwhm_ratio']:.2f}",
            f"{s['spurious_per_arcmin2']:.0f} (coadd {ivar['spurious_per_arcmin2']:.0f})",
        ]
        for k, s in models.items()
    ]
    header = [
        "model",
        "dm90, optimal protocol",
        "dm90, paper-style",
        "dm90, paper-style, white noise",
        "flux bias at S/N 10: own / dual (mag)",
        "FWHM ratio",
        "spurious / arcmin²",
    ]
    best = max(models.values(), key=lambda s: s["dm90"])
    text = [
        f"**Depth.** On the calibrated mock (F200W, {all_noise['injected']} injected sources per field), the "
        f"inverse-variance coadd with a matched filter reaches m90 = {ivar['m90']:.2f}; the same field "
        f"{_oracle_words(depth)} reaches {all_noise['oracle_m90']:.2f}, so at most "
        f"**{all_noise['headroom']:.2f} mag** is there to gain. The best model gains "
        f"**{_gain(best['dm90'], best['dm90_err'])} mag** under the optimal protocol (matched filter, "
        f"90% purity): {_verdict(best, all_noise['headroom'])}. The paper-style protocol "
        f"(per-pixel threshold, against the mean of the frames) credits smoothing as depth on white noise "
        f"and pays for it in false detections ({CHAPTER_3}; {{ref}}`the depth benchmark <bench-depth>`).",
        "",
        markdown_table(header, rows),
        "",
        "**Photometry and PSF.** Fluxes measured on an ASTERIS image are too faint; measured on the coadd "
        "at the positions it detects (dual-image mode) they keep the coadd's small aperture bias, so the "
        "science chapters measure every method's fluxes on the coadds. Point sources come out broader "
        "(FWHM ratio above).",
    ]
    return "\n".join(text + ["", _sweep_sentence(sweep), "", _highz_sentence(highz)])


def _oracle_words(depth: dict) -> str:
    """What the depth result's oracle field is: white noise only (mock version 3) or the physical limit."""
    if depth.get("mock_version", 3) >= 4:
        return "without structured noise (native pixels, dithers, drizzle and gaps kept)"
    return "with white noise only"


def _verdict(summary: dict, headroom: float) -> str:
    """Zero within two sigma, a loss, or the fraction of the headroom gained."""
    gain, error = summary["dm90"], summary["dm90_err"]
    if abs(gain) <= 2 * error:
        return "nothing, within errors"
    return "a loss" if gain < 0 else f"{gain / headroom:.0%} of the headroom"


def _sweep_model(rows: list[dict]) -> str:
    """The ASTERIS model a strength sweep measured (``asteris_tiny``, or the fine-tuned one)."""
    return next((m for m in rows[0]["dm90"] if m.startswith("asteris_")), "asteris_tiny")


def _sweep_sentence(sweep: dict | None) -> str:
    sweep = sweep or committed_result("depth_sweep")
    rows = sweep["sweep"]["rows"]
    model = _sweep_model(rows)
    strongest = max(rows, key=lambda r: r["headroom"])
    gains = [r["dm90"].get(model) for r in rows if r["headroom"] > 0]
    best = max((g for g in gains if g is not None and math.isfinite(g)), default=float("nan"))
    limit = (
        "the same field without structured noise (native pixels, dithers, drizzle and gaps kept), the "
        "exposures corrected as surveys do"
        if sweep.get("mock_version", 3) >= 4
        else "a twin field with white noise only, which also drops resampling and gaps, so it is an upper "
        "bound on what a denoiser can take"
    )
    return (
        f"**Headroom grows with the structured noise.** Scaled up to {strongest['scale']:g} times its "
        f"calibrated strength, the headroom reaches {strongest['headroom']:.2f} mag; the largest gain of "
        f"{METHOD_NAMES.get(model, model)} over the strength sweep is {_gain(best)} "
        f"mag ({{ref}}`the sweep <bench-sweep>`). The headroom is measured against {limit}."
    )


def _highz_sentence(highz: dict | None) -> str:
    """The luminosity function as the survey measured it, and what the closure test says of the
    injections behind it (``survey_uvlf.json``, ``closure.json``)."""
    survey = highz or committed_result("survey_uvlf")
    parts = [
        f"{METHOD_NAMES.get(k, k)} {m['bins_within_errors']} of {m['bins_tested']} tested M_UV bins within "
        f"errors of the input, faint-end slope {m['fit']['alpha']['median']:.2f} "
        f"against {m['fit']['alpha']['input']:.2f}"
        for k, m in survey["methods"].items()
    ]
    return (
        f"**z > 8.5.** Over {len(survey['pointings'])} mock pointings with a known luminosity function the "
        f"chain does not yet recover it: " + "; ".join(parts) + f". {_closure_clause()} ({CHAPTER_6}; "
        f"{{ref}}`the survey <bench-survey>`, {{ref}}`the closure test <bench-closure>`)."
    )


def _closure_runs(closure: dict) -> list[tuple[str, dict]]:
    """The runs of ``closure.json``: the survey's own seeds, and the fresh skies where there are some."""
    fresh = [("fresh skies", closure["fresh_skies"])] if "fresh_skies" in closure else []
    return [("seeds of the survey", closure), *fresh]


def _closure_clause(closure: dict | None = None) -> str:
    """One sentence: do the fields' own galaxies and their copies through the injection road agree?"""
    closure = closure or committed_result("closure")
    verdicts = [(len(run["pointings"]), k, v) for _, run in _closure_runs(closure)
                for k, v in run["footprint"]["verdict"].items()]  # fmt: skip
    where = "; ".join(
        f"{n} pointings, {' and '.join(METHOD_NAMES.get(k, k) for m, k, _ in verdicts if m == n)}"
        for n in dict.fromkeys(n for n, _, _ in verdicts)
    )
    differ = sorted({METHOD_NAMES.get(k, k) for _, k, v in verdicts if not v["agree"]})
    if not differ:
        return (f"The injections behind it stand for the fields' own galaxies: copies of those galaxies "
                f"through the injection road agree with them within 2σ in every judged bin "
                f"({where})")  # fmt: skip
    return (f"Copies of the fields' own galaxies through the injection road differ from them by 2σ or more "
            f"for {' and '.join(differ)} ({where})")  # fmt: skip


# --- z > 8.5 ----------------------------------------------------------------------------------


def photoz_table(*, result: dict | None = None) -> str:
    """Photo-z quality and the z > 8.5 selection per method (``photoz_uvlf.json``)."""
    rows = []
    for k, m in (result or committed_result("photoz_uvlf"))["methods"].items():
        snr = m["by_snr"]
        rows.append(
            [
                METHOD_NAMES.get(k, k),
                m["n"],
                " / ".join(_num(snr[b]["sigma_nmad"], ".3f") for b in ("5-10", "10-20", "20-inf")),
                " / ".join(_num(snr[b]["outlier_fraction"]) for b in ("5-10", "10-20", "20-inf")),
                m["n_candidates"],
                f"{m['n_true_high_z_detected']} of {m['n_true_high_z_in_field']}",
                _num(m["highz_completeness"]),
                _num(m["highz_contamination"]),
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


# --- speed ------------------------------------------------------------------------------------


def _speed_cell(row: dict, unit: str) -> str:
    value = (
        f"{row['voxels_per_s']:,.0f} voxels/s"
        if unit == "voxels"
        else f"{row['seconds_per_step']:.3f} s/step"
    )
    return f"{value} ({row['fraction_of_matmul_peak']:.0%})"


def _speed_label(row: dict) -> str:
    name, _, forced = row["implementation"].partition(":")
    label = {"eager": "eager baseline", "authors": "authors' `ASTERIS8`"}.get(name, "asteris")
    forced = {"autograd": "oneDNN's depthwise gradient"}.get(forced, forced)
    return label + (f", {forced} forced" if forced else "")


def throughput_table(*, results: Sequence[dict] | None = None) -> str:
    """CPU inference and training: asteris, its forced kernel choices, the eager baseline and the
    authors' class, one column per committed run (``throughput.json``, ``throughput_avx2.json``)."""
    results = results or [committed_result("throughput"), committed_result("throughput_avx2")]
    cells: dict[tuple[str, str], list[str]] = {}
    for column, result in enumerate(results):
        for kind, unit in (("inference", "voxels"), ("training", "seconds")):
            for row in result[kind]:
                what = f"{kind} {('`' + row['preset'] + '`, ') if 'preset' in row else ''}{_speed_label(row)}"
                key = (what, row.get("tile") or row.get("sample"))
                cells.setdefault(key, [""] * len(results))[column] = _speed_cell(row, unit)
    rows = [[what, sample, *values] for (what, sample), values in cells.items()]
    for name in ("speedup_vs_authors", "speedup_vs_eager"):
        for key in results[0].get(name, {}):
            rows.append(
                [
                    f"**{name.replace('_', ' ')}**, {key}",
                    "",
                    *(f"**{r.get(name, {}).get(key, float('nan')):.2f}x**" for r in results),
                ]
            )
    header = ["measurement", "sample"] + [machine_line(r) for r in results]
    return markdown_table(header, rows)


def streaming_table(*, result: dict | None = None) -> str:
    """Peak memory and time of denoising a cube in memory and streamed (``streaming.json``)."""
    rows = [
        [
            f"{r['size']} x {r['size']}, {r['mode']}",
            f"{r['cube_mb']:,.0f} MB",
            f"{r['peak_anon_mb']:,.0f} MB",
            f"{r['peak_rss_mb']:,.0f} MB",
            f"{r['seconds']:.0f} s",
        ]
        for r in (result or committed_result("streaming"))["results"]
    ]
    header = ["cube (16 exposures)", "file", "peak anonymous memory", "peak RSS incl. mapped files", "time"]
    return markdown_table(header, rows)


def gpu_table(*, result: dict | None = None) -> str:
    """Inference and training rates on the GPU of ``gpu.json``, per mode."""
    g = result or committed_result("gpu")
    rows = [
        [
            f"inference, {r['mode']}",
            r["tile"],
            f"{r['voxels_per_s'] / 1e6:.2f} M voxels/s",
            f"{r['fraction_of_bf16_matmul']:.1%}",
            f"{r['peak_memory_gb']:.1f} GB",
        ]
        for r in g.get("inference", [])
    ]
    rows += [
        [f"training `paper`, {r['mode']}", r["sample"], f"{r['steps_per_s']:.2f} steps/s", "", ""]
        for r in g.get("training", [])
        if "mode" in r
    ]
    e = g.get("end_to_end") or {}
    rows += [
        [f"`asteris.denoise`, {r['mode']}", e["stack"], f"{r['denoise_call_s']:.1f} s", "", ""]
        for r in e.get("modes", [])
    ]
    c = g["ceilings"]
    caption = (
        f"{g['device']}, torch {g['torch']}: copy {c['copy_tb_per_s']:.2f} TB/s; matrix products "
        f"{c['matmul_fp32_tflop_per_s']:.0f} / {c['matmul_tf32_tflop_per_s']:.0f} / "
        f"{c['matmul_bf16_tflop_per_s']:.0f} TFLOP/s (float32 / TF32 / bf16); the network does "
        f"{g['flops']['flops_per_voxel'] / 1e6:.2f} MFLOP per voxel."
    )
    header = ["measurement", "sample", "rate or time", "of the bf16 matrix rate", "peak memory"]
    return caption + "\n\n" + markdown_table(header, rows)


# --- the mock ---------------------------------------------------------------------------------


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


def compile_table(*, result: dict | None = None) -> str:
    """Compile time of the network block by block against one graph (``compile_time.json``)."""
    c = result or committed_result("compile_time")
    rows = [
        [
            r["way"],
            f"{r['first_call_s']:.1f} s",
            f"{r['second_model_first_call_s']:.1f} s",
            f"{r['seconds']:.3f} s",
            f"{r['speedup_vs_eager']:.2f}x",
            f"{r['max_abs_diff_vs_eager']:.1e}",
        ]
        for r in c["rows"]
    ]
    header = [
        "compiled",
        "first call",
        "first call of a second copy",
        "per pass",
        "speed vs eager",
        "largest difference from eager",
    ]
    return (
        f"{c['network']}, tile {c['tile']}, eager {c['eager_seconds']:.3f} s per pass.\n\n"
        + markdown_table(header, rows)
    )


def bf16_table(*, results: Sequence[dict] | None = None) -> str:
    """What bf16 changes in a denoised image on a GPU and a CPU (``gpu.json``, ``bf16_accuracy_cpu.json``)."""
    results = results or [committed_result("gpu"), committed_result("bf16_accuracy_cpu")]
    rows = []
    for r in results:
        a = r["bf16_accuracy"]
        model = a.get("model") or r.get("network", "")
        rows.append(
            [
                r.get("device") if r.get("device") != "cpu" else machine_line(r),
                model,
                f"{a['bf16']['rms_difference']:.2e}",
                f"{a['bf16']['over_coadd_noise']:.1%}",
                f"{a['bf16']['max_abs_difference']:.1e}",
            ]
        )
    header = ["device", "model", "RMS change (MJy/sr)", "of the coadd's noise", "largest change"]
    return markdown_table(header, rows)


# --- the README -------------------------------------------------------------------------------

README_START = (
    "<!-- findings: written by `python -m asteris.book.report README.md` from benchmarks/results -->"
)
README_END = "<!-- end of findings -->"


def readme_findings(*, depth: dict | None = None, highz: dict | None = None) -> str:
    """The README's headline findings, a few lines that link into the book."""
    depth = depth or committed_result("depth")
    field = depth["fields"]["all_noise"]
    models = _asteris_models(field)
    paper = field["protocols"]["paper"]
    white = depth["fields"]["white_noise"]["protocols"]["paper"]
    gains = ", ".join(f"{METHOD_NAMES[k]} {_gain(s['dm90'], s['dm90_err'])}" for k, s in models.items())
    paper_gains = ", ".join(f"{_gain(white[k].get('dm90'))}" for k in models)
    own = [s["mag_bias_sn10"] for s in models.values()]
    corrections = committed_result("depth_corrections")
    noise = corrections["summary"]["headroom_by_noise"]
    stripes = corrections["summary"]["attribution"]["one_over_f"]
    after = round(stripes["after_by_noise"], 2) + 0.0  # no "-0.00"

    def m90(name: str) -> str:
        entry = corrections["fields"][name]["optimal"]
        return f"{entry['m90']:.2f} ± {entry['m90_err']:.2f}"

    survey = highz or committed_result("survey_uvlf")
    closure = _closure_clause()
    recovered = ", ".join(
        f"{METHOD_NAMES.get(k, k)} {m['bins_within_errors']} of {m['bins_tested']}"
        for k, m in survey["methods"].items()
    )
    return "\n".join(
        [
            f"- **Depth, optimal protocol** (matched filter, 90% purity, against the inverse-variance coadd, "
            f"calibrated mock, F200W): dm90 = {gains} mag, out of a headroom of {field['headroom']:.2f} mag "
            f"(`benchmarks/results/depth.json`{_mock_version_note(depth)}).",
            f"- **Against best practice**, exposures corrected before co-adding (1/f, detector pattern, "
            f"background, events; `asteris.archive.corrections`): the matched-filtered coadd's noise stands "
            f"{noise['plain']:.2f} mag above the physical limit's (no structured noise, drizzle and gaps "
            f"kept) as the exposures come and {noise['corrected']:.2f} mag after the corrections (1/f "
            f"striping: {stripes['before_by_noise']:.2f} before, {after:.2f} after); m90 "
            f"(plain {m90('plain')}, corrected {m90('corrected')}, limit {m90('physical')}) cannot resolve "
            f"this (`benchmarks/results/depth_corrections.json`).",
            f"- **Taking the headroom**: {headroom_sentence()} (`benchmarks/results/headroom_methods.json`; "
            f"the table below, both protocols).",
            f"- **Paper-style protocol** (1.5 sigma per pixel, against the mean of the frames): "
            f"{paper_gains} mag on white noise, paid for in false detections; "
            f"{', '.join(_gain(paper[k].get('dm90')) for k in models)} mag with the structured noise on.",
            f"- **Photometry** belongs on the coadd: dual-image fluxes are unbiased to "
            f"{max(abs(s['mag_bias_sn10_dual']) for s in models.values()):.2f} mag at S/N 10; "
            f"on the denoised image they are off by {min(own):+.2f} to {max(own):+.2f} mag.",
            f"- **z > 8.5 luminosity function** over {len(survey['pointings'])} mock pointings with a known "
            f"one: tested M_UV bins within errors of the input, {recovered} (target: 80%), not yet "
            f"recovered (`benchmarks/results/survey_uvlf.json`); {closure[0].lower()}{closure[1:]} "
            f"(`benchmarks/results/closure.json`).",
            f"- **Speed** {speed_sentence()}.",
            "",
            headroom_table(short=True),
        ]
    )


def speed_sentence() -> str:
    """The speed-ups against the authors' class, natively and with AVX2 kernels (emulated), and the
    chapters' time with AVX2 kernels, each figure with its result file."""
    native, avx2 = committed_result("throughput"), committed_result("throughput_avx2")
    chapters = committed_result("book_times_avx2")

    def ratios(result: dict) -> str:
        s = result["speedup_vs_authors"]
        return (f"inference {s['inference_8x128x128']:.1f}x, training `tiny` {s['training_tiny']:.1f}x and "
                f"`small` {s['training_small']:.1f}x")  # fmt: skip

    where = (
        "with AVX2 kernels forced on that CPU (emulated: an AVX2 machine's kernels, not its caches or clock)"
        if emulated_isa(avx2["machine"]) else f"on a {machine_line(avx2)}"
    )  # fmt: skip
    return (
        f"against the authors' class, timed in the same run: {ratios(native)} on a {machine_line(native)} "
        f"(`benchmarks/results/throughput.json`); {ratios(avx2)} {where} "
        f"(`throughput_avx2.json`), where the six chapters take {chapters['total_seconds'] / 60:.1f} min "
        f"(`book_times_avx2.json`)"
    )


def _mock_version_note(result: dict) -> str:
    """Where a result predates the exposure corrections (mock version 4), a note saying so."""
    if result.get("mock_version", 3) >= 4:
        return ""
    return "; measured on mock version 3, exposures as they come, against the white-noise twin"


def update_readme(path) -> bool:
    """Rewrite the findings block of a README between its markers; True when it changed."""
    from pathlib import Path

    path = Path(path)
    text = path.read_text()
    start, end = text.index(README_START) + len(README_START), text.index(README_END)
    new = text[:start] + "\n" + readme_findings() + "\n" + text[end:]
    if new != text:
        path.write_text(new)
    return new != text


if __name__ == "__main__":
    import sys

    print("updated" if update_readme(sys.argv[1] if len(sys.argv) > 1 else "README.md") else "up to date")


def book_times_table(*, results: Sequence[dict] | None = None) -> str:
    """Each chapter's time from a lone copy in a fresh kernel, one column per committed run
    (``book_times.json`` and, with AVX2 kernels forced, ``book_times_avx2.json``)."""
    results = results or [committed_result("book_times"), committed_result("book_times_avx2")]
    chapters = [r["chapter"] for r in results[0]["chapters"]]
    seconds = [{r["chapter"]: r["seconds"] for r in t["chapters"]} for t in results]
    rows = [[c, *(f"{s[c]:.0f} s" if c in s else "-" for s in seconds)] for c in chapters]
    rows.append(["**all chapters**", *(f"**{t['total_seconds'] / 60:.1f} min**" for t in results)])
    header = ["chapter", *(f"run {i + 1}" for i in range(len(results)))]
    captions = [f"- run {i + 1}: `{t['command']}` on a {machine_line(t)}; data folder {t['data_folder']}."
                for i, t in enumerate(results)]  # fmt: skip
    return "\n".join(captions) + "\n\n" + markdown_table(header, rows)


def _first_pure(rows: list[dict], estimate: str) -> str:
    """The lowest threshold whose purity by ``estimate`` reaches 90%, and the truth's purity there."""
    for r in rows:
        if r.get(estimate) is not None and r[estimate] >= 0.9:
            return f"{r['threshold']:g} sigma (truth {_num(r.get('truth'))})"
    return "none"


def purity_estimates_table(*, result: dict | None = None) -> str:
    """Purity from the truth against its two estimates without one (``purity_estimates.json``)."""
    estimates = result or committed_result("purity_estimates")
    rows = []
    for method, m in estimates["methods"].items():
        for r in m["thresholds"]:
            if r["detections"]:
                rows.append([method, f"{r['threshold']:g}", r["detections"], _num(r.get("truth")),
                             _num(r.get("negated_stack")), _num(r.get("negated_image"))])  # fmt: skip
        errors = [f"**{_num(m[f'negated_{kind}_mean_abs_error'])}**" for kind in ("stack", "image")]
        rows.append([f"**{method}: mean error**", "", "", "", *errors])
        chosen = [_first_pure(m["thresholds"], kind) for kind in ("truth", "negated_stack", "negated_image")]
        rows.append([f"**{method}: 90% purity reached at**", "", "", *chosen])
    header = ["method", "threshold (sigma)", "detections", "purity from the truth",
              "from the negated stack", "from the negated image"]  # fmt: skip
    return f"`{estimates['command']}` on a {machine_line(estimates)}.\n\n" + markdown_table(header, rows)


# --- survey scale -----------------------------------------------------------------------------


def survey_table(*, result: dict | None = None) -> str:
    """The luminosity function of many mock pointings against its input, per method (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    rows = []
    for method, m in survey["methods"].items():
        fit = "; ".join(f"{k} {p['median']:.2f} [{p['interval_68'][0]:.2f}, {p['interval_68'][1]:.2f}]"
                        f" ({p['input']:.2f}: {'inside' if p['input_inside'] else 'outside'})"
                        for k, p in m["fit"].items())  # fmt: skip
        realized = m.get("bins_within_errors_of_realized")
        flat = m.get("without_migration")
        face_value = flat and f"{flat['bins_within_errors']} / {flat['bins_within_errors_of_realized']}"
        rows.append([METHOD_NAMES.get(method, method), m["pointings"], f"{m['area_arcmin2']:.2f}",
                     m["candidates"], f"{m['bins_within_errors']} of {m['bins_tested']}",
                     "" if realized is None else f"{realized} of {m['bins_tested']}",
                     face_value or "", fit])  # fmt: skip
    header = ["method", "pointings", "area (arcmin^2)", "candidates",
              "bins with n >= 5 within errors of the input", "of the pointings' own truth",
              "counts at face value: input / own truth", "fit: median [68%] (input)"]  # fmt: skip
    return f"`{survey['command']}` on a {machine_line(survey)}.\n\n" + markdown_table(header, rows)


_BACKGROUND_FORMATS = (".0f", ".2f", ".0f", ".0f")


def survey_background_table(*, result: dict | None = None) -> str:
    """Per M_UV bin, the candidates that are not z > 8.5 galaxies: estimated without the truth
    (negated images, dimmed low-z galaxies) against those the truth finds (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    rows, totals = [], []
    for k, m in survey["methods"].items():
        if "background" not in m:
            continue
        parts, truth, n = m["background"], m.get("true_contaminants"), len(m["background"]["M_UV"])
        unknown = [None] * n
        columns = [parts.get("negated", [0] * n), parts["interlopers"],
                   truth["low_z"] if truth else unknown, truth["spurious"] if truth else unknown]  # fmt: skip
        name = METHOD_NAMES.get(k, k)
        for muv, *cells in zip(parts["M_UV"], *columns):
            rows.append([name, f"{muv:.2f}", *map(_num, cells, _BACKGROUND_FORMATS)])
        sums = [sum(columns[0]), parts["interlopers_total"], *(truth and sum(c) for c in columns[2:])]
        totals.append([name, "all", *map(_num, sums, _BACKGROUND_FORMATS)])
    header = ["method", "M_UV", "negated images: selected", "dimmed low-z galaxies: expected",
              "truth: low-z galaxies", "truth: spurious"]  # fmt: skip
    return markdown_table(header, rows + totals)


def field_against_injected_table(*, result: dict | None = None) -> str:
    """Per true M_UV bin, how the fields' own z > 8.5 galaxies and the injected ones came through the
    chain: selected / all, and the median measured-minus-true M_UV of the selected (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    rows = []
    for k, m in survey["methods"].items():
        for row in m.get("field_against_injected", {}).get("by_true_bin", []):
            cells = [f"{row[w]['selected']} / {row[w]['n']}: {_num(row[w]['median_offset'], '+.2f', '-')}"
                     for w in ("field", "injected")]  # fmt: skip
            rows.append([METHOD_NAMES.get(k, k), f"{row['M_UV']:.2f}", *cells])
    header = ["method", "true M_UV", "fields' own galaxies: selected / all: median offset",
              "injected galaxies: selected / all: median offset"]  # fmt: skip
    return markdown_table(header, rows)


def closure_report_table(part: str = "footprint", *, result: dict | None = None) -> str:
    """Per method and true M_UV bin, the fields' own z > 8.5 galaxies against their copies through the
    injection road (``closure.json``): selected fraction, selected given detected and the median
    measured-minus-true M_UV of the selected, original / copy, and their difference in units of its
    error bootstrapped over pointings (bold where 2 sigma or more, in bins with enough galaxies).

    ``part``: ``"footprint"`` (originals where the copies can be placed) or ``"all_originals"``.
    """
    closure = result or committed_result("closure")
    sigmas = {(r["method"], r["M_UV"]): r for r in closure[part]["significance"]}
    rows = []
    for r in closure[part]["table"]:
        if not r["n_original"] and not r["n_copy"]:
            continue
        sigma = sigmas[(r["method"], r["M_UV"])]
        cells = []
        for stat, fmt in (("selected", ".3f"), ("selected_given_detected", ".2f"), ("offset", "+.2f")):
            s = sigma[stat]
            mark = "" if s is None else (f" (**{s:+.1f}σ**)" if abs(s) >= 2 else f" ({s:+.1f}σ)")
            cells.append(
                f"{_num(r[f'{stat}_original'], fmt, '-')} / {_num(r[f'{stat}_copy'], fmt, '-')}{mark}"
            )
        rows.append([METHOD_NAMES.get(r["method"], r["method"]), f"{r['M_UV']:.2f}",
                     f"{r['n_original']} / {r['n_copy']}", *cells])  # fmt: skip
    header = ["method", "true M_UV", "galaxies: originals / copies", "selected", "selected given detected",
              "median measured - true M_UV"]  # fmt: skip
    return markdown_table(header, rows)


def closure_summary(*, result: dict | None = None) -> str:
    """What the closure test ran on and, per method, whether originals and copies agree
    (``closure.json``)."""
    closure = result or committed_result("closure")
    table = closure["footprint"]["table"]
    methods = list(closure["footprint"]["verdict"])
    first = [r for r in table if r["method"] == methods[0]]
    originals, copies = sum(r["n_original"] for r in first), sum(r["n_copy"] for r in first)
    lines = [f"{len(closure['pointings'])} mock pointings ({', '.join(closure['pointings'])}), "
             f"{originals} z > 8.5 galaxies on their footprints and {copies} copies "
             f"(`{closure['command']}`; {machine_line(closure)})."]  # fmt: skip
    for method, verdict in closure["footprint"]["verdict"].items():
        beyond = "; ".join(
            f"{b['statistic'].replace('_', ' ')} at M_UV = {b['M_UV']:.2f} ({b['sigma']:+.1f}σ)"
            for b in verdict["beyond_2_sigma"]
        )
        said = (f"every judged difference within 2σ (largest {verdict['largest_sigma']:.1f}σ)"
                if verdict["agree"] else f"differences of 2σ or more: {beyond}")  # fmt: skip
        lines.append(f"- {METHOD_NAMES.get(method, method)}: {said}.")
    return "\n".join(lines)


def closure_injections_table(*, result: dict | None = None) -> str:
    """Per method and true M_UV bin, the copies of the fields' own galaxies beside the survey's
    uniform injections, as drawn and weighted to the comoving volume (``closure.json``): selected
    fraction and median measured-minus-true M_UV of the selected."""
    closure = result or committed_result("closure")
    copies = {(r["method"], r["M_UV"]): r for r in closure["footprint"]["table"]}
    drawn = closure["injections"]["uniform"]
    weighted = {(r["method"], r["M_UV"]): r for r in closure["injections"]["population_weighted"]}
    rows = []
    for r in drawn:
        key = (r["method"], r["M_UV"])
        c, w = copies.get(key), weighted[key]
        if not r["n"] or c is None or not c["n_copy"]:
            continue
        pairs = (
            (c["selected_copy"], c["offset_copy"]),
            (r["selected"], r["offset"]),
            (w["selected"], w["offset"]),
        )
        cells = [f"{_num(chosen, '.3f', '-')}: {_num(offset, '+.2f', '-')}" for chosen, offset in pairs]
        name = METHOD_NAMES.get(r["method"], r["method"])
        rows.append([name, f"{r['M_UV']:.2f}", f"{c['n_copy']} / {r['n']}", *cells])
    header = ["method", "true M_UV", "galaxies: copies / injected", "copies: selected: offset",
              "injected, uniform in z", "injected, weighted by dV/dz"]  # fmt: skip
    return markdown_table(header, rows)


def closure_contamination_table(*, result: dict | None = None) -> str:
    """Per run of the closure test and method, the candidates that are not z > 8.5 galaxies by the
    truth against the sum of the candidates' own photo-z probabilities of lying at z < 8.5
    (``closure.json``)."""
    closure = result or committed_result("closure")
    rows = []
    for label, run in _closure_runs(closure):
        for method, c in run.get("contamination", {}).items():
            counts = [f"{sum(c[k]):{f}}" for k, f in (("truth_low_z", ".0f"), ("truth_spurious", ".0f"),
                                                       ("estimated_posterior", ".1f"))]  # fmt: skip
            rows.append([label, METHOD_NAMES.get(method, method), c["candidates"], *counts])
    header = ["pointings", "method", "candidates", "truth: low-z galaxies", "truth: spurious",
              "estimated: sum of P(z < 8.5)"]  # fmt: skip
    return markdown_table(header, rows)


def injection_check_table(*, result: dict | None = None) -> str:
    """The coadd's luminosity function on the closure test's pointings with uniform injections and
    with injections drawn as a population is (``closure.json``, ``injection_check``): per M_UV bin
    the candidates, completeness and phi against the input, and per set the bins within errors and
    the fitted faint-end slope."""
    check = (result or committed_result("closure"))["injection_check"]
    names = {
        "uniform": "uniform in M_UV and z",
        "population": f"as a population (slope {check['muv_slope']:g})",
    }
    rows = []
    for key, label in names.items():
        lf = check[key]
        a = lf["alpha"]
        judged = f"{lf['bins_within_errors']} of {lf['bins_tested']} judged bins"
        fit = f"alpha {a['median']:.2f} [{a['interval_68'][0]:.2f}, {a['interval_68'][1]:.2f}]"
        rows.append([f"**{label}**", "", "", "", judged, fit])
        for b in lf["bins"]:
            if b["n"] < 1:
                continue
            phi = f"{b['phi'] / 1e-5:.3g} [{b['phi_lo'] / 1e-5:.2g}, {b['phi_hi'] / 1e-5:.3g}]"
            judged = ("within" if b["within"] else "outside") if b["tested"] else "not judged"
            rows.append(["", f"{b['M_UV']:.2f}", f"{b['n']:.0f}", f"{b['completeness']:.2f}", judged,
                         f"{phi} (input {b['phi_input'] / 1e-5:.3g})"])  # fmt: skip
    header = ["injections", "M_UV", "candidates", "completeness", "against the input",
              "phi, 1e-5 Mpc⁻³ mag⁻¹ [interval]"]  # fmt: skip
    return markdown_table(header, rows)


def through_injections_table(*, result: dict | None = None) -> str:
    """Candidates per measured M_UV bin: found, and expected from the fields' own z > 8.5 galaxies
    had they come through the chain as the injections did (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    methods = {k: m for k, m in survey["methods"].items() if "field_against_injected" in m}
    rows = []
    for i, muv in enumerate(next(iter(methods.values()), {}).get("background", {}).get("M_UV", [])):
        cells = []
        for m in methods.values():
            parts = m["background"]
            background = parts["interlopers"][i] + (parts["negated"][i] if "negated" in parts else 0)
            expected = m["field_against_injected"]["through_injections"][i]
            cells.append(f"{m['found_per_bin'][i]} ({background:.1f}): {expected:.1f}")
        rows.append([f"{muv:.2f}", *cells])
    header = ["measured M_UV", *(f"{METHOD_NAMES.get(k, k)}: found (background): expected" for k in methods)]
    return markdown_table(header, rows)


def survey_cost_table(*, result: dict | None = None) -> str:
    """Seconds per pointing by stage, per run of the survey benchmark, and the runs' wall times."""
    survey = result or committed_result("survey_uvlf")
    runs = [{"mock_version": survey.get("mock_version"), "cost": survey["cost"], "rounds": survey["rounds"]},
            *survey.get("earlier_runs", [])]  # fmt: skip
    rows, walls = [], []
    for run in runs:
        suffix = "" if run is runs[0] else f" (mock version {run['mock_version']})"
        rows += _cost_rows(run["cost"], suffix)
        walls += [[i["label"] + suffix, i["scheduler"], i["workers"], i["computed"],
                   f"{i['wall_seconds']:.0f}", _num(i["seconds_per_computed_pointing"], ".0f")]
                  for i in run["rounds"] if i["computed"]]  # fmt: skip
    header = ["run", "torch threads per worker", "pointings", "load (s)", "fine-tune (s)", "search (s)",
              "injections (s)", "total (s)"]  # fmt: skip
    wall_header = ["run", "cluster", "workers", "pointings computed", "wall (s)", "wall per pointing (s)"]
    return markdown_table(header, rows) + "\n\n" + markdown_table(wall_header, walls)


def _cost_rows(cost: dict, suffix: str) -> list[list]:
    rows = []
    for label, by_threads in cost.items():
        for threads, c in by_threads.items():
            stages = [
                f"{c['mean_seconds'].get(k, 0):.0f}"
                for k in ("load", "train", "search", "injections", "total")
            ]
            rows.append([label + suffix, threads.replace("_", " "), c["pointings"], *stages])
    return rows


def photoz_templates_table(*, result: dict | None = None) -> str:
    """Photo-z accuracy per template set and photometry, overall and per S/N (``photoz_templates.json``)."""
    pz = result or committed_result("photoz_templates")
    rows = []
    for way, f in pz["ways"].items():
        templates, photometry = way.split("/")
        cells = [f"{_num(r['sigma_nmad'], '.3f')} / {_num(r['outlier_fraction'])}" for r in f["all"]]
        h, s = f["true_high_z"], f["selection"]
        rows.append([templates.replace("_", " "), photometry.replace("_", " "), *cells,
                     f"{_num(h['sigma_nmad'], '.3f')} / {_num(h['outlier_fraction'])}",
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
