"""Reading a run folder: once, whatever the number of readers."""

import json

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.science.survey import SurveyConfig, SurveyRun, read_survey, survey_background, survey_candidates


def write_run(folder, pointings=("p1", "p2")):
    folder.mkdir()
    (folder / "survey.json").write_text(json.dumps({"schema_version": 1, "config": SurveyConfig().to_dict()}))
    for i, name in enumerate(pointings):
        (folder / name).mkdir()
        rows = QTable({"M_UV": [-21.2, -20.3, -19.7] * u.mag, "selected": [True, True, i == 0],
                       "in_footprint": [True, False, True], "p_high_z": [0.9, 0.8, 0.75]})  # fmt: skip
        rows.write(folder / name / "candidates_coadd.ecsv")
        rows[["M_UV", "selected", "in_footprint"]][:1].write(folder / name / "negated_coadd.ecsv")
        (folder / name / "summary.json").write_text(json.dumps({"name": name, "boost": 1.0}))


def test_a_run_is_read_once_and_its_readers_share_it(tmp_path):
    write_run(tmp_path / "run")
    run = SurveyRun.open(tmp_path / "run")
    assert run.names == ["p1", "p2"] and run.config == SurveyConfig() and SurveyRun.open(run) is run
    found = survey_candidates(run, "coadd")
    assert len(found) == 3 and found["pointing"].tolist() == ["p1", "p1", "p2"]  # selected, on the footprint
    for name in run.names:  # the files are gone: what is asked again comes from the run
        (tmp_path / "run" / name / "candidates_coadd.ecsv").unlink()
    assert len(survey_candidates(run, "coadd")) == 3
    assert "pointing" not in run.pointing_table("p1", "candidates_coadd.ecsv").colnames  # cache untouched
    with pytest.raises(ConfigError, match="has no candidates_coadd.ecsv"):
        survey_candidates(tmp_path / "run", "coadd")


def test_the_background_by_pointing_and_the_posterior(tmp_path):
    write_run(tmp_path / "run")
    edges = np.array([-22.0, -21.0, -20.0, -19.0])
    parts = survey_background(tmp_path / "run", "coadd", muv_edges=edges, interlopers=False, posterior=True,
                              by_pointing=True)  # fmt: skip
    assert parts["negated"].tolist() == [[1, 0, 0], [1, 0, 0]]
    np.testing.assert_allclose(parts["posterior"], [[0.1, 0.0, 0.25], [0.1, 0.0, 0.0]])
    _, summaries = read_survey(tmp_path / "run")
    assert [s["name"] for s in summaries] == ["p1", "p2"]
    with pytest.raises(ConfigError, match="no survey run"):
        SurveyRun.open(tmp_path)
