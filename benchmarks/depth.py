"""Depth gain of ASTERIS over standard coadds, measured by injection-recovery on the mock universe.

For each field (the embedded NIRCam-like mock with every noise component
on, its exposures corrected before co-adding as `asteris.archive.corrections`
does by default, and the same sky with white noise only as a control) this script
trains the ``tiny`` ASTERIS model self-supervised on the band's stack (and
the published-size model when a CUDA GPU is present), injects point
sources and small Sersic galaxies into every exposure, and measures for the
mean, median, sigma-clipped and inverse-variance coadds and for each ASTERIS
model: m90 at the lowest threshold with 90% purity (bootstrap error), the
purity there, the photometric bias at S/N 10 measured on the method's own
image and in dual-image mode (detected there, measured on the ivar coadd in
the same aperture), the random-aperture noise over the per-pixel prediction
(1 for white noise), the FWHM ratio of bright point sources, and the
spurious-detection rate on a source-free stack with the same noise; and dm90
of each ASTERIS model over the ivar coadd with a paired-bootstrap error, at
its 90%-purity threshold and at the lowest threshold that holds it to the
coadd's spurious rate. Prints the table, writes
``results/depth.json`` and the figures in ``results/depth/``.

With ``--sweep`` it runs instead the strength sweep of the structured
noise (`asteris.mock.noise.NoiseConfig.structured_scale` 0, 0.5, 1, 2, 4)
and writes ``results/depth_sweep.json``: the coadd's m90, the headroom
(m90 at scale 0, no structured component but native pixels, dithers,
drizzle and gaps kept, less m90 at that scale) and each method's dm90.
`benchmarks/depth_corrections.py` measures the plain and corrected coadds,
the physical limit and the headroom of each component.

Usage: ``python benchmarks/depth.py [--realizations 4] [--per 200] [--quick] [--sweep]
[--models tiny,small,tiny_ft] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch
from _results import write_result

from asteris import TrainConfig, train
from asteris.book import reference_name, reference_weights, training_preset
from asteris.fileio import sha256sum
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.science.detect import detection_image, random_aperture_noise_ratio
from asteris.science.injection import SourceRenderer, source_mask
from asteris.science.methods import asteris_method, coadd_method
from asteris.science.photometry import limiting_magnitude
from asteris.science.plotting import (
    plot_completeness_purity,
    plot_convergence,
    plot_injection_cutouts,
    plot_magnitude_bias,
    plot_point_source_profiles,
)
from asteris.science.recovery import (
    PROTOCOLS,
    compare_protocols,
    equal_spurious_threshold,
    injection_recovery,
    spurious_rate,
)
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results"
REPOSITORY = Path(__file__).resolve().parents[1]
BASELINE = "ivar"
FIELDS = {"all_noise": NoiseConfig(), "white_noise": NoiseConfig.white_only()}


#: The committed reference models the benchmark evaluates (trained on mock fields 101-103, F200W).
REFERENCE_PRESETS = ("tiny", "small")


def reference_models(stack, work: Path, quick: bool) -> dict[str, Path]:
    """The committed reference models, the tiny one also fine-tuned on ``stack`` as the chapters do
    (``tiny_ft``), and on a CUDA GPU the published-size model trained self-supervised on ``stack``."""
    models = {preset: reference_weights(preset, "F200W") for preset in REFERENCE_PRESETS}
    runs = {"tiny_ft": (training_preset("ci"), models["tiny"])}
    if torch.cuda.is_available() and not quick:
        runs["paper"] = (TrainConfig.preset("paper", bf16=True), None)
    for name, (cfg, init_from) in runs.items():
        run_dir = work / name
        if not (run_dir / "model.pt").exists():
            start = time.perf_counter()
            resume = (run_dir / "checkpoint_last.pt").exists()
            train(stack, run_dir=run_dir, config=cfg, resume=resume, overwrite=not resume, progress=False,
                  init_from=init_from)  # fmt: skip
            print(f"  trained {name} in {time.perf_counter() - start:.0f} s")
        models[name] = run_dir / "model.pt"
    return models


#: Each protocol's baseline: the optimal detector against the inverse-variance coadd, the paper-style
#: one against the plain mean of the frames (what the authors' code compares with).
BASELINES = {"optimal": "ivar", "paper": "mean"}


def _protocol_table(result, spurious, baseline: str, args) -> dict:
    """Per method under one protocol: m90, its error, purity, spurious rate, dm90 against ``baseline``."""
    out = {}
    for method in result.methods:
        threshold = result.best_threshold(method)
        row = spurious[spurious["method"] == method][0]
        entry = {
            "threshold": threshold,
            "m90": result.m90(method),
            "m90_err": result.m90_error(method, n_boot=args.bootstrap),
            "purity": result.purity(method, threshold) if np.isfinite(threshold) else None,
            "spurious_per_arcmin2": float(row[f"rate_{threshold:g}"]) if np.isfinite(threshold) else None,
        }
        if method != baseline:
            entry["dm90"], entry["dm90_err"] = result.depth_gain(method, baseline, n_boot=args.bootstrap)
        out[method] = entry
    return out


def oracle_m90(noise: NoiseConfig, args, mags: tuple[float, float]) -> float:
    """m90 of the ivar coadd (optimal protocol) on the field's oracle twin: same sources and exposures,
    no structured component (structured_scale 0: native pixels, dithers, drizzle and gaps kept), the
    physical limit of any method."""
    band = args.band
    twin = mock_field(bands=[band], noise=NoiseConfig(structured_scale=0.0), progress=False)
    renderer = SourceRenderer.for_mock(twin, band)
    result = injection_recovery(twin.bands[band].stack, {BASELINE: coadd_method(BASELINE)}, renderer,
                                mags=mags, truth=twin.bands[band].truth, n_per_realization=args.per,
                                realizations=args.realizations, seed=1, progress=False)  # fmt: skip
    return result.m90(BASELINE)


def _add_headroom(out: dict, noise: NoiseConfig, scale: float, args, mags) -> None:
    """``oracle_m90``, ``headroom`` and each method's dm90 as a fraction of it (optimal protocol)."""
    optimal = out["protocols"]["optimal"]
    out["oracle_m90"] = oracle_m90(noise, args, mags) if scale else optimal[BASELINE]["m90"]
    out["headroom"] = out["oracle_m90"] - optimal[BASELINE]["m90"]
    for entry in optimal.values():
        if "dm90" in entry and out["headroom"] > 0:
            entry["fraction_of_headroom"] = entry["dm90"] / out["headroom"]


def _optimal_summary(result, method: str, spurious, models: dict, avoid, args, baseline_threshold) -> dict:
    """The optimal protocol's full figures of one method (photometry, noise, PSF, equal-spurious dm90)."""
    summary = result.summary(method, n_boot=args.bootstrap)
    row = spurious[spurious["method"] == method][0]
    threshold = summary["threshold"]
    summary["spurious_per_arcmin2"] = float(row[f"rate_{threshold:g}"]) if np.isfinite(threshold) else None
    summary["spurious_per_arcmin2_by_threshold"] = {
        f"{t:g}": float(row[f"rate_{t:g}"]) for t in result.thresholds
    }
    summary["mag_bias_sn10_direct"] = summary["mag_bias_sn10"]
    summary["m90_interpolated"] = result.m90_interpolated(method)
    det = detection_image(result.images[method], fwhm=result.aperture_diameter / 2.0)
    summary["random_aperture_noise_ratio"] = random_aperture_noise_ratio(
        det, result.aperture_diameter, avoid=avoid
    )
    if not method.startswith("asteris_"):
        return summary
    summary["dm90"], summary["dm90_err"] = result.depth_gain(method, BASELINE, n_boot=args.bootstrap)
    summary["dm90_interpolated"] = summary["m90_interpolated"] - result.m90_interpolated(BASELINE)
    equal = float("nan")
    if np.isfinite(baseline_threshold):
        equal = equal_spurious_threshold(spurious, method, BASELINE, baseline_threshold)
    summary["threshold_equal_spurious"] = equal
    if np.isfinite(equal):
        summary["dm90_equal_spurious"], summary["dm90_equal_spurious_err"] = result.depth_gain(
            method, BASELINE, threshold=equal, n_boot=args.bootstrap
        )
    summary["reference_model"] = model_record(method[len("asteris_") :], models[method[len("asteris_") :]])
    return summary


def model_record(name: str, path: Path) -> dict:
    """A model named as a result may name it: a committed file by its repository path, a model this
    benchmark trained by its SHA-256 and how it was made (its work folder is scratch)."""
    path = Path(path).resolve()
    record = {"sha256": sha256sum(path)}
    if path.is_relative_to(REPOSITORY):
        return {"file": path.relative_to(REPOSITORY).as_posix(), **record}
    made = "trained on the field's stack by this run (reference_models)"
    return {"file": None, **record, "made_by": f"{name}: {made}, see the result's command"}


def measure_field(name: str, noise: NoiseConfig, args, work: Path, *, figures: bool = True) -> dict:
    """Both protocols on the same injections into the field with ``noise``; the oracle with ``figures``."""
    band = args.band
    field = mock_field(bands=[band], noise=noise, progress=False)
    empty = mock_field(bands=[band], noise=noise, population=PopulationConfig.empty(), progress=False)
    stack, truth = field.bands[band].stack, field.bands[band].truth
    renderer = SourceRenderer.for_mock(field, band)
    white = noise.effective() == NoiseConfig.white_only()
    scale = 0.0 if white else noise.structured_scale
    models = reference_models(stack, work / ("white" if white else f"scale_{scale:g}"), args.quick)
    models = {name: path for name, path in models.items() if name in args.models or name == "paper"}
    methods = {m: coadd_method(m) for m in ("mean", "median", "sigma_clip", "ivar")}
    methods |= {f"asteris_{m}": asteris_method(path) for m, path in models.items()}
    m5 = limiting_magnitude(methods[BASELINE](stack), renderer)
    print(f"  {BASELINE} coadd 5-sigma limit (2-FWHM aperture): {m5:.2f} AB")
    start, mags = time.perf_counter(), (m5 - 3.5, m5 + 1.0)
    results = compare_protocols(stack, methods, renderer, mags=mags, truth=truth, n_per_realization=args.per,
                                realizations=args.realizations, reference=BASELINE, seed=1,
                                progress=True)  # fmt: skip
    print(f"  injection-recovery: {time.perf_counter() - start:.0f} s")
    source_free = empty.bands[band].stack
    images = {name: method(source_free) for name, method in methods.items()}  # once for both protocols
    cached = {name: (lambda _stack, image=image: image) for name, image in images.items()}
    spurious = {}
    for p in PROTOCOLS:
        spurious[p] = spurious_rate(source_free, cached, fwhm=renderer.fwhm_px,
                                    pixel_scale=renderer.pixel_scale, protocol=p)  # fmt: skip
    result = results["optimal"]
    out = {"band": band, "m5_coadd": m5, "injected": len(result.injected), "structured_scale": scale}
    out["protocols"] = {p: _protocol_table(results[p], spurious[p], BASELINES[p], args) for p in PROTOCOLS}
    avoid = source_mask(result.images[BASELINE], fwhm=renderer.fwhm_px)
    base = result.best_threshold(BASELINE)
    out["methods"] = {m: _optimal_summary(result, m, spurious["optimal"], models, avoid, args, base)
                      for m in result.methods}  # fmt: skip
    if figures:
        _add_headroom(out, noise, scale, args, mags)
        _write_figures(name, results)
    return out


def _write_figures(name: str, results: dict) -> None:
    folder = RESULTS / "depth"
    folder.mkdir(parents=True, exist_ok=True)
    plots = {"completeness_purity": plot_completeness_purity, "magnitude_bias": plot_magnitude_bias,
             "cutouts": plot_injection_cutouts, "psf_profiles": plot_point_source_profiles}  # fmt: skip
    for stem, plot in plots.items():
        plot(results["optimal"], folder / f"{name}_{stem}.png", overwrite=True)
    plot_completeness_purity(
        results["paper"], folder / f"{name}_completeness_purity_paper.png", overwrite=True
    )


#: Strengths of the structured noise the sweep visits (0: no structured component, the physical limit).
SWEEP_SCALES = (0.0, 0.5, 1.0, 2.0, 4.0)


def sweep(args) -> dict:
    """Injection-recovery at each `SWEEP_SCALES` strength: coadd m90, headroom, each method's dm90.

    Models are trained once per strength in the same work folder as the main
    run (scale 1 is its all-noise field).
    """
    fields = {}
    for scale in SWEEP_SCALES:
        print(f"structured_scale {scale:g}:")
        fields[f"{scale:g}"] = measure_field(f"scale_{scale:g}", NoiseConfig(structured_scale=scale), args,
                                             Path(args.work), figures=False)  # fmt: skip
    limit = fields["0"]["protocols"]["optimal"][BASELINE]["m90"]
    table = []
    for scale, figures in fields.items():
        optimal, paper = figures["protocols"]["optimal"], figures["protocols"]["paper"]
        table.append({"scale": float(scale), "coadd_m90": optimal[BASELINE]["m90"],
                      "headroom": limit - optimal[BASELINE]["m90"],
                      "dm90": {m: e.get("dm90") for m, e in optimal.items() if m != BASELINE},
                      "dm90_err": {m: e.get("dm90_err") for m, e in optimal.items() if m != BASELINE},
                      "dm90_paper": {m: e.get("dm90") for m, e in paper.items() if m != BASELINES["paper"]},
                      "purity_paper": {m: e["purity"] for m, e in paper.items()}})  # fmt: skip
    print(f"\n{'scale':>6}{'coadd m90':>11}{'headroom':>10}  dm90 (optimal vs ivar | paper vs mean)")
    for row in table:
        gains = "  ".join(f"{m} {v:+.2f}" for m, v in row["dm90"].items() if v is not None)
        paper = "  ".join(f"{m} {v:+.2f}" for m, v in row["dm90_paper"].items() if v is not None)
        print(f"{row['scale']:>6g}{row['coadd_m90']:>11.2f}{row['headroom']:>+10.2f}  {gains} | {paper}")
    return {"scales": list(SWEEP_SCALES), "rows": table, "fields": fields}


#: Training steps at which the convergence study measures dm90 (and each run's last snapshot).
CONVERGENCE_STEPS = (100, 200, 400, 800, 1600)


def convergence(args) -> dict:
    """dm90 (optimal protocol, all-noise field) against training steps for each reference preset.

    Reads the weights ``benchmarks/train_reference.py`` keeps every 100 steps
    in its work folder (``--convergence RUNS``), at `CONVERGENCE_STEPS` and the
    last step, and measures all of them on the same injections with the ivar
    coadd as baseline. Each row carries the run's validation loss at that step.
    """
    band = args.band
    field = mock_field(bands=[band], progress=False)
    stack, truth = field.bands[band].stack, field.bands[band].truth
    renderer = SourceRenderer.for_mock(field, band)
    methods, points = {BASELINE: coadd_method(BASELINE)}, {}
    for preset in REFERENCE_PRESETS:
        run = Path(args.convergence) / reference_name(preset, "F200W")
        snapshots = {int(p.stem.split("_")[1]): p for p in (run / "snapshots").glob("step_*.pt")}
        if not snapshots:
            raise SystemExit(f"no snapshots in {run / 'snapshots'}: run benchmarks/train_reference.py there")
        last = max(snapshots)
        for step in sorted({s for s in CONVERGENCE_STEPS if s in snapshots} | {last}):
            methods[f"{preset}@{step}"] = asteris_method(snapshots[step])
            points[f"{preset}@{step}"] = (preset, step, run / "metrics.jsonl")
    m5 = limiting_magnitude(methods[BASELINE](stack), renderer)
    result = injection_recovery(stack, methods, renderer, mags=(m5 - 3.5, m5 + 1.0), truth=truth,
                                n_per_realization=args.per, realizations=args.realizations, seed=1,
                                progress=True)  # fmt: skip
    rows = []
    for name, (preset, step, metrics) in points.items():
        gain, error = result.depth_gain(name, BASELINE, n_boot=args.bootstrap)
        interpolated = result.m90_interpolated(name) - result.m90_interpolated(BASELINE)
        rows.append({"preset": preset, "step": step, "m90": result.m90(name), "dm90": gain, "dm90_err": error,
                     "dm90_interpolated": interpolated,
                     "val_loss": _validation_loss(metrics, step)})  # fmt: skip
        print(f"  {name:<12} m90 {rows[-1]['m90']:.2f}  dm90 {gain:+.2f} +- {error:.2f} "
              f"(interpolated {interpolated:+.2f})")  # fmt: skip
    return {"baseline_m90": result.m90(BASELINE), "rows": rows}


def _validation_loss(metrics: Path, step: int) -> float | None:
    """The validation loss a run logged at ``step`` (``metrics.jsonl``), or None."""
    for line in metrics.read_text().splitlines():
        row = json.loads(line)
        if row.get("step") == step and row.get("val_loss") is not None:
            return row["val_loss"]
    return None


def print_table(name: str, figures: dict) -> None:
    print(f"\n{name} ({figures['band']}, {figures['injected']} injected sources, "
          f"coadd 5-sigma {figures['m5_coadd']:.2f})")  # fmt: skip
    print(f"{'method':<15}{'thr':>5}{'m90':>8}{'err':>6}{'purity':>8}{'dmag@S/N10':>12}{'dual':>8}{'ranap':>7}"
          f"{'FWHM ratio':>12}{'spurious/amin2':>16}{'dm90 (interp.)':>22}{'dm90 eq.spur.':>15}")  # fmt: skip
    for method, s in figures["methods"].items():
        dm90 = f"{s['dm90']:+.2f}+-{s['dm90_err']:.2f} ({s['dm90_interpolated']:+.2f})" if "dm90" in s else ""
        equal = s.get("dm90_equal_spurious")
        equal = f"{equal:+.2f}@{s['threshold_equal_spurious']:g}" if equal is not None else ""
        spurious = f"{s['spurious_per_arcmin2']:.1f}" if s["spurious_per_arcmin2"] is not None else "n/a"
        print(f"{method:<15}{s['threshold']:>5.1f}{s['m90']:>8.2f}{s['m90_err']:>6.2f}{s['purity']:>8.3f}"
              f"{s['mag_bias_sn10']:>+12.3f}{s['mag_bias_sn10_dual']:>+8.3f}{s['random_aperture_noise_ratio']:>7.2f}"
              f"{s['fwhm_ratio']:>12.3f}{spurious:>16}{dm90:>22}{equal:>15}")  # fmt: skip


def print_protocols(figures: dict) -> None:
    """Both protocols side by side, and the headroom when the oracle was measured."""
    if "oracle_m90" in figures:
        oracle, headroom = figures["oracle_m90"], figures["headroom"]
        print(f"oracle (no structured noise) m90 {oracle:.2f}, headroom {headroom:+.2f} mag")
    for protocol, table in figures["protocols"].items():
        print(f"  {protocol} protocol (baseline {BASELINES[protocol]}):")
        for method, e in table.items():
            dm90 = f"{e['dm90']:+.2f}+-{e['dm90_err']:.2f}" if e.get("dm90") is not None else ""
            share = f"{e['fraction_of_headroom']:.2f} of headroom" if "fraction_of_headroom" in e else ""
            purity = f"{e['purity']:.3f}" if e["purity"] is not None else "n/a"
            rate = f"{e['spurious_per_arcmin2']:.1f}" if e["spurious_per_arcmin2"] is not None else "n/a"
            print(f"    {method:<15} thr {e['threshold']:>4g}  m90 {e['m90']:6.2f}+-{e['m90_err']:.2f}  "
                  f"purity {purity}  spurious {rate:>7}/arcmin2  {dm90} {share}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--band", default="F200W")
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--per", type=int, default=200, help="sources per injected stack")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="one realization, no GPU model, no JSON")
    parser.add_argument("--work", default="depth_runs", help="folder for the trained models")
    parser.add_argument(
        "--models",
        default="tiny,small,tiny_ft",
        help="ASTERIS models to measure (comma-separated; the published size joins on a GPU)",
    )
    parser.add_argument(
        "--out",
        default=None,
        help="JSON to write (default results/depth.json, or results/depth_sweep.json with --sweep)",
    )
    parser.add_argument(
        "--convergence",
        metavar="RUNS",
        help="dm90 against training steps from the snapshots in train_reference.py's work folder RUNS",
    )
    parser.add_argument(
        "--sweep",
        action="store_true",
        help=f"injection-recovery at structured_scale {', '.join(map(str, SWEEP_SCALES))}",
    )
    args = parser.parse_args()
    args.models = args.models.split(",")
    default = "depth_sweep.json" if args.sweep else "convergence.json" if args.convergence else "depth.json"
    args.out = args.out or str(RESULTS / default)
    if args.quick:
        args.realizations, args.bootstrap = 1, 50
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'})"
    )
    results = {"device": device, "torch": torch.__version__, "machine": machine_description(),
               "baseline": BASELINE, "mock_version": MOCK_VERSION, "fields": {}}  # fmt: skip
    if args.convergence:
        results |= {"command": "python benchmarks/depth.py --convergence RUNS " + " ".join(
            f"--{k} {getattr(args, k)}" for k in ("band", "realizations", "per", "bootstrap")),
            "mock_version": MOCK_VERSION, "convergence": convergence(args)}  # fmt: skip
        write_result(args.out, results, indent=2)
        plot_convergence(results["convergence"], RESULTS / "depth" / "convergence.png", overwrite=True)
        print(f"\nwrote {args.out}")
        return
    if args.sweep:
        results |= {"command": "python benchmarks/depth.py --sweep " + " ".join(
            f"--{k} {getattr(args, k)}" for k in ("band", "realizations", "per", "bootstrap"))
            + f" --models {','.join(args.models)}",
            "mock_version": MOCK_VERSION, "sweep": sweep(args)}  # fmt: skip
        write_result(args.out, results, indent=2)
        print(f"\nwrote {args.out}")
        return
    for name, noise in FIELDS.items():
        print(f"{name}:")
        results["fields"][name] = measure_field(name, noise, args, Path(args.work))
    for name, figures in results["fields"].items():
        print_table(name, figures)
        print_protocols(figures)
    if not args.quick:
        write_result(args.out, results, indent=2)
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
