"""The luminosity function of all finished pointings of a survey, with its error budget."""

from __future__ import annotations

import os

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ...errors import ConfigError
from .config import SurveyConfig
from .read import (
    SurveyRun,
    histograms_by_pointing,
    pointing_tables,
    survey_background,
    survey_candidates,
    survey_injections,
)
from .run import effective_volumes

__all__ = ["survey_luminosity_function"]


def survey_luminosity_function(
    run_dir: str | os.PathLike,
    method: str,
    *,
    muv_edges: np.ndarray,
    fixed: dict | None = None,
    migration: bool = True,
    subtract_negated: bool = True,
    subtract_interlopers: bool = True,
    subtract_posterior: bool = False,
    subtract_modelled: bool = False,
    migration_width: float = 0.25,
    population_weighted: bool = False,
    bootstrap: int = 0,
    min_completeness: float = 0.0,
    injections: str | None = None,
    reference=None,
    fit_steps: int = 1500,
    seed: int = 0,
):
    """The binned luminosity function and its double-power-law fit from all finished pointings.

    Counts are summed over pointings and so are the effective volumes, each
    pointing's own (its completeness from its own injections, times its
    footprint's area and its density boost, which a mock field carries and the
    sky does not); candidates off a pointing's footprint are not counted.
    With ``migration`` the scatter of measured about true M_UV, from the
    selected injections of all pointings together, enters the fit and the
    bins' volumes (`~asteris.science.migration_matrix`); with
    ``population_weighted`` each injection counts in it by the comoving volume
    at its z (`~asteris.science.uvlf.population_weights`), as the sky's
    galaxies are distributed, rather than uniformly in z as drawn. With
    ``subtract_negated`` the candidates that the same search selected on the
    negated images of all pointings are the expected non-galaxy candidates of
    each bin: noise and the method's own features, which a source-free sky
    gives either sign. With ``subtract_interlopers`` the low-z galaxies
    expected among the candidates (`survey_interlopers`) join them; with
    ``subtract_posterior`` the candidates' own probabilities of lying at low z
    do instead, with ``subtract_modelled`` a model of the sky's objects put
    through each pointing's noise and selection (`survey_modelled_interlopers`;
    `survey_background`). This background is subtracted from the
    counts and added to the fit's expected counts.

    ``bootstrap`` > 0 draws the pointings again with replacement that many
    times and gives each bin an error budget: ``sd_counts`` (the spread of the
    summed counts between draws, which holds the variance between pointings
    as well as Poisson's), ``rel_err_volume`` (the relative spread of the
    bin's effective volume, recomputed from the drawn pointings'
    injections: the completeness's own error) and ``phi_lo``/``phi_hi`` from
    both (the counts' part the wider of the Poisson interval and
    ``sd_counts``), with the Poisson-only limits kept as
    ``phi_lo_poisson``/``phi_hi_poisson``. The volume's part holds
    ``rel_err_shape`` too: the relative spread of the bin's volume over 100
    draws of the fit's posterior, since the fitted function weights where in
    the bin, and from which true M_UV, its galaxies come. Every bin gets ``completeness``,
    its effective volume over the volume it would have if every galaxy were
    found, and ``tested``: at least five candidates and ``completeness`` at
    least ``min_completeness``. The fit uses every bin: the forward model
    carries the faint end. ``n_fit`` is each bin's expected count under the
    fit (through the same transfer, background included), and ``n_reference``
    under ``reference`` (a function of M_UV, such as the input of a mock)
    where one is given. ``fit_steps``: the emcee steps of the fit, a third of
    them burn-in.

    ``injections``: the name of another table of injections in each
    pointing's folder (columns as ``recovery.ecsv``, for example galaxies
    drawn otherwise and put through the same chain): the completeness, the
    effective volumes and the migration then come from it instead.

    Returns
    -------
    binned : `~astropy.table.QTable`
        As `~asteris.science.uvlf.measure_luminosity_function`, with ``v_eff`` the
        sky volume (boost removed).
    fit : `~asteris.science.uvlf.LuminosityFunctionFit`
    totals : dict
        ``pointings``, ``area_arcmin2`` and ``candidates``.
    """
    from ..uvlf import bin_volumes, expected_counts, measure_luminosity_function

    run = SurveyRun.open(run_dir)
    config, summaries = run.config, run.summaries
    ran = ("coadd", "asteris") if config.train is not None else ("coadd",)
    if method not in ran:
        raise ConfigError(f"the survey in {run.folder} ran {' and '.join(ran)}, not {method!r}")
    candidates = survey_candidates(run, method)
    boosts = np.array([s["boost"] for s in summaries])
    if injections is None:
        sky = np.array([s["v_eff_mpc3"][method] for s in summaries])
        injected = survey_injections(run) if migration else None
    else:
        injected = pointing_tables(run, injections)
        sky = np.array([_pointing_volume(injected, s, method, config) for s in summaries])
        injected = injected if migration else None
    moved = _migration(injected, method, config, muv_edges, migration_width, population_weighted)
    if subtract_interlopers + subtract_posterior + subtract_modelled > 1:
        raise ConfigError("the dimmed interlopers, the candidates' posteriors and the modelled interlopers "
                          "estimate the same low-z galaxies: subtract one of them")  # fmt: skip
    parts = survey_background(run, method, muv_edges=muv_edges, negated=subtract_negated,
                              interlopers=subtract_interlopers, posterior=subtract_posterior,
                              modelled=subtract_modelled, by_pointing=True)  # fmt: skip
    background = sum(parts.values()) if parts else None
    counted = np.sum(sky * boosts[:, None], axis=0) * u.Mpc**3
    summed = None if background is None else background.sum(axis=0)
    binned, fit = measure_luminosity_function(candidates["M_UV"], muv_edges=muv_edges,
                                              muv_grid=config.muv_grid, v_eff_grid=counted, migration=moved,
                                              background=summed, fixed=fixed, n_steps=fit_steps,
                                              burn=fit_steps // 3, seed=seed)  # fmt: skip
    total_sky = np.sum(sky, axis=0) * u.Mpc**3
    sky_volume = total_sky if moved is None else total_sky[:, None] * moved
    volumes = bin_volumes(config.muv_grid, sky_volume, muv_edges, weight=fit.function())
    kept = volumes.value > 0  # the bins binned keeps: the fitted phi is positive
    counted_bins = binned["v_eff"].value  # boost included: what phi divides by
    binned["v_eff"] = volumes[kept]
    flat = bin_volumes(config.muv_grid, total_sky, muv_edges, weight=fit.function())
    full = _full_volume(summaries, config)
    binned["completeness"] = (flat / full).to_value(u.dimensionless_unscaled)[kept]
    enough = np.asarray(binned["completeness"]) >= min_completeness
    binned["tested"] = (np.asarray(binned["n"]) >= 5) & enough
    transfer = counted if moved is None else counted[:, None] * moved
    expected = {"n_fit": fit.function()} | ({} if reference is None else {"n_reference": reference})
    for column, function in expected.items():
        binned[column] = expected_counts(function, binned, muv_grid=config.muv_grid,
                                         v_eff=transfer if moved is None else transfer[:, kept])  # fmt: skip
    if bootstrap:
        draws = _pointing_bootstrap(candidates, summaries, sky * boosts[:, None], injected, background,
                                    method=method, config=config, muv_edges=muv_edges, weight=fit.function(),
                                    width=migration_width, population_weighted=population_weighted,
                                    n_boot=bootstrap, seed=seed)  # fmt: skip
        shapes = [bin_volumes(config.muv_grid, sky_volume, muv_edges, weight=f).value[kept]
                  for f in fit.functions(100, seed=seed)]  # fmt: skip
        budget = {"sd_counts": np.std(draws["counts"], axis=0)[kept],
                  "rel_err_volume": np.std(draws["volumes"], axis=0)[kept] / counted_bins,
                  "rel_err_shape": np.std(shapes, axis=0) / volumes.value[kept]}  # fmt: skip
        _add_budget(binned, budget, per_count=1.0 / (counted_bins * np.diff(muv_edges)[kept]))
    totals = {"pointings": len(summaries), "area_arcmin2": float(sum(s["area_arcmin2"] for s in summaries)),
              "candidates": len(candidates)}  # fmt: skip
    return binned, fit, totals


def _pointing_volume(injected: QTable, summary: dict, method: str, config: SurveyConfig) -> list:
    """One pointing's V_eff of ``method`` on the survey's M_UV grid, from its rows of ``injected``."""
    mine = injected[np.asarray(injected["pointing"]) == summary["name"]]
    return effective_volumes(mine, [method], config, summary["area_arcmin2"] * u.arcmin**2)[method]


def _migration(injected, method, config, muv_edges, width, population_weighted, multiplicity=None):
    """The migration matrix of ``method``'s selected injections (None without injections), each counted
    by ``multiplicity`` (per row: how often its pointing was drawn) and by its z's population weight."""
    from ..uvlf import migration_matrix, population_weights

    if injected is None:
        return None
    chosen = np.asarray(injected[f"{method}_selected"], bool)
    weights = np.ones(len(injected)) if multiplicity is None else np.asarray(multiplicity, float)
    if population_weighted and "z_weight" in injected.colnames:  # drawn as a population: as recorded
        weights = weights * np.asarray(injected["z_weight"], float)
    elif population_weighted:  # drawn uniformly in z
        z_range = (config.z_edges[0], config.z_edges[-1])
        weights = weights * population_weights(np.asarray(injected["z"], float), z_range=z_range)
    chosen &= weights > 0
    return migration_matrix(u.Quantity(injected["M_UV"][chosen], u.mag).value,
                            u.Quantity(injected[f"{method}_M_UV"][chosen], u.mag).value,
                            muv_grid=config.muv_grid, muv_edges=muv_edges, width=width,
                            weights=weights[chosen])  # fmt: skip


def _full_volume(summaries, config: SurveyConfig) -> u.Quantity:
    """The comoving volume of the pointings' footprints over the survey's z range: V_eff at completeness 1."""
    from ..uvlf import effective_volume

    area = sum(s["area_arcmin2"] for s in summaries) * u.arcmin**2
    z_edges = np.asarray(config.z_edges)
    return effective_volume(np.ones((1, len(z_edges) - 1)), z_edges=z_edges, area=area)[0]


def _pointing_bootstrap(candidates, summaries, volumes, injected, background, *, method, config, muv_edges,
                        weight, width, population_weighted, n_boot, seed) -> dict:  # fmt: skip
    """The summed counts (less their background) and bin volumes of ``n_boot`` draws of the pointings
    with replacement, each an array of one row per draw."""
    from ..uvlf import bin_volumes

    names = [s["name"] for s in summaries]
    index = {n: i for i, n in enumerate(names)}
    per_pointing = histograms_by_pointing(candidates, names, muv_edges)
    if background is not None:
        per_pointing = per_pointing - background
    injected_at = None if injected is None else np.array([index[n] for n in np.asarray(injected["pointing"])])
    rng = np.random.default_rng(seed)
    counts, bins = [], []
    for _ in range(n_boot):
        k = np.bincount(rng.integers(0, len(names), len(names)), minlength=len(names)).astype(float)
        drawn = (k @ volumes) * u.Mpc**3
        if injected is not None:
            try:
                moved = _migration(injected, method, config, muv_edges, width, population_weighted,
                                   multiplicity=k[injected_at])  # fmt: skip
            except ConfigError:  # the pointings drawn selected no injection: a draw that says nothing
                continue
            drawn = drawn[:, None] * moved
        counts.append(k @ per_pointing)
        bins.append(bin_volumes(config.muv_grid, drawn, muv_edges, weight=weight).value)
    if not counts:
        raise ConfigError("no draw of the pointings holds a selected injection: too few to bootstrap")
    return {"counts": np.array(counts), "volumes": np.array(bins)}


def _add_budget(binned: QTable, budget: dict, *, per_count: np.ndarray) -> None:
    """Each bin's phi interval from its counts' part (Poisson, or the pointings' spread where wider)
    and its volume's, added in quadrature; ``per_count``: phi of one candidate in each bin."""
    from ..uvlf import poisson_interval

    n = np.asarray(binned["n"], float)
    phi = binned["phi"]
    lower, upper = poisson_interval(n)
    binned["phi_lo_poisson"], binned["phi_hi_poisson"] = binned["phi_lo"], binned["phi_hi"]
    up = np.maximum(upper - n, budget["sd_counts"]) * per_count
    down = np.maximum(n - lower, budget["sd_counts"]) * per_count
    relative = np.hypot(np.nan_to_num(budget["rel_err_volume"]), np.nan_to_num(budget["rel_err_shape"]))
    volume = relative * phi.value
    for column in ("sd_counts", "rel_err_volume", "rel_err_shape"):
        binned[column] = budget[column]
    binned["phi_hi"] = np.maximum(phi.value + np.hypot(up, volume), binned["phi_hi"].value) * phi.unit
    binned["phi_lo"] = np.maximum(phi.value - np.hypot(down, volume), 0.0) * phi.unit
