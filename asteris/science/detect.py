"""Source detection and photometry on coadds and denoised images, built on photutils.

The same call runs on any image: a standard coadd, an ASTERIS image, or the
negated image (for the spurious-detection rate of real data). The detection
threshold is in units of the measured noise of the *filtered* image, so a
denoised image, whose noise is lower and correlated, is held to the same
false-positive standard as a coadd.

Steps: a background and RMS map (`photutils.background.Background2D`), the
background-subtracted image filtered with a kernel matched to the PSF, the
RMS of that filtered image measured the same way, `detect_sources` at
``threshold`` times that RMS with ``n_pixels`` connected pixels, deblending,
and a `photutils.segmentation.SourceCatalog` with centroids, aperture and
Kron fluxes, FWHM and ellipticity.

Examples
--------
>>> import numpy as np
>>> from asteris.science.detect import detect
>>> rng = np.random.default_rng(1)
>>> yy, xx = np.mgrid[:96, :96]
>>> image = rng.normal(0, 1, (96, 96)) + 40 * np.exp(-((xx - 40) ** 2 + (yy - 50) ** 2) / 8)
>>> table = detect(image, fwhm=3.3, threshold=5, box_size=32)
>>> len(table), round(float(table["x"][0].value)), round(float(table["y"][0].value))
(1, 40, 50)
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.stats import SigmaClip
from astropy.table import QTable
from astropy.wcs import WCS
from photutils.background import Background2D, MADStdBackgroundRMS, MedianBackground
from photutils.segmentation import SourceCatalog, deblend_sources, detect_sources, make_2dgaussian_kernel
from photutils.utils import NoDetectionsWarning
from scipy import ndimage
from scipy.signal import oaconvolve

from ..errors import ConfigError
from ..sky.sed import NJY_AB_ZP
from ..stats import nmad
from ..wcs import wcs_pixel_scale

__all__ = [
    "DetectionImage",
    "detection_image",
    "SEXTRACTOR_KERNEL",
    "THRESHOLD_UNITS",
    "detect",
    "matched_kernel",
    "njy_per_unit",
    "ab_mag",
    "kernel_fwhm",
    "segment_sources",
    "empty_aperture_noise",
    "random_aperture_noise_ratio",
    "wcs_pixel_scale",
    "DETECT_COLUMNS",
]

#: Columns of every detection table, in order (aperture columns follow, one pair per diameter).
DETECT_COLUMNS = ("id", "x", "y", "snr", "kron_flux", "kron_flux_err", "fwhm", "ellipticity", "area")


def matched_kernel(fwhm: float | None = None, *, psf: np.ndarray | None = None) -> np.ndarray:
    """A unit-sum detection kernel: the PSF image when given, else a Gaussian of FWHM ``fwhm`` pixels.

    >>> k = matched_kernel(2.0)
    >>> k.shape, round(float(k.sum()), 6)
    ((9, 9), 1.0)
    """
    if psf is not None:
        kernel = np.asarray(psf, dtype=float)
        if kernel.ndim != 2 or kernel.shape[0] % 2 == 0 or kernel.shape[0] != kernel.shape[1]:
            raise ConfigError(f"the PSF kernel must be a square image of odd side, got {kernel.shape}")
    elif fwhm is None or not fwhm > 0:
        raise ConfigError(f"give the PSF FWHM in pixels (> 0) or a PSF image, got fwhm={fwhm}")
    else:
        size = 2 * int(np.ceil(2 * fwhm)) + 1
        kernel = make_2dgaussian_kernel(fwhm, size=size).array
    return kernel / kernel.sum()


def njy_per_unit(zero_point: float) -> float:
    """nJy of one image unit per pixel, for an image whose AB zero point is ``zero_point``."""
    return float(10 ** (-0.4 * (zero_point - NJY_AB_ZP)))


@dataclass
class DetectionImage:
    """An image prepared for detection: background-subtracted, filtered, with its noise maps."""

    data: np.ndarray  #: background-subtracted image, 0 where masked
    rms: np.ndarray  #: per-pixel noise of ``data``
    filtered: np.ndarray  #: ``data`` filtered with ``kernel``
    filtered_rms: np.ndarray  #: the unit of detection thresholds: noise of ``filtered`` (or per-pixel RMS)
    kernel: np.ndarray
    mask: np.ndarray  #: True where there is no data
    fwhm: float  #: FWHM of the kernel (pixels), from its second moments

    @property
    def snr(self) -> np.ndarray:
        """Filtered image in units of its noise (0 where masked)."""
        return np.where(self.mask, 0.0, self.filtered / self.filtered_rms)


def _background(image: np.ndarray, mask: np.ndarray, box_size: int) -> Background2D:
    box = int(min(box_size, *image.shape))
    return Background2D(
        image,
        box,
        coverage_mask=mask,
        fill_value=0.0,
        filter_size=3,
        sigma_clip=SigmaClip(sigma=3.0, maxiters=10),
        bkg_estimator=MedianBackground(),
        bkg_rms_estimator=MADStdBackgroundRMS(),
        exclude_percentile=50.0,
    )


#: SExtractor's default detection filter (``default.conv``, a 3x3 pyramid), normalised.
SEXTRACTOR_KERNEL = np.array([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 16.0
#: What a detection threshold is in units of: the filtered image's own noise (the optimal detector's
#: convention) or the per-pixel background RMS of the unfiltered image (SExtractor's DETECT_THRESH).
THRESHOLD_UNITS = ("filtered", "pixel")


def detection_image(
    image: np.ndarray,
    *,
    fwhm: float | None = None,
    psf: np.ndarray | None = None,
    box_size: int = 64,
    mask: np.ndarray | None = None,
    negate: bool = False,
    threshold_units: str = "filtered",
) -> DetectionImage:
    """Subtract the background, filter with the matched kernel and measure both noises.

    ``negate=True`` works on ``-image``: its detections are the false
    positives a real image has at the same threshold. ``threshold_units``
    (`THRESHOLD_UNITS`): ``"filtered"`` puts thresholds in units of the noise
    measured on the filtered image; ``"pixel"`` in units of the unfiltered
    per-pixel background RMS, as SExtractor does, which on an image with
    correlated noise (drizzled, or denoised) is a different, lower bar.
    """
    if threshold_units not in THRESHOLD_UNITS:
        raise ConfigError(f"threshold_units must be one of {THRESHOLD_UNITS}, got {threshold_units!r}")
    image = np.asarray(image, dtype=float)
    if image.ndim != 2:
        raise ConfigError(f"detection needs a 2D image, got shape {image.shape}")
    no_data = ~np.isfinite(image) | (image == 0)
    if mask is not None:
        no_data |= np.asarray(mask, dtype=bool)
    if no_data.all():
        raise ConfigError("the image holds no valid pixel")
    image = np.where(no_data, 0.0, -image if negate else image)
    kernel = matched_kernel(fwhm, psf=psf)
    raw = _background(image, no_data, box_size)
    data = np.where(no_data, 0.0, image - raw.background)
    filtered = oaconvolve(data, kernel, mode="same")
    # edges of the data, where the kernel reaches into no-data, are left out of detection
    edge = ndimage.binary_dilation(no_data, structure=np.ones(kernel.shape, bool))
    if threshold_units == "pixel":
        filtered_rms = raw.background_rms
    else:
        filtered_rms = _background(filtered, edge, box_size).background_rms
    rms = np.where(no_data, np.inf, raw.background_rms)
    filtered_rms = np.where(edge, np.inf, filtered_rms)
    return DetectionImage(data, rms, filtered, filtered_rms, kernel, edge, kernel_fwhm(kernel))


def kernel_fwhm(kernel: np.ndarray) -> float:
    """FWHM (pixels) of the Gaussian with the same second moments as ``kernel``.

    >>> round(kernel_fwhm(matched_kernel(3.0)), 1)
    3.0
    """
    yy, xx = np.indices(kernel.shape) - kernel.shape[0] // 2
    variance = (kernel * (xx**2 + yy**2)).sum() / kernel.sum() / 2 - 1 / 12  # less the pixel's own
    return float(2 * np.sqrt(2 * np.log(2) * variance))


def _diameters_px(diameters, pixel_scale: float | None, fwhm: float) -> np.ndarray:
    if diameters is None:
        return np.array([2.0, 4.0]) * fwhm
    diameters = u.Quantity(diameters)
    if diameters.unit.physical_type == "angle":
        if pixel_scale is None:
            raise ConfigError("aperture diameters in angle units need a WCS or pixel_scale")
        return (diameters.to_value(u.arcsec) / pixel_scale).ravel()
    if diameters.unit in (u.pix, u.dimensionless_unscaled):
        return diameters.value.ravel()
    raise ConfigError(f"aperture diameters must be angles or pixels, got {diameters.unit}")


def _pixel_scale(wcs: WCS | None, pixel_scale: float | None) -> float | None:
    if pixel_scale is not None or wcs is None:
        return pixel_scale
    return wcs_pixel_scale(wcs)


def segment_sources(det: DetectionImage, threshold: float, n_pixels: int = 5, *, deblend: bool = True):
    """The photutils segmentation image of ``det`` at ``threshold`` (None when nothing is detected),
    deblended with photutils' defaults (`deblend_sources`)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NoDetectionsWarning)
        segm = detect_sources(det.filtered, threshold * det.filtered_rms, n_pixels, mask=det.mask)
    if segm is not None and deblend and segm.n_labels > 0:
        splittable = _splittable(det.filtered, segm, n_pixels)
        if splittable.size:
            segm = deblend_sources(det.filtered, segm, n_pixels, labels=splittable, progress_bar=False)
    return segm


#: photutils' deblending levels: `DEBLEND_LEVELS` between a segment's minimum and maximum (both left
#: out), spaced exponentially (linearly where the minimum is not positive).
DEBLEND_LEVELS = 32
#: 8-connected within one level of a stack of levels, never across levels.
_WITHIN_A_LEVEL = np.zeros((3, 3, 3), bool)
_WITHIN_A_LEVEL[1] = True


def _deblend_levels(low: float, high: float) -> np.ndarray:
    """The levels at which photutils' deblending looks for a segment's parts, computed as it does."""
    linear = np.linspace(low, high, DEBLEND_LEVELS + 2)
    if low <= 0:
        return linear[1:-1]
    return (low * (high / low) ** ((linear - low) / (high - low)))[1:-1]


def _splittable(filtered: np.ndarray, segm, n_pixels: int) -> np.ndarray:
    """The labels of ``segm`` that deblending could split; deblending any other leaves it as it is.

    photutils' deblending splits a segment only if, at one of its levels, the segment's pixels above
    the level form two or more 8-connected groups of ``n_pixels`` or more. Most segments of a deep
    image never do; one labelling of each segment's stack of levels finds that out in a fraction of
    the time deblending it takes.
    """
    labels = segm.labels[segm.areas >= 2 * n_pixels]  # a smaller segment cannot hold two parts
    keep = []
    for label, cut in zip(labels, [segm.slices[i] for i in segm.get_indices(labels)]):
        inside = segm.data[cut] == label
        values = filtered[cut][inside]
        if not np.all(np.isfinite(values)):
            keep.append(label)  # photutils ignores non-finite values: leave such a segment to it
            continue
        low, high = values.min(), values.max()
        if low < high and _parts_at_one_level(inside, values, _deblend_levels(low, high), n_pixels):
            keep.append(label)
    return np.asarray(keep, dtype=labels.dtype)


def _parts_at_one_level(inside: np.ndarray, values: np.ndarray, levels: np.ndarray, n_pixels: int) -> bool:
    """Whether the pixels of a segment (``inside`` its cutout) above one of ``levels`` form two or more
    8-connected groups of ``n_pixels`` or more."""
    above = np.zeros(inside.shape, int)  # how many levels each pixel is above
    above[inside] = np.searchsorted(levels, values, side="left")
    top = int(above.max())
    stacked = above[None] >= np.arange(1, top + 1)[:, None, None]
    groups, n_groups = ndimage.label(stacked, structure=_WITHIN_A_LEVEL)
    if n_groups < 2:
        return False
    level_of = np.zeros(n_groups + 1, int)
    level_of[groups] = np.arange(top)[:, None, None]
    large = np.flatnonzero(np.bincount(groups.ravel(), minlength=n_groups + 1) >= n_pixels)
    return bool(np.any(np.bincount(level_of[large[large > 0]]) >= 2))


def _empty_table(diameters_px: np.ndarray, unit) -> QTable:
    table = QTable(
        {
            "id": np.zeros(0, int),
            "x": np.zeros(0) * u.pix,
            "y": np.zeros(0) * u.pix,
            "snr": np.zeros(0),
            "kron_flux": np.zeros(0) * unit,
            "kron_flux_err": np.zeros(0) * unit,
            "fwhm": np.zeros(0) * u.pix,
            "ellipticity": np.zeros(0),
            "area": np.zeros(0) * u.pix**2,
        }
    )
    for i in range(len(diameters_px)):
        table[f"flux_aper_{i}"] = np.zeros(0) * unit
        table[f"flux_aper_{i}_err"] = np.zeros(0) * unit
    return table


def _catalog_table(
    det: DetectionImage, segm, diameters_px: np.ndarray, scale: float, unit, minimal: bool = False
) -> QTable:
    err = np.where(det.mask, 0.0, det.rms)
    centroids = SourceCatalog(det.data, segm, convolved_data=det.filtered, error=err, mask=det.mask)
    peak = ndimage.maximum(det.snr, labels=segm.data, index=segm.labels)
    table = QTable(
        {
            "id": segm.labels,
            "x": centroids.x_centroid * u.pix,
            "y": centroids.y_centroid * u.pix,
            "snr": np.asarray(peak, dtype=float),
        }
    )
    if minimal:
        nan = np.full(len(table), np.nan)
        kron, kron_err, fwhm, ellipticity, area = nan, nan, nan, nan, nan
    else:
        shapes = SourceCatalog(det.data, segm, mask=det.mask)  # moments of the unfiltered image: the PSF seen
        kron, kron_err = centroids.kron_flux, centroids.kron_flux_err
        fwhm, ellipticity = u.Quantity(shapes.fwhm).value, u.Quantity(shapes.ellipticity).value
        area = u.Quantity(centroids.area).value
    table["kron_flux"] = kron * scale * unit
    table["kron_flux_err"] = kron_err * scale * unit
    table["fwhm"] = fwhm * u.pix
    table["ellipticity"] = np.asarray(ellipticity, dtype=float)
    table["area"] = area * u.pix**2
    for i, d in enumerate(diameters_px):
        flux, flux_err = centroids.circular_photometry(d / 2.0)
        table[f"flux_aper_{i}"] = flux * scale * unit
        table[f"flux_aper_{i}_err"] = flux_err * scale * unit
    return table


def detect(
    image,
    *,
    fwhm: float | None = None,
    psf: np.ndarray | None = None,
    threshold: float = 3.0,
    n_pixels: int = 5,
    deblend: bool = True,
    aperture_diameters=None,
    wcs: WCS | None = None,
    pixel_scale: float | None = None,
    zero_point: float | None = None,
    box_size: int = 64,
    mask: np.ndarray | None = None,
    negate: bool = False,
    minimal: bool = False,
) -> QTable:
    """Detect and measure the sources of an image.

    Parameters
    ----------
    image : 2D array or `DetectionImage`
        A coadd or denoised image (NaN or 0 = no data), or one already prepared
        by `detection_image` (then ``fwhm``, ``psf``, ``box_size``, ``mask`` and
        ``negate`` are not used): scanning thresholds prepares it once.
    fwhm : float
        PSF FWHM in pixels, for a Gaussian matched kernel; or give ``psf``.
    psf : 2D array, optional
        The PSF image (odd square, pixel-sampled), used as the kernel.
    threshold : float
        Detection threshold in units of the filtered image's noise.
    n_pixels : int
        Connected pixels above the threshold a source needs.
    deblend : bool
        Split blended sources (`photutils.segmentation.deblend_sources`).
    aperture_diameters : Quantity
        Circular aperture diameters, angles (with ``wcs`` or ``pixel_scale``) or pixels;
        columns ``flux_aper_0``, ``flux_aper_1``, ... in that order. Default:
        2 and 4 times the kernel's FWHM.
    wcs : `~astropy.wcs.WCS`, optional
        Adds ``ra`` and ``dec`` columns and gives the pixel scale.
    pixel_scale : float, optional
        arcsec per pixel, when there is no WCS.
    zero_point : float, optional
        AB magnitude of one image unit per pixel: fluxes come in nJy and
        ``mag_aper_*``, ``mag_kron`` columns are added. Without it fluxes stay
        in image units (dimensionless).
    box_size : int
        Background mesh size in pixels.
    mask : bool array, optional
        True where the image must be ignored.
    negate : bool
        Detect on ``-image`` (spurious detections of real data).
    minimal : bool
        Measure positions, S/N and aperture fluxes only, and leave the Kron
        fluxes, shapes and areas NaN: what injection-recovery needs, at a
        fraction of the cost.

    Returns
    -------
    `~astropy.table.QTable`
        One row per source: ``id``, ``x``, ``y`` (zero-based pixels), ``snr``
        (peak of the filtered image over its noise), Kron and aperture fluxes
        with errors, ``fwhm`` and ``ellipticity`` (moments of the unfiltered
        image), ``area``; the aperture diameters in pixels are in
        ``meta["aperture_diameters_px"]``.
    """
    if threshold <= 0 or n_pixels < 1:
        raise ConfigError(f"threshold must be > 0 and n_pixels >= 1, got {threshold} and {n_pixels}")
    det = image if isinstance(image, DetectionImage) else detection_image(
        image, fwhm=fwhm, psf=psf, box_size=box_size, mask=mask, negate=negate
    )  # fmt: skip
    diameters_px = _diameters_px(aperture_diameters, _pixel_scale(wcs, pixel_scale), det.fwhm)
    unit = u.nJy if zero_point is not None else u.dimensionless_unscaled
    scale = njy_per_unit(zero_point) if zero_point is not None else 1.0
    segm = segment_sources(det, threshold, n_pixels, deblend=deblend)
    if segm is None or segm.n_labels == 0:
        table = _empty_table(diameters_px, unit)
    else:
        table = _catalog_table(det, segm, diameters_px, scale, unit, minimal=minimal)
    if wcs is not None:
        sky = wcs.celestial.pixel_to_world(table["x"].value, table["y"].value)
        table["ra"], table["dec"] = sky.ra.to(u.deg), sky.dec.to(u.deg)
    if zero_point is not None:
        for name in [c for c in table.colnames if c.startswith("flux_aper_") and not c.endswith("_err")]:
            table["mag_" + name[5:]] = ab_mag(table[name])
        table["mag_kron"] = ab_mag(table["kron_flux"])
    table.meta.update(aperture_diameters_px=[float(d) for d in diameters_px], threshold=threshold,
                      n_pixels=n_pixels, negate=negate)  # fmt: skip
    return table


def ab_mag(flux) -> u.Quantity:
    """AB magnitudes of fluxes in nJy (NaN for fluxes <= 0)."""
    flux = u.Quantity(flux, u.nJy).value
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, NJY_AB_ZP - 2.5 * np.log10(flux), np.nan) * u.mag


def empty_aperture_noise(
    det: DetectionImage, diameter: float, *, avoid: np.ndarray | None = None, n: int = 2000, seed: int = 0
) -> float:
    """Noise of a ``diameter``-pixel aperture flux, from apertures dropped on empty sky (image units).

    Robust (MAD) spread of the sums in ``n`` random apertures that touch no
    source (``avoid``, True = occupied) and no masked pixel: unlike the
    per-pixel RMS, it includes the noise correlations of a resampled or
    denoised image.
    """
    from photutils.aperture import CircularAperture, aperture_photometry

    rng = np.random.default_rng(seed)
    blocked = det.mask if avoid is None else det.mask | avoid
    r = diameter / 2.0
    blocked = ndimage.binary_dilation(blocked, iterations=int(np.ceil(r)) + 1)
    free = np.flatnonzero(~blocked)
    if free.size < 10:
        raise ConfigError("no empty sky left to place apertures on")
    yy, xx = np.unravel_index(rng.choice(free, size=min(n, free.size), replace=False), det.data.shape)
    sums = aperture_photometry(det.data, CircularAperture(np.column_stack([xx, yy]), r))["aperture_sum"]
    return nmad(sums)


def random_aperture_noise_ratio(
    det: DetectionImage, diameter: float, *, avoid: np.ndarray | None = None, n: int = 2000, seed: int = 0
) -> float:
    """Random-aperture noise over the noise the per-pixel RMS predicts for the same aperture.

    1 for white noise; above 1 where neighbouring pixels are correlated (a
    drizzled coadd, a denoised image), which a per-pixel threshold misses. The
    prediction is the median per-pixel RMS of the sky times the root sum of
    squares of the aperture's pixel weights (exact overlap, averaged over
    sub-pixel centres), what independent pixels would give.

    >>> rng = np.random.default_rng(0)
    >>> white = detection_image(rng.normal(0, 1, (512, 512)) + 10, fwhm=2.0)
    >>> round(random_aperture_noise_ratio(white, 4.0), 1)
    1.0
    """
    from photutils.aperture import CircularAperture

    blocked = det.mask if avoid is None else det.mask | avoid
    pixel_rms = float(np.median(det.rms[~blocked & np.isfinite(det.rms)]))
    centres = 100.0 + np.random.default_rng(seed).random((16, 2))
    weights = [np.sum(m.data**2) for m in CircularAperture(centres, diameter / 2.0).to_mask(method="exact")]
    predicted = pixel_rms * np.sqrt(np.mean(weights))
    return float(empty_aperture_noise(det, diameter, avoid=avoid, n=n, seed=seed) / predicted)
