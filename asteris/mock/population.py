"""The mock sky: galaxies, stars, z > 8.5 galaxies and red interlopers, with SEDs.

Every object gets a spectral energy distribution from `asteris.sky.sed`, so its
fluxes in all bands (JWST NIRCam, HST ACS, Subaru HSC) are consistent. The
populations and their default parameters:

* **field galaxies**: number counts ``log10 dN/dm = 6.3 + 0.25 (m - 28)`` per
  mag per deg^2 in F200W (the faint-end NIRCam counts of Windhorst et al.
  2023, AJ 165, 13), redshifts ``p(z) ~ z^2 exp(-(z / z0)^1.5)`` with z0
  growing with magnitude, half-light radii following a size-magnitude
  relation with 0.15 dex scatter, Sersic n from 0.5 to 4;
* **stars**: blackbodies of 3000-10000 K, 20 per arcmin^2 by default;
* **z > 8.5 galaxies**: drawn from a double-power-law UV luminosity function
  (default Whitler et al. 2025, z ~ 9.8) in a Planck18 volume, constant in
  z over 8.5 < z < 16, with a density ``boost`` so that a small field holds
  enough of them (the factor is written with the field: divide counts by it);
* **red interlopers**: dusty star-forming (A_V = 2-4) and quiescent galaxies
  at 2 < z < 5 whose Balmer/4000 A break can mimic a Lyman break.

Examples
--------
>>> from asteris.mock.population import PopulationConfig, sky_catalog
>>> cat = sky_catalog((10.0, 10.0), bands=["jwst_f200w"], seed=1)
>>> "galaxy" in set(cat["type"]) and bool((cat["mag_jwst_f200w"].value < 31.5).all())
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.cosmology import Planck18
from astropy.table import QTable, vstack

from ..config import reject_unknown_keys
from ..sky.galaxies import SourceRows, age_limit_gyr, high_z_sources, loguniform, sample_pdf
from ..sky.luminosity import WHITLER25, DoublePowerLaw, integrate
from ..sky.sed import Passbands, StellarPopulation

__all__ = [
    "PopulationConfig",
    "sky_catalog",
    "high_z_galaxies",
    "library_populations",
    "ALL_BANDS",
]

#: Every band the catalogue carries: NIRCam, ACS, HSC.
ALL_BANDS = (
    "jwst_f090w", "jwst_f115w", "jwst_f150w", "jwst_f200w",
    "jwst_f277w", "jwst_f356w", "jwst_f410m", "jwst_f444w",
    "acs_wfc_f435w", "acs_wfc_f606w", "acs_wfc_f814w",
    "hsc_g", "hsc_r", "hsc_i", "hsc_z", "hsc_y",
)  # fmt: skip


@dataclass(frozen=True)
class PopulationConfig:
    """What the mock sky holds; densities are per arcmin^2."""

    reference_band: str = "jwst_f200w"
    counts_log_norm: float = 6.3  #: log10 N / mag / deg^2 at m = 28 in the reference band
    counts_slope: float = 0.25
    galaxy_mags: tuple[float, float] = (19.0, 31.0)
    star_density: float = 20.0
    star_mags: tuple[float, float] = (18.0, 27.0)
    interloper_density: float = 30.0  #: dusty plus quiescent, raised on purpose to test selections
    interloper_mags: tuple[float, float] = (25.5, 29.5)
    high_z_lf: DoublePowerLaw = WHITLER25
    high_z_range: tuple[float, float] = (8.5, 16.0)
    high_z_muv: tuple[float, float] = (-23.0, -17.0)
    high_z_boost: float = 10.0
    templates: int = 64  #: SED templates drawn for field galaxies

    @classmethod
    def empty(cls) -> PopulationConfig:
        """No objects at all: for noise-only (source-free) stacks."""
        return cls(counts_log_norm=-np.inf, star_density=0.0, interloper_density=0.0, high_z_boost=0.0)

    @classmethod
    def from_dict(cls, values: dict) -> PopulationConfig:
        reject_unknown_keys(values, cls, "population")
        values = dict(values)
        if isinstance(values.get("high_z_lf"), dict):
            values["high_z_lf"] = DoublePowerLaw(**values["high_z_lf"])
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _power_law_mags(rng, n: int, lo: float, hi: float, slope: float) -> np.ndarray:
    """Magnitudes with ``dN/dm ~ 10**(slope m)`` between lo and hi (inverse CDF)."""
    a, b = 10 ** (slope * lo), 10 ** (slope * hi)
    return np.log10(a + rng.random(n) * (b - a)) / slope


def _galaxy_redshifts(rng, mags: np.ndarray) -> np.ndarray:
    z0 = 0.4 + 0.08 * (mags - 20.0)
    grid = np.linspace(0.01, 7.0, 700)
    out = np.empty_like(mags)
    for i, scale in enumerate(z0):
        cdf = np.cumsum(grid**2 * np.exp(-((grid / scale) ** 1.5)))
        out[i] = np.interp(rng.random() * cdf[-1], cdf, grid)
    return out


def _field_galaxies(rng, passbands: Passbands, cfg: PopulationConfig, area: float, ref: int) -> SourceRows:
    n_expected = (
        area
        / 3600
        * integrate(lambda m: 10 ** (cfg.counts_log_norm + cfg.counts_slope * (m - 28)), *cfg.galaxy_mags)
    )
    mags = _power_law_mags(rng, rng.poisson(n_expected), *cfg.galaxy_mags, cfg.counts_slope)
    pool = [
        StellarPopulation(
            age_gyr=loguniform(rng, 0.05, 3.0),
            tau_gyr=loguniform(rng, 0.1, 5.0),
            metallicity=float(rng.choice([0.2, 0.4, 1.0])),
            av=float(min(rng.exponential(0.4), 2.0)),
            log_u=-2.5,
        )  # fmt: skip
        for _ in range(cfg.templates)
    ]
    pool_ages = np.array([p.age_gyr for p in pool])
    rows = SourceRows("galaxy")
    for mag, z in zip(mags, _galaxy_redshifts(rng, mags)):
        allowed = np.flatnonzero(pool_ages < max(age_limit_gyr(z), 0.06))
        pop = pool[rng.choice(allowed)]
        flux, muv = passbands.fluxes_njy(pop, z=z, mag=mag, band=ref)
        size = np.clip(0.3 * 10 ** (-0.1 * (mag - 24) + rng.normal(0, 0.15)), 0.03, 1.0)
        rows.add(z, muv, flux, size, loguniform(rng, 0.5, 4.0), rng.uniform(0.2, 1.0))
    return rows


def _interlopers(rng, passbands: Passbands, cfg: PopulationConfig, area: float, ref: int) -> list[SourceRows]:
    dusty, quiescent = SourceRows("dusty"), SourceRows("quiescent")
    for _ in range(rng.poisson(cfg.interloper_density * area)):
        z = rng.uniform(2.0, 5.0)
        mag = rng.uniform(*cfg.interloper_mags)
        if rng.random() < 0.5:
            rows = dusty
            pop = StellarPopulation(
                age_gyr=min(loguniform(rng, 0.1, 1.0), age_limit_gyr(z)),
                tau_gyr=loguniform(rng, 0.1, 1.0), metallicity=1.0, av=rng.uniform(2.0, 4.0), log_u=-2.5,
            )  # fmt: skip
            n = rng.uniform(0.8, 2.0)
        else:
            rows = quiescent
            age = rng.uniform(0.6, 1.0) * age_limit_gyr(z)
            pop = StellarPopulation(age_gyr=age, tau_gyr=rng.uniform(0.05, 0.2), metallicity=1.0,
                                    av=rng.uniform(0.0, 0.3))  # fmt: skip
            n = rng.uniform(2.5, 4.0)
        flux, muv = passbands.fluxes_njy(pop, z=z, mag=mag, band=ref)
        rows.add(z, muv, flux, np.clip(0.12 * 10 ** rng.normal(0, 0.15), 0.03, 0.5), n, rng.uniform(0.3, 1.0))
    return [dusty, quiescent]


def _stars(rng, passbands: Passbands, cfg: PopulationConfig, area: float, ref: int) -> SourceRows:
    rows = SourceRows("star")
    for _ in range(rng.poisson(cfg.star_density * area)):
        flux = passbands.star_fluxes_njy(rng.uniform(3000, 10000), mag=rng.uniform(*cfg.star_mags), band=ref)
        rows.add(0.0, np.nan, flux, 0.0, np.nan, 1.0)
    return rows


def high_z_galaxies(
    rng: np.random.Generator, passbands: Passbands, cfg: PopulationConfig, area_arcmin2: float
) -> SourceRows:
    """Galaxies at ``cfg.high_z_range`` with M_UV drawn from ``cfg.high_z_lf`` (times the boost)."""
    lf = cfg.high_z_lf
    muv_grid = np.linspace(*cfg.high_z_muv, 800)
    z_grid = np.linspace(*cfg.high_z_range, 400)
    expected = lf.expected_number(np.array(cfg.high_z_muv), z_range=cfg.high_z_range,
                                  area_arcmin2=area_arcmin2, boost=cfg.high_z_boost)[0]  # fmt: skip
    count = rng.poisson(expected)
    muvs = sample_pdf(rng, count, muv_grid, lf(muv_grid))
    dvdz = Planck18.differential_comoving_volume(z_grid).to_value("Mpc3 / sr")
    redshifts = sample_pdf(rng, count, z_grid, dvdz)
    return high_z_sources(rng, passbands, muvs, redshifts, templates=cfg.templates)


def library_populations() -> tuple[tuple, ...]:
    """Populations spanning those the mock draws its SEDs from, as photo-z templates would.

    One ``(name, age Gyr, tau Gyr, Z/Zsun, A_V, log U)`` per corner and middle of each kind's
    distribution (field galaxies, dusty and quiescent interlopers, z > 8.5 galaxies), the
    format of `asteris.science.photoz.DEFAULT_POPULATIONS`. A field's own draws are random;
    these span them, so a photo-z fit with them has (almost) no template mismatch.

    >>> len(library_populations())
    22
    """
    field = [
        (f"field_{age:g}gyr_av{av:g}", age, 1.0, z, av, -2.5)
        for age, z in ((0.05, 0.2), (0.2, 0.2), (0.8, 0.4), (3.0, 1.0))
        for av in (0.0, 0.5, 1.5)
    ]
    field += [
        ("field_0.3gyr_tau0.1_av0.3", 0.3, 0.1, 0.4, 0.3, -2.5),
        ("field_2gyr_tau5", 2.0, 5.0, 1.0, 0.2, -2.5),
    ]
    interlopers = [
        ("dusty_0.3gyr_av2", 0.3, 0.3, 1.0, 2.0, -2.5),
        ("dusty_0.5gyr_av3.5", 0.5, 0.3, 1.0, 3.5, -2.5),
        ("quiescent_1gyr", 1.0, 0.1, 1.0, 0.1, -3.0),
        ("quiescent_2gyr", 2.0, 0.1, 1.0, 0.0, -3.0),
    ]
    high_z = [
        (f"high_z_{age * 1000:g}myr_z{z:g}", age, 0.2, z, 0.0, -2.0)
        for age, z in ((0.01, 0.02), (0.05, 0.2), (0.25, 0.2), (0.1, 0.02))
    ]
    return tuple(field + interlopers + high_z)


def sky_catalog(
    extent_arcsec: tuple[float, float],
    *,
    bands: list[str] | tuple[str, ...] = ALL_BANDS,
    config: PopulationConfig | None = None,
    seed: int = 0,
) -> QTable:
    """Draw every object of a field of ``extent_arcsec`` = (width, height).

    Returns a QTable with ``id``, ``type`` (galaxy, star, high_z, dusty,
    quiescent), position offsets ``x_arcsec``/``y_arcsec`` from the field's
    corner, ``z``, ``M_UV``, ``r_e`` (0 for stars), ``sersic_n``,
    ``axis_ratio``, ``theta`` and ``flux_<band>`` (nJy) and ``mag_<band>`` (AB).
    """
    cfg = config or PopulationConfig()
    bands = list(bands)
    if cfg.reference_band not in bands:
        bands.append(cfg.reference_band)
    rng = np.random.default_rng(seed)
    passbands = Passbands(bands)
    ref = bands.index(cfg.reference_band)
    area = extent_arcsec[0] * extent_arcsec[1] / 3600.0
    groups = [
        _field_galaxies(rng, passbands, cfg, area, ref),
        _stars(rng, passbands, cfg, area, ref),
        high_z_galaxies(rng, passbands, cfg, area),
        *_interlopers(rng, passbands, cfg, area, ref),
    ]
    tables = [g.table(rng, bands, extent_arcsec) for g in groups if g.z]
    table = vstack(tables) if tables else SourceRows("galaxy").table(rng, bands, extent_arcsec)
    table.add_column(np.arange(1, len(table) + 1), name="id", index=0)
    table.meta.update({"HIZBOOST": cfg.high_z_boost, "AREA": area})
    return table
