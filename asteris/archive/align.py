"""Resampling exposures onto one pixel grid: the ``(T, H, W)`` stacks ASTERIS needs.

JWST stage-2 ``_cal`` exposures (SCI in MJy/sr, DQ, SIP-approximated WCS) are
drizzled onto a common tangent-plane grid (0.04 arcsec/px by default, the grid
of the published models). HSC-SSP warps are already on their tract/patch grid
and are only stacked, with their masks.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS
from scipy import ndimage

from ..errors import NotFITSError, StackMismatchError
from ..fileio import atomic_path
from ..stack import Stack, open_fits
from ..version import VERSION
from ..wcs import read_wcs
from . import corrections as cr
from .corrections import CorrectionConfig

__all__ = [
    "DO_NOT_USE",
    "read_cal_exposure",
    "correct_exposures",
    "common_grid",
    "align",
    "align_variance",
    "stack_warps",
    "write_aligned",
]

#: JWST DQ bit 0: the pixel must not be used.
DO_NOT_USE = 1
#: HSC mask planes that make a warp pixel unusable (BAD, SAT, CR, NO_DATA, SUSPECT... bits 0-3, 8).
HSC_BAD_BITS = 0b1_0000_1111


def read_cal_exposure(path: str | os.PathLike) -> tuple[np.ndarray, WCS, fits.Header]:
    """SCI of a JWST ``_cal`` file with DO_NOT_USE and non-finite pixels set to 0, its WCS and header."""
    with open_fits(path, what="JWST stage-2 _cal files") as hdul:
        if "SCI" not in hdul:
            raise NotFITSError(f"{path} is not a JWST _cal file (no SCI extension); give stage-2 _cal files")
        sci = hdul["SCI"].data
        dq = hdul["DQ"].data if "DQ" in hdul else None
        dq_fits = dq is None or (dq.shape == getattr(sci, "shape", None) and dq.dtype.kind in "iu")
        if sci is None or sci.ndim != 2 or not dq_fits:
            raise NotFITSError(f"{path} is not a JWST _cal file (SCI is not one 2D image with an integer DQ "
                               "of its shape); give stage-2 _cal files")  # fmt: skip
        sci = sci.astype(np.float32)
        header = hdul["SCI"].header.copy()
        primary = hdul[0].header.copy()
        bad = ~np.isfinite(sci)
        if dq is not None:
            bad |= (dq & DO_NOT_USE) != 0
    sci[bad] = 0
    for key in ("FILTER", "DETECTOR", "TELESCOP", "INSTRUME", "PROGRAM", "EXPSTART", "EFFEXPTM"):
        if key in primary:
            header[key] = primary[key]
    return sci, read_wcs(header, source=str(path)), header


def common_grid(
    wcses: Sequence[WCS], shapes: Sequence[tuple[int, int]], *, pixel_scale: float = 0.04
) -> tuple[WCS, tuple[int, int]]:
    """A north-up TAN grid of ``pixel_scale`` arcsec/px covering every exposure's footprint."""
    corners = np.vstack([w.calc_footprint(axes=(s[1], s[0])) for w, s in zip(wcses, shapes)])
    ra0 = np.degrees(np.angle(np.mean(np.exp(1j * np.radians(corners[:, 0])))))
    dec0 = float(np.mean(corners[:, 1]))
    grid = WCS(naxis=2)
    grid.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    grid.wcs.crval = [ra0 % 360, dec0]
    grid.wcs.cdelt = [-pixel_scale / 3600, pixel_scale / 3600]
    grid.wcs.crpix = [1, 1]
    x, y = grid.all_world2pix(corners[:, 0], corners[:, 1], 0)
    x0, y0 = np.floor(x.min()), np.floor(y.min())
    grid.wcs.crpix = [1 - x0, 1 - y0]
    shape = (int(np.ceil(y.max() - y0)) + 1, int(np.ceil(x.max() - x0)) + 1)
    return grid, shape


def _pixmap(data: np.ndarray, wcs: WCS, grid: WCS, shape) -> np.ndarray:
    from drizzle.utils import calc_pixmap

    return calc_pixmap(wcs, grid, shape=data.shape)


def _drizzle_one(data: np.ndarray, wcs: WCS, grid: WCS, shape, *, pixfrac: float, kernel: str, pixmap=None):
    from drizzle.resample import Drizzle

    pixmap = _pixmap(data, wcs, grid, shape) if pixmap is None else pixmap
    driz = Drizzle(kernel=kernel, out_shape=shape, fillval=0.0, disable_ctx=True)
    driz.add_image(
        data, exptime=1.0, pixmap=pixmap, weight_map=(data != 0).astype(np.float32), pixfrac=pixfrac
    )
    image, weight = driz.out_img.astype(np.float32), driz.out_wht.astype(np.float32)
    image[weight <= 0] = 0
    return image, weight


def _read_dq(path) -> np.ndarray | None:
    with open_fits(path, what="JWST stage-2 _cal files") as hdul:
        return np.asarray(hdul["DQ"].data) if "DQ" in hdul else None


def _on_detector(grid_mask: np.ndarray, pixmap: np.ndarray) -> np.ndarray:
    """``grid_mask`` (H, W) sampled at each detector pixel's place on the grid (nearest pixel)."""
    x, y = np.rint(pixmap[..., 0]), np.rint(pixmap[..., 1])
    inside = np.isfinite(x) & np.isfinite(y) & (x >= 0) & (y >= 0)
    inside &= (x < grid_mask.shape[1]) & (y < grid_mask.shape[0])
    out = np.zeros(pixmap.shape[:2], bool)
    out[inside] = grid_mask[y[inside].astype(int), x[inside].astype(int)]
    return out


def _coadd_parts(frames, usables, pixmaps, drizzle) -> tuple[list, list, np.ndarray, np.ndarray]:
    """Each exposure resampled (image, weight), and the weighted sum and total weight of all of them."""
    images, weights = zip(*(drizzle(np.where(ok, f, 0.0), pm) for f, ok, pm in zip(frames, usables, pixmaps)))
    light = np.sum([i * w for i, w in zip(images, weights)], axis=0)
    return list(images), list(weights), light, np.sum(weights, axis=0)


def _first_pass_sources(frames, usables, pixmaps, config: CorrectionConfig, drizzle) -> list:
    """Per exposure, the detector pixels of sources found on a quick coadd of roughly cleaned exposures."""
    rough = [_clean(f, ok, None, config) for f, ok in zip(frames, usables)]
    _, _, light, total = _coadd_parts(rough, usables, pixmaps, drizzle)
    grid_mask = cr.source_mask(light / np.maximum(total, 1e-12), total > 0, nsigma=config.mask_sigma)
    return [_on_detector(grid_mask, pm) for pm in pixmaps]


def _sky_models(frames, usables, sources, pixmaps, config: CorrectionConfig, drizzle, *,
                iterations: int | None = None) -> list:  # fmt: skip
    """Per exposure, the sky's light on its pixels: the coadd of the other exposures resampled there.

    Built from the exposures as they come and refined ``iterations`` times
    (default ``config.model_iterations``) from the exposures cleaned against
    the previous models, so that no row or column imprint of a first
    cleaning enters it (a model made from cleaned exposures hands their
    imprint back to the medians).
    """
    current, models = frames, []
    for step in range(config.model_iterations if iterations is None else iterations):
        if step:
            current = [_clean(f, ok, s, config, m) for f, ok, s, m in zip(frames, usables, sources, models)]
        images, weights, light, total = _coadd_parts(current, usables, pixmaps, drizzle)
        models = []
        for image, weight, pixmap in zip(images, weights, pixmaps):
            others = total - weight
            leave_one_out = np.where(others > 0, (light - image * weight) / np.maximum(others, 1e-12), 0.0)
            models.append(_on_detector_values(leave_one_out, pixmap))
    return models


def _on_detector_values(image: np.ndarray, pixmap: np.ndarray) -> np.ndarray:
    """``image`` (H, W) interpolated bilinearly at each detector pixel's place on the grid (0 outside)."""
    coords = [pixmap[..., 1], pixmap[..., 0]]
    return ndimage.map_coordinates(image, coords, order=1, mode="constant", cval=0.0)


def _clean(frame, usable, sources, config: CorrectionConfig, model=None) -> np.ndarray:
    if config.one_over_f:
        frame = cr.one_over_f_correction(frame, usable, sources=sources, columns=config.columns is True,
                                         amplifier_width=config.amplifier_width, model=model)  # fmt: skip
    if config.background:
        frame = cr.background_correction(frame, usable, sources=sources, mesh=config.mesh, model=model)
    return frame


def correct_exposures(
    frames: Sequence[np.ndarray],
    usables: Sequence[np.ndarray],
    sources: Sequence[np.ndarray],
    config: CorrectionConfig,
    *,
    dither_span: float = np.inf,
    models: Sequence[np.ndarray | None] | None = None,
) -> tuple[list[np.ndarray], list[float]]:
    """Detector-frame exposures of one detector with 1/f, background and the detector pattern removed.

    ``sources`` masks each exposure's sources; ``dither_span`` is how far apart
    (output pixels) their pointings lie, which decides whether the pattern's
    smooth part can be told from the sky (``config.min_dither``); ``models``,
    the sky's light on each exposure's pixels, is taken out before the
    medians (``config.subtract_model``; it carries the pattern averaged over
    the other pointings). Returns the
    corrected frames (unusable pixels 0) and each exposure's pattern scale
    (NaN when the pattern step is off or the exposures differ in shape, 0
    when only hot pixels were taken out).
    """
    models = [None] * len(frames) if models is None else models
    cleaned = [_clean(np.asarray(f, float), ok, s, config, m)
               for f, ok, s, m in zip(frames, usables, sources, models)]  # fmt: skip
    scales = [float("nan")] * len(cleaned)
    if config.detector_pattern and len(cleaned) > 2 and len({f.shape for f in cleaned}) == 1:
        smooth, pixels = cr.detector_pattern(np.stack(cleaned), np.stack(usables), np.stack(sources))
        pattern = (smooth if dither_span >= config.min_dither else np.zeros_like(smooth), pixels)
        for t, (first, raw, ok, s) in enumerate(zip(cleaned, frames, usables, sources)):
            scales[t] = cr.subtract_pattern(first, pattern, ok, s)[1]
            raw = cr.subtract_pattern(np.asarray(raw, float), pattern, ok, scale=scales[t])[0]
            cleaned[t] = _clean(raw, ok, s, config, models[t])
    return [np.where(ok, f, 0.0) for f, ok in zip(cleaned, usables)], scales


def _corrected_frames(exposures, dqs, pixmaps, config: CorrectionConfig, drizzle):
    """The exposures' SCI after ``config``'s detector-frame steps, and a record of what they did."""
    usables = [d != 0 for d, _, _ in exposures]
    if config.events:
        usables = [cr.grow_event_flags(dq, ok, grow=config.grow, expand=config.expand,
                                       min_snowball=config.min_snowball) if dq is not None else ok
                   for dq, ok in zip(dqs, usables)]  # fmt: skip
    frames = [d.astype(np.float64) for d, _, _ in exposures]
    record = {}
    if not (config.one_over_f or config.background or config.detector_pattern):
        return [np.where(ok, f, 0.0) for f, ok in zip(frames, usables)], record
    sources = _first_pass_sources(frames, usables, pixmaps, config, drizzle)
    models = [None] * len(frames)
    if config.subtract_model:
        models = _sky_models(frames, usables, sources, pixmaps, config, drizzle)
    auto = config.one_over_f and config.columns == "auto"
    sky = models
    if auto and not config.subtract_model:  # the decision needs a sky model; one pass is enough
        sky = _sky_models(frames, usables, sources, pixmaps, config, drizzle, iterations=1)
    out, scales = [None] * len(frames), [float("nan")] * len(frames)
    for detector in {h.get("DETECTOR", "") for _, _, h in exposures}:
        idx = [i for i, (_, _, h) in enumerate(exposures) if h.get("DETECTOR", "") == detector]
        span = _dither_span([pixmaps[i] for i in idx])
        record["dither_span"] = min(record.get("dither_span", np.inf), span)
        detector_config = config
        if auto:
            residuals, fit = [frames[i] - sky[i] for i in idx], [usables[i] & ~sources[i] for i in idx]
            detector_config = _column_choice(residuals, fit, config, record)
        fixed, found = correct_exposures([frames[i] for i in idx], [usables[i] for i in idx],
                                         [sources[i] for i in idx], detector_config, dither_span=span,
                                         models=[models[i] for i in idx])  # fmt: skip
        for i, f, s in zip(idx, fixed, found):
            out[i], scales[i] = f, s
    record["pattern_scales"] = scales
    return out, record


def _column_choice(residuals, usable, config: CorrectionConfig, record: dict) -> CorrectionConfig:
    """``config`` with the column pass on where `column_excess` of the detector's exposures (less the sky
    model) exceeds ``config.column_threshold``, or cannot be measured; noted in ``record``."""
    excess = cr.column_excess(np.stack(residuals), np.stack(usable))
    columns = bool(excess > config.column_threshold) or not np.isfinite(excess)
    record.setdefault("column_excess", []).append(excess)
    record["column_pass"] = record.get("column_pass", False) or columns
    return dataclasses.replace(config, columns=columns)


def _dither_span(pixmaps: Sequence[np.ndarray]) -> float:
    """The largest distance (output pixels) between the places of the exposures' detector centres."""
    centres = np.array([pm[pm.shape[0] // 2, pm.shape[1] // 2] for pm in pixmaps])
    return float(np.max(np.hypot(*(centres[:, None, :] - centres[None, :, :]).transpose(2, 0, 1))))


def _record(header: fits.Header, config: CorrectionConfig, record: dict) -> None:
    steps = config.enabled()
    header["CORRSTEP"] = (",".join(steps) or "none", "exposure corrections")
    for step in steps:
        header.add_history(f"asteris.archive.corrections {step}: {cr.CORRECTION_STEPS[step]}")
    if config.subtract_model and (config.one_over_f or config.background):
        header["CORRMODL"] = (config.model_iterations, "leave-one-out sky model refinements")
    if "column_pass" in record:
        header["CORRCOLS"] = (record["column_pass"], "1/f column pass applied (auto)")
        measured = [e for e in record["column_excess"] if np.isfinite(e)]
        if measured:
            header["COLEXCES"] = (round(max(measured), 3), "column-median variance over noise, largest")
    if "outlier_fraction" in record:
        header["OUTLFRAC"] = (round(record["outlier_fraction"], 6), "fraction of pixels rejected as outliers")
    if config.detector_pattern and "dither_span" in record:
        wide = record["dither_span"] >= config.min_dither
        header["PATSMOOT"] = (wide, "smooth detector pattern removed (wide dithers)")
        header["DITHSPAN"] = (round(record["dither_span"], 1), "[px] largest distance between pointings")
    if record.get("pattern_scales"):
        scales = [s for s in record["pattern_scales"] if np.isfinite(s)]
        if scales:
            header["PATSCMIN"], header["PATSCMAX"] = round(min(scales), 4), round(max(scales), 4)


def align(
    files: Sequence[str | os.PathLike],
    *,
    pixel_scale: float = 0.04,
    pixfrac: float = 1.0,
    kernel: str = "square",
    grid: tuple[WCS, tuple[int, int]] | None = None,
    corrections: CorrectionConfig | None = None,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> tuple[Stack, np.ndarray]:
    """Drizzle JWST ``_cal`` exposures of one filter onto a common grid, structured noise corrected first.

    Parameters
    ----------
    files : sequence of paths
        Stage-2 ``_cal.fits`` exposures of one filter.
    pixel_scale : float
        Output pixel scale in arcsec (0.04, the grid of the published models).
    pixfrac, kernel : drizzle parameters (``kernel`` one of square, point, turbo, gaussian, lanczos3).
    grid : (WCS, (H, W)), optional
        The output grid (e.g. `common_grid` of the exposures of every filter,
        so that the bands line up); default: the grid covering these exposures.
    corrections : `~asteris.archive.corrections.CorrectionConfig`, optional
        Exposure-level corrections (default: all of them; ``CorrectionConfig.none()``
        takes the exposures as they come). The steps applied are in the
        header's ``CORRSTEP`` and ``HISTORY``.
    output : path, optional
        Write the cube (primary HDU) and weights (``WEIGHT``) there, atomically.

    Returns
    -------
    stack : `~asteris.stack.Stack`
        ``(T, H, W)`` in the input units (MJy/sr), 0 where an exposure has no data.
    weights : ndarray
        ``(T, H, W)`` drizzle weights.
    """
    if not files:
        raise StackMismatchError("no exposures given to align")
    config = CorrectionConfig() if corrections is None else corrections
    exposures = [read_cal_exposure(f) for f in files]
    filters = {h.get("FILTER") for _, _, h in exposures}
    if len(filters) > 1:
        raise StackMismatchError(
            f"the exposures are of several filters {sorted(map(str, filters))}; align one filter"
        )
    grid, shape = grid or common_grid(
        [w for _, w, _ in exposures], [d.shape for d, _, _ in exposures], pixel_scale=pixel_scale
    )
    pixmaps = [_pixmap(d, w, grid, shape) for d, w, _ in exposures]

    def drizzle(data, pixmap):
        return _drizzle_one(data.astype(np.float32), None, grid, shape, pixfrac=pixfrac, kernel=kernel,
                            pixmap=pixmap)  # fmt: skip

    dqs = [_read_dq(f) for f in files] if config.events else [None] * len(files)
    frames, record = _corrected_frames(exposures, dqs, pixmaps, config, drizzle)
    images, weights = (np.stack(a) for a in zip(*(drizzle(f, pm) for f, pm in zip(frames, pixmaps))))
    if config.events:
        outliers = cr.reject_outliers(images, weights, nsigma=config.outlier_sigma,
                                      scale=config.outlier_scale)  # fmt: skip
        images[outliers], weights[outliers] = 0, 0
        record["outlier_fraction"] = float(outliers.sum() / max((weights > 0).sum() + outliers.sum(), 1))
    header = fits.Header()
    for key in ("TELESCOP", "INSTRUME", "FILTER", "PROGRAM", "BUNIT"):
        if key in exposures[0][2]:
            header[key] = exposures[0][2][key]
    header["ASTVERS"] = (VERSION, "asteris version")
    header["ALIGNPIX"] = (pixel_scale, "arcsec/px of the common grid")
    header["PIXFRAC"], header["DRIZKERN"] = pixfrac, kernel
    _record(header, config, record)
    for i, f in enumerate(files):
        header[f"INFILE{i:02d}"[:8]] = Path(f).name[:68]
    stack = Stack(images, header, grid, [str(f) for f in files])
    if output is not None:
        write_aligned(stack, weights, output, overwrite=overwrite)
    return stack, weights


def align_variance(
    files: Sequence[str | os.PathLike],
    *,
    grid: tuple[WCS, tuple[int, int]],
    pixfrac: float = 1.0,
    kernel: str = "square",
) -> np.ndarray:
    """``(T, H, W)``: each ``_cal`` file's ERR squared, drizzled onto ``grid`` like its SCI.

    This is how a per-pixel variance is carried to the output grid when the
    correlations drizzling makes are ignored (the JWST resample step treats
    its variance planes the same way), so a noise predicted from it misses
    the correlated-noise factor that random apertures measure.
    """
    out = []
    for path in files:
        sci, wcs, _ = read_cal_exposure(path)
        with open_fits(path, what="JWST stage-2 _cal files") as hdul:
            if "ERR" not in hdul:
                raise NotFITSError(f"{path} has no ERR extension to propagate")
            variance = np.where(sci != 0, hdul["ERR"].data.astype(np.float32) ** 2, 0.0)
        out.append(_drizzle_one(variance, wcs, grid[0], grid[1], pixfrac=pixfrac, kernel=kernel)[0])
    return np.stack(out)


def stack_warps(files: Sequence[str | os.PathLike], *, bad_bits: int = HSC_BAD_BITS) -> Stack:
    """Stack HSC-SSP warps (already on one tract/patch grid); masked or empty pixels become 0."""
    frames, wcses, header = [], [], None
    for f in files:
        with fits.open(f) as hdul:
            image = hdul[1].data.astype(np.float32)
            mask = hdul[2].data if len(hdul) > 2 else np.zeros(image.shape, np.int32)
            header = header or hdul[1].header.copy()
            wcses.append(read_wcs(hdul[1].header, source=str(f)))
        image[~np.isfinite(image) | ((mask & bad_bits) != 0)] = 0
        frames.append(image)
    if len({f.shape for f in frames}) > 1:
        raise StackMismatchError("the warps differ in shape: they are not cutouts of one rectangle")
    return Stack(np.stack(frames), header, wcses[0], [str(f) for f in files])


def write_aligned(
    stack: Stack, weights: np.ndarray, path: str | os.PathLike, *, overwrite: bool = False
) -> Path:
    """Write an aligned cube (primary) and its weights (``WEIGHT``) as one FITS file, atomically."""
    header = stack.header.copy()
    header.update(stack.wcs.to_header(relax=True))
    hdus = fits.HDUList([fits.PrimaryHDU(stack.data, header), fits.ImageHDU(weights, name="WEIGHT")])
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdus.writeto(tmp)
    return Path(path)
