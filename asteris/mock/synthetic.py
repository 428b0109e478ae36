"""A small synthetic stack with a known truth, for the demo and the tests.

Gaussian point sources and elliptical exponential galaxies on a flat sky,
white Gaussian noise per exposure and a few cosmic rays, on a tangent-plane
grid at 0.04 arcsec/px. The full mock universe lives in ``asteris.mock.simulate``.
"""

from __future__ import annotations

import numpy as np
from astropy.io import fits
from astropy.table import QTable
from astropy.wcs import WCS

from ..stack import Stack

__all__ = ["synthetic_wcs", "synthetic_stack"]


def synthetic_wcs(
    shape: tuple[int, int], *, ra: float = 150.1, dec: float = 2.2, scale_arcsec: float = 0.04
) -> WCS:
    """A TAN WCS centred on (ra, dec) with square pixels of ``scale_arcsec``."""
    wcs = WCS(naxis=2)
    wcs.wcs.ctype = ["RA---TAN", "DEC--TAN"]
    wcs.wcs.crval = [ra, dec]
    wcs.wcs.crpix = [(shape[1] + 1) / 2, (shape[0] + 1) / 2]
    wcs.wcs.cdelt = [-scale_arcsec / 3600, scale_arcsec / 3600]
    return wcs


def _render(shape: tuple[int, int], table: QTable) -> np.ndarray:
    yy, xx = np.mgrid[: shape[0], : shape[1]].astype(np.float64)
    image = np.zeros(shape)
    for row in table:
        dx, dy = xx - row["x"], yy - row["y"]
        c, s = np.cos(row["theta"]), np.sin(row["theta"])
        u, v = (c * dx + s * dy) / row["size"], (-s * dx + c * dy) / (row["size"] * row["axis_ratio"])
        r2 = u**2 + v**2
        profile = np.exp(-0.5 * r2) if row["kind"] == "point" else np.exp(-np.sqrt(r2) * 1.678)
        image += row["flux"] * profile / profile.sum()
    return image


def synthetic_stack(
    *,
    exposures: int = 16,
    shape: tuple[int, int] = (128, 128),
    n_sources: int = 60,
    sky: float = 1.0,
    noise_sigma: float = 0.5,
    psf_sigma_px: float = 1.2,
    cosmic_rays: int = 5,
    seed: int = 0,
) -> tuple[Stack, np.ndarray, QTable]:
    """Make a ``(exposures, *shape)`` stack, its noiseless truth image and a source table.

    Fluxes are log-uniform from 0.3 to 30 times ``noise_sigma`` (summed over
    each source), so both faint and bright sources are present.

    Examples
    --------
    >>> stack, truth, table = synthetic_stack(exposures=8, shape=(32, 32), n_sources=3)
    >>> stack.data.shape, len(table)
    ((8, 32, 32), 3)
    """
    rng = np.random.default_rng(seed)
    point = rng.random(n_sources) < 0.3
    table = QTable(
        {
            "x": rng.uniform(4, shape[1] - 5, n_sources),
            "y": rng.uniform(4, shape[0] - 5, n_sources),
            "flux": noise_sigma * 10 ** rng.uniform(np.log10(3), np.log10(300), n_sources),
            "kind": np.where(point, "point", "galaxy"),
            "size": np.where(point, psf_sigma_px, rng.uniform(1.0, 3.0, n_sources)),
            "axis_ratio": np.where(point, 1.0, rng.uniform(0.4, 1.0, n_sources)),
            "theta": rng.uniform(0, np.pi, n_sources),
        }
    )
    truth = _render(shape, table) + sky
    data = truth + rng.normal(0, noise_sigma, (exposures, *shape))
    for _ in range(cosmic_rays):
        t, y, x = rng.integers(exposures), rng.integers(shape[0] - 2), rng.integers(shape[1] - 2)
        data[t, y : y + 2, x : x + 2] += 50 * noise_sigma
    wcs = synthetic_wcs(shape)
    header = fits.Header()
    header["BUNIT"] = "MJy/sr"
    header["ORIGIN"] = ("asteris.mock.synthetic", "synthetic test stack")
    header["SEED"] = seed
    header.update(wcs.to_header())
    sky_coords = wcs.pixel_to_world(table["x"], table["y"])
    table["ra"], table["dec"] = sky_coords.ra, sky_coords.dec
    return Stack(data.astype(np.float32), header, wcs), truth.astype(np.float32), table
