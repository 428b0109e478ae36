"""Standard coadds of a stack: the baselines every ASTERIS image is measured against.

Each method reads the same inputs as `asteris.denoise` (arrays, FITS cubes,
aligned FITS exposures; zero or NaN = no data) and returns the same
`~asteris.result.DenoiseResult`: the image (NaN where no exposure has data),
its validity mask, the plain mean, the header with WCS and provenance, and
``crop`` (the whole input grid: coadds are not cropped).
"""

from __future__ import annotations

import os
import warnings

import numpy as np
from astropy.stats import sigma_clip
from astropy.utils.exceptions import AstropyUserWarning
from scipy import ndimage

from .errors import ConfigError, StackMismatchError
from .fileio import check_writable
from .preprocess import data_mean, mask_no_data, quiet_nan_warnings, temporal_nanmedian
from .result import DenoiseResult, image_header
from .stack import Stack, read_stack
from .stats import NMAD_SCALE

__all__ = ["COADD_METHODS", "coadd", "exposure_variances", "local_weights"]

COADD_METHODS = ("mean", "median", "sigma_clip", "ivar", "local_ivar")


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
    variance = (NMAD_SCALE * mad) ** 2
    if not np.all(np.isfinite(variance) & (variance > 0)):
        raise ConfigError("an exposure has no valid pixel or no noise; remove it from the stack")
    return variance


def local_weights(frames: np.ndarray, prediction: np.ndarray, *, smooth: float = 1.5, box: int = 32,
                  clip: float = 4.0) -> np.ndarray:  # fmt: skip
    """Per-voxel weights ``(T, H, W)``: the inverse of each exposure's local residual power at the
    detection scale.

    The residual of each exposure against ``prediction`` (an image of the
    sky: the per-pixel median, or a network's output) is clipped at ``clip``
    times the exposure's noise (so that the undersampled cores of bright
    sources do not dominate), smoothed with a Gaussian of ``smooth`` pixels
    (the matched filter's scale) and its square averaged in ``box`` x ``box``
    pixels. On white noise the weights are the inverse variances of
    ``ivar``; where an exposure carries structure the others do not
    (striping, a residual of its corrections) it weighs less there. The
    combination stays linear in the data for given weights, which vary
    over ``box`` pixels, not within a source.
    """
    sigma = np.sqrt(exposure_variances(frames))[:, None, None]
    residual = np.clip(frames - prediction[None], -clip * sigma, clip * sigma)
    valid = np.isfinite(residual)
    blur = (0, smooth, smooth)
    cover = ndimage.gaussian_filter(valid.astype(np.float64), blur)
    with np.errstate(invalid="ignore", divide="ignore"):
        filtered = ndimage.gaussian_filter(np.where(valid, residual, 0.0), blur) / cover
        inside = valid & (cover > 0.5)
        window = (1, box, box)
        power = ndimage.uniform_filter(np.where(inside, filtered**2, 0.0), window) / ndimage.uniform_filter(
            inside.astype(np.float64), window
        )
    fallback = np.nanmedian(np.where(inside, filtered**2, np.nan), axis=(1, 2), keepdims=True)
    power = np.where(np.isfinite(power) & (power > 0), power, fallback)
    return 1.0 / power


def _ivar_mean(frames: np.ndarray, sigma: float, weights: np.ndarray | None = None) -> np.ndarray:
    """Weighted mean (default: inverse variances); voxels beyond ``sigma`` noise of the per-pixel median
    rejected."""
    variance = exposure_variances(frames)[:, None, None]
    median = temporal_nanmedian(frames)
    keep = np.isfinite(frames) & (np.abs(frames - median) <= sigma * np.sqrt(variance))
    weights = np.where(keep, 1.0 / variance if weights is None else weights, 0.0)
    total = weights.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (np.where(keep, frames, 0.0) * weights).sum(axis=0) / total


def _combine(frames: np.ndarray, method: str, sigma: float, maxiters: int, prediction=None) -> np.ndarray:
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
    if method == "local_ivar":
        prediction = temporal_nanmedian(frames) if prediction is None else prediction
        return _ivar_mean(frames, sigma, local_weights(frames, np.asarray(prediction, np.float64)))
    return _ivar_mean(frames, sigma)


def coadd(
    data,
    *,
    method: str = "ivar",
    sigma: float = 3.0,
    maxiters: int = 5,
    prediction: np.ndarray | None = None,
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
        median rejected; ``local_ivar``: the same with per-voxel weights from
        each exposure's local residual power at the detection scale
        (`local_weights`), which weigh down an exposure where it carries
        structure the others do not.
    sigma : float
        Rejection threshold of ``sigma_clip``, ``ivar`` and ``local_ivar``.
    maxiters : int
        Iterations of ``sigma_clip``.
    prediction : ndarray, optional
        ``local_ivar`` only: the ``(H, W)`` image the residuals are taken
        against, e.g. a network's output (default: the per-pixel median).
    output : path, optional
        Also write the result as FITS there (atomically).
    overwrite : bool
        Replace ``output`` if it exists.

    Returns
    -------
    `~asteris.result.DenoiseResult`

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
    if prediction is not None and method != "local_ivar":
        raise ConfigError(f"a prediction is used by method 'local_ivar' only, not by {method!r}")
    if output is not None:
        check_writable(output, overwrite=overwrite)
    stack: Stack = read_stack(data)
    frames = mask_no_data(stack.data)
    if prediction is not None and np.shape(prediction) != frames.shape[1:]:
        raise StackMismatchError(
            f"the prediction is {np.shape(prediction)}, the stack's frames {frames.shape[1:]}"
        )
    image = _combine(frames, method, sigma, maxiters, prediction).astype(np.float32)
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
