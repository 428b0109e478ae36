"""Interlopers among the coadd's z > 8.5 candidates: three estimates against the mock pointings' truth.

For each mock pointing of the z > 8.5 field (seeds ``--first-seed`` ..), the
survey's coadd search (`asteris.science.survey.search_pointing`) is run and
its candidates on the footprint are labelled by the truth as the survey's
benchmark labels them (2 px to the brightest object, 4 px to the closest for
the rest): z > 8.5 galaxies, other objects (interlopers) and nothing
(spurious). Beside the truth, per pointing:

- ``negated``: what the negated images select (the survey's own estimate);
- ``dimmed``: the field's bright low-z galaxies dimmed to its faint detections
  with Gaussian errors (`asteris.science.contamination.dimmed_interlopers`);
- ``simulated_truth``: the pointing's own objects other than z > 8.5 galaxies,
  rendered over its jackknife noise and searched
  (`asteris.science.contamination.simulated_interlopers`): the check that a
  simulated sky is measured as the field is;
- ``simulated_model``: the same with a model population drawn anew over the
  pointing (the mock's, without z > 8.5 galaxies): the estimate a survey
  without a truth can make.

Beside them, the measured fluxes of the detections matched to the truth, at
S/N 5-20, against their truth scaled by the ratio of measured to true flux
in the detection bands (aperture losses taken out): per band, the residuals
in units of the catalogue's errors (``colour_residuals``: their robust
scatter and the fractions beyond -3 and +3), which Gaussian errors would put
at 1 and 0.13%.

Each simulated sky is searched ``--realizations`` times, over noise images of
orthogonal exposure signs (rows of a Hadamard matrix: uncorrelated noise) and,
for the model, a population drawn anew each time; the counts are averaged.

With ``--field physical`` the pointings are the same skies without the
structured noise and without the exposure-level corrections (the physical
limit: sky and read noise, dithers, drizzle, gaps), with ``--field
physical_corrected`` without the structured noise but with the corrections;
their tables are kept under ``fields`` of the same result.

Each pointing's counts are kept in ``--run-dir`` (default ``<data
folder>/contamination_mock<version>``), so that a stopped run resumes.

Usage: ``python benchmarks/contamination.py [--pointings 20] [--first-seed 1] [--workers 2]
[--realizations 3] [--field default|physical|physical_corrected] [--run-dir DIR] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from _results import write_result
from survey_uvlf import MUV_EDGES  # the survey's bins, beside this script

from asteris.fileio import atomic_write, data_dir
from asteris.mock.datasets import MOCK_VERSION
from asteris.stats import nmad
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "contamination.json"
#: pointing ``seed``'s model population of realization k is drawn from seed MODEL_SEED + 1000 k + seed
MODEL_SEED = 5000
ESTIMATES = ("negated", "dimmed", "simulated_truth", "simulated_model")
FIELDS = ("default", "physical", "physical_corrected")  #: the mock skies of ``--field``


def load_pointing(seed: int, field: str, bands) -> tuple[dict, dict, object]:
    """The stacks, renderers and truth of mock pointing ``seed`` (the survey's) for ``field``."""
    from asteris.archive.corrections import CorrectionConfig
    from asteris.mock import MockPointing
    from asteris.mock.datasets import HIGH_Z_FIELD, mock_field
    from asteris.mock.noise import NoiseConfig
    from asteris.science.injection import SourceRenderer

    if field == "default":
        return MockPointing(seed).load(bands)[:3]
    options = {"noise": NoiseConfig.physical_only()}
    if field == "physical":
        options["corrections"] = CorrectionConfig.none()
    mock = mock_field("nircam", **HIGH_Z_FIELD, seed=seed, progress=False, **options)
    renderers = {b: SourceRenderer.for_mock(mock, b) for b in bands}
    return {b: mock.bands[b].stack for b in bands}, renderers, mock.catalog


def _muv_on_footprint(table, inside, weights=None) -> list[float]:
    """The rows on the footprint that were selected, per measured M_UV bin (weighted)."""
    import astropy.units as u

    from asteris.science.highz import on_footprint

    chosen = np.asarray(table["selected"], bool) & on_footprint(inside, table)
    weights = np.ones(len(table)) if weights is None else np.asarray(weights, float)
    muv = u.Quantity(table["M_UV"], u.mag).value
    return np.histogram(muv[chosen], MUV_EDGES, weights=weights[chosen])[0].tolist()


def _model_population(stacks, renderers, filters, seed: int):
    """The mock's objects other than z > 8.5 galaxies, drawn anew over the pointing's grid."""
    from asteris.mock.population import sky_catalog

    first = next(iter(filters))
    scale = renderers[first].pixel_scale
    height, width = stacks[first].data.shape[1:]
    population = sky_catalog((width * scale, height * scale), bands=list(filters.values()), seed=seed)
    population = population[np.asarray(population["type"]) != "high_z"]
    population["x"] = np.asarray(population["x_arcsec"], float) / scale - 0.5
    population["y"] = np.asarray(population["y_arcsec"], float) / scale - 0.5
    return population


def exposure_signs(count: int, realization: int) -> np.ndarray:
    """Row ``realization + 1`` of a Hadamard matrix of ``count`` exposures (a power of two): balanced
    signs whose noise images are uncorrelated with each other's; else a balanced random draw."""
    from scipy.linalg import hadamard

    if count & (count - 1) == 0 and realization + 1 < count:
        return hadamard(count)[realization + 1]
    signs = np.resize([1, -1], count) * (np.arange(count) < count - count % 2)
    return np.random.default_rng(realization).permutation(signs)


def colour_residuals(found, truth, detection_bands, *, snr=(5.0, 20.0)) -> dict:
    """Per band, ``(f - s f_true) / e`` of the detections matched to the truth within 2 px at ``snr``,
    ``s`` the ratio of measured to true flux summed over ``detection_bands``."""
    import astropy.units as u

    from asteris.science.highz import match_to_truth

    index = match_to_truth(found, truth)
    detected = np.asarray(found["snr_det"], float)
    keep = (index >= 0) & (detected >= snr[0]) & (detected < snr[1])
    found, truth = found[keep], truth[index[keep]]
    bands = [c[2:] for c in found.colnames if c.startswith("f_")]
    measured = {b: u.Quantity(found[f"f_{b}"], u.nJy).value for b in bands}
    true = {b: u.Quantity(truth[f"flux_jwst_{b.lower()}"], u.nJy).value for b in bands}
    scale = sum(measured[b] for b in detection_bands) / sum(true[b] for b in detection_bands)
    return {b: ((measured[b] - scale * true[b]) / u.Quantity(found[f"e_{b}"], u.nJy).value).tolist()
            for b in bands}  # fmt: skip


def pointing_counts(seed: int, realizations: int, field: str = "default") -> dict:
    """One pointing's candidates by true kind and each estimate of its interlopers, per M_UV bin."""
    import astropy.units as u

    from asteris.science.contamination import dimmed_interlopers, simulated_interlopers
    from asteris.science.highz import footprint, with_truth
    from asteris.science.survey import SurveyConfig, search_pointing
    from asteris.science.survey.run import _coadd_methods

    start = time.perf_counter()
    config = SurveyConfig()
    stacks, renderers, truth = load_pointing(seed, field, config.bands)
    inside = footprint(stacks)
    found, negated = search_pointing(stacks, renderers, _coadd_methods(), config)
    found, negated = found["coadd"], negated["coadd"]
    labelled = with_truth(found, truth, fallback_radius=4.0)
    kind = np.asarray(labelled["true_type"])
    genuine = (kind == "high_z") & (np.asarray(labelled["true_z"], float) > 8.5)
    counts = {"candidates": _muv_on_footprint(found, inside),
              "low_z": _muv_on_footprint(found, inside, ~genuine & (kind != "spurious")),
              "spurious": _muv_on_footprint(found, inside, kind == "spurious"),
              "negated": _muv_on_footprint(negated, inside)}  # fmt: skip
    dimmed = dimmed_interlopers(found, config.filters, detection_bands=config.detection_bands, seed=seed,
                                photoz_options=config.photoz_options)  # fmt: skip
    dimmed["x"], dimmed["y"] = found["x"][dimmed["target"]], found["y"][dimmed["target"]]
    counts["dimmed"] = _muv_on_footprint(dimmed, inside, dimmed["weight"])
    own = truth[~((np.asarray(truth["type"]) == "high_z") & (u.Quantity(truth["z"]).value > 8.5))]
    exposures = len(next(iter(stacks.values())).data)
    for name in ("simulated_truth", "simulated_model"):
        counts[name] = np.zeros(len(MUV_EDGES) - 1)
    for k in range(realizations):
        model = _model_population(stacks, renderers, config.filters, MODEL_SEED + 1000 * k + seed)
        for name, population in (("simulated_truth", own), ("simulated_model", model)):
            searched = simulated_interlopers(population, stacks, renderers, config.filters,
                                             detection_bands=config.detection_bands,
                                             signs=exposure_signs(exposures, k),
                                             photoz_options=config.photoz_options)  # fmt: skip
            counts[name] = counts[name] + np.asarray(_muv_on_footprint(searched, inside)) / realizations
    counts = {k: np.asarray(v, float).tolist() for k, v in counts.items()}
    residuals = colour_residuals(found, truth, config.detection_bands)
    seconds = time.perf_counter() - start
    return {"seed": seed, "realizations": realizations, "counts": counts, "residuals": residuals,
            "seconds": seconds}  # fmt: skip


def _one(seed: int, run_dir: Path, realizations: int, field: str) -> dict:
    path = run_dir / f"seed{seed}.json"
    if path.exists():
        record = json.loads(path.read_text())
        if record.get("realizations") != realizations:
            raise SystemExit(f"{path} holds {record.get('realizations')} realizations, not {realizations}: "
                             "give another --run-dir")  # fmt: skip
        return record
    record = pointing_counts(seed, realizations, field)
    atomic_write(path, lambda tmp: Path(tmp).write_text(json.dumps(record)), overwrite=False)
    return record


def summary(records: list[dict]) -> dict:
    """Totals per M_UV bin and overall, and each estimate's distance from the truth's interlopers in units
    of their Poisson errors (the simulated counts averaged over their realizations)."""
    names = ["candidates", "low_z", "spurious", *ESTIMATES]
    per_bin = {n: np.sum([r["counts"][n] for r in records], axis=0) for n in names}
    totals = {n: float(v.sum()) for n, v in per_bin.items()}
    truth = totals["low_z"] + totals["spurious"]
    realizations = records[0].get("realizations", 1)
    own_variance = {"negated": totals["negated"], "dimmed": 0.0,  # the dimmed weights are expectations
                    "simulated_truth": totals["simulated_truth"] / realizations,
                    "simulated_model": totals["simulated_model"] / realizations}  # fmt: skip
    against = {}
    for n in ESTIMATES:
        error = np.sqrt(truth + own_variance[n])  # Poisson, of the truth and of the estimate's own counts
        against[n] = {"total": totals[n], "minus_truth_sigma": (totals[n] - truth) / error if error else 0.0}
    residuals = {}
    for band in records[0]["residuals"]:
        r = np.concatenate([record["residuals"][band] for record in records])
        residuals[band] = {"n": len(r), "nmad": nmad(r), "below_minus_3": float(np.mean(r < -3)),
                           "above_3": float(np.mean(r > 3))}  # fmt: skip
    return {"colour_residuals": residuals, "M_UV": (0.5 * (MUV_EDGES[1:] + MUV_EDGES[:-1])).tolist(),
            "per_bin": {n: v.tolist() for n, v in per_bin.items()}, "totals": totals,
            "true_interlopers": truth, "estimates": against}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pointings", type=int, default=20)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--realizations", type=int, default=3)
    parser.add_argument("--field", choices=FIELDS, default="default")
    parser.add_argument("--run-dir", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    name = f"contamination_mock{MOCK_VERSION}_{args.field}_{args.realizations}"
    run_dir = args.run_dir or data_dir() / name
    run_dir.mkdir(parents=True, exist_ok=True)
    seeds = list(range(args.first_seed, args.first_seed + args.pointings))
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # one process per core
    with ProcessPoolExecutor(args.workers) as pool:
        records = list(pool.map(_one, seeds, *zip(*[(run_dir, args.realizations, args.field)] * len(seeds))))
    result = {"command": "python benchmarks/contamination.py " + " ".join(
                  f"--{k.replace('_', '-')} {v}" for k, v in (("pointings", args.pointings),
                                                              ("first_seed", args.first_seed),
                                                              ("workers", args.workers),
                                                              ("realizations", args.realizations),
                                                              ("field", args.field))),
              "machine": machine_description(), "mock_version": MOCK_VERSION,
              "model_population_seed": f"{MODEL_SEED} + 1000 x realization + pointing seed",
              "realizations": args.realizations,
              "pointings": [r["seed"] for r in records],
              "seconds_per_pointing": float(np.mean([r["seconds"] for r in records])),
              **summary(records)}  # fmt: skip
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    fields = {**previous.get("fields", {}), args.field: result}  # the other skies beside the survey's own
    fields.pop("default", None)
    written = {**result, "fields": fields} if args.field == "default" else {**previous, "fields": fields}
    write_result(args.out, written)
    print(json.dumps({k: result[k] for k in ("totals", "true_interlopers", "estimates")}, indent=1))


if __name__ == "__main__":
    main()
