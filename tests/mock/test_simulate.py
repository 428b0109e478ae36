"""The mock universe: photometry of the truth, noise statistics, determinism, the input LF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from astropy.table import QTable

from asteris.archive.corrections import CorrectionConfig
from asteris.errors import ConfigError
from asteris.fileio import sha256sum
from asteris.mock.noise import NoiseConfig, persistence_ghost, resample_to_sky
from asteris.mock.population import PopulationConfig
from asteris.mock.simulate import read_mock_field, simulate_field
from asteris.sky.instruments import HSC, NIRCAM, get_instrument

photutils = pytest.importorskip("photutils.aperture")

EMPTY = PopulationConfig.empty()
SPARSE = PopulationConfig(counts_log_norm=5.8, galaxy_mags=(24.0, 27.0), star_density=60.0, high_z_boost=0.0,
                          interloper_density=0.0)  # fmt: skip


def _field(noise: NoiseConfig, population=EMPTY, *, shape=(128, 128), exposures=4, seed=3, **kw):
    """A field whose exposures are stacked as they come: these tests look at the simulator's components."""
    kw.setdefault("corrections", CorrectionConfig.none())
    return simulate_field("nircam", shape=shape, exposures=exposures, bands=["F200W"], noise=noise,
                          population=population, seed=seed, progress=False, **kw)  # fmt: skip


def test_truth_photometry_returns_catalogue_magnitudes():
    size = 480
    field = _field(NoiseConfig.only(), SPARSE, shape=(size, size), exposures=1, seed=5)
    band, cat = field.bands["F200W"], field.catalog
    zp = field.bands["F200W"].stack.header["ABMAGZP"]
    # a profile reaches 8 r_e along its major axis; the PSF kernel 6 FWHM
    psf_radius = 6 * NIRCAM.band("F200W").psf_fwhm / NIRCAM.pixel_scale
    r_px = 8 * cat["r_e"].value / NIRCAM.pixel_scale + psf_radius + 2
    checked = 0
    for i, row in enumerate(cat):
        others = np.hypot(cat["x"] - row["x"], cat["y"] - row["y"])
        others[i] = np.inf
        inside = r_px[i] < row["x"] < size - 1 - r_px[i] and r_px[i] < row["y"] < size - 1 - r_px[i]
        if not inside or np.any(others < r_px[i] + r_px):
            continue
        aperture = photutils.CircularAperture((row["x"], row["y"]), r=r_px[i])
        flux = photutils.aperture_photometry(band.truth.astype(float), aperture)["aperture_sum"][0]
        assert zp - 2.5 * np.log10(flux) == pytest.approx(row["mag_jwst_f200w"].value, abs=0.01)
        checked += 1
    assert checked >= 3 and "galaxy" in cat["type"], "too few isolated sources to check"


@pytest.mark.parametrize("instrument", [NIRCAM, HSC])
def test_white_noise_level_matches_configuration(instrument):
    band = instrument.bands[2]
    field = simulate_field(instrument, shape=(160, 160), exposures=4, bands=[band.name], population=EMPTY,
                           noise=NoiseConfig.white_only(), progress=False)  # fmt: skip
    data = field.bands[band.name].stack.data
    good = data[data != 0]
    assert good.std() == pytest.approx(band.white_sigma, rel=0.05)
    assert abs(good.mean()) < 5 * band.white_sigma / np.sqrt(good.size)


def _row_excess(data: np.ndarray) -> float:
    """Variance of row means relative to what white noise gives."""
    frames = data[:, 12:-12, 12:-12]
    row_means = frames.mean(axis=2)
    return float(row_means.var() / (frames.var() / frames.shape[2]))


def test_one_over_f_adds_row_power_only_when_on():
    white = _field(NoiseConfig.white_only()).bands["F200W"].stack.data
    striped = _field(NoiseConfig.only("sky_poisson", "read_noise", "one_over_f")).bands["F200W"].stack.data
    assert _row_excess(white) < 2
    assert _row_excess(striped) > 5


def _neighbour_correlation(data: np.ndarray) -> float:
    frames = data[:, 12:-12, 12:-12]
    frames = frames - frames.mean(axis=(1, 2), keepdims=True)
    return float((frames[:, :, 1:] * frames[:, :, :-1]).mean() / frames.var())


def test_resampling_correlates_neighbouring_pixels():
    plain = _field(NoiseConfig.white_only(), exposures=8).bands["F200W"]
    resampled = _field(NoiseConfig.only("sky_poisson", "read_noise", "resampling"), exposures=8).bands[
        "F200W"
    ]
    assert abs(_neighbour_correlation(plain.stack.data)) < 0.03
    assert _neighbour_correlation(resampled.stack.data) > 0.1
    assert np.any(resampled.exposures["dx"].value % 1 != 0)
    assert np.all(plain.exposures["dx"].value % 1 == 0)


def test_same_seed_same_bytes_and_other_seed_differs(tmp_path):
    noise = NoiseConfig()
    paths = []
    for name, seed in (("a", 7), ("b", 7), ("c", 8)):
        _field(noise, SPARSE, shape=(64, 64), seed=seed).write(tmp_path / name)
        paths.append(tmp_path / name)
    for name in ("f200w.fits", "catalog.ecsv", "params.json"):
        assert sha256sum(paths[0] / name) == sha256sum(paths[1] / name)
    assert sha256sum(paths[0] / "f200w.fits") != sha256sum(paths[2] / "f200w.fits")


def test_written_field_reads_back_with_wcs_truth_and_exposures(tmp_path):
    field = _field(NoiseConfig(), SPARSE, shape=(64, 64))
    field.write(tmp_path)
    with pytest.raises(FileExistsError):
        field.write(tmp_path)
    back = read_mock_field(tmp_path)
    band = back.bands["F200W"]
    assert band.stack.wcs.has_celestial
    assert band.stack.header["BUNIT"] == "MJy/sr"
    assert band.stack.header["ABMAGZP"] == pytest.approx(27.46, abs=0.01)
    np.testing.assert_array_equal(band.truth, field.bands["F200W"].truth)
    assert set(band.exposures.colnames) >= {"dx", "dy", "psf_fwhm", "weight"}
    assert isinstance(back.catalog, QTable) and len(back.catalog) == len(field.catalog)
    ra, dec = band.stack.wcs.pixel_to_world_values(back.catalog["x"], back.catalog["y"])
    np.testing.assert_allclose(ra, back.catalog["ra"].value, atol=1e-9)
    assert back.params["seed"] == 3


def test_detector_artefacts_move_with_the_dither():
    frame = np.zeros((20, 20))
    frame[5, 7] = 1.0
    valid = np.ones_like(frame, dtype=bool)
    aligned, ok = resample_to_sky(frame, valid, 3.0, -2.0)
    assert aligned[3, 10] == 1.0 and not ok[19].any() and ok[:18, 3:].all()
    half, _ = resample_to_sky(frame, valid, 0.5, 0.0)
    assert half[5, 7] == pytest.approx(0.5) and half[5, 8] == pytest.approx(0.5)
    ghost = persistence_ghost(np.array([[0.0, 50.0, 500.0]]), 0.01, 100.0)
    np.testing.assert_allclose(ghost, [[0.0, 0.0, 5.0]])


def test_every_component_switches_on_and_off():
    base = _field(NoiseConfig.white_only(), shape=(96, 96), exposures=3).bands["F200W"].stack.data
    for name in ("cosmic_rays", "hot_pixels", "wisp", "gradient", "gaps", "snowballs", "flat_residual"):
        data = _field(NoiseConfig.only("sky_poisson", "read_noise", name), shape=(96, 96),
                      exposures=3).bands["F200W"].stack.data  # fmt: skip
        assert not np.array_equal(data, base), name


def test_persistence_leaves_a_ghost_of_a_bright_star():
    stars = PopulationConfig(counts_log_norm=-np.inf, star_density=400.0, star_mags=(17.0, 18.0),
                             interloper_density=0.0, high_z_boost=0.0)  # fmt: skip
    on = _field(NoiseConfig.only("persistence"), stars, shape=(64, 64), exposures=3).bands["F200W"]
    off = _field(NoiseConfig.only(), stars, shape=(64, 64), exposures=3).bands["F200W"]
    assert not np.allclose(on.stack.data[1:], off.stack.data[1:])
    np.testing.assert_array_equal(on.stack.data[0], off.stack.data[0])


def test_bad_configuration_is_refused():
    with pytest.raises(ConfigError, match="unknown noise"):
        NoiseConfig.from_dict({"one_over_f": 0.2, "cosmic": 1})
    with pytest.raises(ConfigError, match="unknown population"):
        PopulationConfig.from_dict({"stars": 3})
    with pytest.raises(ConfigError, match="unknown instrument"):
        get_instrument("miri")
    with pytest.raises(ConfigError, match="has no band"):
        NIRCAM.band("F070W")
    with pytest.raises(ConfigError, match="16x16"):
        simulate_field("nircam", shape=(8, 8), progress=False)


def test_bands_built_by_other_processes_are_the_same_bytes_and_leave_no_scratch(tmp_path):
    """Two processes started from a script without an ``if __name__ == "__main__"`` guard build the
    bands that one process builds in turn, to the bit (the grid's WCS included), and remove their files."""
    import pickle
    import subprocess
    import sys

    options = dict(shape=(96, 96), exposures=3, bands=["F200W", "F090W", "F444W"], seed=5)
    in_turn = simulate_field("nircam", progress=False, **options)
    in_turn.write(tmp_path / "in_turn")
    script = tmp_path / "unguarded.py"
    script.write_text("import pickle\nfrom asteris.mock.simulate import simulate_field\n"
                      f"options = pickle.loads(bytes.fromhex('{pickle.dumps(options).hex()}'))\n"
                      f"field = simulate_field('nircam', workers=2, exposures_dir={str(tmp_path / 'exp')!r}, "
                      "progress=False, **options)\n"
                      f"field.write({str(tmp_path / 'side_by_side')!r})\n")  # fmt: skip
    done = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    for name in ("f200w.fits", "f090w.fits", "f444w.fits", "catalog.ecsv"):
        assert sha256sum(tmp_path / "in_turn" / name) == sha256sum(tmp_path / "side_by_side" / name)
    assert sorted(p.name for p in (tmp_path / "exp").iterdir() if not p.name.endswith("_cal.fits")) == []
    assert len(list((tmp_path / "exp").glob("*_cal.fits"))) == 9


def test_mock_field_is_built_once_and_cached(tmp_path, monkeypatch):
    from asteris.mock import datasets

    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path))
    first = datasets.mock_field(
        "hsc", shape=(48, 48), exposures=2, bands=["i"], population=SPARSE, progress=False
    )
    assert str(tmp_path) in first.params["path"]

    def refuse(*args, **kwargs):
        raise AssertionError("the cached field was rebuilt")

    monkeypatch.setattr(datasets, "simulate_field", refuse)
    again = datasets.mock_field(
        "hsc", shape=(48, 48), exposures=2, bands=["i"], population=SPARSE, progress=False
    )
    np.testing.assert_array_equal(again.bands["i"].stack.data, first.bands["i"].stack.data)
    assert again.bands["i"].stack.header["BUNIT"] == "count"


def test_a_field_asked_for_by_two_processes_at_once_is_built_once(tmp_path, monkeypatch):
    """A second process (a chapter run beside another) waits while the first builds the field, then
    reads it instead of simulating it again."""
    import os
    import pickle
    import shutil
    import subprocess
    import sys
    import time

    from asteris.fileio import exclusive_lock
    from asteris.mock import datasets

    locks = Path("/proc/locks")
    if not locks.exists():
        pytest.skip("needs Linux's /proc/locks to see a process waiting for a lock")
    monkeypatch.setenv("ASTERIS_DATA_DIR", str(tmp_path / "built"))
    built = Path(datasets.mock_field("hsc", shape=(48, 48), exposures=2, bands=["i"], population=SPARSE,
                                     progress=False).params["path"])  # fmt: skip
    shared = tmp_path / "shared"
    ask = ("import pickle; from asteris.mock import datasets; "
           f"population = pickle.loads(bytes.fromhex('{pickle.dumps(SPARSE).hex()}')); "
           "print(datasets.mock_field('hsc', shape=(48, 48), exposures=2, bands=['i'], "
           "population=population, progress=False).params['path'])")  # fmt: skip
    with exclusive_lock(shared / f".{built.name}.lock"):  # as the process building it holds it
        lock_inode = os.stat(shared / f".{built.name}.lock").st_ino
        other = subprocess.Popen([sys.executable, "-c", ask], stdout=subprocess.PIPE, text=True,
                                 env={**os.environ, "ASTERIS_DATA_DIR": str(shared)})  # fmt: skip
        deadline = time.monotonic() + 120
        while not any(line.split()[1] == "->" and f":{lock_inode} " in line  # a request waiting for it
                      for line in locks.read_text().splitlines()):  # fmt: skip
            assert other.poll() is None, "the second process did not wait for the field"
            assert time.monotonic() < deadline, "the second process never asked for the lock"
            time.sleep(0.2)
        shutil.copytree(built, shared / built.name)  # the first process's field, written while it waited
        written = (shared / built.name / "params.json").stat().st_mtime_ns
    out, _ = other.communicate(timeout=120)
    assert other.returncode == 0 and out.strip() == str(shared / built.name)
    assert (shared / built.name / "params.json").stat().st_mtime_ns == written  # read, not built again


def test_figures_are_written(tmp_path):
    from asteris.mock.plotting import plot_colour_redshift, plot_mock_band, plot_power_spectra
    from asteris.mock.simulate import SPECTRUM_COMPONENTS, component_power_spectra

    field = _field(NoiseConfig(), PopulationConfig(), shape=(64, 64), exposures=2)
    assert len(field.catalog) > 0
    plot_mock_band(field.bands["F200W"], tmp_path / "band.png")
    plot_colour_redshift(field.catalog, "jwst_f115w", "jwst_f200w", tmp_path / "cz.png")
    spectra = component_power_spectra(shape=(64, 64), exposures=2)
    assert set(spectra) == {"white", *SPECTRUM_COMPONENTS}
    k, radial, column = spectra["one_over_f"]
    assert column[:3].mean() > 5 * spectra["white"][2][:3].mean()  # 1/f raises the k_x = 0 line
    plot_power_spectra(spectra, tmp_path / "ps.png")
    assert all((tmp_path / n).stat().st_size > 10_000 for n in ("band.png", "cz.png", "ps.png"))
