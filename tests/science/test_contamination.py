"""The estimates of low-z interlopers (`asteris.science.contamination`): dimmed, modelled, simulated."""

import astropy.units as u
import numpy as np
import pytest
from astropy.table import QTable, vstack

from asteris.errors import ConfigError
from asteris.science.contamination import (
    dimmed_interlopers,
    jackknife_noise,
    modelled_interlopers,
    simulated_interlopers,
)
from asteris.sky.render import SourceRenderer
from asteris.sky.sed import Passbands, StellarPopulation
from asteris.stack import Stack

pytestmark = pytest.mark.usefixtures("module_data_dir")  # EAZY grids cached per module

BANDS = ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")
FILTERS = {b: f"jwst_{b.lower()}" for b in BANDS}
DETECTION = ("F277W", "F356W", "F444W")


OLD_DUSTY = StellarPopulation(age_gyr=1.5, tau_gyr=0.1, metallicity=1.0, av=1.0, log_u=-3.0)
YOUNG = StellarPopulation(age_gyr=0.05, tau_gyr=0.1, metallicity=0.2)


def _catalog(n_bright: int, n_faint: int, *, faint_error: float, sed=(OLD_DUSTY, 2.5), faint=(40.0, 80.0)):
    """Bright galaxies of one SED at photo-z 2.5, and faint detections of no particular colour."""
    passbands = Passbands(list(FILTERS.values()))
    shape, _ = passbands.fluxes_njy(sed[0], z=sed[1], muv=-20.0)
    shape = np.asarray(shape) / np.sum(np.asarray(shape)[-3:])
    detection_flux = np.concatenate([np.full(n_bright, 3000.0), np.linspace(*faint, n_faint)])
    catalog = QTable({"id": np.arange(1, n_bright + n_faint + 1)})
    catalog["snr_det"] = np.concatenate([np.full(n_bright, 200.0), np.full(n_faint, 6.0)])
    catalog["z_phot"] = np.concatenate([np.full(n_bright, 2.5), np.full(n_faint, 3.0)])
    catalog["selected"] = np.zeros(len(catalog), bool)
    for i, band in enumerate(BANDS):
        error = np.concatenate([np.full(n_bright, 5.0), np.full(n_faint, faint_error)])
        catalog[f"f_{band}"] = shape[i] * detection_flux * u.nJy
        catalog[f"e_{band}"] = error * u.nJy
    return catalog


@pytest.mark.slow
def test_stand_ins_carry_the_bright_colours_at_the_faint_fluxes():
    catalog = _catalog(3, 5, faint_error=1e-3)
    fakes = dimmed_interlopers(catalog, FILTERS, detection_bands=DETECTION, draws=3, seed=1)
    assert len(fakes) == 15 and fakes.meta == {"n_templates": 3, "n_targets": 5}
    assert np.isclose(fakes["weight"].sum(), 5.0)  # one galaxy per faint detection
    assert set(fakes["target"]) == {3, 4, 5, 6, 7} and set(fakes["template"]) <= {0, 1, 2}
    summed = sum(fakes[f"f_{b}"].value for b in DETECTION)
    faint = sum(catalog[f"f_{b}"].value for b in DETECTION)[fakes["target"]]
    np.testing.assert_allclose(summed, faint, rtol=1e-4)
    blue = fakes["f_F115W"].value / fakes["f_F444W"].value
    np.testing.assert_allclose(blue, catalog["f_F115W"][0] / catalog["f_F444W"][0], rtol=1e-2)
    assert not fakes["selected"].any()  # measured that well, a Balmer break is not a Lyman break


def test_a_break_that_noise_hides_is_counted_when_a_dimmed_galaxy_is_selected():
    quiet = dimmed_interlopers(_catalog(4, 40, faint_error=1e-3), FILTERS, detection_bands=DETECTION,
                               draws=2, seed=3)  # fmt: skip
    assert quiet["weight"][quiet["selected"]].sum() == 0  # a Balmer break measured well is no Lyman break
    # bright galaxies that the catalogue put at z = 2.5 but whose colours are a z = 10 galaxy's: their
    # faint stand-ins must be selected, and counted, as most genuine z = 10 galaxies there would be
    dropouts = _catalog(4, 40, faint_error=4.0, sed=(YOUNG, 10.0), faint=(60.0, 120.0))
    fakes = dimmed_interlopers(dropouts, FILTERS, detection_bands=DETECTION, draws=2, seed=3)
    interlopers = fakes[fakes["selected"]]
    assert interlopers["weight"].sum() > 20  # of 40 faint detections
    assert np.all(interlopers["z_phot"] > 8.5) and np.all(np.isfinite(interlopers["M_UV"].value))
    np.testing.assert_allclose(np.median(interlopers["z_phot"]), 10.0, atol=0.5)


def test_dimming_needs_bright_and_faint_galaxies():
    catalog = _catalog(0, 5, faint_error=1.0)
    with pytest.raises(ConfigError, match="0 bright low-z galaxies"):
        dimmed_interlopers(catalog, FILTERS, detection_bands=DETECTION)
    with pytest.raises(ConfigError, match="draws"):
        dimmed_interlopers(_catalog(2, 5, faint_error=1.0), FILTERS, detection_bands=DETECTION, draws=0)


def _population(sed, z: float, mags: np.ndarray) -> QTable:
    """Objects of one SED at redshift ``z``, scaled to ``mags`` (AB) in F356W."""
    passbands = Passbands(list(FILTERS.values()))
    fluxes, _ = passbands.fluxes_njy(sed, z=z, muv=-20.0)
    fluxes = np.asarray(fluxes, float)
    scale = 10 ** (-0.4 * (np.asarray(mags) - 31.4)) / fluxes[BANDS.index("F356W")]
    with np.errstate(divide="ignore"):
        return QTable({f"mag_{FILTERS[b]}": (31.4 - 2.5 * np.log10(fluxes[i] * scale)) * u.ABmag
                       for i, b in enumerate(BANDS)})  # fmt: skip


def test_a_model_population_is_measured_and_selected_as_the_field_would():
    """Model objects get the field's noise: blue galaxies are never candidates, a population with the
    colours of a z = 10 galaxy mostly is, and only what the field would detect is fitted."""
    errors = dict.fromkeys(BANDS, 5.0)  # nJy: 5 sigma is 28.7 AB
    blue = _population(YOUNG, 1.5, np.linspace(26.0, 28.0, 30))
    quiet = modelled_interlopers(blue, errors, FILTERS, detection_bands=DETECTION, weight=0.5, seed=1)
    assert quiet.meta["n_detected"] == 30 and not np.any(quiet["selected"])
    dropouts = _population(YOUNG, 10.0, np.concatenate([np.linspace(26.0, 27.0, 20), np.full(10, 33.0)]))
    fakes = modelled_interlopers(dropouts, errors, FILTERS, detection_bands=DETECTION, weight=0.5, seed=1)
    assert fakes.meta["n_population"] == 30 and fakes.meta["n_detected"] == 20  # the 33 AB ones are not
    assert np.sum(fakes["selected"]) >= 15 and np.all(fakes["weight"] == 0.5)
    assert set(fakes["source"]) <= set(range(20)) and np.all(fakes["z_phot"][fakes["selected"]] > 8.5)
    with pytest.raises(ConfigError, match="an error per band"):
        modelled_interlopers(dropouts, {"F356W": 5.0}, FILTERS, detection_bands=DETECTION)


def test_the_jackknife_noise_keeps_the_coadds_noise_and_none_of_its_sources():
    rng = np.random.default_rng(4)
    sky = np.zeros((48, 48), np.float32)
    sky[20:28, 20:28] = 500.0  # a bright source in every exposure
    stack = Stack(sky + 50.0 + rng.normal(0, 3.0, (12, 48, 48)).astype(np.float32))
    noise = jackknife_noise(stack)
    assert np.abs(noise[20:28, 20:28]).max() < 5 * 3.0 / np.sqrt(12)  # the source cancels
    assert noise.std() == pytest.approx(3.0 / np.sqrt(12), rel=0.1)  # the coadd of 12 exposures' noise
    with pytest.raises(ConfigError, match="an even split"):
        jackknife_noise(Stack(stack.data[:1]))


def _noise_stacks(shape=(72, 72), exposures=6, sigma=0.1) -> tuple[dict, dict]:
    """Source-free stacks of every band (image units of zero point 28 AB) and their renderers."""
    rng = np.random.default_rng(5)
    stacks = {b: Stack(rng.normal(0, sigma, (exposures, *shape)).astype(np.float32) + 10.0) for b in BANDS}
    fwhm = {b: 0.04 + 0.035 * i / 6 for i, b in enumerate(BANDS)}  # arcsec, F090W to F444W
    return stacks, {b: SourceRenderer(0.03, 28.0, "airy", fwhm[b]) for b in BANDS}


def _placed(population: QTable, xs, ys) -> QTable:
    population["x"], population["y"] = np.asarray(xs, float), np.asarray(ys, float)
    population["r_e"], population["sersic_n"] = np.full(len(xs), 0.05) * u.arcsec, np.full(len(xs), 1.0)
    population["axis_ratio"], population["theta"] = np.full(len(xs), 0.8), np.zeros(len(xs)) * u.deg
    return population


def test_a_simulated_sky_is_searched_as_the_field_and_selects_only_what_looks_like_z_10():
    """Objects rendered with their profiles over the field's jackknife noise are found where they were
    put; a Balmer-break galaxy at z = 2.5 that is measured well is no candidate, a z = 10 galaxy is."""
    stacks, renderers = _noise_stacks()
    population = vstack([_placed(_population(OLD_DUSTY, 2.5, [23.5]), [20.0], [22.0]),
                         _placed(_population(YOUNG, 10.0, [26.0]), [50.0], [48.0])])  # fmt: skip
    found = simulated_interlopers(population, stacks, renderers, FILTERS, detection_bands=DETECTION)
    assert len(found) >= 2
    near = [np.argmin(np.hypot(found["x"].value - x, found["y"].value - y)) for x, y in ((20, 22), (50, 48))]
    assert np.hypot(found["x"].value[near] - [20, 50], found["y"].value[near] - [22, 48]).max() < 1.5
    assert list(found["selected"][near]) == [False, True]
    assert found["z_phot"][near[1]] > 8.5 and np.sum(found["selected"]) == 1
    with pytest.raises(ConfigError, match="lacks"):
        simulated_interlopers(population[["x", "y"]], stacks, renderers, FILTERS, detection_bands=DETECTION)
