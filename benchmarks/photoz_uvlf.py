"""Photometric redshifts, z > 8.5 candidates and the UV luminosity function on the mock: coadd vs ASTERIS.

On the z > 8.5 mock field (`asteris.mock.datasets.high_z_field`: eight NIRCam
bands, a known input luminosity function boosted in density), for the
inverse-variance coadd and for ASTERIS (the chapters' model: the committed
``tiny`` reference model fine-tuned for 100 steps on the F200W stack; and the
published-size model trained there when a CUDA GPU is present; each applied
to every band) this script runs the whole chain
(catalogue, EAZY photo-z, selection, M_UV; every method's fluxes measured on
the coadds at the positions it detects, dual-image mode) and measures:

* photo-z accuracy of every detected galaxy with a truth redshift:
  sigma_NMAD of dz / (1 + z) and the outlier fraction (|dz| / (1 + z) > 0.15),
  overall and per detection S/N bin;
* the z > 8.5 selection against the truth: completeness among the field's
  detected z > 8.5 galaxies and among all of them, contamination (selected
  objects that are not z > 8.5 galaxies), the number of candidates;
* completeness C(M_UV, z) from mock z > 8.5 galaxies injected into every
  exposure of every band and run through the whole chain, the effective
  volumes, and the binned luminosity function of the candidates (divided by
  the field's density boost) against the input one, with a double-power-law
  fit (emcee); the faintest M_UV bin holding a candidate.

Prints the figures and writes them to ``results/photoz_uvlf.json``.

Usage: ``python benchmarks/photoz_uvlf.py [--realizations 4] [--per 40] [--quick] [--work DIR]``
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import torch
from _results import finite_or_none, write_result

from asteris import TrainConfig, train
from asteris.book import CI_FINE_TUNE_STEPS, CI_REFERENCE, reference_weights, training_preset
from asteris.fileio import sha256sum
from asteris.mock.datasets import MOCK_VERSION, high_z_field
from asteris.mock.population import PopulationConfig
from asteris.science.highz import (
    high_z_recovery,
    photoz_accuracy,
    search_high_z,
    selection_against_truth,
    with_truth,
)
from asteris.science.injection import SourceRenderer
from asteris.science.methods import asteris_method, coadd_method
from asteris.science.uvlf import (
    bin_averages,
    completeness_curves,
    effective_volume,
    measure_luminosity_function,
)
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "photoz_uvlf.json"
#: How every method's fluxes are measured (depth.py measures the bias of both ways; the coadd's is unbiased).
PHOTOMETRY = "dual-image: detected on each method's images, fluxes measured on the ivar coadds"
DETECTION_BANDS = ("F277W", "F356W", "F444W")
MUV_EDGES = np.arange(-22.5, -18.49, 0.5)
MUV_GRID = np.linspace(-22.5, -18.5, 161)
Z_EDGES = np.array([8.5, 9.5, 10.5, 11.5, 13.0, 16.0])
SNR_BINS = (5.0, 10.0, 20.0, np.inf)


def photoz_figures(matched) -> dict:
    """sigma_NMAD and outlier fraction overall and per detection S/N bin."""
    table = photoz_accuracy(matched, snr_bins=SNR_BINS)
    rows = [{"n": int(r["n"]), "sigma_nmad": finite_or_none(r["sigma_nmad"]),
             "outlier_fraction": finite_or_none(r["outlier_fraction"])} for r in table]  # fmt: skip
    by_snr = {f"{r['snr_min']:g}-{r['snr_max']:g}": row for r, row in zip(table[1:], rows[1:])}
    return {**rows[0], "by_snr": by_snr}


def luminosity_function(found, recovery, method: str, area, boost: float) -> dict:
    """Binned phi of the candidates against the input, from V_eff of the injections; DPL fit."""
    lf = PopulationConfig().high_z_lf
    curves = completeness_curves(recovery["M_UV"].value, recovery["z"], recovery[f"{method}_selected"],
                                 muv_grid=MUV_GRID, z_edges=Z_EDGES)  # fmt: skip
    v_eff = effective_volume(curves, z_edges=Z_EDGES, area=area) * boost
    candidates = found[np.asarray(found["selected"])]
    binned, fit = measure_luminosity_function(candidates["M_UV"], muv_edges=MUV_EDGES, muv_grid=MUV_GRID,
                                              v_eff_grid=v_eff, fixed={"beta": lf.beta})  # fmt: skip
    truth_phi = bin_averages(lf, binned["muv_lo"], binned["muv_hi"])
    tested = np.asarray(binned["n"]) >= 5
    within = (truth_phi >= binned["phi_lo"].value) & (truth_phi <= binned["phi_hi"].value)
    reached = np.asarray(binned["n"]) > 0
    rows = zip(binned["M_UV"].value, binned["n"], binned["v_eff"].value / boost, binned["phi"].value,
               binned["phi_lo"].value, binned["phi_hi"].value, truth_phi)  # fmt: skip
    keys = ("M_UV", "n", "v_eff_mpc3", "phi", "phi_lo", "phi_hi", "phi_input")
    return {
        "bins": [{k: (int(v) if k == "n" else float(v)) for k, v in zip(keys, row)} for row in rows],
        "uvlf_bins_tested": int(tested.sum()),
        "uvlf_bins_within_errors": int(np.sum(tested & within)),
        "faintest_muv": float(binned["M_UV"].value[reached].max()) if reached.any() else None,
        "dpl_fit": {k: float(v) for k, v in fit.values().items()},
        "dpl_fit_errors": {r["parameter"]: [float(r["minus"]), float(r["plus"])] for r in fit.summary()},
        "injected_selected_fraction": float(np.mean(recovery[f"{method}_selected"])),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--per", type=int, default=40, help="galaxies injected per realization")
    parser.add_argument("--quick", action="store_true", help="1 realization of 20 galaxies")
    parser.add_argument("--work", help="folder for the trained models (default: a temporary one)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if args.quick:
        args.realizations, args.per = 1, 20
    work = Path(args.work or tempfile.mkdtemp(prefix="asteris-photoz-uvlf-"))
    start = time.perf_counter()
    field = high_z_field(progress=False)
    bands = list(field.bands)
    filters = {b: f"jwst_{b.lower()}" for b in bands}
    renderers = {b: SourceRenderer.for_mock(field, b) for b in bands}
    stacks = {b: field.bands[b].stack for b in bands}
    boost = float(field.params["population"]["high_z_boost"])
    methods = {"coadd": coadd_method("ivar")}
    # the chapters' model: the committed tiny reference fine-tuned on the field's F200W stack
    configs = {"asteris_tiny": (training_preset("ci"), reference_weights(*CI_REFERENCE))}
    if torch.cuda.is_available() and not args.quick:
        configs["asteris_paper"] = (TrainConfig.preset("paper", bf16=True), None)
    for name, (config, init_from) in configs.items():
        run = train(stacks["F200W"], run_dir=work / name, config=config, overwrite=True, progress=False,
                    init_from=init_from)  # fmt: skip
        methods[name] = asteris_method(run.model)
    result_models = {name: str(path) for name, (_, path) in configs.items() if path is not None}
    print(f"field and models ready in {time.perf_counter() - start:.0f} s; boost {boost:g}")
    truth = field.catalog
    shape = stacks["F200W"].data.shape[1:]
    area = shape[0] * shape[1] * (renderers["F200W"].pixel_scale * u.arcsec) ** 2
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else platform.processor() or "cpu"
    command = f"python benchmarks/photoz_uvlf.py --realizations {args.realizations} --per {args.per}"
    result = {"device": device, "machine": machine_description(), "mock_version": MOCK_VERSION,
              "command": command,
              "reference_models": {name: {"file": Path(path).name, "sha256": sha256sum(path)}
                                   for name, path in result_models.items()},
              "fine_tune_steps": CI_FINE_TUNE_STEPS, "photometry": PHOTOMETRY, "boost": boost,
              "methods": {}}  # fmt: skip
    found_by = {}
    coadds = {b: methods["coadd"](stacks[b]) for b in bands}
    for name, method in methods.items():
        images = coadds if name == "coadd" else {b: method(stacks[b]) for b in bands}
        found = search_high_z(images, renderers, filters, detection_bands=DETECTION_BANDS,
                              measure_images=coadds)  # fmt: skip
        matched = with_truth(found, truth)
        found_by[name] = found
        result["methods"][name] = {
            **photoz_figures(matched),
            **selection_against_truth(matched, truth, shape=shape),
        }
        _print_method(name, result["methods"][name])
    recovery = high_z_recovery(stacks, renderers, methods, filters, n_per_realization=args.per,
                               realizations=args.realizations, muv_range=(MUV_EDGES[0], MUV_EDGES[-1]),
                               z_range=(Z_EDGES[0], Z_EDGES[-1]), detection_bands=DETECTION_BANDS,
                               measure_with=methods["coadd"], progress=False)  # fmt: skip
    for name in methods:
        figures = luminosity_function(found_by[name], recovery, name, area, boost)
        result["methods"][name].update(figures)
        _print_lf(name, figures)
    result.update(
        realizations=args.realizations, per_realization=args.per, seconds=time.perf_counter() - start
    )
    write_result(args.out, result, indent=2)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


def _print_method(name: str, m: dict) -> None:
    print(
        f"{name}: {m['n']} galaxies with photo-z: sigma_NMAD {m['sigma_nmad']:.3f}, "
        f"outliers {m['outlier_fraction']:.2f}"
    )
    for bin_name, s in m["by_snr"].items():
        if s["n"]:
            print(
                f"    S/N {bin_name}: n {s['n']}, sigma_NMAD {s['sigma_nmad']:.3f}, "
                f"outliers {s['outlier_fraction']:.2f}"
            )
    print(f"    candidates {m['n_candidates']}; z > 8.5 galaxies in field {m['n_true_high_z_in_field']}, "
          f"detected "
          f"{m['n_true_high_z_detected']}; completeness {m['highz_completeness']:.2f} of detected "
          f"({m['highz_completeness_all']:.2f} of all), contamination {m['highz_contamination']:.2f} "
          f"{m['contaminant_types']}")  # fmt: skip


def _print_lf(name: str, f: dict) -> None:
    print(f"{name}: UV luminosity function (phi in 1e-5 Mpc^-3 mag^-1, sky density)")
    for b in f["bins"]:
        print(f"    M_UV {b['M_UV']:6.2f}: n {b['n']:3d}  V_eff {b['v_eff_mpc3']:8.0f} Mpc^3  phi "
              f"{b['phi'] * 1e5:8.2f} [{b['phi_lo'] * 1e5:7.2f}, {b['phi_hi'] * 1e5:7.2f}]  "
              f"input {b['phi_input'] * 1e5:8.2f}")  # fmt: skip
    print(f"    bins with n >= 5 within 1-sigma: {f['uvlf_bins_within_errors']} of {f['uvlf_bins_tested']}; "
          f"faintest bin reached {f['faintest_muv']}; DPL fit {f['dpl_fit']}")  # fmt: skip


if __name__ == "__main__":
    main()
