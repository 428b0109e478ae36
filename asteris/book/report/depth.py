"""The depth study's tables: both protocols, the corrections, the headroom, the sweep and purity estimates."""

from __future__ import annotations

import math

from ...tuning import machine_line
from ..chapters import committed_result
from .cells import COMPONENT_NAMES, METHOD_NAMES, format_gain, format_number, markdown_table

__all__ = [
    "depth_table",
    "CORRECTION_FIELDS",
    "corrections_table",
    "corrections_attribution_table",
    "HEADROOM_ROWS",
    "PAPER_CELLS",
    "headroom_table",
    "headroom_sentence",
    "paper_protocol_table",
    "sweep_table",
    "sweep_model",
    "convergence_table",
    "asteris_models",
    "purity_estimates_table",
]


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
            f"{format_gain(equal, s.get('dm90_equal_spurious_err'))} at {s['threshold_equal_spurious']:g}"
            if equal is not None
            else ("no threshold reaches it" if "dm90" in s else "")
        )
        fraction = optimal.get(method, {}).get("fraction_of_headroom") if figures["headroom"] > 0 else None
        rows.append(
            [
                METHOD_NAMES.get(method, method),
                format_number(s["threshold"], "g"),
                f"{s['m90']:.2f} ± {s['m90_err']:.2f}",
                format_number(s["purity"], ".3f"),
                f"{s['mag_bias_sn10']:+.2f} / {s['mag_bias_sn10_dual']:+.2f}",
                format_number(s["random_aperture_noise_ratio"]),
                format_number(s["fwhm_ratio"], ".3f"),
                format_number(s["spurious_per_arcmin2"], ".0f"),
                f"**{format_gain(s['dm90'], s['dm90_err'])}**" if "dm90" in s else "",
                format_number(fraction) if "dm90" in s else "",
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
            f"{format_number(optimal['m90'])} ± {format_number(optimal['m90_err'])}",
            format_number(limit - optimal["m90"], "+.2f", "n/a") if name in ("plain", "corrected") else "-",
            format_number(optimal["purity"], ".3f", "n/a"),
            format_number(optimal.get("spurious_per_arcmin2"), ".1f", "-"),
            format_number(optimal["mag_bias_sn10"], "+.3f", "n/a"),
            f"{format_number(paper.get('m90'), '.2f', '-')} / "
            f"{format_number(paper.get('purity'), '.3f', '-')} / "
            f"{format_number(paper.get('spurious_per_arcmin2'), '.1f', '-')}",
        ])  # fmt: skip
    header = ["F200W field", "m90 (optimal)", "headroom left", "purity", "spurious / arcmin²",
              "bias at S/N 10", "paper-style: m90 / purity / spurious (mean coadd)"]  # fmt: skip
    return markdown_table(header, rows)


def corrections_attribution_table(*, result: dict | None = None) -> str:
    """The m90 each structured component costs the coadd, as it comes and after its correction."""
    from ...mock.calibration import CORRECTED

    r = result or committed_result("depth_corrections")
    rows = [
        [COMPONENT_NAMES.get(name, name.replace("_", " ")), format_number(row["before"], "+.2f", "n/a"),
         format_number(row["after"], "+.2f", "n/a"), format_number(row.get("before_by_noise"), "+.3f", "-"),
         format_number(row.get("after_by_noise"), "+.3f", "-"), CORRECTED.get(name, "none").replace("_", " ")]
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
        noise = (
            format_number(row.get("gain_by_noise"), "+.3f", "-"),
            format_number(row.get("fraction_by_noise"), ".2f", "-"),
        )
        rows.append([
            label,
            f"{format_number(row['m90'])} ± {format_number(row['m90_err'])}",
            format_number(row["gain"], "+.2f", "n/a"),
            format_number(row["fraction_of_headroom"], ".2f", "n/a"),
            " / ".join(noise),
            format_number(row["purity"], ".3f", "n/a"),
            format_number(row["spurious_per_arcmin2"], ".0f", "n/a"),
            format_number(row["mag_bias_sn10_dual"], "+.3f", "n/a"),
            " / ".join(format_number(paper.get(k), f, "-") for k, f in PAPER_CELLS),
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
                    format_number(p["purity"]),
                    format_number(p["spurious_per_arcmin2"], ".0f"),
                    format_gain(p.get("dm90"), p.get("dm90_err")) if "dm90" in p else "baseline",
                ]
            )
    return markdown_table(
        ["field", "method", "m90 (AB)", "purity", "spurious / arcmin²", "dm90 vs mean"], rows
    )


def sweep_table(*, result: dict | None = None) -> str:
    """Headroom and gains against the strength of the structured noise (``depth_sweep.json``)."""
    rows, sweep = [], (result or committed_result("depth_sweep"))["sweep"]["rows"]
    model = sweep_model(sweep)
    for r in sweep:
        gain = r["dm90"].get(model)
        headroom = r["headroom"]
        fraction = gain / headroom if gain is not None and math.isfinite(gain) and headroom > 0 else None
        coadds = " / ".join(format_gain(r["dm90"].get(m)) for m in ("mean", "median", "sigma_clip"))
        rows.append(
            [
                f"{r['scale']:g}",
                f"{r['coadd_m90']:.2f}",
                f"{headroom:+.2f}",
                format_gain(gain, r["dm90_err"].get(model)),
                format_number(fraction, ".2f", "n/a"),
                coadds,
                format_gain(r["dm90_paper"].get(model)),
                format_number(r["purity_paper"].get(model)),
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


def sweep_model(rows: list[dict]) -> str:
    """The ASTERIS model a strength sweep measured (``asteris_tiny``, or the fine-tuned one)."""
    return next((m for m in rows[0]["dm90"] if m.startswith("asteris_")), "asteris_tiny")


def convergence_table(*, result: dict | None = None) -> str:
    """dm90 and validation loss against training steps (``convergence.json``)."""
    rows = [
        [f"`{r['preset']}`", f"{r['step']:,}", f"{r['val_loss']:,.0f}", format_gain(r["dm90"], r["dm90_err"])]
        for r in (result or committed_result("convergence"))["convergence"]["rows"]
    ]
    return markdown_table(["model", "steps", "validation loss", "dm90 vs ivar (optimal)"], rows)


def asteris_models(field: dict) -> dict:
    """The ASTERIS models of one field of ``depth.json`` (the coadds are the baselines)."""
    return {k: v for k, v in field["methods"].items() if k.startswith("asteris_")}


def _first_pure(rows: list[dict], estimate: str) -> str:
    """The lowest threshold whose purity by ``estimate`` reaches 90%, and the truth's purity there."""
    for r in rows:
        if r.get(estimate) is not None and r[estimate] >= 0.9:
            return f"{r['threshold']:g} sigma (truth {format_number(r.get('truth'))})"
    return "none"


def purity_estimates_table(*, result: dict | None = None) -> str:
    """Purity from the truth against its two estimates without one (``purity_estimates.json``)."""
    estimates = result or committed_result("purity_estimates")
    rows = []
    for method, m in estimates["methods"].items():
        for r in m["thresholds"]:
            if r["detections"]:
                purities = [format_number(r.get(k)) for k in ("truth", "negated_stack", "negated_image")]
                rows.append([method, f"{r['threshold']:g}", r["detections"], *purities])
        errors = [f"**{format_number(m[f'negated_{kind}_mean_abs_error'])}**" for kind in ("stack", "image")]
        rows.append([f"**{method}: mean error**", "", "", "", *errors])
        chosen = [_first_pure(m["thresholds"], kind) for kind in ("truth", "negated_stack", "negated_image")]
        rows.append([f"**{method}: 90% purity reached at**", "", "", *chosen])
    header = ["method", "threshold (sigma)", "detections", "purity from the truth",
              "from the negated stack", "from the negated image"]  # fmt: skip
    return f"`{estimates['command']}` on a {machine_line(estimates)}.\n\n" + markdown_table(header, rows)
