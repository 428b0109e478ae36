"""JWST-like ``_cal`` exposures for the tests of alignment and of the command line."""

import numpy as np
from astropy.io import fits
from astropy.wcs import WCS

from asteris.archive.align import DO_NOT_USE

RA0, DEC0, SCALE = 110.8375, -73.4391, 0.04  # a source at the SMACS 0723 pointing, 0.04"/px
FLUX = 1000.0
SKY = 0.05  # MJy/sr: real exposures are never exactly zero where they have data


def cal_exposure(path, *, shift=(0.0, 0.0), rotation_deg=0.0, filt="F444W", bad_column=None, shape=(64, 72)):
    """A JWST-like _cal file: SCI (MJy/sr), DQ, a TAN WCS offset by ``shift`` px, one Gaussian source."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [RA0, DEC0]
    wcs.wcs.crpix = [shape[1] / 2 + shift[0], shape[0] / 2 + shift[1]]
    theta = np.radians(rotation_deg)
    wcs.wcs.cd = SCALE / 3600 * np.array([[-np.cos(theta), np.sin(theta)], [np.sin(theta), np.cos(theta)]])
    x0, y0 = wcs.world_to_pixel_values(RA0 + 0.3 / 3600, DEC0 - 0.2 / 3600)
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    source = np.exp(-0.5 * ((xx - x0) ** 2 + (yy - y0) ** 2) / 2.0**2)
    sci = (SKY + FLUX * source / source.sum()).astype(np.float32)
    dq = np.zeros(shape, np.uint32)
    if bad_column is not None:
        dq[:, bad_column] = DO_NOT_USE
        sci[:, bad_column] = 1e6  # garbage that must not leak
    primary = fits.PrimaryHDU()
    primary.header.update(FILTER=filt, DETECTOR="NRCALONG", TELESCOP="JWST", INSTRUME="NIRCAM")
    sci_hdu = fits.ImageHDU(sci, wcs.to_header(), name="SCI")
    sci_hdu.header["BUNIT"] = "MJy/sr"
    fits.HDUList([primary, sci_hdu, fits.ImageHDU(dq, name="DQ")]).writeto(path)
    return path
