"""The z > 8.5 search of chapters 5 and 6 over many pointings, one Dask task each.

A survey is a run folder and a list of pointings: archive pointings by
manifest (`ArchivePointing`) or mock pointings by seed (`asteris.mock.MockPointing`);
any object with a ``name``, a ``kind``, ``versions`` and ``load`` will do. Each
pointing runs the whole chain on one worker (stacks, the ASTERIS model
fine-tuned on the pointing's own training band, the coadd and ASTERIS images
of every band, the dual-image search, injection-recovery through the chain,
the effective volumes) and writes its results into a folder of its own that
appears only when complete: a killed run resumes where it stopped and a
finished pointing is never computed twice. The luminosity function then
comes from all pointings together (`survey_luminosity_function`): summed
counts over summed effective volumes, on the total area.

>>> SurveyConfig(realizations=2).realizations
2
>>> ArchivePointing("ceers-f200w", ("nrcb1",)).name
'ceers-f200w-nrcb1'
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack
from tqdm.auto import tqdm

from ..errors import ConfigError
from ..fanout import fan_out
from ..fileio import atomic_write

__all__ = [
    "SURVEY_SCHEMA",
    "ArchivePointing",
    "pointing_from_record",
    "SurveyConfig",
    "search_pointing",
    "run_pointing",
    "run_survey",
    "read_survey",
    "survey_candidates",
    "survey_injections",
    "survey_interlopers",
    "survey_background",
    "survey_luminosity_function",
    "survey_closure",
]

SURVEY_SCHEMA = 1
#: A pointing's files: its summary is written last, so a folder with one is complete.
SUMMARY = "summary.json"
#: A mock pointing's own z > 8.5 galaxies (its truth), with ``covered``: on its footprint.
FIELD_HIGH_Z = "field_high_z.ecsv"


@dataclass(frozen=True)
class ArchivePointing:
    """A pointing of JWST ``_cal`` exposures named by a manifest (optionally some detectors only)."""

    manifest: str
    detectors: tuple[str, ...] | None = None

    kind = "archive"

    @property
    def name(self) -> str:
        return self.manifest + ("" if self.detectors is None else "-" + "-".join(self.detectors))

    @property
    def versions(self) -> dict:
        """What makes its data, by version, recorded with a run folder: nothing, its files are fixed."""
        return {}

    @classmethod
    def from_record(cls, data: dict) -> ArchivePointing:
        return cls(data["manifest"], _tuple(data.get("detectors")))

    def load(self, bands: Sequence[str]) -> tuple[dict, dict, QTable | None, float]:
        """Stacks of ``bands`` drizzled onto one grid, their renderers; no truth, no boost."""
        from ..archive import band_stacks
        from ..sky.render import SourceRenderer

        stacks = band_stacks(self.manifest, bands=bands, detectors=self.detectors, progress=False)
        return stacks, {b: SourceRenderer.for_stack(s) for b, s in stacks.items()}, None, 1.0


def _pointing_record(pointing) -> dict:
    return {"kind": pointing.kind,
            **{k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(pointing).items()}}  # fmt: skip


def _tuple(value):
    return None if value is None else tuple(value)


def pointing_from_record(record: dict, *, kinds: Sequence[type] = ()):
    """The pointing a summary's ``pointing`` entry describes.

    ``kinds``: pointing classes besides `ArchivePointing` to recognise, such as
    `asteris.mock.MockPointing` (the science does not import the simulator).
    """
    known = {cls.kind: cls for cls in (ArchivePointing, *kinds)}
    data = dict(record)
    kind = data.pop("kind")
    if kind not in known:
        raise ConfigError(f"a {kind!r} pointing needs its class: pass kinds=(...) with it "
                          f"(asteris.mock.MockPointing for 'mock'); known here: {sorted(known)}")  # fmt: skip
    return known[kind].from_record(data)


@dataclass(frozen=True)
class SurveyConfig:
    """What every pointing of a survey runs; a run folder keeps one config for all its pointings.

    ``train``: the fine-tuning `~asteris.config.TrainConfig` (as a dict) applied to each
    pointing's ``training_band`` stack, from the checkpoint ``init_from``; ``None`` runs the
    coadd alone. Injection-recovery: ``realizations`` x ``per_realization`` galaxies uniform in
    ``muv_range`` and ``z_edges``, each pointing with its own random draws.
    ``closure_copies``: on a pointing with a truth catalogue, that many copies of each of its own
    z > 8.5 galaxies go through the injection road too (`asteris.science.closure`).
    ``search_negated``: search the negated images as well (the spurious-candidate estimate).
    ``injection_muv_slope``: draw the injected galaxies as a population of that faint-end slope
    is distributed, in M_UV and in z, rather than uniformly
    (`~asteris.science.highz.high_z_injection_catalog`).
    """

    schema_version: int = SURVEY_SCHEMA
    bands: tuple[str, ...] = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
    detection_bands: tuple[str, ...] = ("F277W", "F356W", "F444W")
    training_band: str = "F200W"
    train: dict | None = None
    init_from: str | None = None
    realizations: int = 4
    per_realization: int = 40
    muv_range: tuple[float, float] = (-22.5, -18.5)
    z_edges: tuple[float, ...] = (8.5, 9.5, 10.5, 11.5, 13.0, 16.0)
    muv_step: float = 0.025
    injection_seed: int = 2
    photoz_options: dict = field(default_factory=dict)
    closure_copies: int = 0
    search_negated: bool = True
    injection_muv_slope: float | None = None

    def __post_init__(self) -> None:
        if self.schema_version != SURVEY_SCHEMA:
            raise ConfigError(f"survey schema version {self.schema_version} is not {SURVEY_SCHEMA}")
        if self.training_band not in self.bands or not set(self.detection_bands) <= set(self.bands):
            raise ConfigError("the training and detection bands must be among the survey's bands")
        if self.realizations < 1 or self.per_realization < 1:
            raise ConfigError("a survey needs at least one realization of at least one injected galaxy")
        if self.closure_copies < 0:
            raise ConfigError(f"closure_copies must be 0 or more, got {self.closure_copies}")
        if self.train is not None:
            from ..config import TrainConfig

            TrainConfig.from_dict(self.train)  # refused here, before any worker starts

    @property
    def filters(self) -> dict[str, str]:
        """The sedpy filter of each band, as photo-z and M_UV take them."""
        return {b: f"jwst_{b.lower()}" for b in self.bands}

    @property
    def muv_grid(self) -> np.ndarray:
        lo, hi = self.muv_range
        return np.linspace(lo, hi, int(round((hi - lo) / self.muv_step)) + 1)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: dict) -> SurveyConfig:
        """The config a dict describes; unknown keys and other schema versions are refused."""
        from ..config import reject_unknown_keys

        reject_unknown_keys(data, cls, "survey config")
        tuples = {f.name for f in fields(cls) if "tuple" in str(f.type)}
        return cls(**{k: (tuple(v) if k in tuples and v is not None else v) for k, v in data.items()})


def _injection_seed(config: SurveyConfig, name: str) -> int:
    """Each pointing's own injections, the same on every run."""
    return int(
        np.random.SeedSequence([config.injection_seed, zlib.crc32(name.encode())]).generate_state(1)[0]
    )


def _methods(stacks: dict, config: SurveyConfig, folder: Path) -> dict:
    from ..config import TrainConfig
    from ..training import train
    from .recovery import asteris_method, coadd_method

    methods = {"coadd": coadd_method("ivar")}
    if config.train is not None:
        preset = TrainConfig.from_dict(config.train)
        run = train(stacks[config.training_band], run_dir=folder / "model", config=preset,
                    init_from=config.init_from, progress=False)  # fmt: skip
        methods["asteris"] = asteris_method(run.model)
    return methods


def search_pointing(
    stacks: dict, renderers: dict, methods: dict, config: SurveyConfig, *, negated: bool = True
) -> tuple[dict, dict]:
    """Each method's z > 8.5 search of one pointing, as the survey runs it, and the same search on
    its negated images (every band x -1; an empty dict unless ``negated``).

    Every method detects on its own images of every band and measures on the
    coadds (dual-image). What the negated images select estimates the
    candidates that noise and the method make by themselves, without a truth
    (`survey_luminosity_function`).
    """
    from .highz import search_high_z

    if "coadd" not in methods:
        raise ConfigError("the survey's search measures on the coadd: methods need a 'coadd' entry")
    images = {name: {b: method(s) for b, s in stacks.items()} for name, method in methods.items()}

    def search(band_images: dict, measure: dict):
        return search_high_z(band_images, renderers, config.filters, detection_bands=config.detection_bands,
                             measure_images=measure, photoz_options=config.photoz_options)  # fmt: skip

    found = {name: search(band_images, images["coadd"]) for name, band_images in images.items()}
    if not negated:
        return found, {}
    negated_coadd = {b: -image for b, image in images["coadd"].items()}
    flipped = {name: search({b: -image for b, image in band_images.items()}, negated_coadd)
               for name, band_images in images.items()}  # fmt: skip
    return found, flipped


def _recovery(stacks, renderers, methods, config: SurveyConfig, seed: int) -> QTable:
    from .highz import high_z_recovery

    return high_z_recovery(stacks, renderers, methods, config.filters,
                           n_per_realization=config.per_realization, realizations=config.realizations,
                           muv_range=config.muv_range, z_range=(config.z_edges[0], config.z_edges[-1]),
                           detection_bands=config.detection_bands, measure_with=methods["coadd"], seed=seed,
                           muv_slope=config.injection_muv_slope, progress=False)  # fmt: skip


def _effective_volumes(recovery: QTable, methods, config: SurveyConfig, area: u.Quantity) -> dict:
    from .uvlf import completeness_curves, effective_volume

    z_edges = np.asarray(config.z_edges)
    volumes = {}
    for name in methods:
        curves = completeness_curves(recovery["M_UV"].value, recovery["z"], recovery[f"{name}_selected"],
                                     muv_grid=config.muv_grid, z_edges=z_edges)  # fmt: skip
        volumes[name] = effective_volume(curves, z_edges=z_edges, area=area).to_value(u.Mpc**3).tolist()
    return volumes


def _write_table(table: QTable, path: Path) -> None:
    keep = [c for c in table.colnames if getattr(table[c], "ndim", 1) == 1]  # p(z) stays out
    atomic_write(path, lambda tmp: table[keep].write(tmp, format="ascii.ecsv", overwrite=True))


def _one_task_per_worker() -> None:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):  # not in a Dask worker
        return
    if worker.state.nthreads > 1:
        raise ConfigError(f"this Dask worker runs {worker.state.nthreads} tasks at once; a pointing needs a "
                          f"worker of its own: start workers with --nthreads 1")  # fmt: skip


def run_pointing(
    pointing, folder: str | os.PathLike, config: SurveyConfig, *, threads: int | None = None
) -> dict:
    """Run the chain on one pointing and write ``folder/<name>/``; return its summary.

    A pointing whose folder exists is read, not recomputed (``status`` "present").
    Its files are written into a hidden folder that is renamed into place when
    complete, so a killed task leaves nothing that looks finished.
    """
    import torch

    from .closure import closure_pointing, field_high_z_galaxies
    from .highz import footprint, on_footprint, selection_against_truth, with_truth

    final = Path(folder) / pointing.name
    if (final / SUMMARY).exists():
        return {**json.loads((final / SUMMARY).read_text()), "status": "present"}
    _one_task_per_worker()
    if threads:
        torch.set_num_threads(threads)
    work = Path(folder) / f".{pointing.name}.partial-{uuid.uuid4().hex[:8]}"
    work.mkdir(parents=True)
    try:
        seconds, start = {}, time.perf_counter()

        def lap(stage: str) -> None:
            seconds[stage] = round(time.perf_counter() - start - sum(seconds.values()), 2)

        stacks, renderers, truth, boost = pointing.load(config.bands)
        lap("load")
        methods = _methods(stacks, config, work)
        lap("train")
        found, negated = search_pointing(stacks, renderers, methods, config, negated=config.search_negated)
        inside = footprint(stacks)
        for table in (*found.values(), *negated.values()):
            table["in_footprint"] = on_footprint(inside, table)
        lap("search")
        recovery = _recovery(stacks, renderers, methods, config, _injection_seed(config, pointing.name))
        lap("injections")
        if config.closure_copies and truth is not None:
            closure = closure_pointing(stacks, renderers, methods, config.filters, truth, found,
                                       copies=config.closure_copies, n_per_realization=config.per_realization,
                                       inside=inside, detection_bands=config.detection_bands,
                                       measure_with=methods["coadd"],
                                       seed=_injection_seed(config, "closure/" + pointing.name))  # fmt: skip
            _write_table(closure, work / "closure.ecsv")
            lap("closure")
        shape = stacks[config.training_band].data.shape[1:]
        pixel = (renderers[config.training_band].pixel_scale * u.arcsec) ** 2
        area = int(inside.sum()) * pixel  # where the injections' completeness holds
        summary = {
            "schema_version": SURVEY_SCHEMA, "name": pointing.name, "pointing": _pointing_record(pointing),
            "area_arcmin2": float(area.to_value(u.arcmin**2)), "boost": boost, "shape": list(shape),
            "image_arcmin2": float((shape[0] * shape[1] * pixel).to_value(u.arcmin**2)), "footprint": True,
            "methods": list(methods), "v_eff_mpc3": _effective_volumes(recovery, methods, config, area),
            "n_candidates": {m: int(np.sum(_counted(t))) for m, t in found.items()},
            "n_negated_candidates": {m: int(np.sum(_counted(t))) for m, t in negated.items()},
            "injected": len(recovery), "worker": {"host": socket.gethostname(), "pid": os.getpid(),
                                                  "threads": torch.get_num_threads()},
        }  # fmt: skip
        for name, table in found.items():
            if truth is not None:
                table = with_truth(table, truth)
                summary.setdefault("against_truth", {})[name] = selection_against_truth(
                    table, truth, shape=shape
                )
            _write_table(table, work / f"candidates_{name}.ecsv")
            if name in negated:
                _write_table(negated[name], work / f"negated_{name}.ecsv")
        _write_table(recovery, work / "recovery.ecsv")
        if truth is not None:  # the field's own z > 8.5 galaxies, flagged on or off the footprint
            galaxies = field_high_z_galaxies(truth, shape=shape, inside=inside)
            _write_table(galaxies[["x", "y", "z", "M_UV", "covered"]], work / FIELD_HIGH_Z)
        lap("write")
        summary["seconds"] = {**seconds, "total": round(time.perf_counter() - start, 2)}
        atomic_write(work / SUMMARY, lambda tmp: tmp.write_text(json.dumps(summary, indent=1) + "\n"))
        try:
            os.rename(work, final)
        except OSError:  # another attempt finished it first: theirs stands
            if not (final / SUMMARY).exists():
                raise
        return {**summary, "status": "done"}
    finally:
        shutil.rmtree(work, ignore_errors=True)


@contextmanager
def _run_lock(run_dir: Path):
    """Hold the run folder for this run alone; then leftovers of killed runs can be removed safely."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock, and leftovers stay
        yield
        return
    with open(run_dir / ".lock", "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ConfigError(f"another survey run is using {run_dir}; wait for it to end or choose "
                              "another folder") from None  # fmt: skip
        for partial in run_dir.glob(".*.partial-*"):  # what killed runs left half-written
            shutil.rmtree(partial, ignore_errors=True)
        yield


def _check_run_folder(run_dir: Path, config: SurveyConfig, pointings: Sequence) -> None:
    versions = {k: v for p in pointings for k, v in p.versions.items()}
    record = run_dir / "survey.json"
    if record.exists():
        held = json.loads(record.read_text())
        if SurveyConfig.from_dict(held["config"]) != config:
            raise ConfigError(
                f"{run_dir} holds a survey run with another config; resume it with that "
                f"config (SurveyConfig.from_dict of its survey.json) or choose a new folder"
            )
        finished = any(run_dir.glob(f"*/{SUMMARY}"))
        for key, version in versions.items():  # e.g. its mock pointings would not match new ones
            made = held.get(key, "unrecorded" if finished else version)
            if made != version:
                what = key.replace("_", " ")
                raise ConfigError(f"{run_dir} holds a survey run made with {what} {made}, and this "
                                  f"asteris draws {what} {version}; choose a new folder")  # fmt: skip
        if set(versions) <= set(held):
            return
        held = {"schema_version": held.get("schema_version", SURVEY_SCHEMA), **versions, **held}  # a new kind
    else:
        run_dir.mkdir(parents=True, exist_ok=True)
        held = {"schema_version": SURVEY_SCHEMA, **versions, "config": config.to_dict()}
    content = json.dumps(held, indent=1) + "\n"
    atomic_write(record, lambda tmp: tmp.write_text(content), overwrite=True)


def run_survey(
    pointings: Sequence,
    run_dir: str | os.PathLike,
    *,
    config: SurveyConfig | None = None,
    scheduler=None,
    n_workers: int = 1,
    threads_per_worker: int | None = None,
    retries: int = 1,
    progress: bool = True,
) -> QTable:
    """Run every pointing not yet finished in ``run_dir``, one Dask task each.

    Parameters
    ----------
    pointings : sequence of `ArchivePointing` / `asteris.mock.MockPointing`
        The survey; more may be added on a later call to the same folder.
    run_dir : path
        The run folder: ``survey.json`` (the config) and a folder per finished pointing. One run
        at a time holds it (a second is refused); what killed runs left half-written is removed.
    config : SurveyConfig
        Must equal the config of an existing run folder.
    scheduler : None, ``"local"``, an address or a `distributed.Client`
        ``None``/``"local"``: a `distributed.LocalCluster` of ``n_workers`` processes, each
        running one pointing at a time on ``threads_per_worker`` torch threads (default: the
        cores shared out). An address such as ``tcp://host:8786`` connects to a running
        scheduler; its workers must run one task at a time (``dask worker ADDRESS --nthreads 1``),
        since a pointing's chain sets process-wide state (torch's seed and threads, EAZY's
        working folder), and use the threads their environment gives.
    retries : int
        How often a failed pointing is tried again before it is reported failed.

    Returns
    -------
    `~astropy.table.QTable`
        One row per pointing: ``name``, ``status`` (done, present, failed), ``seconds``,
        ``worker`` and ``error``.
    """
    config = config or SurveyConfig()
    run_dir = Path(run_dir)
    _check_run_folder(run_dir, config, pointings)
    if len({p.name for p in pointings}) != len(pointings):
        raise ConfigError("two pointings have the same name")
    finished = [p for p in pointings if (run_dir / p.name / SUMMARY).exists()]
    rows = {p.name: (p.name, "present", 0.0, "", "") for p in finished}
    pending = [p for p in pointings if p.name not in rows]
    threads = threads_per_worker or max(1, (os.cpu_count() or 1) // n_workers)
    bar = tqdm(
        total=len(pointings), initial=len(finished), desc="pointings", unit="pointing", disable=not progress
    )
    if pending:
        with _run_lock(run_dir):
            started_here = scheduler is None or isinstance(scheduler, str) and scheduler == "local"
            threads = threads if started_here else None  # a running cluster's workers keep their own
            tasks = {p.name: (p, str(run_dir), config) for p in pending}
            done = fan_out(run_pointing, tasks, scheduler=scheduler, n_workers=n_workers, retries=retries,
                           feature="run_survey (Dask)", key="asteris-pointing",
                           on_done=lambda _: bar.update(1), threads=threads)  # fmt: skip
        rows.update({name: _status_row(name, outcome) for name, outcome in done.items()})
    bar.close()
    return QTable(
        rows=[rows[p.name] for p in pointings], names=("name", "status", "seconds", "worker", "error")
    )


def _status_row(name: str, outcome) -> tuple:
    if isinstance(outcome, Exception):  # reported per pointing: one bad pointing must not sink the survey
        return name, "failed", 0.0, "", f"{type(outcome).__name__}: {outcome}"
    worker = f"{outcome['worker']['host']}:{outcome['worker']['pid']}"
    return name, outcome["status"], outcome["seconds"]["total"], worker, ""


def read_survey(run_dir: str | os.PathLike) -> tuple[SurveyConfig, list[dict]]:
    """The config of a run folder and the summaries of its finished pointings (by name)."""
    run_dir = Path(run_dir)
    if not (run_dir / "survey.json").exists():
        raise ConfigError(f"{run_dir} holds no survey run (no survey.json)")
    config = SurveyConfig.from_dict(json.loads((run_dir / "survey.json").read_text())["config"])
    summaries = [json.loads(p.read_text()) for p in sorted(run_dir.glob(f"*/{SUMMARY}"))]
    return config, summaries


def _pointing_tables(run_dir, file_name: str, *, keep=None, missing: str = "") -> QTable:
    """Every finished pointing's ``file_name`` (rows chosen by ``keep``) in one table, by ``pointing``."""
    _, summaries = read_survey(run_dir)
    tables = []
    for summary in summaries:
        path = Path(run_dir) / summary["name"] / file_name
        if not path.exists():
            raise ConfigError(f"pointing {summary['name']} of {run_dir} has no {file_name}{missing}")
        table = QTable.read(path)
        table = table if keep is None else keep(table)
        table["pointing"] = np.full(len(table), summary["name"])  # str even when empty
        tables.append(table)
    if not tables:
        raise ConfigError(f"{run_dir} has no finished pointing yet")
    return vstack(tables, metadata_conflicts="silent")


def _counted(table: QTable) -> np.ndarray:
    """The selected rows that count: those on the pointing's footprint, where it records one."""
    chosen = np.asarray(table["selected"], bool)
    return chosen & np.asarray(table["in_footprint"], bool) if "in_footprint" in table.colnames else chosen


def survey_candidates(run_dir: str | os.PathLike, method: str, *, negated: bool = False) -> QTable:
    """The selected z > 8.5 candidates of ``method`` on the footprint of every finished pointing, by
    ``pointing``; with ``negated``, those the same search selected on the negated images."""
    if not negated:
        return _pointing_tables(run_dir, f"candidates_{method}.ecsv", keep=lambda t: t[_counted(t)])
    # often empty, and then without the photo-z columns: keep what every table has
    return _pointing_tables(
        run_dir, f"negated_{method}.ecsv", keep=lambda t: t[["M_UV"]][_counted(t)],
        missing=": it was run without searching the negated images; use subtract_negated=False",
    )  # fmt: skip


def survey_injections(run_dir: str | os.PathLike) -> QTable:
    """The injections of every finished pointing, with what each method made of them, by ``pointing``."""
    return _pointing_tables(run_dir, "recovery.ecsv")


def survey_closure(run_dir: str | os.PathLike) -> QTable:
    """The closure rows (`asteris.science.closure.closure_pointing`) of every finished pointing, by
    ``pointing``: the fields' own z > 8.5 galaxies and their copies; needs ``closure_copies``."""
    return _pointing_tables(run_dir, "closure.ecsv", missing=": the survey ran with closure_copies=0")


def _dimmed(catalog: QTable, config: SurveyConfig, name: str, *, draws: int, seed: int) -> QTable:
    """One pointing's dimmed low-z galaxies; none, with a warning, where it has no bright or no faint ones."""
    import warnings

    from .contamination import dimmed_interlopers

    try:
        return dimmed_interlopers(catalog, config.filters, detection_bands=config.detection_bands,
                                  draws=draws, seed=seed, photoz_options=config.photoz_options)  # fmt: skip
    except ConfigError as why:
        warnings.warn(f"pointing {name}: no interlopers estimated: {why}", stacklevel=3)
        return QTable({"target": np.zeros(0, int), "weight": np.zeros(0), "z_phot": np.zeros(0),
                       "selected": np.zeros(0, bool), "M_UV": np.zeros(0) * u.mag})  # fmt: skip


def survey_interlopers(run_dir: str | os.PathLike, method: str, *, draws: int = 4) -> QTable:
    """The simulated low-z interlopers of ``method`` in every finished pointing, by ``pointing``.

    Each pointing's bright low-z galaxies dimmed to its faint detections
    (`~asteris.science.contamination.dimmed_interlopers`), with the
    survey's photo-z settings, computed once per pointing and kept in its
    folder (``interlopers_<method>.ecsv``). ``weight`` summed over the
    ``selected`` rows is the expected number of interlopers. A pointing
    without bright low-z galaxies or faint detections contributes none, with a warning.
    """
    config, summaries = read_survey(run_dir)
    for summary in summaries:
        folder = Path(run_dir) / summary["name"]
        path = folder / f"interlopers_{method}.ecsv"
        if path.exists() and QTable.read(path).meta.get("draws") == draws:
            continue
        catalog = QTable.read(folder / f"candidates_{method}.ecsv")
        seed = zlib.crc32(f"{summary['name']}/{method}".encode())
        fakes = _dimmed(catalog, config, summary["name"], draws=draws, seed=seed)
        fakes.meta["draws"] = draws
        atomic_write(path, lambda tmp, fakes=fakes: fakes.write(tmp, format="ascii.ecsv", overwrite=True),
                     overwrite=True)  # fmt: skip
    columns = ["target", "weight", "z_phot", "selected", "M_UV"]
    return _pointing_tables(run_dir, f"interlopers_{method}.ecsv", keep=lambda t: t[columns])


def survey_background(
    run_dir: str | os.PathLike,
    method: str,
    *,
    muv_edges: np.ndarray,
    negated: bool = True,
    interlopers: bool = True,
    posterior: bool = False,
    by_pointing: bool = False,
) -> dict[str, np.ndarray]:
    """The expected candidates of ``method`` per M_UV bin that are not z > 8.5 galaxies, by estimate:
    ``"negated"``, what the negated images selected; ``"interlopers"``, the weighted dimmed
    low-z galaxies that were selected (`survey_interlopers`); ``"posterior"``, each candidate's
    own photometric-redshift probability of lying below ``z_min`` (1 - ``p_high_z``), summed: the
    low-z solutions its photometry allows. Each only where asked for (the last two estimate the
    same interlopers: take one). With ``by_pointing`` each is an array of one row per finished
    pointing, in `read_survey`'s order."""
    _, summaries = read_survey(run_dir)
    names = [s["name"] for s in summaries]
    tables = {}
    if negated:
        tables["negated"] = (survey_candidates(run_dir, method, negated=True), None)
    if interlopers:
        fakes = survey_interlopers(run_dir, method)
        fakes = fakes[np.asarray(fakes["selected"], bool)]
        tables["interlopers"] = (fakes, np.asarray(fakes["weight"], float))
    if posterior:
        candidates = survey_candidates(run_dir, method)
        tables["posterior"] = (candidates, 1.0 - np.asarray(candidates["p_high_z"], float))
    parts = {}
    for name, (table, weights) in tables.items():
        per = _histograms_by_pointing(table, names, muv_edges, weights=weights)
        parts[name] = per if by_pointing else per.sum(axis=0)
    return parts


def _histograms_by_pointing(table: QTable, names: list[str], muv_edges, *, weights=None) -> np.ndarray:
    """The rows of ``table`` per M_UV bin (each counted ``weights`` times), one row per pointing of
    ``names`` (the ``pointing`` column)."""
    muv, where = u.Quantity(table["M_UV"], u.mag).value, np.asarray(table["pointing"])
    weights = np.ones(len(muv)) if weights is None else np.asarray(weights, float)
    rows = [np.histogram(muv[where == n], muv_edges, weights=weights[where == n])[0] for n in names]
    return np.array(rows, dtype=float).reshape(len(names), len(muv_edges) - 1)


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
    migration_width: float = 0.25,
    population_weighted: bool = False,
    bootstrap: int = 0,
    min_completeness: float = 0.0,
    injections: str | None = None,
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
    do instead (`survey_background`). This background is subtracted from the
    counts and added to the fit's expected counts.

    ``bootstrap`` > 0 draws the pointings again with replacement that many
    times and gives each bin an error budget: ``sd_counts`` (the spread of the
    summed counts between draws, which holds the variance between pointings
    as well as Poisson's), ``rel_err_volume`` (the relative spread of the
    bin's effective volume, recomputed from the drawn pointings'
    injections: the completeness's own error) and ``phi_lo``/``phi_hi`` from
    both (the counts' part the wider of the Poisson interval and
    ``sd_counts``), with the Poisson-only limits kept as
    ``phi_lo_poisson``/``phi_hi_poisson``. Every bin gets ``completeness``,
    its effective volume over the volume it would have if every galaxy were
    found, and ``tested``: at least five candidates and ``completeness`` at
    least ``min_completeness``. The fit uses every bin: the forward model
    carries the faint end.

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
    from .uvlf import bin_volumes, measure_luminosity_function

    config, summaries = read_survey(run_dir)
    ran = ("coadd", "asteris") if config.train is not None else ("coadd",)
    if method not in ran:
        raise ConfigError(f"the survey in {run_dir} ran {' and '.join(ran)}, not {method!r}")
    candidates = survey_candidates(run_dir, method)
    boosts = np.array([s["boost"] for s in summaries])
    if injections is None:
        sky = np.array([s["v_eff_mpc3"][method] for s in summaries])
        injected = survey_injections(run_dir) if migration else None
    else:
        injected = _pointing_tables(run_dir, injections)
        sky = np.array([_pointing_volume(injected, s, method, config) for s in summaries])
        injected = injected if migration else None
    moved = _migration(injected, method, config, muv_edges, migration_width, population_weighted)
    if subtract_interlopers and subtract_posterior:
        raise ConfigError("the dimmed interlopers and the candidates' posteriors estimate the same "
                          "low-z galaxies: subtract one of them")  # fmt: skip
    parts = survey_background(run_dir, method, muv_edges=muv_edges, negated=subtract_negated,
                              interlopers=subtract_interlopers, posterior=subtract_posterior,
                              by_pointing=True)  # fmt: skip
    background = sum(parts.values()) if parts else None
    counted = np.sum(sky * boosts[:, None], axis=0) * u.Mpc**3
    summed = None if background is None else background.sum(axis=0)
    binned, fit = measure_luminosity_function(candidates["M_UV"], muv_edges=muv_edges,
                                              muv_grid=config.muv_grid, v_eff_grid=counted, migration=moved,
                                              background=summed, fixed=fixed, seed=seed)  # fmt: skip
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
    if bootstrap:
        draws = _pointing_bootstrap(candidates, summaries, sky * boosts[:, None], injected, background,
                                    method=method, config=config, muv_edges=muv_edges, weight=fit.function(),
                                    width=migration_width, population_weighted=population_weighted,
                                    n_boot=bootstrap, seed=seed)  # fmt: skip
        budget = {"sd_counts": np.std(draws["counts"], axis=0)[kept],
                  "rel_err_volume": np.std(draws["volumes"], axis=0)[kept] / counted_bins}  # fmt: skip
        _add_budget(binned, budget, per_count=1.0 / (counted_bins * np.diff(muv_edges)[kept]))
    totals = {"pointings": len(summaries), "area_arcmin2": float(sum(s["area_arcmin2"] for s in summaries)),
              "candidates": len(candidates)}  # fmt: skip
    return binned, fit, totals


def _pointing_volume(injected: QTable, summary: dict, method: str, config: SurveyConfig) -> list:
    """One pointing's V_eff of ``method`` on the survey's M_UV grid, from its rows of ``injected``."""
    mine = injected[np.asarray(injected["pointing"]) == summary["name"]]
    return _effective_volumes(mine, [method], config, summary["area_arcmin2"] * u.arcmin**2)[method]


def _migration(injected, method, config, muv_edges, width, population_weighted, multiplicity=None):
    """The migration matrix of ``method``'s selected injections (None without injections), each counted
    by ``multiplicity`` (per row: how often its pointing was drawn) and by its z's population weight."""
    from .uvlf import migration_matrix, population_weights

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
    from .uvlf import effective_volume

    area = sum(s["area_arcmin2"] for s in summaries) * u.arcmin**2
    z_edges = np.asarray(config.z_edges)
    return effective_volume(np.ones((1, len(z_edges) - 1)), z_edges=z_edges, area=area)[0]


def _pointing_bootstrap(candidates, summaries, volumes, injected, background, *, method, config, muv_edges,
                        weight, width, population_weighted, n_boot, seed) -> dict:  # fmt: skip
    """The summed counts (less their background) and bin volumes of ``n_boot`` draws of the pointings
    with replacement, each an array of one row per draw."""
    from .uvlf import bin_volumes

    names = [s["name"] for s in summaries]
    index = {n: i for i, n in enumerate(names)}
    per_pointing = _histograms_by_pointing(candidates, names, muv_edges)
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
    from .uvlf import poisson_interval

    n = np.asarray(binned["n"], float)
    phi = binned["phi"]
    lower, upper = poisson_interval(n)
    binned["phi_lo_poisson"], binned["phi_hi_poisson"] = binned["phi_lo"], binned["phi_hi"]
    up = np.maximum(upper - n, budget["sd_counts"]) * per_count
    down = np.maximum(n - lower, budget["sd_counts"]) * per_count
    volume = np.nan_to_num(budget["rel_err_volume"]) * phi.value
    binned["sd_counts"], binned["rel_err_volume"] = budget["sd_counts"], budget["rel_err_volume"]
    binned["phi_hi"] = np.maximum(phi.value + np.hypot(up, volume), binned["phi_hi"].value) * phi.unit
    binned["phi_lo"] = np.maximum(phi.value - np.hypot(down, volume), 0.0) * phi.unit
