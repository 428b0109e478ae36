"""What each noise component of the mock amounts to, measured on the mock's own exposures.

`calibration_table` simulates source-free fields with one component at a
time (and all of them together), keeps their ``_cal``-like exposures, and
measures each component where an astronomer would: per exposure on the
detector, or on the drizzled coadd. Each row carries the default amplitude,
the published measurement it rests on (or why none is used), and the value
measured here. `benchmarks/mock_calibration.py` writes the table to
``benchmarks/results/mock_calibration.json``.

>>> round(casertano_r(0.04 / 0.031, 1.0), 2), round(casertano_r(0.04 / 0.063, 1.0), 2)
(1.35, 2.0)
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import numpy as np
from astropy.io import fits
from scipy import ndimage

from ..sky.instruments import NIRCAM
from ..stats import nmad
from .detector import DQ_HOT, EXPOSURE_TIME, detector_shape, row_median_correction
from .noise import COMPONENTS, NoiseConfig
from .population import PopulationConfig

__all__ = [
    "casertano_r",
    "box_noise",
    "correlated_noise_factor",
    "read_exposures",
    "row_offset_rms",
    "event_rate",
    "calibration_table",
    "CORRECTED",
    "correction_residuals",
]


def casertano_r(scale_ratio: float, pixfrac: float) -> float:
    """Casertano et al. (2000, AJ 120, 2747) correlated-noise factor of a drizzled image.

    The noise in a large aperture over the per-pixel RMS times the root of the
    number of pixels, for output pixels ``scale_ratio`` times the native ones
    and drop size ``pixfrac``.
    """
    s, p = scale_ratio, pixfrac
    return (p / s) / (1 - s / (3 * p)) if s < p else 1 / (1 - p / (3 * s))


def box_noise(image: np.ndarray, usable: np.ndarray, *, box: int = 16, n: int = 3000, seed: int = 0,
              background_box: int | None = None, robust: bool = True) -> float:  # fmt: skip
    """Robust (MAD) noise of sums over ``box`` x ``box`` pixels at random places wholly inside ``usable``.

    ``background_box``: first subtract the local mean in boxes of that side,
    as photometry on a background-subtracted mosaic does. ``robust=False``:
    the RMS about zero instead, which rare events and smooth structure raise.
    """
    if background_box:
        weight = ndimage.uniform_filter(usable.astype(float), background_box)
        local = ndimage.uniform_filter(np.where(usable, image, 0.0), background_box)
        image = image - local / np.maximum(weight, 1e-9)
    blocked = ndimage.uniform_filter((~usable).astype(float), box, origin=(-(box // 2), -(box // 2)))
    corners = np.argwhere(blocked[: image.shape[0] - box + 1, : image.shape[1] - box + 1] == 0)
    if len(corners) == 0:
        raise ValueError(f"no {box}x{box} box fits in the usable area")
    picks = corners[np.random.default_rng(seed).integers(len(corners), size=n)]
    integral = np.pad(np.cumsum(np.cumsum(np.where(usable, image, 0.0), 0), 1), ((1, 0), (1, 0)))
    y, x = picks[:, 0], picks[:, 1]
    sums = integral[y + box, x + box] - integral[y, x + box] - integral[y + box, x] + integral[y, x]
    return nmad(sums) if robust else float(np.sqrt(np.mean(sums**2)))


def correlated_noise_factor(image: np.ndarray, usable: np.ndarray, *, box: int = 16, **options) -> float:
    """`box_noise` over the per-pixel RMS times ``box``: 1 for white noise, Casertano's R when drizzled."""
    return box_noise(image, usable, box=box, **options) / (nmad(image[usable]) * box)


def read_exposures(folder: Path, band: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """SCI, ERR and DQ of a band's ``_cal``-like mock exposures in ``folder``, each ``(T, Y, X)``."""
    planes = {"SCI": [], "ERR": [], "DQ": []}
    for path in sorted(folder.glob(f"mock_{band.lower()}_*_cal.fits")):
        with fits.open(path) as hdul:
            for name in planes:
                planes[name].append(np.asarray(hdul[name].data))
    return tuple(np.array(planes[name]) for name in ("SCI", "ERR", "DQ"))


def row_offset_rms(frames: np.ndarray, usable: np.ndarray, sigma: float, amplifier_width: int) -> float:
    """RMS of the per-row, per-amplifier mean offsets in units of ``sigma``, less what white noise gives."""
    excess = []
    for frame, ok in zip(frames, usable):
        for start in range(0, frame.shape[1], amplifier_width):
            block, good = frame[:, start : start + amplifier_width], ok[:, start : start + amplifier_width]
            count = good.sum(axis=1)
            rows = count > 0
            means = (np.where(good, block, 0).sum(axis=1)[rows] / count[rows]).astype(float)
            excess.append(means.var() - np.mean(sigma**2 / count[rows]))
    return float(np.sqrt(max(np.mean(excess), 0.0)) / sigma)


def event_rate(frames: np.ndarray, usable: np.ndarray, threshold: float) -> float:
    """Connected groups of pixels above ``threshold`` per megapixel per exposure."""
    groups = sum(ndimage.label((frame > threshold) & ok)[1] for frame, ok in zip(frames, usable))
    return float(groups / (usable.sum() / 1e6))


_BOX = 16  # px: side of the random boxes of the drizzle rows
_BACKGROUND_BOX = 64  # px: the local background photometry subtracts before the random apertures
#: Bright stars only: what persistence needs to show.
_STARS = PopulationConfig(counts_log_norm=-np.inf, star_density=300.0, star_mags=(16.0, 18.0),
                          interloper_density=0.0, high_z_boost=0.0)  # fmt: skip


def _simulate(noise: NoiseConfig, band: str, folder: Path, *, shape, exposures, seed, population=None,
              corrections=None):  # fmt: skip
    from ..archive.corrections import CorrectionConfig
    from .simulate import simulate_field

    field = simulate_field("nircam", shape=shape, exposures=exposures, bands=[band], noise=noise,
                           population=population or PopulationConfig.empty(), seed=seed, exposures_dir=folder,
                           corrections=corrections or CorrectionConfig.none(), progress=False)  # fmt: skip
    return field, read_exposures(folder, band)


def _persistence_row(band: str, folder: Path, *, shape, exposures, seed) -> dict:
    """Ghost flux over the flux that left it, above the ghost threshold, from runs with and without."""
    runs = []
    for i, names in enumerate([("persistence",), ()]):
        runs.append(_simulate(NoiseConfig.only(*names), band, folder / str(i), shape=shape,
                              exposures=exposures, seed=seed, population=_STARS)[1][0])  # fmt: skip
    ghost = runs[0][1:] - runs[1][1:]
    source = runs[1][:-1]
    left = ghost > 0
    measured = ghost[left].sum() / source[left].sum() if left.any() else 0.0
    return _row("persistence", measured,
                "ghost / signal of the previous exposure where that exceeded 100 sigma")  # fmt: skip


def _row(component: str, measured: float, quantity: str, **extra) -> dict:
    default, what, source = COMPONENTS[component]
    return {"component": component, "default": default, "what": what, "source": source,
            "quantity": quantity, "measured": round(float(measured), 4), **extra}  # fmt: skip


def _event_rows(native, shape, exposures: int, seed: int) -> list[dict]:
    """Cosmic-ray and snowball residual rates, counted on frames the mock's own component functions draw
    at the size of the field's detector (a field with these alone can hold no event at all, which no
    stack can be built from)."""
    from . import noise as nz

    detector = detector_shape(shape, NIRCAM.pixel_scale, native.detector_scale)
    rng = np.random.default_rng(seed)
    sigma, rows = native.white_sigma, []
    for name, draw, threshold in (("cosmic_rays", nz.cosmic_ray_residuals, 5.0),
                                  ("snowballs", nz.snowball_residuals, 0.5)):  # fmt: skip
        rate = COMPONENTS[name][0]
        frames = np.array([draw(detector, rate, sigma, rng) for _ in range(exposures)])
        measured = event_rate(frames, np.ones(frames.shape, bool), threshold * sigma)
        rows.append(_row(name, measured, f"events above {threshold:g} sigma per Mpx per exposure of "
                         f"{native.detector_scale}\" pixels", exposure_time_s=EXPOSURE_TIME))  # fmt: skip
    return rows


def _drizzle_rows(band: str, folder: Path, *, shape, exposures, seed) -> list[dict]:
    from ..archive.align import align_variance

    spec = NIRCAM.band(band)
    ratio = NIRCAM.pixel_scale / spec.detector_scale
    white = NoiseConfig.only("sky_poisson", "read_noise", "resampling")
    field, _ = _simulate(white, band, folder / "white", shape=shape, exposures=exposures, seed=seed)
    data = field.bands[band].stack.data
    usable = (data != 0).all(axis=0)
    measured = correlated_noise_factor(data.mean(axis=0), usable, box=_BOX)
    quantity = f"{band}: random-box ({_BOX} px) noise of the white-noise coadd over per-pixel RMS x {_BOX}"
    rows = [_row("resampling", measured, quantity, published=round(casertano_r(ratio, NIRCAM.pixfrac), 4),
                 band=band)]  # fmt: skip
    field, _ = _simulate(NoiseConfig(), band, folder / "all", shape=shape, exposures=exposures, seed=seed)
    data = field.bands[band].stack.data
    usable = (data != 0).all(axis=0)
    files = sorted((folder / "all").glob("*_cal.fits"))
    variance = align_variance(files, grid=(field.bands[band].stack.wcs, data.shape[1:]))
    coadd_err = np.sqrt(variance.sum(axis=0)) / len(files)
    measured_noise = box_noise(data.mean(axis=0), usable, box=_BOX, background_box=_BACKGROUND_BOX)
    ratio_err = measured_noise / (_BOX * float(np.median(coadd_err[usable])))
    rows.append({"component": "all", "band": band, "default": "every component at its default",
                 "what": f"random-box ({_BOX} px) noise of the coadd over the noise its drizzled ERR planes "
                 "predict",
                 "source": "JADES (Rieke et al. 2023, ApJS 269, 16) and CEERS (Finkelstein et al. 2023, ApJL "
                 "946, L13) rescale their ERR arrays by random-aperture measurements; the factor depends on "
                 "the reduction, so none is adopted and the mock's own is reported",
                 "quantity": f"sigma_box / (median coadd ERR x {_BOX}), after subtracting the local mean in "
                             f"{_BACKGROUND_BOX} px boxes",
                 "measured": round(ratio_err, 4)})  # fmt: skip
    return rows


#: Each component an exposure-level correction of `asteris.archive.corrections` addresses, and the step.
CORRECTED = {"one_over_f": "one_over_f", "cosmic_rays": "events", "snowballs": "events",
             "hot_pixels": "detector_pattern", "flat_residual": "detector_pattern",
             "wisp": "detector_pattern", "gradient": "background"}  # fmt: skip


def _coadd_box_rms(noise: NoiseConfig, corrections, folder: Path, *, shape, exposures, seed) -> float:
    field, _ = _simulate(noise, "F200W", folder, shape=shape, exposures=exposures, seed=seed,
                         corrections=corrections)  # fmt: skip
    data = field.bands["F200W"].stack.data
    usable = (data != 0).all(axis=0)
    return box_noise(data.mean(axis=0), usable, box=_BOX, robust=False)


def correction_residuals(*, shape=(768, 768), exposures: int = 8, seed: int = 0) -> dict[str, dict]:
    """Per corrected component: its excess noise in the coadd before and after the corrections.

    Each component alone at its default, on white noise with native pixels,
    dithers and gaps, is co-added as the exposures come and with every
    correction on. The excess is ``sqrt(rms^2 - rms_0^2) / rms_0`` of random
    16 px box sums (RMS about zero, so events and smooth structure count),
    ``rms_0`` the same field without the component under the same
    corrections: 0 means the component is gone.
    """
    from ..archive.corrections import CorrectionConfig

    physical = NoiseConfig.physical_only().enabled()
    settings = {"before": CorrectionConfig.none(),
                "after": CorrectionConfig(amplifier_width=NIRCAM.amplifier_width)}  # fmt: skip
    options = dict(shape=shape, exposures=exposures, seed=seed)
    out = {name: {} for name in CORRECTED}
    with tempfile.TemporaryDirectory(prefix="asteris-corrections-") as tmp:
        for when, config in settings.items():
            base = _coadd_box_rms(NoiseConfig.only(*physical), config, Path(tmp) / f"{when}_white", **options)
            for name in CORRECTED:
                rms = _coadd_box_rms(NoiseConfig.only(*physical, name), config, Path(tmp) / f"{when}_{name}",
                                     **options)  # fmt: skip
                out[name][when] = round(float(np.sqrt(max(rms**2 - base**2, 0.0)) / base), 4)
    return out


def calibration_table(*, shape=(768, 768), exposures: int = 8, seed: int = 0) -> list[dict]:
    """One row per noise component: default, published basis, and the value measured on the mock.

    Runs a dozen source-free simulations of the band F200W (and F444W for the
    drizzle rows), each component alone at its default (with native pixels and
    dithers), plus white noise alone and everything together; about a minute
    on two cores at the default size.
    """
    band = "F200W"
    native = NIRCAM.band(band).on_detector(NIRCAM.pixel_scale)
    sigma, amp = native.white_sigma, NIRCAM.amplifier_width
    rows = []
    with tempfile.TemporaryDirectory(prefix="asteris-calibration-") as tmp:
        folder = Path(tmp)

        def alone(name: str, *, white: bool = False):
            extra = ("sky_poisson", "read_noise", "resampling") if white else ("resampling",)
            out = folder / name
            return _simulate(NoiseConfig.only(*extra, name), band, out, shape=shape, exposures=exposures,
                             seed=seed)[1]  # fmt: skip

        sci, _, dq = alone("one_over_f", white=True)
        usable = dq == 0
        corrected = np.array([row_median_correction(f, ok, amp) for f, ok in zip(sci, usable)])
        rows.append(_row("one_over_f", row_offset_rms(sci, usable, sigma, amp),
                         "per-row, per-amplifier offset RMS / white sigma per exposure, before correction",
                         after_row_median=round(row_offset_rms(corrected, usable, sigma, amp),
                                                4)))  # fmt: skip
        rows += _event_rows(native, shape, exposures, seed)
        sci, _, dq = alone("hot_pixels")
        hot = sci[0] > 5 * sigma
        rows.append(_row("hot_pixels", hot.mean(), "fraction of pixels above 5 sigma (fixed on the detector)",
                         flagged_in_dq=round(float(((dq[0] & DQ_HOT) != 0).mean()), 6)))  # fmt: skip
        sci, _, dq = alone("wisp")
        rows.append(_row("wisp", np.max(ndimage.uniform_filter(sci, (1, 5, 5))) / sigma,
                         "peak of the wisp / white sigma per exposure"))  # fmt: skip
        sci, _, dq = alone("gradient")
        spans = [np.ptp(f[ok]) for f, ok in zip(sci, dq == 0)]
        rows.append(_row("gradient", np.mean(spans) / sigma, "peak-to-peak of the gradient / white sigma"))
        sci, _, dq = alone("flat_residual")
        rows.append(_row("flat_residual", np.std(sci[0][dq[0] == 0]) / native.sky,
                         "RMS of the flat-field error on the sky / sky"))  # fmt: skip
        rows.append(_persistence_row(band, folder / "persistence", shape=shape, exposures=exposures,
                                     seed=seed))  # fmt: skip
        for drizzled_band in ("F200W", "F444W"):
            rows += _drizzle_rows(drizzled_band, folder / drizzled_band, shape=shape, exposures=exposures,
                                  seed=seed)  # fmt: skip
    residuals = correction_residuals(shape=shape, exposures=exposures, seed=seed)
    for row in rows:
        if row["component"] in residuals and "band" not in row:
            row["correction"] = CORRECTED[row["component"]]
            row["coadd_excess_before"] = residuals[row["component"]]["before"]
            row["coadd_excess_after"] = residuals[row["component"]]["after"]
    return rows
