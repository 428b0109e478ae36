"""Injection-recovery: completeness, purity, photometry and PSF fidelity of each method, and the depth gain.

`injection_recovery` injects artificial sources into every exposure of a
stack (`asteris.science.injection`), turns each injected stack into an image with
every method (standard coadds, ASTERIS models), detects on each image at a
ladder of thresholds (`asteris.science.detect`) and matches the detections to the
injected positions. The result, `~asteris.science.recovery_result.RecoveryResult`,
is one table of injected sources by method with its metrics (completeness,
purity, m90, photometry, PSF fidelity, the depth gain of one method over another).

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

import numpy as np
from astropy.table import QTable, vstack
from scipy import ndimage
from scipy.signal import oaconvolve
from tqdm import tqdm

from ..errors import ConfigError
from ..stack import Stack, read_stack
from .detect import (
    SEXTRACTOR_KERNEL,
    DetectionImage,
    detect,
    detection_image,
    empty_aperture_noise,
    segment_sources,
)
from .injection import INJECTION_KINDS, SourceRenderer, inject, injection_catalog, source_mask
from .matching import match_positions
from .methods import Method, no_data
from .photometry import aperture_fluxes, flux_to_mag, moment_shape
from .recovery_result import PROTOCOLS, RecoveryResult

__all__ = ["injection_recovery", "compare_protocols", "spurious_rate", "equal_spurious_threshold"]

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
    negatives = _checked_negatives(negatives, truth)
    reference = reference or next(iter(methods))
    if reference not in methods:
        raise ConfigError(f"reference {reference!r} is not among the methods {list(methods)}")
    fwhm_px = renderer.fwhm_px
    diameter = 2.0 * fwhm_px
    setups = {protocol: _setup(protocol, renderer, thresholds, n_pixels, radius=radius, truth_snr=truth_snr,
                               negatives=negatives, truth=truth) for protocol in protocols}  # fmt: skip
    avoid, sigma_aperture = _free_sky(stack, methods, reference, fwhm_px, diameter)
    rng = np.random.default_rng(seed)
    rows, images = [], {}
    per_method = {p: {name: [] for name in methods} for p in protocols}
    for r in tqdm(range(realizations), desc="injection-recovery", disable=not progress):
        catalog = injection_catalog(avoid, n=n_per_realization, mags=mags, kinds=kinds, seed=rng)
        injected, model = inject(stack, catalog, renderer)
        rows.append(_describe_injections(catalog, model, r, diameter, sigma_aperture))
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


def _checked_negatives(negatives, truth) -> tuple[str, ...]:
    """How false detections are counted: as asked, else on the negated stack without a truth."""
    negatives = tuple(negatives if negatives is not None else () if truth is not None else ("stack",))
    if not set(negatives) <= {"stack", "image"}:
        raise ConfigError(f"negatives must name 'stack' and/or 'image', got {negatives!r}")
    if truth is None and not negatives:
        raise ConfigError("without a truth, purity needs false detections: give negatives=('stack',)")
    return negatives


def _setup(protocol: str, renderer, thresholds, n_pixels, *, radius, truth_snr, negatives, truth) -> dict:
    """Everything detection and matching take under ``protocol``."""
    fwhm_px = renderer.fwhm_px
    det_options, scanned, area = _protocol_setup(protocol, fwhm_px, thresholds, n_pixels)
    return {
        "thresholds": scanned, "n_pixels": area, "diameter": 2.0 * fwhm_px, "det_options": det_options,
        "radius": radius or max(fwhm_px, 2.0), "truth_snr": truth_snr, "zero_point": renderer.zero_point,
        "shape_radius": max(2.0 * fwhm_px, 3.0), "negatives": negatives, "truth": truth is not None,
    }  # fmt: skip


def _free_sky(stack, methods, reference: str, fwhm_px: float, diameter: float) -> tuple[np.ndarray, float]:
    """Where injections may not go (sources, and every method's no-data edges), and the reference
    method's empty-aperture noise there."""
    clean = methods[reference](stack)
    avoid = source_mask(clean, fwhm=fwhm_px)
    others = [no_data(method, stack) for name, method in methods.items() if name != reference]
    empty = np.any([~np.isfinite(clean), *others], axis=0)
    avoid |= ndimage.binary_dilation(empty, iterations=int(3 * fwhm_px) + 2)
    reference_det = detection_image(clean, fwhm=fwhm_px)
    return avoid, empty_aperture_noise(reference_det, diameter, avoid=avoid)


def _describe_injections(catalog: QTable, model: np.ndarray, realization: int, diameter: float,
                         sigma_aperture: float) -> QTable:  # fmt: skip
    """``catalog`` with its realization, model aperture flux, reference S/N and truth shapes."""
    catalog["realization"] = realization
    catalog["model_flux"] = aperture_fluxes(model, catalog["x"], catalog["y"], diameter)
    catalog["ref_snr"] = catalog["model_flux"] / sigma_aperture
    shape_radius = max(diameter, 3.0)
    catalog["fwhm_true"], catalog["ell_true"] = moment_shape(model, catalog["x"], catalog["y"],
                                                             radius=shape_radius)  # fmt: skip
    return catalog


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
