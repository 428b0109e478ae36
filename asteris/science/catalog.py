"""Multi-band catalogues: detection on a combined image, forced photometry in every band.

Sources are detected once, on the inverse-variance combination of the
background-subtracted images of the detection bands (each in units of its
own noise, so bands of different depth and units add up), and measured in
every band at the same positions in circular apertures of one angular
diameter. Each band's aperture flux is corrected to a total flux with the
fraction of that band's PSF inside the aperture (so colours are not skewed by
the bands' different PSFs), and its error comes from the same aperture
dropped on empty sky, which includes the correlated noise of resampled or
denoised images. Coadds and denoised images are measured alike.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable
from astropy.wcs import WCS
from photutils.aperture import CircularAperture, aperture_photometry

from ..errors import ConfigError
from ..sky.psf import psf_kernel
from .detect import (
    DetectionImage,
    detect,
    detection_image,
    empty_aperture_noise,
    njy_per_unit,
    segment_sources,
)
from .injection import SourceRenderer

__all__ = ["aperture_correction", "combined_detection_image", "multiband_catalog"]


def aperture_correction(renderer: SourceRenderer, diameter_px: float) -> float:
    """Total flux over the flux inside a ``diameter_px`` aperture centred on the band's PSF.

    Examples
    --------
    >>> r = SourceRenderer(0.04, 28.0, "moffat", 0.08)
    >>> 1.0 < aperture_correction(r, 8.0) < aperture_correction(r, 4.0)
    True
    """
    psf = psf_kernel(renderer.psf_profile, renderer.fwhm_px)  # as the mock renders it
    centre = (psf.shape[0] - 1) / 2.0
    inside = aperture_photometry(psf, CircularAperture((centre, centre), diameter_px / 2.0))["aperture_sum"]
    return float(psf.sum() / inside[0])


def _band_images(images: Mapping[str, np.ndarray], renderers: Mapping[str, SourceRenderer]) -> dict:
    """Each band background-subtracted, with its noise map (one `DetectionImage` per band)."""
    return {band: detection_image(image, fwhm=renderers[band].fwhm_px) for band, image in images.items()}


def combined_detection_image(images: Mapping[str, np.ndarray], renderers: Mapping[str, SourceRenderer]):
    """The inverse-variance sum of background-subtracted images, in units of its noise (NaN = no data)."""
    return _combine(_band_images(images, renderers).values())


def _combine(dets) -> np.ndarray:
    total, weight = 0.0, 0.0
    for det in dets:
        ivar = np.where(det.mask, 0.0, 1.0 / det.rms**2)
        total = total + det.data * ivar
        weight = weight + ivar
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(weight > 0, total / np.sqrt(weight), np.nan)


def _check_inputs(images, renderers, detection_bands) -> list[str]:
    if not images:
        raise ConfigError("no images given")
    missing = sorted(set(images) - set(renderers))
    if missing:
        raise ConfigError(f"no SourceRenderer (pixel scale, zero point, PSF) for bands {missing}")
    shapes = {np.shape(image) for image in images.values()}
    if len(shapes) != 1:
        raise ConfigError(f"the bands must share one pixel grid; got shapes {sorted(shapes)}")
    bands = list(detection_bands or images)
    unknown = sorted(set(bands) - set(images))
    if unknown:
        raise ConfigError(f"detection bands {unknown} are not among the images {list(images)}")
    return bands


def multiband_catalog(
    images: Mapping[str, np.ndarray],
    renderers: Mapping[str, SourceRenderer],
    *,
    detection_bands: Sequence[str] | None = None,
    threshold: float = 5.0,
    n_pixels: int = 5,
    aperture_diameter: u.Quantity | None = None,
    wcs: WCS | None = None,
    deblend: bool = True,
    measure_images: Mapping[str, np.ndarray] | None = None,
) -> QTable:
    """Detect on the combined detection bands and measure every band in matched apertures.

    Parameters
    ----------
    images : dict of band -> 2D array
        Coadded or denoised images of the bands on one pixel grid (NaN or 0 = no data).
    renderers : dict of band -> `~asteris.sky.render.SourceRenderer`
        Pixel scale, AB zero point and PSF of each band.
    detection_bands : sequence of str, optional
        Bands whose inverse-variance combination is searched (default: all).
    threshold, n_pixels, deblend
        As in `asteris.science.detect.detect`, on the combined image (matched to the
        broadest PSF of the detection bands).
    aperture_diameter : Quantity, optional
        Angular diameter of the photometry apertures; default twice the
        broadest PSF FWHM of all bands.
    wcs : `~astropy.wcs.WCS`, optional
        Adds ``ra`` and ``dec``.
    measure_images : dict of band -> 2D array, optional
        Dual-image mode: detect on ``images``, measure the fluxes and their
        errors on these (for example the coadds, when ``images`` are denoised)
        at the same positions and in the same apertures. Default: ``images``.
        ``images`` then need hold only the detection bands; every band of
        ``measure_images`` is measured.

    Returns
    -------
    `~astropy.table.QTable`
        ``id``, ``x``, ``y`` (pixels), ``snr_det``, ``ra``/``dec`` with a WCS,
        ``total_factor`` and per band ``f_<band>`` and ``e_<band>`` in nJy
        (fluxes in the matched aperture corrected for the band's PSF, the
        total of a point source, with their 1-sigma errors; multiply by
        ``total_factor``, the Kron-to-aperture ratio of the detection image,
        for the totals of extended sources). The table's ``meta`` holds the
        aperture diameter and each band's aperture correction.
    """
    bands = _check_inputs(images, renderers, detection_bands)
    if measure_images is not None:
        _check_inputs(measure_images, renderers, None)
    scale = next(iter(renderers.values())).pixel_scale
    widest = max(r.psf_fwhm for r in renderers.values())
    diameter = (aperture_diameter if aperture_diameter is not None else 2 * widest * u.arcsec).to(u.arcsec)
    diameter_px = diameter.value / scale
    dets = _band_images({b: images[b] for b in bands}, renderers)  # the measured bands' are made in turn
    combined = _combine(dets[b] for b in bands)
    det_fwhm = max(renderers[b].fwhm_px for b in bands)
    sources = detect(combined, fwhm=det_fwhm, threshold=threshold, n_pixels=n_pixels, deblend=deblend,
                     wcs=wcs, pixel_scale=scale, aperture_diameters=[diameter_px] * u.pix)  # fmt: skip
    table = QTable({"id": np.arange(1, len(sources) + 1), "x": sources["x"], "y": sources["y"]})
    table["snr_det"] = sources["snr"]
    table["total_factor"] = _total_factor(sources, renderers, bands, diameter_px)
    if wcs is not None:
        table["ra"], table["dec"] = sources["ra"], sources["dec"]
    table.meta["aperture_diameter"] = diameter
    measured = images if measure_images is None else _same_bands(measure_images, images)
    dets = dets if measure_images is None else {}  # dual-image mode is done with them
    for band, image in measured.items():
        det = dets.get(band)
        if det is None:  # made band by band (four float64 maps each): a large pointing holds one band's
            det = detection_image(image, fwhm=renderers[band].fwhm_px)
        flux, error, correction = _forced_photometry(det, renderers[band], table, diameter_px)
        table[f"f_{band}"], table[f"e_{band}"] = flux, error
        table.meta[f"apcorr_{band}"] = correction
    return table


def _same_bands(measure_images: Mapping[str, np.ndarray], images: Mapping[str, np.ndarray]) -> dict:
    """``measure_images`` (in the order of ``images`` where both hold the same bands), checked to
    hold every band of ``images`` and to match them in shape."""
    missing = [b for b in images if b not in measure_images]
    if missing:
        raise ValueError(f"measure_images lacks bands {missing}")
    shape = np.shape(next(iter(images.values())))
    for band, image in measure_images.items():
        if np.shape(image) != shape:
            raise ValueError(f"measure_images[{band!r}] has shape {np.shape(image)}, "
                             f"the detection image {shape}")  # fmt: skip
    order = images if set(images) == set(measure_images) else measure_images
    return {band: measure_images[band] for band in order}


#: Largest Kron-to-aperture flux ratio credited to a source (beyond it the Kron flux is noise).
MAX_TOTAL_FACTOR = 4.0


def _total_factor(sources: QTable, renderers, bands, diameter_px: float) -> np.ndarray:
    """Kron flux over PSF-corrected aperture flux on the detection image, in [1, `MAX_TOTAL_FACTOR`].

    The matched apertures give colours; an extended source holds more flux
    than a point source outside them, and this ratio brings its aperture
    fluxes to totals.
    """
    broadest = max(bands, key=lambda b: renderers[b].psf_fwhm)
    correction = aperture_correction(renderers[broadest], diameter_px)
    psf_corrected = np.asarray(sources["flux_aper_0"], float) * correction
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.asarray(sources["kron_flux"], float) / psf_corrected
    return np.clip(np.nan_to_num(ratio, nan=1.0), 1.0, MAX_TOTAL_FACTOR)


def _forced_photometry(det: DetectionImage, renderer: SourceRenderer, table: QTable, diameter_px: float):
    occupied = segment_sources(det, 2.0, deblend=False)
    avoid = occupied.data > 0 if occupied is not None else None
    correction = aperture_correction(renderer, diameter_px)
    unit = njy_per_unit(renderer.zero_point) * correction * u.nJy
    noise = empty_aperture_noise(det, diameter_px, avoid=avoid)
    if len(table) == 0:
        return np.zeros(0) * unit, np.zeros(0) * unit, correction
    positions = np.column_stack([table["x"].value, table["y"].value])
    sums = aperture_photometry(det.data, CircularAperture(positions, diameter_px / 2.0))["aperture_sum"]
    flux = np.asarray(sums, dtype=float) * unit
    return flux, np.full(len(table), noise) * unit, correction
