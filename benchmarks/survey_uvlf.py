"""The z > 8.5 UV luminosity function recovered from many mock pointings: coadd vs ASTERIS.

Runs `asteris.science.survey.run_survey` over mock pointings of the z > 8.5
field (`asteris.mock.datasets.HIGH_Z_FIELD`, seeds 1, 2, ..., each with its
own injections), in rounds of one pointing per worker, until each method has
``--bins`` M_UV bins holding five or more candidates (or ``--max-pointings``
are done). Every pointing fine-tunes the chapters' model (the committed
``tiny`` reference, `asteris.book.CI_FINE_TUNE_STEPS` steps) on its own F200W
stack and runs the chain of chapters 5 and 6: coadd and ASTERIS images of
seven bands, dual-image search (fluxes on the coadds), EAZY photo-z, the
selection, injection-recovery of ``--realizations`` x ``--per`` galaxies
through the whole chain.

The run folder (``--run-dir``, default ``<data folder>/survey_uvlf_mock<version>``) makes it
resumable: start it again and only unfinished pointings run. From all finished
pointings, per method: the binned luminosity function (summed counts over
summed effective volumes, density boost removed; forward-modelled through the
injections' measured-M_UV migration, with the counts at face value beside it;
the negated images' candidates, where every pointing has them, and the
low-z interlopers of each pointing's bright galaxies dimmed to its faint
detections subtracted; ``--summarize`` recomputes only this) against the input
function (Whitler et al. 2025) and against the pointings' own truth (the input
as this sample of it came out), how many bins with n >= 5 lie within their
Poisson intervals, and the double-power-law fit (bright-end slope fixed)
against the input parameters. From the truth too: the candidates that are
not z > 8.5 galaxies beside the two estimates of them, and the fields' own
z > 8.5 galaxies beside the injected ones (selected fraction and measured
M_UV per true M_UV bin; the candidates they should give through the
injections' transfer, per measured bin). Cost: the time of every pointing by stage, and the wall time
of every round with its workers and threads, appended to the results as each
round ends, so that the 1- and 2-worker runs and a hand-started cluster
(``--scheduler ADDRESS``) sit side by side.

Usage: ``python benchmarks/survey_uvlf.py [--workers 2] [--bins 6] [--max-pointings 24]
[--run-dir DIR] [--scheduler ADDRESS] [--label NAME] [--pointings N] [--out FILE] [--summarize]``
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import time
from pathlib import Path

import numpy as np
from _results import write_result

from asteris.book import CI_FINE_TUNE_STEPS, CI_REFERENCE, reference_weights, training_preset
from asteris.fileio import data_dir, sha256sum
from asteris.mock import MockPointing
from asteris.mock.datasets import MOCK_VERSION
from asteris.science.survey import (
    SurveyConfig,
    read_survey,
    run_survey,
    survey_background,
    survey_candidates,
    survey_injections,
    survey_interlopers,
    survey_luminosity_function,
    survey_modelled_interlopers,
)
from asteris.science.uvlf import bin_averages
from asteris.sky.luminosity import WHITLER25
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "survey_uvlf.json"
MUV_EDGES = np.arange(-22.5, -18.49, 0.5)
INPUT = {
    "m_star": WHITLER25.m_star,
    "alpha": WHITLER25.alpha,
    "log_phi_star": float(np.log10(WHITLER25.phi_star)),
}
METHODS = ("coadd", "asteris")


def survey_config(realizations: int, per: int) -> SurveyConfig:
    """The chapters' fine-tuning from the committed tiny reference, on each pointing's F200W stack."""
    init_from = str(reference_weights(*CI_REFERENCE))
    return SurveyConfig(train=training_preset("ci").to_dict(), init_from=init_from, realizations=realizations,
                        per_realization=per, injection_muv_slope=INJECTION_MUV_SLOPE)  # fmt: skip


def truth_pass(run_dir: Path) -> tuple[np.ndarray, dict, dict]:
    """What the finished pointings' own truth catalogues say: phi of their z > 8.5 galaxies (inside
    the image, density boost removed; the input function as this sample of it came out); per
    method the candidates that are not z > 8.5 galaxies, by measured M_UV bin and kind
    (`contaminants`); and per method how the fields' own z > 8.5 galaxies came through the chain
    beside the injected ones (`field_against_injected`)."""
    import astropy.units as u

    from asteris.mock.datasets import HIGH_Z_FIELD, mock_field
    from asteris.science.uvlf import effective_volume

    _, summaries = read_survey(run_dir)
    counts, volume = np.zeros(len(MUV_EDGES) - 1), 0.0
    found = {m: survey_candidates(run_dir, m) for m in METHODS}
    kinds, field = {m: [] for m in METHODS}, {m: [] for m in METHODS}
    for s in summaries:
        truth = mock_field("nircam", **HIGH_Z_FIELD, seed=MockPointing.from_record(s["pointing"]).seed,
                           progress=False).catalog  # fmt: skip
        x, y = np.asarray(truth["x"], float), np.asarray(truth["y"], float)
        inside = (x >= 0) & (x < s["shape"][1]) & (y >= 0) & (y < s["shape"][0])
        high_z = inside & (np.asarray(truth["type"]) == "high_z") & (np.asarray(truth["z"], float) > 8.5)
        if s.get("footprint"):  # counted on the footprint, as the candidates and the area are
            high_z &= _on_footprint(run_dir / s["name"], x, y)
        counts += np.histogram(u.Quantity(truth["M_UV"], u.mag).value[high_z], MUV_EDGES)[0]
        area = s["area_arcmin2"] * u.arcmin**2  # every galaxy found: completeness 1 over 8.5 < z < 16
        volume += (
            effective_volume(np.ones((1, 1)), z_edges=np.array([8.5, 16.0]), area=area)[0].value * s["boost"]
        )
        for m in METHODS:
            mine = found[m][found[m]["pointing"] == s["name"]]
            kinds[m].append(_kinds(mine, truth))
            field[m].append(_field_galaxies(mine, truth, high_z))
    contaminants = {m: _contaminants(np.concatenate(kinds[m], axis=1)) for m in METHODS}
    injected = survey_injections(run_dir)
    compared = {}
    for m in METHODS:
        galaxies = np.concatenate(field[m], axis=1)
        compared[m] = {"by_true_bin": _field_against_injected(galaxies, injected, m),
                       "through_injections": _through_injections(galaxies[0], injected, m)}  # fmt: skip
    return counts / (volume * np.diff(MUV_EDGES)), contaminants, compared


def _on_footprint(folder: Path, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Which truth objects at ``x``, ``y`` are z > 8.5 galaxies the pointing kept as on its footprint."""
    from astropy.table import QTable

    from asteris.science.survey import FIELD_HIGH_Z

    kept = QTable.read(folder / FIELD_HIGH_Z)
    kept = kept[np.asarray(kept["covered"], bool)]
    on = {(round(float(a), 3), round(float(b), 3)) for a, b in zip(kept["x"], kept["y"])}
    return np.array([(round(float(a), 3), round(float(b), 3)) in on for a, b in zip(x, y)])


def _kinds(found, truth) -> np.ndarray:
    """Measured M_UV and kind (0: z > 8.5 galaxy, 1: other object, 2: nothing) of each candidate.

    Matched as the pointings matched them (2 px), and those left unmatched to the closest object
    within 4 px: blended galaxies are found that far from their centres, and the 2-px match alone
    called some z > 8.5 galaxies spurious."""
    import astropy.units as u

    from asteris.science.highz import with_truth

    labelled = with_truth(found, truth, fallback_radius=4.0)
    kind = np.asarray(labelled["true_type"])
    genuine = (kind == "high_z") & (np.asarray(labelled["true_z"], float) > 8.5)
    code = np.where(genuine, 0, np.where(kind == "spurious", 2, 1))
    return np.vstack([u.Quantity(found["M_UV"], u.mag).value, code])


def _contaminants(kinds: np.ndarray) -> dict:
    muv, code = kinds
    return {name: np.histogram(muv[code == c], MUV_EDGES)[0] for name, c in (("low_z", 1), ("spurious", 2))}


def _field_galaxies(found, truth, high_z: np.ndarray) -> np.ndarray:
    """True M_UV, selected (0/1) and measured M_UV of the field's z > 8.5 galaxies, matched within
    2 px as the injections are."""
    import astropy.units as u

    from asteris.science.highz import match_to_truth

    index = match_to_truth(found, truth)
    measured = np.full(len(truth), np.nan)
    hit = index >= 0
    measured[index[hit]] = u.Quantity(found["M_UV"], u.mag).value[hit]
    true = u.Quantity(truth["M_UV"], u.mag).value
    return np.vstack([true, np.isfinite(measured), measured])[:, high_z]


def _through_injections(true_muv: np.ndarray, injected, method: str, *, window: float = 0.15) -> list[float]:
    """Candidates per measured M_UV bin that the fields' own z > 8.5 galaxies should give if they came
    through the chain as the injections do: for each galaxy, the fraction of the injections within
    ``window`` mag of its true M_UV that were selected and measured in each bin."""
    import astropy.units as u

    true_i = u.Quantity(injected["M_UV"], u.mag).value
    chosen = np.asarray(injected[f"{method}_selected"], bool)
    measured = u.Quantity(injected[f"{method}_M_UV"], u.mag).value
    expected = np.zeros(len(MUV_EDGES) - 1)
    for muv in true_muv:
        near = np.abs(true_i - muv) < window
        if near.any():
            expected += np.histogram(measured[near & chosen], MUV_EDGES)[0] / near.sum()
    return expected.tolist()


def _field_against_injected(field: np.ndarray, injected, method: str) -> list[dict]:
    """Per true M_UV bin: the fraction selected and the median measured-minus-true M_UV of the
    selected, for the fields' own z > 8.5 galaxies and for the injected ones."""
    import astropy.units as u

    true_i = u.Quantity(injected["M_UV"], u.mag).value
    chosen_i = np.asarray(injected[f"{method}_selected"], bool)
    offset_i = u.Quantity(injected[f"{method}_M_UV"], u.mag).value - true_i
    true_f, chosen_f, offset_f = field[0], field[1].astype(bool), field[2] - field[0]
    rows = []
    for lo, hi in zip(MUV_EDGES[:-1], MUV_EDGES[1:]):
        row = {"M_UV": float((lo + hi) / 2)}
        for name, true, chosen, offset in (("field", true_f, chosen_f, offset_f),
                                           ("injected", true_i, chosen_i, offset_i)):  # fmt: skip
            inside = (true >= lo) & (true < hi)
            picked = offset[inside & chosen]
            row[name] = {"n": int(inside.sum()), "selected": int(picked.size),
                         "median_offset": float(np.median(picked)) if picked.size else None}  # fmt: skip
        rows.append(row)
    return rows


#: Injections drawn as a population of this faint-end slope is distributed (and in z as the comoving
#: volume), not uniformly: the faint end, where most galaxies and most of the migration into brighter
#: bins come from, is then sampled as it is populated (`benchmarks/closure.py`: with the fields' own
#: galaxies as the injections the coadd's function closes, with uniform ones it does not).
INJECTION_MUV_SLOPE = -2.0
#: The estimator (`survey_luminosity_function`): injections weighted to the comoving volume in the
#: migration, errors from 200 draws of the pointings, and a bin judged only where its completeness is
#: at least MIN_COMPLETENESS (see the closure test, `benchmarks/closure.py`).
ESTIMATOR = {"population_weighted": True, "bootstrap": 200, "min_completeness": 0.15}


def against_input(
    run_dir: Path,
    method: str,
    realized: np.ndarray,
    *,
    migration: bool = True,
    negated: bool = True,
    interlopers: bool = True,
) -> dict:
    """Binned phi and the DPL fit of one method from all finished pointings, against the input."""
    options = {"migration": migration, "subtract_negated": negated, "subtract_interlopers": interlopers,
               "fixed": {"beta": WHITLER25.beta}, **ESTIMATOR}  # fmt: skip
    binned, fit, totals = survey_luminosity_function(run_dir, method, muv_edges=MUV_EDGES,
                                                     reference=WHITLER25, **options)  # fmt: skip
    truth = bin_averages(WHITLER25, binned["muv_lo"], binned["muv_hi"])
    lo, hi = binned["phi_lo"].value, binned["phi_hi"].value
    tested, within = np.asarray(binned["tested"]), (truth >= lo) & (truth <= hi)
    kept = np.searchsorted(MUV_EDGES, binned["muv_lo"].value)  # bins without volume are left out
    realized = np.asarray(realized)[kept]
    keys = ("M_UV", "n", "v_eff_mpc3", "phi", "phi_lo", "phi_hi", "phi_input", "phi_realized", "completeness",
            "sd_counts", "rel_err_volume", "rel_err_shape", "n_fit", "n_input", "tested")  # fmt: skip
    budget = (binned[k] for k in ("completeness", "sd_counts", "rel_err_volume", "rel_err_shape", "n_fit",
                                  "n_reference"))  # fmt: skip
    rows = zip(binned["M_UV"].value, binned["n"], binned["v_eff"].value, binned["phi"].value, lo, hi, truth,
               realized, *budget, tested)  # fmt: skip
    within_realized = (realized >= lo) & (realized <= hi)
    summary = {r["parameter"]: r for r in fit.summary()}
    parameters = {}
    for name, value in INPUT.items():
        r = summary[name]
        low, high = float(r["median"] - r["minus"]), float(r["median"] + r["plus"])
        parameters[name] = {"input": value, "median": float(r["median"]), "interval_68": [low, high],
                            "input_inside": bool(low <= value <= high)}  # fmt: skip
    kinds = {"n": int, "tested": bool}
    bins = [{k: kinds.get(k, float)(v) for k, v in zip(keys, row)} for row in rows]
    if "background" in binned.colnames:  # the negated images' candidates and the interlopers, subtracted
        for entry, b in zip(bins, binned["background"]):
            entry["background"] = float(b)
    return {
        **totals,
        "bins": bins,
        "bins_tested": int(tested.sum()),
        "bins_within_errors": int(np.sum(tested & within)),
        "bins_within_errors_of_realized": int(np.sum(tested & within_realized)),
        "fraction_within": float(np.sum(tested & within) / max(tested.sum(), 1)),
        "fit": parameters,
        "input_against_counts": input_against_counts(binned, fit),
        "missed_bins": missed_bins(bins),
        "targets_met": {"bins_within_80pct": bool(np.sum(tested & within) >= 0.8 * tested.sum() > 0),
                        "input_inside_68pct": all(p["input_inside"] for p in parameters.values())},
    }  # fmt: skip


def input_against_counts(binned, fit) -> dict:
    """Whether the candidates found rule the input out, measured without the estimator's binning.

    The input function put through the survey's own transfer (the injections' completeness and
    migration, the background added) predicts each measured bin's count (``n_input``); Pearson's
    chi^2 of the found counts against it, and against the fit's prediction, over the bins where
    either expects at least one, with its p-value; and where the input's faint-end slope falls in
    the fit's posterior (the fraction of samples steeper than it)."""
    from scipy.stats import chi2

    n = np.asarray(binned["n"], float)
    out = {}
    for name, column in (("input", "n_reference"), ("fit", "n_fit")):
        mu = np.asarray(binned[column], float)
        used = (mu >= 1) | (n >= 1)
        value = float(np.sum((n[used] - mu[used]) ** 2 / np.maximum(mu[used], 1e-9)))
        bins = int(used.sum())
        out[name] = {"chi2": value, "bins": bins, "p_value": float(chi2.sf(value, bins))}
    alpha = fit.samples[:, list(fit.names).index("alpha")]
    out["alpha_input_quantile"] = float(np.mean(alpha <= INPUT["alpha"]))
    return out


def missed_bins(bins: list[dict]) -> list[dict]:
    """The judged bins whose interval misses the input or the realized truth: by how many of its own
    sigma (the side facing the truth) each lies off."""
    out = []
    for b in bins:
        if not b["tested"]:
            continue
        pulls = {}
        for name in ("phi_input", "phi_realized"):
            truth, phi = b[name], b["phi"]
            side = b["phi_hi"] - phi if truth > phi else phi - b["phi_lo"]
            if not b["phi_lo"] <= truth <= b["phi_hi"]:
                pulls[name.removeprefix("phi_")] = round((phi - truth) / side, 2) if side > 0 else None
        if pulls:
            out.append({"M_UV": b["M_UV"], "sigma_off": pulls})
    return out


def why_missed(method: dict) -> str | None:
    """One sentence of what the measurements say where a target is missed, else None."""
    test, met = method["input_against_counts"], method["targets_met"]
    if all(met.values()):
        return None
    given = test["input"]
    counts = (f"the candidates found are {'consistent' if given['p_value'] >= 0.05 else 'inconsistent'} with "
              f"the input put through the survey's own transfer (chi^2 {given['chi2']:.1f} over "
              f"{given['bins']} bins, p = {given['p_value']:.2f})")  # fmt: skip

    def off(bin_: dict) -> str:
        pulls = [f"{k} {'beyond' if v is None else f'{v:+.1f}'} sigma" for k, v in bin_["sigma_off"].items()]
        return f"{bin_['M_UV']:.2f} ({', '.join(pulls)})"

    misses = ", ".join(off(b) for b in method["missed_bins"])
    alpha = method["fit"]["alpha"]
    low, high = alpha["interval_68"]
    slope = (f"the input's faint-end slope lies at the {test['alpha_input_quantile']:.1%} quantile of the "
             f"fit's posterior ({alpha['median']:.2f}, 68% {low:.2f} to {high:.2f})")
    return f"{counts}; judged bins off their truth: {misses or 'none'}; {slope}"


#: The model of the sky's other objects behind the modelled interlopers: the mock population drawn
#: anew, POPULATION_DRAWS times from seeds POPULATION_SEED, POPULATION_SEED + 1, ..., each over
#: POPULATION_EXTENT arcsec, without its z > 8.5 galaxies. Each draw has its own small set of SED
#: templates (64 for the field galaxies), so one draw alone gives its own colours: an early single
#: draw of 8 arcmin^2 expected half the interlopers of another of 4 on the same pointings.
POPULATION_SEED, POPULATION_DRAWS, POPULATION_EXTENT = 2027, 8, (42.5, 42.5)


@functools.cache
def model_population():
    """The mock universe's objects other than z > 8.5 galaxies, drawn anew, and their area."""
    import astropy.units as u
    from astropy.table import vstack

    from asteris.mock.population import sky_catalog
    from asteris.science.survey import SurveyConfig

    bands = list(SurveyConfig().filters.values())
    seeds = range(POPULATION_SEED, POPULATION_SEED + POPULATION_DRAWS)
    draws = [sky_catalog(POPULATION_EXTENT, bands=bands, seed=seed) for seed in seeds]
    population = vstack([d[np.asarray(d["type"]) != "high_z"] for d in draws], metadata_conflicts="silent")
    area = POPULATION_DRAWS * POPULATION_EXTENT[0] * POPULATION_EXTENT[1] / 3600 * u.arcmin**2
    return population, area


def background_parts(run_dir: Path, method: str, *, negated: bool) -> dict:
    """The expected non-z > 8.5 candidates of each measured M_UV bin, by estimator, and their totals:
    the negated images', the dimmed low-z galaxies' (subtracted) and the modelled interlopers'
    (beside them: a model of the sky's other objects through each pointing's noise)."""
    population, area = model_population()
    modelled = survey_modelled_interlopers(run_dir, population, area=area)  # kept in the pointings' folders
    fakes = survey_interlopers(run_dir, method)
    parts = survey_background(run_dir, method, muv_edges=MUV_EDGES, negated=negated, modelled=True)
    out = {"M_UV": (0.5 * (MUV_EDGES[1:] + MUV_EDGES[:-1])).tolist()}
    for name, table in (("interlopers", fakes), ("modelled", modelled)):
        out[f"{name}_total"] = float(np.sum(table["weight"][np.asarray(table["selected"], bool)]))
    out.update({k: v.tolist() for k, v in parts.items()})
    return out


def cost(run_dir: Path) -> dict:
    """Seconds per pointing (mean and by stage) over every finished pointing, by worker threads."""
    _, summaries = read_survey(run_dir)
    by_threads: dict[int, list] = {}
    for s in summaries:
        by_threads.setdefault(s["worker"]["threads"], []).append(s["seconds"])
    out = {}
    for threads, seconds in sorted(by_threads.items()):
        stages = {k: float(np.mean([s[k] for s in seconds])) for k in seconds[0]}
        out[f"{threads}_threads"] = {"pointings": len(seconds), "mean_seconds": stages}
    return out


def enough(run_dir: Path, bins: int) -> bool:
    _, summaries = read_survey(run_dir)
    if not summaries:
        return False
    for method in METHODS:
        counts, _ = np.histogram(np.asarray(survey_candidates(run_dir, method)["M_UV"]), MUV_EDGES)
        if np.sum(counts >= 5) < bins:
            return False
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=2, help="LocalCluster worker processes")
    parser.add_argument("--scheduler", help="address of a running scheduler (instead of a LocalCluster)")
    parser.add_argument(
        "--bins", type=int, default=6, help="stop when each method has this many bins with n >= 5"
    )
    parser.add_argument("--max-pointings", type=int, default=24)
    parser.add_argument("--pointings", type=int, help="run exactly this many pointings (seeds 1..N)")
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--per", type=int, default=40, help="galaxies injected per realization")
    parser.add_argument("--run-dir", help="run folder (default: <data folder>/survey_uvlf_mock<version>)")
    parser.add_argument("--label", default="survey", help="name of this invocation in the cost records")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument(
        "--summarize", action="store_true", help="recompute the science from the finished pointings, run none"
    )
    args = parser.parse_args()
    run_dir = Path(args.run_dir or Path(data_dir()) / f"survey_uvlf_mock{MOCK_VERSION}")
    if args.summarize:
        summarize(Path(args.out), run_dir)
        return
    config = survey_config(args.realizations, args.per)
    workers = args.workers
    step = workers if args.scheduler is None else _scheduler_workers(args.scheduler)
    threads = None if args.scheduler else max(1, (os.cpu_count() or 1) // workers)
    n = args.pointings or step
    while True:  # one round: one pointing per worker; its record is kept before the next starts
        start = time.perf_counter()
        table = run_survey([MockPointing(seed) for seed in range(1, n + 1)], run_dir, config=config,
                           scheduler=args.scheduler, n_workers=workers)  # fmt: skip
        if failed := [f"{r['name']}: {r['error']}" for r in table if r["status"] == "failed"]:
            raise SystemExit("pointings failed:\n" + "\n".join(failed))
        computed = int(np.sum(table["status"] == "done"))
        wall = time.perf_counter() - start
        record = {"label": args.label, "scheduler": "hand-started" if args.scheduler else "LocalCluster",
                  "workers": step, "threads_per_worker": threads, "pointings": n, "computed": computed,
                  "wall_seconds": round(wall, 1),
                  "seconds_per_computed_pointing": round(wall / max(computed, 1), 1)}  # fmt: skip
        print(json.dumps(record))
        last = bool(args.pointings or enough(run_dir, args.bins) or n >= args.max_pointings)
        write_results(Path(args.out), run_dir, config, record, args, science=last)
        if last:
            break
        n += step


def science_section(run_dir: Path, config: SurveyConfig, previous: dict, *, command: str) -> dict:
    """The survey's science from its run folder: per method, the forward model through the
    injections' measured-M_UV migration and, beside it, the counts taken at face value."""
    _, summaries = read_survey(run_dir)
    names = [s["name"] for s in summaries]
    mock_version = json.loads((run_dir / "survey.json").read_text()).get("mock_version")
    contaminants = None
    if mock_version == MOCK_VERSION:
        realized, contaminants, compared = truth_pass(run_dir)
    elif previous.get("pointings") == names and previous.get("mock_version") == mock_version:
        # the same pointings' truth, kept: this code builds mock fields of another version
        realized = np.array([b["phi_realized"] for b in previous["methods"]["coadd"]["bins"]])
    else:
        raise SystemExit(f"{run_dir} holds mock version {mock_version} pointings, whose truth this code "
                         f"(mock version {MOCK_VERSION}) cannot rebuild")  # fmt: skip
    negated = all((run_dir / n / f"negated_{m}.ecsv").exists() for n in names for m in METHODS)
    methods = {}
    for m in METHODS:
        methods[m] = against_input(run_dir, m, realized, negated=negated)
        flat = against_input(run_dir, m, realized, migration=False, negated=negated)
        methods[m]["without_migration"] = {
            k: flat[k]
            for k in ("bins", "bins_tested", "bins_within_errors", "bins_within_errors_of_realized", "fit")
        }
        methods[m]["background"] = background_parts(run_dir, m, negated=negated)
        found = np.asarray(survey_candidates(run_dir, m)["M_UV"])
        methods[m]["found_per_bin"] = np.histogram(found, MUV_EDGES)[0].tolist()
        if contaminants is not None:
            methods[m]["true_contaminants"] = {k: v.tolist() for k, v in contaminants[m].items()}
            methods[m]["field_against_injected"] = compared[m]
        methods[m]["targets_missed_because"] = why_missed(methods[m])
        medians = {k: round(v["median"], 2) for k, v in methods[m]["fit"].items()}
        print(f"{m}: {methods[m]['bins_within_errors']} of {methods[m]['bins_tested']} bins with n >= 5 "
              f"within errors (counts at face value: {flat['bins_within_errors']}); fit {medians} "
              f"input {INPUT}")  # fmt: skip
    return {
        "command": command, "machine": machine_description(), "mock_version": mock_version,
        "config": {**config.to_dict(), "init_from": Path(config.init_from).name},  # no path of this machine
        "fine_tune_steps": CI_FINE_TUNE_STEPS,
        "reference_model": {"file": Path(config.init_from).name, "sha256": sha256sum(config.init_from)},
        "pointings": names, "input": INPUT,
        "counting": "forward model through the injections' measured-M_UV migration",
        "estimator": ESTIMATOR,
        "background": ("the negated images' candidates" if negated else "not the negated images' candidates: "
                       "the pointings were run before the negated images were searched")
        + "; the low-z interlopers of dimmed bright galaxies (asteris.science.survey_interlopers); beside "
        f"them, not subtracted: the modelled interlopers (the mock population drawn anew {POPULATION_DRAWS} "
        f"times from seed {POPULATION_SEED}, through each pointing's noise: "
        "asteris.science.survey.survey_modelled_interlopers)",
        "methods": methods,
    }  # fmt: skip


def summarize(out: Path, run_dir: Path) -> None:
    """Rewrite the science of ``out`` from the finished pointings of ``run_dir``, computing none."""
    config, _ = read_survey(run_dir)
    result = json.loads(out.read_text()) if out.exists() else {}
    command = result.get("command", "python benchmarks/survey_uvlf.py")
    result.update(science_section(run_dir, config, result, command=command))
    result["summarized_by"] = "python benchmarks/survey_uvlf.py --summarize --run-dir RUN_DIR"
    write_result(out, result)
    print(f"wrote {out}")


def _command(args) -> str:
    """This invocation's command line (a scheduler's address stands as ADDRESS)."""
    where = "--scheduler ADDRESS" if args.scheduler else f"--workers {args.workers}"
    until = f"--pointings {args.pointings}" if args.pointings else f"--bins {args.bins}"
    if not args.pointings and args.max_pointings != 24:
        until += f" --max-pointings {args.max_pointings}"
    return f"python benchmarks/survey_uvlf.py {where} {until}"


def _scheduler_workers(address: str) -> int:
    from distributed import Client

    with Client(address) as client:
        return len(client.scheduler_info()["workers"])


def write_results(
    out: Path, run_dir: Path, config: SurveyConfig, record: dict, args, *, science: bool
) -> None:
    """Append a round's record and its run folder's cost; the survey's last round rewrites the science."""
    result = json.loads(out.read_text()) if out.exists() else {}
    result.setdefault("rounds", []).append(record)
    result.setdefault("cost", {})[args.label] = cost(run_dir)
    if science and args.label == "survey":
        result.update(science_section(run_dir, config, result, command=_command(args)))
    write_result(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
