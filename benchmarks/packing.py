"""Injections packed: each survey pointing's galaxies in one realization instead of four.

The survey (`benchmarks/survey_uvlf.py`) injects 4 realizations x 40 galaxies
into each 512 x 512 pointing, and every realization runs ASTERIS over the
detection bands again: the injections cost four times the search. Galaxies are
placed at least 16 px apart (`asteris.science.injection`), and 160 of them
still fit that rule in one realization. This script measures, on the survey's
own pointings (its run folder: mock version 4, seeds 1, 2, ...; each with the
model it fine-tuned, ``model/model.pt``), what one realization of 160 changes:

- ``packed``: `asteris.science.survey.pointing_recovery` with one realization
  of ``realizations x per`` galaxies (the survey's config otherwise), timed;
- ``survey``: the pointing's rows as the survey wrote them (``recovery.ecsv``).
  On the first ``--timed`` pointings the survey's own setting runs again in
  this process, timed, and its rows are checked identical to the folder's (so
  the folder's rows are what this code gives); the pointing's load, its
  fine-tuning (in a scratch folder, model discarded) and its search
  (`search_pointing`) are timed beside them; with ``--full-chain`` also the
  survey's setting through the whole chain every realization (``reuse=False``,
  the injections as the survey first ran them), for the pointing's cost before
  and after. At two threads their rows differ from the survey's (made with one
  thread a worker: sums run in another order at two threads); ``--one-thread-check
  SEED`` runs the survey's setting on one pointing with one thread and checks
  its rows against the folder's.

Per method and true M_UV bin: the selected fraction (completeness) and the
median measured-minus-true M_UV of the selected galaxies (migration) in both
settings, each with the sd of the difference from a paired bootstrap over
pointings, and the difference in those sd.

Packed rows are kept per pointing (``--work``, default ``<data folder>/packing_mock<version>``),
so a stopped run resumes; the results are rewritten after every pointing.

Usage: ``python benchmarks/packing.py [--pointings 20] [--timed 2] [--full-chain] [--one-thread-check SEED]
[--run-dir DIR] [--work DIR] [--out FILE]``
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _results import same_rows, write_result
from astropy.table import QTable
from survey_uvlf import survey_config

from asteris.fileio import atomic_path, data_dir
from asteris.mock import MockPointing
from asteris.mock.datasets import MOCK_VERSION
from asteris.science.methods import asteris_method, coadd_method
from asteris.science.survey import injection_seed, pointing_methods, pointing_recovery, search_pointing
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "packing.json"
METHODS = ("coadd", "asteris")
EDGES = np.arange(-22.0, -17.99, 0.5)
BOOTSTRAP = 500


def _methods(folder: Path) -> dict:
    return {"coadd": coadd_method("ivar"), "asteris": asteris_method(folder / "model" / "model.pt")}


def _timed(function, *args, **kwargs):
    start = time.perf_counter()
    out = function(*args, **kwargs)
    return out, round(time.perf_counter() - start, 2)


def _survey_rows(
    pointing, folder: Path, survey, stacks, renderers, methods=None, **options
) -> tuple[float, bool]:
    """The survey's setting on this pointing (``options``: as `pointing_recovery`), timed, and whether
    its rows are the folder's."""
    methods = methods or _methods(folder)
    rows, seconds = _timed(pointing_recovery, stacks, renderers, methods, survey,
                           seed=injection_seed(survey, pointing.name), **options)  # fmt: skip
    return seconds, same_rows(rows, QTable.read(folder / "recovery.ecsv"))


def survey_timing(pointing, folder: Path, survey, stacks, renderers, load_s: float) -> dict:
    """The survey's stages on this pointing, in this process: fine-tuning, search, its injections."""
    with tempfile.TemporaryDirectory() as scratch:
        _, train_s = _timed(pointing_methods, stacks, survey, Path(scratch))
    methods = _methods(folder)
    _, search_s = _timed(search_pointing, stacks, renderers, methods, survey, negated=survey.search_negated)
    injections_s, identical = _survey_rows(pointing, folder, survey, stacks, renderers, methods)
    return {"load": load_s, "train": train_s, "search": search_s, "injections": injections_s,
            "rows_identical_to_folder": identical}  # fmt: skip


def _loaded(seed: int, run_dir: Path, survey):
    pointing = MockPointing(seed)
    stacks, renderers, _, _ = pointing.load(survey.bands)
    return pointing, run_dir / pointing.name, stacks, renderers


def full_chain_seconds(seed: int, run_dir: Path, survey) -> dict:
    """The survey's setting through the whole chain every realization (``reuse=False``: the injections
    as the survey first ran them), timed, with its rows checked against the folder's."""
    pointing, folder, stacks, renderers = _loaded(seed, run_dir, survey)
    seconds, identical = _survey_rows(pointing, folder, survey, stacks, renderers, reuse=False)
    return {"injections": seconds, "rows_identical_to_folder": identical}


def one_thread_rows(seed: int, run_dir: Path, survey) -> dict:
    """The survey's setting on one pointing with one torch thread, as the survey's workers ran it,
    its rows checked against the folder's (at two threads sums run in another order)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        pointing, folder, stacks, renderers = _loaded(seed, run_dir, survey)
        _, identical = _survey_rows(pointing, folder, survey, stacks, renderers)
    finally:
        torch.set_num_threads(threads)
    return {"pointing": pointing.name, "threads": 1, "rows_identical_to_folder": identical}


def run_pointing(seed: int, run_dir: Path, work: Path, survey, packed, timed: bool) -> dict:
    pointing = MockPointing(seed)
    folder = run_dir / pointing.name
    if not (folder / "recovery.ecsv").exists():
        raise SystemExit(f"{folder} holds no finished survey pointing; run benchmarks/survey_uvlf.py first")
    (stacks, renderers, _, _), load_s = _timed(pointing.load, survey.bands)
    record = {"pointing": pointing.name}
    if timed:
        record["survey_seconds"] = survey_timing(pointing, folder, survey, stacks, renderers, load_s)
    rows, seconds = _timed(pointing_recovery, stacks, renderers, _methods(folder), packed,
                           seed=injection_seed(packed, pointing.name))  # fmt: skip
    with atomic_path(work / f"{pointing.name}.ecsv") as tmp:
        rows.write(tmp, format="ascii.ecsv", overwrite=True)
    record["packed_injections_seconds"] = seconds
    return record


@functools.cache
def _arrays(path: Path) -> dict:
    """The columns the comparison needs of the rows at ``path``, as plain arrays (each file read once:
    the results are rewritten after every pointing, and a file never changes once written)."""
    table = QTable.read(path)
    out = {"M_UV": np.asarray(getattr(table["M_UV"], "value", table["M_UV"]), float)}
    for method in METHODS:
        out[f"{method}_selected"] = np.asarray(table[f"{method}_selected"], bool)
        out[f"{method}_M_UV"] = np.asarray(
            getattr(table[f"{method}_M_UV"], "value", table[f"{method}_M_UV"]), float
        )
    return out


def _per_bin(tables: list[dict], method: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per true-M_UV bin: galaxies, selected fraction, median measured-minus-true M_UV of the selected."""
    muv = np.concatenate([t["M_UV"] for t in tables])
    selected = np.concatenate([t[f"{method}_selected"] for t in tables])
    measured = np.concatenate([t[f"{method}_M_UV"] for t in tables])
    index = np.digitize(muv, EDGES) - 1
    bins = len(EDGES) - 1
    n, fraction, offset = np.zeros(bins), np.full(bins, np.nan), np.full(bins, np.nan)
    for b in range(bins):
        inside = index == b
        n[b] = inside.sum()
        if n[b]:
            fraction[b] = selected[inside].mean()
            chosen = inside & selected & np.isfinite(measured)
            if chosen.any():
                offset[b] = np.median(measured[chosen] - muv[chosen])
    return n, fraction, offset


def _differences(survey: list[dict], packed: list[dict], method: str) -> np.ndarray:
    """Packed minus survey: the completeness per bin, then the migration per bin."""
    return np.concatenate([p - s for p, s in zip(_per_bin(packed, method)[1:], _per_bin(survey, method)[1:])])


def _sigma(difference: float, sd: float) -> float | None:
    return difference / sd if sd > 0 else None


def comparison(survey: list[dict], packed: list[dict], seed: int = 0) -> dict:
    """Per method and bin, both settings (`_arrays` of each pointing's rows) and their difference in sd
    of a paired bootstrap over pointings."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(survey), len(survey)) for _ in range(BOOTSTRAP)]
    bins, out = len(EDGES) - 1, {}
    for method in METHODS:
        n_s, f_s, m_s = _per_bin(survey, method)
        n_p, f_p, m_p = _per_bin(packed, method)
        boot = [_differences([survey[i] for i in d], [packed[i] for i in d], method) for d in draws]
        sd = np.nanstd(np.array(boot), axis=0)
        rows = [
            {
                "M_UV": float(EDGES[b] + 0.25), "n_survey": int(n_s[b]), "n_packed": int(n_p[b]),
                "completeness_survey": f_s[b], "completeness_packed": f_p[b],
                "completeness_difference_sigma": _sigma(f_p[b] - f_s[b], sd[b]),
                "migration_survey": m_s[b], "migration_packed": m_p[b],
                "migration_difference_sigma": _sigma(m_p[b] - m_s[b], sd[bins + b]),
            }
            for b in range(bins)
        ]  # fmt: skip
        judged = [r for r in rows if min(r["n_survey"], r["n_packed"]) >= 10]
        keys = ("completeness_difference_sigma", "migration_difference_sigma")
        within = sum(all(abs(r[k] or 0.0) < 2 for k in keys) for r in judged)
        out[method] = {"bins": rows, "judged": len(judged), "within_2_sigma": within}
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pointings", type=int, default=20)
    parser.add_argument(
        "--timed", type=int, default=2, help="pointings on which the survey's setting runs too"
    )
    parser.add_argument("--realizations", type=int, default=4, help="the survey's realizations")
    parser.add_argument("--per", type=int, default=40, help="the survey's galaxies per realization")
    parser.add_argument(
        "--run-dir", help="the survey's run folder (default: <data folder>/survey_uvlf_mock<v>)"
    )
    parser.add_argument("--work", help="packed rows (default: <data folder>/packing_mock<version>)")
    parser.add_argument(
        "--full-chain",
        action="store_true",
        help="on the timed pointings, also the survey's setting through the whole chain (reuse=False)",
    )
    parser.add_argument("--one-thread-check", type=int, metavar="SEED",
                        help="run the survey's setting on this pointing with one torch thread, as the survey "
                        "did, and check its rows against the folder's")  # fmt: skip
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    run_dir = Path(args.run_dir or Path(data_dir()) / f"survey_uvlf_mock{MOCK_VERSION}")
    work = Path(args.work or Path(data_dir()) / f"packing_mock{MOCK_VERSION}")
    work.mkdir(parents=True, exist_ok=True)
    survey = survey_config(args.realizations, args.per)
    packed = survey_config(1, args.realizations * args.per)
    out = Path(args.out)
    previous = json.loads(out.read_text()) if out.exists() else {}
    records = {r["pointing"]: r for r in previous.get("pointings", [])}  # kept for every pointing run before
    command = "python benchmarks/packing.py " + " ".join(sys.argv[1:])
    commands = previous.get("commands", [])
    commands += [] if command in commands else [command]  # in the order first run
    extra = {k: previous[k] for k in ("one_thread_check",) if k in previous}
    if args.one_thread_check:
        extra["one_thread_check"] = one_thread_rows(args.one_thread_check, run_dir, survey)
        print(extra["one_thread_check"], flush=True)
    for seed in range(1, args.pointings + 1):
        name, timed = MockPointing(seed).name, seed <= args.timed
        if name not in records or not (work / f"{name}.ecsv").exists():
            records[name] = run_pointing(seed, run_dir, work, survey, packed, timed=timed)
        elif not (args.full_chain and timed and "full_chain_seconds" not in records[name]):
            continue
        if args.full_chain and timed:
            records[name]["full_chain_seconds"] = full_chain_seconds(seed, run_dir, survey)
        print(records[name], flush=True)
        write_result(out, {**_result(records, commands, args, run_dir, work), **extra})
    write_result(out, {**_result(records, commands, args, run_dir, work), **extra})


def _result(records: dict, commands: list[str], args, run_dir: Path, work: Path) -> dict:
    names = list(records)
    tables = (
        [_arrays(run_dir / n / "recovery.ecsv") for n in names],
        [_arrays(work / f"{n}.ecsv") for n in names],
    )
    return {
        "commands": commands,
        "machine": machine_description(),
        "survey_setting": {"realizations": args.realizations, "per_realization": args.per},
        "packed_setting": {"realizations": 1, "per_realization": args.realizations * args.per},
        "pointings": list(records.values()),
        "comparison": comparison(*tables),
    }


if __name__ == "__main__":
    main()
