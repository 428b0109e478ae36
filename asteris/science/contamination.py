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
population with colours the bright one lacks is missed, such as dusty and
quiescent galaxies at z ~ 2-5, red and rare among the bright.

`modelled_interlopers` takes those colours from a model of the sky instead
(a mock population, or a catalogue such as JAGUAR's): every model object is
given the field's noise in every band and put through the same photo-z and
selection. It finds what the model holds, and no more.

Both measure each object as a point source of its total flux with Gaussian
errors, and the dimming takes only faint detections as the interlopers' hosts.
The interlopers of the z > 8.5 mock survey are mostly galaxies at z ~ 2-4
with a strong break between 2 and 3 microns, some bright enough to be
selected at high S/N, measured in apertures that hold part of their light
and with blue fluxes that scatter below their truth more often than Gaussian
errors allow; neither estimate reaches most of them
(`benchmarks/contamination.py` measures by how much).

`simulated_interlopers` measures a model of the sky as the field is
measured: its objects rendered with their profiles on each band's grid,
over a source-free image of the field's own noise (`jackknife_noise`), then
detected, measured, fitted and selected by the same search
(`asteris.science.highz.search_high_z`). What it selects is the expected
number of interlopers on the field's area, blends and the noise's structure
included.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ..coadd import coadd
from ..errors import ConfigError
from ..sky.sed import NJY_AB_ZP
from ..stack import Stack
from .photoz import photometric_redshifts
from .select import HighZCriteria, band_edges, break_bands, select_high_z
from .uvlf import absolute_uv_magnitude

__all__ = ["dimmed_interlopers", "modelled_interlopers", "jackknife_noise", "simulated_interlopers"]


def _missing_magnitudes(population: QTable, filters: Mapping[str, str]) -> list[str]:
    return [f"mag_{f}" for f in filters.values() if f"mag_{f}" not in population.colnames]


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


def modelled_interlopers(
    population: QTable,
    errors: Mapping[str, float],
    filters: Mapping[str, str],
    *,
    detection_bands: Sequence[str],
    weight: float = 1.0,
    threshold: float = 5.0,
    criteria: HighZCriteria | None = None,
    seed: int = 0,
    photoz_options: Mapping | None = None,
) -> QTable:
    """Put the objects of a model of the sky through the field's noise, photo-z and selection.

    Each object of ``population`` (none of them a z > ``z_min`` galaxy) is
    measured as the field measures a point source: its flux in every band
    (``mag_<filter>``, AB) plus Gaussian noise of the field's 1-sigma error
    in the matched aperture (``errors``). Those detected (the inverse-variance
    combination of ``detection_bands`` at ``threshold`` sigma) and that could
    pass the break criteria (every band blueward of Lyman-alpha at ``z_min``
    under ``blue_max_snr``, enough bands over ``red_min_snr``) are fitted by
    EAZY and selected as the candidates were. Extended objects lose flux from
    the aperture that this model does not take: it counts them as detectable
    as point sources of their total flux.

    Parameters
    ----------
    population : QTable
        ``mag_<filter>`` for every band of ``filters`` (inf = no flux).
    errors : dict of band -> float
        The field's 1-sigma flux error of each band in its matched aperture (nJy), as the
        ``e_<band>`` columns of its catalogue give them.
    filters : dict of band -> sedpy filter name
    detection_bands : list of str
    weight : float
        What each object counts for: the field's area over the population's.
    threshold : float
    criteria : HighZCriteria, optional
    seed : int
    photoz_options : dict, optional

    Returns
    -------
    QTable
        One row per object that was detected and could pass the break criteria: ``source``
        (its row in ``population``), ``weight``, the noisy fluxes, ``z_phot``, ``selected``
        and ``M_UV``. ``meta`` holds ``n_population`` and ``n_detected``.

    Examples
    --------
    >>> from astropy.table import QTable
    >>> import astropy.units as u
    >>> filters = {"F090W": "jwst_f090w", "F277W": "jwst_f277w", "F356W": "jwst_f356w"}
    >>> bright_everywhere = QTable({f"mag_{f}": [25.0] * u.ABmag for f in filters.values()})
    >>> out = modelled_interlopers(bright_everywhere, {b: 5.0 for b in filters}, filters,
    ...                            detection_bands=["F277W", "F356W"])
    >>> len(out), out.meta["n_detected"]  # detected, but bright blueward of any z > 8.5 break
    (0, 1)
    """
    criteria = criteria or HighZCriteria()
    bands = list(filters)
    missing = _missing_magnitudes(population, filters) + [b for b in bands if b not in errors]
    if missing:
        raise ConfigError(f"the population lacks {missing} (mag_<filter> columns and an error per band)")
    rng = np.random.default_rng(seed)
    columns = [population[f"mag_{filters[b]}"] for b in bands]  # AB magnitudes: their plain values
    mags = np.column_stack([np.asarray(getattr(c, "value", c), float) for c in columns])
    sigma = np.array([float(errors[b]) for b in bands])
    fluxes = np.where(np.isfinite(mags), 10 ** (-0.4 * (mags - NJY_AB_ZP)), 0.0)
    fluxes = fluxes + rng.normal(0.0, 1.0, fluxes.shape) * sigma
    snr = fluxes / sigma
    det = [bands.index(b) for b in detection_bands]
    ivar = 1.0 / sigma[det] ** 2
    detected = (fluxes[:, det] * ivar).sum(axis=1) / np.sqrt(ivar.sum()) >= threshold
    blue, _ = break_bands(criteria.z_min, band_edges(filters), criteria.red_bands)
    blue_dark = np.all(snr[:, [bands.index(b) for b in blue]] < criteria.blue_max_snr, axis=1)
    red_enough = np.sum(snr > criteria.red_min_snr, axis=1) >= criteria.red_bands
    rows = np.flatnonzero(detected & blue_dark & red_enough)
    fakes = QTable({"id": np.arange(1, len(rows) + 1), "source": rows, "weight": np.full(len(rows), weight)})
    for i, band in enumerate(bands):
        fakes[f"f_{band}"], fakes[f"e_{band}"] = fluxes[rows, i] * u.nJy, np.full(len(rows), sigma[i]) * u.nJy
    fakes.meta.update(n_population=len(population), n_detected=int(detected.sum()))
    if len(rows) == 0:
        fakes["z_phot"], fakes["selected"] = np.zeros(0), np.zeros(0, bool)
        fakes["M_UV"] = np.zeros(0) * u.mag
        return fakes
    photoz = photometric_redshifts(fakes, filters, **dict(photoz_options or {}))
    fakes["z_phot"] = photoz["z_phot"]
    fakes["selected"] = select_high_z(fakes, photoz, filters, criteria=criteria)["selected"]
    fakes["M_UV"] = absolute_uv_magnitude(fakes, photoz["z_phot"], filters)["M_UV"]
    return fakes


def jackknife_noise(stack: Stack, *, signs=None, method: str = "ivar") -> np.ndarray:
    """A source-free image with the noise of the stack's coadd: the coadd of the exposures of sign +1
    less that of those of sign -1, over 2 (0 where either half has no data).

    The sky and its sources cancel; the exposures' own noise, correlated
    by the resampling and structured by the detector (1/f, residual
    patterns), is kept at the coadd's level for two halves of equal weight.
    ``signs`` (one +1, -1 or 0 (left out) per exposure, as many +1 as -1;
    default alternating, the last of an odd number left out): orthogonal
    sign patterns, such as the rows of a Hadamard matrix, give noise images
    uncorrelated with each other.

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> stack = Stack(np.float32(100.0) + rng.normal(0, 4.0, (16, 64, 64)).astype(np.float32))
    >>> noise = jackknife_noise(stack)
    >>> bool(abs(noise.mean()) < 0.05), round(float(noise.std() / coadd(stack.data).image.std()), 1)
    (True, 1.0)
    """
    count = len(stack.data)
    signs = np.resize([1, -1], count) * (np.arange(count) < count - count % 2) if signs is None else signs
    signs = np.asarray(signs)
    known = signs.shape == (count,) and set(signs.tolist()) <= {1, 0, -1}
    if not known or signs.sum() != 0 or np.sum(signs == 1) < 2:
        raise ConfigError(f"a jackknife noise image needs an even split of the exposures: one sign each, "
                          f"as many +1 as -1, two of each at least (the stack has {count})")  # fmt: skip
    plus, minus = (coadd(stack.data[signs == sign], method=method).image for sign in (1, -1))
    both = np.isfinite(plus) & np.isfinite(minus) & (plus != 0) & (minus != 0)
    return np.where(both, (plus - minus) / 2.0, 0.0)


def simulated_interlopers(
    population: QTable,
    stacks: Mapping[str, Stack],
    renderers: Mapping,
    filters: Mapping[str, str],
    *,
    detection_bands: Sequence[str],
    signs=None,
    criteria: HighZCriteria | None = None,
    photoz_options: Mapping | None = None,
) -> QTable:
    """Search a simulated sky of ``population`` over the field's own noise, as the field is searched.

    Each band's image is ``population`` rendered by the band's renderer
    (profile and PSF) on the stacks' grid, plus the band's `jackknife_noise`
    (of exposure ``signs``: other patterns draw other noise);
    detection on ``detection_bands`` and photometry, photo-z and selection
    on every band follow `~asteris.science.highz.search_high_z`, as the
    field's coadd search runs them.

    Parameters
    ----------
    population : QTable
        Objects of a model of the sky without z > 8.5 galaxies, on the stacks'
        pixel grid: ``x``, ``y``, ``r_e``, ``sersic_n``, ``axis_ratio``,
        ``theta`` and ``mag_<filter>`` of every band (AB; inf or NaN: no flux).
    stacks : dict of band -> `~asteris.stack.Stack`
        The field's aligned exposures of every band of ``filters``.
    renderers : dict of band -> `~asteris.sky.render.SourceRenderer`
    filters : dict of band -> sedpy filter name
    detection_bands : list of str
    signs : sequence of +1 and -1, optional
        As `jackknife_noise`'s, for every band (whose stacks then hold as many exposures).
    criteria : HighZCriteria, optional
    photoz_options : dict, optional

    Returns
    -------
    QTable
        The search's catalogue of the simulated sky; its ``selected`` rows
        are the expected interlopers on the stacks' area (a population over
        another area: weight them by the ratio).
    """
    from .highz import search_high_z

    missing = _missing_magnitudes(population, filters)
    if missing:
        raise ConfigError(f"the population lacks {missing} (mag_<filter> columns)")
    images = {}
    for band in filters:
        noise = jackknife_noise(stacks[band], signs=signs)
        column = population[f"mag_{filters[band]}"]
        mags = np.asarray(getattr(column, "value", column), float)
        objects = population[np.isfinite(mags)]
        objects["mag"] = mags[np.isfinite(mags)] * u.mag
        sky = renderers[band].image(objects, noise.shape)
        images[band] = np.where(noise != 0, noise + sky, 0.0)
    return search_high_z({b: images[b] for b in detection_bands}, renderers, filters,
                         detection_bands=detection_bands, measure_images=images, criteria=criteria,
                         photoz_options=photoz_options)  # fmt: skip
