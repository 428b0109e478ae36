"""Closure of injection-recovery: the field's own galaxies against copies of themselves.

Injected galaxies stand in for the sky's: their completeness and the scatter of
their measured M_UV turn candidates into a luminosity function. On a mock
pointing, whose truth is known, that can be checked directly. Every z > 8.5
galaxy of the truth catalogue is copied, with its exact profile, size,
per-band magnitudes, z and M_UV, to random empty positions through the same
injection road as the survey's injected galaxies (`high_z_recovery` with
``sources``), and searched the same way. The originals, found by the field's
own search, and their copies should then come through the chain alike:
detected as often, selected as often, measured with the same offset from
their true M_UV. `closure_table` compares them per true M_UV bin, with
errors bootstrapped over pointings.

Examples
--------
>>> import astropy.units as u
>>> rows = QTable({"kind": ["original", "copy"] * 4, "pointing": ["a"] * 4 + ["b"] * 4,
...                "M_UV": [-20.2] * 8 * u.mag, "coadd_detected": [True] * 8,
...                "coadd_selected": [True, True, False, False] * 2, "coadd_M_UV": [-20.3] * 8 * u.mag})
>>> table = closure_table(rows, ["coadd"], muv_edges=[-20.5, -20.0], n_boot=50)
>>> float(table["selected_original"][0]), float(table["selected_copy"][0])
(0.5, 0.5)
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack

from ..errors import ConfigError
from .highz import high_z_recovery, on_footprint, recovered_columns

__all__ = [
    "field_high_z_galaxies",
    "closure_pointing",
    "closure_table",
    "closure_significance",
    "injection_statistics",
    "weighted_median",
    "CLOSURE_STATISTICS",
]

#: The statistics compared per bin: the fractions detected, selected and selected given detected,
#: and the median measured-minus-true M_UV of the selected.
CLOSURE_STATISTICS = ("detected", "selected", "selected_given_detected", "offset")


def field_high_z_galaxies(
    truth: QTable, *, shape: tuple[int, int], z_min: float = 8.5, inside: np.ndarray | None = None
) -> QTable:
    """The truth's z > ``z_min`` galaxies inside an image of ``shape`` (H, W), with ``covered``: whether
    each lies on ``inside`` (a boolean map such as `~asteris.science.highz.footprint`; all True if None)."""
    x, y = np.asarray(truth["x"], float), np.asarray(truth["y"], float)
    on_image = (x >= 0) & (x < shape[1]) & (y >= 0) & (y < shape[0])
    high_z = (np.asarray(truth["type"]) == "high_z") & (np.asarray(truth["z"], float) > z_min)
    galaxies = QTable(truth[on_image & high_z], copy=True)
    galaxies["covered"] = np.ones(len(galaxies), bool) if inside is None else on_footprint(inside, galaxies)
    return galaxies


def closure_pointing(
    stacks: Mapping,
    renderers: Mapping,
    methods: Mapping,
    filters: Mapping[str, str],
    truth: QTable,
    found: Mapping[str, QTable],
    *,
    copies: int = 2,
    n_per_realization: int = 40,
    inside: np.ndarray | None = None,
    detection_bands: Sequence[str] | None = None,
    measure_with=None,
    match_radius: float = 2.0,
    seed: int = 0,
    progress: bool = False,
) -> QTable:
    """The field's z > 8.5 galaxies and ``copies`` copies of each, through one pointing's chain.

    Parameters
    ----------
    stacks, renderers, methods, filters, detection_bands, measure_with
        As in `~asteris.science.highz.high_z_recovery`; the pointing's own stacks, without injections.
    truth : `~astropy.table.QTable`
        The pointing's truth catalogue (a mock field's ``catalog``).
    found : dict of method -> `~astropy.table.QTable`
        Each method's search of the field itself (`~asteris.science.highz.search_high_z`), made as
        the survey makes it; the originals are matched to it.
    copies : int
        Copies of every original, each placed at its own random position.
    inside : 2D bool array, optional
        The survey's footprint: originals off it are flagged ``covered`` False.

    Returns
    -------
    `~astropy.table.QTable`
        One row per original (``kind`` "original") and per copy ("copy"): ``source`` (the
        original's row), ``M_UV``, ``z``, ``x``, ``y``, ``covered`` and per method the columns of
        `~asteris.science.highz.recovered_columns`.
    """
    if copies < 1:
        raise ConfigError(f"a closure test needs at least one copy per galaxy, got copies={copies}")
    missing = sorted(set(methods) - set(found))
    if missing:
        raise ConfigError(f"no search of the field itself for methods {missing}")
    shape = next(iter(stacks.values())).data.shape[1:]
    originals = field_high_z_galaxies(truth, shape=shape, inside=inside)
    rows = _rows(originals, "original", np.arange(len(originals)))
    for name in methods:
        rows.update(recovered_columns(originals, found[name], name, radius=match_radius))
    if len(originals) == 0:
        return rows
    repeated = vstack([originals] * copies)
    injected = high_z_recovery(stacks, renderers, methods, filters, n_per_realization=n_per_realization,
                               detection_bands=detection_bands, measure_with=measure_with, sources=repeated,
                               match_radius=match_radius, seed=seed, progress=progress)  # fmt: skip
    source = np.asarray(injected["source"]) % len(originals)
    copied = _rows(injected, "copy", source)
    copied["covered"] = np.ones(len(copied), bool)  # placed on the footprint
    for column in rows.colnames[len(copied.colnames) :]:  # each method's recovered columns
        copied[column] = injected[column]
    return vstack([rows, copied])


def _rows(galaxies: QTable, kind: str, source: np.ndarray) -> QTable:
    out = QTable({"kind": np.full(len(galaxies), kind, dtype="U8"), "source": source})
    out["M_UV"] = u.Quantity(galaxies["M_UV"], u.mag)
    out["z"] = np.asarray(galaxies["z"], float)
    out["x"], out["y"] = np.asarray(galaxies["x"], float), np.asarray(galaxies["y"], float)
    if "covered" in galaxies.colnames:
        out["covered"] = np.asarray(galaxies["covered"], bool)
    return out


def _outcomes(table: QTable, method: str, true: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per row, whether ``method`` detected and selected it, and its measured minus ``true`` M_UV."""
    detected = np.asarray(table[f"{method}_detected"], bool)
    selected = np.asarray(table[f"{method}_selected"], bool)
    return detected, selected, u.Quantity(table[f"{method}_M_UV"], u.mag).value - true


def _statistics(detected, selected, offset, weights=None) -> np.ndarray:
    """`CLOSURE_STATISTICS` of some galaxies, each counted ``weights`` times (default once)."""
    w = np.ones(detected.size) if weights is None else np.asarray(weights, float)
    total, found = w.sum(), w[detected].sum()
    picked = selected & np.isfinite(offset)
    return np.array([
        w[detected].sum() / total if total > 0 else np.nan,
        w[selected].sum() / total if total > 0 else np.nan,
        w[selected].sum() / found if found > 0 else np.nan,
        weighted_median(offset[picked], w[picked]),
    ])  # fmt: skip


def weighted_median(values, weights) -> float:
    """The value below which half the weight lies (NaN for no values).

    >>> weighted_median([1.0, 2.0, 3.0], [1.0, 1.0, 5.0])
    3.0
    """
    values, weights = np.asarray(values, float), np.asarray(weights, float)
    if values.size == 0 or weights.sum() <= 0:
        return np.nan
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, 0.5 * cumulative[-1])])


def injection_statistics(
    recovery: QTable, methods: Sequence[str], *, muv_edges: Sequence[float], weights=None
) -> QTable:
    """`CLOSURE_STATISTICS` of injected galaxies (`~asteris.science.highz.high_z_recovery` rows) per
    method and true M_UV bin, each galaxy counted ``weights`` times: for example
    `~asteris.science.uvlf.population_weights` of its z, to compare the survey's injections, uniform
    in z, with the field's own galaxies, which follow the comoving volume."""
    edges = np.asarray(muv_edges, float)
    true = u.Quantity(recovery["M_UV"], u.mag).value
    w = np.ones(len(recovery)) if weights is None else np.asarray(weights, float)
    rows = []
    for method in methods:
        detected, selected, offset = _outcomes(recovery, method, true)
        for lo, hi in zip(edges[:-1], edges[1:]):
            b = (true >= lo) & (true < hi)
            values = _statistics(detected[b], selected[b], offset[b], w[b])
            rows.append({"method": method, "M_UV": 0.5 * (lo + hi) * u.mag, "n": int(b.sum()),
                         **dict(zip(CLOSURE_STATISTICS, values))})  # fmt: skip
    return QTable(rows=rows)


def closure_table(
    galaxies: QTable,
    methods: Sequence[str],
    *,
    muv_edges: Sequence[float],
    group: str = "pointing",
    n_boot: int = 500,
    covered_only: bool = True,
    seed: int = 0,
) -> QTable:
    """Originals against copies per method and true M_UV bin, with errors bootstrapped over ``group``.

    ``galaxies``: rows of `closure_pointing` from one or more pointings, each named in ``group``.
    For every statistic of `CLOSURE_STATISTICS`: ``<stat>_original``, ``<stat>_copy``, their
    difference ``<stat>_diff`` (original minus copy) and its standard error ``<stat>_err``: the
    spread of the difference when the pointings are drawn again with replacement (``n_boot``
    times), so that it holds the variance between pointings, or when the galaxies are, where that
    is wider (with few pointings the first alone understates it). ``covered_only`` leaves out
    the originals off the footprint, where no copy is placed.
    """
    per_method = (f"{m}_{c}" for m in methods for c in ("detected", "selected", "M_UV"))
    for column in (group, "kind", "M_UV", *per_method):
        if column not in galaxies.colnames:
            raise ConfigError(f"the closure rows have no column {column!r}")
    keep = np.ones(len(galaxies), bool)
    if covered_only and "covered" in galaxies.colnames:
        keep = np.asarray(galaxies["covered"], bool)
    galaxies = galaxies[keep]
    edges = np.asarray(muv_edges, float)
    true = u.Quantity(galaxies["M_UV"], u.mag).value
    kind = np.asarray(galaxies["kind"])
    names, group_index = np.unique(np.asarray(galaxies[group]).astype(str), return_inverse=True)
    rng = np.random.default_rng(seed)
    k = len(names)
    draws = [np.bincount(rng.integers(0, k, k), minlength=k) for _ in range(n_boot)]
    rows = []
    for method in methods:
        detected, selected, offset = _outcomes(galaxies, method, true)
        for lo, hi in zip(edges[:-1], edges[1:]):
            in_bin = (true >= lo) & (true < hi)
            row = {"method": method, "M_UV": 0.5 * (lo + hi) * u.mag}
            sides = {}
            for side in ("original", "copy"):
                chosen = in_bin & (kind == side)
                row[f"n_{side}"] = int(chosen.sum())
                row[f"n_detected_{side}"] = int(np.sum(chosen & detected))
                row[f"n_selected_{side}"] = int(np.sum(chosen & selected))
                sides[side] = (chosen, _statistics(detected[chosen], selected[chosen], offset[chosen]))
            by_pointing = [_difference(weights, group_index, sides, detected, selected, offset)
                           for weights in draws]  # fmt: skip
            by_galaxy = [_difference(None, rng, sides, detected, selected, offset) for _ in range(n_boot)]
            diff = sides["original"][1] - sides["copy"][1]
            with warnings.catch_warnings():  # a statistic with no galaxy in any draw has no spread
                warnings.simplefilter("ignore", RuntimeWarning)
                error = np.fmax(np.nanstd(by_pointing, axis=0), np.nanstd(by_galaxy, axis=0))
            for i, stat in enumerate(CLOSURE_STATISTICS):
                row[f"{stat}_original"], row[f"{stat}_copy"] = sides["original"][1][i], sides["copy"][1][i]
                row[f"{stat}_diff"], row[f"{stat}_err"] = diff[i], error[i]
            rows.append(row)
    return QTable(rows=rows)


def _difference(weights, groups, sides, detected, selected, offset) -> np.ndarray:
    """Original minus copy of every statistic, with each pointing counted ``weights`` times (its index
    per galaxy in ``groups``); without ``weights``, the galaxies of each side drawn again with
    replacement (``groups`` is then the random generator)."""
    values = []
    for side in ("original", "copy"):
        chosen = np.flatnonzero(sides[side][0])
        if weights is None:
            taken = groups.choice(chosen, chosen.size) if chosen.size else chosen
        else:
            taken = np.repeat(chosen, weights[groups[chosen]])
        values.append(_statistics(detected[taken], selected[taken], offset[taken]))
    return values[0] - values[1]


#: The galaxies each statistic is computed from: the bin's, its detected or its selected ones.
_SAMPLE = {"detected": "n", "selected": "n", "selected_given_detected": "n_detected", "offset": "n_selected"}


def closure_significance(table: QTable, *, min_galaxies: int = 10) -> QTable:
    """Per row of `closure_table` and statistic, the difference in units of its error, where both
    sides hold at least ``min_galaxies`` of the galaxies the statistic is computed from (all of
    the bin's for the fractions detected and selected, the detected ones for selected given
    detected, the selected ones for the offset); NaN elsewhere."""
    out = QTable({"method": table["method"], "M_UV": table["M_UV"]})
    for stat in CLOSURE_STATISTICS:
        sample = _SAMPLE[stat]
        enough = np.ones(len(table), bool)
        for side in ("original", "copy"):
            enough &= np.asarray(table[f"{sample}_{side}"]) >= min_galaxies
        diff, error = np.asarray(table[f"{stat}_diff"], float), np.asarray(table[f"{stat}_err"], float)
        with np.errstate(invalid="ignore", divide="ignore"):  # no spread: equal is 0 sigma, else unknown
            sigma = np.where(error > 1e-9, diff / error, np.where(diff == 0, 0.0, np.nan))
        out[stat] = np.where(enough, sigma, np.nan)
    return out
