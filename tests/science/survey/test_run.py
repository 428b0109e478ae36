"""The survey runner: configs, pointings, and a run killed with SIGKILL that resumes to the same result."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import astropy.units as u
import numpy as np
import pytest

pytest.importorskip("distributed")
pytest.importorskip("eazy")

from asteris.errors import ConfigError  # noqa: E402
from asteris.mock import MockPointing  # noqa: E402
from asteris.science.survey import (  # noqa: E402
    SurveyConfig,
    injection_seed,
    read_survey,
    run_survey,
    survey_background,
    survey_candidates,
    survey_interlopers,
    survey_luminosity_function,
    survey_modelled_interlopers,
)

#: One injected realization of 6 galaxies, a model fine-tuned for 2 steps, a coarse photo-z grid (EAZY
#: integrates its templates once per data folder): a pointing in seconds.
TINY = {"realizations": 1, "per_realization": 6, "photoz_options": {"z_step": 0.05},
        "train": {"frames": 4, "f_maps": 8, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1,
                  "patch_size": 32, "batch_size": 1, "epochs": 1, "max_steps_per_epoch": 2}}  # fmt: skip
POINTINGS = "[MockPointing(seed, shape=(192, 192), exposures=8) for seed in (3, 4)]"
#: a shorter fit than the default: the checks compare estimates of the same fit, not the fit itself
FIT = {"fit_steps": 300}


def test_each_pointing_has_injections_of_its_own_the_same_on_every_run():
    config, name = SurveyConfig(), "mock-seed1"
    assert len({injection_seed(config, f"mock-seed{i}") for i in range(1, 21)}) == 20
    assert injection_seed(config, name) == injection_seed(SurveyConfig(), name)
    assert injection_seed(SurveyConfig(injection_seed=1), name) != injection_seed(config, name)


def test_a_folder_keeps_its_config_and_mock_version(tmp_path):
    from asteris.mock.datasets import MOCK_VERSION

    record = {"mock_version": MOCK_VERSION, "config": SurveyConfig().to_dict()}
    (tmp_path / "survey.json").write_text(json.dumps(record))
    with pytest.raises(ConfigError, match="another config"):
        run_survey([], tmp_path, config=SurveyConfig.from_dict(TINY), progress=False)
    with pytest.raises(ConfigError, match="same name"):
        run_survey([MockPointing(1), MockPointing(1)], tmp_path, progress=False)
    (tmp_path / "survey.json").write_text(json.dumps({**record, "mock_version": MOCK_VERSION - 1}))
    with pytest.raises(ConfigError, match=f"mock version {MOCK_VERSION - 1}, and this asteris draws"):
        run_survey([MockPointing(1)], tmp_path, progress=False)


def test_a_folder_is_used_by_one_run_at_a_time(tmp_path):
    from asteris.science.survey.run import _run_lock

    config = SurveyConfig.from_dict(TINY)
    run_survey([], tmp_path, config=config, progress=False)
    with _run_lock(tmp_path):
        with pytest.raises(ConfigError, match="another survey run is using"):
            run_survey([MockPointing(1)], tmp_path, config=config, progress=False)


def _survey_script(run_dir: Path) -> str:
    return textwrap.dedent(f"""
        from asteris.mock import MockPointing
        from asteris.science.survey import SurveyConfig, run_survey
        run_survey({POINTINGS}, {str(run_dir)!r}, config=SurveyConfig.from_dict({TINY!r}), n_workers=1,
                   progress=False)
    """)


def _finished(run_dir: Path) -> list[str]:
    return sorted(p.parent.name for p in run_dir.glob("*/summary.json"))


def _comparable(run_dir: Path) -> dict:
    """What a pointing computed, without when, where and how long: its summary and its tables' text."""
    _, summaries = read_survey(run_dir)
    out = {}
    for s in summaries:
        for key in ("seconds", "worker"):
            s.pop(key)
        tables = {p.name: p.read_text() for p in sorted((run_dir / s["name"]).glob("*.ecsv"))}
        out[s["name"]] = (s, tables)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not hasattr(signal, "SIGKILL"), reason="SIGKILL is POSIX only")
def test_a_run_killed_with_sigkill_resumes_to_the_same_result(tmp_path, module_data_dir):
    killed = tmp_path / "killed"
    env = {**os.environ, "ASTERIS_DATA_DIR": str(module_data_dir)}
    proc = subprocess.Popen([sys.executable, "-c", _survey_script(killed)], env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)  # fmt: skip
    start = time.monotonic()
    while not _finished(killed):
        if proc.poll() is not None:
            pytest.fail(f"the survey ended before it could be killed: {proc.stderr.read()[-3000:]}")
        if time.monotonic() - start > 600:
            os.killpg(proc.pid, signal.SIGKILL)
            pytest.fail("no pointing finished in 10 minutes")
        time.sleep(0.1)
    os.killpg(
        proc.pid, signal.SIGKILL
    )  # the runner, its scheduler and its worker, mid-way through pointing 2
    proc.wait(timeout=60)
    first = _finished(killed)
    assert len(first) == 1
    summary = killed / first[0] / "summary.json"
    written = summary.stat().st_mtime_ns
    config = SurveyConfig.from_dict(TINY)
    pointings = eval(POINTINGS)
    resumed = run_survey(pointings, killed, config=config, n_workers=1, progress=False)
    statuses = dict(zip(resumed["name"], resumed["status"]))
    assert statuses[first[0]] == "present" and list(statuses.values()).count("done") == 1
    assert summary.stat().st_mtime_ns == written  # the finished pointing was not computed again
    assert not list(killed.glob(".*.partial-*"))  # what the killed run left half-written is gone
    assert not list(killed.glob("*/stacks"))  # the memory-mapped copy of the inputs is not kept
    # the pointing the kill cut short, computed afresh in a folder of its own, comes out the same
    (second,) = [p for p in pointings if p.name != first[0]]
    run_survey([second], tmp_path / "fresh", config=config, n_workers=1, progress=False)
    assert _comparable(killed)[second.name] == _comparable(tmp_path / "fresh")[second.name]

    fresh = killed  # both pointings, one of them resumed
    candidates = survey_candidates(fresh, "coadd")
    assert set(candidates["pointing"]) <= {p.name for p in pointings}
    binned, fit, totals = survey_luminosity_function(fresh, "coadd", muv_edges=np.arange(-22.5, -18.4, 1.0),
                                                     subtract_interlopers=False, **FIT)  # fmt: skip
    with pytest.raises(ConfigError, match="ran coadd and asteris, not 'median'"):
        survey_luminosity_function(fresh, "median", muv_edges=np.arange(-22.5, -18.4, 1.0))
    assert totals["pointings"] == 2 and totals["candidates"] == len(candidates) == int(np.sum(binned["n"]))
    # the footprint: every band covered, 16 px inside the image, where the injections are placed
    assert totals["area_arcmin2"] == pytest.approx(2 * (160 * 0.04 / 60) ** 2, rel=0.05)
    assert np.all(candidates["in_footprint"])
    from astropy.table import QTable

    for pointing in pointings:  # a mock pointing keeps its own z > 8.5 galaxies, flagged on its footprint
        field = QTable.read(fresh / pointing.name / "field_high_z.ecsv")
        x, y = np.asarray(field["x"]), np.asarray(field["y"])
        border = (x < 15.5) | (x >= 175.5) | (y < 15.5) | (y >= 175.5)  # within 16 px of the edge
        assert not np.any(np.asarray(field["covered"])[border]) and np.all(field["z"] > 8.5)
    assert np.all(binned["v_eff"].value >= 0) and set(fit.names) == {
        "m_star",
        "alpha",
        "log_phi_star",
        "beta",
    }
    _check_interlopers(fresh)
    _check_modelled_interlopers(fresh)
    _check_error_budget(fresh, binned)
    _check_negated_searches(fresh, binned)  # last: it removes a pointing's negated candidates


def _check_interlopers(run_dir: Path) -> None:
    """The dimmed low-z galaxies of each pointing, kept in its folder, join the negated background."""
    edges = np.arange(-22.5, -18.4, 1.0)
    fakes = survey_interlopers(run_dir, "coadd")
    _, summaries = read_survey(run_dir)
    assert set(fakes["pointing"]) <= {s["name"] for s in summaries}
    kept = {s["name"]: (run_dir / s["name"] / "interlopers_coadd.ecsv").stat().st_mtime_ns for s in summaries}
    again = survey_interlopers(run_dir, "coadd")  # read back, not recomputed
    assert kept == {n: (run_dir / n / "interlopers_coadd.ecsv").stat().st_mtime_ns for n in kept}
    np.testing.assert_array_equal(again["weight"], fakes["weight"])
    chosen = np.asarray(fakes["selected"], bool)
    expected = np.histogram(fakes["M_UV"].value[chosen], edges, weights=fakes["weight"][chosen])[0]
    expected += np.histogram(survey_candidates(run_dir, "coadd", negated=True)["M_UV"].value, edges)[0]
    both, _, _ = survey_luminosity_function(run_dir, "coadd", muv_edges=edges, **FIT)
    np.testing.assert_allclose(both["background"], expected[np.searchsorted(edges, both["muv_lo"].value)])


def _check_modelled_interlopers(run_dir: Path) -> None:
    """A model population through each pointing's noise, kept in its folder for that population, is
    the background in place of the dimmed galaxies; it is refused beside them."""
    from asteris.mock.population import sky_catalog

    config, summaries = read_survey(run_dir)
    population = sky_catalog((60.0, 60.0), bands=list(config.filters.values()), seed=3)
    population = population[np.asarray(population["type"]) != "high_z"]
    area = 1.0 * u.arcmin**2
    with pytest.raises(ConfigError, match="run survey_modelled_interlopers"):
        survey_luminosity_function(run_dir, "coadd", muv_edges=np.arange(-22.5, -18.4, 1.0),
                                   subtract_interlopers=False, subtract_modelled=True)  # fmt: skip
    fakes = survey_modelled_interlopers(run_dir, population, area=area)
    weights = {s["name"]: s["area_arcmin2"] for s in summaries}
    np.testing.assert_allclose(fakes["weight"], [weights[n] for n in fakes["pointing"]])
    stamp = {n: (run_dir / n / "modelled_interlopers.ecsv").stat().st_mtime_ns for n in weights}
    survey_modelled_interlopers(run_dir, population, area=area)  # the same population: read back
    assert stamp == {n: (run_dir / n / "modelled_interlopers.ecsv").stat().st_mtime_ns for n in weights}
    edges = np.arange(-22.5, -18.4, 1.0)
    parts = survey_background(run_dir, "coadd", muv_edges=edges, negated=False, interlopers=False,
                              modelled=True)  # fmt: skip
    chosen = np.asarray(fakes["selected"], bool)
    expected = np.histogram(fakes["M_UV"].value[chosen], edges, weights=fakes["weight"][chosen])[0]
    np.testing.assert_allclose(parts["modelled"], expected)
    with pytest.raises(ConfigError, match="subtract one of them"):
        survey_luminosity_function(run_dir, "coadd", muv_edges=edges, subtract_modelled=True)


def _check_error_budget(run_dir: Path, plain) -> None:
    """Pointings drawn again give each bin the spread of its counts and of its volume, which widen
    its Poisson interval; completeness and the bins judged come beside them. ``plain``: the same
    function without the budget."""
    edges = np.arange(-22.5, -18.4, 1.0)
    binned, _, _ = survey_luminosity_function(run_dir, "coadd", muv_edges=edges, subtract_interlopers=False,
                                              bootstrap=30, min_completeness=0.1, **FIT)  # fmt: skip
    np.testing.assert_allclose(binned["phi"].value, plain["phi"].value)  # the estimate itself is the same
    np.testing.assert_allclose(binned["phi_lo_poisson"].value, plain["phi_lo"].value)
    assert np.all(binned["phi_hi"] >= binned["phi_hi_poisson"])
    assert np.all(binned["phi_lo"].value <= binned["phi_lo_poisson"].value * (1 + 1e-9))
    counted = np.asarray(binned["n"]) > 0
    assert np.all(binned["rel_err_volume"][counted] > 0) and np.all(binned["sd_counts"] >= 0)
    completeness = np.asarray(binned["completeness"])
    assert np.all((completeness >= 0) & (completeness <= 1))
    np.testing.assert_array_equal(binned["tested"], (np.asarray(binned["n"]) >= 5) & (completeness >= 0.1))
    # the fitted shape weights the bins' volumes: its posterior spread widens every counted bin's interval
    shape = np.asarray(binned["rel_err_shape"])
    assert np.all(shape[counted] > 0) and np.all(np.isfinite(shape))
    phi = binned["phi"].value
    widened = binned["phi_hi"].value[counted] - phi[counted]
    assert np.all(widened >= shape[counted] * phi[counted] * (1 - 1e-9))
    # the fit's own expected counts, through the transfer and with the background, hold as many as were found
    assert np.sum(binned["n_fit"]) == pytest.approx(np.sum(binned["n"]), rel=0.25)
    assert np.all(binned["n_fit"] >= binned["background"])
    # injections counted by the comoving volume at their z move the transfer, and so the bins' volumes
    weighted, _, _ = survey_luminosity_function(run_dir, "coadd", muv_edges=edges, subtract_interlopers=False,
                                                population_weighted=True, **FIT)  # fmt: skip
    assert np.all(weighted["v_eff"].value > 0)
    both = np.intersect1d(weighted["M_UV"].value, plain["M_UV"].value)
    volumes = [t["v_eff"].value[np.isin(t["M_UV"].value, both)] for t in (weighted, plain)]
    assert both.size and not np.allclose(*volumes)


def _check_negated_searches(run_dir: Path, binned) -> None:
    """Each pointing searched its negated images too; what they select is each bin's background."""
    _, summaries = read_survey(run_dir)
    negated = survey_candidates(run_dir, "coadd", negated=True)
    assert len(negated) == sum(s["n_negated_candidates"]["coadd"] for s in summaries)
    edges = np.arange(-22.5, -18.4, 1.0)
    expected = np.histogram(negated["M_UV"].value, edges)[0]
    kept = np.searchsorted(edges, binned["muv_lo"].value)  # bins without volume are left out
    np.testing.assert_array_equal(binned["background"], expected[kept])
    plain, _, _ = survey_luminosity_function(run_dir, "coadd", muv_edges=np.arange(-22.5, -18.4, 1.0),
                                             subtract_negated=False, subtract_interlopers=False,
                                             **FIT)  # fmt: skip
    assert "background" not in plain.colnames
    (run_dir / summaries[0]["name"] / "negated_coadd.ecsv").unlink()  # as in a run made before them
    with pytest.raises(ConfigError, match="without searching the negated images"):
        survey_luminosity_function(run_dir, "coadd", muv_edges=np.arange(-22.5, -18.4, 1.0))


def test_a_worker_that_runs_tasks_side_by_side_is_refused(tmp_path):
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=1, threads_per_worker=2, processes=False, dashboard_address=":0") as cluster:
        with Client(cluster) as client:
            config = SurveyConfig.from_dict(TINY)
            table = run_survey([MockPointing(1)], tmp_path, config=config, scheduler=client, retries=0,
                               progress=False)  # fmt: skip
    assert list(table["status"]) == ["failed"] and "--nthreads 1" in table["error"][0]
    assert not list(tmp_path.glob("*/summary.json")) and not list(tmp_path.glob(".*partial*"))


def test_the_command_line_reads_seeds_and_refuses_bad_ones(capsys):
    from asteris.cli import _seeds, main

    assert _seeds("1-3,7") == [1, 2, 3, 7]
    assert main(["survey", "runs", "--mock-seeds", "one-to-twelve"]) == 2
    assert "--mock-seeds takes seeds such as 1-12" in capsys.readouterr().err


def test_a_search_spread_over_a_cluster_gives_the_same_tables(tmp_path, module_data_dir, monkeypatch):
    """The network's images band by band and the four searches (two methods, each negated too) as
    tasks of a cluster of one-thread workers: the same candidates as the search run here in turn on
    two torch threads (the parts run on the caller's threads: the network's sums are grouped by
    thread, and on the workers' one thread the images differ at 1e-10)."""
    import torch
    from distributed import Client

    from asteris.fanout import cluster_map
    from asteris.science.survey import pointing_methods, search_pointing

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(module_data_dir))
    config = SurveyConfig.from_dict(TINY)
    stacks, renderers, _, _ = MockPointing(3, shape=(192, 192), exposures=8).load(config.bands)
    methods = pointing_methods(stacks, config, tmp_path)
    calls = []

    def counting(function, items):
        calls.append(list(items))
        return mapper(function, items)

    threads = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        alone = search_pointing(stacks, renderers, methods, config)
        with Client(n_workers=2, threads_per_worker=1, dashboard_address=":0") as client:
            mapper = cluster_map(client)
            spread = search_pointing(stacks, renderers, methods, config, mapper=counting)
    finally:
        torch.set_num_threads(threads)
    assert calls == [[("asteris", b) for b in config.detection_bands],
                     [("coadd", 1), ("asteris", 1), ("coadd", -1), ("asteris", -1)]]  # fmt: skip
    for part, (by_method, spread_by_method) in enumerate(zip(alone, spread)):
        assert list(spread_by_method) == list(by_method) == ["coadd", "asteris"]
        for name, table in by_method.items():
            assert len(table) > 0 or part == 1
            for column in table.colnames:
                got, want = np.asarray(spread_by_method[name][column]), np.asarray(table[column])
                np.testing.assert_array_equal(got, want, err_msg=f"{part} {name} {column}")


@pytest.mark.slow
def test_a_pointing_spread_over_a_cluster_writes_what_it_writes_in_turn(tmp_path, module_data_dir,
                                                                        monkeypatch):
    """The whole chain with ``spread``: the coadd searched while the pointing's worker fine-tunes,
    then the network's search beside two realizations, on two one-thread workers; every table and
    the summary as from the chain run in turn on one."""
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(module_data_dir))  # the workers' EAZY and mock caches
    config = SurveyConfig.from_dict({**TINY, "realizations": 2})
    runs = {}
    for name, workers, spread in (("in_turn", 1, False), ("spread", 2, True)):
        pointing = MockPointing(3, shape=(192, 192), exposures=8)
        table = run_survey([pointing], tmp_path / name, config=config, n_workers=workers,
                           threads_per_worker=1, spread=spread, retries=0, progress=False)  # fmt: skip
        assert list(table["status"]) == ["done"], table["error"][0]
        runs[name] = _comparable(tmp_path / name)
    summary, tables = runs["in_turn"][pointing.name]
    spread_summary, spread_tables = runs["spread"][pointing.name]
    assert spread_summary == summary and summary["injected"] == 12
    assert list(spread_tables) == list(tables) and "negated_asteris.ecsv" in tables
    for file, text in tables.items():
        assert spread_tables[file] == text, file


def test_a_spread_pointing_whose_fine_tuning_fails_is_reported_on_one_worker(tmp_path, module_data_dir,
                                                                            monkeypatch):
    """The coadd's search parts wait for the one worker's slot, which the failing pointing holds:
    it must not wait for them."""
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(module_data_dir))
    config = SurveyConfig.from_dict({**TINY, "init_from": str(tmp_path / "no-such-checkpoint.pt")})
    pointing, done = MockPointing(3, shape=(192, 192), exposures=8), []
    run = threading.Thread(target=lambda: done.append(run_survey(
        [pointing], tmp_path / "run", config=config, n_workers=1, threads_per_worker=1, spread=True,
        retries=0, progress=False)), daemon=True)  # fmt: skip
    run.start()
    run.join(timeout=300)
    assert done, "the failed pointing waited for its own parts"
    assert list(done[0]["status"]) == ["failed"] and "no-such-checkpoint" in done[0]["error"][0]


def test_a_table_from_another_process_is_written_byte_for_byte_as_here(tmp_path):
    """A Dask part's table holds copies of astropy's units; the ECSV header would write each out where
    it refers to one shared unit here."""
    import cloudpickle
    from astropy.table import QTable

    from asteris.science.survey.folder import write_table

    here = QTable({"M_UV": [-20.1, -19.4] * u.mag, "m_F356W": [28.2, 29.0] * u.mag, "x": [3.0, 4.5] * u.pix,
                   "mag_jwst_f444w": [27.9, 28.8] * u.ABmag, "mag_jwst_f356w": [28.1, 28.9] * u.ABmag})
    copied = QTable({n: type(here[n])(here[n].value, cloudpickle.loads(cloudpickle.dumps(here[n].unit)))
                     for n in here.colnames})  # fmt: skip
    assert copied["M_UV"].unit is not u.mag
    write_table(here, tmp_path / "here.ecsv")
    write_table(copied, tmp_path / "copied.ecsv")
    assert (tmp_path / "copied.ecsv").read_bytes() == (tmp_path / "here.ecsv").read_bytes()
    plain = [tmp_path / "plain_here.ecsv", tmp_path / "plain_copied.ecsv"]
    here.write(plain[0], format="ascii.ecsv")
    copied.write(plain[1], format="ascii.ecsv")
    assert plain[0].read_bytes() != plain[1].read_bytes()  # what write_table mends
