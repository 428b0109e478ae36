"""Photo-z errors on the mock: template mismatch or noise?

On mock z > 8.5 pointings (`asteris.mock.datasets.HIGH_Z_FIELD`, seeds
``--seeds``, the fields the survey benchmark also uses), every band's ivar
coadd is catalogued (`asteris.science.multiband_catalog`, detected on F277W +
F356W + F444W) and matched to the truth. The same detections are then fitted
with EAZY four ways:

* templates: the package's offline default set (8 populations,
  `asteris.science.photoz.DEFAULT_POPULATIONS`) or a set spanning the mock's own
  SED library (22 populations, `asteris.mock.population.library_populations`);
* photometry: as measured on the coadds (point-source aperture fluxes); noise-free
  (each detection's true fluxes from the truth catalogue, scaled by one grey
  factor to its measured brightness, with the measured errors as weights); or
  those plus Gaussian noise of the measured errors (seeded), at the measured S/N.

Noise-free photometry fitted with the mock's own library leaves almost only
the fit itself; the default set on noise-free photometry measures the template
mismatch alone; true fluxes with noise add the noise alone; measured photometry
adds what measuring does besides (apertures and their corrections, blending,
the background). EAZY's standard template sets (``sfhz``, Larson et al.
2023) need a download that this machine cannot make; their list file can be
given with ``--eazy-templates``. Per way: sigma_NMAD of dz/(1+z) and the outlier
fraction (|dz|/(1+z) > 0.15) overall and per detection S/N bin, the same for the
true z > 8.5 galaxies detected, and the z > 8.5 selection's completeness and
contamination. Beside them, per band, how the measured fluxes scatter about the true ones in units
of their errors (pulls) and their median ratio to the truth at S/N > 20. Writes
``results/photoz_templates.json``.

Usage: ``python benchmarks/photoz_templates.py [--seeds 1 2 3 4] [--eazy-templates FILE] [--out FILE]``
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _results import finite_or_none, write_result
from astropy.table import QTable, vstack

from asteris.mock.datasets import HIGH_Z_FIELD, MOCK_VERSION, mock_field
from asteris.mock.population import library_populations
from asteris.science import SourceRenderer, coadd_method, multiband_catalog, photometric_redshifts
from asteris.science.highz import photoz_accuracy, with_truth
from asteris.science.photoz import DEFAULT_POPULATIONS, default_templates
from asteris.science.select import select_high_z
from asteris.stats import nmad
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "photoz_templates.json"
BANDS = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
DETECTION = ("F277W", "F356W", "F444W")
FILTERS = {b: f"jwst_{b.lower()}" for b in BANDS}
SNR_BINS = (5.0, 10.0, 20.0, np.inf)


def pointing_catalog(seed: int) -> QTable:
    """Coadd catalogue of one mock pointing, matched to its truth, with noise-free fluxes beside.

    The catalogue's fluxes are aperture fluxes corrected for a point source, so an extended galaxy
    keeps only part of its total flux. The noise-free fluxes are the true total fluxes scaled, per
    object, by one grey factor (measured over true in the detection bands): the true colours at the
    measured brightness, so that noise of the measured errors gives the measured S/N.
    """
    field = mock_field("nircam", **HIGH_Z_FIELD, seed=seed, progress=False)
    coadd = coadd_method("ivar")
    images = {b: coadd(field.bands[b].stack) for b in BANDS}
    renderers = {b: SourceRenderer.for_mock(field, b) for b in BANDS}
    catalog = with_truth(multiband_catalog(images, renderers, detection_bands=DETECTION), field.catalog)
    index = np.asarray(catalog["true_index"])
    true = {
        b: np.asarray(field.catalog[f"flux_{FILTERS[b]}"].value, float)[np.maximum(index, 0)] for b in BANDS
    }
    measured = {b: _values(catalog[f"f_{b}"]) for b in BANDS}
    total = sum(true[b] for b in DETECTION)
    grey = np.divide(sum(measured[b] for b in DETECTION), total, out=np.ones(len(catalog)), where=total > 0)
    for band in BANDS:
        catalog[f"true_f_{band}"] = np.where(index >= 0, true[band] * grey, measured[band])
    catalog["pointing"] = seed
    return catalog


def _values(column) -> np.ndarray:
    return np.asarray(getattr(column, "value", column), float)


PHOTOMETRY = ("measured", "noise_free", "true_plus_noise")


def fit(catalog: QTable, templates, *, photometry: str, templates_file=None) -> QTable:
    """z_phot and the z > 8.5 selection of every detection for one template set and photometry."""
    fluxes = catalog.copy()
    rng = np.random.default_rng(0)
    if photometry != "measured":
        for band in BANDS:
            error = _values(catalog[f"e_{band}"])
            noise = rng.normal(0.0, 1.0, len(catalog)) * error if photometry == "true_plus_noise" else 0.0
            fluxes[f"f_{band}"] = (catalog[f"true_f_{band}"] + noise) * catalog[f"f_{band}"].unit
    photoz = photometric_redshifts(fluxes, FILTERS, templates=templates, templates_file=templates_file)
    selection = select_high_z(fluxes, photoz, FILTERS)
    out = catalog["pointing", "id", "snr_det", "true_type", "true_z"]
    out["z_phot"], out["selected"] = photoz["z_phot"], selection["selected"]
    return out


def figures(table: QTable) -> dict:
    """sigma_NMAD and outliers overall, per S/N bin and for true z > 8.5; the selection against the truth."""

    def rows(t):
        return [{"snr": f"{r['snr_min']:g}-{r['snr_max']:g}", "n": int(r["n"]),
                 "sigma_nmad": finite_or_none(r["sigma_nmad"]),
                 "outlier_fraction": finite_or_none(r["outlier_fraction"])}
                for r in photoz_accuracy(t, snr_bins=SNR_BINS)]  # fmt: skip

    high_z = (np.asarray(table["true_type"]) == "high_z") & (np.asarray(table["true_z"], float) > 8.5)
    selected = np.asarray(table["selected"], bool)
    return {
        "all": rows(table),
        "true_high_z": rows(table[high_z])[0],
        "selection": {"candidates": int(selected.sum()), "true_high_z_detected": int(high_z.sum()),
                      "completeness": float(np.sum(selected & high_z) / max(high_z.sum(), 1)),
                      "contamination": float(np.sum(selected & ~high_z) / max(selected.sum(), 1))},
    }  # fmt: skip


def pulls(catalog: QTable) -> dict:
    """Per band, over galaxies matched to the truth: the NMAD and median of (measured - noise-free flux)
    / error (NMAD 1 and median 0 when the errors hold the scatter and the colours are unbiased) and
    the median ratio measured / noise-free at detection S/N > 20."""
    galaxy = ~np.isin(np.asarray(catalog["true_type"]), ["star", "spurious"])
    bright = galaxy & (np.asarray(catalog["snr_det"], float) > 20)
    out = {}
    for band in BANDS:
        f, e = _values(catalog[f"f_{band}"]), _values(catalog[f"e_{band}"])
        true = np.asarray(catalog[f"true_f_{band}"], float)
        pull = ((f - true) / np.where(e > 0, e, np.inf))[galaxy & (e > 0)]
        ratio = f[bright & (true > 0)] / true[bright & (true > 0)]
        spread = nmad(pull)
        out[band] = {"pull_nmad": finite_or_none(spread), "pull_median": finite_or_none(np.median(pull)),
                     "flux_ratio_snr20": finite_or_none(np.median(ratio))}  # fmt: skip
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[1, 2, 3, 4])
    parser.add_argument("--eazy-templates", help="an EAZY template list file (e.g. a fetched sfhz set)")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    start = time.perf_counter()
    catalog = vstack([pointing_catalog(seed) for seed in args.seeds])
    print(f"{len(catalog)} detections on {len(args.seeds)} pointings ({time.perf_counter() - start:.0f} s)")
    sets = {
        "package_default": (default_templates(), None),
        "mock_library": (default_templates(library_populations()), None),
    }
    if args.eazy_templates:
        sets["eazy_file"] = (None, args.eazy_templates)
    ways = {}
    measurement = pulls(catalog)
    for band, p in measurement.items():
        print(f"{band}: pull NMAD {p['pull_nmad']:.2f}, median pull {p['pull_median']:+.2f}, "
              f"flux ratio at S/N > 20 {p['flux_ratio_snr20']:.3f}")  # fmt: skip
    for name, (templates, templates_file) in sets.items():
        for photometry in PHOTOMETRY:
            way = f"{name}/{photometry}"
            ways[way] = figures(fit(catalog, templates, photometry=photometry, templates_file=templates_file))
            _print(way, ways[way])
    command = "python benchmarks/photoz_templates.py --seeds " + " ".join(map(str, args.seeds))
    result = {"command": command, "machine": machine_description(), "mock_version": MOCK_VERSION,
              "pointings": args.seeds, "detections": len(catalog),
              "templates": {"package_default": [p[0] for p in DEFAULT_POPULATIONS],
                            "mock_library": [p[0] for p in library_populations()]},
              "measured_fluxes": measurement, "ways": ways,
              "seconds": round(time.perf_counter() - start, 1)}  # fmt: skip
    write_result(args.out, result)
    print(f"wrote {args.out} ({result['seconds']:.0f} s)")


def _print(way: str, f: dict) -> None:
    print(way)
    for r in f["all"]:
        if r["n"]:
            print(f"    S/N {r['snr']:>8s}: n {r['n']:4d}  sigma_NMAD {r['sigma_nmad']:.3f}  "
                  f"outliers {r['outlier_fraction']:.2f}")  # fmt: skip
    h, s = f["true_high_z"], f["selection"]
    print(f"    true z > 8.5: n {h['n']}, sigma_NMAD {h['sigma_nmad']}, outliers {h['outlier_fraction']}; "
          f"selected {s['candidates']}, completeness {s['completeness']:.2f}, contamination "
          f"{s['contamination']:.2f}")  # fmt: skip


if __name__ == "__main__":
    main()
