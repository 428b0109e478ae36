"""Injection-recovery: completeness, purity, photometry and PSF fidelity of each method, and the depth gain.

`injection_recovery` injects artificial sources into every exposure of a
stack (`asteris.science.injection`), turns each injected stack into an image with
every method (standard coadds, ASTERIS models), detects on each image at a
ladder of thresholds (`asteris.science.detect`) and matches the detections to the
injected positions. `RecoveryResult` then gives, per method and threshold,
completeness and purity against magnitude, the 90% completeness magnitude
m90 at the lowest threshold whose purity is at least 90%, photometric bias
and scatter, and the FWHM and ellipticity of recovered point sources against
the noiseless truth; `RecoveryResult.depth_gain` the paired-bootstrap gain
dm90 of one method over another.

Purity: on a mock, a detection is real when it matches an injected source or
a peak of the noiseless truth image, filtered like the data, of at least
``truth_snr`` times the filtered noise; on real data it is one minus the
ratio of false detections to detections, the false ones counted on the
method's image of the negated stack (every exposure times -1), which holds
for any method, linear or not (``negatives=("stack",)``, the default without
a truth), or on the negated image, which holds for a linear method only
(``"image"``). The spurious rate on a source-free stack (`spurious_rate`) is
the third view.

The methods themselves are in `asteris.science.methods`, matching and
completeness fits in `asteris.science.matching` and the measurements at the
injected positions in `asteris.science.photometry`: plain functions tested
on hand-built inputs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from astropy.table import QTable, vstack
from scipy import ndimage
from scipy.signal import oaconvolve
from tqdm import tqdm

from ..errors import ConfigError
from ..stack import Stack, read_stack
from ..stats import nmad
from .detect import (
    SEXTRACTOR_KERNEL,
    DetectionImage,
    detect,
    detection_image,
    empty_aperture_noise,
    segment_sources,
)
from .injection import INJECTION_KINDS, SourceRenderer, inject, injection_catalog, source_mask
from .matching import binned_fraction, completeness_magnitude, fit_completeness, match_positions
from .methods import Method
from .photometry import aperture_fluxes, flux_to_mag, moment_shape

__all__ = [
    "injection_recovery",
    "compare_protocols",
    "RecoveryResult",
    "PROTOCOLS",
    "PAPER_THRESHOLDS",
    "DEFAULT_THRESHOLDS",
    "PURITY_GOAL",
    "spurious_rate",
    "equal_spurious_threshold",
]

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


def _truth_peaks(truth_filtered: np.ndarray, det: DetectionImage, truth_snr: float) -> np.ndarray:
    """(y, x) of the local maxima of the filtered truth at least ``truth_snr`` filtered sigma high."""
    is_peak = truth_filtered == ndimage.maximum_filter(truth_filtered, size=3)
    return np.argwhere(is_peak & (truth_filtered >= truth_snr * det.filtered_rms) & ~det.mask)


def _is_real(table: QTable, peaks: np.ndarray | None, injected_hit, radius: float) -> np.ndarray:
    """Detections matched to an injected source or to a truth peak (`_truth_peaks`).

    A peak, not just signal: a noise peak on the wing of a real galaxy is
    still spurious.
    """
    if peaks is None or len(peaks) == 0 or len(table) == 0:
        return np.asarray(injected_hit, bool)
    near = match_positions(table["x"].value, table["y"].value, peaks[:, 1], peaks[:, 0], radius)
    return (near >= 0) | injected_hit


def _count_sources(det: DetectionImage, threshold: float, n_pixels: int, *, deblend: bool) -> int:
    segm = segment_sources(det, threshold, n_pixels, deblend=deblend)
    return 0 if segm is None else segm.n_labels


def _at_hits(values: np.ndarray, hit: np.ndarray) -> np.ndarray:
    """``values`` of the detection matched to each injected source, NaN where none was."""
    return np.where(hit >= 0, values[np.maximum(hit, 0)] if len(values) else np.nan, np.nan)


def _measure(image, det, catalog, model, truth, setup, dual_image, flipped_image=None) -> dict:
    """Detect on one method's image (``det``, its detection image) at every threshold and match.

    Fluxes come from the method's image and, in the same apertures at the same
    positions, from ``dual_image``, the background-subtracted reference image
    (dual-image mode: detect here, measure there). False detections are
    counted on the negated image and on ``flipped_image``, the method's image
    of the negated stack, as ``setup["negatives"]`` asks.
    """
    peaks = None
    if truth is not None:
        truth_filtered = oaconvolve(truth + model, det.kernel, mode="same")
        peaks = _truth_peaks(truth_filtered, det, setup["truth_snr"])
    false_images = {}
    if "image" in setup["negatives"]:
        false_images["negated_image"] = detection_image(image, negate=True, **setup["det_options"])
    if flipped_image is not None:
        false_images["negated_stack"] = detection_image(flipped_image, **setup["det_options"])
    out = {"recovered": [], "flux": [], "flux_dual": [], "detections": []} | {k: [] for k in false_images}
    for threshold in setup["thresholds"]:
        table = detect(det, threshold=threshold, n_pixels=setup["n_pixels"],
                       aperture_diameters=[setup["diameter"]], minimal=True)  # fmt: skip
        hit = match_positions(catalog["x"], catalog["y"], table["x"].value, table["y"].value, setup["radius"])
        flux = np.asarray(table["flux_aper_0"].value, float)
        dual = aperture_fluxes(dual_image, table["x"].value, table["y"].value, setup["diameter"])
        out["recovered"].append(hit >= 0)
        out["flux"].append(_at_hits(flux, hit))
        out["flux_dual"].append(_at_hits(dual, hit))
        injected_hit = np.isin(np.arange(len(table)), hit[hit >= 0])
        real = _is_real(table, peaks, injected_hit, setup["radius"])
        out["detections"].append((flux_to_mag(flux, setup["zero_point"]), real))
        for name, false_det in false_images.items():
            out[name].append(_count_sources(false_det, threshold, setup["n_pixels"], deblend=True))
    out["shape"] = moment_shape(det.data, catalog["x"], catalog["y"], radius=setup["shape_radius"])
    return out


def injection_recovery(
    data,
    methods: dict[str, Method],
    renderer: SourceRenderer,
    *,
    mags: tuple[float, float],
    protocol: str = "optimal",
    **options,
) -> RecoveryResult:
    """Inject, process with every method, detect and match; see the module docstring.

    One `PROTOCOLS` entry (``"optimal"`` or ``"paper"``); `compare_protocols`
    takes the same options and runs several on the same injections.
    """
    return compare_protocols(data, methods, renderer, mags=mags, protocols=(protocol,), **options)[protocol]


def _protocol_setup(protocol: str, fwhm_px: float, thresholds, n_pixels) -> tuple[dict, tuple, int]:
    """Detection options, thresholds and minimum area of ``protocol``."""
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; choose from {sorted(PROTOCOLS)}")
    spec = PROTOCOLS[protocol]
    options = {"fwhm": fwhm_px} if spec["kernel"] == "matched" else {"psf": SEXTRACTOR_KERNEL}
    options["threshold_units"] = spec["threshold_units"]
    return options, tuple(thresholds or spec["thresholds"]), int(n_pixels or spec["n_pixels"])


def compare_protocols(
    data,
    methods: dict[str, Method],
    renderer: SourceRenderer,
    *,
    mags: tuple[float, float],
    protocols: tuple[str, ...] = ("optimal", "paper"),
    n_per_realization: int = 150,
    realizations: int = 4,
    kinds: tuple[str, ...] = INJECTION_KINDS,
    thresholds: tuple[float, ...] | None = None,
    n_pixels: int | None = None,
    radius: float | None = None,
    truth: np.ndarray | None = None,
    truth_snr: float = 1.0,
    negatives: tuple[str, ...] | None = None,
    reference: str | None = None,
    seed: int = 0,
    progress: bool = True,
) -> dict[str, RecoveryResult]:
    """`injection_recovery` under each of ``protocols``, on the same injected stacks and images.

    Parameters
    ----------
    data : stack (array, `~asteris.stack.Stack`, FITS path(s))
        The exposures without injections.
    methods : dict
        Name to `Method` (`coadd_method`, `asteris_method` or any callable).
    renderer : `~asteris.sky.render.SourceRenderer`
        Pixel scale, zero point and PSF of the stack.
    mags : (bright, faint)
        Range of injected AB magnitudes; reach below the coadd's 5-sigma limit.
    protocols : tuple of str
        `PROTOCOLS` names: ``"optimal"`` (PSF-matched filter, thresholds in the
        filtered image's noise) and/or ``"paper"`` (SExtractor's 3x3 filter,
        thresholds in the per-pixel background RMS).
    n_per_realization, realizations : int
        Sources per injected stack and the number of injected stacks.
    kinds : tuple of str
        ``"point"`` and/or ``"sersic"`` (see `~asteris.science.injection.injection_catalog`).
    thresholds : tuple of float, optional
        Detection thresholds scanned (default: the protocol's).
    n_pixels : int, optional
        Connected pixels for a detection (default: the protocol's).
    radius : float
        Matching radius in pixels (default: the PSF FWHM, at least 2).
    truth : 2D array, optional
        The noiseless image of the stack's own sources (a mock's truth): purity
        from it; without it, purity from false detections (``negatives``).
    truth_snr : float
        Height (in filtered sigma) of a truth peak that makes a detection at it real.
    negatives : tuple of str, optional
        How false detections are counted, for purity without a truth or to
        compare with it: ``"stack"``, on the method's image of the negated
        stack (every exposure times -1; holds for any method, at one more
        method call per injected stack) and/or ``"image"``, on the negated
        image (holds for a linear method only). Default: ``("stack",)``
        without a truth, none with one. The first given sets purity without
        a truth; `RecoveryResult.purity_estimates` gives each.
    reference : str
        The method whose empty-aperture noise sets the reference S/N (default: the first).
    seed : int
        Positions, magnitudes and shapes of the injected sources follow from it.
    """
    if not methods:
        raise ConfigError("give at least one method")
    stack = read_stack(data)
    negatives = tuple(negatives if negatives is not None else () if truth is not None else ("stack",))
    if not set(negatives) <= {"stack", "image"}:
        raise ConfigError(f"negatives must name 'stack' and/or 'image', got {negatives!r}")
    if truth is None and not negatives:
        raise ConfigError("without a truth, purity needs false detections: give negatives=('stack',)")
    reference = reference or next(iter(methods))
    if reference not in methods:
        raise ConfigError(f"reference {reference!r} is not among the methods {list(methods)}")
    fwhm_px = renderer.fwhm_px
    diameter, shape_radius = 2.0 * fwhm_px, max(2.0 * fwhm_px, 3.0)
    setups = {}
    for protocol in protocols:
        det_options, scanned, area = _protocol_setup(protocol, fwhm_px, thresholds, n_pixels)
        setups[protocol] = {
            "thresholds": scanned, "n_pixels": area, "diameter": diameter, "det_options": det_options,
            "radius": radius or max(fwhm_px, 2.0), "truth_snr": truth_snr, "zero_point": renderer.zero_point,
            "shape_radius": shape_radius, "negatives": negatives, "truth": truth is not None,
        }  # fmt: skip
    clean = {name: method(stack) for name, method in methods.items()}
    avoid = source_mask(clean[reference], fwhm=fwhm_px)
    no_data = np.any([~np.isfinite(image) for image in clean.values()], axis=0)
    avoid |= ndimage.binary_dilation(
        no_data, iterations=int(3 * fwhm_px) + 2
    )  # edges of every method's image
    reference_det = detection_image(clean[reference], fwhm=fwhm_px)
    sigma_aperture = empty_aperture_noise(reference_det, diameter, avoid=avoid)
    rng = np.random.default_rng(seed)
    rows, images = [], {}
    per_method = {p: {name: [] for name in methods} for p in protocols}
    for r in tqdm(range(realizations), desc="injection-recovery", disable=not progress):
        catalog = injection_catalog(avoid, n=n_per_realization, mags=mags, kinds=kinds, seed=rng)
        injected, model = inject(stack, catalog, renderer)
        catalog["realization"] = r
        catalog["model_flux"] = aperture_fluxes(model, catalog["x"], catalog["y"], diameter)
        catalog["ref_snr"] = catalog["model_flux"] / sigma_aperture
        catalog["fwhm_true"], catalog["ell_true"] = moment_shape(model, catalog["x"], catalog["y"],
                                                                 radius=shape_radius)  # fmt: skip
        rows.append(catalog)
        images.update({name: method(injected) for name, method in methods.items()})
        flipped = {}
        if "stack" in negatives:
            negated = Stack(-injected.data, injected.header, injected.wcs, injected.sources)
            flipped = {name: method(negated) for name, method in methods.items()}
        dets = {p: {name: detection_image(images[name], **setup["det_options"]) for name in methods}
                for p, setup in setups.items()}  # fmt: skip
        optimal = dets.get("optimal", {}).get(reference) or detection_image(images[reference], fwhm=fwhm_px)
        dual = optimal.data  # the background-subtracted reference image
        for protocol, setup in setups.items():
            for name in methods:
                measured = _measure(images[name], dets[protocol][name], catalog, model, truth, setup, dual,
                                    flipped.get(name))  # fmt: skip
                per_method[protocol][name].append(measured)
    images.update(exposure=injected.data[0], injected_model=model)
    if truth is not None:
        images["truth"] = truth + model
    injected_rows = vstack(rows)
    shared = (injected_rows, images, renderer)
    return {p: _assemble(per_method[p], *shared, setups[p], sigma_aperture, reference, stack, p)
            for p in protocols}  # fmt: skip


def _assemble(
    per_method, injected, images, renderer, setup, sigma_aperture, reference, stack, protocol
) -> RecoveryResult:
    n_thr = len(setup["thresholds"])
    pixel_area = renderer.pixel_scale**2 / 3600.0
    valid = np.isfinite(images[reference])
    joined = {
        key: {
            name: np.concatenate([np.stack(run[key]) for run in runs], axis=1)
            for name, runs in per_method.items()
        }
        for key in ("recovered", "flux", "flux_dual")
    }
    detections = {
        name: [
            tuple(np.concatenate([run["detections"][t][i] for run in runs]) for i in range(2))
            for t in range(n_thr)
        ]
        for name, runs in per_method.items()
    }
    estimates = {
        f"negated_{kind}": {name: np.sum([run[f"negated_{kind}"] for run in runs], axis=0)
                            for name, runs in per_method.items()}
        for kind in setup["negatives"]
    }  # fmt: skip
    negatives = None if setup["truth"] else estimates[f"negated_{setup['negatives'][0]}"]
    shapes = {name: tuple(np.concatenate([run["shape"][i] for run in runs]) for i in range(2))
              for name, runs in per_method.items()}  # fmt: skip
    return RecoveryResult.from_arrays(
        list(per_method), setup["thresholds"], injected, joined["recovered"], joined["flux"], shapes,
        measured_flux_dual=joined["flux_dual"], detections=detections,
        negatives=negatives, zero_point=renderer.zero_point, aperture_diameter=setup["diameter"],
        sigma_aperture=sigma_aperture, reference=reference, area_arcmin2=float(valid.sum() * pixel_area),
        images=images, protocol=protocol, negative_estimates=estimates,
    )  # fmt: skip


def equal_spurious_threshold(rates: QTable, method: str, baseline: str, baseline_threshold: float) -> float:
    """The lowest scanned threshold at which ``method`` makes no more false detections than ``baseline``.

    ``rates`` is a `spurious_rate` table; the baseline's rate is taken at
    ``baseline_threshold``. NaN when no scanned threshold is low enough in rate.

    >>> rates = QTable(rows=[{"method": "coadd", "rate_3": 9.0, "rate_4": 2.0, "rate_5": 0.5},
    ...                      {"method": "asteris", "rate_3": 50.0, "rate_4": 6.0, "rate_5": 1.5}])
    >>> equal_spurious_threshold(rates, "asteris", "coadd", 4.0)
    5.0
    """
    row = {r["method"]: r for r in rates}
    limit = float(row[baseline][f"rate_{baseline_threshold:g}"])
    thresholds = sorted(float(c[len("rate_") :]) for c in rates.colnames if c.startswith("rate_"))
    return next((t for t in thresholds if float(row[method][f"rate_{t:g}"]) <= limit), float("nan"))


def spurious_rate(
    data,
    methods: dict[str, Method],
    *,
    fwhm: float,
    pixel_scale: float,
    thresholds: tuple[float, ...] | None = None,
    n_pixels: int | None = None,
    protocol: str = "optimal",
) -> QTable:
    """Detections per arcmin^2 of each method on a source-free stack (noise and artefacts only).

    Every detection on such a stack is spurious. Returns one row per method
    with a column ``rate_<threshold>`` per threshold (default: those of ``protocol``,
    a `PROTOCOLS` name, whose detection it follows).
    """
    det_options, thresholds, n_pixels = _protocol_setup(protocol, fwhm, thresholds, n_pixels)
    stack = read_stack(data)
    rows = []
    for name, method in methods.items():
        det = detection_image(method(stack), **det_options)
        area = (~det.mask).sum() * pixel_scale**2 / 3600.0
        row = {"method": name, "area_arcmin2": area}
        for threshold in thresholds:
            row[f"rate_{threshold:g}"] = _count_sources(det, threshold, n_pixels, deblend=False) / area
        rows.append(row)
    return QTable(rows=rows)
