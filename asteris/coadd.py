"""Standard coadds of a stack: the baselines every ASTERIS image is measured against.

Each method reads the same inputs as `asteris.denoise` (arrays, FITS cubes,
aligned FITS exposures; zero or NaN = no data) and returns the same
`~asteris.denoise.DenoiseResult`: the image (NaN where no exposure has data),
its validity mask, the plain mean, the header with WCS and provenance, and
``crop`` (the whole input grid: coadds are not cropped).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning

from .denoise import DenoiseResult, image_header
from .errors import ConfigError
from .fileio import check_writable
from .preprocess import data_mean, mask_no_data, quiet_nan_warnings, temporal_nanmedian
from .stack import Stack, read_stack

__all__ = ["COADD_METHODS", "coadd", "exposure_variances", "nmad"]

COADD_METHODS = ("mean", "median", "sigma_clip", "ivar")


def nmad(values) -> float:
    """Normalised median absolute deviation, 1.4826 median(|x - median(x)|): the standard deviation of
    Gaussian values, robust to outliers; NaN for no values.

    >>> round(nmad([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
    1.4826
    """
    values = np.asarray(values, dtype=float)
    return float(1.4826 * np.median(np.abs(values - np.median(values)))) if values.size else float("nan")


def exposure_variances(frames: np.ndarray) -> np.ndarray:
    """Per-exposure noise variance: the robust (MAD) variance of each exposure minus the median image.

    Subtracting the median image removes the sources, so what is left is the
    sky noise of each exposure (slightly under-estimated for few exposures,
    by the same factor for all of them: the weights depend only on ratios).
    """
    median = temporal_nanmedian(frames)
    residual = frames - median
    with quiet_nan_warnings():
        centre = np.nanmedian(residual, axis=(1, 2), keepdims=True)
        mad = np.nanmedian(np.abs(residual - centre), axis=(1, 2))
    variance = (1.4826 * mad) ** 2
    if not np.all(np.isfinite(variance) & (variance > 0)):
        raise ConfigError("an exposure has no valid pixel or no noise; remove it from the stack")
    return variance


def _ivar_mean(frames: np.ndarray, sigma: float) -> np.ndarray:
    """Inverse-variance weighted mean; voxels beyond ``sigma`` noise of the per-pixel median rejected."""
    variance = exposure_variances(frames)[:, None, None]
    median = temporal_nanmedian(frames)
    keep = np.isfinite(frames) & (np.abs(frames - median) <= sigma * np.sqrt(variance))
    weights = np.where(keep, 1.0 / variance, 0.0)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(keep, frames, 0.0) * weights).sum(axis=0) / total


def _combine(frames: np.ndarray, method: str, sigma: float, maxiters: int) -> np.ndarray:
    if method == "mean":
        with quiet_nan_warnings():
            return np.nanmean(frames, axis=0)
    if method == "median":
        return temporal_nanmedian(frames)
    if method == "sigma_clip":
        with warnings.catch_warnings():  # NaN is no data here, not a problem to report
            warnings.simplefilter("ignore", AstropyUserWarning)
            clipped = sigma_clip(frames, sigma=sigma, maxiters=maxiters, axis=0, masked=False)
        with quiet_nan_warnings():
            return np.nanmean(clipped, axis=0)
    return _ivar_mean(frames, sigma)


def coadd(
    data,
    *,
    method: str = "ivar",
    sigma: float = 3.0,
    maxiters: int = 5,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> DenoiseResult:
    """Combine the exposures of a stack into one image, NaN- and no-data-aware.

    Parameters
    ----------
    data : ndarray, `~asteris.stack.Stack`, path or list of paths
        A ``(T, H, W)`` array, a FITS cube, or aligned FITS exposures.
    method : {"mean", "median", "sigma_clip", "ivar"}
        ``mean`` and ``median`` of the valid voxels; ``sigma_clip``: the mean
        after iterative ``sigma`` clipping along the exposures
        (`astropy.stats.sigma_clip`, median centre, ``maxiters``); ``ivar``:
        the mean weighted by each exposure's inverse noise variance, voxels
        further than ``sigma`` of their exposure's noise from the per-pixel
        median rejected.
    sigma : float
        Rejection threshold of ``sigma_clip`` and ``ivar``.
    maxiters : int
        Iterations of ``sigma_clip``.
    output : path, optional
        Also write the result as FITS there (atomically).
    overwrite : bool
        Replace ``output`` if it exists.

    Returns
    -------
    `~asteris.denoise.DenoiseResult`

    Examples
    --------
    >>> import numpy as np
    >>> stack = np.random.default_rng(0).normal(10, 1, (16, 32, 32))
    >>> stack[3, 5, 5] = 1000.0  # a cosmic ray
    >>> r = coadd(stack, method="ivar")
    >>> bool(abs(r.image[5, 5] - 10) < 1)
    True
    """
    if method not in COADD_METHODS:
        raise ConfigError(f"unknown coadd method {method!r}; choose one of {list(COADD_METHODS)}")
    if sigma <= 0 or maxiters < 1:
        raise ConfigError("sigma must be > 0 and maxiters >= 1")
    if output is not None:
        check_writable(output, overwrite=overwrite)
    stack: Stack = read_stack(data)
    frames = mask_no_data(stack.data)
    image = _combine(frames, method, sigma, maxiters).astype(np.float32)
    cards = {
        "ASTCOADD": (method, "coadd method (asteris.coadd)"),
        "ASTNEXP": (stack.exposures, "exposures used"),
        "ASTSIGMA": (float(sigma), "rejection threshold (sigma_clip, ivar)"),
    }
    full = (slice(0, frames.shape[1]), slice(0, frames.shape[2]))
    result = DenoiseResult(
        image,
        np.isfinite(image),
        data_mean(stack.data).astype(np.float32),
        image_header(stack.header, stack.wcs, cards),
        stack.wcs,
        full,
    )
    if output is not None:
        result.write(output, overwrite=overwrite)
    return result
