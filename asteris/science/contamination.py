"""Low-redshift interlopers among z > 8.5 candidates, estimated from the field's own galaxies.

A faint galaxy at z ~ 2-5 whose Balmer or Lyman break falls where a z > 8.5
galaxy's Lyman break would, and whose blue bands drown in noise, can pass
the selection. Real surveys cannot count such interlopers from a truth; they
simulate them (e.g. Bouwens et al. 2015): take the field's bright galaxies
with secure low redshifts, whose colours are measured well, dim each to the
flux of a faint detection of the same field, add that detection's noise in
every band, and run the same photo-z and selection on the result. The
fraction selected at each faint flux, times the faint detections there, is
the expected number of interlopers; their M_UV, computed at the redshift
the selection gave them, places them in the luminosity function's bins.

`dimmed_interlopers` does this for one catalogue of the chain
(`asteris.science.highz.search_high_z`). The bright galaxies stand in for
the faint ones' colours, which is the method's assumption: a faint
population with colours the bright one lacks is missed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ..errors import ConfigError
from .photoz import photometric_redshifts
from .select import HighZCriteria, select_high_z
from .uvlf import absolute_uv_magnitude

__all__ = ["dimmed_interlopers"]


def _fluxes(catalog: QTable, bands: Sequence[str], prefix: str) -> np.ndarray:
    return np.column_stack([u.Quantity(catalog[f"{prefix}_{b}"], u.nJy).value for b in bands])


def _templates_and_targets(catalog: QTable, detection_bands, bright_snr: float, max_z: float):
    """Rows of the bright low-z galaxies (templates) and of the faint unselected detections (targets)."""
    snr = np.asarray(catalog["snr_det"], float)
    selected = np.asarray(catalog["selected"], bool)
    detection_flux = _fluxes(catalog, detection_bands, "f").sum(axis=1)
    bright = (snr >= bright_snr) & (np.asarray(catalog["z_phot"], float) <= max_z) & ~selected
    faint = (snr < bright_snr) & ~selected & (detection_flux > 0)
    return np.flatnonzero(bright & (detection_flux > 0)), np.flatnonzero(faint), detection_flux


def dimmed_interlopers(
    catalog: QTable,
    filters: Mapping[str, str],
    *,
    detection_bands: Sequence[str],
    criteria: HighZCriteria | None = None,
    bright_snr: float = 20.0,
    max_z: float = 6.0,
    draws: int = 4,
    seed: int = 0,
    photoz_options: Mapping | None = None,
) -> QTable:
    """Simulate the low-z galaxies of a catalogue at faint fluxes and run the selection on them.

    Every faint detection (``snr_det`` < ``bright_snr``, not selected) gets
    ``draws`` stand-ins: a bright galaxy (``snr_det`` >= ``bright_snr``,
    ``z_phot`` <= ``max_z``, not selected) drawn at random, scaled so that
    its summed flux in ``detection_bands`` is the faint detection's, plus
    Gaussian noise of the faint detection's errors in every band. Each
    stand-in counts 1 / ``draws`` of a galaxy.

    Parameters
    ----------
    catalog : QTable
        The result of `~asteris.science.highz.search_high_z` (``snr_det``,
        ``f_<band>``/``e_<band>``, ``z_phot``, ``selected``; ``total_factor`` if any).
    filters : dict of band -> sedpy filter name
    detection_bands : list of str
        The bands whose summed flux sets each stand-in's brightness.
    criteria : HighZCriteria, optional
        The selection the candidates passed.
    bright_snr, max_z : float
        What makes a galaxy a template: detected at this S/N or more, at this photo-z or less.
    draws : int
        Stand-ins per faint detection.
    seed : int
    photoz_options : dict, optional
        Passed to `~asteris.science.photoz.photometric_redshifts`, as the chain passed them.

    Returns
    -------
    QTable
        One row per stand-in: ``target`` and ``template`` (row numbers in
        ``catalog``), ``weight``, the noisy fluxes, ``z_phot``, ``selected``
        and ``M_UV``. ``weight`` summed over the selected rows, binned in
        ``M_UV``, is the expected number of interlopers per bin.
        ``meta`` holds ``n_templates`` and ``n_targets``.
    """
    if draws < 1:
        raise ConfigError(f"draws must be at least 1, got {draws}")
    bands = list(filters)
    templates, targets, detection_flux = _templates_and_targets(catalog, detection_bands, bright_snr, max_z)
    if len(templates) == 0 or len(targets) == 0:
        raise ConfigError(
            f"the catalogue has {len(templates)} bright low-z galaxies (snr_det >= {bright_snr}, "
            f"z_phot <= {max_z}) and {len(targets)} faint detections: dimming needs both"
        )
    rng = np.random.default_rng(seed)
    target = np.repeat(targets, draws)
    template = rng.choice(templates, size=len(target))
    colours = _fluxes(catalog, bands, "f")[template] / detection_flux[template, None]
    errors = _fluxes(catalog, bands, "e")[target]
    fluxes = colours * detection_flux[target, None] + rng.normal(0.0, errors)
    fakes = QTable({"id": np.arange(1, len(target) + 1), "target": target, "template": template,
                    "weight": np.full(len(target), 1.0 / draws)})  # fmt: skip
    if "total_factor" in catalog.colnames:
        fakes["total_factor"] = np.asarray(catalog["total_factor"], float)[target]
    for i, band in enumerate(bands):
        fakes[f"f_{band}"], fakes[f"e_{band}"] = fluxes[:, i] * u.nJy, errors[:, i] * u.nJy
    photoz = photometric_redshifts(fakes, filters, **dict(photoz_options or {}))
    selection = select_high_z(fakes, photoz, filters, criteria=criteria)
    fakes["z_phot"], fakes["selected"] = photoz["z_phot"], selection["selected"]
    fakes["M_UV"] = absolute_uv_magnitude(fakes, photoz["z_phot"], filters)["M_UV"]
    fakes.meta.update(n_templates=len(templates), n_targets=len(targets))
    return fakes
