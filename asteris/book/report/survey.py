"""The survey's tables: the luminosity function of many pointings, its background and the closure test."""

from __future__ import annotations

from statistics import fmean

from ...tuning import machine_line
from ..chapters import committed_result
from .cells import METHOD_NAMES, format_number, markdown_table

__all__ = [
    "survey_table",
    "survey_budget_table",
    "survey_background_table",
    "field_against_injected_table",
    "closure_report_table",
    "closure_summary",
    "closure_injections_table",
    "closure_contamination_table",
    "contamination_table",
    "colour_residuals_table",
    "CONTAMINATION_FIELDS",
    "injection_check_table",
    "through_injections_table",
    "survey_cost_table",
    "scaling_table",
    "packing_table",
    "closure_runs",
    "closure_clause",
]


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


def survey_budget_table(*, result: dict | None = None) -> str:
    """Per method and M_UV bin: the candidates found against those the input function gives through the
    survey's own transfer and those of the fit, and each bin's error budget (relative, 1 sigma): the
    counts' spread between draws of the pointings, the completeness's, and the fitted shape's in the
    bin's volume; then the found counts' chi^2 against the input and where the input's faint-end slope
    falls in the fit's posterior (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    rows, notes = [], []
    for method, m in survey["methods"].items():
        name = METHOD_NAMES.get(method, method)
        for b in m["bins"]:
            n = max(b["n"], 1)
            rows.append([name, f"{b['M_UV']:.2f}", b["n"], format_number(b.get("n_input"), ".1f"),
                         format_number(b.get("n_fit"), ".1f"), f"{b['completeness']:.2f}",
                         f"{b['sd_counts'] / n:.2f}", f"{b['rel_err_volume']:.2f}",
                         format_number(b.get("rel_err_shape"), ".2f"),
                         "yes" if b["tested"] else ""])  # fmt: skip
        if test := m.get("input_against_counts"):
            given, fit = test["input"], test["fit"]
            notes.append(f"{name}: chi^2 of the found counts {given['chi2']:.1f} over {given['bins']} bins "
                         f"against the input (p = {given['p_value']:.2f}), {fit['chi2']:.1f} against the "
                         f"fit; the input's alpha at the {test['alpha_input_quantile']:.1%} quantile of "
                         "the fit's posterior")  # fmt: skip
        if reason := m.get("targets_missed_because"):
            notes.append(f"{name}, where a target is missed: {reason}")
    header = ["method", "M_UV", "found", "expected from the input", "expected from the fit", "completeness",
              "counts' spread / n", "completeness's error", "shape's error", "judged"]  # fmt: skip
    return markdown_table(header, rows) + ("\n\n" + ".\n\n".join(notes) + "." if notes else "")


def survey_background_table(*, result: dict | None = None) -> str:
    """Per M_UV bin, the candidates that are not z > 8.5 galaxies: estimated without the truth
    (negated images, dimmed low-z galaxies, and modelled interlopers where the run has them) against
    those the truth finds (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    modelled = any("modelled" in m.get("background", {}) for m in survey["methods"].values())
    rows, totals = [], []
    for k, m in survey["methods"].items():
        if "background" not in m:
            continue
        parts, truth, n = m["background"], m.get("true_contaminants"), len(m["background"]["M_UV"])
        unknown = [None] * n
        estimated = [parts.get("negated", [0] * n), parts["interlopers"]]
        sums = [sum(estimated[0]), parts["interlopers_total"]]
        if modelled:
            estimated.append(parts.get("modelled", unknown))
            sums.append(parts.get("modelled_total"))
        columns = [*estimated, truth["low_z"] if truth else unknown, truth["spurious"] if truth else unknown]
        sums += [truth and sum(c) for c in columns[-2:]]
        formats = [".0f", *[".2f"] * (len(estimated) - 1), ".0f", ".0f"]
        name = METHOD_NAMES.get(k, k)
        for muv, *cells in zip(parts["M_UV"], *columns):
            rows.append([name, f"{muv:.2f}", *map(format_number, cells, formats)])
        totals.append([name, "all", *map(format_number, sums, formats)])
    header = ["method", "M_UV", "negated images: selected", "dimmed low-z galaxies: expected",
              *(["modelled interlopers: expected"] if modelled else []), "truth: low-z galaxies",
              "truth: spurious"]  # fmt: skip
    return markdown_table(header, rows + totals)


def field_against_injected_table(*, result: dict | None = None) -> str:
    """Per true M_UV bin, how the fields' own z > 8.5 galaxies and the injected ones came through the
    chain: selected / all, and the median measured-minus-true M_UV of the selected (``survey_uvlf.json``)."""
    survey = result or committed_result("survey_uvlf")
    rows = []
    for k, m in survey["methods"].items():
        for row in m.get("field_against_injected", {}).get("by_true_bin", []):
            cells = [f"{row[w]['selected']} / {row[w]['n']}: "
                     f"{format_number(row[w]['median_offset'], '+.2f', '-')}"
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
            original, copy = (format_number(r[f"{stat}_{side}"], fmt, "-") for side in ("original", "copy"))
            cells.append(f"{original} / {copy}{mark}")
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
        cells = [
            f"{format_number(chosen, '.3f', '-')}: {format_number(offset, '+.2f', '-')}"
            for chosen, offset in pairs
        ]
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
    for label, run in closure_runs(closure):
        for method, c in run.get("contamination", {}).items():
            counts = [f"{sum(c[k]):{f}}" for k, f in (("truth_low_z", ".0f"), ("truth_spurious", ".0f"),
                                                       ("estimated_posterior", ".1f"))]  # fmt: skip
            rows.append([label, METHOD_NAMES.get(method, method), c["candidates"], *counts])
    header = ["pointings", "method", "candidates", "truth: low-z galaxies", "truth: spurious",
              "estimated: sum of P(z < 8.5)"]  # fmt: skip
    return markdown_table(header, rows)


#: The estimates of ``contamination.json``, in the table's order, with what each is.
CONTAMINATION_ESTIMATES = {
    "negated": "negated images",
    "dimmed": "dimmed bright galaxies",
    "simulated_truth": "simulated sky: the pointings' own objects",
    "simulated_model": "simulated sky: a model drawn anew",
}


#: The other skies of ``contamination.json`` (``fields``), as the page names them.
CONTAMINATION_FIELDS = {
    "physical": "without the structured noise and the exposure-level corrections (the physical limit)",
    "physical_corrected": "without the structured noise, with the exposure-level corrections",
}


def colour_residuals_table(*, result: dict | None = None) -> str:
    """Per band, the robust scatter of the truth-matched detections' fluxes about their truth in units
    of their errors and the fractions beyond -3 and +3, against Gaussian errors (``contamination.json``)."""
    c = result or committed_result("contamination")
    rows = [[band, r["n"], f"{r['nmad']:.2f}", *(f"{100 * r[k]:.2f}%" for k in ("below_minus_3", "above_3"))]
            for band, r in c["colour_residuals"].items()]  # fmt: skip
    rows.append(["Gaussian errors", "", "1.00", "0.13%", "0.13%"])
    return markdown_table(["band", "detections", "robust scatter", "below -3", "above +3"], rows)


def contamination_table(*, result: dict | None = None) -> str:
    """Per measured M_UV bin, the coadd's candidates that are not z > 8.5 galaxies by the truth against
    each estimate of them, with each estimate's total and its distance from the truth in sigma
    (``contamination.json``)."""
    c = result or committed_result("contamination")
    per_bin = c["per_bin"]
    truth = [a + b for a, b in zip(per_bin["low_z"], per_bin["spurious"])]
    header = ["", *(f"{m:g}" for m in c["M_UV"]), "total", "minus truth"]
    counted = {"candidates": (per_bin["candidates"], c["totals"]["candidates"]),
               "truth: not z > 8.5": (truth, c["true_interlopers"])}
    rows = [[label, *(f"{n:.0f}" for n in values), f"{total:.0f}", ""]
            for label, (values, total) in counted.items()]  # fmt: skip
    for key, label in CONTAMINATION_ESTIMATES.items():
        e = c["estimates"][key]
        rows.append([label, *(f"{n:.2g}" for n in per_bin[key]), f"{e['total']:.1f}",
                     f"{e['minus_truth_sigma']:+.1f} sigma"])  # fmt: skip
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
        name = run.get("name") or f"mock version {run['mock_version']}"
        suffix = "" if run is runs[0] else f" ({name})"
        rows += _cost_rows(run["cost"], suffix)
        walls += [[i["label"] + suffix, i["scheduler"], i["workers"], i["computed"],
                   f"{i['wall_seconds']:.0f}", format_number(i["seconds_per_computed_pointing"], ".0f")]
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


def closure_runs(closure: dict) -> list[tuple[str, dict]]:
    """The runs of ``closure.json``: the survey's own seeds, and the fresh skies where there are some."""
    fresh = [("fresh skies", closure["fresh_skies"])] if "fresh_skies" in closure else []
    return [("seeds of the survey", closure), *fresh]


def closure_clause(closure: dict | None = None) -> str:
    """One sentence: do the fields' own galaxies and their copies through the injection road agree?"""
    closure = closure or committed_result("closure")
    verdicts = [(len(run["pointings"]), k, v) for _, run in closure_runs(closure)
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


_STAGES = ("load", "train", "search", "injections")


def scaling_table(*, result: dict | None = None) -> str:
    """A pointing's cost by stage and its peak memory against its area, the fit's extrapolation to a
    real NIRCam pointing, and the injection stage with and without reuse (``scaling.json``)."""
    scaling = result or committed_result("scaling")
    rows = []
    for run in scaling["runs"]:
        seconds, peak, held = run["seconds"], run["peak_rss_mb"], run.get("peak_anonymous_mb")
        rows.append([f"{run['side']} x {run['side']}", f"{run['area_arcmin2']:.3f}", run["injected"],
                     *(f"{seconds[s]:.0f}" for s in _STAGES), f"{seconds['total']:.0f}",
                     f"{run['network_pass']['seconds']:.0f}" if "network_pass" in run else "",
                     *(f"{peak[s]:.0f}" for s in _STAGES), f"{peak['process']:.0f}",
                     "" if held is None else f"{held['process']:.0f}"])  # fmt: skip
    real = scaling.get("real_pointing")
    if real:
        seconds, network = real["seconds"], real.get("network_pass_seconds")
        held = real.get("peak_anonymous_mb")
        rows.append(["**one NIRCam module (fit)**", f"{real['area_arcmin2']:.2f}", "",
                     *(f"{seconds[s]:.0f}" for s in _STAGES), f"{seconds['total']:.0f}",
                     "" if network is None else f"{network:.0f}", "", "", "", "",
                     f"{real['peak_rss_mb']:.0f}", "" if held is None else f"{held:.0f}"])  # fmt: skip
    header = ["pointing (px)", "area (arcmin^2)", "injected", *(f"{s} (s)" for s in _STAGES), "total (s)",
              "network's pass (s)", *(f"{s}: peak RSS (MB)" for s in _STAGES), "process: peak RSS (MB)",
              "process: peak anonymous (MB)"]  # fmt: skip
    text = f"`{scaling['command']}` on a {machine_line(scaling)}.\n\n" + markdown_table(header, rows)
    earlier = scaling.get("earlier")
    if earlier:
        peaks = ", ".join(f"{r['peak_rss_mb']['process']:.0f}" for r in earlier["runs"])
        sides = ", ".join(str(r["side"]) for r in earlier["runs"])
        module = earlier["real_pointing"]["peak_rss_mb"] / 1000
        text += f"\n\n{earlier['what']}: peak RSS {peaks} MB at {sides} px; a NIRCam module {module:.1f} GB"
        text += " by its fit."
    injections = scaling.get("injections")
    if injections:
        per = injections["seconds_per_realization"]
        same = "the same rows" if injections["identical_rows"] else "**different rows**"
        each = injections["rows"] // injections["realizations"]
        text += (f"\n\nOne realization of {each} injected galaxies on the 512 x 512 pointing: "
                 f"{per['full']:.1f} s through the full chain, {per['reuse']:.1f} s with reuse "
                 f"({injections['speedup']:.2f}x), {same} for {injections['rows']} galaxies.")  # fmt: skip
    if scaling.get("dask"):
        text += "\n\n" + _dask_table(scaling)
    return text


def _dask_table(scaling: dict) -> str:
    """One pointing on one and two Dask workers, its stages and its speed-up over the first run."""
    runs, stages = scaling["dask"], ("train", "search", "injections")
    base = _pass_baselines(runs)
    rows = [[r.get("repeat", 0) + 1, r["scheduler"], r["workers"], r["torch_threads_per_worker"],
             f"{r['side']} x {r['side']}",
             *(f"{r['seconds'][s]:.0f}" if r.get("seconds") else "" for s in stages),
             f"{r['wall_seconds']:.0f}",
             f"{base[_pass(r)]['wall_seconds'] / r['wall_seconds']:.2f}",
             r["status"]] for r in runs]  # fmt: skip
    header = ["pass", "cluster", "workers", "torch threads per worker", "pointing (px)", "fine-tuning (s)",
              "search (s)", "injections (s)", "wall (s)", "speed-up", "status"]  # fmt: skip
    text = ("One pointing, the parts of its search and of its injection realizations (each band's images, "
            "then each realization's search, in the newest runs) spread over the workers "
            "(speed-up: the wall time of the pass's first run, one worker of one thread, over the row's; "
            "where the stages overlap, each stage's time runs until its last part ended):"
            "\n\n" + markdown_table(header, rows))
    for side in dict.fromkeys(r["side"] for r in runs):
        hashes = [(r["torch_threads_per_worker"], r.get("tables_sha256")) for r in runs if r["side"] == side]
        one_thread = [h for threads, h in hashes if threads == 1]
        if all(one_thread):
            alike = sum(h == one_thread[0] for h in one_thread)
            text += (f"\n\n{side} px: {alike} of the {len(one_thread)} runs on one-thread workers wrote the "
                     f"first run's {len(one_thread[0])} tables byte for byte (their SHA-256).")  # fmt: skip
    text += "\n\n" + _serial_share_line(scaling)
    for both in scaling.get("two_at_once", []):
        together = " and ".join(f"{t:.1f}" for t in both["together_seconds"])
        pages = "huge pages" if both.get("env", {}).get("THP_MEM_ALLOC_ENABLE") == "1" else "4-KB pages"
        trim = " and Dask's MALLOC_TRIM_THRESHOLD_" if "MALLOC_TRIM_THRESHOLD_" in both.get("env", {}) else ""
        text += (f"\n\nThe network's pass over the detection bands of a {both['side']}-px pointing, on one "
                 f"thread, its tensors on {pages}{trim}: {both['alone_seconds']:.1f} s alone, "
                 f"{together} s as two processes at once.")  # fmt: skip
    for key in ("dask_whole_realizations", "dask_without_huge_pages", "dask_before_overlap",
                "dask_realizations_only"):  # earlier runs
        earlier = scaling.get(key)
        if earlier:
            text += f"\n\n{earlier['what']}; wall time by workers x torch threads, {_walls(earlier['runs'])}."
    return text


def _walls(runs: list[dict]) -> str:
    """The wall times of one-pointing runs, by pointing size, e.g. ``384 px: 1 x 1 213 s, 2 x 1 139 s``."""
    sides = dict.fromkeys(r["side"] for r in runs)
    return "; ".join(f"{side} px: " + ", ".join(
        f"{'by hand ' if r['scheduler'] == 'hand-started' else ''}{r['workers']} x "
        f"{r['torch_threads_per_worker']} {r['wall_seconds']:.0f} s"
        for r in runs if r["side"] == side) for side in sides)  # fmt: skip


def _pass(run: dict) -> tuple[int, int]:
    """The pass a one-pointing run belongs to: its pointing's side and its repeat."""
    return run["side"], run.get("repeat", 0)


def _pass_baselines(runs: list[dict]) -> dict:
    """Each pass's baseline, by `_pass`: its run on one worker of one thread."""
    return {_pass(r): r for r in runs if r["workers"] == 1 and r["torch_threads_per_worker"] == 1}


def _amdahl(serial_share: float, workers: int, *, pace: float = 1.0) -> float:
    """The most that ``workers`` can speed up a job of which ``serial_share`` runs in turn, where each
    runs at ``pace`` of one worker's speed alone while the others run too."""
    return 1.0 / (serial_share + (1.0 - serial_share) / (workers * pace))


def _pace_side_by_side(scaling: dict, side: int) -> float | None:
    """How fast one of two one-thread processes runs the network's pass against one alone (``side`` px),
    measured in the workers' environment (`~asteris.fanout.WORKER_ENV`) where it was."""
    both = [r for r in scaling.get("two_at_once", [])
            if r["side"] == side and "MALLOC_TRIM_THRESHOLD_" not in r.get("env", {})]  # as the workers run
    both.sort(key=lambda r: r.get("env", {}).get("THP_MEM_ALLOC_ENABLE") == "1")
    return both[-1]["alone_seconds"] / fmean(both[-1]["together_seconds"]) if both else None


def _serial_share_line(scaling: dict) -> str:
    """What the fine-tuning, a hundred steps each needing the last, leaves to spread: its share of the
    one-worker time per pointing size, the speed-up that share allows and the best measured."""
    parts, base = [], _pass_baselines(scaling["dask"])
    for side in dict.fromkeys(r["side"] for r in scaling["dask"]):
        paired = [(base[_pass(r)], r) for r in scaling["dask"]
                  if r["side"] == side and r["workers"] == 2 and _pass(r) in base]  # fmt: skip
        if not paired:
            continue
        alone = [r for (s, _), r in base.items() if s == side]
        share = fmean(r["seconds"]["train"] / r["seconds"]["total"] for r in alone)
        one, two = max(paired, key=lambda pair: pair[0]["wall_seconds"] / pair[1]["wall_seconds"])
        after = [sum(r["seconds"][s] for s in ("search", "injections")) for r in (one, two)]
        parts.append(f"At {side} px it is {share:.0%} of one worker's time, so two workers can give at "
                     f"most {_amdahl(share, 2):.2f}x; measured at best "
                     f"{one['wall_seconds'] / two['wall_seconds']:.2f}x (search and injections together "
                     f"{after[0] / after[1]:.2f}x).")  # fmt: skip
        pace = _pace_side_by_side(scaling, side)
        if pace is not None and pace >= 0.97:
            parts.append("Two one-thread processes at once each run the network as fast as one alone at "
                         f"this size ({min(pace, 1.0):.0%} of its pace, `--two-at-once`): the machine takes "
                         "nothing off that bound.")  # fmt: skip
        elif pace is not None:
            parts.append(f"Two one-thread processes at once each run the network at {pace:.0%} of its pace "
                         f"alone at this size (`--two-at-once`), so this machine allows at most "
                         f"{_amdahl(share, 2, pace=pace):.2f}x.")  # fmt: skip
    real = scaling.get("real_pointing")
    if real:
        share = real["seconds"]["train"] / real["seconds"]["total"]
        parts.append(f"On one NIRCam module, by the fit, it is {share:.1%}: at most "
                     f"{_amdahl(share, 2):.2f}x on two workers.")  # fmt: skip
    return ("The fine-tuning runs on one worker: its steps follow one another, and it stays in one "
            "process so that its model does not depend on the cluster. " + " ".join(parts) + " The "
            "coadd's search needs no network and runs on the other workers meanwhile. Then the search's "
            "parts (the network's image of each detection band, then each search) and the realizations "
            "run side by side, so that no worker waits for a stage's last part; a worker beyond their "
            "number has nothing to do.")


def _sigma_cell(value) -> str:
    text = format_number(value, "+.1f", "-")
    return f"**{text}**" if value is not None and abs(value) >= 2 else text


def packing_table(*, result: dict | None = None) -> str:
    """Injections packed into one realization against the survey's several: the stages' time on the
    timed pointings, then completeness and migration per true M_UV bin, each way, with the difference
    in sd of the paired bootstrap over pointings (``packing.json``)."""
    packing = result or committed_result("packing")
    survey, packed = packing["survey_setting"], packing["packed_setting"]
    names = (f"{survey['realizations']} x {survey['per_realization']}", f"{packed['realizations']} x "
             f"{packed['per_realization']}")  # fmt: skip
    rows = []
    for r in (r for r in packing["pointings"] if "survey_seconds" in r):
        t, full = r["survey_seconds"], r.get("full_chain_seconds", {})
        rows.append([r["pointing"], *(f"{t[k]:.0f}" for k in _STAGES),
                     format_number(full.get("injections"), ".0f", "-"),
                     f"{r['packed_injections_seconds']:.0f}",
                     "yes" if t["rows_identical_to_folder"] else "no"])  # fmt: skip
    header = ["pointing", "load (s)", "fine-tuning (s)", "search (s)", f"injections {names[0]} (s)",
              f"injections {names[0]}, whole chain each (s)", f"injections {names[1]} (s)",
              "survey's rows reproduced"]  # fmt: skip
    commands = ", then ".join(f"`{c}`" for c in packing["commands"])
    text = (f"{commands} on a {machine_line(packing)}; {len(packing['pointings'])} pointings.\n\n"
            + markdown_table(header, rows))  # fmt: skip
    check = packing.get("one_thread_check")
    if check:
        same = "exactly its rows" if check["rows_identical_to_folder"] else "**other rows**"
        text += (f"\n\nWith one torch thread, as each survey worker had, the survey's setting on "
                 f"{check['pointing']} gives {same}.")  # fmt: skip
    for method, c in packing["comparison"].items():
        rows = [[f"{b['M_UV']:.2f}", b["n_survey"], b["n_packed"],
                 format_number(b["completeness_survey"]), format_number(b["completeness_packed"]),
                 _sigma_cell(b["completeness_difference_sigma"]),
                 format_number(b["migration_survey"], "+.2f"), format_number(b["migration_packed"], "+.2f"),
                 _sigma_cell(b["migration_difference_sigma"])]
                for b in c["bins"] if b["n_survey"] or b["n_packed"]]  # fmt: skip
        header = ["true M_UV", f"n {names[0]}", f"n {names[1]}", f"completeness {names[0]}",
                  f"completeness {names[1]}", "difference (sd)", f"migration {names[0]}",
                  f"migration {names[1]}", "difference (sd)"]  # fmt: skip
        text += (f"\n\n{METHOD_NAMES.get(method, method)}: {c['within_2_sigma']} of {c['judged']} bins "
                 "with 10 or more galaxies each way within 2 sd.\n\n"
                 + markdown_table(header, rows))  # fmt: skip
    return text
