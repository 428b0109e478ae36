"""Depth of the standard coadd against best practice: exposure-level corrections, the physical limit,
and the headroom each structured-noise component carries before and after its correction.

On the embedded NIRCam-like mock (F200W), with the same injections (seed 1)
into every field, the inverse-variance coadd's m90 (optimal protocol:
matched filter, 90% purity) is measured on

- ``plain``: every noise component on, the exposures co-added as they come;
- ``corrected``: the same exposures after `asteris.archive.corrections`
  (1/f, detector pattern, background, event flags and outliers);
- ``physical``: the same field with every structured component off and
  native pixels, dithers, roll, drizzle and gaps kept (the oracle), as it
  comes and corrected (``physical_corrected``: what the corrections do to a
  field with nothing to correct);
- ``white``: sky and read noise on output-sized pixels, integer dithers and
  no gaps (the previous oracle, kept as a labelled second reference).

The headroom is ``m90(physical) - m90(field)``. Attribution: each structured
component switched off in turn, plain and corrected; the headroom it
carries is the m90 gained by switching it off. Every component draws from its
own random stream, so these fields are paired realizations: the same sky,
the same white noise and the same other artefacts. The plain and corrected
fields are also measured under the paper-style protocol (mean-coadd
baseline) with purity, spurious rate (a source-free twin) and the
dual-image bias at S/N 10.

Every field's figures are kept in ``--work`` as they finish, so a stopped
run resumes. Writes ``results/depth_corrections.json``.

Usage: ``python benchmarks/depth_corrections.py [--realizations 2] [--per 200] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
from _results import json_ready, write_result

from asteris.archive.corrections import CorrectionConfig
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.mock.noise import STRUCTURED, NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.science.detect import detection_image
from asteris.science.injection import SourceRenderer
from asteris.science.methods import coadd_method
from asteris.science.photometry import limiting_magnitude
from asteris.science.recovery import compare_protocols, spurious_rate
from asteris.science.recovery_result import PROTOCOLS
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "depth_corrections.json"
BAND = "F200W"
NONE, ALL = CorrectionConfig.none(), CorrectionConfig()
#: name -> (noise, corrections, protocols measured)
REFERENCES = {
    "plain": (NoiseConfig(), NONE, PROTOCOLS),
    "corrected": (NoiseConfig(), ALL, PROTOCOLS),
    "physical": (NoiseConfig.physical_only(), NONE, ("optimal",)),
    "physical_corrected": (NoiseConfig.physical_only(), ALL, ("optimal",)),
    "white": (NoiseConfig.white_only(), NONE, ("optimal",)),
}
#: The paper-style protocol's baseline is the plain mean of the frames, as in depth.py.
BASELINES = {"optimal": "ivar", "paper": "mean"}


def fields_to_measure() -> dict[str, tuple]:
    out = dict(REFERENCES)
    for name in STRUCTURED:
        off = NoiseConfig(**{name: 0.0})
        out[f"no_{name}_plain"] = (off, NONE, ("optimal",))
        out[f"no_{name}_corrected"] = (off, ALL, ("optimal",))
    return out


def measure(noise: NoiseConfig, corrections: CorrectionConfig, protocols, args, mags) -> dict:
    field = mock_field(bands=[BAND], noise=noise, corrections=corrections, progress=False)
    stack, truth = field.bands[BAND].stack, field.bands[BAND].truth
    renderer = SourceRenderer.for_mock(field, BAND)
    methods = {m: coadd_method(m) for m in {BASELINES[p] for p in protocols}}
    results = compare_protocols(stack, methods, renderer, mags=mags, truth=truth, protocols=protocols,
                                n_per_realization=args.per, realizations=args.realizations, seed=1,
                                reference="ivar", progress=False)  # fmt: skip
    out = {"corrections": stack.header.get("CORRSTEP", "none")}
    for protocol in protocols:
        method, result = BASELINES[protocol], results[protocol]
        out[protocol] = {"method": method, **result.summary(method, n_boot=args.bootstrap),
                         "m90_interpolated": result.m90_interpolated(method)}  # fmt: skip
    if len(protocols) > 1:
        empty = mock_field(bands=[BAND], noise=noise, corrections=corrections,
                           population=PopulationConfig.empty(), progress=False)  # fmt: skip
        for protocol in protocols:
            entry = out[protocol]
            rates = spurious_rate(
                empty.bands[BAND].stack,
                {entry["method"]: methods[entry["method"]]},
                fwhm=renderer.fwhm_px,
                pixel_scale=renderer.pixel_scale,
                protocol=protocol,
            )
            threshold = entry["threshold"]
            entry["spurious_per_arcmin2"] = (
                float(rates[0][f"rate_{threshold:g}"]) if np.isfinite(threshold) else None
            )
    return out


def matched_filter_noise(image: np.ndarray, renderer: SourceRenderer) -> float:
    """Median noise of ``image``'s matched-filtered detection image: a depth figure paired fields
    compare to a few thousandths of a magnitude (2.5 log10 of its ratio), where m90 from a few
    hundred injections moves by a tenth."""
    det = detection_image(image, fwhm=renderer.fwhm_px)
    return float(np.median(det.filtered_rms[~det.mask]))


def filtered_noise(noise: NoiseConfig, corrections: CorrectionConfig) -> float:
    """`matched_filter_noise` of the ivar coadd of the field with ``noise`` and ``corrections``."""
    field = mock_field(bands=[BAND], noise=noise, corrections=corrections, progress=False)
    image = coadd_method("ivar")(field.bands[BAND].stack)
    return matched_filter_noise(image, SourceRenderer.for_mock(field, BAND))


def _mag(value, spec: str = ".2f") -> str:
    return "n/a" if value is None or not np.isfinite(value) else format(value, spec)


def _m90(done: dict, name: str) -> float:
    """m90 of a field (optimal protocol), NaN where no threshold of the ladder reached 90% purity."""
    value = done[name]["optimal"]["m90"]
    return float("nan") if value is None else value


def summarise(done: dict) -> dict:
    limit = _m90(done, "physical")
    headroom = {"plain": limit - _m90(done, "plain"),
                "corrected": limit - _m90(done, "corrected"),
                "corrected_vs_corrected_limit": _m90(done, "physical_corrected")
                - _m90(done, "corrected")}  # fmt: skip
    attribution = {}
    for name in STRUCTURED:
        before = _m90(done, f"no_{name}_plain") - _m90(done, "plain")
        after = _m90(done, f"no_{name}_corrected") - _m90(done, "corrected")
        attribution[name] = {"before": before, "after": after}
    noise = {name: done[name]["filtered_rms"] for name in done}

    def by_noise(a: str, b: str) -> float:  # how much deeper field a is than b, from their noise
        return 2.5 * np.log10(noise[b] / noise[a])

    for name, row in attribution.items():
        row["before_by_noise"] = by_noise(f"no_{name}_plain", "plain")
        row["after_by_noise"] = by_noise(f"no_{name}_corrected", "corrected")
    headroom_by_noise = {
        "plain": by_noise("physical", "plain"),
        "corrected": by_noise("physical", "corrected"),
        "corrected_vs_corrected_limit": by_noise("physical_corrected", "corrected"),
    }
    return {"physical_m90": limit, "white_m90": _m90(done, "white"), "headroom": headroom,
            "headroom_by_noise": headroom_by_noise,
            "taken_by_corrections": _m90(done, "corrected") - _m90(done, "plain"),
            "attribution": attribution}  # fmt: skip


def print_summary(summary: dict) -> None:
    limits = _mag(summary["physical_m90"]), _mag(summary["white_m90"])
    print(f"physical limit m90 {limits[0]}; white-noise twin {limits[1]}")
    headroom = summary["headroom"]
    print(f"headroom: plain {_mag(headroom['plain'], '+.2f')}, "
          f"corrected {_mag(headroom['corrected'], '+.2f')}, "
          f"corrected against the corrected limit {_mag(headroom['corrected_vs_corrected_limit'], '+.2f')} "
          f"(the corrections take {_mag(summary['taken_by_corrections'], '+.2f')} mag)")  # fmt: skip
    noise = summary["headroom_by_noise"]
    print(f"from the filtered noise: plain {_mag(noise['plain'], '+.3f')}, "
          f"corrected {_mag(noise['corrected'], '+.3f')}, "
          f"against the corrected limit {_mag(noise['corrected_vs_corrected_limit'], '+.3f')}")  # fmt: skip
    print(f"{'component':<16}{'m90 it costs: before':>22}{'after':>8}{'by noise: before':>18}{'after':>8}")
    formats = (("before", "+.2f"), ("after", "+.2f"), ("before_by_noise", "+.3f"), ("after_by_noise", "+.3f"))
    for name, row in summary["attribution"].items():
        cells = [_mag(row[k], f) for k, f in formats]
        print(f"{name:<16}{cells[0]:>22}{cells[1]:>8}{cells[2]:>18}{cells[3]:>8}")


def injection_mags() -> tuple[float, tuple[float, float]]:
    """The plain coadd's 5-sigma limit and the magnitude range of the injections every field shares."""
    plain = mock_field(bands=[BAND], corrections=NONE, progress=False)
    m5 = limiting_magnitude(
        coadd_method("ivar")(plain.bands[BAND].stack), SourceRenderer.for_mock(plain, BAND)
    )
    return m5, (m5 - 3.5, m5 + 1.0)


def measured_fields(names, measure_one, work: Path) -> dict:
    """Each field's figures: read from ``work`` where a run kept them, else ``measure_one(name)``, kept."""
    work.mkdir(parents=True, exist_ok=True)
    done = {}
    for name in names:
        path = work / f"{name}.json"
        if path.exists():
            done[name] = json.loads(path.read_text())
            continue
        start = time.perf_counter()
        done[name] = json_ready(measure_one(name), 4)
        done[name]["seconds"] = round(time.perf_counter() - start, 1)
        write_result(path, done[name], indent=2)
        print(f"{name:<28} done ({done[name]['seconds']:.0f} s)", flush=True)
    return done


def write_depth_result(script: str, args, m5: float, mags, summary: dict, done: dict) -> None:
    """The result JSON: the command, mock version, machine, summary and every field's figures."""
    command = (f"python benchmarks/{script} --realizations {args.realizations} --per {args.per} "
               f"--bootstrap {args.bootstrap}")  # fmt: skip
    out = {"command": command, "mock_version": MOCK_VERSION, "band": BAND, "m5_plain": round(m5, 3),
           "mags": [round(m, 3) for m in mags], "machine": machine_description(), "summary": summary,
           "fields": done}  # fmt: skip
    write_result(args.out, out, indent=2)
    print(f"wrote {args.out}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--realizations", type=int, default=2)
    parser.add_argument("--per", type=int, default=200, help="sources per injected stack")
    parser.add_argument("--bootstrap", type=int, default=200)
    parser.add_argument("--work", default="depth_corrections_runs", help="folder of the per-field figures")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    work = Path(args.work)
    m5, mags = injection_mags()
    fields = fields_to_measure()
    done = measured_fields(fields, lambda name: measure(*fields[name], args, mags), work)
    for name, (noise, corrections, _) in fields.items():
        if "filtered_rms" not in done[name]:
            done[name]["filtered_rms"] = filtered_noise(noise, corrections)
            write_result(work / f"{name}.json", done[name], indent=2)
    summary = json_ready(summarise(done), 4)
    print_summary(summary)
    write_depth_result("depth_corrections.py", args, m5, mags, summary, done)


if __name__ == "__main__":
    main()
