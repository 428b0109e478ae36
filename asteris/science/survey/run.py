"""Running a survey: the chain on one pointing (`run_pointing`) and every pointing of a run folder
over a Dask cluster (`run_survey`), resumable and one run at a time."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import time
import uuid
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.table import QTable
from tqdm.auto import tqdm

from ...errors import ConfigError
from ...fanout import fan_out, task_map
from ...fileio import atomic_write, exclusive_lock
from .config import SURVEY_SCHEMA, SurveyConfig, pointing_record
from .folder import FIELD_HIGH_Z, SUMMARY, counted, write_table
from .memory import check_pointing_memory, stacks_on_disk

__all__ = [
    "search_pointing",
    "pointing_methods",
    "pointing_recovery",
    "injection_seed",
    "effective_volumes",
    "run_pointing",
    "run_survey",
]


_STACKS = "stacks"  #: the pointing's stacks, memory-mapped while it runs (`stacks_on_disk`)


def injection_seed(config: SurveyConfig, name: str) -> int:
    """The seed of pointing ``name``'s injections: its own, the same on every run."""
    return int(
        np.random.SeedSequence([config.injection_seed, zlib.crc32(name.encode())]).generate_state(1)[0]
    )


def _coadd_methods() -> dict:
    """The survey's coadd, by its name: the method that needs no training."""
    from ..methods import coadd_method

    return {"coadd": coadd_method("ivar")}


def pointing_methods(stacks: dict, config: SurveyConfig, folder: Path) -> dict:
    """The ivar coadd, and ASTERIS fine-tuned on the pointing's training band (its run in ``folder``)."""
    from ...config import TrainConfig
    from ...training import train
    from ..methods import asteris_method

    methods = _coadd_methods()
    if config.train is not None:
        preset = TrainConfig.from_dict(config.train)
        run = train(stacks[config.training_band], run_dir=folder / "model", config=preset,
                    init_from=config.init_from, progress=False)  # fmt: skip
        methods["asteris"] = asteris_method(run.model)
    return methods


def search_pointing(
    stacks: dict,
    renderers: dict,
    methods: dict,
    config: SurveyConfig,
    *,
    negated: bool = True,
    mapper: Callable | None = None,
    searched: Sequence[str] | None = None,
) -> tuple[dict, dict]:
    """Each method's z > 8.5 search of one pointing, as the survey runs it, and the same search on
    its negated images (every band x -1; an empty dict unless ``negated``).

    Every method detects on its own images of the detection bands and measures every band on
    the coadds (dual-image). What the negated images select estimates the
    candidates that noise and the method make by themselves, without a truth
    (`survey_luminosity_function`).

    ``mapper``: how its parts run, ``mapper(function, items)`` giving ``function(item)`` in order
    (`~asteris.fanout.cluster_map`: as tasks of a Dask cluster): each method's image of each
    detection band but the coadd's, then each search and each negated search. The tables are the
    same; without it the parts run here in turn, holding the negated images alone during the
    negated searches.

    ``searched``: the methods to search, in their order in ``methods`` (default: every one); the
    coadd's images are made to measure on in any case.
    """
    if "coadd" not in methods:
        raise ConfigError("the survey's search measures on the coadd: methods need a 'coadd' entry")
    searched = [name for name in methods if searched is None or name in searched]
    if not searched:
        return {}, {}
    if mapper is not None:
        return _search_spread(stacks, renderers, methods, config, negated=negated, mapper=mapper,
                              searched=searched)  # fmt: skip
    # every method detects on its own images of the detection bands; the coadd's are measured in all
    detecting = {b: stacks[b] for b in config.detection_bands}
    images = {"coadd": {b: methods["coadd"](s) for b, s in stacks.items()}}
    networks = [name for name in searched if name != "coadd"]
    images |= {name: {b: methods[name](s) for b, s in detecting.items()} for name in networks}
    search = functools.partial(_search, renderers=renderers, config=config)
    found = {name: search(images[name], images["coadd"]) for name in searched}
    if not negated:
        return found, {}
    negated_coadd = _negated(images.pop("coadd"))
    negated = {"coadd": negated_coadd} | {name: _negated(band_images) for name, band_images in images.items()}
    del images  # the negated images alone from here: a large pointing holds one set
    return found, {name: search(negated[name], negated_coadd) for name in searched}


def _search(band_images: dict, measure: dict, *, renderers: dict, config: SurveyConfig) -> QTable:
    from ..highz import search_high_z

    return search_high_z(band_images, renderers, config.filters, detection_bands=config.detection_bands,
                         measure_images=measure, photoz_options=config.photoz_options)  # fmt: skip


def _negated(band_images: dict) -> dict:
    return {b: -image for b, image in band_images.items()}


def _search_spread(stacks, renderers, methods, config: SurveyConfig, *, negated: bool, mapper,
                   searched: list) -> tuple:  # fmt: skip
    """`search_pointing`'s parts through ``mapper``: the networks' images band by band, then the
    searches (the coadd's images, cheap, are made here)."""
    coadd = {b: methods["coadd"](s) for b, s in stacks.items()}
    networks = [name for name in searched if name != "coadd"]
    parts = [(name, b) for name in networks for b in config.detection_bands]
    made = mapper(functools.partial(_method_image, methods=methods, stacks=stacks), parts) if parts else []
    images = {"coadd": coadd} | {name: {} for name in networks}
    for (name, band), image in zip(parts, made):
        images[name][band] = image
    searches = [(name, sign) for sign in ((1, -1) if negated else (1,)) for name in searched]
    tables = mapper(functools.partial(_signed_search, images=images, renderers=renderers, config=config),
                    searches)  # fmt: skip
    found = {name: table for (name, sign), table in zip(searches, tables) if sign > 0}
    return found, {name: table for (name, sign), table in zip(searches, tables) if sign < 0}


def _method_image(part: tuple, *, methods: dict, stacks: dict) -> np.ndarray:
    name, band = part
    return methods[name](stacks[band])


def _signed_search(part: tuple, *, images: dict, renderers: dict, config: SurveyConfig) -> QTable:
    name, sign = part
    band_images, measure = images[name], images["coadd"]
    if sign < 0:  # the coadd's negated images are its search's own too: negated once
        measure = _negated(measure)
        band_images = measure if name == "coadd" else _negated(band_images)
    return _search(band_images, measure, renderers=renderers, config=config)


def pointing_recovery(
    stacks, renderers, methods, config: SurveyConfig, *, seed: int, mapper: Callable | None = None,
    reuse: bool = True,
) -> QTable:  # fmt: skip
    """A pointing's injection-recovery as its survey runs it: `~asteris.science.highz.high_z_recovery`
    with the config's galaxies, ranges and detection bands, fluxes measured on the coadd.

    ``mapper``: how its realizations run, as `search_pointing`'s (`~asteris.fanout.cluster_map`: as
    tasks of a Dask cluster); the same rows.
    ``reuse``: as `~asteris.science.highz.high_z_recovery` (``False``: every realization through
    the whole chain, as the survey ran before; the same rows at about twice the cost).
    """
    from ..highz import high_z_recovery

    return high_z_recovery(stacks, renderers, methods, config.filters,
                           n_per_realization=config.per_realization, realizations=config.realizations,
                           muv_range=config.muv_range, z_range=(config.z_edges[0], config.z_edges[-1]),
                           detection_bands=config.detection_bands, measure_with=methods["coadd"], seed=seed,
                           muv_slope=config.injection_muv_slope, progress=False,
                           mapper=mapper, reuse=reuse)  # fmt: skip


def effective_volumes(recovery: QTable, methods, config: SurveyConfig, area: u.Quantity) -> dict:
    from ..uvlf import completeness_curves, effective_volume

    z_edges = np.asarray(config.z_edges)
    volumes = {}
    for name in methods:
        curves = completeness_curves(recovery["M_UV"].value, recovery["z"], recovery[f"{name}_selected"],
                                     muv_grid=config.muv_grid, z_edges=z_edges)  # fmt: skip
        volumes[name] = effective_volume(curves, z_edges=z_edges, area=area).to_value(u.Mpc**3).tolist()
    return volumes


def _chain_in_turn(stacks, renderers, config: SurveyConfig, work: Path, *, seed: int, lap) -> tuple:
    """The methods (fine-tuning ASTERIS), their search and the injections, one after the other."""
    methods = pointing_methods(stacks, config, work)
    lap("train")
    found, negated = search_pointing(stacks, renderers, methods, config, negated=config.search_negated)
    lap("search")
    recovery = pointing_recovery(stacks, renderers, methods, config, seed=seed)
    lap("injections")
    return methods, found, negated, recovery


def _chain_spread(stacks, renderers, config: SurveyConfig, work: Path, *, seed: int, lap) -> tuple:
    """`_chain_in_turn`'s parts as tasks of the cluster running this pointing, with the same tables.

    While this worker fine-tunes, the other workers search the coadd (it needs no network). Then
    this worker steps aside and the network's search and the injection realizations run side by
    side, so that no worker waits for a stage's last part: the search's lap ends when its tables
    are in, the injections' when theirs are.
    """
    from distributed import worker_client

    mapper = task_map()  # from both threads below; the parts run one at a time on each worker
    threads = ThreadPoolExecutor(max_workers=2)
    try:
        coadd_search = threads.submit(search_pointing, stacks, renderers, _coadd_methods(), config,
                                      negated=config.search_negated, mapper=mapper)  # fmt: skip
        methods = pointing_methods(stacks, config, work)
        lap("train")
        networks = [name for name in methods if name != "coadd"]
        with worker_client():  # this task steps aside: its worker takes parts too
            network_search = threads.submit(search_pointing, stacks, renderers, methods, config,
                                            negated=config.search_negated, mapper=mapper, searched=networks)
            recovery = threads.submit(pointing_recovery, stacks, renderers, methods, config, seed=seed,
                                      mapper=mapper)  # fmt: skip
            found, negated = coadd_search.result()
            network_found, network_negated = network_search.result()
            lap("search")
            recovery = recovery.result()
            lap("injections")
    finally:  # after a failure, not waiting: on one worker the parts left need this task's slot
        threads.shutdown(wait=False)
    return methods, found | network_found, negated | network_negated, recovery


def _dask_worker():
    """The Dask worker running this code, or None outside one."""
    try:
        from distributed import get_worker

        return get_worker()
    except (ImportError, ValueError):
        return None


def _one_task_per_worker() -> None:
    worker = _dask_worker()
    if worker is not None and worker.state.nthreads > 1:
        raise ConfigError(f"this Dask worker runs {worker.state.nthreads} tasks at once; a pointing needs a "
                          f"worker of its own: start workers with --nthreads 1")  # fmt: skip


def run_pointing(
    pointing,
    folder: str | os.PathLike,
    config: SurveyConfig,
    *,
    threads: int | None = None,
    spread: bool = False,
) -> dict:
    """Run the chain on one pointing and write ``folder/<name>/``; return its summary.

    ``spread``: run the parts of its search (`search_pointing`) and its injection realizations as
    tasks of the Dask cluster that runs this pointing (`asteris.fanout.cluster_map`; only inside a
    Dask task), with the same tables: the coadd's search on the other workers while this one
    fine-tunes, then the network's search and the realizations side by side.

    A pointing whose folder exists is read, not recomputed (``status`` "present").
    Its files are written into a hidden folder that is renamed into place when
    complete, so a killed task leaves nothing that looks finished. A pointing whose chain
    would not fit in this machine's memory is refused once its stacks are loaded, before the
    chain starts (`~asteris.science.survey.memory.check_pointing_memory`). The chain then reads
    its stacks memory-mapped from that folder (`~asteris.science.survey.memory.stacks_on_disk`)
    and works band by band where it can (injections, photometry), so that what grows with the
    pointing in its own memory is its images, not every band's exposures.
    """
    import torch

    from ..closure import closure_pointing, field_high_z_galaxies
    from ..highz import footprint, on_footprint, selection_against_truth, with_truth

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
            seconds[stage] = max(0.0, round(time.perf_counter() - start - sum(seconds.values()), 2))

        stacks, renderers, truth, boost = pointing.load(config.bands)
        check_pointing_memory(stacks, pointing.name)  # before the chain, not at its peak
        stacks = stacks_on_disk(stacks, work / _STACKS)  # bands read as they are needed
        lap("load")
        chain = _chain_spread if spread and _dask_worker() is not None else _chain_in_turn
        seed = injection_seed(config, pointing.name)
        methods, found, negated, recovery = chain(stacks, renderers, config, work, seed=seed, lap=lap)
        inside = footprint(stacks)
        for table in (*found.values(), *negated.values()):
            table["in_footprint"] = on_footprint(inside, table)
        if config.closure_copies and truth is not None:
            closure = closure_pointing(stacks, renderers, methods, config.filters, truth, found,
                                       copies=config.closure_copies, n_per_realization=config.per_realization,
                                       inside=inside, detection_bands=config.detection_bands,
                                       measure_with=methods["coadd"],
                                       seed=injection_seed(config, "closure/" + pointing.name))  # fmt: skip
            write_table(closure, work / "closure.ecsv")
            lap("closure")
        shape = stacks[config.training_band].data.shape[1:]
        pixel = (renderers[config.training_band].pixel_scale * u.arcsec) ** 2
        area = int(inside.sum()) * pixel  # where the injections' completeness holds
        summary = {
            "schema_version": SURVEY_SCHEMA, "name": pointing.name, "pointing": pointing_record(pointing),
            "area_arcmin2": float(area.to_value(u.arcmin**2)), "boost": boost, "shape": list(shape),
            "image_arcmin2": float((shape[0] * shape[1] * pixel).to_value(u.arcmin**2)), "footprint": True,
            "methods": list(methods), "v_eff_mpc3": effective_volumes(recovery, methods, config, area),
            "n_candidates": {m: int(np.sum(counted(t))) for m, t in found.items()},
            "n_negated_candidates": {m: int(np.sum(counted(t))) for m, t in negated.items()},
            "injected": len(recovery), "worker": {"host": socket.gethostname(), "pid": os.getpid(),
                                                  "threads": torch.get_num_threads()},
        }  # fmt: skip
        for name, table in found.items():
            if truth is not None:
                table = with_truth(table, truth)
                summary.setdefault("against_truth", {})[name] = selection_against_truth(
                    table, truth, shape=shape
                )
            write_table(table, work / f"candidates_{name}.ecsv")
            if name in negated:
                write_table(negated[name], work / f"negated_{name}.ecsv")
        write_table(recovery, work / "recovery.ecsv")
        if truth is not None:  # the field's own z > 8.5 galaxies, flagged on or off the footprint
            galaxies = field_high_z_galaxies(truth, shape=shape, inside=inside)
            write_table(galaxies[["x", "y", "z", "M_UV", "covered"]], work / FIELD_HIGH_Z)
        lap("write")
        summary["seconds"] = {**seconds, "total": round(time.perf_counter() - start, 2)}
        shutil.rmtree(work / _STACKS)  # a copy of the inputs, not a result
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
    with ExitStack() as held_here:
        try:
            held = held_here.enter_context(exclusive_lock(run_dir / ".lock", wait=False))
        except BlockingIOError:
            raise ConfigError(f"another survey run is using {run_dir}; wait for it to end or choose "
                              "another folder") from None  # fmt: skip
        if held:  # without POSIX locks, leftovers stay
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
    spread: bool = False,
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
    spread : bool
        Run the parts of each pointing's search (the network's images band by band, each search
        and its negated twin) and its injection realizations as tasks of the same cluster, so
        that workers without a pointing of their own help (the same tables either way): the
        coadd's search runs while the pointing's worker fine-tunes, and the network's search
        beside the realizations, so that the stages overlap. Only for
        fewer pointings than workers: while a pointing waits for its parts its worker may start
        another pointing, and two chains would then share one process's state.

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
                           on_done=lambda _: bar.update(1), threads=threads, spread=spread)  # fmt: skip
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
