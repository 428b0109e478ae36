"""Spectra and broad-band fluxes of stellar populations, through dust and the IGM."""

import numpy as np
import pytest

from asteris.sky.sed import Passbands, StellarPopulation


def test_sed_has_lyman_break_and_keeps_normalisation():
    bands = Passbands(["jwst_f090w", "jwst_f115w", "jwst_f200w", "jwst_f444w"])
    flux, muv = bands.fluxes_njy(StellarPopulation(0.05, 0.5, 0.2), z=11.0, muv=-20.0)
    assert muv == pytest.approx(-20.0)
    assert flux[0] < 1e-3 * flux[2] and flux[1] < 1e-3 * flux[2]  # no light blueward of 1.46 um
    flux, _ = bands.fluxes_njy(StellarPopulation(1.0, 0.1, 1.0, av=0.0), z=3.0, mag=27.0, band=3)
    assert 31.4 - 2.5 * np.log10(flux[3]) == pytest.approx(27.0)
    with pytest.raises(ValueError, match="exactly one"):
        bands.fluxes_njy(StellarPopulation(1.0, 0.1), z=1.0)


def test_dust_dims_the_blue_and_the_igm_absorbs_below_lyman_alpha():
    from asteris.sky.sed import calzetti_attenuation, igm_transmission

    wave = np.array([1500.0, 3000.0, 6000.0])
    attenuation = calzetti_attenuation(wave, 1.0)
    assert np.all(np.diff(attenuation) > 0) and attenuation[-1] < 1.0  # the blue is dimmed most
    np.testing.assert_allclose(calzetti_attenuation(wave, 0.0), 1.0)
    z = 10.0
    observed = np.array([1000.0, 1200.0, 1400.0]) * (1 + z)
    transmission = igm_transmission(z, observed)
    assert transmission[0] < 1e-3 and transmission[-1] == pytest.approx(1.0, abs=1e-3)


def test_a_star_takes_the_asked_magnitude_and_redder_stars_are_redder():
    bands = Passbands(["jwst_f115w", "jwst_f444w"])
    cool = bands.star_fluxes_njy(3500.0, mag=20.0, band=0)
    hot = bands.star_fluxes_njy(9000.0, mag=20.0, band=0)
    assert 31.4 - 2.5 * np.log10(cool[0]) == pytest.approx(20.0)
    assert cool[1] / cool[0] > hot[1] / hot[0]
