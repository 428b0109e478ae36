import astropy.units as u
import numpy as np
import pytest
import torch
from astropy.table import QTable
from scipy import ndimage

from asteris.archive.corrections import CorrectionConfig
from asteris.errors import ConfigError
from asteris.mock.noise import NoiseConfig
from asteris.mock.population import PopulationConfig
from asteris.mock.simulate import simulate_field
from asteris.science.injection import SourceRenderer
from asteris.science.methods import coadd_method
from asteris.science.plotting import (
    plot_completeness_purity,
    plot_injection_cutouts,
    plot_magnitude_bias,
    plot_point_source_profiles,
)
from asteris.science.recovery import injection_recovery, spurious_rate
from asteris.science.recovery_result import RecoveryResult

# --- metric functions on hand-built inputs -------------------------------------------------------


# --- the experiment on a white-noise mock -------------------------------------------------------


@pytest.fixture(scope="module")
def white_field():
    """A source-free NIRCam-like F444W stack with white noise only, its exposures stacked as they come."""
    return simulate_field("nircam", shape=(256, 256), exposures=8, bands=["F444W"],
                          noise=NoiseConfig.white_only(), population=PopulationConfig.empty(), seed=5,
                          corrections=CorrectionConfig.none(), progress=False)  # fmt: skip


@pytest.fixture(scope="module")
def white_result(white_field):
    band = white_field.bands["F444W"]
    renderer = SourceRenderer.for_mock(white_field, "F444W")
    methods = {"ivar": coadd_method("ivar"), "median": coadd_method("median")}
    return renderer, injection_recovery(
        band.stack, methods, renderer, mags=(26.3, 29.8), kinds=("point",), n_per_realization=80,
        realizations=4, thresholds=(3.0, 5.0), truth=band.truth, seed=2, progress=False,
    )  # fmt: skip


def expected_m90(result: RecoveryResult, renderer: SourceRenderer, threshold: float) -> float:
    """m90 of a matched filter on white noise: the filtered peak must clear the threshold plus 1.28 sigma."""
    from asteris.science.detect import detection_image

    det = detection_image(result.images["ivar"], fwhm=renderer.fwhm_px)
    sigma = np.median(det.filtered_rms[~det.mask])
    one = QTable({"x": [64.0, 64.25, 64.5, 64.5], "y": [64.0, 64.0, 64.25, 64.5], "mag": np.zeros(4) * u.mag,
                  "r_e": np.zeros(4) * u.arcsec, "sersic_n": np.ones(4), "axis_ratio": np.ones(4),
                  "theta": np.zeros(4) * u.deg})  # fmt: skip
    peaks = []
    for row in range(4):  # the filtered peak per unit flux, over sub-pixel phases
        from scipy.signal import oaconvolve

        image = renderer.image(one[row : row + 1], (128, 128)) / renderer.fluxes(0.0)
        peaks.append(oaconvolve(image, det.kernel, mode="same").max())
    flux90 = (threshold + 1.2816) * sigma / np.mean(peaks)
    return renderer.zero_point - 2.5 * np.log10(flux90)


def test_white_noise_m90_matches_the_matched_filter_expectation(white_result):
    renderer, result = white_result
    for threshold in (3.0, 5.0):
        assert result.m90("ivar", threshold) == pytest.approx(
            expected_m90(result, renderer, threshold), abs=0.2
        )
    assert result.purity("ivar", 5.0) > 0.9
    assert result.m90("ivar", 3.0) > result.m90("ivar", 5.0) + 0.3


def test_white_noise_photometry_and_shapes_are_unbiased(white_result):
    _, result = white_result
    assert abs(result.mag_bias_at_snr("ivar", 10.0)) < 0.1
    # second moments of ~80 bright points on a background-subtracted noisy coadd: 0.94-0.98 over
    # noise realizations (seeds 5-7 of this fixture, with and without the detector-frame mock)
    assert result.fwhm_ratio("ivar") == pytest.approx(1.0, abs=0.07)
    summary = result.summary("ivar", n_boot=20)
    assert set(summary) >= {"m90", "m90_err", "purity", "mag_bias_sn10", "fwhm_ratio", "threshold"}
    assert 0 < summary["m90_err"] < 0.3
    # the median coadd of 8 exposures is noisier than the ivar mean: it reaches less deep (compared at
    # one threshold: which scanned threshold first reaches 90% purity varies with the noise realization)
    assert result.m90("ivar", 5.0) > result.m90("median", 5.0)


def test_figures_are_written(white_result, tmp_path):
    _, result = white_result
    for plot in (
        plot_completeness_purity,
        plot_magnitude_bias,
        plot_injection_cutouts,
        plot_point_source_profiles,
    ):
        path = tmp_path / f"{plot.__name__}.png"
        plot(result, path)
        assert path.stat().st_size > 5000


def test_injections_and_candidates_go_into_blinkable_frames(white_result):
    from asteris.science.plotting import compare_candidates, compare_injections

    _, result = white_result
    view = compare_injections(result, size=64)
    spec = view.spec
    assert spec["names"] == [*result.methods, "truth" if "truth" in result.images else "injected_model"]
    assert 32 <= spec["width"] <= 64 and 32 <= spec["height"] <= 64 and spec["markers"]  # clipped at an edge
    last = result.injected[result.injected["realization"] == result.injected["realization"].max()]
    inside = [(x, y) for x, y in zip(last["x"], last["y"]) if spec["x0"] <= x < spec["x0"] + spec["width"]
              and spec["y0"] <= y < spec["y0"] + spec["height"]]  # fmt: skip
    assert len(spec["markers"]) == len(inside)
    bands = {band: result.images[result.reference] * (i + 1) for i, band in enumerate(["F115W", "F200W"])}
    found = QTable({"id": [1, 2, 3], "x": [40.0, 100.0, 150.0], "y": [50.0, 60.0, 70.0],
                    "selected": [True, False, True], "snr_det": [8.0, 30.0, 12.0],
                    "z_phot": [9.1, 2.0, 10.2]})  # fmt: skip
    views = compare_candidates(found, bands, n=4, size=21)
    assert [v.spec["title"].split(":")[0] for v in views] == [
        "candidate #3",
        "candidate #1",
    ]  # brightest first
    assert views[0].spec["names"] == ["F115W", "F200W"] and views[0].spec["markers"] == [[150.0, 70.0]]


def test_a_hallucinating_method_is_caught(white_field):
    band = white_field.bands["F444W"]
    renderer = SourceRenderer.for_mock(white_field, "F444W")
    honest = coadd_method("ivar")
    rng = np.random.default_rng(0)
    fake = renderer.image(QTable({"x": rng.uniform(20, 236, 30), "y": rng.uniform(20, 236, 30),
                                  "mag": np.full(30, 27.5) * u.mag, "r_e": np.zeros(30) * u.arcsec,
                                  "sersic_n": np.ones(30), "axis_ratio": np.ones(30),
                                  "theta": np.zeros(30) * u.deg}), (256, 256))  # fmt: skip
    methods = {"ivar": honest, "inventive": lambda stack: honest(stack) + fake}
    rates = spurious_rate(band.stack, methods, fwhm=renderer.fwhm_px, pixel_scale=0.04, thresholds=(5.0,))
    honest_rate, inventive_rate = rates["rate_5"]
    assert honest_rate < 15 and inventive_rate > honest_rate + 100  # 30 fakes in 0.026 arcmin^2


def test_retrained_method_trains_a_model_per_stack(tmp_path):
    from asteris import TrainConfig
    from asteris.science.methods import retrained_asteris_method

    config = TrainConfig.preset("tiny", epochs=1, max_steps_per_epoch=2, checkpoint_every=2)
    method = retrained_asteris_method(config, tmp_path)
    rng = np.random.default_rng(0)
    first, second = (method(rng.normal(1.0, 0.1, (16, 48, 48)).astype(np.float32)) for _ in range(2))
    assert first.shape == (48, 48) and np.isfinite(first).any()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack_000", "stack_001"]
    states = [torch.load(tmp_path / f"stack_00{i}" / "model.pt", weights_only=False)["model_state_dict"]
              for i in (0, 1)]  # fmt: skip
    assert any(not torch.equal(states[0][k], states[1][k]) for k in states[0])  # each stack its own model


def test_dual_image_photometry_undoes_a_method_that_shrinks_fluxes(white_field):
    band = white_field.bands["F444W"]
    renderer = SourceRenderer.for_mock(white_field, "F444W")
    ivar = coadd_method("ivar")
    methods = {"ivar": ivar, "shrinking": lambda stack: 0.6 * ivar(stack)}  # loses 40% of every flux
    result = injection_recovery(band.stack, methods, renderer, mags=(25.0, 28.0), kinds=("point",),
                                n_per_realization=60, realizations=2, thresholds=(3.0, 5.0),
                                truth=band.truth, seed=4, progress=False)  # fmt: skip
    direct = result.mag_bias_at_snr("shrinking", 10.0)
    dual = result.mag_bias_at_snr("shrinking", 10.0, dual=True)
    assert direct == pytest.approx(-2.5 * np.log10(0.6), abs=0.1)  # measured on its own image: 0.55 mag faint
    assert abs(dual) < 0.1  # detected there, measured on the coadd: unbiased
    assert result.summary("shrinking", n_boot=10)["mag_bias_sn10_dual"] == pytest.approx(dual)
    ivar_dual = result.mag_bias_at_snr("ivar", 10.0, dual=True)
    assert ivar_dual == pytest.approx(result.mag_bias_at_snr("ivar", 10.0), abs=0.02)


def test_random_aperture_noise_shows_correlated_noise(white_field):
    from scipy.ndimage import gaussian_filter

    from asteris.science.detect import detection_image, random_aperture_noise_ratio

    image = coadd_method("ivar")(white_field.bands["F444W"].stack)
    smooth = np.where(np.isfinite(image), gaussian_filter(np.nan_to_num(image), 1.5), np.nan)
    white = random_aperture_noise_ratio(detection_image(image, fwhm=2.0), 6.0)
    correlated = random_aperture_noise_ratio(detection_image(smooth, fwhm=2.0), 6.0)
    assert white == pytest.approx(1.0, abs=0.2) and correlated > 2.0


def _blurred_coadd(stack):
    """The ivar coadd smoothed with a Gaussian of 1.5 px sigma: no information added, only correlation."""
    return ndimage.gaussian_filter(coadd_method("ivar")(stack), 1.5)


def test_paper_protocol_counts_smoothing_as_depth_and_the_optimal_one_does_not(white_field):
    from asteris.science.recovery import compare_protocols
    from asteris.science.recovery_result import PROTOCOLS

    band = white_field.bands["F444W"]
    renderer = SourceRenderer.for_mock(white_field, "F444W")
    methods = {"ivar": coadd_method("ivar"), "blurred": _blurred_coadd}
    results = compare_protocols(band.stack, methods, renderer, mags=(26.3, 29.8), kinds=("point",),
                                n_per_realization=80, realizations=3, truth=band.truth, seed=4,
                                progress=False)  # fmt: skip
    assert set(results) == set(PROTOCOLS) and results["paper"].protocol == "paper"
    np.testing.assert_array_equal(results["optimal"].injected["mag"], results["paper"].injected["mag"])
    optimal_gain, optimal_err = results["optimal"].depth_gain("blurred", "ivar", n_boot=50)
    paper_gain, _ = results["paper"].depth_gain("blurred", "ivar", n_boot=50)
    assert abs(optimal_gain) < max(0.15, 3 * optimal_err)
    assert paper_gain > 0.3
    rates = spurious_rate(band.stack, methods, fwhm=renderer.fwhm_px, pixel_scale=renderer.pixel_scale,
                          protocol="paper")  # fmt: skip
    by_method = {row["method"]: row for row in rates}
    assert by_method["blurred"]["rate_1.5"] > by_method["ivar"]["rate_1.5"]


def test_depth_sweep_figure(tmp_path):
    from asteris.science.plotting import plot_depth_sweep

    rows = [{"scale": s, "coadd_m90": 29.3 - 0.4 * s, "headroom": 0.4 * s,
             "dm90": {"asteris": 0.1 * s, "mean": None}, "dm90_err": {"asteris": 0.05, "mean": None}}
            for s in (0.0, 0.5, 1.0, 2.0)]  # fmt: skip
    plot_depth_sweep({"rows": rows}, tmp_path / "sweep.png")
    assert (tmp_path / "sweep.png").stat().st_size > 10_000


def test_convergence_figure(tmp_path):
    from asteris.science.plotting import plot_convergence

    rows = [{"preset": preset, "step": step, "dm90": None if step == 100 else 0.01 * step ** 0.5,
             "dm90_err": 0.05, "val_loss": 1e4 / step ** 0.1}
            for preset in ("tiny", "small") for step in (100, 200, 400, 800)]  # fmt: skip
    fig = plot_convergence({"rows": rows}, tmp_path / "convergence.png")
    assert (tmp_path / "convergence.png").stat().st_size > 10_000
    assert len(fig.axes) == 2


def test_false_detections_of_a_non_linear_method_are_counted_on_its_image_of_the_negated_stack(white_field):
    """The negated image holds for a linear method only; the method applied to the negated stack for any."""
    band = white_field.bands["F444W"]
    renderer = SourceRenderer.for_mock(white_field, "F444W")
    mean = coadd_method("mean")
    ceiling = float(np.nanstd(mean(band.stack)))
    methods = {"mean": mean, "clipped": lambda stack: np.minimum(mean(stack), ceiling)}  # clips from above
    result = injection_recovery(band.stack, methods, renderer, mags=(26.3, 29.8), kinds=("point",),
                                n_per_realization=80, realizations=2, thresholds=(2.0, 3.0), truth=band.truth,
                                negatives=("stack", "image"), seed=2, progress=False)  # fmt: skip
    estimates = result.negative_estimates
    assert np.array_equal(estimates["negated_stack"]["mean"], estimates["negated_image"]["mean"])
    for threshold in (2.0, 3.0):
        purity = result.purity_estimates("clipped", threshold)
        assert abs(purity["negated_stack"] - purity["truth"]) < abs(purity["negated_image"] - purity["truth"])
    assert result.purity_estimates("clipped", 2.0)["negated_image"] < 0  # more "false" sources than sources
    assert result.negatives is None  # with a truth, purity comes from it
    without_truth = injection_recovery(band.stack, {"mean": mean}, renderer, mags=(26.3, 29.8),
                                       kinds=("point",), n_per_realization=40, realizations=1,
                                       thresholds=(3.0,), seed=2, progress=False)  # fmt: skip
    assert set(without_truth.negative_estimates) == {"negated_stack"}
    assert without_truth.purity("mean", 3.0) == without_truth.purity_estimates("mean", 3.0)["negated_stack"]
    with pytest.raises(ConfigError, match="negatives"):
        injection_recovery(band.stack, {"mean": mean}, renderer, mags=(26.3, 29.8), negatives=("sky",))
    with pytest.raises(ConfigError, match="without a truth"):
        injection_recovery(band.stack, {"mean": mean}, renderer, mags=(26.3, 29.8), negatives=())


def test_the_scaling_figure_draws_the_measured_points_and_their_fits(tmp_path):
    from asteris.science.plotting import plot_scaling

    runs = [{"area_arcmin2": a, "seconds": {"train": 10.0, "search": 100 * a, "injections": 90 * a},
             "peak_rss_mb": {"process": 3000 + 1000 * a}} for a in (0.1, 0.3)]  # fmt: skip
    fits = {k: {"a": 0.0, "b_per_arcmin2": 100.0} for k in ("train", "search", "injections")}
    fits["peak_rss_mb"] = {"a": 3000.0, "b_per_arcmin2": 1000.0}
    scaling = {"runs": runs, "real_pointing": {"area_arcmin2": 5.0, "fits": fits}}
    fig = plot_scaling(scaling, tmp_path / "s.png")
    assert (tmp_path / "s.png").stat().st_size > 0
    left, right = fig.axes
    assert len(left.lines) == 6 and len(right.lines) == 2  # points and fits of three stages; memory
    assert right.lines[1].get_xdata().max() == 5.0  # drawn out to the real pointing
