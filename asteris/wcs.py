"""Celestial WCS helpers shared by the core and the layers above it.

>>> from astropy.io import fits
>>> header = fits.Header({"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CDELT1": -1e-5, "CDELT2": 1e-5})
>>> round(wcs_pixel_scale(celestial_wcs(header)), 4)
0.036
"""

from __future__ import annotations

import warnings

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS, FITSFixedWarning

__all__ = ["celestial_wcs", "wcs_pixel_scale"]


def celestial_wcs(header: fits.Header) -> WCS | None:
    """The header's celestial WCS, or None where it has none."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        wcs = WCS(header, naxis=2) if "CTYPE1" in header else None
    return wcs if wcs is not None and wcs.has_celestial else None


def wcs_pixel_scale(wcs: WCS) -> float:
    """Pixel scale of a celestial WCS in arcsec (the square root of the pixel area)."""
    return float(np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600.0)
