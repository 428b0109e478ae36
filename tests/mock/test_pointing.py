"""A mock pointing as the survey names, records and versions it."""

from asteris.mock import MockPointing
from asteris.mock.datasets import MOCK_VERSION
from asteris.science.survey import pointing_from_record
from asteris.science.survey.config import pointing_record


def test_a_pointing_is_named_recorded_and_read_back():
    pointing = MockPointing(5, shape=(96, 96), exposures=4)
    assert pointing.name == "mock-seed5-96x96-4exp" and MockPointing(5).name == "mock-seed5"
    record = pointing_record(pointing)
    assert record == {"kind": "mock", "seed": 5, "shape": [96, 96], "exposures": 4}
    assert pointing_from_record(record, kinds=(MockPointing,)) == pointing
    assert MockPointing.from_record(record) == pointing
    assert pointing.versions == {"mock_version": MOCK_VERSION}
