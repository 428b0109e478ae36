"""Selecting z > 8.5 galaxy candidates, with the reason each object passed or failed.

The criteria follow the published JWST searches (e.g. Donnan et al. 2024,
Finkelstein et al. 2024): a Lyman break (no detection above 2 sigma in any
band entirely blueward of Lyman-alpha), a secure detection (S/N > 5 in each
of the first two bands entirely redward of it), a photometric redshift that
is high with high probability (integrated P(z > 8.5) above a threshold) and
a high-redshift solution that beats the best one forced to low redshift by
Delta chi2 > 4. Lyman-alpha is placed at the best-fitting redshift above
``z_min``, so the same bands are tested for every object whatever its
photometric redshift.

Examples
--------
>>> HighZCriteria().z_min, HighZCriteria.from_dict({"min_p_high_z": 0.5}).min_p_high_z
(8.5, 0.5)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable

from ..config import reject_unknown_keys
from ..errors import ConfigError

__all__ = ["HighZCriteria", "LYMAN_ALPHA", "band_edges", "break_bands", "select_high_z"]

LYMAN_ALPHA = 1215.67  #: rest-frame wavelength, Angstrom
SCHEMA_VERSION = 1


@dataclass(frozen=True)
class HighZCriteria:
    """What a z > ``z_min`` candidate must satisfy; `from_dict` refuses unknown keys."""

    schema_version: int = SCHEMA_VERSION
    z_min: float = 8.5
    blue_max_snr: float = 2.0  #: in every band entirely blueward of Lyman-alpha
    red_min_snr: float = 5.0  #: in each of the first ``red_bands`` bands entirely redward of it
    red_bands: int = 2
    min_p_high_z: float = 0.7  #: integrated P(z > z_min)
    min_delta_chi2: float = 4.0  #: chi2(best z < low_z_max) - chi2(best z > z_min)
    low_z_max: float = 7.0

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ConfigError(
                f"selection criteria schema {self.schema_version}; this version reads {SCHEMA_VERSION}"
            )
        if not 0 <= self.min_p_high_z <= 1:
            raise ConfigError(f"min_p_high_z must lie in [0, 1], got {self.min_p_high_z}")
        if self.low_z_max >= self.z_min or self.red_bands < 1:
            raise ConfigError("need low_z_max < z_min and at least one red band")

    @classmethod
    def from_dict(cls, data: Mapping) -> HighZCriteria:
        reject_unknown_keys(dict(data), cls, "selection")
        return cls(**data)

    def to_dict(self) -> dict:
        return asdict(self)


def band_edges(filters: Mapping[str, str], *, fraction: float = 0.01) -> dict[str, tuple[float, float]]:
    """Blue and red edges (Angstrom) of each band: where its integrated transmission reaches
    ``fraction`` and ``1 - fraction``.

    >>> blue, red = band_edges({"F200W": "jwst_f200w"})["F200W"]
    >>> 17000 < blue < 18000 and 22000 < red < 23000
    True
    """
    from sedpy.observate import load_filters

    out = {}
    for band, curve in zip(filters, load_filters(list(filters.values()))):
        wave, trans = np.asarray(curve.wavelength), np.asarray(curve.transmission)
        cumulative = np.concatenate([[0.0], np.cumsum(0.5 * (trans[1:] + trans[:-1]) * np.diff(wave))])
        cumulative /= cumulative[-1]
        out[band] = (
            float(np.interp(fraction, cumulative, wave)),
            float(np.interp(1 - fraction, cumulative, wave)),
        )
    return out


def _redshift_solutions(photoz: QTable, criteria: HighZCriteria) -> dict[str, np.ndarray]:
    """P(z > z_min), and the best redshift and chi2 above z_min and below low_z_max."""
    grid = np.asarray(photoz.meta["z_grid"])
    high, low = grid >= criteria.z_min, grid <= criteria.low_z_max
    if not high.any() or not low.any():
        raise ConfigError(f"the redshift grid ({grid[0]:.2f}-{grid[-1]:.2f}) must reach below "
                          f"{criteria.low_z_max} and above {criteria.z_min}")  # fmt: skip
    weights = np.gradient(grid)
    prob = np.asarray(photoz["p_z"]) * weights
    chi2 = np.asarray(photoz["chi2_z"])
    return {
        "p_high_z": prob[:, high].sum(1) / prob.sum(1),
        "z_high": grid[high][np.argmin(chi2[:, high], axis=1)],
        "z_low": grid[low][np.argmin(chi2[:, low], axis=1)],
        "delta_chi2": chi2[:, low].min(1) - chi2[:, high].min(1),
    }


def break_bands(z_high: float, edges: dict[str, tuple[float, float]], n_red: int) -> tuple[list, list]:
    """Bands entirely blueward of Lyman-alpha at ``z_high``, and the first ``n_red`` entirely redward."""
    line = LYMAN_ALPHA * (1 + z_high)
    blue = [b for b, (_, red_edge) in edges.items() if red_edge < line]
    red = sorted((b for b, (blue_edge, _) in edges.items() if blue_edge > line), key=lambda b: edges[b][0])
    return blue, red[:n_red]


def _reasons(row: dict, criteria: HighZCriteria) -> list[str]:
    out = []
    if not row["blue_bands"]:
        out.append("no band blueward of Lyman-alpha")
    elif row["max_blue_snr"] >= criteria.blue_max_snr:
        out.append(f"S/N {row['max_blue_snr']:.1f} blueward of Lyman-alpha ({row['blue_bands']})")
    if row["n_red"] < criteria.red_bands:
        out.append(f"only {row['n_red']} band(s) redward of Lyman-alpha")
    elif row["min_red_snr"] <= criteria.red_min_snr:
        out.append(f"S/N {row['min_red_snr']:.1f} redward of Lyman-alpha ({row['red_bands']})")
    if row["p_high_z"] <= criteria.min_p_high_z:
        out.append(f"P(z > {criteria.z_min}) = {row['p_high_z']:.2f}")
    if row["delta_chi2"] <= criteria.min_delta_chi2:
        out.append(f"delta chi2 {row['delta_chi2']:.1f} against z = {row['z_low']:.2f}")
    return out


def select_high_z(
    catalog: QTable,
    photoz: QTable,
    filters: Mapping[str, str],
    *,
    criteria: HighZCriteria | None = None,
) -> QTable:
    """Apply the z > ``z_min`` criteria to every object of a catalogue.

    Parameters
    ----------
    catalog : QTable
        ``id`` and ``f_<band>``/``e_<band>`` per band (`asteris.science.catalog.multiband_catalog`).
    photoz : QTable
        The result of `asteris.science.photoz.photometric_redshifts` for the same rows.
    filters : dict of band -> sedpy filter name
        The bands to test for the break.
    criteria : HighZCriteria, optional

    Returns
    -------
    QTable
        Per object: ``id``, ``z_phot``, ``z_high``, ``z_low``, ``p_high_z``,
        ``delta_chi2``, the bands tested (``blue_bands``, ``red_bands``) with
        ``max_blue_snr`` and ``min_red_snr``, a ``pass_*`` flag per criterion,
        ``selected``, and ``reasons``: why it failed ("" when selected).
        ``meta["criteria"]`` holds the criteria.
    """
    criteria = criteria or HighZCriteria()
    if len(catalog) != len(photoz) or np.any(np.asarray(catalog["id"]) != np.asarray(photoz["id"])):
        raise ConfigError("the catalogue and the photo-z table must hold the same objects in the same order")
    missing = [c for b in filters for c in (f"f_{b}", f"e_{b}") if c not in catalog.colnames]
    if missing:
        raise ConfigError(f"the catalogue lacks the columns {missing}")
    edges = band_edges(filters)
    snr = {b: u.Quantity(catalog[f"f_{b}"]).value / u.Quantity(catalog[f"e_{b}"]).value for b in filters}
    solutions = _redshift_solutions(photoz, criteria)
    rows = []
    for i in range(len(catalog)):
        blue, red = break_bands(solutions["z_high"][i], edges, criteria.red_bands)
        row = {key: value[i] for key, value in solutions.items()}
        row.update(
            blue_bands=",".join(blue), red_bands=",".join(red), n_red=len(red),
            max_blue_snr=max((snr[b][i] for b in blue), default=np.nan),
            min_red_snr=min((snr[b][i] for b in red), default=np.nan),
        )  # fmt: skip
        row["reasons"] = "; ".join(_reasons(row, criteria))
        rows.append(row)
    return _selection_table(catalog, photoz, rows, criteria)


def _selection_table(catalog, photoz, rows: list[dict], criteria: HighZCriteria) -> QTable:
    out = QTable({"id": np.asarray(catalog["id"]), "z_phot": np.asarray(photoz["z_phot"])})
    for key in ("z_high", "z_low", "p_high_z", "delta_chi2", "blue_bands", "max_blue_snr", "red_bands",
                "min_red_snr"):  # fmt: skip
        out[key] = [row[key] for row in rows]
    with np.errstate(invalid="ignore"):
        out["pass_blue"] = (out["max_blue_snr"] < criteria.blue_max_snr) & (out["blue_bands"] != "")
        n_red = np.array([row["n_red"] for row in rows])
        out["pass_red"] = (out["min_red_snr"] > criteria.red_min_snr) & (n_red >= criteria.red_bands)
    out["pass_p_z"] = out["p_high_z"] > criteria.min_p_high_z
    out["pass_delta_chi2"] = out["delta_chi2"] > criteria.min_delta_chi2
    out["selected"] = out["pass_blue"] & out["pass_red"] & out["pass_p_z"] & out["pass_delta_chi2"]
    out["reasons"] = [row["reasons"] for row in rows]
    out.meta["criteria"] = criteria.to_dict()
    return out
