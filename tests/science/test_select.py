import numpy as np
import pytest
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.science.select import HighZCriteria, band_edges, select_high_z

FILTERS = {b: f"jwst_{b.lower()}" for b in ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")}
GRID = np.exp(np.arange(np.log(1.05), np.log(17.0), 0.01)) - 1


def _photoz(best_redshifts, low_z_penalties) -> QTable:
    """Posteriors peaked at ``best_redshifts`` whose best z < 7 solution is worse by ``low_z_penalties``."""
    chi2 = []
    for z_best, penalty in zip(best_redshifts, low_z_penalties):
        curve = 5.0 + 400 * ((GRID - z_best) / (1 + z_best)) ** 2
        if z_best > 7.0:
            curve[GRID <= 7.0] = curve.min() + penalty
        chi2.append(curve)
    chi2 = np.array(chi2)
    prob = np.exp(-0.5 * (chi2 - chi2.min(1, keepdims=True)))
    prob /= np.trapezoid(prob, GRID, axis=1)[:, None]
    n = len(best_redshifts)
    z_phot = GRID[np.argmax(prob, axis=1)]
    table = QTable({"id": np.arange(1, n + 1), "z_phot": z_phot, "p_z": prob, "chi2_z": chi2})
    table.meta["z_grid"] = GRID
    return table


def _catalog(snr_rows) -> QTable:
    """Fluxes of error 1 nJy with the given S/N per band."""
    table = QTable({"id": np.arange(1, len(snr_rows) + 1)})
    for i, band in enumerate(FILTERS):
        table[f"f_{band}"] = [row[i] for row in snr_rows]
        table[f"e_{band}"] = np.ones(len(snr_rows))
    return table


DROPOUT_Z10 = [0.3, -0.5, 12.0, 15.0, 14.0, 13.0, 12.0]  # z ~ 10: F090W and F115W are blueward


@pytest.fixture(scope="module")
def selection():
    rows = [
        DROPOUT_Z10,  # a clean z ~ 10 galaxy
        [3.5, 0.1, 12.0, 15.0, 14.0, 13.0, 12.0],  # detected in F090W
        [0.3, -0.5, 3.0, 4.0, 6.0, 6.0, 6.0],  # too faint redward of the break
        [20.0, 25.0, 30.0, 30.0, 30.0, 30.0, 30.0],  # a z ~ 2 galaxy
        DROPOUT_Z10,  # a break, but the low-z solution is almost as good
    ]
    photoz = _photoz([10.0, 10.0, 10.0, 2.0, 10.0], [30.0, 30.0, 30.0, 0.0, 2.0])
    return select_high_z(_catalog(rows), photoz, FILTERS)


def test_each_criterion_and_its_reason(selection):
    assert selection["selected"].tolist() == [True, False, False, False, False]
    assert selection["reasons"][0] == ""
    assert "blueward" in selection["reasons"][1] and "F090W" in selection["reasons"][1]
    assert "redward" in selection["reasons"][2] and not selection["pass_red"][2]
    assert "P(z > 8.5)" in selection["reasons"][3] and not selection["pass_p_z"][3]
    assert "delta chi2" in selection["reasons"][4] and not selection["pass_delta_chi2"][4]
    assert selection["pass_blue"][4] and selection["pass_red"][4]  # the break itself is fine


def test_bands_follow_lyman_alpha_at_the_high_z_solution(selection):
    first = selection[0]
    assert first["blue_bands"] == "F090W,F115W"  # Lyman-alpha at 1.34 micron for z = 10
    assert first["red_bands"] == "F200W,F277W"  # F150W (1.33-1.67 micron) straddles it
    assert first["p_high_z"] > 0.99 and first["delta_chi2"] == pytest.approx(30.0, abs=0.5)
    assert first["z_high"] == pytest.approx(10.0, abs=0.1)


def test_selected_exactly_when_no_reason(selection):
    assert np.array_equal(np.asarray(selection["selected"]), np.asarray(selection["reasons"]) == "")
    assert selection.meta["criteria"]["z_min"] == 8.5


def test_criteria_are_configurable():
    photoz = _photoz([10.0], [30.0])
    strict = HighZCriteria(red_min_snr=20.0)
    assert not select_high_z(_catalog([DROPOUT_Z10]), photoz, FILTERS, criteria=strict)["selected"][0]


def test_band_edges_are_ordered():
    edges = band_edges(FILTERS)
    blues = [edges[b][0] for b in FILTERS]
    assert blues == sorted(blues)
    assert all(lo < hi for lo, hi in edges.values())


def test_bad_inputs_are_refused():
    with pytest.raises(ConfigError, match="unknown selection key"):
        HighZCriteria.from_dict({"z_min": 9.0, "snr": 5})
    with pytest.raises(ConfigError, match="schema"):
        HighZCriteria(schema_version=99)
    with pytest.raises(ConfigError, match="low_z_max"):
        HighZCriteria(low_z_max=9.0)
    photoz = _photoz([10.0, 10.0], [30.0, 30.0])
    photoz["id"] = [2, 1]
    with pytest.raises(ConfigError, match="same objects"):
        select_high_z(_catalog([DROPOUT_Z10, DROPOUT_Z10]), photoz, FILTERS)
    with pytest.raises(ConfigError, match="lacks"):
        select_high_z(_catalog([DROPOUT_Z10]), _photoz([10.0], [30.0]), {"F999W": "jwst_f200w"})
