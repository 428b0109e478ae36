"""Exposure-level corrections: each against the mock component it corrects, and through the alignment."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from astropy.io import fits

from asteris.archive.align import align, correct_exposures
from asteris.archive.corrections import (
    DQ_JUMP_DET,
    CorrectionConfig,
    background_correction,
    detector_pattern,
    grow_event_flags,
    one_over_f_correction,
    reject_outliers,
    source_mask,
    subtract_pattern,
)
from asteris.errors import ConfigError
from asteris.mock import noise as nz
from asteris.mock.calibration import correction_residuals, row_offset_rms
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.mock.simulate import simulate_field
from asteris.science.photometry import aperture_fluxes

SHAPE = (256, 256)
SIGMA = 1.0


def _noise(rng, count=1):
    return rng.normal(0.0, SIGMA, (count, *SHAPE)).squeeze()


def test_config_refuses_unknown_keys_and_names_and_records_its_steps():
    assert CorrectionConfig.only("events").enabled() == ["events"]
    assert CorrectionConfig.from_dict({"grow": 3}).grow == 3
    with pytest.raises(ConfigError, match="unknown correction key"):
        CorrectionConfig.from_dict({"gro": 3})
    with pytest.raises(ConfigError, match="unknown corrections"):
        CorrectionConfig.only("wisps")
    with pytest.raises(ConfigError, match="schema"):
        CorrectionConfig(schema_version=99)


def test_one_over_f_correction_removes_the_mocks_stripes_with_sources_masked():
    rng = np.random.default_rng(0)
    stripes = nz.one_over_f_stripes(SHAPE, 128, 0.3 * SIGMA, rng)
    frame = _noise(rng) + stripes
    frame[100:110, 40:50] += 30.0  # a bright source the medians must not follow
    usable = np.ones(SHAPE, bool)
    sources = source_mask(frame, usable)
    fixed = one_over_f_correction(frame, usable, sources=sources, amplifier_width=128)
    before = row_offset_rms(frame[None], ~sources[None], SIGMA, 128)
    after = row_offset_rms(fixed[None], ~sources[None], SIGMA, 128)
    assert before > 0.25 and after < 0.05
    assert fixed[105, 45] - frame[105, 45] == pytest.approx(-stripes[105, 45], abs=0.2)


def test_grown_jump_flags_cover_the_snowball_halos():
    rng = np.random.default_rng(1)
    cores = np.zeros(SHAPE, bool)
    halos = nz.snowball_residuals(SHAPE, 300.0, SIGMA, rng, cores=cores)
    dq = np.where(cores, DQ_JUMP_DET, 0).astype(np.uint32)
    usable = grow_event_flags(dq, np.ones(SHAPE, bool))
    assert cores.any() and not usable[cores].any()
    assert halos[usable].sum() < 0.05 * halos.sum()
    assert usable.mean() > 0.9


def test_background_correction_removes_the_mocks_gradient():
    rng = np.random.default_rng(2)
    gradient = nz.background_gradient(SHAPE, 1.0 * SIGMA, rng)
    frame = _noise(rng) + gradient
    fixed = background_correction(frame, np.ones(SHAPE, bool), mesh=32)
    assert np.std(fixed - (frame - gradient)) < 0.2 * np.std(gradient)  # the mesh medians' noise


def test_the_smooth_pattern_waits_for_dithers_wider_than_it():
    rng = np.random.default_rng(5)
    wisp = nz.wisp_map(SHAPE, 1.0 * SIGMA, rng)
    frames = list(_noise(rng, 4) + wisp)
    usable, none = [np.ones(SHAPE, bool)] * 4, [np.zeros(SHAPE, bool)] * 4
    config = CorrectionConfig.only("detector_pattern")
    narrow, scales = correct_exposures(frames, usable, none, config, dither_span=8.0)
    wide, _ = correct_exposures(frames, usable, none, config, dither_span=200.0)
    assert scales == [0.0] * 4 and np.allclose(narrow[0], frames[0])
    assert np.std(wide[0] - (frames[0] - wisp)) < 0.3 * np.std(wisp)


def test_detector_pattern_removes_a_scaled_wisp_and_unflagged_hot_pixels():
    rng = np.random.default_rng(3)
    wisp = nz.wisp_map(SHAPE, 1.0 * SIGMA, rng)
    hot = nz.hot_pixel_map(SHAPE, 5e-4, SIGMA, rng)
    scales = rng.uniform(0.7, 1.3, 8)
    frames = _noise(rng, 8) + scales[:, None, None] * wisp + hot
    usable = np.ones(frames.shape, bool)
    pattern = detector_pattern(frames, usable, np.zeros(frames.shape, bool))
    for t in range(len(frames)):
        fixed, scale = subtract_pattern(frames[t], pattern, usable[t])
        residual = fixed - (frames[t] - scales[t] * wisp - hot)
        assert np.abs(residual).max() < 3 * SIGMA  # every hot pixel (5-200 sigma) gone
        assert np.std(residual) < 0.25 * np.std(scales[t] * wisp)  # what is left: the median's noise


def test_outliers_are_rejected_and_bright_cores_kept():
    rng = np.random.default_rng(4)
    yy, xx = np.indices(SHAPE)
    frames = []
    for _ in range(8):  # a bright star sampled at a different sub-pixel phase by each dither
        dy, dx = rng.uniform(-0.5, 0.5, 2)
        radius2 = (yy - 128 - dy) ** 2 + (xx - 128 - dx) ** 2
        frames.append(_noise(rng) + 500 * np.exp(-0.5 * radius2 / 0.8**2))
    frames = np.array(frames)
    frames[3, 50, 60] += 40.0  # a cosmic-ray residual
    flags = reject_outliers(frames, np.ones(frames.shape))
    assert flags[3, 50, 60] and not flags[:, 124:133, 124:133].any()
    assert flags.mean() < 1e-3


@pytest.fixture(scope="module")
def star_fields():
    """A field of stars with every noise component, aligned as it comes and corrected."""
    stars = PopulationConfig(counts_log_norm=-np.inf, star_density=1500.0, star_mags=(19.0, 25.0),
                             interloper_density=0.0, high_z_boost=0.0)  # fmt: skip
    return {
        name: simulate_field(
            "nircam",
            shape=(256, 256),
            exposures=8,
            bands=["F200W"],
            population=stars,
            seed=5,
            corrections=config,
            progress=False,
        )  # fmt: skip
        for name, config in (("plain", CorrectionConfig.none()), ("corrected", None))
    }


def test_corrections_do_not_bias_point_source_photometry(star_fields):
    for name, field in star_fields.items():
        band = field.bands["F200W"]
        coadd = band.stack.data.sum(axis=0) / np.maximum((band.stack.data != 0).sum(axis=0), 1)
        x, y = np.asarray(field.catalog["x"]), np.asarray(field.catalog["y"])
        inside = (x > 20) & (x < 236) & (y > 20) & (y < 236)
        ratio = aperture_fluxes(coadd, x[inside], y[inside], 10) / aperture_fluxes(band.truth, x[inside],
                                                                                   y[inside], 10)  # fmt: skip
        assert inside.sum() > 20
        assert abs(np.median(ratio) - 1) < 0.01, name


def test_alignment_records_the_corrections_in_the_header(star_fields, tmp_path):
    assert star_fields["plain"].bands["F200W"].stack.header["CORRSTEP"] == "none"
    header = star_fields["corrected"].bands["F200W"].stack.header
    assert header["CORRSTEP"] == "events,one_over_f,detector_pattern,background"
    assert "OUTLFRAC" in header and header["DITHSPAN"] < CorrectionConfig().min_dither
    assert header["PATSMOOT"] is False and header["PATSCMAX"] == 0  # the mock's dithers are too small
    assert star_fields["corrected"].params["corrections"]["one_over_f"]


def test_the_real_road_corrects_cal_files_by_default_and_writes_provenance(tmp_path):
    simulate_field("nircam", shape=(96, 96), exposures=4, bands=["F200W"], seed=2, exposures_dir=tmp_path,
                   noise=NoiseConfig(snowballs=3000.0), population=PopulationConfig.empty(),
                   progress=False)  # fmt: skip
    files = sorted(tmp_path.glob("*_cal.fits"))
    with fits.open(files[0]) as hdul:
        assert ((hdul["DQ"].data & DQ_JUMP_DET) != 0).sum() > 10  # the mock flags its snowball cores
    out = tmp_path / "stack.fits"
    stack, _ = align(files, output=out)
    with fits.open(out) as hdul:
        assert hdul[0].header["CORRSTEP"].startswith("events")
        assert any("one_over_f" in str(line) for line in hdul[0].header["HISTORY"])
    plain, _ = align(files, corrections=CorrectionConfig.none())
    assert plain.header["CORRSTEP"] == "none" and not np.array_equal(plain.data, stack.data)


def test_every_corrected_component_is_reduced_in_the_coadd():
    residuals = correction_residuals(shape=(256, 256), exposures=6)
    for name in ("one_over_f", "gradient"):
        assert residuals[name]["before"] > 1.0 and residuals[name]["after"] < 0.5 * residuals[name]["before"]
    assert residuals["wisp"]["before"] > 1.0  # left, as dithers of 8 px cannot tell it from the sky
    assert set(residuals) == {"one_over_f", "cosmic_rays", "snowballs", "hot_pixels", "flat_residual", "wisp",
                              "gradient"}  # fmt: skip


def _imprint_and_stripes(config: CorrectionConfig) -> tuple[float, float]:
    """What ``config`` adds to a field without structured noise (the rms of the corrected coadd less the
    plain one, smoothed at the detection scale), and the 1/f it leaves on the same field with 1/f on."""
    from scipy import ndimage

    def coadd(noise, corrections):
        field = simulate_field("nircam", shape=(256, 256), exposures=8, bands=["F200W"], seed=9, noise=noise,
                               corrections=corrections, progress=False)  # fmt: skip
        data = field.bands["F200W"].stack.data
        return data.sum(axis=0) / np.maximum((data != 0).sum(axis=0), 1)

    clean = NoiseConfig.physical_only()
    change = ndimage.gaussian_filter(coadd(clean, config) - coadd(clean, CorrectionConfig.none()), 1.5)
    striped = dataclasses.replace(clean, one_over_f=0.3)
    left = ndimage.gaussian_filter(coadd(striped, config) - coadd(clean, CorrectionConfig.none()), 1.5)
    inner = (slice(16, -16), slice(16, -16))
    return float(change[inner].std()), float(left[inner].std())


@pytest.mark.slow
def test_a_sky_model_keeps_faint_galaxies_out_of_the_medians_and_the_coadds_stripes_in():
    default = _imprint_and_stripes(CorrectionConfig())
    model = _imprint_and_stripes(CorrectionConfig(subtract_model=True))
    left_alone = _imprint_and_stripes(CorrectionConfig.none())
    assert model[0] < 0.7 * default[0]  # the imprint of galaxies too faint to mask is mostly gone
    # but the coadd's stripes are the mean of the exposures' stripes, which with one roll is a row pattern
    # on the sky: the model holds it, and it stays (the design's negative result)
    assert model[1] > 0.8 * left_alone[1]


def test_the_auto_column_pass_runs_only_where_the_exposures_carry_column_noise(tmp_path):
    simulate_field("nircam", shape=(192, 192), exposures=6, bands=["F200W"], seed=4, exposures_dir=tmp_path,
                   noise=NoiseConfig.physical_only(), progress=False)  # fmt: skip
    files = sorted(tmp_path.glob("*_cal.fits"))
    auto = CorrectionConfig(columns="auto")
    quiet, _ = align(files, corrections=auto)
    assert quiet.header["CORRCOLS"] is False and quiet.header["COLEXCES"] < 1.5
    rng = np.random.default_rng(0)
    for path in files:
        with fits.open(path, mode="update") as hdul:
            sci = hdul["SCI"].data
            sigma = np.std(sci[sci != 0])
            hdul["SCI"].data = np.where(sci != 0, sci + rng.normal(0, 0.3 * sigma, (1, sci.shape[1])), 0)
    striped, _ = align(files, corrections=auto)
    rows_only, _ = align(files, corrections=CorrectionConfig(columns=False))
    assert striped.header["CORRCOLS"] is True and striped.header["COLEXCES"] > 3
    both, _ = align(files, corrections=CorrectionConfig(columns="auto", subtract_model=True))
    assert both.header["CORRCOLS"] is True and both.header["CORRMODL"] == 3  # decided on the refined model

    def column_rms(stack):
        data = stack.data[:, 24:-24, 24:-24]
        return np.std(np.median(data - np.median(data, axis=0), axis=1))

    assert column_rms(striped) < 0.5 * column_rms(rows_only)
    with pytest.raises(ConfigError, match="columns"):
        CorrectionConfig(columns="sometimes")
