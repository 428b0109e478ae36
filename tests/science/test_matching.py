"""Matching detections to injected sources and completeness fits, on hand-built inputs."""

import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.science.matching import (
    binned_fraction,
    completeness_magnitude,
    fit_completeness,
    match_positions,
)


def test_match_positions_pairs_closest_first_and_one_to_one():
    # two injected points compete for one detection: the closer wins, the other is missed
    hit = match_positions([0.0, 1.5, 50.0], [0.0, 0.0, 0.0], [1.0, 49.0, 80.0], [0.0, 0.0, 0.0], 2.0)
    assert hit.tolist() == [-1, 0, 1]
    assert match_positions([], [], [1.0], [1.0], 2.0).tolist() == []
    assert match_positions([1.0], [1.0], [], [], 2.0).tolist() == [-1]
    assert match_positions([0.0], [0.0], [2.5], [0.0], 2.0).tolist() == [-1]


def test_binned_fraction_counts_and_empty_bins():
    centres, fraction, counts = binned_fraction([0.5, 0.6, 2.5, 9.0], [1, 0, 1, 1], [0, 1, 2, 3])
    assert centres.tolist() == [0.5, 1.5, 2.5] and counts.tolist() == [2, 0, 1]
    assert fraction[0] == 0.5 and np.isnan(fraction[1]) and fraction[2] == 1.0


def test_completeness_fit_recovers_a_known_curve_and_its_m90():
    rng = np.random.default_rng(2)
    mags = rng.uniform(25, 30, 3000)
    c_max, m50, width = 0.97, 28.0, 0.25
    hit = rng.uniform(size=mags.size) < c_max / (1 + np.exp((mags - m50) / width))
    fit = fit_completeness(mags, hit)
    assert fit == pytest.approx((m50, width, c_max), abs=0.03)
    expected = m50 + width * np.log(c_max / 0.9 - 1)
    assert completeness_magnitude(*fit) == pytest.approx(expected, abs=0.05)
    assert np.isnan(completeness_magnitude(28.0, 0.3, 0.85))
    with pytest.raises(ConfigError):
        fit_completeness(mags, np.ones(mags.size, bool))
