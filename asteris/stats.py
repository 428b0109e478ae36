"""Robust statistics shared by every layer.

>>> round(nmad([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
1.4826
>>> nmad([np.nan, 1.0, 3.0], finite_only=True), nmad([], empty=0.0)
(1.4826, 0.0)
>>> nanmedian(np.array([[1.0, np.nan, 3.0, 4.0], [np.nan] * 4]), axis=1)
array([ 3., nan])
"""

from __future__ import annotations

import numpy as np

__all__ = ["NMAD_SCALE", "nmad", "nanmedian"]

#: The normalised median absolute deviation of Gaussian values is their standard deviation.
NMAD_SCALE = 1.4826


def nmad(
    values, *, finite_only: bool = False, empty: float = float("nan"), keep_dtype: bool = False
) -> float:
    """Normalised median absolute deviation, ``1.4826 median(|x - median(x)|)``: the standard deviation of
    Gaussian values, robust to outliers.

    ``finite_only``: ignore NaN and infinite values. ``empty``: what no values give (NaN by default).
    ``keep_dtype``: compute in the values' own floating type (float32 images stay float32, as the
    archive's corrections measure them) instead of float64.
    """
    values = np.asarray(values)
    if not (keep_dtype and np.issubdtype(values.dtype, np.floating)):
        values = values.astype(float)
    values = values.ravel()
    if finite_only:
        values = values[np.isfinite(values)]
    if values.size == 0:
        return float(empty)
    return float(NMAD_SCALE * np.median(np.abs(values - np.median(values))))


def nanmedian(values, *, axis: int, keepdims: bool = False) -> np.ndarray:
    """``np.nanmedian(values, axis=axis)``, bit for bit, from one sort along ``axis`` (NaN where a line
    has no value, without a warning).

    numpy takes its masked-array path for short lines and a Python loop over
    lines for long ones; one sort of the whole array (NaN sorts last) and the
    mean of the two middle values of each line's valid entries took 24 s
    instead of numpy's 62 s in the build of the default NIRCam mock field
    (its 1/f, background and pattern medians); per call, 3.5-10 times less on
    256-row frames and along a 7-exposure cube, but 0.8 times as fast on 81
    lines of 4096 values.
    """
    values = np.asarray(values)
    ordered = np.moveaxis(values, axis, -1).copy(order="C")  # sorted in place along contiguous lines
    ordered.sort(axis=-1)
    count = ordered.shape[-1] - np.isnan(ordered).sum(axis=-1, keepdims=True)
    low = np.take_along_axis(ordered, np.maximum((count - 1) // 2, 0), axis=-1)
    high = np.take_along_axis(ordered, np.minimum(count // 2, ordered.shape[-1] - 1), axis=-1)
    median = np.where(count > 0, (low + high) / 2, np.nan).astype(ordered.dtype, copy=False)
    return np.moveaxis(median, -1, axis) if keepdims else median[..., 0]
