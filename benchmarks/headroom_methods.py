"""Pipelines that try to take the headroom left after the exposure corrections, against the corrected
coadd and the physical limit, under both protocols.

On the embedded NIRCam-like mock (F200W, every noise component on), with the
same injections (seed 1) into every field, these designs are measured
against the corrected inverse-variance coadd (``ivar`` on ``corrected``,
the baseline of best practice) and the physical limit (``physical``: every
structured component off, native pixels, dithers, drizzle and gaps kept):

- **the column pass where it is needed** (``CorrectionConfig(columns="auto")``,
  field ``corrected_auto``): the 1/f column medians run only where the
  exposures, less a leave-one-out model of the sky, carry column noise
  (`asteris.archive.corrections.column_excess`); elsewhere they only imprint
  the light of galaxies too faint to mask;
- **model-subtracted corrections** (``CorrectionConfig(subtract_model=True)``,
  ``corrected_model``): the row, column and mesh medians of each exposure
  are taken after the leave-one-out coadd, resampled onto its pixels, is
  subtracted, so that faint galaxies no longer enter them;
- **residual-weighted coadds** (``local_ivar``, `asteris.coadd.local_weights`):
  per-voxel weights from each exposure's local residual power at the
  detection scale, the residual taken against the per-pixel median or
  against the ASTERIS network's output (``local_ivar_net``): the network
  flags structure, the coadd keeps linear photometry;
- **ASTERIS on corrected exposures** (``asteris_tiny_ft``): the committed
  ``tiny`` model fine-tuned on the corrected stack as the chapters do.

The ``physical_*`` fields give what each correction costs a field with
nothing to correct, and the plain field the exposures as they come.

For each method: m90 (optimal protocol: matched filter, 90% purity, with
bootstrap error) and its fraction of the headroom (physical-limit m90 less
the baseline's), purity, the spurious rate at its threshold on the field's
source-free twin, the dual-image bias at S/N 10, and under the paper-style
protocol (mean-coadd baseline) the same. For the linear methods also the
noise of the matched-filtered image, which paired fields compare to a few
thousandths of a magnitude where m90 from a few hundred injections moves by
a tenth: its headroom fraction is the precise figure.

Each field's figures are kept in ``--work`` as they finish, so a stopped run
resumes. Writes ``results/headroom_methods.json``.

Usage: ``python benchmarks/headroom_methods.py [--realizations 4] [--per 200] [--work DIR]``
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _results import json_ready
from depth import BASELINES, model_record
from depth_corrections import injection_mags, matched_filter_noise, measured_fields, write_depth_result

from asteris import train
from asteris.archive.corrections import CorrectionConfig
from asteris.book import reference_weights, training_preset
from asteris.coadd import coadd
from asteris.mock.datasets import mock_field
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.science.injection import SourceRenderer
from asteris.science.methods import asteris_method, coadd_method
from asteris.science.recovery import compare_protocols, spurious_rate
from asteris.science.recovery_result import PROTOCOLS

RESULTS = Path(__file__).parent / "results" / "headroom_methods.json"
BAND = "F200W"
BASELINE = "ivar"
NETWORK = ("asteris_tiny_ft", "local_ivar_net")
#: name -> (noise, corrections, methods measured)
FIELDS = {
    "plain": (NoiseConfig(), CorrectionConfig.none(), ("ivar", "mean")),
    "corrected": (NoiseConfig(), CorrectionConfig(), ("ivar", "mean", "local_ivar", *NETWORK)),
    "corrected_auto": (NoiseConfig(), CorrectionConfig(columns="auto"), ("ivar", "mean", "asteris_tiny_ft")),
    "corrected_model": (NoiseConfig(), CorrectionConfig(subtract_model=True), ("ivar",)),
    "physical": (NoiseConfig.physical_only(), CorrectionConfig.none(), ("ivar",)),
    "physical_corrected": (NoiseConfig.physical_only(), CorrectionConfig(), ("ivar",)),
    "physical_auto": (NoiseConfig.physical_only(), CorrectionConfig(columns="auto"), ("ivar",)),
    "physical_model": (NoiseConfig.physical_only(), CorrectionConfig(subtract_model=True), ("ivar",)),
}
#: the fields whose methods are rows of the summary (the physical ones are references)
PIPELINES = ("plain", "corrected", "corrected_auto", "corrected_model")
#: methods whose output is linear in the data (for given weights): their filtered noise is a depth figure
LINEAR = ("ivar", "mean", "local_ivar", "local_ivar_net")


def fine_tuned(stack, work: Path) -> Path:
    """The committed ``tiny`` model fine-tuned on ``stack`` as the chapters do (resumed if stopped)."""
    run_dir = work / "tiny_ft"
    if not (run_dir / "model.pt").exists():
        resume = (run_dir / "checkpoint_last.pt").exists()
        train(stack, run_dir=run_dir, config=training_preset("ci"), resume=resume, overwrite=not resume,
              progress=False, init_from=reference_weights("tiny", BAND))  # fmt: skip
    return run_dir / "model.pt"


def methods_for(names, model: Path | None) -> dict:
    denoise = asteris_method(model) if model is not None else None
    last = {}

    def network(stack):  # both network methods see each stack in turn: denoise it once
        if last.get("stack") is not stack:
            last.update(stack=stack, image=denoise(stack))
        return last["image"]

    def network_weighted(stack):
        return coadd(stack, method="local_ivar", prediction=network(stack)).image

    table = {"asteris_tiny_ft": network, "local_ivar_net": network_weighted}
    return {name: table[name] if name in table else coadd_method(name) for name in names}


def _entry(result, method: str, rates, baseline: str, n_boot: int) -> dict:
    out = {"method": method, **result.summary(method, n_boot=n_boot),
           "m90_interpolated": result.m90_interpolated(method)}  # fmt: skip
    threshold = out["threshold"]
    row = rates[rates["method"] == method][0]
    out["spurious_per_arcmin2"] = float(row[f"rate_{threshold:g}"]) if np.isfinite(threshold) else None
    if method != baseline:
        out["dm90"], out["dm90_err"] = result.depth_gain(method, baseline, n_boot=n_boot)
    return out


def measure(name: str, args, mags, work: Path) -> dict:
    noise, corrections, names = FIELDS[name]
    field = mock_field(bands=[BAND], noise=noise, corrections=corrections, progress=False)
    stack, truth = field.bands[BAND].stack, field.bands[BAND].truth
    renderer = SourceRenderer.for_mock(field, BAND)
    needs_model = any(n in NETWORK for n in names)
    model = fine_tuned(stack, work / name) if needs_model else None
    methods = methods_for(names, model)
    protocols = PROTOCOLS if "mean" in names else ("optimal",)
    results = compare_protocols(stack, methods, renderer, mags=mags, truth=truth, protocols=protocols,
                                n_per_realization=args.per, realizations=args.realizations, seed=1,
                                reference=BASELINE, progress=False)  # fmt: skip
    empty = mock_field(bands=[BAND], noise=noise, corrections=corrections,
                       population=PopulationConfig.empty(), progress=False).bands[BAND].stack  # fmt: skip
    images = {n: m(empty) for n, m in methods.items()}
    cached = {n: (lambda _stack, image=image: image) for n, image in images.items()}
    out = {"corrections": stack.header.get("CORRSTEP", "none"), "protocols": {}}
    for protocol in protocols:
        rates = spurious_rate(empty, cached, fwhm=renderer.fwhm_px, pixel_scale=renderer.pixel_scale,
                              protocol=protocol)  # fmt: skip
        out["protocols"][protocol] = {
            m: _entry(results[protocol], m, rates, BASELINES[protocol], args.bootstrap)
            for m in results[protocol].methods
            if protocol == "optimal" or m != BASELINE
        }
    out["filtered_noise_mag"] = filtered_noise_mags(stack, methods, names, renderer)
    if model is not None:
        out["model"] = model_record("tiny_ft", model)
    return out


def filtered_noise_mags(stack, methods: dict, names, renderer) -> dict:
    """-2.5 log10 of each linear method's `matched_filter_noise`: a depth figure (larger is deeper)."""
    return {method: -2.5 * np.log10(matched_filter_noise(methods[method](stack), renderer))
            for method in names if method in LINEAR}  # fmt: skip


def summarise(done: dict) -> dict:
    """Each pipeline's depth against the corrected coadd as a fraction of the headroom left after the
    corrections, by m90 and by filtered noise, with its purity, spurious rate and bias, both protocols."""
    optimal = {f: done[f]["protocols"]["optimal"] for f in done}
    base_m90, limit_m90 = optimal["corrected"][BASELINE]["m90"], optimal["physical"][BASELINE]["m90"]
    depth = {f: done[f]["filtered_noise_mag"] for f in done}
    base_depth, limit_depth = depth["corrected"][BASELINE], depth["physical"][BASELINE]
    headroom, headroom_noise = limit_m90 - base_m90, limit_depth - base_depth
    paper_base = done["corrected"]["protocols"]["paper"]["mean"]["m90"]
    rows = {}
    for field in PIPELINES:
        for method, entry in optimal[field].items():
            if method == "mean":
                continue
            row = {"m90": entry["m90"], "m90_err": entry["m90_err"], "gain": entry["m90"] - base_m90}
            row["fraction_of_headroom"] = row["gain"] / headroom if headroom > 0 else None
            if method in depth[field]:
                row["gain_by_noise"] = depth[field][method] - base_depth
                row["fraction_by_noise"] = row["gain_by_noise"] / headroom_noise
            for key in ("purity", "spurious_per_arcmin2", "mag_bias_sn10_dual", "mag_bias_sn10"):
                row[key] = entry[key]
            # the paper-style protocol's coadd is the mean of the frames
            paper = done[field]["protocols"].get("paper", {}).get("mean" if method == BASELINE else method)
            if paper is not None:
                keys = ("m90", "m90_err", "purity", "spurious_per_arcmin2")
                row["paper"] = {key: paper[key] for key in keys}
                row["paper"]["gain_over_mean"] = paper["m90"] - paper_base
            rows[f"{method}@{field}"] = row
    noise_costs = {f: limit_depth - depth[f][BASELINE] for f in done}
    return {"headroom_m90": headroom, "headroom_by_noise": headroom_noise, "limit_m90": limit_m90,
            "baseline_m90": base_m90, "paper_baseline_m90": paper_base, "noise_above_limit": noise_costs,
            "rows": rows}  # fmt: skip


def _f(value, spec: str) -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def print_summary(summary: dict) -> None:
    print(f"headroom after corrections: m90 {summary['headroom_m90']:+.2f} "
          f"(limit {summary['limit_m90']:.2f}, corrected ivar {summary['baseline_m90']:.2f}); "
          f"by filtered noise {summary['headroom_by_noise']:+.3f} mag")  # fmt: skip
    print(f"{'method@field':<34}{'m90':>7}{'err':>6}{'gain':>7}{'share':>7}{'noise gain':>11}{'share':>7}"
          f"{'purity':>8}{'spur/amin2':>11}{'dual@10':>9}")  # fmt: skip
    for name, r in summary["rows"].items():
        print(f"{name:<34}{_f(r['m90'], '.2f'):>7}{_f(r['m90_err'], '.2f'):>6}{_f(r['gain'], '+.2f'):>7}"
              f"{_f(r['fraction_of_headroom'], '.2f'):>7}{_f(r.get('gain_by_noise'), '+.3f'):>11}"
              f"{_f(r.get('fraction_by_noise'), '.2f'):>7}{_f(r['purity'], '.3f'):>8}"
              f"{_f(r['spurious_per_arcmin2'], '.0f'):>11}"
              f"{_f(r['mag_bias_sn10_dual'], '+.3f'):>9}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--per", type=int, default=200, help="sources per injected stack")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--work", default="headroom_runs", help="folder of the per-field figures and models")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    work = Path(args.work)
    m5, mags = injection_mags()  # as depth_corrections.py: the same injections
    done = measured_fields(FIELDS, lambda name: measure(name, args, mags, work), work)
    summary = json_ready(summarise(done), 4)
    print_summary(summary)
    write_depth_result("headroom_methods.py", args, m5, mags, summary, done)


if __name__ == "__main__":
    main()
