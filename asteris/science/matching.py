"""Matching detections to injected sources and fitting completeness against magnitude.

Plain functions, tested on hand-built inputs: `match_positions` pairs points
one to one, closest first; `binned_fraction` and `fit_completeness` give the
fraction recovered against magnitude; `completeness_magnitude` the magnitude
at a completeness level (m90 by default).
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import minimize
from scipy.spatial import cKDTree

from ..errors import ConfigError

__all__ = ["match_positions", "binned_fraction", "fit_completeness", "completeness_magnitude",
           "COMPLETENESS_LEVEL"]  # fmt: skip

COMPLETENESS_LEVEL = 0.9


def match_positions(x1, y1, x2, y2, radius: float) -> np.ndarray:
    """For each point 1, the index of its one-to-one partner among points 2 within ``radius``, else -1.

    Pairs are made closest first, so each point 2 serves at most one point 1.

    >>> match_positions([0, 10], [0, 0], [0.5, 10.2, 30], [0, 0, 0], 1.0).tolist()
    [0, 1]
    """
    x1, y1, x2, y2 = (np.asarray(v, dtype=float) for v in (x1, y1, x2, y2))
    out = np.full(len(x1), -1)
    if len(x1) == 0 or len(x2) == 0:
        return out
    k = min(4, len(x2))
    dist, idx = cKDTree(np.column_stack([x2, y2])).query(
        np.column_stack([x1, y1]), k=k, distance_upper_bound=radius
    )
    dist, idx = dist.reshape(len(x1), k), idx.reshape(len(x1), k)
    taken = np.zeros(len(x2), bool)
    for flat in np.argsort(dist, axis=None):
        i, j = np.unravel_index(flat, dist.shape)
        if not np.isfinite(dist[i, j]):
            break
        if out[i] < 0 and not taken[idx[i, j]]:
            out[i], taken[idx[i, j]] = idx[i, j], True
    return out


def binned_fraction(values, flags, bins) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Bin centres, the fraction of True ``flags`` per bin of ``values`` (NaN if empty), and counts.

    >>> c, f, n = binned_fraction([1.1, 1.2, 2.5, 2.6], [True, True, True, False], [1, 2, 3])
    >>> c.tolist(), f.tolist(), n.tolist()
    ([1.5, 2.5], [1.0, 0.5], [2, 2])
    """
    values, flags, bins = np.asarray(values, float), np.asarray(flags, bool), np.asarray(bins, float)
    idx = np.digitize(values, bins) - 1
    inside = (idx >= 0) & (idx < len(bins) - 1)
    counts = np.bincount(idx[inside], minlength=len(bins) - 1)
    hits = np.bincount(idx[inside], weights=flags[inside], minlength=len(bins) - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        fraction = np.where(counts > 0, hits / counts, np.nan)
    return 0.5 * (bins[1:] + bins[:-1]), fraction, counts


def fit_completeness(mags, recovered) -> tuple[float, float, float]:
    """Maximum-likelihood logistic completeness ``C(m) = c_max / (1 + exp((m - m50) / width))``.

    Fitted to the unbinned recovered flags, so sparse bins do not pull it
    around. Returns ``(m50, width, c_max)``; ``c_max`` is bounded to [0.5, 1].

    >>> rng = np.random.default_rng(0)
    >>> m = rng.uniform(24, 30, 4000)
    >>> hit = rng.uniform(size=m.size) < 1 / (1 + np.exp((m - 27.0) / 0.3))
    >>> m50, width, c_max = fit_completeness(m, hit)
    >>> round(m50, 1), round(width, 1), round(c_max, 2)
    (27.0, 0.3, 1.0)
    """
    mags, hit = np.asarray(mags, float), np.asarray(recovered, bool)
    if mags.size < 5 or hit.all() or not hit.any():
        raise ConfigError("a completeness fit needs sources both recovered and missed")

    def nll(p):
        c = np.clip(p[2] / (1 + np.exp(np.clip((mags - p[0]) / p[1], -50, 50))), 1e-9, 1 - 1e-9)
        return -np.sum(np.where(hit, np.log(c), np.log1p(-c)))

    bounds = [(mags.min() - 2, mags.max() + 2), (0.02, 3.0), (0.5, 1.0)]
    # the likelihood has shallow side valleys (a low plateau with a wide roll-off) where a local search
    # from one guess can stop: start from the best point of a coarse grid over the whole range
    grid = np.stack(np.meshgrid(np.linspace(mags.min() - 0.5, mags.max() + 0.5, 41), [0.05, 0.15, 0.4, 1.0],
                                [0.8, 0.95, 1.0], indexing="ij"), -1).reshape(-1, 3)  # fmt: skip
    x = np.clip((mags[None, :] - grid[:, :1]) / grid[:, 1:2], -50, 50)
    c = np.clip(grid[:, 2:3] / (1 + np.exp(x)), 1e-9, 1 - 1e-9)
    start = grid[np.argmin(-np.sum(np.where(hit, np.log(c), np.log1p(-c)), axis=1))]
    # Nelder-Mead: as exact here, and no BLAS, whose threads spin under load (L-BFGS-B took 10x as long)
    best = minimize(nll, start, bounds=bounds, method="Nelder-Mead", options={"xatol": 1e-4, "fatol": 1e-6})
    return float(best.x[0]), float(best.x[1]), float(best.x[2])


def completeness_magnitude(
    m50: float, width: float, c_max: float, level: float = COMPLETENESS_LEVEL
) -> float:
    """The magnitude where the fitted completeness equals ``level`` (NaN if its plateau is below it).

    >>> round(completeness_magnitude(27.0, 0.3, 1.0), 3)
    26.341
    """
    if c_max <= level:
        return float("nan")
    return float(m50 + width * np.log(c_max / level - 1))


