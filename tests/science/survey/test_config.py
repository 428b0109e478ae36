"""What a survey runs and on which pointings: configs and pointing records."""

import json

import pytest

from asteris.errors import ConfigError
from asteris.mock import MockPointing
from asteris.science.survey import ArchivePointing, SurveyConfig, pointing_from_record

#: One injected realization of 6 galaxies and a model fine-tuned for 2 steps.
TINY = {"realizations": 1, "per_realization": 6, "photoz_options": {"z_step": 0.05},
        "train": {"frames": 4, "f_maps": 8, "num_blocks": [1, 1, 1], "num_refinement_blocks": 1,
                  "patch_size": 32, "batch_size": 1, "epochs": 1, "max_steps_per_epoch": 2}}  # fmt: skip


def test_config_round_trip_and_refusals():
    config = SurveyConfig.from_dict(TINY)
    assert SurveyConfig.from_dict(config.to_dict()) == config
    assert config.muv_grid[0] == -22.5 and config.muv_grid[-1] == -18.5
    with pytest.raises(ConfigError, match="unknown survey config key"):
        SurveyConfig.from_dict({"realisations": 2})
    with pytest.raises(ConfigError, match="schema version"):
        SurveyConfig(schema_version=99)
    with pytest.raises(ConfigError, match="among the survey's bands"):
        SurveyConfig(training_band="F410M")
    with pytest.raises(ConfigError, match="at least one"):
        SurveyConfig(per_realization=0)
    with pytest.raises(ConfigError, match="levels"):
        SurveyConfig(train={"frames": 4, "num_blocks": [1, 1, 1, 1]})


def test_pointings_are_named_and_recorded():
    for pointing in (MockPointing(5), MockPointing(5, shape=(96, 96), exposures=4),
                     ArchivePointing("jades_1210_nircam", ("nrca1",))):  # fmt: skip
        from asteris.science.survey.config import pointing_record

        record = json.loads(json.dumps(pointing_record(pointing)))
        assert pointing_from_record(record, kinds=(MockPointing,)) == pointing
    assert MockPointing(5, shape=(96, 96), exposures=4).name == "mock-seed5-96x96-4exp"
    assert ArchivePointing("jades_1210_nircam", ("nrca1", "nrca2")).name == "jades_1210_nircam-nrca1-nrca2"


def test_an_unknown_kind_of_pointing_is_named():
    with pytest.raises(ConfigError, match="a 'mock' pointing needs its class"):
        pointing_from_record({"kind": "mock", "seed": 1})
    record = {"kind": "archive", "manifest": "m", "detectors": None}
    assert pointing_from_record(record) == ArchivePointing("m")
    assert ArchivePointing("m").versions == {}
