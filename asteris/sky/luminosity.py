"""UV luminosity-function forms and the comoving volumes they are integrated over (Planck18).

>>> from asteris.sky.luminosity import WHITLER25
>>> float(WHITLER25(-20.54)) == WHITLER25.phi_star / 2
True
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from astropy.cosmology import Planck18
from scipy.integrate import trapezoid

__all__ = ["DoublePowerLaw", "WHITLER25", "comoving_volume", "integrate"]

_ARCMIN2_PER_SR = (180 * 60 / np.pi) ** 2


@dataclass(frozen=True)
class DoublePowerLaw:
    """A double-power-law UV luminosity function ``phi(M_UV)`` in Mpc^-3 mag^-1."""

    m_star: float
    alpha: float
    beta: float
    phi_star: float

    def __call__(self, muv: np.ndarray | float) -> np.ndarray:
        dm = np.asarray(muv, dtype=float) - self.m_star
        return self.phi_star / (10 ** (0.4 * (self.alpha + 1) * dm) + 10 ** (0.4 * (self.beta + 1) * dm))

    def expected_number(
        self, muv_edges: np.ndarray, *, z_range: tuple[float, float], area_arcmin2: float, boost: float = 1.0
    ) -> np.ndarray:
        """Expected number of galaxies per M_UV bin in a field of ``area_arcmin2`` over ``z_range``."""
        return (
            boost
            * comoving_volume(z_range, area_arcmin2)
            * np.array([integrate(self, lo, hi) for lo, hi in zip(muv_edges[:-1], muv_edges[1:])])
        )


#: Whitler et al. (2025) double-power-law fit at z ~ 9.8.
WHITLER25 = DoublePowerLaw(m_star=-20.54, alpha=-2.60, beta=-3.49, phi_star=4.85e-5)


def integrate(fn, lo: float, hi: float, n: int = 400) -> float:
    """The trapezoid integral of ``fn`` over ``n`` points from ``lo`` to ``hi``."""
    x = np.linspace(lo, hi, n)
    return float(trapezoid(fn(x), x))


def comoving_volume(z_range: tuple[float, float], area_arcmin2: float) -> float:
    """Comoving volume in Mpc^3 of a field of ``area_arcmin2`` between two redshifts."""
    dvdz = lambda z: Planck18.differential_comoving_volume(z).to_value("Mpc3 / sr")  # noqa: E731
    return integrate(dvdz, *z_range, n=200) * area_arcmin2 / _ARCMIN2_PER_SR
