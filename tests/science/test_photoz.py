import os

import numpy as np
import pytest
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.science.photoz import Template, default_templates, photometric_redshifts
from asteris.sky.sed import Passbands, StellarPopulation, rest_frame_spectrum

pytestmark = pytest.mark.usefixtures("module_data_dir")  # EAZY grids cached per module

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


def test_the_integrated_template_grid_is_cached_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    wave, flux, _, _ = rest_frame_spectrum(POPULATION)
    catalog, templates = _catalog([2.0, 3.0]), [Template("t", wave, flux)]
    first = photometric_redshifts(catalog, FILTERS, templates=templates, z_range=(1, 4))
    (grid_file,) = (tmp_path / "eazy_grids").glob("*.npy")
    again = photometric_redshifts(catalog, FILTERS, templates=templates, z_range=(1, 4))
    np.testing.assert_array_equal(first["p_z"], again["p_z"])
    np.save(grid_file, np.load(grid_file)[::-1])  # the grid is read: a reversed one moves the redshifts
    reversed_grid = photometric_redshifts(catalog, FILTERS, templates=templates, z_range=(1, 4))
    assert np.all(np.abs(reversed_grid["z_phot"] - first["z_phot"]) > 0.2)
    fresh = photometric_redshifts(catalog, FILTERS, templates=templates, z_range=(1, 4), cache=False)
    np.testing.assert_array_equal(first["p_z"], fresh["p_z"])


def test_a_fresh_data_folder_reads_the_shipped_grid_that_eazy_integrates(tmp_path, monkeypatch):
    """The package ships the integrated grid of its default templates for the survey's bands
    (``benchmarks/eazy_grids.py``): a fresh data folder fits with it instead of integrating (where eazy
    is the version it was integrated with), and each template's part is what EAZY integrates today."""
    import json
    from importlib.metadata import version
    from pathlib import Path

    from asteris.fileio import sha256sum

    root = Path(__file__).resolve().parents[2]
    record = json.loads((root / "benchmarks" / "results" / "eazy_grids.json").read_text())
    (grid,) = record["grids"]
    shipped = root / grid["file"]
    assert grid["filters"] == FILTERS and sha256sum(shipped) == grid["sha256"]
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "fresh"))
    photometric_redshifts(_catalog([9.2]), FILTERS)
    integrated = [p.name for p in (tmp_path / "fresh").glob("eazy_grids/*.npy")]
    if version("eazy") == record["eazy"]:
        assert integrated == [], "the shipped grid was integrated again"
    else:  # another eazy is another name: integrated afresh
        assert integrated and shipped.name not in integrated
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "one"))
    photometric_redshifts(_catalog([9.2]), FILTERS, templates=default_templates()[:1])  # integrated now
    (one,) = (tmp_path / "one").glob("eazy_grids/*.npy")
    np.testing.assert_allclose(np.load(one)[:, 0], np.load(shipped)[:, 0], rtol=1e-6)


def test_binned_templates_keep_the_line_and_continuum_flux():
    from asteris.science.photoz import _binned_template

    wave = np.linspace(1000.0, 9000.0, 80001)
    continuum = np.full(wave.size, 2.0)
    centres, binned = _binned_template(wave, continuum, np.array([5000.0]), np.array([30.0]), 500.0)
    edges = np.exp(np.arange(np.log(1000.0), np.log(9000.0), 1 / 500))
    total = np.sum(binned * np.diff(edges))
    assert total == pytest.approx(2.0 * (edges[-1] - edges[0]) + 30.0, rel=1e-6)
    assert np.median(binned) == pytest.approx(2.0)


def test_model_fluxes_follow_the_photometry(exact_fit):
    catalog, result = exact_fit
    for band in FILTERS:
        np.testing.assert_allclose(result[f"model_{band}"].value, catalog[f"f_{band}"], rtol=0.05, atol=0.5)
