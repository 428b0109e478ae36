"""z > 8.5 galaxies with spectra and sizes, and the rows any population collects."""

import numpy as np
import pytest

from asteris.sky.galaxies import SourceRows, age_limit_gyr, high_z_sources, loguniform, sample_pdf
from asteris.sky.sed import Passbands


def test_brighter_high_z_galaxies_are_larger_and_take_their_magnitudes():
    rng = np.random.default_rng(5)
    muvs = np.repeat([-22.0, -18.0], 60)
    rows = high_z_sources(rng, Passbands(["jwst_f356w"]), muvs, np.full(muvs.size, 10.0), templates=4)
    sizes = np.array(rows.r_e)
    assert np.median(sizes[:60]) > 1.5 * np.median(sizes[60:])
    np.testing.assert_allclose(rows.muv, muvs)
    table = rows.table(rng, ["jwst_f356w"], (10.0, 10.0))
    assert len(table) == 120 and set(table["type"]) == {"high_z"}
    assert np.all((table["x_arcsec"].value >= 0) & (table["x_arcsec"].value <= 10))


def test_draws_follow_their_densities():
    rng = np.random.default_rng(6)
    grid = np.linspace(0, 1, 101)
    draws = sample_pdf(rng, 20000, grid, 2 * grid)  # p(x) = 2x: mean 2/3
    assert draws.mean() == pytest.approx(2 / 3, abs=0.01)
    logs = np.log(loguniform(rng, 1.0, 100.0, 20000))
    assert logs.mean() == pytest.approx(np.log(10.0), abs=0.05)
    assert age_limit_gyr(0.0) == pytest.approx(0.95 * 13.79, abs=0.05)
    assert len(SourceRows("galaxy").table(rng, ["jwst_f356w"], (1.0, 1.0))) == 0
