"""The detector-frame mock: native pixels, _cal and warp files, the archive's alignment road,
the correlated noise it leaves, the strength sweep and the calibration measurements."""

from __future__ import annotations

import numpy as np
import pytest
from astropy.io import fits
from scipy import ndimage, optimize

from asteris.archive.align import DO_NOT_USE, read_cal_exposure
from asteris.archive.corrections import CorrectionConfig
from asteris.errors import ConfigError
from asteris.mock.calibration import (
    casertano_r,
    correlated_noise_factor,
    event_rate,
    read_exposures,
    row_offset_rms,
)
from asteris.mock.detector import DQ_HOT, row_median_correction
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.mock.simulate import simulate_field
from asteris.sky.instruments import NIRCAM

EMPTY = PopulationConfig.empty()
AS_THEY_COME = CorrectionConfig.none()  # the simulator and the drizzle alone


def _stars(density: float) -> PopulationConfig:
    return PopulationConfig(counts_log_norm=-np.inf, star_density=density, star_mags=(20.0, 21.0),
                            interloper_density=0.0, high_z_boost=0.0)  # fmt: skip


def _offset(image: np.ndarray, truth: np.ndarray, x: float, y: float, half: int = 12) -> np.ndarray:
    """(dx, dy) that best moves the truth's star (at x, y by construction) onto the image's, pixels."""
    iy, ix = int(round(y)), int(round(x))
    cut = (slice(iy - half, iy + half + 1), slice(ix - half, ix + half + 1))
    data, model = image[cut].astype(float), truth[cut].astype(float)

    def residual(p):
        return (data - p[2] * ndimage.shift(model, (p[1], p[0]), order=3, mode="constant")).ravel()

    return optimize.least_squares(residual, [0.01, 0.01, 1.0]).x[:2]


@pytest.mark.parametrize(("band", "size", "density"), [("F200W", 256, 300.0), ("F444W", 512, 60.0)])
def test_point_sources_come_through_alignment_in_place_and_flux(band, size, density):
    field = simulate_field("nircam", shape=(size, size), exposures=6, bands=[band],
                           population=_stars(density), seed=2, progress=False, corrections=AS_THEY_COME,
                           noise=NoiseConfig.only("sky_poisson", "read_noise", "resampling"))  # fmt: skip
    mock, catalog = field.bands[band], field.catalog
    assert set(mock.exposures["roll"].value) != {0.0} and np.any(mock.exposures["dx"].value % 1 != 0)
    coadd, covered = mock.stack.data.mean(axis=0), (mock.stack.data != 0).all(axis=0)
    radius = int(6 * NIRCAM.band(band).psf_fwhm / NIRCAM.pixel_scale) + 5
    yy, xx = np.mgrid[:size, :size]
    checked = 0
    for row in catalog:
        others = np.hypot(catalog["x"] - row["x"], catalog["y"] - row["y"])
        inside = np.hypot(xx - row["x"], yy - row["y"]) <= radius
        crowded = np.sum(others < 2 * radius + 4) > 1
        if crowded or not covered[inside].all() or inside.sum() < 3 * radius**2:
            continue  # a neighbour, an edge, or a circle cut by the field's border
        flux = coadd[inside].sum()
        expected = 10 ** (-0.4 * (row[f"mag_jwst_{band.lower()}"].value - mock.stack.header["ABMAGZP"]))
        assert flux == pytest.approx(expected, rel=0.01)
        assert np.all(np.abs(_offset(coadd, mock.truth, row["x"], row["y"])) < 0.05)
        checked += 1
    assert checked >= 2, "too few isolated stars to check"


@pytest.mark.parametrize("band", ["F200W", "F444W"])
def test_coadd_noise_correlation_matches_casertano(band):
    field = simulate_field("nircam", shape=(384, 384), exposures=8, bands=[band], population=EMPTY,
                           noise=NoiseConfig.only("sky_poisson", "read_noise", "resampling"), seed=4,
                           corrections=AS_THEY_COME, progress=False)  # fmt: skip
    data = field.bands[band].stack.data
    usable = (data != 0).all(axis=0)
    expected = casertano_r(NIRCAM.pixel_scale / NIRCAM.band(band).detector_scale, NIRCAM.pixfrac)
    assert correlated_noise_factor(data.mean(axis=0), usable, box=16) == pytest.approx(expected, rel=0.15)
    white = simulate_field("nircam", shape=(128, 128), exposures=4, bands=[band], population=EMPTY,
                           noise=NoiseConfig.white_only(), seed=4, progress=False)  # fmt: skip
    cube = white.bands[band].stack.data
    factor = correlated_noise_factor(cube.mean(axis=0), (cube != 0).all(axis=0), box=8)
    assert factor == pytest.approx(1, abs=0.1)


def test_exposures_are_cal_files_the_archive_reads(tmp_path):
    noise = NoiseConfig.only("sky_poisson", "read_noise", "resampling", "gaps", "hot_pixels")
    field = simulate_field("nircam", shape=(96, 96), exposures=3, bands=["F200W", "F444W"], noise=noise,
                           population=EMPTY, seed=1, exposures_dir=tmp_path, progress=False)  # fmt: skip
    files = sorted(tmp_path.glob("*_cal.fits"))
    assert len(files) == 6 and set(field.bands["F200W"].exposures["file"]) <= {f.name for f in files}
    sci, wcs, header = read_cal_exposure(tmp_path / "mock_f200w_000_cal.fits")
    assert header["FILTER"] == "F200W" and header["DETECTOR"] == "NRCA1" and header["BUNIT"] == "MJy/sr"
    assert sci.shape == (124, 124)  # 96 px of 0.04" on 0.031" pixels
    assert wcs.proj_plane_pixel_scales()[0].to_value("arcsec") == pytest.approx(0.031)
    with fits.open(tmp_path / "mock_f444w_001_cal.fits") as hdul:
        assert {"SCI", "ERR", "DQ"} <= {h.name for h in hdul} and hdul["SCI"].data.shape == (61, 61)
        dq = hdul["DQ"].data
    assert ((dq & DO_NOT_USE) != 0).any() and ((dq & DQ_HOT) != 0).sum() <= ((dq & DO_NOT_USE) != 0).sum()
    _, err, _ = read_exposures(tmp_path, "F200W")
    native = NIRCAM.band("F200W").on_detector(NIRCAM.pixel_scale)
    assert np.median(err) == pytest.approx(native.white_sigma, rel=0.02)


def test_hsc_exposures_are_warps_on_the_output_grid(tmp_path):
    field = simulate_field("hsc", shape=(64, 64), exposures=3, bands=["i"], population=EMPTY, seed=1,
                           exposures_dir=tmp_path, progress=False)  # fmt: skip
    warps = sorted(tmp_path.glob("mock_warp_i_*.fits"))
    assert len(warps) == 3
    with fits.open(warps[0]) as hdul:
        assert hdul[1].data.shape == (64, 64) and hdul[2].name == "MASK" and hdul[3].name == "VARIANCE"
    fwhms = field.bands["i"].exposures["psf_fwhm"].value
    assert len(set(fwhms)) == 3 and np.all((fwhms >= 0.5) & (fwhms <= 1.0))


def test_structured_scale_multiplies_every_structured_component():
    doubled = NoiseConfig(structured_scale=2.0).effective()
    assert doubled.one_over_f == pytest.approx(0.6) and doubled.cosmic_rays == pytest.approx(60.0)
    assert doubled.resampling and doubled.gaps and doubled.structured_scale == 1.0
    assert NoiseConfig(structured_scale=0.0).effective() == NoiseConfig.physical_only()
    assert NoiseConfig.physical_only().enabled() == ["sky_poisson", "read_noise", "resampling", "gaps"]
    assert NoiseConfig.from_dict({"structured_scale": 0.5}).effective().wisp == pytest.approx(0.5)
    with pytest.raises(ConfigError, match=">= 0"):
        NoiseConfig(structured_scale=-1.0).effective()
    quiet = simulate_field("nircam", shape=(64, 64), exposures=2, bands=["F200W"], population=EMPTY,
                           noise=NoiseConfig(structured_scale=0.0), seed=3, progress=False)  # fmt: skip
    physical = simulate_field("nircam", shape=(64, 64), exposures=2, bands=["F200W"], population=EMPTY,
                              noise=NoiseConfig.physical_only(), seed=3, progress=False)  # fmt: skip
    np.testing.assert_array_equal(quiet.bands["F200W"].stack.data, physical.bands["F200W"].stack.data)
    assert quiet.params["noise"]["resampling"] and quiet.params["noise"]["gaps"]  # the oracle keeps both


def test_row_median_correction_and_row_noise_measure():
    rng = np.random.default_rng(0)
    offsets = rng.normal(0, 0.5, (256, 1))
    frames = rng.normal(0, 1, (3, 256, 300)) + offsets
    usable = np.ones(frames.shape, bool)
    usable[:, :, 140:150] = False
    assert row_offset_rms(frames, usable, 1.0, 150) == pytest.approx(0.5, rel=0.15)
    corrected = np.array([row_median_correction(f, ok, 150) for f, ok in zip(frames, usable)])
    assert row_offset_rms(corrected, usable, 1.0, 150) < 0.08
    assert row_offset_rms(rng.normal(0, 1, (3, 256, 300)), usable, 1.0, 150) < 0.08


def test_event_rate_counts_connected_groups():
    frames = np.zeros((2, 1000, 1000))
    frames[0, 10, 10:13] = 9.0  # one 3-pixel track
    frames[1, 500, 500] = frames[1, 800, 20] = 9.0
    assert event_rate(frames, np.ones(frames.shape, bool), 5.0) == pytest.approx(1.5)


def test_casertano_factor_at_the_nircam_scales():
    assert casertano_r(0.04 / 0.031, 1.0) == pytest.approx(1.348, abs=0.01)
    assert casertano_r(0.04 / 0.063, 1.0) == pytest.approx(1.998, abs=0.01)
    assert casertano_r(1.0, 1.0) == pytest.approx(1.5)


def test_rendering_exposures_in_groups_changes_nothing(monkeypatch):
    from asteris.mock import simulate

    def field():
        return simulate_field("nircam", shape=(64, 64), exposures=3, bands=["F200W"], seed=6, progress=False,
                              population=PopulationConfig(galaxy_mags=(22.0, 26.0)))  # fmt: skip

    together = field().bands["F200W"].stack.data
    monkeypatch.setattr(simulate, "_GROUP_BYTES", 1)  # one exposure per pass over the sky
    np.testing.assert_array_equal(field().bands["F200W"].stack.data, together)


def test_drizzled_err_planes_give_the_per_pixel_variance_of_each_exposure(tmp_path):
    from asteris.archive.align import align_variance

    field = simulate_field("nircam", shape=(96, 96), exposures=2, bands=["F444W"], population=EMPTY, seed=2,
                           noise=NoiseConfig.only("sky_poisson", "read_noise", "resampling"),
                           exposures_dir=tmp_path, progress=False)  # fmt: skip
    stack = field.bands["F444W"].stack
    variance = align_variance(sorted(tmp_path.glob("*_cal.fits")), grid=(stack.wcs, stack.data.shape[1:]))
    covered = (stack.data != 0).all(axis=0)
    native = NIRCAM.band("F444W").on_detector(NIRCAM.pixel_scale)
    assert variance.shape == stack.data.shape
    assert np.median(np.sqrt(variance[:, covered])) == pytest.approx(native.white_sigma, rel=0.02)


def test_calibration_table_measures_every_structured_component():
    import json

    from asteris.mock.calibration import calibration_table
    from asteris.mock.noise import STRUCTURED

    rows = calibration_table(shape=(192, 192), exposures=3)
    json.dumps(rows)  # the benchmark writes it as it is
    by_name = {(row["component"], row.get("band", "F200W")): row for row in rows}
    assert {name for name, _ in by_name} >= {*STRUCTURED, "resampling", "all"}
    assert by_name["one_over_f", "F200W"]["measured"] == pytest.approx(0.3, abs=0.08)
    assert by_name["one_over_f", "F200W"]["after_row_median"] < 0.05
    assert by_name["flat_residual", "F200W"]["measured"] == pytest.approx(0.002, rel=0.2)
    assert by_name["persistence", "F200W"]["measured"] == pytest.approx(0.002, rel=0.05)
    for band in ("F200W", "F444W"):
        row = by_name["resampling", band]
        assert row["measured"] == pytest.approx(row["published"], rel=0.2)
        assert by_name["all", band]["measured"] > 1.0  # structured noise only adds to what ERR predicts


def test_fields_differing_by_one_component_are_paired_realizations(tmp_path):
    frames = {}
    for name, noise in (("all", NoiseConfig()), ("no_stripes", NoiseConfig(one_over_f=0.0))):
        simulate_field("nircam", shape=(96, 96), exposures=2, bands=["F200W"], noise=noise, seed=3,
                       exposures_dir=tmp_path / name, corrections=AS_THEY_COME, progress=False)  # fmt: skip
        frames[name] = read_exposures(tmp_path / name, "F200W")[0].astype(float)
    valid = frames["all"] != 0  # outside the detector gap
    stripes = np.where(valid, frames["all"] - frames["no_stripes"], np.nan)  # the same sky, noise, artefacts
    within_rows = stripes - np.nanmean(stripes, axis=2, keepdims=True)  # one amplifier: 124 px wide frames
    assert np.nanstd(stripes) > 0.05 * frames["all"].std() and np.nanmax(np.abs(within_rows)) < 1e-4
