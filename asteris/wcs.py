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

from .errors import NotFITSError

__all__ = ["celestial_wcs", "read_wcs", "wcs_pixel_scale"]


def celestial_wcs(header: fits.Header, *, source: str = "the header") -> WCS | None:
    """The header's celestial WCS, or None where it has none; a WCS that cannot be read is refused
    (`~asteris.errors.NotFITSError` naming ``source``)."""
    if "CTYPE1" not in header:
        return None
    wcs = read_wcs(header, source=source)
    return wcs if wcs.has_celestial else None


def read_wcs(header: fits.Header, *, source: str = "the header") -> WCS:
    """The header's two-axis WCS; astropy's many errors on a malformed one become one
    `~asteris.errors.NotFITSError` naming ``source``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FITSFixedWarning)
        try:
            return WCS(header, naxis=2)
        except Exception as exc:  # astropy raises many kinds on a malformed header
            reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise NotFITSError(f"{source} has a WCS that cannot be read ({reason})") from None


def wcs_pixel_scale(wcs: WCS) -> float:
    """Pixel scale of a celestial WCS in arcsec (the square root of the pixel area)."""
    return float(np.sqrt(abs(np.linalg.det(wcs.celestial.pixel_scale_matrix))) * 3600.0)
