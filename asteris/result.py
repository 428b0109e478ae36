"""A denoised (or coadded) image, its validity mask and its FITS header with WCS and provenance.

>>> import numpy as np
>>> result = DenoiseResult(np.zeros((2, 2), np.float32), np.ones((2, 2), bool), np.zeros((2, 2), np.float32))
>>> result.image.shape
(2, 2)
"""

from __future__ import annotations

import datetime
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from .fileio import atomic_path
from .version import VERSION

__all__ = ["DenoiseResult", "image_header", "provenance_cards"]

_WCS_KEY = re.compile(
    r"^(WCSAXES|CTYPE|CRVAL|CRPIX|CDELT|CUNIT|CD\d_\d|PC\d_\d|PV\d_\d|PS\d_\d|CROTA|LONPOLE|LATPOLE"
    r"|RADESYS|EQUINOX|A_|B_|AP_|BP_)"
)
_STRUCTURE_KEY = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS|EXTEND|XTENSION|PCOUNT|GCOUNT|EXTNAME|EXTVER|BSCALE|BZERO)"
)


@dataclass
class DenoiseResult:
    """A denoised image with its validity mask, coadd, header and WCS."""

    image: np.ndarray  #: (H, W) float32, NaN where masked
    mask: np.ndarray  #: (H, W) bool, True where valid
    coadd: np.ndarray  #: (H, W) the plain mean of the exposures on the same grid
    header: fits.Header = field(default_factory=fits.Header)
    wcs: WCS | None = None
    crop: tuple[slice, slice] | None = None  #: where the image lies in the input's (y, x) grid

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Atomically write the image (primary HDU) and mask (``MASK``) as FITS."""
        hdus = fits.HDUList(
            [
                fits.PrimaryHDU(self.image.astype(np.float32), self.header),
                fits.ImageHDU(self.mask.astype(np.uint8), name="MASK"),
            ]
        )
        with atomic_path(path, overwrite=overwrite) as tmp:
            hdus.writeto(tmp, overwrite=True)
        return Path(path)


def image_header(header: fits.Header, wcs: WCS | None, provenance: dict | None = None) -> fits.Header:
    """A 2D image header: ``header`` less its structure and WCS keys, plus ``wcs`` and provenance."""
    out = fits.Header()
    for card in header.cards:
        if not (_STRUCTURE_KEY.match(card.keyword) or _WCS_KEY.match(card.keyword)):
            if card.keyword not in ("COMMENT", "HISTORY", ""):
                out[card.keyword] = (card.value, card.comment)
    if wcs is not None:
        out.update(wcs.to_header(relax=True))
    for key, (value, comment) in (provenance or {}).items():
        out[key] = (value, comment)
    return out


def provenance_cards(model, exposures: int, tile: int | None) -> dict:
    """FITS keywords saying which software, model, checkpoint and inputs made an image."""
    info = getattr(model, "provenance", {})
    return {
        "ASTVERS": (VERSION, "asteris version"),
        "ASTMODEL": (str(info.get("name", "in-memory model"))[:60], "ASTERIS model"),
        "ASTCKSHA": (str(info.get("sha256", "none")), ""),
        "ASTVARNT": (model.config.variant, "network variant"),
        "ASTNEXP": (exposures, "exposures used"),
        "ASTFRAME": (model.config.frames, "network frames"),
        "ASTTILE": (tile or 0, "tile size in px (0: device default)"),
        "ASTDATE": (datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "UTC"),
    }
