"""Exposures in the detector frame: their WCS, their pixels' place on the sky, and their files.

A mock NIRCam exposure is a detector image of native pixels (0.031 or
0.063 arcsec) pointed at the field with a dither offset and a small roll.
`exposure_wcs` gives its WCS, `detector_sky_coords` where each of its pixels
falls on the output grid, and `write_cal` writes it as a JWST stage-2
``_cal``-like file (SCI, ERR, DQ) that `asteris.archive.align` drizzles like
an archive file. HSC-like exposures are delivered as warps already on the
output grid (`write_warp`), read back by `asteris.archive.align.stack_warps`.

>>> from asteris.mock.synthetic import synthetic_wcs
>>> grid = synthetic_wcs((100, 100), scale_arcsec=0.04)
>>> det = exposure_wcs(grid, (100, 100), offset=(0.0, 0.0), roll_deg=0.0, scale=0.04, shape=(100, 100))
>>> x, y = detector_sky_coords(det, grid, (100, 100))
>>> round(float(x[10, 20]), 6), round(float(y[10, 20]), 6)
(20.0, 10.0)
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from ..fileio import atomic_path
from ..stats import nanmedian
from ..version import VERSION

__all__ = [
    "DQ_DO_NOT_USE",
    "DQ_HOT",
    "DQ_JUMP_DET",
    "EXPOSURE_TIME",
    "HSC_NO_DATA",
    "detector_shape",
    "exposure_wcs",
    "detector_sky_coords",
    "write_cal",
    "write_warp",
    "row_median_correction",
]

#: JWST DQ bits (jwst.datamodels.dqflags): 0 DO_NOT_USE, 2 JUMP_DET, 11 HOT.
DQ_DO_NOT_USE, DQ_JUMP_DET, DQ_HOT = 1, 4, 2048
#: HSC mask plane NO_DATA (bit 8).
HSC_NO_DATA = 256
#: seconds: EFFEXPTM of a mock NIRCam exposure, the time its artefact rates are per
EXPOSURE_TIME = 1000.0
_COORD_STEP = 16  # detector pixels between exact WCS evaluations; the map between them is smooth


def detector_shape(shape: tuple[int, int], output_scale: float, detector_scale: float) -> tuple[int, int]:
    """Pixels of a detector of ``detector_scale`` arcsec that spans an output grid of ``shape`` pixels.

    >>> detector_shape((768, 768), 0.04, 0.031)
    (991, 991)
    """
    return tuple(int(np.ceil(n * output_scale / detector_scale)) for n in shape)


def exposure_wcs(
    grid: WCS,
    grid_shape: tuple[int, int],
    *,
    offset: tuple[float, float],
    roll_deg: float,
    scale: float,
    shape: tuple[int, int],
) -> WCS:
    """The TAN WCS of a detector of ``shape`` pixels of ``scale`` arcsec.

    Its centre points at the output grid's centre moved by ``offset`` = (dx, dy)
    output pixels, and its axes are turned by ``roll_deg`` from the grid's.
    """
    cy, cx = (grid_shape[0] - 1) / 2 + offset[1], (grid_shape[1] - 1) / 2 + offset[0]
    ra, dec = grid.wcs_pix2world([[cx, cy]], 0)[0]
    c, s = np.cos(np.radians(roll_deg)), np.sin(np.radians(roll_deg))
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cd = scale / 3600 * np.array([[-c, s], [s, c]])
    return wcs


def detector_sky_coords(det: WCS, grid: WCS, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Output-grid pixel coordinates (x, y) of the centre of every detector pixel, ``shape`` each.

    Evaluated exactly through both WCS every `_COORD_STEP` pixels and
    interpolated bilinearly in between (the map is smooth to 1e-6 px over that step).
    """
    ys = np.unique(np.append(np.arange(0, shape[0], _COORD_STEP), shape[0] - 1))
    xs = np.unique(np.append(np.arange(0, shape[1], _COORD_STEP), shape[1] - 1))
    yy, xx = np.meshgrid(ys, xs, indexing="ij")
    world = det.wcs_pix2world(np.column_stack([xx.ravel(), yy.ravel()]).astype(float), 0)
    coarse = grid.wcs_world2pix(world, 0).reshape(len(ys), len(xs), 2)
    out = []
    for axis in range(2):
        along_y = np.array([np.interp(np.arange(shape[0]), ys, coarse[:, j, axis]) for j in range(len(xs))])
        out.append(np.array([np.interp(np.arange(shape[1]), xs, row) for row in along_y.T]))
    return out[0], out[1]


def _primary(keywords: dict) -> fits.PrimaryHDU:
    primary = fits.PrimaryHDU()
    primary.header["ORIGIN"] = ("asteris.mock", f"asteris {VERSION}; simulated, not observed")
    for key, value in keywords.items():
        primary.header[key] = value
    return primary


def write_cal(
    path: str | os.PathLike,
    sci: np.ndarray,
    err: np.ndarray,
    dq: np.ndarray,
    wcs: WCS,
    *,
    keywords: dict,
    overwrite: bool = False,
) -> Path:
    """Write a JWST stage-2 ``_cal``-like file: primary keywords, SCI (MJy/sr, WCS), ERR and DQ."""
    primary = _primary({"TELESCOP": "JWST", **keywords})
    header = wcs.to_header()
    header["BUNIT"] = "MJy/sr"
    header["PIXAR_A2"] = (float(abs(np.linalg.det(wcs.wcs.cd))) * 3600**2, "[arcsec^2] pixel area")
    hdus = fits.HDUList([
        primary,
        fits.ImageHDU(sci.astype(np.float32), header, name="SCI"),
        fits.ImageHDU(err.astype(np.float32), header, name="ERR"),
        fits.ImageHDU(dq.astype(np.uint32), name="DQ"),
    ])  # fmt: skip
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdus.writeto(tmp)
    return Path(path)


def write_warp(
    path: str | os.PathLike,
    image: np.ndarray,
    mask: np.ndarray,
    variance: np.ndarray,
    wcs: WCS,
    *,
    keywords: dict,
    overwrite: bool = False,
) -> Path:
    """Write an HSC-SSP-like warp: image, mask and variance HDUs (1, 2, 3) on the output grid."""
    primary = _primary(keywords)
    header = wcs.to_header()
    hdus = fits.HDUList([
        primary,
        fits.ImageHDU(image.astype(np.float32), header, name="IMAGE"),
        fits.ImageHDU(mask.astype(np.int32), header, name="MASK"),
        fits.ImageHDU(variance.astype(np.float32), header, name="VARIANCE"),
    ])  # fmt: skip
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdus.writeto(tmp)
    return Path(path)


def row_median_correction(frame: np.ndarray, usable: np.ndarray, amplifier_width: int) -> np.ndarray:
    """``frame`` less the median of each row within each amplifier, over ``usable`` pixels.

    The standard first-order correction of 1/f striping in NIRCam imaging
    (applied to ``_cal`` or ``_rate`` files with sources masked); rows of an
    amplifier with no usable pixel are left as they are.
    """
    out = np.array(frame, dtype=np.float64)
    for start in range(0, frame.shape[1], amplifier_width):
        block = np.where(usable[:, start : start + amplifier_width], out[:, start : start + amplifier_width],
                         np.nan)  # fmt: skip
        medians = nanmedian(block, axis=1)  # NaN for rows with no usable pixel
        out[:, start : start + amplifier_width] -= np.nan_to_num(medians)[:, None]
    return np.where(usable, out, frame)
