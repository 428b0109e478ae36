import os

import numpy as np
import pytest
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.photoz import Template, default_templates, photometric_redshifts
from asteris.sed import Passbands, StellarPopulation, rest_frame_spectrum

FILTERS = {b: f"jwst_{b.lower()}" for b in ("F090W", "F115W", "F150W", "F200W", "F277W", "F356W", "F444W")}
POPULATION = StellarPopulation(age_gyr=0.3, tau_gyr=1.0, metallicity=0.2, av=0.2, nebular=False)


def _catalog(redshifts, *, snr=100.0) -> QTable:
    bands = Passbands(list(FILTERS.values()))
    rows = []
    for i, z in enumerate(redshifts, start=1):
        flux, _ = bands.fluxes_njy(POPULATION, z=z, mag=26.0, band=3)
        error = np.full(len(flux), flux[3] / snr)
        rows.append((i, *flux, *error))
    names = ["id", *(f"f_{b}" for b in FILTERS), *(f"e_{b}" for b in FILTERS)]
    return QTable(rows=rows, names=names)


@pytest.fixture(scope="module")
def exact_fit():
    wave, flux, _, _ = rest_frame_spectrum(POPULATION)
    catalog = _catalog([1.5, 4.0, 9.2])
    return catalog, photometric_redshifts(
        catalog, FILTERS, templates=[Template("exact", wave, flux)], z_range=(0.5, 11.0), z_step=0.01
    )


def test_the_exact_template_gives_back_the_redshift(exact_fit):
    _, result = exact_fit
    dz = (result["z_phot"] - np.array([1.5, 4.0, 9.2])) / (1 + np.array([1.5, 4.0, 9.2]))
    assert np.all(np.abs(dz) < 0.01), result["z_phot"]
    assert np.all(result["chi2"] < 1.0)  # noise-free photometry, fitted by its own template


def test_result_table(exact_fit):
    catalog, result = exact_fit
    assert list(result["id"]) == list(catalog["id"])
    grid = result.meta["z_grid"]
    assert result["p_z"].shape == (3, len(grid))
    np.testing.assert_allclose(np.trapezoid(result["p_z"], grid, axis=1), 1.0, rtol=1e-6)
    assert np.all(result["z_16"] <= result["z_50"]) and np.all(result["z_50"] <= result["z_84"])
    assert np.all(result["chi2_min"] <= result["chi2"] + 1e-6)
    assert result.meta["templates"] == "user"


def test_eazy_leaves_the_working_directory_alone(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    wave, flux, _, _ = rest_frame_spectrum(POPULATION)
    photometric_redshifts(_catalog([2.0]), FILTERS, templates=[Template("t", wave, flux)], z_range=(1, 3))
    assert os.listdir(tmp_path) == []
    assert capsys.readouterr().out == ""


def test_default_templates_are_built_offline():
    templates = default_templates()
    assert len(templates) == 8
    for t in templates:
        assert np.all(np.diff(t.wave) > 0) and np.all(t.flux >= 0)
        assert np.interp(5500.0, t.wave, t.flux) == pytest.approx(1.0)
    young = templates[0]
    halpha = np.interp(6564.6, young.wave, young.flux) / np.interp(6400.0, young.wave, young.flux)
    assert halpha > 5  # nebular lines are in the young templates


def test_bad_calls_are_refused():
    catalog = _catalog([2.0])
    with pytest.raises(ConfigError, match="lacks the columns"):
        photometric_redshifts(catalog, {"F999W": "jwst_f200w"})
    with pytest.raises(ConfigError, match="not both"):
        photometric_redshifts(catalog, FILTERS, templates=default_templates(), templates_file="x.param")
