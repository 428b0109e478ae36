"""The rest-frame UV luminosity function: M_UV, effective volumes, binned phi and model fits.

* `absolute_uv_magnitude`: M_UV at rest-frame 1500 A (the mean L_nu over
  1450-1550 A, as `asteris.sky.sed` defines it) from the bands redward of
  Lyman-alpha, through a power law ``f_nu ~ lambda^(beta + 2)`` fitted to them;
* `completeness_grid` and `effective_volume`: the fraction C(M_UV, z) of
  injected galaxies that come out of the whole chain as candidates, and
  ``V_eff(M_UV) = Omega * integral C(M_UV, z) dV/dz dz`` (Planck18);
* `migration_matrix`: how galaxies of a true M_UV spread over the bins of the
  measured M_UV that candidates are counted in, from the selected injections;
* `binned_luminosity_function`: phi per bin with Poisson intervals for small
  numbers (Gehrels 1986), and 1-sigma upper limits on empty bins;
* `fit_luminosity_function`: a double power law or a Schechter function fitted
  to the binned counts with emcee (Poisson likelihood of the counts);
* `literature_luminosity_functions`: published JWST measurements at z ~ 9-16,
  kept with their references in ``asteris/science/data/uvlf_literature.ecsv``.

Examples
--------
>>> lo, hi = poisson_interval(np.array([0, 1, 10]))
>>> np.round(hi, 2).tolist()
[1.87, 3.32, 14.28]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

import astropy.units as u
import numpy as np
from astropy.cosmology import Planck18
from astropy.table import QTable

from ..errors import ConfigError
from ..sky.luminosity import DoublePowerLaw
from ..sky.sed import NJY_AB_ZP
from .select import LYMAN_ALPHA, band_edges

__all__ = [
    "Schechter",
    "absolute_uv_magnitude",
    "bin_averages",
    "poisson_interval",
    "completeness_grid",
    "completeness_curves",
    "effective_volume",
    "bin_volumes",
    "migration_matrix",
    "expected_counts",
    "population_weights",
    "binned_luminosity_function",
    "LuminosityFunctionFit",
    "fit_luminosity_function",
    "measure_luminosity_function",
    "literature_luminosity_functions",
]

_UV_REST = (1300.0, 3000.0)  # rest-frame range of the bands that set the UV slope, Angstrom


@dataclass(frozen=True)
class Schechter:
    """A Schechter function in magnitudes, ``phi(M_UV)`` in Mpc^-3 mag^-1."""

    m_star: float
    alpha: float
    phi_star: float

    def __call__(self, muv: np.ndarray | float) -> np.ndarray:
        x = 10 ** (-0.4 * (np.asarray(muv, dtype=float) - self.m_star))
        return 0.4 * np.log(10) * self.phi_star * x ** (self.alpha + 1) * np.exp(-x)


def _pivots(filters: Mapping[str, str]) -> dict[str, float]:
    from sedpy.observate import load_filters

    return {b: float(f.wave_pivot) for b, f in zip(filters, load_filters(list(filters.values())))}


def absolute_uv_magnitude(catalog: QTable, redshift, filters: Mapping[str, str]) -> QTable:
    """M_UV at rest-frame 1500 A and the UV slope beta of each object at ``redshift``.

    The bands entirely redward of Lyman-alpha whose pivot lies at 1300-3000 A
    in the rest frame give the slope (a fit weighted by their errors; beta =
    -2 when one band has S/N > 2) and the flux at 1500 A. The fluxes are
    scaled to totals by the catalogue's ``total_factor`` where it has one.
    Objects without such a band, or without a positive flux in it, get NaN.

    Parameters
    ----------
    catalog : QTable
        ``f_<band>``/``e_<band>`` in nJy.
    redshift : array
        One redshift per row.
    filters : dict of band -> sedpy filter name

    Returns
    -------
    QTable with ``M_UV`` (mag), ``beta`` and ``m_1500`` (the apparent AB magnitude at 1500(1+z) A).
    """
    z = np.broadcast_to(np.asarray(redshift, dtype=float), (len(catalog),))
    edges, pivots = band_edges(filters), _pivots(filters)
    total = np.asarray(catalog["total_factor"], float) if "total_factor" in catalog.colnames else 1.0
    flux = {b: u.Quantity(catalog[f"f_{b}"], u.nJy).value * total for b in filters}
    error = {b: u.Quantity(catalog[f"e_{b}"], u.nJy).value * total for b in filters}
    m_1500, beta = np.full(len(catalog), np.nan), np.full(len(catalog), np.nan)
    for i, zi in enumerate(z):
        bands = [b for b in filters if edges[b][0] > LYMAN_ALPHA * (1 + zi)
                 and _UV_REST[0] < pivots[b] / (1 + zi) < _UV_REST[1]]  # fmt: skip
        bands = [b for b in bands if flux[b][i] > 2 * error[b][i]]
        if bands:
            m_1500[i], beta[i] = _power_law_at(
                1500 * (1 + zi), [pivots[b] for b in bands], [flux[b][i] for b in bands],
                [error[b][i] for b in bands],
            )  # fmt: skip
    distance_modulus = np.full(len(z), np.nan)
    if np.any(z > 0):
        distance_modulus[z > 0] = Planck18.distmod(z[z > 0]).value
    out = QTable({"M_UV": (m_1500 - distance_modulus + 2.5 * np.log10(1 + z)) * u.mag, "beta": beta})
    out["m_1500"] = m_1500 * u.ABmag
    return out


def _power_law_at(wave: float, pivots, fluxes, errors) -> tuple[float, float]:
    """AB magnitude at ``wave`` and slope beta of ``f_lambda ~ lambda^beta`` through the bands."""
    x, y = np.log10(pivots), np.log10(fluxes)
    if len(x) == 1:
        slope = 0.0  # beta = -2: flat in f_nu
        intercept = y[0] - slope * x[0]
    else:
        weights = (np.asarray(fluxes) / np.asarray(errors)) ** 2
        slope, intercept = np.polyfit(x, y, 1, w=np.sqrt(weights))
    log_flux = intercept + slope * np.log10(wave)
    return float(NJY_AB_ZP - 2.5 * log_flux), float(slope - 2)


def bin_averages(function, muv_lo, muv_hi, *, n_sub: int = 64) -> np.ndarray:
    """The mean of ``function(M_UV)`` over each bin ``[muv_lo, muv_hi]`` (what a binned phi estimates)."""
    lo, hi = (
        np.asarray(u.Quantity(muv_lo, u.mag).value, float),
        np.asarray(u.Quantity(muv_hi, u.mag).value, float),
    )
    grid = lo[:, None] + (hi - lo)[:, None] * (np.arange(n_sub) + 0.5) / n_sub
    return function(grid).mean(axis=1)


def poisson_interval(n) -> tuple[np.ndarray, np.ndarray]:
    """One-sided 84% Poisson confidence limits on ``n`` counts (Gehrels 1986, eqs. 9 and 14)."""
    n = np.asarray(n, dtype=float)
    upper = n + np.sqrt(n + 0.75) + 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        lower = np.where(n > 0, n * (1 - 1 / (9 * n) - 1 / (3 * np.sqrt(n))) ** 3, 0.0)
    return lower, upper


def completeness_grid(muv, z, selected, *, muv_edges: np.ndarray, z_edges: np.ndarray):
    """Fraction of injected galaxies selected per (M_UV, z) cell, and the numbers injected.

    Returns ``(completeness, injected)``, arrays of shape (len(muv_edges) - 1,
    len(z_edges) - 1); completeness is NaN where nothing was injected.
    """
    muv, z, selected = np.asarray(muv, float), np.asarray(z, float), np.asarray(selected, bool)
    injected, _, _ = np.histogram2d(muv, z, bins=[muv_edges, z_edges])
    found, _, _ = np.histogram2d(muv[selected], z[selected], bins=[muv_edges, z_edges])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(injected > 0, found / injected, np.nan), injected


def completeness_curves(muv, z, selected, *, muv_grid: np.ndarray, z_edges: np.ndarray) -> np.ndarray:
    """C(M_UV, z) on a fine M_UV grid: per z bin, a logistic in M_UV fitted to the injected flags.

    Binned completeness assumes galaxies spread evenly over a bin; with a
    steep luminosity function most of a faint bin's galaxies sit at its faint
    edge, where fewer are found. The maximum-likelihood logistic of
    `asteris.science.matching.fit_completeness` (plateau bounded to [0.5, 1]) follows
    the fall within a bin. A z bin with every galaxy selected gets 1, one with
    none 0, one with nothing injected NaN. Returns (len(muv_grid), len(z_edges) - 1).
    """
    from .matching import fit_completeness

    muv, z, selected = np.asarray(muv, float), np.asarray(z, float), np.asarray(selected, bool)
    grid = np.asarray(muv_grid, float)
    out = np.full((len(grid), len(z_edges) - 1), np.nan)
    for j, (lo, hi) in enumerate(zip(z_edges[:-1], z_edges[1:])):
        rows = (z >= lo) & (z < hi)
        if not rows.any():
            continue
        if selected[rows].all() or not selected[rows].any() or rows.sum() < 5:
            out[:, j] = selected[rows].mean()
            continue
        m50, width, c_max = fit_completeness(muv[rows], selected[rows])
        out[:, j] = c_max / (1 + np.exp(np.clip((grid - m50) / width, -50, 50)))
    return out


def bin_volumes(muv_grid, v_eff, muv_edges, *, weight=None) -> u.Quantity:
    """Each M_UV bin's effective volume: ``V_eff(M_UV)`` on a fine grid averaged over the bin.

    ``weight`` (a function of M_UV, e.g. a fitted luminosity function) weights
    the average by where in the bin the galaxies are; default flat. A 2-D
    ``v_eff`` of shape (len(muv_grid), n_bins) holds transfer volumes: the
    volume in which a galaxy of true M_UV on the grid is counted in measured
    bin j (``V_eff`` times `migration_matrix`). A bin's volume is then the
    galaxies the weight puts into it from every true M_UV, over those it puts
    at true M_UV inside it.
    """
    grid, v_eff = np.asarray(muv_grid, float), u.Quantity(v_eff, u.Mpc**3)
    w = np.ones_like(grid) if weight is None else np.asarray(weight(grid), float)
    out = []
    for j, (lo, hi) in enumerate(zip(muv_edges[:-1], muv_edges[1:])):
        if v_eff.ndim == 1:
            inside = (grid >= lo) & (grid <= hi)
            counted = w[inside] * v_eff.value[inside]
        else:  # every grid point once, as the transfer volumes count it
            inside = (grid >= lo) & (grid < hi)
            counted = w * v_eff.value[:, j]
        out.append(np.sum(counted) / np.sum(w[inside]) if inside.any() else 0.0)
    return np.array(out) * u.Mpc**3


def population_weights(z, *, z_range: tuple[float, float] = (8.5, 16.0)) -> np.ndarray:
    """Weights that make galaxies drawn uniformly in z follow the comoving volume, as the sky's do.

    Injected galaxies are drawn uniformly in z; the sky's (and the mock's) are
    distributed as dV/dz over the same range. Weighting each injection by
    dV/dz at its z (normalised to a mean of one over ``z_range``) makes
    statistics pooled over z, such as the `migration_matrix`, those of the
    population the candidates come from.

    >>> w = population_weights([9.0, 15.0])
    >>> bool(w[0] > w[1] > 0)
    True
    """
    z = np.asarray(z, float)
    dvdz = Planck18.differential_comoving_volume(z).to_value("Mpc3 / sr")
    grid = np.linspace(*z_range, 200)
    mean = np.mean(Planck18.differential_comoving_volume(grid).to_value("Mpc3 / sr"))
    return np.where((z >= z_range[0]) & (z <= z_range[1]), dvdz / mean, 0.0)


def migration_matrix(
    muv_true, muv_measured, *, muv_grid, muv_edges, width: float = 0.25, weights=None
) -> np.ndarray:
    """P(measured M_UV in bin j | true M_UV on the grid) from selected injections, (len(muv_grid), n_bins).

    Candidates are counted at their measured M_UV, which scatters about the
    true one (photometric noise, the photo-z's redshift) and, at the faint
    end, is biased bright by selection. Every grid row pools the
    measured-minus-true offsets of the injections, weighted by a Gaussian of
    ``width`` mag in their true M_UV, and counts where the row's M_UV plus
    each offset falls. Rows sum to less than one where galaxies scatter out
    of the bins. Pass the selected injections only; ``weights`` (one per
    injection, e.g. `population_weights` of their z) count each that many times.

    >>> grid, edges = np.array([-20.0, -19.0]), np.array([-20.5, -19.5, -18.5])
    >>> measured = migration_matrix([-20.0, -20.0, -19.0], [-20.1, -19.2, -19.1], muv_grid=grid,
    ...                             muv_edges=edges, width=0.1)
    >>> measured.round(3)  # half of the -20 injections were measured in the fainter bin
    array([[0.5, 0.5],
           [0. , 1. ]])
    """
    true, measured = np.asarray(muv_true, float), np.asarray(muv_measured, float)
    keep = np.isfinite(true) & np.isfinite(measured)
    if not keep.any():
        raise ConfigError("no selected injection with a measured M_UV to estimate the migration from")
    counted = (
        np.ones(keep.size) if weights is None else np.broadcast_to(np.asarray(weights, float), keep.size)
    )
    true, offsets = true[keep], measured[keep] - true[keep]
    grid, edges = np.asarray(muv_grid, float), np.asarray(muv_edges, float)
    weights = np.exp(-0.5 * ((grid[:, None] - true[None, :]) / width) ** 2) * counted[keep][None, :]
    weights /= np.maximum(weights.sum(axis=1, keepdims=True), 1e-300)
    where = np.digitize(grid[:, None] + offsets[None, :], edges) - 1  # bin of each row's offset copies
    out = np.zeros((len(grid), len(edges) - 1))
    for j in range(len(edges) - 1):
        out[:, j] = np.sum(weights * (where == j), axis=1)
    return out


def effective_volume(completeness: np.ndarray, *, z_edges: np.ndarray, area: u.Quantity) -> u.Quantity:
    """``V_eff`` per M_UV row of ``completeness``: the comoving volume of each z cell, weighted.

    Cells where nothing was injected (NaN) count as zero completeness.

    >>> v = effective_volume(np.ones((1, 1)), z_edges=np.array([8.5, 9.5]), area=1 * u.arcmin**2)
    >>> round(float(v.to_value("Mpc3")[0]))  # per arcmin^2 at 8.5 < z < 9.5
    1876
    """
    completeness = np.asarray(completeness, dtype=float)
    if completeness.shape[1] != len(z_edges) - 1:
        raise ConfigError(f"completeness has {completeness.shape[1]} z cells for {len(z_edges) - 1} z bins")
    shells = Planck18.comoving_volume(z_edges).to_value("Mpc3")
    fraction = (area / (4 * np.pi * u.sr)).to_value(u.dimensionless_unscaled)
    volumes = np.diff(shells) * fraction
    return np.nan_to_num(completeness) @ volumes * u.Mpc**3


def binned_luminosity_function(
    muv, *, muv_edges: np.ndarray, v_eff: u.Quantity, background: np.ndarray | None = None
) -> QTable:
    """phi per M_UV bin from the candidates' ``muv`` and each bin's ``v_eff``.

    Returns a QTable with ``muv_lo``, ``muv_hi``, ``M_UV`` (bin centre), ``n``,
    ``v_eff``, ``phi`` and its 1-sigma Poisson limits ``phi_lo``/``phi_hi``
    (for ``n = 0``, phi is 0 and ``phi_hi`` the 1-sigma upper limit), in
    Mpc^-3 mag^-1. Bins with no effective volume are left out. ``background``:
    the candidates expected per bin that are not galaxies of the function
    (e.g. what the negated images select), subtracted from the counts and
    their limits (``n`` stays the count, ``background`` is kept beside it).
    """
    muv_edges = np.asarray(muv_edges, dtype=float)
    v_eff = u.Quantity(v_eff, u.Mpc**3)
    if len(v_eff) != len(muv_edges) - 1:
        raise ConfigError(f"{len(v_eff)} effective volumes for {len(muv_edges) - 1} M_UV bins")
    n, _ = np.histogram(np.asarray(u.Quantity(muv, u.mag).value, float), bins=muv_edges)
    lower, upper = poisson_interval(n)
    b = np.zeros(len(n)) if background is None else np.asarray(background, float)
    keep = v_eff.value > 0
    per = np.diff(muv_edges)[keep] * v_eff.value[keep]
    unit = u.Mpc**-3 / u.mag
    table = QTable(
        {
            "muv_lo": muv_edges[:-1][keep] * u.mag,
            "muv_hi": muv_edges[1:][keep] * u.mag,
            "M_UV": 0.5 * (muv_edges[:-1] + muv_edges[1:])[keep] * u.mag,
            "n": n[keep],
            "v_eff": v_eff[keep],
            "phi": np.maximum(n - b, 0)[keep] / per * unit,
            "phi_lo": np.maximum(lower - b, 0)[keep] / per * unit,
            "phi_hi": np.maximum(upper - b, 0)[keep] / per * unit,
        }
    )
    if background is not None:
        table["background"] = b[keep]
    return table


#: Parameters of each model and the box of the flat priors (log10 phi* in Mpc^-3).
_MODELS = {
    "double_power_law": (("m_star", "alpha", "beta", "log_phi_star"),
                         ((-24.0, -17.0), (-4.0, -1.0), (-7.0, -2.5), (-8.0, -1.0))),
    "schechter": (("m_star", "alpha", "log_phi_star"), ((-24.0, -17.0), (-3.5, -0.5), (-8.0, -1.0))),
}  # fmt: skip


def _model_function(model: str, values: Mapping[str, float]):
    phi_star = 10 ** values["log_phi_star"]
    if model == "schechter":
        return Schechter(values["m_star"], values["alpha"], phi_star)
    return DoublePowerLaw(values["m_star"], values["alpha"], values["beta"], phi_star)


@dataclass
class LuminosityFunctionFit:
    """Posterior samples of a luminosity-function fit, with their medians and 68% ranges."""

    model: str
    names: tuple[str, ...]
    samples: np.ndarray  #: (n_samples, n_free) after burn-in, thinned
    fixed: dict

    def values(self, q: float = 50.0) -> dict[str, float]:
        """The ``q``-th percentile of every free parameter, with the fixed ones."""
        return {**self.fixed, **dict(zip(self.names, np.percentile(self.samples, q, axis=0)))}

    def summary(self) -> QTable:
        lo, mid, hi = (np.percentile(self.samples, q, axis=0) for q in (16, 50, 84))
        return QTable({"parameter": list(self.names), "median": mid, "minus": mid - lo, "plus": hi - mid})

    def function(self):
        """The model at the posterior medians (a `Schechter` or a `DoublePowerLaw`)."""
        return _model_function(self.model, self.values())

    def functions(self, n_draws: int = 200, seed: int = 0) -> list:
        """The model at ``n_draws`` posterior samples drawn at random (with replacement)."""
        rng = np.random.default_rng(seed)
        draws = self.samples[rng.integers(len(self.samples), size=n_draws)]
        return [_model_function(self.model, {**self.fixed, **dict(zip(self.names, d))}) for d in draws]

    def band(self, muv: np.ndarray, n_draws: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """16th and 84th percentiles of phi(muv) over posterior draws."""
        curves = [function(muv) for function in self.functions(n_draws, seed)]
        return tuple(np.percentile(curves, [16, 84], axis=0))


def expected_counts(function, binned: QTable, *, muv_grid=None, v_eff=None) -> np.ndarray:
    """The candidates that the luminosity function ``function`` gives in each bin of ``binned``.

    As the fits count them (`fit_luminosity_function`): with neither ``muv_grid``
    nor ``v_eff``, the bin's mean phi times its width and its ``v_eff`` column;
    with ``v_eff`` on ``muv_grid``, the integral of phi * V_eff over the bin, or
    with transfer volumes (2-D, a column per row of ``binned``, see
    `bin_volumes`) over every true M_UV. The ``background`` column of
    ``binned``, where it has one, is added.

    Examples
    --------
    >>> import astropy.units as u
    >>> from astropy.table import QTable
    >>> bins = QTable({"muv_lo": [-21.0] * u.mag, "muv_hi": [-20.0] * u.mag, "v_eff": [1e4] * u.Mpc**3})
    >>> float(expected_counts(lambda m: np.full(np.shape(m), 1e-4), bins)[0])
    1.0
    """
    grid = None if v_eff is None else (np.asarray(muv_grid, float), u.Quantity(v_eff, u.Mpc**3).value)
    background = np.asarray(binned["background"], float) if "background" in binned.colnames else 0.0
    return _function_counts(function, binned, grid) + background


def _expected_counts(model, values, binned: QTable, v_eff_grid=None) -> np.ndarray:
    return _function_counts(_model_function(model, values), binned, v_eff_grid)


def _function_counts(function, binned: QTable, v_eff_grid=None) -> np.ndarray:
    lo, hi = binned["muv_lo"].to_value(u.mag), binned["muv_hi"].to_value(u.mag)
    if v_eff_grid is None:
        return bin_averages(function, lo, hi, n_sub=8) * (hi - lo) * binned["v_eff"].to_value(u.Mpc**3)
    grid, volume = v_eff_grid
    if volume.ndim == 2:  # transfer volumes: every true M_UV feeds every measured bin
        return (function(grid) * np.gradient(grid)) @ volume
    counts = []
    for a, b in zip(lo, hi):
        inside = (grid >= a) & (grid <= b)
        counts.append(np.mean(function(grid[inside]) * volume[inside]) * (b - a))
    return np.array(counts)


def fit_luminosity_function(
    binned: QTable,
    *,
    model: str = "double_power_law",
    fixed: Mapping[str, float] | None = None,
    n_walkers: int = 32,
    n_steps: int = 3000,
    burn: int = 1000,
    seed: int = 0,
    v_eff_grid: tuple[np.ndarray, u.Quantity] | None = None,
) -> LuminosityFunctionFit:
    """Fit a ``"double_power_law"`` or ``"schechter"`` to binned counts with emcee.

    The likelihood is Poisson: bin i holds ``n_i`` candidates where the model
    predicts ``V_eff,i * integral of phi over the bin``, so empty bins count
    too. Priors are flat over broad boxes; ``fixed`` holds parameters kept at
    a value (e.g. ``{"beta": -3.5}`` when the bright end is not sampled).
    ``v_eff_grid`` = (M_UV grid, V_eff on it) makes the expected counts the
    integral of phi * V_eff over each bin instead of using the bins' ``v_eff``;
    with transfer volumes (a 2-D V_eff, one column per row of ``binned``, see
    `bin_volumes`) each bin's count is the integral of phi times its column
    over every true M_UV. A ``background`` column of ``binned`` (candidates
    expected that are not galaxies of the function) adds to the expected counts.
    """
    import emcee

    if model not in _MODELS:
        raise ConfigError(f"unknown model {model!r}; choose one of {sorted(_MODELS)}")
    names, boxes = _MODELS[model]
    fixed = dict(fixed or {})
    unknown = set(fixed) - set(names)
    if unknown:
        raise ConfigError(f"{model} has no parameters {sorted(unknown)}; it has {list(names)}")
    free = [(n, b) for n, b in zip(names, boxes) if n not in fixed]
    counts = np.asarray(binned["n"], dtype=float)
    background = np.asarray(binned["background"], float) if "background" in binned.colnames else 0.0
    if v_eff_grid is not None:
        v_eff_grid = (np.asarray(v_eff_grid[0], float), u.Quantity(v_eff_grid[1], u.Mpc**3).value)
        if v_eff_grid[1].ndim == 2 and v_eff_grid[1].shape[1] != len(binned):
            raise ConfigError(f"{v_eff_grid[1].shape[1]} columns of transfer volumes for {len(binned)} bins")

    def log_probability(theta):
        if any(not lo < t < hi for t, (_, (lo, hi)) in zip(theta, free)):
            return -np.inf
        values = {**fixed, **{n: t for (n, _), t in zip(free, theta)}}
        if model == "double_power_law" and values["beta"] >= values["alpha"]:
            return -np.inf  # the bright end must fall faster than the faint end
        mu = _expected_counts(model, values, binned, v_eff_grid) + background
        return float(np.sum(counts * np.log(np.maximum(mu, 1e-300)) - mu))

    rng = np.random.default_rng(seed)
    start = _starting_point(log_probability, free, rng, n_walkers)
    sampler = emcee.EnsembleSampler(n_walkers, len(free), log_probability)
    sampler.random_state = np.random.RandomState(int(rng.integers(2**31))).get_state()
    sampler.run_mcmc(start, n_steps, progress=False)
    samples = sampler.get_chain(discard=burn, thin=10, flat=True)
    return LuminosityFunctionFit(model, tuple(n for n, _ in free), samples, fixed)


def _starting_point(log_probability, free, rng, n_walkers: int) -> np.ndarray:
    """Walkers in a small ball around the best of a few thousand prior draws."""
    lo, hi = np.array([b for _, b in free]).T
    draws = rng.uniform(lo, hi, size=(4000, len(free)))
    best = draws[np.argmax([log_probability(d) for d in draws])]
    ball = best + 1e-3 * (hi - lo) * rng.standard_normal((n_walkers, len(free)))
    return np.clip(ball, lo + 1e-6, hi - 1e-6)


def literature_luminosity_functions(z_range: tuple[float, float] | None = None) -> QTable:
    """Published binned JWST UV luminosity functions at z ~ 9-16 (``science/data/uvlf_literature.ecsv``).

    Columns: ``reference``, ``bibcode``, ``z``, ``M_UV``, ``phi``, ``phi_err_lo``,
    ``phi_err_hi`` (Mpc^-3 mag^-1) and ``upper_limit``. ``z_range`` keeps the
    rows whose redshift lies within it.
    """
    path = resources.files("asteris.science") / "data" / "uvlf_literature.ecsv"
    with resources.as_file(path) as file:
        table = QTable.read(file, format="ascii.ecsv")
    if z_range is not None:
        table = table[(table["z"] >= z_range[0]) & (table["z"] <= z_range[1])]
    return table


def measure_luminosity_function(
    muv,
    *,
    muv_edges: np.ndarray,
    muv_grid: np.ndarray,
    v_eff_grid: u.Quantity,
    migration: np.ndarray | None = None,
    background: np.ndarray | None = None,
    model: str = "double_power_law",
    fixed: Mapping[str, float] | None = None,
    n_steps: int = 1500,
    burn: int = 500,
    seed: int = 0,
) -> tuple[QTable, LuminosityFunctionFit]:
    """Binned phi and a model fit from the candidates' ``muv`` and ``V_eff`` on a fine M_UV grid.

    The model is fitted by forward modelling (each bin's expected count is the
    integral of phi * V_eff over it, `fit_luminosity_function`); the binned phi
    then divides each bin's count by its V_eff averaged with the fitted
    function as the weight (`bin_volumes`), so a steep function whose galaxies
    crowd a bin's faint edge is not overestimated there. With ``migration``
    (`migration_matrix`, true M_UV on ``muv_grid`` by measured bin) the model
    also carries galaxies from the true M_UV where ``V_eff`` holds to the
    measured M_UV at which candidates are counted: the numerous faint
    galaxies scattered into brighter bins are then expected, not taken for
    bright ones. ``background`` (expected non-galaxy candidates per bin, see
    `binned_luminosity_function`) enters the fit's expected counts and is
    subtracted from the binned ones.
    """
    volume = u.Quantity(v_eff_grid, u.Mpc**3)
    if migration is not None:
        volume = volume[:, None] * np.asarray(migration, float)  # transfer volumes, a column per bin
    flat_volumes = bin_volumes(muv_grid, volume, muv_edges)
    flat = binned_luminosity_function(muv, muv_edges=muv_edges, v_eff=flat_volumes, background=background)
    fitted = volume if volume.ndim == 1 else volume[:, flat_volumes.value > 0]  # the bins kept
    fit = fit_luminosity_function(flat, model=model, fixed=fixed, n_steps=n_steps, burn=burn, seed=seed,
                                  v_eff_grid=(muv_grid, fitted))  # fmt: skip
    volumes = bin_volumes(muv_grid, volume, muv_edges, weight=fit.function())
    return binned_luminosity_function(muv, muv_edges=muv_edges, v_eff=volumes, background=background), fit
