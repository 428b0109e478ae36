"""Depth gain of ASTERIS over standard coadds, measured by injection-recovery on the mock universe.

For each field (the embedded NIRCam-like mock with every noise component
on, and the same sky with white noise only as a control) this script
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

Usage: ``python benchmarks/depth.py [--realizations 4] [--per 200] [--quick] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from pathlib import Path

import numpy as np
import torch

from asteris import TrainConfig, train
from asteris.mock.datasets import mock_field
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.science.detect import detection_image, random_aperture_noise_ratio
from asteris.science.injection import SourceRenderer, source_mask
from asteris.science.plotting import (
    plot_completeness_purity,
    plot_injection_cutouts,
    plot_magnitude_bias,
    plot_point_source_profiles,
)
from asteris.science.recovery import (
    asteris_method,
    coadd_method,
    equal_spurious_threshold,
    injection_recovery,
    limiting_magnitude,
    spurious_rate,
)
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results"
BASELINE = "ivar"
FIELDS = {"all_noise": NoiseConfig(), "white_noise": NoiseConfig.white_only()}


def trained_models(stack, work: Path, quick: bool) -> dict[str, Path]:
    """Train (or reuse) the tiny model, and the paper-size one on a GPU, self-supervised on ``stack``."""
    runs = {"tiny": TrainConfig.preset("tiny")}
    if torch.cuda.is_available() and not quick:
        runs["paper"] = TrainConfig.preset("paper", bf16=True)
    models = {}
    for name, cfg in runs.items():
        run_dir = work / name
        if not (run_dir / "model.pt").exists():
            start = time.perf_counter()
            resume = (run_dir / "checkpoint_last.pt").exists()
            train(stack, run_dir=run_dir, config=cfg, resume=resume, overwrite=not resume, progress=False)
            print(f"  trained {name} in {time.perf_counter() - start:.0f} s")
        models[name] = run_dir / "model.pt"
    return models


def measure_field(name: str, noise: NoiseConfig, args, work: Path) -> dict:
    band = args.band
    field = mock_field(bands=[band], noise=noise, progress=False)
    empty = mock_field(bands=[band], noise=noise, population=PopulationConfig.empty(), progress=False)
    stack, truth = field.bands[band].stack, field.bands[band].truth
    renderer = SourceRenderer.for_mock(field, band)
    models = trained_models(stack, work / name, args.quick)
    methods = {m: coadd_method(m) for m in ("mean", "median", "sigma_clip", "ivar")}
    methods |= {f"asteris_{m}": asteris_method(path) for m, path in models.items()}
    m5 = limiting_magnitude(methods[BASELINE](stack), renderer)
    print(f"  {BASELINE} coadd 5-sigma limit (2-FWHM aperture): {m5:.2f} AB")
    start = time.perf_counter()
    result = injection_recovery(stack, methods, renderer, mags=(m5 - 3.5, m5 + 1.0), truth=truth,
                                n_per_realization=args.per, realizations=args.realizations,
                                reference=BASELINE, seed=1, progress=True)  # fmt: skip
    print(f"  injection-recovery: {time.perf_counter() - start:.0f} s")
    spurious = spurious_rate(empty.bands[band].stack, methods, fwhm=renderer.fwhm_px,
                             pixel_scale=renderer.pixel_scale, thresholds=result.thresholds)  # fmt: skip
    out = {"band": band, "m5_coadd": m5, "injected": len(result.injected), "methods": {}}
    avoid = source_mask(result.images[BASELINE], fwhm=renderer.fwhm_px)
    for method in result.methods:
        summary = result.summary(method, n_boot=args.bootstrap)
        row = spurious[spurious["method"] == method][0]
        threshold = summary["threshold"]
        summary["spurious_per_arcmin2"] = (
            float(row[f"rate_{threshold:g}"]) if np.isfinite(threshold) else None
        )
        summary["spurious_per_arcmin2_by_threshold"] = {
            f"{t:g}": float(row[f"rate_{t:g}"]) for t in result.thresholds
        }
        summary["mag_bias_sn10_direct"] = summary["mag_bias_sn10"]
        det = detection_image(result.images[method], fwhm=renderer.fwhm_px)
        summary["random_aperture_noise_ratio"] = random_aperture_noise_ratio(
            det, result.aperture_diameter, avoid=avoid
        )
        if method.startswith("asteris_"):
            summary["dm90"], summary["dm90_err"] = result.depth_gain(method, BASELINE, n_boot=args.bootstrap)
            base = out["methods"][BASELINE]["threshold"]  # the baseline comes first in `methods`
            equal = float("nan")
            if np.isfinite(base):
                equal = equal_spurious_threshold(spurious, method, BASELINE, base)
            summary["threshold_equal_spurious"] = equal
            if np.isfinite(equal):
                summary["dm90_equal_spurious"], summary["dm90_equal_spurious_err"] = result.depth_gain(
                    method, BASELINE, threshold=equal, n_boot=args.bootstrap
                )
        out["methods"][method] = summary
    figures = RESULTS / "depth"
    figures.mkdir(parents=True, exist_ok=True)
    plots = {"completeness_purity": plot_completeness_purity, "magnitude_bias": plot_magnitude_bias,
             "cutouts": plot_injection_cutouts, "psf_profiles": plot_point_source_profiles}  # fmt: skip
    for stem, plot in plots.items():
        plot(result, figures / f"{name}_{stem}.png", overwrite=True)
    return out


def no_nan(value):
    """``value`` with NaN floats as None (null): JSON has no NaN."""
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: no_nan(v) for k, v in value.items()}
    return value


def print_table(name: str, figures: dict) -> None:
    print(f"\n{name} ({figures['band']}, {figures['injected']} injected sources, "
          f"coadd 5-sigma {figures['m5_coadd']:.2f})")  # fmt: skip
    print(f"{'method':<15}{'thr':>5}{'m90':>8}{'err':>6}{'purity':>8}{'dmag@S/N10':>12}{'dual':>8}{'ranap':>7}"
          f"{'FWHM ratio':>12}{'spurious/arcmin2':>18}{'dm90':>14}{'dm90 eq.spur.':>15}")  # fmt: skip
    for method, s in figures["methods"].items():
        dm90 = f"{s['dm90']:+.2f}+-{s['dm90_err']:.2f}" if "dm90" in s else ""
        equal = s.get("dm90_equal_spurious")
        equal = f"{equal:+.2f}@{s['threshold_equal_spurious']:g}" if equal is not None else ""
        spurious = f"{s['spurious_per_arcmin2']:.1f}" if s["spurious_per_arcmin2"] is not None else "n/a"
        print(f"{method:<15}{s['threshold']:>5.1f}{s['m90']:>8.2f}{s['m90_err']:>6.2f}{s['purity']:>8.3f}"
              f"{s['mag_bias_sn10']:>+12.3f}{s['mag_bias_sn10_dual']:>+8.3f}{s['random_aperture_noise_ratio']:>7.2f}"
              f"{s['fwhm_ratio']:>12.3f}{spurious:>18}{dm90:>14}{equal:>15}")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--band", default="F200W")
    parser.add_argument("--realizations", type=int, default=4)
    parser.add_argument("--per", type=int, default=200, help="sources per injected stack")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--quick", action="store_true", help="one realization, no GPU model, no JSON")
    parser.add_argument("--work", default="depth_runs", help="folder for the trained models")
    parser.add_argument("--out", default=str(RESULTS / "depth.json"))
    args = parser.parse_args()
    if args.quick:
        args.realizations, args.bootstrap = 1, 50
    device = (
        torch.cuda.get_device_name(0)
        if torch.cuda.is_available()
        else f"CPU ({platform.processor() or 'x86_64'})"
    )
    results = {"device": device, "torch": torch.__version__, "machine": machine_description(),
               "baseline": BASELINE, "fields": {}}  # fmt: skip
    for name, noise in FIELDS.items():
        print(f"{name}:")
        results["fields"][name] = measure_field(name, noise, args, Path(args.work))
    for name, figures in results["fields"].items():
        print_table(name, figures)
    if not args.quick:
        Path(args.out).write_text(json.dumps(no_nan(results), indent=2) + "\n")
        print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
