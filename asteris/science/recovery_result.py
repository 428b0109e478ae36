"""What injection-recovery measured, as one table of injected sources by method, and its metrics.

`RecoveryResult` gives, per method and threshold, completeness and purity
against magnitude, the 90% completeness magnitude m90 at the lowest
threshold whose purity is at least 90% (`PURITY_GOAL`), photometric bias and
scatter, the FWHM and ellipticity of recovered point sources against the
noiseless truth, and `RecoveryResult.depth_gain`, the paired-bootstrap gain
dm90 of one method over another. `PROTOCOLS` says how each protocol detects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from astropy.table import QTable, vstack

from ..errors import ConfigError
from ..stats import nmad
from .matching import binned_fraction, completeness_magnitude, fit_completeness
from .photometry import flux_to_mag

__all__ = ["RecoveryResult", "PROTOCOLS", "DEFAULT_THRESHOLDS", "PAPER_THRESHOLDS", "PURITY_GOAL"]


#: Detection thresholds scanned, in units of the filtered image's noise.
DEFAULT_THRESHOLDS = (2.0, 2.5, 3.0, 3.5, 4.0, 5.0, 6.0, 7.0)
#: Thresholds of the paper-style protocol, in units of the per-pixel background RMS (SExtractor's
#: DETECT_THRESH; deep-field catalogues use about 1-2 with a minimum area of a few pixels).
PAPER_THRESHOLDS = (0.8, 1.0, 1.2, 1.5, 2.0, 2.5, 3.0, 4.0)
#: How each protocol detects. ``optimal``: the PSF-matched filter, thresholds in the filtered image's
#: own noise, so that every method is held to the same false-detection rate (Zackay & Ofek 2017, ApJ
#: 836, 187). ``paper``: the SExtractor convention of deep-field catalogues, a 3x3 filter, thresholds in
#: the per-pixel RMS of the unfiltered image and a minimum connected area, which counts the smoothing a
#: method does as depth; every method is held to the same fixed threshold (1.5 sigma), whatever its
#: purity. Against the plain mean of the frames, it is the comparison of the paper.
PROTOCOLS = {
    "optimal": {"kernel": "matched", "threshold_units": "filtered", "thresholds": DEFAULT_THRESHOLDS,
                "n_pixels": 5},
    "paper": {"kernel": "sextractor", "threshold_units": "pixel", "thresholds": PAPER_THRESHOLDS,
              "n_pixels": 5, "threshold": 1.5},
}  # fmt: skip
PURITY_GOAL = 0.9


def _finite_std(samples) -> float:
    """Standard deviation of the finite samples (NaN when fewer than two)."""
    samples = np.asarray(samples, float)
    samples = samples[np.isfinite(samples)]
    return float(samples.std()) if samples.size > 1 else float("nan")


@dataclass
class RecoveryResult:
    """Everything measured by `injection_recovery`; the metrics are methods of it.

    ``table`` holds one row per injected source and method: the injected
    source's columns (position, ``mag``, ``kind``, ``realization``, reference
    S/N ``ref_snr``, ``model_flux``, truth shapes ``fwhm_true`` and
    ``ell_true``), ``method``, and for each scanned threshold ``t``:
    ``recovered_<t>``, ``flux_<t>`` (the aperture flux on the method's image,
    NaN where missed) and ``flux_dual_<t>`` (in the same aperture on the
    reference image at the detected position: dual-image mode), with
    ``fwhm`` and ``ellipticity`` measured at the injected position.
    """

    table: QTable
    thresholds: tuple[float, ...]
    detections: dict[str, list[tuple[np.ndarray, np.ndarray]]]  #: per method and threshold: (mag, real)
    #: per method and threshold, the false detections that set purity without a truth (None with one)
    negatives: dict[str, np.ndarray] | None
    zero_point: float
    aperture_diameter: float  #: pixels
    sigma_aperture: float  #: empty-aperture noise of the reference method (image units)
    reference: str
    area_arcmin2: float
    bin_width: float = 0.25
    images: dict[str, np.ndarray] = field(default_factory=dict)  #: last realization, per method and more
    protocol: str = "optimal"  #: the `PROTOCOLS` entry detection followed
    #: estimate ("negated_stack", "negated_image") to per method and threshold false-detection counts
    negative_estimates: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def from_arrays(
        cls, methods, thresholds, injected: QTable, recovered: dict, measured_flux: dict, shapes: dict,
        *args, measured_flux_dual: dict | None = None, **options,
    ) -> RecoveryResult:  # fmt: skip
        """The result of per-method arrays of shape (thresholds, injected): ``recovered``,
        ``measured_flux`` and ``measured_flux_dual``, with ``shapes`` the (FWHM, ellipticity) of each
        injected source; ``args`` and ``options``: the other fields, in their order."""
        parts = []
        for method in methods:
            part = injected.copy()
            part["method"] = np.full(len(part), method)
            for i, threshold in enumerate(thresholds):
                part[f"recovered_{threshold:g}"] = np.asarray(recovered[method][i], bool)
                part[f"flux_{threshold:g}"] = np.asarray(measured_flux[method][i], float)
                if measured_flux_dual is not None:
                    part[f"flux_dual_{threshold:g}"] = np.asarray(measured_flux_dual[method][i], float)
            part["fwhm"], part["ellipticity"] = shapes[method]
            parts.append(part)
        return cls(vstack(parts, metadata_conflicts="silent"), tuple(thresholds), *args, **options)

    @cached_property
    def methods(self) -> list[str]:
        """The methods, in the order they were run."""
        return list(dict.fromkeys(str(m) for m in self.table["method"]))

    @cached_property
    def injected(self) -> QTable:
        """The injected sources (all realizations): the table's rows of one method, without its results."""
        per_method = {"method", "fwhm", "ellipticity"}
        prefixes = ("recovered_", "flux_", "flux_dual_")
        keep = [c for c in self.table.colnames if c not in per_method and not c.startswith(prefixes)]
        return self.table[self.table["method"] == self.methods[0]][keep]

    @cached_property
    def has_dual(self) -> bool:
        """Whether dual-image fluxes were measured."""
        return f"flux_dual_{self.thresholds[0]:g}" in self.table.colnames

    @cached_property
    def _arrays(self) -> dict[str, dict]:
        """Per method: ``recovered``, ``flux`` and ``flux_dual`` as (thresholds, injected), and ``shape``."""
        out = {}
        for method in self.methods:
            rows = self.table[self.table["method"] == method]
            stacked = {key: np.stack([np.asarray(rows[f"{key}_{t:g}"]) for t in self.thresholds])
                       for key in ("recovered", "flux", "flux_dual") if key != "flux_dual" or self.has_dual}
            stacked["shape"] = (np.asarray(rows["fwhm"]), np.asarray(rows["ellipticity"]))
            out[method] = stacked
        return out

    @property
    def mag_bins(self) -> np.ndarray:
        mags = self.injected["mag"].value
        lo = np.floor(mags.min() / self.bin_width) * self.bin_width
        return np.arange(lo, mags.max() + self.bin_width, self.bin_width)

    def _t(self, threshold: float) -> int:
        matches = np.flatnonzero(np.isclose(self.thresholds, threshold))
        if matches.size == 0:
            raise ConfigError(f"threshold {threshold} was not scanned; scanned {list(self.thresholds)}")
        return int(matches[0])

    def completeness(self, method: str, threshold: float, rows: np.ndarray | None = None):
        """Bin centres, completeness and counts of injected sources against injected magnitude."""
        rows = slice(None) if rows is None else rows
        mags = self.injected["mag"].value[rows]
        hit = self._arrays[method]["recovered"][self._t(threshold)][rows]
        return binned_fraction(mags, hit, self.mag_bins)

    def purity(self, method: str, threshold: float) -> float:
        """Fraction of real detections at ``threshold`` (all magnitudes)."""
        return self._purity(method, threshold, self.negatives)

    def purity_estimates(self, method: str, threshold: float) -> dict[str, float]:
        """Purity at ``threshold`` from the truth (a mock) and from each negative estimate measured."""
        out = {} if self.negatives is not None else {"truth": self._purity(method, threshold, None)}
        for name, counts in self.negative_estimates.items():
            out[name] = self._purity(method, threshold, counts)
        return out

    def _purity(self, method: str, threshold: float, false_counts: dict[str, np.ndarray] | None) -> float:
        """From the real flags of a mock (``false_counts`` None), else one minus false over all detections."""
        mags, real = self.detections[method][self._t(threshold)]
        if false_counts is None:
            return float(real.mean()) if real.size else float("nan")
        return float(1 - false_counts[method][self._t(threshold)] / len(mags)) if len(mags) else float("nan")

    def purity_curve(self, method: str, threshold: float):
        """Purity against detected aperture magnitude (mock only: needs the truth)."""
        mags, real = self.detections[method][self._t(threshold)]
        return binned_fraction(mags, real, self.mag_bins)

    def best_threshold(self, method: str) -> float:
        """The lowest threshold whose purity reaches 90% (NaN if none does).

        Under the ``paper`` protocol, every method's threshold is the fixed
        catalogue setting (``PROTOCOLS["paper"]["threshold"]``) whatever its purity,
        as a deep-field catalogue does; purity is then reported beside it.
        """
        fixed = PROTOCOLS[self.protocol].get("threshold")
        if fixed is not None:
            return float(fixed)
        for threshold in self.thresholds:
            if self.purity(method, threshold) >= PURITY_GOAL:
                return float(threshold)
        return float("nan")

    def m90(self, method: str, threshold: float | None = None, rows: np.ndarray | None = None) -> float:
        """90% completeness magnitude at ``threshold`` (default `best_threshold`), from a logistic fit."""
        threshold = self.best_threshold(method) if threshold is None else threshold
        if not np.isfinite(threshold):
            return float("nan")
        rows = slice(None) if rows is None else rows
        hit = self._arrays[method]["recovered"][self._t(threshold)][rows]
        try:
            return completeness_magnitude(*fit_completeness(self.injected["mag"].value[rows], hit))
        except ConfigError:
            return float("nan")

    def m90_interpolated(self, method: str, goal: float = PURITY_GOAL) -> float:
        """m90 at the threshold where purity reaches ``goal``, interpolated on the threshold ladder.

        `m90` takes the lowest scanned threshold whose purity reaches the goal,
        so methods that cross it between two rungs differ by a whole rung. Here
        m90 is interpolated linearly in purity between that rung and the one
        below it (NaN if no rung reaches the goal; the lowest rung's m90 if it
        already does). No bootstrap error: use it beside `m90`, not instead.
        """
        best = self.best_threshold(method)
        if not np.isfinite(best):
            return float("nan")
        index = self._t(best)
        if index == 0 or PROTOCOLS[self.protocol].get("threshold") is not None:
            return self.m90(method, best)
        below = self.thresholds[index - 1]
        p_below, p_best = self.purity(method, below), self.purity(method, best)
        weight = float(np.clip((goal - p_below) / (p_best - p_below), 0.0, 1.0))
        return (1 - weight) * self.m90(method, below) + weight * self.m90(method, best)

    def _bootstrap_rows(self, n_boot: int, seed: int):
        rng = np.random.default_rng(seed)
        n = len(self.injected)
        return (rng.integers(0, n, n) for _ in range(n_boot))

    def m90_error(self, method: str, *, n_boot: int = 200, seed: int = 0) -> float:
        """Bootstrap standard deviation of m90 (injected sources resampled)."""
        return _finite_std([self.m90(method, rows=rows) for rows in self._bootstrap_rows(n_boot, seed)])

    def depth_gain(
        self,
        method: str,
        baseline: str,
        *,
        threshold: float | None = None,
        n_boot: int = 200,
        seed: int = 0,
    ) -> tuple[float, float]:
        """dm90 = m90(method) - m90(baseline) and its paired-bootstrap error.

        Each at its `best_threshold`, unless ``threshold`` fixes the method's
        (for example `equal_spurious_threshold`).
        """
        at = self.best_threshold(method) if threshold is None else threshold
        base = self.best_threshold(baseline)
        gain = self.m90(method, at) - self.m90(baseline, base)
        samples = [
            self.m90(method, at, rows=r) - self.m90(baseline, base, rows=r)
            for r in self._bootstrap_rows(n_boot, seed)
        ]
        return float(gain), _finite_std(samples)

    def magnitude_offsets(
        self, method: str, threshold: float | None = None, *, dual: bool = False
    ) -> np.ndarray:
        """Measured minus injected aperture magnitude of each injected source (NaN if not recovered).

        ``dual``: the flux measured on the reference image (the coadd) at the
        position detected on ``method``'s image, in the same aperture.
        """
        threshold = self.best_threshold(method) if threshold is None else threshold
        if not np.isfinite(threshold):
            return np.full(len(self.injected), np.nan)
        if dual and not self.has_dual:
            raise ConfigError("this result has no dual-image fluxes; run injection_recovery again")
        fluxes = self._arrays[method]["flux_dual" if dual else "flux"]
        measured = flux_to_mag(fluxes[self._t(threshold)], self.zero_point)
        return measured - flux_to_mag(self.injected["model_flux"], self.zero_point)

    def photometry(self, method: str, threshold: float | None = None, *, dual: bool = False):
        """Per magnitude bin: centres, median and NMAD of measured minus injected magnitude."""
        dmag = self.magnitude_offsets(method, threshold, dual=dual)
        mags = self.injected["mag"].value
        bins = self.mag_bins
        idx = np.digitize(mags, bins) - 1
        median = np.array([np.nanmedian(dmag[idx == i]) if np.isfinite(dmag[idx == i]).any() else np.nan
                           for i in range(len(bins) - 1)])  # fmt: skip
        scatter = np.array([nmad(dmag[idx == i], finite_only=True) for i in range(len(bins) - 1)])
        return 0.5 * (bins[1:] + bins[:-1]), median, scatter

    def mag_bias_at_snr(self, method: str, snr: float = 10.0, *, dual: bool = False) -> float:
        """Median measured-minus-injected magnitude at ``snr`` (within 25%) in the reference coadd."""
        near = np.abs(np.log(self.injected["ref_snr"] / snr)) < np.log(1.25)
        dmag = self.magnitude_offsets(method, dual=dual)[near]
        return float(np.nanmedian(dmag)) if np.isfinite(dmag).any() else float("nan")

    def _bright_points(self, min_snr: float = 20.0) -> np.ndarray:
        return (self.injected["kind"] == "point") & (self.injected["ref_snr"] >= min_snr)

    def fwhm_ratio(self, method: str) -> float:
        """Median FWHM of bright (reference S/N >= 20) injected point sources over their truth FWHM."""
        bright = self._bright_points()
        fwhm = self._arrays[method]["shape"][0][bright] / self.injected["fwhm_true"][bright]
        return float(np.nanmedian(fwhm)) if bright.any() else float("nan")

    def ellipticity_change(self, method: str) -> float:
        """Median ellipticity minus truth ellipticity of bright injected point sources."""
        bright = self._bright_points()
        change = self._arrays[method]["shape"][1][bright] - self.injected["ell_true"][bright]
        return float(np.nanmedian(change)) if bright.any() else float("nan")

    def summary(self, method: str, *, n_boot: int = 200) -> dict:
        """The headline figures of ``method``."""
        threshold = self.best_threshold(method)
        return {
            "threshold": threshold,
            "m90": self.m90(method),
            "m90_err": self.m90_error(method, n_boot=n_boot),
            "purity": self.purity(method, threshold) if np.isfinite(threshold) else float("nan"),
            "mag_bias_sn10": self.mag_bias_at_snr(method, 10.0),
            "mag_bias_sn10_dual": (
                self.mag_bias_at_snr(method, 10.0, dual=True) if self.has_dual else float("nan")
            ),
            "fwhm_ratio": self.fwhm_ratio(method),
            "ellipticity_change": self.ellipticity_change(method),
        }
