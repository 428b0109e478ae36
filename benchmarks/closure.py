"""Closure of injection-recovery: the mock fields' own z > 8.5 galaxies against copies of themselves.

Runs `asteris.science.survey.run_survey` over mock pointings of the z > 8.5
field (seeds 1..N) with ``closure_copies``: besides the survey's own
search and injections, every z > 8.5 galaxy of each pointing's truth is
copied ``--copies`` times, with its exact profile, size, per-band
magnitudes, z and M_UV, to random positions through the injection road
(`asteris.science.closure.closure_pointing`), and searched the same way. Per
method and true M_UV bin, the originals (found by the field's own search)
and the copies are compared: fractions detected, selected and selected given
detected, and the median measured-minus-true M_UV of the selected, with errors
bootstrapped over pointings (`asteris.science.closure.closure_table`). Two
tables: the originals on the survey's footprint (every band covered, 16 px
inside the image, where injections are placed and so where their completeness
holds), and all originals, as the survey counted them before it had a footprint.

The run folder (``--run-dir``, default ``<data folder>/closure_mock<version>[_coadd]``) makes it
resumable; ``--summarize`` recomputes the tables from it.

Usage: ``python benchmarks/closure.py [--pointings 8] [--first-seed 1] [--workers 2] [--copies 2]
[--coadd-only] [--run-dir DIR] [--out FILE] [--key NAME] [--summarize]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _results import finite_or_none, write_result
from survey_uvlf import (
    ESTIMATOR,
    INJECTION_MUV_SLOPE,
    INPUT,
    MUV_EDGES,
)  # the survey's bins and estimator, beside this script

from asteris.book import CI_FINE_TUNE_STEPS, CI_REFERENCE, reference_weights, training_preset
from asteris.fileio import atomic_write, data_dir
from asteris.mock import MockPointing
from asteris.mock.datasets import MOCK_VERSION
from asteris.science.closure import (
    CLOSURE_STATISTICS,
    closure_significance,
    closure_table,
    injection_statistics,
)
from asteris.science.survey import (
    SurveyConfig,
    read_survey,
    run_survey,
    survey_closure,
    survey_injections,
)
from asteris.science.uvlf import population_weights
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "closure.json"
MIN_GALAXIES = 10  #: bins with fewer originals or copies are shown but not judged


def closure_config(copies: int, coadd_only: bool) -> SurveyConfig:
    """The survey's chain (the chapters' fine-tuning for ASTERIS), one realization of uniform
    injections, no negated search: the closure copies are what this run is for."""
    train = {} if coadd_only else {"train": training_preset("ci").to_dict(),
                                   "init_from": str(reference_weights(*CI_REFERENCE))}  # fmt: skip
    return SurveyConfig(**train, realizations=1, closure_copies=copies, search_negated=False)


def _rows(table) -> list[dict]:
    out = []
    for row in table:
        entry = {}
        for name in table.colnames:
            value = row[name]
            value = getattr(value, "value", value)
            value = value.item() if hasattr(value, "item") else value
            entry[name] = finite_or_none(value) if isinstance(value, float) else value
        out.append(entry)
    return out


def verdict(significance, methods) -> dict:
    """Per method: the largest |difference| / error over judged bins, and the bins beyond 2 sigma."""
    out = {}
    for method in methods:
        mine = significance[np.asarray(significance["method"]) == method]
        beyond, largest = [], 0.0
        for row in mine:
            for stat in CLOSURE_STATISTICS:
                sigma = float(row[stat])
                if np.isfinite(sigma):
                    largest = max(largest, abs(sigma))
                    if abs(sigma) >= 2:
                        beyond.append({"M_UV": float(row["M_UV"].value), "statistic": stat,
                                       "sigma": round(sigma, 2)})  # fmt: skip
        out[method] = {"largest_sigma": round(largest, 2), "beyond_2_sigma": beyond, "agree": not beyond}
    return out


def _command(config: SurveyConfig, summaries: list[dict], workers: int) -> str:
    """The command that runs these pointings with this config."""
    seeds = sorted(s["pointing"]["seed"] for s in summaries)
    command = (f"python benchmarks/closure.py --pointings {len(seeds)} --first-seed {seeds[0]} "
               f"--workers {workers} --copies {config.closure_copies}")  # fmt: skip
    return command + (" --coadd-only" if config.train is None else "")


def closure_section(run_dir: Path, *, workers: int) -> dict:
    """Everything the run folder says: what ran, the closure tables with and without the footprint,
    and the survey's own injections beside the copies."""
    config, summaries = read_survey(run_dir)
    methods = ["coadd", "asteris"] if config.train is not None else ["coadd"]
    galaxies = survey_closure(run_dir)
    section = {
        "command": _command(config, summaries, workers), "machine": machine_description(),
        "mock_version": MOCK_VERSION,
        "config": {k: v for k, v in config.to_dict().items() if k != "init_from"},
        "fine_tune_steps": CI_FINE_TUNE_STEPS if config.train is not None else None,
        "pointings": [s["name"] for s in summaries], "muv_edges": MUV_EDGES.tolist(),
        "min_galaxies": MIN_GALAXIES,
        "seconds_per_pointing": {k: float(np.mean([s["seconds"].get(k, 0.0) for s in summaries]))
                                 for k in summaries[0]["seconds"]},
    }  # fmt: skip
    for label, covered_only in (("footprint", True), ("all_originals", False)):
        table = closure_table(galaxies, methods, muv_edges=MUV_EDGES, covered_only=covered_only)
        significance = closure_significance(table, min_galaxies=MIN_GALAXIES)
        section[label] = {"table": _rows(table), "significance": _rows(significance),
                          "verdict": verdict(significance, methods)}  # fmt: skip
        for method in methods:
            v = section[label]["verdict"][method]
            print(f"{label} {method}: largest {v['largest_sigma']} sigma; beyond 2: {v['beyond_2_sigma']}")
    # the survey's own injections (uniform in M_UV and z) beside the copies: as drawn, and weighted
    # to the comoving volume that the fields' galaxies (and so their copies) follow
    injected = survey_injections(run_dir)
    z_range = (config.z_edges[0], config.z_edges[-1])
    weights = population_weights(np.asarray(injected["z"], float), z_range=z_range)
    section["injections"] = {
        "uniform": _rows(injection_statistics(injected, methods, muv_edges=MUV_EDGES)),
        "population_weighted": _rows(
            injection_statistics(injected, methods, muv_edges=MUV_EDGES, weights=weights)
        ),
    }
    section["contamination"] = {m: contamination(run_dir, m, summaries) for m in methods}
    section["luminosity_function"] = {m: luminosity_function(run_dir, m) for m in methods}
    return section


def luminosity_function(run_dir: Path, method: str, injections: str | None = None) -> dict:
    """An early look at the survey's estimator on these pointings (`survey_uvlf.ESTIMATOR`; no
    negated search, so the background is the candidates' own low-z probability), with the
    pointings' own injections or those of ``injections`` (`injection_check`): per bin, the count,
    completeness, phi with its interval and the input, and the fitted faint-end slope."""
    from asteris.science.survey import survey_luminosity_function
    from asteris.science.uvlf import bin_averages
    from asteris.sky.luminosity import WHITLER25

    binned, fit, totals = survey_luminosity_function(
        run_dir, method, muv_edges=MUV_EDGES, fixed={"beta": WHITLER25.beta}, subtract_negated=False,
        subtract_interlopers=False, subtract_posterior=True, injections=injections, **ESTIMATOR,
    )  # fmt: skip
    phi_input = bin_averages(WHITLER25, binned["muv_lo"], binned["muv_hi"])
    lo, hi = binned["phi_lo"].value, binned["phi_hi"].value
    within, tested = (phi_input >= lo) & (phi_input <= hi), np.asarray(binned["tested"])
    keys = ("M_UV", "n", "completeness", "sd_counts", "rel_err_volume", "phi", "phi_lo", "phi_hi")
    bins = [{k: float(getattr(row[k], "value", row[k])) for k in keys} for row in binned]
    for entry, value, inside, judged in zip(bins, phi_input, within, tested):
        entry.update(phi_input=float(value), within=bool(inside), tested=bool(judged))
    alpha = next(r for r in fit.summary() if r["parameter"] == "alpha")
    low, high = float(alpha["median"] - alpha["minus"]), float(alpha["median"] + alpha["plus"])
    slope = {"median": float(alpha["median"]), "interval_68": [low, high], "input": INPUT["alpha"]}
    return {**totals, "estimator": ESTIMATOR, "bins": bins, "bins_tested": int(tested.sum()),
            "bins_within_errors": int(np.sum(tested & within)), "alpha": slope}  # fmt: skip


def contamination(run_dir: Path, method: str, summaries: list[dict]) -> dict:
    """Per measured M_UV bin, the candidates on the footprints that the truth finds not to be
    z > 8.5 galaxies (matched within 2 px, or 4 px where nothing lies that close: blends), beside
    the sum of the candidates' own probabilities of lying at z < 8.5 (the ``posterior`` estimate of
    `asteris.science.survey.survey_background`) and the negated images' candidates, where searched."""
    from asteris.mock.datasets import HIGH_Z_FIELD, mock_field
    from asteris.science.highz import with_truth
    from asteris.science.survey import survey_background, survey_candidates

    found = survey_candidates(run_dir, method)
    low_z, spurious = np.zeros(len(MUV_EDGES) - 1), np.zeros(len(MUV_EDGES) - 1)
    for s in summaries:
        mine = found[found["pointing"] == s["name"]]
        truth = mock_field("nircam", **HIGH_Z_FIELD, seed=MockPointing.from_record(s["pointing"]).seed,
                           progress=False).catalog  # fmt: skip
        labelled = with_truth(mine[["x", "y"]], truth, fallback_radius=4.0)
        kind = np.asarray(labelled["true_type"])
        genuine = (kind == "high_z") & (np.asarray(labelled["true_z"], float) > 8.5)
        muv = np.asarray(mine["M_UV"].value, float)
        low_z += np.histogram(muv[~genuine & (kind != "spurious")], MUV_EDGES)[0]
        spurious += np.histogram(muv[kind == "spurious"], MUV_EDGES)[0]
    negated = all((run_dir / s["name"] / f"negated_{method}.ecsv").exists() for s in summaries)
    parts = survey_background(run_dir, method, muv_edges=MUV_EDGES, negated=negated, interlopers=False,
                              posterior=True)  # fmt: skip
    return {"M_UV": (0.5 * (MUV_EDGES[1:] + MUV_EDGES[:-1])).tolist(), "candidates": len(found),
            "truth_low_z": low_z.tolist(), "truth_spurious": spurious.tolist(),
            **{f"estimated_{k}": v.tolist() for k, v in parts.items()}}  # fmt: skip


#: The injection sets of `injection_check`: uniform in M_UV and z, and drawn as a population is.
CHECK_INJECTIONS = {"uniform": None, "population": INJECTION_MUV_SLOPE}


def _check_pointing(summary: dict, folder: str, config: SurveyConfig, realizations: int) -> str:
    """Inject both sets of `CHECK_INJECTIONS` into one pointing and run the coadd's chain on them."""
    import torch

    from asteris.science.highz import high_z_recovery
    from asteris.science.methods import coadd_method

    torch.set_num_threads(1)
    stacks, renderers, _, _ = MockPointing.from_record(summary["pointing"]).load(config.bands)
    coadd = coadd_method("ivar")
    for name, slope in CHECK_INJECTIONS.items():
        path = Path(folder) / f"injections_{name}.ecsv"
        if path.exists():
            continue
        seed = 7919 * MockPointing.from_record(summary["pointing"]).seed + (slope is not None)
        table = high_z_recovery(stacks, renderers, {"coadd": coadd}, config.filters, seed=seed,
                                n_per_realization=config.per_realization, realizations=realizations,
                                muv_range=config.muv_range, z_range=(config.z_edges[0], config.z_edges[-1]),
                                detection_bands=config.detection_bands, measure_with=coadd, muv_slope=slope,
                                progress=False)  # fmt: skip
        keep = [c for c in table.colnames if getattr(table[c], "ndim", 1) == 1]
        atomic_write(path, lambda tmp, t=table[keep]: t.write(tmp, format="ascii.ecsv", overwrite=True))
    return summary["name"]


def injection_check(run_dir: Path, realizations: int, workers: int) -> dict:
    """The coadd's luminosity function on these pointings with each injection set of
    `CHECK_INJECTIONS`, ``realizations`` x the survey's galaxies per realization each: is it the
    injections' distribution that the function needs? Resumable: each pointing keeps its sets."""
    from concurrent.futures import ProcessPoolExecutor

    config, summaries = read_survey(run_dir)
    with ProcessPoolExecutor(max_workers=workers) as pool:
        jobs = [
            pool.submit(_check_pointing, s, str(run_dir / s["name"]), config, realizations) for s in summaries
        ]
        for job in jobs:
            print(f"injection check: {job.result()} done", flush=True)
    return {"realizations": realizations, "per_realization": config.per_realization,
            "muv_slope": INJECTION_MUV_SLOPE,
            **{name: luminosity_function(run_dir, "coadd", f"injections_{name}.ecsv")
               for name in CHECK_INJECTIONS}}  # fmt: skip


def summarize(
    run_dir: Path, out: Path, *, workers: int, wall: float | None, key: str | None, check: int = 0
) -> dict:
    """Write the run folder's section into ``out`` (its top level, or the entry ``key``), keeping
    the rest of ``out``; a run's wall time is appended to the section's ``runs``; ``check`` > 0
    adds the `injection_check` with that many realizations."""
    result = json.loads(out.read_text()) if out.exists() else {}
    target = result.setdefault(key, {}) if key else result
    runs = target.get("runs", [])
    target.update(closure_section(run_dir, workers=workers))
    if check:
        command = f"python benchmarks/closure.py --summarize --injection-check {check} --workers {workers}"
        target["injection_check"] = {"command": command + (f" --key {key}" if key else ""),
                                     **injection_check(run_dir, check, workers)}  # fmt: skip
    if wall is not None:
        runs.append({"wall_seconds": round(wall, 1), "pointings": len(target["pointings"])})
    target["runs"] = runs
    write_result(out, result)
    print(f"wrote {out}")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pointings", type=int, default=8, help="how many mock pointings")
    parser.add_argument("--first-seed", type=int, default=1, help="their seeds: this one and those after it")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--copies", type=int, default=2, help="copies of every field galaxy")
    parser.add_argument("--coadd-only", action="store_true", help="the ivar coadd alone (no fine-tuning)")
    parser.add_argument("--run-dir", help="run folder (default: <data folder>/closure_mock<version>)")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--summarize", action="store_true", help="recompute the tables, run no pointing")
    parser.add_argument("--key", help="write into this entry of the result (e.g. fresh_skies), not its top")
    parser.add_argument(
        "--injection-check",
        type=int,
        default=0,
        metavar="REALIZATIONS",
        help="also measure the coadd's function with uniform and population-drawn injections",
    )
    args = parser.parse_args()
    suffix = "_coadd" if args.coadd_only else ""
    run_dir = Path(args.run_dir or Path(data_dir()) / f"closure_mock{MOCK_VERSION}{suffix}")
    wall = None
    if not args.summarize:
        start = time.perf_counter()
        seeds = range(args.first_seed, args.first_seed + args.pointings)
        pointings = [MockPointing(seed) for seed in seeds]
        config = closure_config(args.copies, args.coadd_only)
        table = run_survey(pointings, run_dir, config=config, n_workers=args.workers)
        if failed := [f"{r['name']}: {r['error']}" for r in table if r["status"] == "failed"]:
            raise SystemExit("pointings failed:\n" + "\n".join(failed))
        wall = time.perf_counter() - start
    summarize(
        run_dir, Path(args.out), workers=args.workers, wall=wall, key=args.key, check=args.injection_check
    )


if __name__ == "__main__":
    main()
