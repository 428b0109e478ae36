"""Reading a run folder once (`SurveyRun`): its config, its finished pointings and their tables.

Every reader takes a path or a `SurveyRun`; pass the run to read each file once.
"""

from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack

from ...errors import ConfigError
from ...fileio import atomic_write
from .config import SurveyConfig
from .folder import SUMMARY, counted

__all__ = [
    "SurveyRun",
    "read_survey",
    "pointing_tables",
    "survey_candidates",
    "survey_injections",
    "survey_closure",
    "survey_interlopers",
    "survey_modelled_interlopers",
    "survey_background",
    "histograms_by_pointing",
]


def read_survey(run_dir: str | os.PathLike) -> tuple[SurveyConfig, list[dict]]:
    """The config of a run folder and the summaries of its finished pointings (by name)."""
    run_dir = Path(run_dir)
    if not (run_dir / "survey.json").exists():
        raise ConfigError(f"{run_dir} holds no survey run (no survey.json)")
    record = _read_json(run_dir / "survey.json")
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        raise ConfigError(f"{run_dir / 'survey.json'} holds no survey config; it is not a survey run folder")
    try:
        config = SurveyConfig.from_dict(record["config"])
    except (TypeError, ValueError) as exc:  # a config of the wrong types
        raise ConfigError(f"{run_dir / 'survey.json'} holds a config that cannot be read ({exc})") from None
    paths = sorted(run_dir.glob(f"*/{SUMMARY}"))
    summaries = [_read_json(p) for p in paths]
    for path, summary in zip(paths, summaries):
        if not isinstance(summary, dict) or summary.get("name") != path.parent.name:
            raise ConfigError(f"{path} is not the summary of pointing {path.parent.name}; remove that folder "
                              "and run the survey again to recompute it")  # fmt: skip
    return config, summaries


def _read_json(path: Path):
    try:
        return json.loads(path.read_text(errors="replace"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path} is not JSON ({exc.msg} at line {exc.lineno})") from None


@dataclass
class SurveyRun:
    """A run folder read once: its config, its finished pointings' summaries and, as they are asked
    for, their tables (each file read once). Every reader of this module takes one, or a path.

    >>> SurveyRun(Path("run"), SurveyConfig(), []).names
    []
    """

    folder: Path
    config: SurveyConfig
    summaries: list[dict]
    _tables: dict = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def open(cls, run_dir: str | os.PathLike | SurveyRun) -> SurveyRun:
        """The run folder ``run_dir`` read (a `SurveyRun` is returned as it is)."""
        if isinstance(run_dir, SurveyRun):
            return run_dir
        config, summaries = read_survey(run_dir)
        return cls(Path(run_dir), config, summaries)

    @property
    def names(self) -> list[str]:
        """The finished pointings, in the order of their summaries."""
        return [s["name"] for s in self.summaries]

    def pointing_table(self, name: str, file_name: str, *, missing: str = "") -> QTable:
        """Pointing ``name``'s table ``file_name`` (read once; do not change it in place)."""
        if (name, file_name) not in self._tables:
            path = self.folder / name / file_name
            if not path.exists():
                raise ConfigError(f"pointing {name} of {self.folder} has no {file_name}{missing}")
            self._tables[name, file_name] = QTable.read(path)
        return self._tables[name, file_name]

    def forget(self, file_name: str) -> None:
        """Read ``file_name`` again next time it is asked for (it was rewritten)."""
        self._tables = {k: v for k, v in self._tables.items() if k[1] != file_name}


def pointing_tables(run_dir, file_name: str, *, keep=None, missing: str = "") -> QTable:
    """Every finished pointing's ``file_name`` (rows chosen by ``keep``) in one table, by ``pointing``."""
    run = SurveyRun.open(run_dir)
    tables = []
    for name in run.names:
        table = run.pointing_table(name, file_name, missing=missing)
        table = (table if keep is None else keep(table)).copy(copy_data=False)  # the cached one stays
        table["pointing"] = np.full(len(table), name)  # str even when empty
        tables.append(table)
    if not tables:
        raise ConfigError(f"{run.folder} has no finished pointing yet")
    return vstack(tables, metadata_conflicts="silent")


def survey_candidates(run_dir: str | os.PathLike, method: str, *, negated: bool = False) -> QTable:
    """The selected z > 8.5 candidates of ``method`` on the footprint of every finished pointing, by
    ``pointing``; with ``negated``, those the same search selected on the negated images."""
    if not negated:
        return pointing_tables(run_dir, f"candidates_{method}.ecsv", keep=lambda t: t[counted(t)])
    # often empty, and then without the photo-z columns: keep what every table has
    return pointing_tables(
        run_dir, f"negated_{method}.ecsv", keep=lambda t: t[["M_UV"]][counted(t)],
        missing=": it was run without searching the negated images; use subtract_negated=False",
    )  # fmt: skip


def survey_injections(run_dir: str | os.PathLike) -> QTable:
    """The injections of every finished pointing, with what each method made of them, by ``pointing``."""
    return pointing_tables(run_dir, "recovery.ecsv")


def survey_closure(run_dir: str | os.PathLike) -> QTable:
    """The closure rows (`asteris.science.closure.closure_pointing`) of every finished pointing, by
    ``pointing``: the fields' own z > 8.5 galaxies and their copies; needs ``closure_copies``."""
    return pointing_tables(run_dir, "closure.ecsv", missing=": the survey ran with closure_copies=0")


def _dimmed(catalog: QTable, config: SurveyConfig, name: str, *, draws: int, seed: int) -> QTable:
    """One pointing's dimmed low-z galaxies; none, with a warning, where it has no bright or no faint ones."""
    import warnings

    from ..contamination import dimmed_interlopers

    try:
        return dimmed_interlopers(catalog, config.filters, detection_bands=config.detection_bands,
                                  draws=draws, seed=seed, photoz_options=config.photoz_options)  # fmt: skip
    except ConfigError as why:
        warnings.warn(f"pointing {name}: no interlopers estimated: {why}", stacklevel=3)
        return QTable({"target": np.zeros(0, int), "weight": np.zeros(0), "z_phot": np.zeros(0),
                       "selected": np.zeros(0, bool), "M_UV": np.zeros(0) * u.mag})  # fmt: skip


def _kept_in_pointings(run: SurveyRun, file_name: str, stamp: dict, compute, columns: list[str]) -> QTable:
    """Every finished pointing's table ``file_name`` (``columns``), by ``pointing``: read where its
    folder keeps one made with these settings (``stamp``, in its meta), else ``compute(summary)``,
    written there atomically."""
    for summary in run.summaries:
        name = summary["name"]
        path = run.folder / name / file_name
        if path.exists() and stamp.items() <= run.pointing_table(name, file_name).meta.items():
            continue
        table = compute(summary)
        table.meta.update(stamp)
        atomic_write(path, lambda tmp, table=table: table.write(tmp, format="ascii.ecsv", overwrite=True),
                     overwrite=True)  # fmt: skip
        run.forget(file_name)
    return pointing_tables(run, file_name, keep=lambda t: t[columns])


def survey_interlopers(run_dir: str | os.PathLike, method: str, *, draws: int = 4) -> QTable:
    """The simulated low-z interlopers of ``method`` in every finished pointing, by ``pointing``.

    Each pointing's bright low-z galaxies dimmed to its faint detections
    (`~asteris.science.contamination.dimmed_interlopers`), with the
    survey's photo-z settings, computed once per pointing and kept in its
    folder (``interlopers_<method>.ecsv``). ``weight`` summed over the
    ``selected`` rows is the expected number of interlopers. A pointing
    without bright low-z galaxies or faint detections contributes none, with a warning.
    """
    run = SurveyRun.open(run_dir)

    def dimmed(summary: dict) -> QTable:
        name = summary["name"]
        catalog = run.pointing_table(name, f"candidates_{method}.ecsv").copy()
        return _dimmed(catalog, run.config, name, draws=draws, seed=zlib.crc32(f"{name}/{method}".encode()))

    return _kept_in_pointings(run, f"interlopers_{method}.ecsv", {"draws": draws}, dimmed,
                              ["target", "weight", "z_phot", "selected", "M_UV"])  # fmt: skip


MODELLED = "modelled_interlopers.ecsv"  #: a pointing's model objects through its noise and selection


def _population_key(population: QTable, area: u.Quantity, seed: int) -> int:
    digest = zlib.crc32(np.ascontiguousarray([area.to_value(u.arcmin**2), seed]).tobytes())
    for name in sorted(c for c in population.colnames if c.startswith("mag_")):
        column = population[name]
        digest = zlib.crc32(np.ascontiguousarray(getattr(column, "value", column), float).tobytes(), digest)
    return digest


def survey_modelled_interlopers(
    run_dir: str | os.PathLike, population: QTable, *, area: u.Quantity, seed: int = 0
) -> QTable:
    """A model of the sky's objects through every finished pointing's noise and selection, by ``pointing``.

    ``population``: objects that are not z > 8.5 galaxies, with ``mag_<filter>``
    in every band of the survey (for example a mock population drawn anew, or a
    catalogue such as JAGUAR's), over ``area``. Each pointing puts them through
    `~asteris.science.contamination.modelled_interlopers` with the errors of its
    coadd catalogue (the median ``e_<band>``: the fluxes of both methods are
    measured on the coadd) and weights them by its footprint's area over
    ``area``. Kept in the pointing's folder (``modelled_interlopers.ecsv``) for
    this population, area and seed. ``weight`` summed over the ``selected``
    rows is the expected number of interlopers.
    """
    from ..contamination import modelled_interlopers

    run = SurveyRun.open(run_dir)

    def modelled(summary: dict) -> QTable:
        name, config = summary["name"], run.config
        catalog = run.pointing_table(name, "candidates_coadd.ecsv")
        errors = {b: float(np.median(u.Quantity(catalog[f"e_{b}"], u.nJy).value)) for b in config.filters}
        return modelled_interlopers(population, errors, config.filters,
                                    detection_bands=config.detection_bands,
                                    weight=float(summary["area_arcmin2"] / area.to_value(u.arcmin**2)),
                                    seed=zlib.crc32(f"{name}/{seed}".encode()),
                                    photoz_options=config.photoz_options)  # fmt: skip

    stamp = {"population": _population_key(population, area, seed)}
    columns = ["source", "weight", "z_phot", "selected", "M_UV"]
    return _kept_in_pointings(run, MODELLED, stamp, modelled, columns)


def survey_background(
    run_dir: str | os.PathLike,
    method: str,
    *,
    muv_edges: np.ndarray,
    negated: bool = True,
    interlopers: bool = True,
    posterior: bool = False,
    modelled: bool = False,
    by_pointing: bool = False,
) -> dict[str, np.ndarray]:
    """The expected candidates of ``method`` per M_UV bin that are not z > 8.5 galaxies, by estimate:
    ``"negated"``, what the negated images selected; ``"interlopers"``, the weighted dimmed
    low-z galaxies that were selected (`survey_interlopers`); ``"posterior"``, each candidate's
    own photometric-redshift probability of lying below ``z_min`` (1 - ``p_high_z``), summed: the
    low-z solutions its photometry allows; ``"modelled"``, the weighted model objects that were
    selected (`survey_modelled_interlopers`, which must have run). Each only where asked for (the
    last three estimate the same interlopers: take one). With ``by_pointing`` each is an array of
    one row per finished pointing, in `read_survey`'s order."""
    run = SurveyRun.open(run_dir)
    names = run.names
    tables = {}
    if negated:
        tables["negated"] = (survey_candidates(run, method, negated=True), None)
    if interlopers:
        fakes = survey_interlopers(run, method)
        fakes = fakes[np.asarray(fakes["selected"], bool)]
        tables["interlopers"] = (fakes, np.asarray(fakes["weight"], float))
    if modelled:
        missing = [n for n in names if not (run.folder / n / MODELLED).exists()]
        if missing:
            raise ConfigError(f"pointings {missing} have no modelled interlopers: run "
                              "survey_modelled_interlopers with a population first")  # fmt: skip
        fakes = pointing_tables(run, MODELLED)
        fakes = fakes[np.asarray(fakes["selected"], bool)]
        tables["modelled"] = (fakes, np.asarray(fakes["weight"], float))
    if posterior:
        candidates = survey_candidates(run, method)
        tables["posterior"] = (candidates, 1.0 - np.asarray(candidates["p_high_z"], float))
    parts = {}
    for name, (table, weights) in tables.items():
        per = histograms_by_pointing(table, names, muv_edges, weights=weights)
        parts[name] = per if by_pointing else per.sum(axis=0)
    return parts


def histograms_by_pointing(table: QTable, names: list[str], muv_edges, *, weights=None) -> np.ndarray:
    """The rows of ``table`` per M_UV bin (each counted ``weights`` times), one row per pointing of
    ``names`` (the ``pointing`` column)."""
    muv, where = u.Quantity(table["M_UV"], u.mag).value, np.asarray(table["pointing"])
    weights = np.ones(len(muv)) if weights is None else np.asarray(weights, float)
    rows = [np.histogram(muv[where == n], muv_edges, weights=weights[where == n])[0] for n in names]
    return np.array(rows, dtype=float).reshape(len(names), len(muv_edges) - 1)
