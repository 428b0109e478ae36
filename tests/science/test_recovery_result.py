"""The result of injection-recovery, on hand-built experiments: one table and its metrics."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.science.recovery_result import RecoveryResult


def hand_built_result(negatives=None) -> RecoveryResult:
    """Two methods, two thresholds; 'deep' recovers one bin fainter than 'shallow'."""
    mags = np.repeat(np.arange(24.0, 29.0, 0.25) + 0.125, 40)
    injected = QTable({"mag": mags * u.mag, "realization": np.zeros(mags.size, int),
                       "kind": np.where(np.arange(mags.size) % 2, "point", "sersic"),
                       "ref_snr": 10 ** (-0.4 * (mags - 25.5)) * 10,
                       "model_flux": 10 ** (-0.4 * (mags - 27.0)),
                       "fwhm_true": np.full(mags.size, 2.0), "ell_true": np.zeros(mags.size)})  # fmt: skip
    limit = {"shallow": 26.5, "deep": 27.5}
    recovered = {m: np.stack([mags < limit[m], mags < limit[m] - 0.5]) for m in limit}
    flux = {m: np.where(recovered[m], injected["model_flux"] * 10 ** (-0.4 * 0.1 * (m == "deep")), np.nan)
            for m in limit}  # fmt: skip
    real = {"shallow": [np.r_[np.ones(80), np.zeros(20)], np.ones(90)],  # purity 0.8, then 1.0
            "deep": [np.r_[np.ones(95), np.zeros(5)], np.ones(90)]}  # fmt: skip
    detections = {m: [(np.full(len(r), 27.0), r.astype(bool)) for r in real[m]] for m in limit}
    shapes = {"shallow": (np.full(mags.size, 2.0), np.zeros(mags.size)),
              "deep": (np.full(mags.size, 2.2), np.full(mags.size, 0.05))}  # fmt: skip
    return RecoveryResult.from_arrays(["shallow", "deep"], (2.0, 4.0), injected, recovered, flux, shapes,
                                      detections, negatives, 27.0, 4.0, 1.0, "shallow", 1.0)  # fmt: skip


def test_result_metrics_on_a_hand_built_experiment():
    result = hand_built_result()
    assert result.purity("shallow", 2.0) == pytest.approx(0.8) and result.purity(
        "deep", 2.0
    ) == pytest.approx(0.95)
    assert result.best_threshold("shallow") == 4.0 and result.best_threshold("deep") == 2.0
    # step functions: the fit puts m90 at the step
    assert result.m90("shallow") == pytest.approx(26.0, abs=0.05)
    assert result.m90("deep") == pytest.approx(27.5, abs=0.05)
    # shallow crosses 90% purity halfway between its rungs (0.8 at 2, 1.0 at 4): m90 halfway, 26.5 -> 26.0
    assert result.m90_interpolated("shallow") == pytest.approx(26.25, abs=0.05)
    assert result.m90_interpolated("deep") == result.m90("deep")  # already pure on the lowest rung
    gain, err = result.depth_gain("deep", "shallow", n_boot=30)
    assert gain == pytest.approx(1.5, abs=0.07) and err < 0.1
    assert result.mag_bias_at_snr("shallow") == pytest.approx(0.0, abs=1e-9)
    assert result.mag_bias_at_snr("deep") == pytest.approx(0.1, abs=1e-9)
    centres, median, scatter = result.photometry("deep")
    assert np.nanmax(np.abs(median - 0.1)) < 1e-9 and np.nanmax(scatter) < 1e-9
    assert result.fwhm_ratio("deep") == pytest.approx(1.1) and result.ellipticity_change(
        "deep"
    ) == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="not scanned"):
        result.completeness("deep", 3.0)


def test_the_result_is_one_table_of_sources_by_method():
    result = hand_built_result()
    table = result.table
    assert len(table) == 2 * len(result.injected) and result.methods == ["shallow", "deep"]
    assert {"recovered_2", "recovered_4", "flux_2", "flux_4", "fwhm", "ellipticity"} <= set(table.colnames)
    deep = table[table["method"] == "deep"]
    np.testing.assert_array_equal(deep["recovered_2"], result.injected["mag"].value < 27.5)
    assert "method" not in result.injected.colnames and not result.has_dual
    with pytest.raises(ConfigError, match="no dual-image fluxes"):
        result.magnitude_offsets("deep", 2.0, dual=True)


def test_purity_of_real_data_comes_from_the_negated_image():
    result = hand_built_result(negatives={"shallow": np.array([30, 3]), "deep": np.array([5, 0])})
    assert result.purity("shallow", 2.0) == pytest.approx(0.7) and result.purity("deep", 4.0) == 1.0
