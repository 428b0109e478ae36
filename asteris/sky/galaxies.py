"""Galaxies as sources on the sky: SEDs, sizes and shapes, collected into a catalogue.

`high_z_sources` gives z > 8.5 galaxies of chosen M_UV and z their spectra and
profiles, as both the mock sky and the injection catalogues draw them;
`SourceRows` collects any population's rows into a catalogue table.

>>> import numpy as np
>>> from asteris.sky.sed import Passbands
>>> rows = high_z_sources(np.random.default_rng(1), Passbands(["jwst_f356w"]), [-20.0], [10.0], templates=2)
>>> table = rows.table(np.random.default_rng(2), ["jwst_f356w"], (10.0, 10.0))
>>> round(float(table["M_UV"][0].value), 1), str(table["type"][0])
(-20.0, 'high_z')
"""

from __future__ import annotations

from dataclasses import dataclass, field

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18
from astropy.table import QTable

from .sed import NJY_AB_ZP, Passbands, StellarPopulation

__all__ = ["SourceRows", "high_z_sources", "sample_pdf", "loguniform", "ab_mag", "age_limit_gyr",
           "kpc_per_arcsec"]  # fmt: skip

_Z_TABLE = np.linspace(0.0, 20.0, 2001)
_AGE_TABLE = Planck18.age(_Z_TABLE).to_value("Gyr")
_KPC_PER_ARCSEC_TABLE = Planck18.kpc_proper_per_arcmin(_Z_TABLE).to_value("kpc / arcmin") / 60


def age_limit_gyr(z: float) -> float:
    """95% of the age of the universe at ``z`` (Planck18), from a table."""
    return float(np.interp(z, _Z_TABLE, _AGE_TABLE)) * 0.95


def kpc_per_arcsec(z):
    """Proper kpc per arcsec at ``z`` (Planck18), from a table."""
    return np.interp(z, _Z_TABLE, _KPC_PER_ARCSEC_TABLE)


def loguniform(rng, lo: float, hi: float, n: int | None = None):
    """Draws uniform in the logarithm between ``lo`` and ``hi``."""
    return np.exp(rng.uniform(np.log(lo), np.log(hi), n))


def sample_pdf(rng, n: int, grid: np.ndarray, pdf: np.ndarray) -> np.ndarray:
    """``n`` draws from a tabulated density ``pdf`` on ``grid`` (trapezoid CDF, inverted)."""
    cdf = np.concatenate([[0.0], np.cumsum(0.5 * (pdf[1:] + pdf[:-1]) * np.diff(grid))])
    return np.interp(rng.random(n) * cdf[-1], cdf, grid)


@dataclass
class SourceRows:
    """Per-object columns of one kind of source (z, M_UV, fluxes per band, r_e, Sersic n, axis ratio),
    collected before they become a catalogue (`table`: random positions and angles)."""

    kind: str
    z: list = field(default_factory=list)
    muv: list = field(default_factory=list)
    flux: list = field(default_factory=list)
    r_e: list = field(default_factory=list)
    n: list = field(default_factory=list)
    q: list = field(default_factory=list)

    def add(self, z, muv, flux, r_e, n, q) -> None:
        for name, value in zip(("z", "muv", "flux", "r_e", "n", "q"), (z, muv, flux, r_e, n, q)):
            getattr(self, name).append(value)

    def table(self, rng, bands: list[str], extent: tuple[float, float]) -> QTable:
        count = len(self.z)
        flux = np.reshape(self.flux, (count, len(bands)))
        cols = {
            "type": np.full(count, self.kind, dtype="U10"),
            "x_arcsec": rng.uniform(0, extent[0], count) * u.arcsec,
            "y_arcsec": rng.uniform(0, extent[1], count) * u.arcsec,
            "z": np.array(self.z, dtype=float),
            "M_UV": np.array(self.muv, dtype=float) * u.mag,
            "r_e": np.array(self.r_e, dtype=float) * u.arcsec,
            "sersic_n": np.array(self.n, dtype=float),
            "axis_ratio": np.array(self.q, dtype=float),
            "theta": rng.uniform(0, 180, count) * u.deg,
        }
        for i, band in enumerate(bands):
            cols[f"flux_{band}"] = flux[:, i] * u.nJy
            cols[f"mag_{band}"] = ab_mag(flux[:, i]) * u.ABmag
        return QTable(cols)


def ab_mag(flux_njy: np.ndarray) -> np.ndarray:
    """AB magnitudes of fluxes in nJy (infinite where not positive)."""
    with np.errstate(divide="ignore"):
        return np.where(flux_njy > 0, NJY_AB_ZP - 2.5 * np.log10(np.maximum(flux_njy, 1e-30)), np.inf)


def high_z_sources(
    rng: np.random.Generator, passbands: Passbands, muvs, redshifts, *, templates: int = 64
) -> SourceRows:
    """Young, metal-poor, nearly dust-free galaxies of the given M_UV and z, with SEDs and sizes.

    Each draws one of ``templates`` populations (10-250 Myr, Z = 0.02-0.2 Zsun,
    A_V < 0.3) and a half-light radius of 0.6 kpc at M_UV = -21 scaling as
    ``L^0.25`` with 0.15 dex scatter.
    """
    pool = [
        StellarPopulation(
            age_gyr=loguniform(rng, 0.01, 0.25),
            tau_gyr=loguniform(rng, 0.05, 1.0),
            metallicity=float(rng.choice([0.02, 0.2])),
            av=float(min(rng.exponential(0.05), 0.3)),
            log_u=-2.0,
        )  # fmt: skip
        for _ in range(templates)
    ]
    rows = SourceRows("high_z")
    for muv, z in zip(muvs, redshifts):
        flux, _ = passbands.fluxes_njy(pool[rng.integers(len(pool))], z=z, muv=muv)
        scale = kpc_per_arcsec(z)
        r_kpc = 0.6 * 10 ** (-0.1 * (muv + 21) + rng.normal(0, 0.15))
        rows.add(z, muv, flux, np.clip(r_kpc / scale, 0.01, 1.0), rng.uniform(0.5, 1.5),
                 rng.uniform(0.4, 1.0))  # fmt: skip
    return rows
