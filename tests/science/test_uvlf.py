import astropy.units as u
import numpy as np
import pytest
from astropy.cosmology import Planck18
from astropy.table import QTable
from scipy.integrate import quad
from scipy.special import gamma

from asteris.errors import ConfigError
from asteris.science.uvlf import (
    Schechter,
    absolute_uv_magnitude,
    binned_luminosity_function,
    completeness_grid,
    effective_volume,
    fit_luminosity_function,
    literature_luminosity_functions,
    poisson_interval,
)
from asteris.sky.luminosity import WHITLER25, DoublePowerLaw
from asteris.sky.sed import Passbands, StellarPopulation

FILTERS = {b: f"jwst_{b.lower()}" for b in ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")}


def test_poisson_limits_match_gehrels():
    lower, upper = poisson_interval([0, 1, 2, 10])
    # Gehrels (1986), Tables 1 and 2 at S = 1: 1.841, 3.300, 4.638, 14.27 and 0, 0.173, 0.708, 6.891
    np.testing.assert_allclose(upper, [1.841, 3.300, 4.638, 14.27], rtol=0.02)
    np.testing.assert_allclose(lower, [0.0, 0.173, 0.708, 6.891], atol=0.01)


def test_schechter_integrates_to_its_gamma_function():
    lf = Schechter(m_star=-20.0, alpha=-0.5, phi_star=1e-3)
    total, _ = quad(lf, -30, 15, points=[-20], limit=200)
    assert total == pytest.approx(1e-3 * gamma(0.5), rel=1e-4)


def test_effective_volume_is_the_comoving_volume_weighted_by_completeness():
    z_edges = np.array([8.5, 10.0, 12.0])
    area = 10 * u.arcmin**2
    shell = (Planck18.comoving_volume(12.0) - Planck18.comoving_volume(8.5)).to_value("Mpc3")
    expected = shell * (area / (4 * np.pi * u.sr)).decompose().value
    full = effective_volume(np.ones((2, 2)), z_edges=z_edges, area=area)
    np.testing.assert_allclose(full.to_value("Mpc3"), expected, rtol=1e-10)
    half = effective_volume(np.array([[0.5, 0.5], [1.0, np.nan]]), z_edges=z_edges, area=area)
    assert half[0].value == pytest.approx(0.5 * full[0].value)
    assert half[1] < full[1]  # an empty cell counts as zero
    with pytest.raises(ConfigError, match="z cells"):
        effective_volume(np.ones((2, 3)), z_edges=z_edges, area=area)


def test_completeness_grid_counts_cells():
    muv = np.array([-21.2, -21.3, -19.1, -19.2, -19.3])
    z = np.array([9.0, 9.0, 9.0, 11.0, 11.0])
    completeness, injected = completeness_grid(muv, z, [True, False, True, True, True],
                                               muv_edges=np.array([-22.0, -20.0, -18.0]),
                                               z_edges=np.array([8.5, 10.0, 12.0]))  # fmt: skip
    np.testing.assert_array_equal(injected, [[2, 0], [1, 2]])
    assert completeness[0, 0] == 0.5 and np.isnan(completeness[0, 1])
    np.testing.assert_array_equal(completeness[1], [1.0, 1.0])


def test_binned_phi_is_number_over_volume_and_width():
    edges = np.array([-21.0, -20.0, -19.0, -18.0])
    v_eff = [1e4, 2e4, 0.0] * u.Mpc**3
    table = binned_luminosity_function([-20.5, -19.5, -19.6, -18.2] * u.mag, muv_edges=edges, v_eff=v_eff)
    assert len(table) == 2  # no volume in the last bin
    np.testing.assert_array_equal(table["n"], [1, 2])
    np.testing.assert_allclose(table["phi"].to_value(u.Mpc**-3 / u.mag), [1e-4, 1e-4])
    assert np.all(table["phi_lo"] < table["phi"]) and np.all(table["phi_hi"] > table["phi"])
    with pytest.raises(ConfigError, match="effective volumes"):
        binned_luminosity_function([-20.5] * u.mag, muv_edges=edges, v_eff=[1.0] * u.Mpc**3)


@pytest.mark.parametrize("z", [9.0, 10.5, 12.5])
def test_absolute_magnitude_of_a_mock_galaxy(z):
    pop = StellarPopulation(age_gyr=0.05, tau_gyr=0.3, metallicity=0.2, av=0.05)
    flux, muv = Passbands(list(FILTERS.values())).fluxes_njy(pop, z=z, muv=-20.0)
    row = {"id": [1]} | {f"f_{b}": [f] for b, f in zip(FILTERS, flux)} | {f"e_{b}": [1.0] for b in FILTERS}
    result = absolute_uv_magnitude(QTable(row), [z], FILTERS)
    assert muv == pytest.approx(-20.0)
    assert result["M_UV"][0].value == pytest.approx(-20.0, abs=0.1)
    assert -3.0 < result["beta"][0] < -1.5


def test_fits_recover_the_input_function():
    rng = np.random.default_rng(3)
    edges = np.arange(-22.5, -17.99, 0.5)
    truth = DoublePowerLaw(m_star=-20.5, alpha=-2.2, beta=-4.0, phi_star=3e-4)
    v_eff = np.full(len(edges) - 1, 3e6)
    grid = np.linspace(edges[0], edges[-1], 2000)
    expected = [np.trapezoid(truth(grid[(grid >= lo) & (grid <= hi)]), grid[(grid >= lo) & (grid <= hi)])
                for lo, hi in zip(edges[:-1], edges[1:])]  # fmt: skip
    counts = rng.poisson(np.array(expected) * v_eff)
    centres = np.repeat(0.5 * (edges[1:] + edges[:-1]), counts)
    binned = binned_luminosity_function(centres * u.mag, muv_edges=edges, v_eff=v_eff * u.Mpc**3)
    fit = fit_luminosity_function(binned, fixed={"beta": -4.0}, n_steps=1500, burn=500)
    values, summary = fit.values(), fit.summary()
    for name, true_value in (("m_star", -20.5), ("alpha", -2.2), ("log_phi_star", np.log10(3e-4))):
        row = summary[list(summary["parameter"]).index(name)]
        assert abs(values[name] - true_value) < 3 * max(row["minus"], row["plus"]), (name, values[name])
    assert values["beta"] == -4.0
    low, high = fit.band(np.array([-21.0, -19.0]))
    assert np.all(low < high)
    schechter = fit_luminosity_function(binned, model="schechter", n_steps=600, burn=200)
    assert isinstance(schechter.function(), Schechter)
    again = fit_luminosity_function(binned, model="schechter", n_steps=600, burn=200)
    np.testing.assert_array_equal(schechter.samples, again.samples)  # seeded: the same chain every run
    with pytest.raises(ConfigError, match="no parameters"):
        fit_luminosity_function(binned, model="schechter", fixed={"beta": -4.0})


def test_literature_table():
    table = literature_luminosity_functions()
    references = {"Harikane et al. 2023", "Donnan et al. 2024", "Finkelstein et al. 2024"}
    assert references <= set(table["reference"])
    assert np.all(table["phi"].value > 0) and np.all((table["z"] >= 9) & (table["z"] <= 16))
    measured = table[~table["upper_limit"]]
    assert np.all(measured["phi_err_lo"] <= measured["phi"])
    at_z9 = literature_luminosity_functions(z_range=(8.5, 9.5))
    assert set(at_z9["z"]) == {9.0}
    # the published z ~ 9 points lie within a factor of a few of the Whitler et al. (2025) fit
    bright = at_z9[~at_z9["upper_limit"] & (at_z9["M_UV"].value < -19)]
    ratio = bright["phi"].value / WHITLER25(bright["M_UV"].value)
    assert np.all((ratio > 0.1) & (ratio < 10))


def test_completeness_curves_follow_the_fall_within_a_bin():
    from asteris.science.uvlf import completeness_curves

    rng = np.random.default_rng(4)
    muv, z = rng.uniform(-22, -18, 3000), rng.uniform(8.5, 12, 3000)
    truth = 0.9 / (1 + np.exp((muv + 19.5) / 0.25))
    selected = rng.uniform(size=muv.size) < truth
    grid = np.linspace(-22, -18, 41)
    curves = completeness_curves(muv, z, selected, muv_grid=grid, z_edges=np.array([8.5, 10.0, 12.0, 13.0]))
    expected = 0.9 / (1 + np.exp((grid + 19.5) / 0.25))
    np.testing.assert_allclose(curves[:, 0], expected, atol=0.06)
    np.testing.assert_allclose(curves[:, 1], expected, atol=0.06)
    assert np.all(np.isnan(curves[:, 2]))  # nothing injected at z > 12


def test_weighted_bin_volumes_recover_a_steep_function():
    from asteris.science.uvlf import bin_volumes, measure_luminosity_function

    rng = np.random.default_rng(6)
    truth = DoublePowerLaw(m_star=-20.5, alpha=-2.4, beta=-4.0, phi_star=3e-4)
    grid = np.linspace(-22.5, -18.5, 401)
    v_eff = 4e6 / (1 + np.exp((grid + 19.3) / 0.2)) * u.Mpc**3  # completeness falls inside the faintest bin
    step = grid[1] - grid[0]
    counts = rng.poisson(truth(grid) * v_eff.value * step)
    muv = np.repeat(grid, counts) + rng.uniform(-step / 2, step / 2, counts.sum())
    edges = np.arange(-22.5, -18.49, 1.0)
    binned, fit = measure_luminosity_function(muv * u.mag, muv_edges=edges, muv_grid=grid, v_eff_grid=v_eff,
                                              fixed={"beta": -4.0})  # fmt: skip
    expected = np.array(
        [np.mean(truth(grid[(grid >= a) & (grid <= b)])) for a, b in zip(edges[:-1], edges[1:])]
    )
    tested = np.asarray(binned["n"]) >= 5
    phi = binned["phi"].value
    within = (expected >= binned["phi_lo"].value / 1.1) & (expected <= binned["phi_hi"].value * 1.1)
    assert tested.sum() >= 3 and np.all(within[tested]), (phi, expected, binned["n"])
    flat = bin_volumes(grid, v_eff, edges)  # even weighting overstates the faint bin's volume
    assert flat[-1] > 1.3 * binned["v_eff"][-1]
    assert abs(fit.values()["alpha"] + 2.4) < 0.3


def test_migration_matrix_rows_follow_the_injections_offsets():
    from asteris.science.uvlf import migration_matrix

    rng = np.random.default_rng(3)
    true = rng.uniform(-22, -19, 4000)
    measured = true + rng.normal(-0.1, 0.3, true.size)
    grid, edges = np.array([-21.0, -20.0]), np.arange(-22.5, -18.4, 1.0)
    matrix = migration_matrix(true, measured, muv_grid=grid, muv_edges=edges)
    from scipy.stats import norm

    expected = np.diff(norm.cdf(edges[None, :], loc=grid[:, None] - 0.1, scale=0.3), axis=1)
    np.testing.assert_allclose(matrix, expected, atol=0.03)
    with pytest.raises(ConfigError, match="no selected injection"):
        migration_matrix([np.nan], [-20.0], muv_grid=grid, muv_edges=edges)


def test_migration_forward_model_recovers_a_steep_function_counted_at_measured_magnitudes():
    from asteris.science.uvlf import measure_luminosity_function, migration_matrix

    rng = np.random.default_rng(8)
    truth = DoublePowerLaw(m_star=-20.5, alpha=-2.4, beta=-4.0, phi_star=3e-4)
    grid = np.linspace(-22.5, -18.5, 161)
    step = grid[1] - grid[0]
    v_eff = 3e6 / (1 + np.exp((grid + 19.0) / 0.2)) * u.Mpc**3

    def measure(true):  # the faint end scatters more, as photometric errors grow
        return true + rng.normal(0, 0.15 + 0.1 * (true + 22.5), true.size)

    counts = rng.poisson(truth(grid) * v_eff.value * step)
    true = np.repeat(grid, counts) + rng.uniform(-step / 2, step / 2, counts.sum())
    edges = np.arange(-22.5, -18.4, 0.5)
    injected = rng.uniform(-22.5, -18.5, 20000)
    matrix = migration_matrix(injected, measure(injected), muv_grid=grid, muv_edges=edges)
    muv = measure(true)
    expected = np.array([np.mean(truth(grid[(grid >= a) & (grid < b)])) for a, b in zip(edges, edges[1:])])
    ratios = {}
    for name, moved in (("flat", None), ("migration", matrix)):
        binned, _ = measure_luminosity_function(muv * u.mag, muv_edges=edges, muv_grid=grid, v_eff_grid=v_eff,
                                                migration=moved, fixed={"beta": -4.0}, seed=1)  # fmt: skip
        many = np.asarray(binned["n"]) >= 50  # Poisson errors of at most 14%
        ratios[name] = binned["phi"].value[many] / expected[many]
    assert len(ratios["migration"]) >= 5
    np.testing.assert_allclose(ratios["migration"], 1.0, atol=0.17)
    assert np.max(np.abs(ratios["flat"] - 1)) > 0.3  # counts at the measured M_UV alone overstate bright bins


def test_a_background_of_spurious_candidates_is_subtracted_and_fitted():
    from asteris.science.uvlf import measure_luminosity_function

    truth = DoublePowerLaw(m_star=-20.5, alpha=-2.2, beta=-4.0, phi_star=3e-4)
    grid = np.linspace(-22.5, -18.5, 161)
    step = grid[1] - grid[0]
    v_eff = np.full(grid.size, 2e5) * u.Mpc**3
    edges = np.arange(-22.5, -18.4, 0.5)
    # no Poisson scatter: the counts the function predicts, plus as many spurious ones as the background says
    galaxies = np.repeat(grid, np.round(truth(grid) * v_eff.value * step).astype(int))
    background = np.array([0, 0, 0, 2, 5, 10, 20, 40], float)  # most spurious candidates are faint
    spurious = np.concatenate(
        [np.linspace(a, b, int(n) + 2)[1:-1] for a, b, n in zip(edges, edges[1:], background)]
    )
    muv = np.concatenate([galaxies, spurious]) * u.mag
    expected = np.array([np.mean(truth(grid[(grid >= a) & (grid < b)])) for a, b in zip(edges, edges[1:])])
    results = {}
    for name, b in (("subtracted", background), ("plain", None)):
        binned, fit = measure_luminosity_function(muv, muv_edges=edges, muv_grid=grid, v_eff_grid=v_eff,
                                                  background=b, fixed={"beta": -4.0})  # fmt: skip
        many = np.asarray(binned["n"]) >= 20
        results[name] = (binned, binned["phi"].value[many] / expected[many], fit.values()["alpha"])
    binned, ratios, alpha = results["subtracted"]
    np.testing.assert_array_equal(binned["background"], background)
    np.testing.assert_allclose(ratios, 1.0, atol=0.08)
    assert abs(alpha + 2.2) < 0.2
    assert np.max(results["plain"][1]) > 1.1  # the spurious candidates, taken for galaxies


def test_population_weights_follow_the_comoving_volume():
    from asteris.science.uvlf import population_weights

    z = np.linspace(8.5, 16.0, 2001)
    w = population_weights(z)
    assert np.mean(w) == pytest.approx(1.0, rel=0.01)  # uniform draws weighted: mean one
    dvdz = Planck18.differential_comoving_volume([9.0, 14.0]).value
    ratio = w[np.searchsorted(z, 9.0)] / w[np.searchsorted(z, 14.0)]
    assert ratio == pytest.approx(dvdz[0] / dvdz[1], rel=0.01)
    assert population_weights([8.0, 17.0]).tolist() == [0.0, 0.0]  # outside the range: not in the population


def test_weighted_migration_counts_each_injection_by_its_weight():
    from asteris.science.uvlf import migration_matrix

    grid, edges = np.array([-20.0]), np.array([-20.5, -19.5, -18.5])
    true, measured = [-20.0, -20.0], [-20.1, -19.2]
    even = migration_matrix(true, measured, muv_grid=grid, muv_edges=edges, width=0.1)
    leaning = migration_matrix(true, measured, muv_grid=grid, muv_edges=edges, width=0.1, weights=[3.0, 1.0])
    np.testing.assert_allclose(even, [[0.5, 0.5]])
    np.testing.assert_allclose(leaning, [[0.75, 0.25]])


def test_expected_counts_follow_the_transfer_volumes():
    from asteris.science.uvlf import expected_counts

    bins = QTable({"muv_lo": [-22.0, -21.0] * u.mag, "muv_hi": [-21.0, -20.0] * u.mag,
                   "background": [0.5, 0.0]})  # fmt: skip
    grid = np.linspace(-22.0, -20.0, 401)
    flat = lambda m: np.full(np.shape(m), 1e-4)  # noqa: E731
    volume = np.full(grid.size, 1e4) * u.Mpc**3
    np.testing.assert_allclose(expected_counts(flat, bins, muv_grid=grid, v_eff=volume), [1.5, 1.0])
    # transfer volumes: every galaxy of the first bin counted in the second, the second's where they are
    transfer = np.zeros((grid.size, 2))
    transfer[:, 1] = 1e4
    counts = expected_counts(flat, bins, muv_grid=grid, v_eff=transfer)
    np.testing.assert_allclose(counts, [0.5, 2.0], rtol=5e-3)
