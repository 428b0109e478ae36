"""Exposure-level corrections of structured noise, applied in the detector frame before alignment.

What deep NIRCam surveys do to their stage-2 ``_cal`` files before co-adding
(Bagley et al. 2023, ApJL 946, L12 for CEERS; the JWST pipeline's
``clean_flicker_noise``, ``outlier_detection`` and snowball flagging), one
plain function each:

- `one_over_f_correction`: 1/f striping, a sigma-clipped median along rows
  per amplifier, then along columns, with sources masked;
- `detector_pattern` and `subtract_pattern`: wisps, flat-field residuals and
  unflagged hot pixels, a source-masked median of the dithered exposures in
  detector coordinates, scaled to each exposure;
- `grow_event_flags` and `reject_outliers`: snowballs and cosmic-ray
  residuals, flagged events grown by a few pixels, then outliers against the
  median of the resampled exposures;
- `background_correction`: smooth background gradients, a mesh of
  source-masked medians per exposure.

`CorrectionConfig` switches each on or off; `asteris.archive.align.align`
runs them (sources masked from a first-pass coadd) and records them in the
stack's header and provenance.

>>> CorrectionConfig().enabled()
['events', 'one_over_f', 'detector_pattern', 'background']
>>> CorrectionConfig.none().enabled()
[]
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from ..config import reject_unknown_keys
from ..errors import ConfigError
from ..stats import NMAD_SCALE, nanmedian, nmad

__all__ = [
    "CorrectionConfig",
    "CORRECTION_STEPS",
    "DQ_JUMP_DET",
    "source_mask",
    "grow_event_flags",
    "one_over_f_correction",
    "column_excess",
    "background_correction",
    "detector_pattern",
    "subtract_pattern",
    "reject_outliers",
]

#: JWST DQ bit 2 (jwst.datamodels.dqflags JUMP_DET): a jump, e.g. a cosmic ray or snowball core.
DQ_JUMP_DET = 4
#: step -> what it corrects (in the order `asteris.archive.align.align` applies them)
CORRECTION_STEPS = {
    "events": "snowballs and cosmic rays: JUMP_DET flags grown, outliers rejected at resampling",
    "one_over_f": "1/f striping: clipped medians along rows per amplifier, then along columns",
    "detector_pattern": "wisps, flat residuals, hot pixels: scaled source-masked median in detector pixels",
    "background": "smooth background: source-masked mesh medians per exposure",
}
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class CorrectionConfig:
    """Which corrections to apply and their few parameters; every step is on by default.

    Parameters
    ----------
    events, one_over_f, detector_pattern, background : bool
        The steps of `CORRECTION_STEPS`.
    amplifier_width : int or None
        Columns per readout amplifier (512 for NIRCam full frames); None: one amplifier.
    columns : bool or "auto"
        Also take out column medians after the row medians (the second pass
        of CEERS). The column medians also take the light of galaxies too
        faint to mask, at a cost in depth where there is no column noise to
        remove; ``"auto"`` runs the pass only where the exposures carry it:
        `column_excess` of a detector's exposures above ``column_threshold``.
    column_threshold : float
        With ``columns="auto"``: the column pass runs where the exposures'
        column medians vary more than this many times what their noise gives.
    grow : int
        Pixels added around every flagged event and rejected outlier.
    expand : float
        Flagged groups of ``min_snowball`` pixels or more (snowball cores) are
        grown to ``expand`` times their radius, as the JWST jump step does.
    outlier_sigma, outlier_scale : float
        A resampled pixel is an outlier where it deviates from the median of
        the exposures by more than ``outlier_sigma`` times the exposure's noise
        plus ``outlier_scale`` times the median (the undersampled PSF differs
        between dithers).
    mask_sigma : float
        Detection threshold of the source mask on the first-pass coadd (see `source_mask`).
    min_dither : float
        The smooth part of the detector pattern (wisps, large-scale flat
        residuals) is subtracted only when the exposures' pointings span at
        least this many output pixels. With smaller dithers an extended
        galaxy sits on the same detector pixels in every exposure, its light
        enters the median and is subtracted (on the mock's 8 px dithers: a
        bias of about 2 sigma per pixel on faint-source pixels); unflagged
        hot pixels are taken out either way.
    mesh : int
        Side of the background mesh boxes, detector pixels.
    subtract_model : bool
        Take the row, column and mesh medians of each exposure less a model
        of the sky's light on its pixels: the first-pass coadd of the other
        exposures, resampled there (leave-one-out, so the exposure's own
        striping is not in it), made from the exposures as they come and
        refined ``model_iterations`` times. Without it, the light of sources
        too faint for the mask enters the medians and is subtracted along
        rows and columns. But what is common to all exposures is in the model
        and stays: with one roll angle and small dithers, the mean of the
        exposures' 1/f stripes is a row pattern on the sky, which the model
        cannot tell from the sky's own light. On the mock it removes most of
        the corrections' cost on a clean field and leaves more striping on a
        full one (``benchmarks/headroom_methods.py``). Off by default.
    model_iterations : int
        Refinements of the sky model (each cleans the exposures against the
        previous one and co-adds them again).
    """

    events: bool = True
    one_over_f: bool = True
    detector_pattern: bool = True
    background: bool = True
    amplifier_width: int | None = 512
    columns: bool | str = True
    grow: int = 2
    expand: float = 2.0
    min_snowball: int = 5
    outlier_sigma: float = 5.0
    outlier_scale: float = 0.5
    mask_sigma: float = 3.0
    min_dither: float = 50.0
    mesh: int = 64
    column_threshold: float = 1.5
    subtract_model: bool = False
    model_iterations: int = 3
    schema_version: int = SCHEMA_VERSION

    def __post_init__(self):
        if self.schema_version != SCHEMA_VERSION:
            raise ConfigError(f"correction config schema {self.schema_version} is not {SCHEMA_VERSION}")
        if self.columns not in (True, False, "auto"):
            raise ConfigError(f"columns must be True, False or 'auto', not {self.columns!r}")
        if self.grow < 0 or self.mesh < 8 or self.outlier_sigma <= 0 or self.model_iterations < 1:
            raise ConfigError(
                f"grow must be >= 0, mesh >= 8, outlier_sigma > 0 and model_iterations >= 1; got {self}"
            )

    @classmethod
    def none(cls) -> CorrectionConfig:
        """Every step off: the exposures as they come."""
        return cls(**{name: False for name in CORRECTION_STEPS})

    @classmethod
    def only(cls, *names: str) -> CorrectionConfig:
        """Every step off except ``names``."""
        unknown = set(names) - set(CORRECTION_STEPS)
        if unknown:
            raise ConfigError(f"unknown corrections {sorted(unknown)}; known: {list(CORRECTION_STEPS)}")
        return cls(**{name: name in names for name in CORRECTION_STEPS})

    @classmethod
    def from_dict(cls, values: dict) -> CorrectionConfig:
        reject_unknown_keys(values, cls, "correction")
        return cls(**values)

    def enabled(self) -> list[str]:
        return [name for name in CORRECTION_STEPS if getattr(self, name)]

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def source_mask(image: np.ndarray, usable: np.ndarray, *, nsigma: float = 3.0, smooth: float = 1.5,
                background_scale: float = 4.0, dilate: int = 4) -> np.ndarray:  # fmt: skip
    """True on pixels of sources: ``image`` band-passed between ``smooth`` and ``background_scale`` px.

    Made on a first-pass coadd, where sources far below one exposure's noise
    show. The Gaussian of ``background_scale`` is taken from the Gaussian of
    ``smooth`` (a difference of Gaussians), so that wisps and gradients,
    smooth on that scale, are not masked as sources; the mask is grown by
    ``dilate`` pixels to cover the sources' wings.

    >>> image = np.zeros((64, 64)); image[30:33, 30:33] = 10.0
    >>> image += np.random.default_rng(0).normal(size=image.shape)
    >>> mask = source_mask(image, np.ones(image.shape, bool))
    >>> bool(mask[31, 31]), bool(mask[5, 5])
    (True, False)
    """
    band = _masked_smooth(image, usable, smooth) - _masked_smooth(image, usable, background_scale)
    sigma = nmad(band[usable], finite_only=True, empty=0.0, keep_dtype=True)
    mask = usable & (band > nsigma * sigma) if sigma > 0 else np.zeros(image.shape, bool)
    mask = ndimage.binary_opening(mask, iterations=1)  # single noise pixels are not sources
    return ndimage.binary_dilation(mask, iterations=dilate) if dilate else mask


def _masked_smooth(image: np.ndarray, usable: np.ndarray, sigma: float, *,
                   min_weight: float = 0.2) -> np.ndarray:  # fmt: skip
    """Gaussian smoothing of the ``usable`` pixels alone; 0 where they make up less than ``min_weight`` of
    the kernel (at the edge of a masked area the ratio would divide by almost nothing)."""
    weight = ndimage.gaussian_filter(usable.astype(float), sigma)
    smooth = ndimage.gaussian_filter(np.where(usable, image, 0.0), sigma)
    return np.where(weight >= min_weight, smooth / np.maximum(weight, min_weight), 0.0)


def mesh_background(image: np.ndarray, usable: np.ndarray, *, box: int = 64) -> np.ndarray:
    """A smooth background: medians of ``usable`` pixels in ``box`` x ``box`` cells, 3x3-median filtered
    and interpolated bilinearly between cell centres (as photutils' ``Background2D`` does).

    Cells with fewer than a quarter of their pixels usable take their
    neighbours' values.
    """
    h, w = image.shape
    ny, nx = -(-h // box), -(-w // box)
    padded = np.full((ny * box, nx * box), np.nan)
    padded[:h, :w] = np.where(usable, image, np.nan)
    cells = padded.reshape(ny, box, nx, box).transpose(0, 2, 1, 3).reshape(ny, nx, -1)
    enough = np.isfinite(cells).sum(axis=2) >= box * box / 4
    grid = np.where(enough, nanmedian(cells, axis=2), np.nan)
    if not np.isfinite(grid).any():
        return np.zeros(image.shape)
    index = ndimage.distance_transform_edt(~np.isfinite(grid), return_distances=False, return_indices=True)
    grid = ndimage.median_filter(grid[tuple(index)], size=3, mode="nearest")
    yc = (np.arange(h) + 0.5) / box - 0.5
    xc = (np.arange(w) + 0.5) / box - 0.5
    yy, xx = np.meshgrid(np.clip(yc, 0, ny - 1), np.clip(xc, 0, nx - 1), indexing="ij")
    return ndimage.map_coordinates(grid, [yy, xx], order=1, mode="nearest")


def grow_event_flags(dq: np.ndarray, usable: np.ndarray, *, grow: int = 2, expand: float = 2.0,
                     min_snowball: int = 5) -> np.ndarray:  # fmt: skip
    """``usable`` less the JUMP_DET-flagged pixels of ``dq`` and their surroundings.

    Groups of ``min_snowball`` pixels or more (snowball cores) are grown to a
    disk of ``expand`` times their equivalent radius plus ``grow``; smaller
    groups (cosmic-ray hits) by ``grow`` pixels.

    >>> dq = np.zeros((32, 32), np.uint32); dq[14:18, 14:18] = DQ_JUMP_DET
    >>> ok = grow_event_flags(dq, np.ones((32, 32), bool))
    >>> int((~ok).sum()) > 16, bool(ok[0, 0])
    (True, True)
    """
    flagged = (np.asarray(dq) & DQ_JUMP_DET) != 0
    if not flagged.any():
        return usable.copy()
    labels, count = ndimage.label(flagged)
    sizes = np.bincount(labels.ravel(), minlength=count + 1)
    bad = ndimage.binary_dilation(flagged, iterations=grow) if grow else flagged.copy()
    yy, xx = np.indices(flagged.shape)
    for index, where in enumerate(ndimage.find_objects(labels), start=1):
        if sizes[index] < min_snowball:
            continue
        cy, cx = ndimage.center_of_mass(labels[where] == index)
        cy, cx = cy + where[0].start, cx + where[1].start
        radius = expand * np.sqrt(sizes[index] / np.pi) + grow
        box = (slice(max(int(cy - radius) - 1, 0), int(cy + radius) + 2),
               slice(max(int(cx - radius) - 1, 0), int(cx + radius) + 2))  # fmt: skip
        bad[box] |= np.hypot(yy[box] - cy, xx[box] - cx) <= radius
    return usable & ~bad


def _clipped_median(block: np.ndarray, axis: int, nsigma: float = 3.0) -> np.ndarray:
    """Median along ``axis`` of the finite values after one clip at ``nsigma`` robust sigma."""
    centre = nanmedian(block, axis=axis, keepdims=True)  # NaN for lines with no usable pixel
    spread = NMAD_SCALE * nanmedian(np.abs(block - centre), axis=axis, keepdims=True)
    clipped = np.where(np.abs(block - centre) <= nsigma * spread, block, np.nan)
    return np.nan_to_num(nanmedian(clipped, axis=axis))


def one_over_f_correction(frame: np.ndarray, usable: np.ndarray, *, sources: np.ndarray | None = None,
                          amplifier_width: int | None = 512, columns: bool = True,
                          model: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``frame`` less the clipped median of each row within each amplifier, then of each column.

    Medians are taken over ``usable`` pixels outside ``sources``, of
    ``frame - model`` where a model of the sky's light is given (see
    `CorrectionConfig.subtract_model`); pixels that are not usable are
    returned unchanged. Rows or columns with no pixel left are not corrected.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stripes = rng.normal(size=(64, 1)) * np.ones((1, 64))
    >>> fixed = one_over_f_correction(stripes + rng.normal(0, 0.1, (64, 64)), np.ones((64, 64), bool))
    >>> bool(fixed.std() < 0.11)
    True
    """
    fit = usable if sources is None else usable & ~sources
    out = np.array(frame, dtype=np.float64)
    sky = np.zeros_like(out) if model is None else np.asarray(model, np.float64)
    width = amplifier_width or frame.shape[1]
    for start in range(0, frame.shape[1], width):
        amp = slice(start, start + width)
        residual = out[:, amp] - sky[:, amp]
        out[:, amp] -= _clipped_median(np.where(fit[:, amp], residual, np.nan), axis=1)[:, None]
    if columns:
        out -= _clipped_median(np.where(fit, out - sky, np.nan), axis=0)[None, :]
    return np.where(usable, out, frame)


def column_excess(residuals: np.ndarray, fit: np.ndarray, *, smooth: int = 33) -> float:
    """How much more the column medians of ``residuals`` ``(T, Y, X)`` vary than their noise gives.

    ``residuals`` are exposures less a model of the sky (the other exposures'
    coadd resampled onto their pixels), so that sources and sky cancel and
    what is left is each exposure's own noise; ``fit`` marks the pixels to
    use. Row medians are taken out first (1/f along rows), then the column
    medians' variance, high-passed over ``smooth`` columns so that smooth
    structure (gradients, wisps) does not count, is divided by a median's
    variance for the pixels' robust noise. The median over exposures: about
    1 without column noise.

    >>> rng = np.random.default_rng(1)
    >>> white = rng.normal(size=(4, 200, 200))
    >>> ok = np.ones(white.shape, bool)
    >>> round(column_excess(white, ok), 1) < 1.3
    True
    >>> round(column_excess(white + rng.normal(0, 0.2, (4, 1, 200)), ok), 1) > 3
    True
    """
    ratios = []
    for residual, ok in zip(residuals, fit):
        values = np.where(ok, residual, np.nan)
        values = values - _clipped_median(values, axis=1)[:, None]
        medians = _clipped_median(values, axis=0)
        counts = np.isfinite(values).sum(axis=0)
        used = counts > 10
        if used.sum() < 2 * smooth:
            continue
        high = medians[used] - ndimage.median_filter(medians[used], size=smooth, mode="nearest")
        sigma = nmad(values[np.isfinite(values)], finite_only=True, empty=0.0, keep_dtype=True)
        expected = np.mean(np.pi / 2 * sigma**2 / counts[used])
        ratios.append(float(np.var(high) / expected))
    return float(np.median(ratios)) if ratios else float("nan")


def background_correction(frame: np.ndarray, usable: np.ndarray, *, sources: np.ndarray | None = None,
                          mesh: int = 64, model: np.ndarray | None = None) -> np.ndarray:  # fmt: skip
    """``frame`` less the `mesh_background` of ``frame - model`` on ``usable`` pixels outside ``sources``."""
    fit = usable if sources is None else usable & ~sources
    residual = frame if model is None else frame - model
    return np.where(usable, frame - mesh_background(residual, fit, box=mesh), frame)


def detector_pattern(frames: np.ndarray, usable: np.ndarray, sources: np.ndarray, *, smooth: float = 6.0,
                     pixel_sigma: float = 8.0, grow: int = 8) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """The pattern fixed on the detector: the median of ``frames`` ``(T, Y, X)`` outside sources.

    Returns ``(smooth, pixels)``: the median's smooth part (Gaussian of
    ``smooth`` px; wisps, whose strength varies between exposures, and
    large-scale flat residuals), and the single pixels that stand out of
    their neighbours by more than ``pixel_sigma`` times the median's noise
    (hot pixels missing from DQ: one of 5 sigma in each exposure stands 11
    times the noise of a median of 8), 0 elsewhere. The rest of the median is
    noise of ``1.25 sigma / sqrt(T)`` and is left out: subtracting it would
    add that noise to every exposure (``smooth`` trades the noise left in
    the smooth part against the sharpness of wisps). The source masks are grown by
    ``grow`` pixels more: where dithers are small, a source's faint wings
    fall on the same detector pixels in most exposures and would enter the
    median (and be subtracted from the source).
    """
    if grow:
        sources = np.array([ndimage.binary_dilation(s, iterations=grow) for s in sources])
    fit = usable & ~sources
    median = nanmedian(np.where(fit, frames, np.nan), axis=0)  # NaN where masked in every exposure
    known = fit.sum(axis=0) >= max(3, len(frames) // 2)  # a median of one or two exposures is their noise
    median = np.where(known, median, 0.0)
    if not known.any():
        return median, median
    contrast = median - ndimage.median_filter(median, size=3)
    spread = nmad(contrast[known], finite_only=True, empty=0.0, keep_dtype=True)
    spikes = known & (np.abs(contrast) > pixel_sigma * spread)
    smooth_part = _masked_smooth(median, known & ~spikes, smooth)  # hot pixels would spread into it
    return np.where(known, smooth_part, 0.0), np.where(spikes, median - smooth_part, 0.0)


def subtract_pattern(frame: np.ndarray, pattern: tuple[np.ndarray, np.ndarray], usable: np.ndarray,
                     sources: np.ndarray | None = None, *, scale: float | None = None,
                     ) -> tuple[np.ndarray, float]:  # fmt: skip
    """``frame`` less a `detector_pattern`: its smooth part times ``scale``, and its pixels as they are.

    ``scale`` defaults to the least-squares amplitude of the smooth part over
    usable, source-free pixels (wisps vary from exposure to exposure; 1 is the
    median exposure). Returns the corrected frame and the scale.
    """
    smooth_part, pixels = pattern
    if scale is None:
        fit = (usable if sources is None else usable & ~sources) & (pixels == 0)
        norm = float(np.sum(smooth_part[fit] ** 2))
        scale = float(np.sum(frame[fit] * smooth_part[fit]) / norm) if norm > 0 else 0.0
    return np.where(usable, frame - scale * smooth_part - pixels, frame), scale


def reject_outliers(frames: np.ndarray, weights: np.ndarray, *, nsigma: float = 5.0, scale: float = 0.5,
                    grow: int = 1) -> np.ndarray:  # fmt: skip
    """``(T, H, W)`` True where a resampled exposure deviates from the median of all exposures.

    The threshold is ``nsigma`` times the exposure's robust noise plus
    ``scale`` times the absolute median (and its local gradient), so that the
    cores of bright sources, sampled differently by each dither, are kept. A
    pixel needs at least three exposures to be judged. Flags are grown by
    ``grow`` pixels.
    """
    valid = weights > 0
    data = np.where(valid, frames, np.nan)
    median = nanmedian(data, axis=0)
    judged = valid.sum(axis=0) >= 3
    gradient = ndimage.maximum_filter(np.nan_to_num(np.abs(median)), size=3)
    out = np.zeros(frames.shape, bool)
    for t, (frame, ok) in enumerate(zip(frames, valid)):
        noise = nmad((frame - median)[ok & judged], finite_only=True, empty=0.0, keep_dtype=True)
        limit = nsigma * noise + scale * gradient
        flags = ok & judged & (np.abs(frame - np.nan_to_num(median)) > limit)
        out[t] = ndimage.binary_dilation(flags, iterations=grow) & ok if grow and flags.any() else flags
    return out
