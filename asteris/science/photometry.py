"""Measurements at given positions: aperture fluxes, moment shapes, stacked profiles, limiting magnitudes.

>>> import numpy as np
>>> image = np.zeros((21, 21)); image[10, 10] = 5.0
>>> aperture_fluxes(image, [10.0], [10.0], 4.0).tolist()
[5.0]
"""

from __future__ import annotations

import numpy as np
from astropy.table import QTable
from photutils.aperture import CircularAperture, aperture_photometry

from ..sky.render import SourceRenderer
from .detect import detection_image, empty_aperture_noise
from .injection import source_mask

__all__ = ["aperture_fluxes", "moment_shape", "stacked_profile", "truth_errors", "limiting_magnitude",
           "flux_to_mag"]  # fmt: skip


def moment_shape(image: np.ndarray, x, y, *, radius: float) -> tuple[np.ndarray, np.ndarray]:
    """FWHM (pixels) and ellipticity from Gaussian-weighted second moments around each (x, y).

    The weight (sigma ``radius / 2``, cut at ``radius``) tames the noise of
    faint pixels; its effect is divided out exactly for a Gaussian source.
    Moments are taken about the given positions, so the same call on a noisy
    image and on its noiseless truth compares like with like.

    >>> yy, xx = np.mgrid[:41, :41]
    >>> g = np.exp(-((xx - 20) ** 2 / (2 * 2.0**2) + (yy - 20) ** 2 / (2 * 1.0**2)))
    >>> fwhm, e = moment_shape(g, [20], [20], radius=12)
    >>> round(float(fwhm[0]), 2), round(float(e[0]), 2)
    (3.72, 0.5)
    """
    half, s2 = int(np.ceil(radius)), (radius / 2.0) ** 2
    offsets = np.arange(-half, half + 1)
    fwhm, ellipticity = np.full(len(x), np.nan), np.full(len(x), np.nan)
    for n, (xc, yc) in enumerate(zip(np.asarray(x, float), np.asarray(y, float))):
        ys, xs = int(round(yc)) + offsets, int(round(xc)) + offsets
        if ys[0] < 0 or xs[0] < 0 or ys[-1] >= image.shape[0] or xs[-1] >= image.shape[1]:
            continue
        dy, dx = ys[:, None] - yc, xs[None, :] - xc
        r2 = dx**2 + dy**2
        w = np.where(r2 <= radius**2, image[ys[:, None], xs[None, :]] * np.exp(-r2 / (2 * s2)), 0.0)
        total = w.sum()
        if not np.isfinite(total) or total <= 0:
            continue
        cov = np.array(
            [[(w * dx * dx).sum(), (w * dx * dy).sum()], [(w * dx * dy).sum(), (w * dy * dy).sum()]]
        )
        eig = np.linalg.eigvalsh(cov / total)
        if eig[0] <= 0 or eig[1] >= s2:
            continue
        eig = 1 / (1 / eig - 1 / s2)  # divide the weight out
        fwhm[n] = 2 * np.sqrt(2 * np.log(2)) * np.sqrt(eig.mean())
        ellipticity[n] = 1 - np.sqrt(eig[0] / eig[1])
    return fwhm, ellipticity


def stacked_profile(image: np.ndarray, x, y, *, radius: float, step: float = 0.5):
    """Radial profile of point sources at (x, y) stacked: bin radii and mean surface brightness, unit sum."""
    edges = np.arange(0, radius + step, step)
    total, count = np.zeros(len(edges) - 1), np.zeros(len(edges) - 1)
    half = int(np.ceil(radius))
    for xc, yc in zip(np.asarray(x, float), np.asarray(y, float)):
        y0, x0 = int(round(yc)) - half, int(round(xc)) - half
        if y0 < 0 or x0 < 0 or y0 + 2 * half >= image.shape[0] or x0 + 2 * half >= image.shape[1]:
            continue
        cut = image[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1]
        yy, xx = np.mgrid[y0 : y0 + 2 * half + 1, x0 : x0 + 2 * half + 1]
        idx = np.digitize(np.hypot(xx - xc, yy - yc).ravel(), edges) - 1
        ok = (idx >= 0) & (idx < len(total)) & np.isfinite(cut.ravel())
        total += np.bincount(idx[ok], weights=cut.ravel()[ok], minlength=len(total))
        count += np.bincount(idx[ok], minlength=len(total))
    with np.errstate(invalid="ignore", divide="ignore"):
        profile = total / count
    area = np.pi * (edges[1:] ** 2 - edges[:-1] ** 2)
    return 0.5 * (edges[1:] + edges[:-1]), profile / np.nansum(profile * area)


def aperture_fluxes(image: np.ndarray, x, y, diameter: float) -> np.ndarray:
    """Sums of ``image`` in circular apertures of ``diameter`` pixels at (x, y)."""
    if len(x) == 0:
        return np.zeros(0)
    aperture = CircularAperture(np.column_stack([np.asarray(x, float), np.asarray(y, float)]), diameter / 2)
    return np.asarray(aperture_photometry(np.nan_to_num(image), aperture)["aperture_sum"], dtype=float)


def truth_errors(image: np.ndarray, truth: np.ndarray, *, noise: float) -> QTable:
    """RMS error and mean bias of ``image`` against the noiseless ``truth``, by truth level.

    Pixels are grouped by their truth in units of ``noise`` (the coadd's
    per-pixel noise): background (below 1), faint sources (1 to 10) and bright
    sources (above 10); NaN pixels are left out.

    >>> truth = np.repeat([0.0, 5.0, 50.0], 100)
    >>> t = truth_errors(truth + 0.5, truth, noise=1.0)
    >>> t["pixels"].tolist(), t["rms_error"].tolist()
    ([100, 100, 100], [0.5, 0.5, 0.5])
    """
    ok = np.isfinite(image) & np.isfinite(truth)
    level = truth / noise
    groups = {
        "background": level < 1,
        "faint sources": (level >= 1) & (level <= 10),
        "bright sources": level > 10,
    }
    rows = []
    for name, where in groups.items():
        error = (image - truth)[where & ok]
        rms = float(np.sqrt(np.mean(error**2))) if error.size else float("nan")
        rows.append((name, int(error.size), rms, float(error.mean()) if error.size else float("nan")))
    return QTable(rows=rows, names=("pixels_of", "pixels", "rms_error", "mean_bias"))


def limiting_magnitude(image: np.ndarray, renderer: SourceRenderer, *, nsigma: float = 5.0) -> float:
    """The ``nsigma`` limiting AB magnitude of ``image`` in a 2-FWHM aperture, from empty-aperture noise."""
    fwhm_px = renderer.fwhm_px
    noise = empty_aperture_noise(detection_image(image, fwhm=fwhm_px), 2 * fwhm_px,
                                 avoid=source_mask(image, fwhm=fwhm_px))  # fmt: skip
    return float(renderer.zero_point - 2.5 * np.log10(nsigma * noise))


def flux_to_mag(flux, zero_point: float) -> np.ndarray:
    flux = np.asarray(flux, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flux > 0, zero_point - 2.5 * np.log10(flux), np.nan)
