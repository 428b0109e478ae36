"""Preprocessing of a stack (spec section 3, steps 1-5 and 7).

Every function takes a ``(T, H, W)`` stack of aligned exposures in which zero
or NaN means "no data". They are plain array functions so that each step can be
tested and reused on its own; :func:`prepare_stack` chains them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
from astropy.wcs import WCS
from scipy import stats

from .errors import EmptyStackError

__all__ = [
    "NORM_SCALE",
    "Normalization",
    "PreparedStack",
    "mask_no_data",
    "crop_valid",
    "temporal_nanmedian",
    "clip_temporal_outliers",
    "clip_global",
    "clip_to_bounds",
    "normalization_stats",
    "normalize",
    "denormalize",
    "frame_groups",
    "bin_frames",
    "prepare_stack",
    "network_frames",
    "data_mean",
    "restore_frames",
    "restore_image",
]

#: The published scale factor of the normalisation ``(v - median) / std / 4 + 1``.
NORM_SCALE = 4.0


def mask_no_data(stack: np.ndarray) -> np.ndarray:
    """Return a float32 copy of ``stack`` with zeros and infinities set to NaN."""
    out = np.array(stack, dtype=np.float32, copy=True)
    out[~np.isfinite(out) | (out == 0)] = np.nan
    return out


def crop_valid(
    stack: np.ndarray, wcs: WCS | None = None
) -> tuple[np.ndarray, WCS | None, tuple[slice, slice]]:
    """Crop to the bounding box of pixels valid in every frame.

    Parameters
    ----------
    stack : ndarray, shape (T, H, W)
        Exposures, NaN or zero where there is no data.
    wcs : `~astropy.wcs.WCS`, optional
        Celestial WCS of the frames; returned shifted to the cropped grid.

    Returns
    -------
    cropped : ndarray
    wcs : `~astropy.wcs.WCS` or None
    slices : tuple of slice
        The (y, x) slices of the crop in the input grid.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.ones((2, 5, 6)); s[:, 0] = 0; s[1, :, -2:] = np.nan
    >>> crop_valid(s)[0].shape
    (2, 4, 4)
    """
    valid = np.all(np.isfinite(stack) & (stack != 0), axis=0)
    if not valid.any():
        raise EmptyStackError(
            "no pixel is valid (finite and non-zero) in every exposure; "
            "check that the exposures overlap and are aligned"
        )
    rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
    slices = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    cropped_wcs = wcs.slice(slices) if wcs is not None else None
    return stack[(slice(None), *slices)], cropped_wcs, slices


def temporal_nanmedian(stack: np.ndarray) -> np.ndarray:
    """Per-pixel median over the first axis, NaN ignored; bit-identical to ``np.nanmedian(stack, axis=0)``.

    One sort along the exposures and a gather of the two middle values, about
    four times faster than numpy's masked-array path for short stacks. Pixels
    with no valid value are NaN.

    Examples
    --------
    >>> import numpy as np
    >>> s = np.array([[1.0, np.nan], [3.0, np.nan], [np.nan, np.nan], [4.0, np.nan]])
    >>> temporal_nanmedian(s[:, :, None])[:, 0]
    array([ 3., nan])
    """
    ordered = np.sort(stack, axis=0)  # NaN sorts last
    count = np.count_nonzero(~np.isnan(stack), axis=0)
    low = np.maximum((count - 1) // 2, 0)[None]
    high = np.minimum(count // 2, len(stack) - 1)[None]
    median = np.take_along_axis(ordered, low, 0)[0] + np.take_along_axis(ordered, high, 0)[0]
    median /= median.dtype.type(2)
    median[count == 0] = np.nan
    return median


def clip_temporal_outliers(stack: np.ndarray, *, sigma: float = 3.0) -> np.ndarray:
    """Set to NaN the voxels beyond ``sigma`` per-pixel std of the per-pixel median.

    This removes cosmic rays, transients and bad frames along the exposure axis.
    The input is not modified.
    """
    with np.errstate(invalid="ignore"), quiet_nan_warnings():
        median = temporal_nanmedian(stack)
        std = np.nanstd(stack, axis=0)
        out = stack.copy()
        out[np.abs(stack - median) > sigma * std] = np.nan
    return out


def clip_global(
    stack: np.ndarray, *, sigma: float = 3.0
) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """Clip all valid voxels into the iterative ``sigma``-clipping range.

    The range is that of `scipy.stats.sigmaclip` over every valid voxel. Voxels
    outside it are clipped to its bounds; their excess is returned as the
    residual, so that ``clipped + residual == stack``.

    Returns
    -------
    clipped : ndarray
    residual : ndarray
        ``stack - clipped`` (zero for unclipped voxels, NaN where no data).
    bounds : (float, float)
        The lower and upper clipping bounds.
    """
    valid = stack[np.isfinite(stack)]
    if valid.size == 0:
        raise EmptyStackError("the stack has no valid voxel to compute statistics from")
    _, low, high = stats.sigmaclip(valid.astype(np.float64), sigma, sigma)
    bounds = (float(low), float(high))
    return (*clip_to_bounds(stack, bounds), bounds)


def clip_to_bounds(stack: np.ndarray, bounds: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
    """Clip into ``bounds``; return the clipped values and the excess (``stack - clipped``)."""
    clipped = np.clip(stack, np.float32(bounds[0]), np.float32(bounds[1]))
    return clipped, stack - clipped


@dataclass(frozen=True)
class Normalization:
    """Global statistics of the normalisation ``(v - median) / std / scale + 1``."""

    median: float
    std: float
    scale: float = NORM_SCALE


def normalization_stats(stack: np.ndarray, *, scale: float = NORM_SCALE) -> Normalization:
    """Median and standard deviation of the valid voxels of ``stack``."""
    valid = stack[np.isfinite(stack)].astype(np.float64)
    if valid.size == 0:
        raise EmptyStackError("the stack has no valid voxel to compute statistics from")
    std = float(valid.std())
    if std == 0:
        raise EmptyStackError("the stack is constant: there is no noise to normalise by")
    return Normalization(float(np.median(valid)), std, scale)


def normalize(stack: np.ndarray, norm: Normalization) -> np.ndarray:
    """Apply ``(v - median) / std / scale + 1``, in float32."""
    return ((stack - norm.median) / (norm.std * norm.scale) + 1).astype(np.float32)


def denormalize(image: np.ndarray, norm: Normalization) -> np.ndarray:
    """Exact inverse of :func:`normalize`: ``(y - 1) * scale * std + median``."""
    return ((image - 1) * (norm.scale * norm.std) + norm.median).astype(np.float32)


def frame_groups(exposures: int, frames: int) -> list[slice]:
    """Contiguous groups of ``exposures`` that make ``frames`` frames.

    The remainder of ``exposures / frames`` goes to the central groups.

    Examples
    --------
    >>> [s.stop - s.start for s in frame_groups(11, 8)]
    [1, 1, 2, 2, 2, 1, 1, 1]
    """
    if exposures < frames:
        raise ValueError(f"cannot make {frames} frames from {exposures} exposures")
    sizes = np.full(frames, exposures // frames)
    extra = exposures % frames
    start = (frames - extra) // 2
    sizes[start : start + extra] += 1
    edges = np.concatenate([[0], np.cumsum(sizes)])
    return [slice(int(a), int(b)) for a, b in zip(edges[:-1], edges[1:])]


def bin_frames(stack: np.ndarray, frames: int) -> np.ndarray:
    """NaN-aware average of the exposures into ``frames`` contiguous groups.

    Pixels with no valid exposure in a group are NaN in that frame.
    """
    with quiet_nan_warnings():
        return np.stack([np.nanmean(stack[g], axis=0) for g in frame_groups(len(stack), frames)])


@dataclass
class PreparedStack:
    """A stack after steps 1-5, ready for the network, with what step 7 needs."""

    frames: np.ndarray  #: (N, H, W) float32, normalised, 0 where no data
    norm: Normalization
    residual_median: np.ndarray  #: (H, W) per-pixel median of the clipped excess
    input_mean: np.ndarray  #: (H, W) NaN-aware mean of the normalised frames
    wcs: WCS | None
    crop: tuple[slice, slice]
    exposures: int


def prepare_stack(
    stack: np.ndarray, frames: int, *, wcs: WCS | None = None, sigma: float = 3.0
) -> PreparedStack:
    """Run preprocessing steps 1-5 of the published pipeline on one stack."""
    data, wcs, crop = crop_valid(mask_no_data(stack), wcs)
    data = clip_temporal_outliers(data, sigma=sigma)
    clipped, residual, _ = clip_global(data, sigma=sigma)
    norm = normalization_stats(clipped)
    network_input, residual_median, input_mean = network_frames(clipped, residual, norm, frames)
    return PreparedStack(
        frames=network_input,
        norm=norm,
        residual_median=residual_median,
        input_mean=input_mean,
        wcs=wcs,
        crop=crop,
        exposures=len(stack),
    )


def network_frames(
    clipped: np.ndarray, residual: np.ndarray, norm: Normalization, frames: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Steps 4-5 on a stack or any part of it: the per-pixel quantities the network and step 7 need.

    Returns the normalised, binned frames (0 where no data), the per-pixel
    median of the clipped excess, and the NaN-aware mean of the binned frames.
    """
    binned = bin_frames(normalize(clipped, norm), frames)
    with quiet_nan_warnings():
        residual_median = np.nan_to_num(temporal_nanmedian(residual)).astype(np.float32)
        input_mean = np.nanmean(binned, axis=0)
    return np.nan_to_num(binned, nan=0.0).astype(np.float32), residual_median, input_mean


def data_mean(frames: np.ndarray) -> np.ndarray:
    """Per-pixel mean of the frames that hold data (zero = no data); NaN where none does."""
    with quiet_nan_warnings():
        return np.nanmean(np.where(frames != 0, frames, np.nan), axis=0)


def restore_frames(
    output: np.ndarray,
    frames: np.ndarray,
    *,
    input_max: float,
    norm: Normalization,
    residual_median: np.ndarray,
) -> np.ndarray:
    """Step 7 on a stack or any part of it, given the maximum of the whole input mean image."""
    out = np.where(frames != 0, output, np.nan)
    with quiet_nan_warnings():
        mean = np.minimum(np.nanmean(out, axis=0), input_max)
    return denormalize(mean, norm) + residual_median


def restore_image(output: np.ndarray, prepared: PreparedStack) -> tuple[np.ndarray, np.ndarray]:
    """Step 7: turn network output frames back into an image in input units.

    The NaN-aware mean over frames (voxels that were no data in the input stay
    masked) is clipped from above at the maximum of the input mean image,
    de-normalised, and the per-pixel median of the clipped excess is added back.

    Parameters
    ----------
    output : ndarray, shape (N, H, W)
        Network output frames on the grid of ``prepared.frames``.
    prepared : PreparedStack

    Returns
    -------
    image : ndarray, shape (H, W)
        NaN where no frame had data.
    mask : ndarray of bool, shape (H, W)
        True where the image is valid.
    """
    with quiet_nan_warnings():
        input_max = float(np.nanmax(prepared.input_mean))
    image = restore_frames(
        output,
        prepared.frames,
        input_max=input_max,
        norm=prepared.norm,
        residual_median=prepared.residual_median,
    )
    return image, np.isfinite(image)


@contextmanager
def quiet_nan_warnings() -> Iterator[None]:
    """Silence numpy's "All-NaN slice" and "Mean of empty slice" warnings."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
