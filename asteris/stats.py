"""Robust statistics shared by every layer.

>>> round(nmad([1.0, 2.0, 3.0, 4.0, 100.0]), 4)
1.4826
>>> nmad([np.nan, 1.0, 3.0], finite_only=True), nmad([], empty=0.0)
(1.4826, 0.0)
"""

from __future__ import annotations

import numpy as np

__all__ = ["NMAD_SCALE", "nmad"]

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
