"""The mock sky's populations: counts, redshifts, the z > 8.5 galaxies and their boost."""

import numpy as np

from asteris.mock.population import PopulationConfig, high_z_galaxies, sky_catalog
from asteris.sky.luminosity import WHITLER25
from asteris.sky.sed import Passbands


def test_high_z_counts_follow_input_luminosity_function():
    cfg = PopulationConfig(high_z_boost=1.0, high_z_muv=(-22.0, -17.0))
    rows = high_z_galaxies(np.random.default_rng(11), Passbands(["jwst_f200w"]), cfg, area_arcmin2=30.0)
    muv = np.array(rows.muv)
    edges = np.arange(-22.0, -16.9, 1.0)
    observed, _ = np.histogram(muv, edges)
    expected = WHITLER25.expected_number(edges, z_range=(8.5, 16.0), area_arcmin2=30.0)
    assert expected.sum() > 300
    chi2 = np.sum((observed - expected) ** 2 / expected)
    assert chi2 < 20  # 5 bins: p ~ 0.001
    assert np.all(np.abs(observed - expected) < 4 * np.sqrt(expected) + 2)
    assert np.all((np.array(rows.z) > 8.5) & (np.array(rows.z) < 16))


def test_the_catalogue_holds_every_kind_with_consistent_magnitudes():
    cat = sky_catalog((40.0, 40.0), bands=["jwst_f200w", "jwst_f444w"], seed=3)
    assert {"galaxy", "star", "dusty", "quiescent"} <= set(cat["type"])
    assert cat["id"].tolist() == list(range(1, len(cat) + 1))
    flux = cat["flux_jwst_f200w"].to_value("nJy")
    bright = flux > 0
    np.testing.assert_allclose(cat["mag_jwst_f200w"].value[bright], 31.4 - 2.5 * np.log10(flux[bright]))
    stars = cat["type"] == "star"
    assert np.all(cat["r_e"].value[stars] == 0) and np.all(cat["r_e"].value[~stars] > 0)
    assert cat.meta["HIZBOOST"] == PopulationConfig().high_z_boost


def test_counts_scale_with_area_and_an_empty_sky_is_empty():
    small = sky_catalog((20.0, 20.0), bands=["jwst_f200w"], seed=4)
    large = sky_catalog((40.0, 40.0), bands=["jwst_f200w"], seed=4)
    assert 2 < len(large) / len(small) < 7  # four times the area
    assert len(sky_catalog((30.0, 30.0), bands=["jwst_f200w"], config=PopulationConfig.empty(), seed=4)) == 0
