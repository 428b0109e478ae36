"""The front page's and the README's prose, written from the committed results."""

from __future__ import annotations

import math

from ...tuning import emulated_isa, machine_line
from ..chapters import committed_result
from .cells import CHAPTER_3, CHAPTER_6, METHOD_NAMES, format_gain, markdown_table
from .depth import asteris_models, headroom_sentence, headroom_table, sweep_model
from .survey import closure_clause

__all__ = ["findings", "verdict", "readme_findings", "speed_sentence", "mock_version_note"]


def findings(*, depth: dict | None = None, sweep: dict | None = None, highz: dict | None = None) -> str:
    """The front page's answer: depth under each protocol against the limit, photometry, PSF, z > 8.5."""
    depth = depth or committed_result("depth")
    all_noise, white = depth["fields"]["all_noise"], depth["fields"]["white_noise"]
    ivar = all_noise["methods"]["ivar"]
    models = asteris_models(all_noise)
    rows = [
        [
            METHOD_NAMES[k],
            format_gain(s["dm90"], s["dm90_err"]),
            format_gain(all_noise["protocols"]["paper"][k].get("dm90")),
            format_gain(white["protocols"]["paper"][k].get("dm90")),
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
        f"**{format_gain(best['dm90'], best['dm90_err'])} mag** under the optimal protocol (matched filter, "
        f"90% purity): {verdict(best, all_noise['headroom'])}. The paper-style protocol "
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


def verdict(summary: dict, headroom: float) -> str:
    """Zero within two sigma, a loss, or the fraction of the headroom gained."""
    gain, error = summary["dm90"], summary["dm90_err"]
    if abs(gain) <= 2 * error:
        return "nothing, within errors"
    return "a loss" if gain < 0 else f"{gain / headroom:.0%} of the headroom"


def _sweep_sentence(sweep: dict | None) -> str:
    sweep = sweep or committed_result("depth_sweep")
    rows = sweep["sweep"]["rows"]
    model = sweep_model(rows)
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
        f"{METHOD_NAMES.get(model, model)} over the strength sweep is {format_gain(best)} "
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
        f"chain does not yet recover it: " + "; ".join(parts) + f". {closure_clause()} ({CHAPTER_6}; "
        f"{{ref}}`the survey <bench-survey>`, {{ref}}`the closure test <bench-closure>`)."
    )


def readme_findings(*, depth: dict | None = None, highz: dict | None = None) -> str:
    """The README's headline findings, a few lines that link into the book."""
    depth = depth or committed_result("depth")
    field = depth["fields"]["all_noise"]
    models = asteris_models(field)
    paper = field["protocols"]["paper"]
    white = depth["fields"]["white_noise"]["protocols"]["paper"]
    gains = ", ".join(f"{METHOD_NAMES[k]} {format_gain(s['dm90'], s['dm90_err'])}" for k, s in models.items())
    paper_gains = ", ".join(f"{format_gain(white[k].get('dm90'))}" for k in models)
    own = [s["mag_bias_sn10"] for s in models.values()]
    corrections = committed_result("depth_corrections")
    noise = corrections["summary"]["headroom_by_noise"]
    stripes = corrections["summary"]["attribution"]["one_over_f"]
    after = round(stripes["after_by_noise"], 2) + 0.0  # no "-0.00"

    def m90(name: str) -> str:
        entry = corrections["fields"][name]["optimal"]
        return f"{entry['m90']:.2f} ± {entry['m90_err']:.2f}"

    survey = highz or committed_result("survey_uvlf")
    closure = closure_clause()
    recovered = ", ".join(
        f"{METHOD_NAMES.get(k, k)} {m['bins_within_errors']} of {m['bins_tested']}"
        for k, m in survey["methods"].items()
    )
    return "\n".join(
        [
            f"- **Depth, optimal protocol** (matched filter, 90% purity, against the inverse-variance coadd, "
            f"calibrated mock, F200W): dm90 = {gains} mag, out of a headroom of {field['headroom']:.2f} mag "
            f"(`benchmarks/results/depth.json`{mock_version_note(depth)}).",
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
            f"{', '.join(format_gain(paper[k].get('dm90')) for k in models)} mag "
            "with the structured noise on.",
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


def mock_version_note(result: dict) -> str:
    """Where a result predates the exposure corrections (mock version 4), a note saying so."""
    if result.get("mock_version", 3) >= 4:
        return ""
    return "; measured on mock version 3, exposures as they come, against the white-noise twin"
