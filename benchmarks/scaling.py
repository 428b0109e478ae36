"""How the survey's pointing chain grows with the pointing's area: time per stage and peak memory.

Runs `asteris.science.survey.run_pointing` on mock pointings of the z > 8.5
field (`asteris.mock.MockPointing`, seed 1) of several sizes, each in a
process of its own so that its peak memory is its own: the stacks loaded,
the chapters' fine-tuning (`asteris.book.CI_FINE_TUNE_STEPS` steps from the
committed ``tiny`` reference), the search of both methods with its negated
twin, and one realization of injections at the survey's density (40 galaxies
per 512 x 512 pixels). The mock fields are simulated first, outside the
timed chain (a real pointing is read from its files). A thread samples the
process's resident set and its anonymous part every 0.05 s; each stage's peak
is the largest sample within it. The anonymous part is what the system cannot
take back: the chain memory-maps its stacks
(`asteris.science.survey.stacks_on_disk`), and the pages of them it has read
are file cache, counted in the resident set and given back under pressure.
Time and peak memory are fitted against the area (a + b x area) and
extrapolated to a real NIRCam pointing: one module of the JADES manifest's
long-wave detector on the 0.04-arcsec grid (`asteris.book.estimate`).

``--injections`` also times the injection stage both ways on the 512 x 512
pointing, in one process: the full chain per realization (``reuse=False``:
every method's images of every band, photo-z of every detection) and with
reuse (the default), and checks that the two give the same rows.

``--network`` times, at each size measured and in a process of its own, one
pass of the network (the ``tiny`` reference the chain fine-tunes) over the
detection bands: the part of the search and of each injection realization
that a GPU takes over (`asteris.book.estimate.cpu_stage_minutes` leaves it
out).

``--dask`` runs one pointing of ``--dask-side`` pixels (the survey's four
realizations) through `asteris.science.survey.run_survey` on one worker, on
two workers of a `distributed.LocalCluster` with the parts of its search (the
network's images band by band, each search and its negated twin) and its
injection realizations spread over them (``spread``: the coadd's search
during the fine-tuning, the network's search beside the realizations), and on
a scheduler and two workers started by hand (``dask scheduler``,
``dask worker ADDRESS --nworkers 2 --nthreads 1``), and gives each wall time.

Each size is written to the results as it finishes; a second run skips the
sizes already there (``--force`` to redo them).

Usage: ``python benchmarks/scaling.py [--sizes 256 512 768 1024] [--injections] [--network] [--dask]
[--two-at-once [SIDE] [--malloc-trim]] [--force] [--out FILE]``
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
from _memory import status_mb
from _results import same_rows, write_result

from asteris.engine import DEFAULT_TILE
from asteris.fanout import WORKER_ENV
from asteris.fileio import sha256sum

RESULTS = Path(__file__).parent / "results" / "scaling.json"
PER_512 = 40  #: injected galaxies per 512 x 512 pixels, the survey's density
GRID_SCALE = 0.04  #: arcsec per pixel of the mock and of the aligned stacks
SAMPLE_S = 0.05  #: seconds between two samples of the process's memory


def _config(side: int):
    from asteris.book import CI_REFERENCE, reference_weights, training_preset
    from asteris.science.survey import SurveyConfig

    per = max(1, round(PER_512 * side**2 / 512**2))
    init_from = str(reference_weights(*CI_REFERENCE))
    return SurveyConfig(train=training_preset("ci").to_dict(), init_from=init_from, realizations=1,
                        per_realization=per, injection_muv_slope=-2.0)  # fmt: skip


def _sampled(samples: list, stop: threading.Event) -> None:
    while not stop.is_set():
        samples.append((time.perf_counter(), status_mb("VmRSS"), status_mb("RssAnon")))
        stop.wait(SAMPLE_S)


def child(side: int) -> dict:
    """One pointing of ``side`` x ``side`` pixels through the chain, in this process."""
    import torch

    from asteris.mock import MockPointing
    from asteris.science.survey import run_pointing

    samples, stop = [], threading.Event()
    sampler = threading.Thread(target=_sampled, args=(samples, stop), daemon=True)
    sampler.start()
    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        summary = run_pointing(MockPointing(1, shape=(side, side)), folder, _config(side))
    stop.set()
    sampler.join()
    stages, peaks, anonymous, edge = summary["seconds"], {}, {}, start
    for stage in ("load", "train", "search", "injections", "write"):
        inside = [(rss, anon) for t, rss, anon in samples if edge <= t <= edge + stages[stage] + SAMPLE_S]
        peaks[stage] = max((rss for rss, _ in inside), default=float("nan"))
        anonymous[stage] = max((anon for _, anon in inside), default=float("nan"))
        edge += stages[stage]
    anonymous["process"] = max(anon for _, _, anon in samples)
    gpu = torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None
    from asteris.mock.datasets import HIGH_Z_FIELD

    voxels = len(_config(side).bands) * HIGH_Z_FIELD["exposures"] * side**2  # every band's stack
    return {"side": side, "area_arcmin2": (side * GRID_SCALE) ** 2 / 3600, "voxels": voxels,
            "seconds": stages, "peak_rss_mb": {**peaks, "process": status_mb("VmHWM")},
            "peak_anonymous_mb": anonymous, "peak_gpu_mb": gpu,
            "injected": summary["injected"], "threads": torch.get_num_threads()}  # fmt: skip


def network_pass(side: int) -> dict:
    """Seconds of one pass of the network (the committed ``tiny`` reference the chain fine-tunes, on
    this CPU) over the detection bands of a ``side`` x ``side`` pointing: what its search and each
    injection realization run of it, and what a GPU takes over from the CPU."""
    import torch

    from asteris.mock import MockPointing
    from asteris.science.methods import asteris_method

    config = _config(side)
    stacks, _, _, _ = MockPointing(1, shape=(side, side)).load(config.detection_bands)
    method = asteris_method(config.init_from)
    start = time.perf_counter()
    for band in config.detection_bands:
        method(stacks[band])
    return {"seconds": round(time.perf_counter() - start, 2), "bands": list(config.detection_bands),
            "threads": torch.get_num_threads()}  # fmt: skip


def injection_comparison(realizations: int = 2) -> dict:
    """The injection stage on the 512 x 512 pointing, the full chain and with reuse, in one process."""
    from asteris.book import CI_REFERENCE, reference_weights
    from asteris.mock import MockPointing
    from asteris.science.methods import asteris_method, coadd_method
    from asteris.science.survey import pointing_recovery

    config = dataclasses.replace(_config(512), realizations=realizations)
    stacks, renderers, _, _ = MockPointing(1).load(config.bands)
    model = str(reference_weights(*CI_REFERENCE))
    methods = {"coadd": coadd_method("ivar"), "asteris": asteris_method(model)}
    out, tables = {}, {}
    for reuse in (False, True):
        start = time.perf_counter()
        tables[reuse] = pointing_recovery(stacks, renderers, methods, config, seed=3, reuse=reuse)
        out["reuse" if reuse else "full"] = round((time.perf_counter() - start) / realizations, 2)
    reused, full = tables[True], tables[False]
    same = same_rows(reused, full)
    return {"seconds_per_realization": out, "speedup": round(out["full"] / out["reuse"], 2),
            "rows": len(tables[True]), "identical_rows": same, "realizations": realizations}  # fmt: skip


def _hand_started(workers: int):
    """A scheduler and ``workers`` one-thread workers started as a reader would, and their address."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    cli = [sys.executable, "-m", "distributed.cli.dask_scheduler"]  # what ``dask scheduler`` runs
    options = ["--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0"]
    scheduler = subprocess.Popen([*cli, *options], stderr=subprocess.DEVNULL)
    cli = [sys.executable, "-m", "distributed.cli.dask_worker", address]
    options = ["--nworkers", str(workers), "--nthreads", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", **WORKER_ENV}  # as on the LocalCluster: one torch thread
    worker = subprocess.Popen([*cli, *options], stderr=subprocess.DEVNULL, env=env)
    return address, (worker, scheduler)


#: (cluster, workers, torch threads per worker) of the one-pointing runs: one worker of one thread is
#: the baseline, one of two threads uses both cores through torch alone
DASK_RUNS = (("LocalCluster", 1, 1), ("LocalCluster", 1, 2), ("LocalCluster", 2, 1), ("hand-started", 2, 1))


def _run_name(run: tuple) -> str:
    label, workers, threads = run
    return f"{'local' if label == 'LocalCluster' else 'hand'}-{workers}x{threads}"


def dask_within_pointing(side: int, done: list[dict], *, repeat: int = 0, runs=DASK_RUNS) -> list[dict]:
    """One pointing's wall time (and its stages') on one worker, and on two with the parts of its
    search and its realizations spread over them; the runs of ``done`` (of this side and
    ``repeat``, the pass over ``runs``, some of `DASK_RUNS`) are kept."""
    from distributed import Client

    from asteris.mock import MockPointing
    from asteris.science.survey import run_survey

    config = dataclasses.replace(_config(side), realizations=4)
    key = ("scheduler", "workers", "torch_threads_per_worker")
    mine = [r for r in done if r.get("side") == side and r.get("repeat", 0) == repeat]
    rows = {tuple(r[k] for k in key): r for r in mine}
    for label, workers, threads in runs:
        if (label, workers, threads) in rows:
            continue
        scheduler, processes = (None, ()) if label == "LocalCluster" else _hand_started(workers)
        try:
            if processes:
                with Client(scheduler, timeout=60) as client:
                    client.wait_for_workers(workers, timeout=120)
            with tempfile.TemporaryDirectory() as folder:
                start = time.perf_counter()
                table = run_survey([MockPointing(1, shape=(side, side))], folder, config=config,
                                   scheduler=scheduler, n_workers=workers, spread=True,
                                   threads_per_worker=threads if processes == () else None,
                                   progress=False)  # fmt: skip
                wall = time.perf_counter() - start
                written = Path(folder) / str(table["name"][0])
                stages = json.loads((written / "summary.json").read_text())["seconds"]
                tables = {f.name: sha256sum(f) for f in sorted(written.glob("*.ecsv"))}
        finally:
            for process in processes:
                process.terminate()
                process.wait(timeout=60)
        row = {"scheduler": label, "workers": workers, "torch_threads_per_worker": threads, "side": side,
               "repeat": repeat,
               "wall_seconds": round(wall, 1), "status": str(table["status"][0]), "seconds": stages,
               "tables_sha256": tables}  # fmt: skip
        rows[label, workers, threads] = row
        print(json.dumps(row))
    return [rows[run] for run in DASK_RUNS if run in rows]


def fit(areas, values) -> dict:
    """Least squares of ``values = a + b area`` (area in arcmin^2)."""
    b, a = np.polyfit(np.asarray(areas, float), np.asarray(values, float), 1)
    return {"a": float(a), "b_per_arcmin2": float(b)}


def real_pointing_arcmin2() -> float:
    """One module of the JADES manifest's long-wave detector, dithered, on the 0.04-arcsec grid."""
    from asteris.book.estimate import nircam_footprint_px

    return nircam_footprint_px(0.063) ** 2 * GRID_SCALE**2 / 3600


def extrapolation(runs: list[dict]) -> dict:
    areas = [r["area_arcmin2"] for r in runs]
    target = real_pointing_arcmin2()
    out = {"area_arcmin2": target, "seconds": {}, "fits": {}}
    full = [r for r in runs if r["side"] >= DEFAULT_TILE]
    for stage in runs[0]["seconds"]:
        f = fit(areas, [r["seconds"][stage] for r in runs])
        if stage == "train" and len(full) >= 2:  # fine-tuning stops at its steps: flat beyond a tile
            f = {"a": float(np.mean([r["seconds"][stage] for r in full])), "b_per_arcmin2": 0.0}
        out["fits"][stage], out["seconds"][stage] = f, f["a"] + f["b_per_arcmin2"] * target
    out["seconds"]["total"] = sum(v for k, v in out["seconds"].items() if k != "total")
    if all("network_pass" in r for r in runs):  # within the search and each realization; a GPU's part
        f = fit(areas, [r["network_pass"]["seconds"] for r in runs])
        out["fits"]["network_pass"], out["network_pass_seconds"] = f, f["a"] + f["b_per_arcmin2"] * target
    # below a full tile the network's tiles grow with the pointing, and their activations with them
    full = full if len(full) >= 2 else runs
    for key in ("peak_rss_mb", "peak_anonymous_mb"):
        if all(key in r for r in full):
            memory = fit([r["area_arcmin2"] for r in full], [r[key]["process"] for r in full])
            out["fits"][key], out[key] = memory, memory["a"] + memory["b_per_arcmin2"] * target
    out["memory_fit_sides"] = [r["side"] for r in full]
    stages = {k: v for k, v in out["seconds"].items() if k != "total"}
    out["dominant_stage"] = max(stages, key=stages.get)
    return out


def _in_children(option: str, side: int, *, copies: int, **env) -> list[dict]:
    """What ``option`` prints for ``side`` in ``copies`` processes of their own, run at once."""
    started = [subprocess.Popen([sys.executable, __file__, option, str(side)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "PYTHONWARNINGS": "ignore", **env})
               for _ in range(copies)]  # fmt: skip
    results = []
    for process in started:
        out, err = process.communicate()
        if process.returncode:
            raise SystemExit(f"the {side} x {side} pointing failed ({option}):\n{err[-3000:]}")
        results.append(json.loads(out.strip().splitlines()[-1]))
    return results


def _in_child(option: str, side: int, **env) -> dict:
    """What ``option`` prints for ``side`` in a process of its own."""
    return _in_children(option, side, copies=1, **env)[0]


#: What Dask's nannies would add to the workers' environment, and local clusters started by asteris do not
#: (`asteris.fanout.spawn_environment`)
DASK_TRIM = {"MALLOC_TRIM_THRESHOLD_": "65536"}


def two_at_once(side: int = 384, *, extra_env: dict | None = None) -> dict:
    """The network's pass over the detection bands on one torch thread, alone and as two processes at
    once, in the environment of the chain's Dask workers (with ``extra_env``): whether this machine
    runs two workers' parts each at the speed of one."""
    env = {"OMP_NUM_THREADS": "1", **WORKER_ENV, **(extra_env or {})}  # as the chain's Dask workers run
    alone = _in_child("--network-child", side, **env)
    together = _in_children("--network-child", side, copies=2, **env)
    threads = [r["threads"] for r in (alone, *together)]
    return {"side": side, "threads": threads, "env": env, "alone_seconds": alone["seconds"],
            "together_seconds": [r["seconds"] for r in together]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512, 768, 1024])
    parser.add_argument("--injections", action="store_true", help="time the injection stage both ways")
    parser.add_argument("--dask", action="store_true", help="one pointing on one and two Dask workers")
    parser.add_argument("--dask-side", type=int, default=384)
    parser.add_argument("--dask-repeats", type=int, default=2, help="passes over the one-pointing runs")
    names = [_run_name(r) for r in DASK_RUNS]
    parser.add_argument("--dask-runs", nargs="+", choices=names, default=names, help="the runs to make")
    parser.add_argument("--two-at-once", type=int, nargs="?", const=384, metavar="SIDE",
                        help="the network's pass alone and as two processes at once (384 px)")  # fmt: skip
    parser.add_argument("--malloc-trim", action="store_true",
                        help="--two-at-once also with Dask's MALLOC_TRIM_THRESHOLD_, same run")  # fmt: skip
    parser.add_argument("--force", action="store_true", help="redo the sizes already in the results")
    parser.add_argument("--out", default=str(RESULTS))
    parser.add_argument("--network", action="store_true",
                        help="time the network's pass over the detection bands at each size")  # fmt: skip
    parser.add_argument("--child", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--network-child", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child or args.network_child:
        print(json.dumps(child(args.child) if args.child else network_pass(args.network_child)))
        return
    from asteris.mock.datasets import HIGH_Z_FIELD, mock_field
    from asteris.tuning import machine_description

    out = Path(args.out)
    result = json.loads(out.read_text()) if out.exists() else {}
    result.update(command="python benchmarks/" + " ".join([Path(sys.argv[0]).name, *sys.argv[1:]]),
                  machine=machine_description())  # fmt: skip
    runs = {r["side"]: r for r in result.get("runs", [])}
    for side in args.sizes:
        if side in runs and not args.force:
            continue
        mock_field("nircam", **{**HIGH_Z_FIELD, "shape": (side, side)}, seed=1, progress=False)  # once
        runs[side] = _in_child("--child", side)
        print(json.dumps(runs[side]))
        result["runs"] = [runs[s] for s in sorted(runs)]
        if len(runs) >= 2:
            result["real_pointing"] = extrapolation(result["runs"])
        write_result(out, result)
    for side in sorted(runs) if args.network else []:  # in a process of its own, as the chain ran
        if "network_pass" not in runs[side] or args.force:
            runs[side]["network_pass"] = _in_child("--network-child", side)
            print(json.dumps(runs[side]["network_pass"]))
            result["runs"] = [runs[s] for s in sorted(runs)]
            write_result(out, result)
    if len(runs) >= 2:  # refitted from every size there is
        result["real_pointing"] = extrapolation([runs[s] for s in sorted(runs)])
        write_result(out, result)
    if args.injections:
        result["injections"] = injection_comparison()
        print(json.dumps(result["injections"]))
        write_result(out, result)
    if args.two_at_once:
        for extra_env in ({}, DASK_TRIM) if args.malloc_trim else ({},):
            measured = two_at_once(args.two_at_once, extra_env=extra_env)
            print(json.dumps(measured))
            others = [r for r in result.get("two_at_once", [])
                      if (r["side"], r.get("env")) != (measured["side"], measured["env"])]  # fmt: skip
            result["two_at_once"] = sorted([*others, measured], key=lambda r: r["side"])
            write_result(out, result)
    if args.dask:
        mock_field("nircam", **{**HIGH_Z_FIELD, "shape": (args.dask_side,) * 2}, seed=1, progress=False)
        done = [] if args.force else result.get("dask", [])
        chosen = [r for r in DASK_RUNS if _run_name(r) in args.dask_runs]
        for repeat in range(args.dask_repeats):  # a pass over the runs each: the machine's speed drifts
            mine = dask_within_pointing(args.dask_side, done, repeat=repeat, runs=chosen)
            same = {(r["side"], r.get("repeat", 0)) for r in mine}
            kept = [r for r in result.get("dask", []) if (r["side"], r.get("repeat", 0)) not in same]
            result["dask"] = kept + mine
            write_result(out, result)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
