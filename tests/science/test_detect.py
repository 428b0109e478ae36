import astropy.units as u
import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.mock.synthetic import synthetic_wcs
from asteris.science.detect import (
    DETECT_COLUMNS,
    detect,
    detection_image,
    empty_aperture_noise,
    kernel_fwhm,
    matched_kernel,
    njy_per_unit,
)


def gaussian_image(sources, shape=(128, 128), sigma_px=1.5, noise=1.0, seed=0):
    """White noise plus Gaussian sources given as (x, y, total flux)."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    image = np.random.default_rng(seed).normal(0, noise, shape)
    for x, y, flux in sources:
        image += (
            flux * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * sigma_px**2)) / (2 * np.pi * sigma_px**2)
        )
    return image


def test_sources_are_found_where_they_are_with_their_flux():
    sources = [(30.3, 40.7, 400.0), (90.0, 100.2, 800.0)]
    image = gaussian_image(sources, noise=0.05)
    table = detect(image, fwhm=3.5, threshold=5, aperture_diameters=[30] * u.pix, box_size=32)
    assert len(table) == 2
    order = np.argsort(table["x"].value)
    for row, (x, y, flux) in zip(table[order], sources):
        assert abs(row["x"].value - x) < 0.05 and abs(row["y"].value - y) < 0.05
        assert row["flux_aper_0"].value == pytest.approx(flux, rel=0.01)
        assert row["fwhm"].value == pytest.approx(1.5 * 2.3548, rel=0.1)
        assert row["ellipticity"] < 0.05
    assert list(table.colnames[: len(DETECT_COLUMNS)]) == list(DETECT_COLUMNS)


def test_pure_noise_gives_few_detections_at_five_sigma_and_many_at_two():
    image = gaussian_image([], shape=(256, 256), seed=3)
    high = detect(image, fwhm=3.0, threshold=5)
    low = detect(image, fwhm=3.0, threshold=2, n_pixels=3)
    assert len(high) <= 1 and len(low) > 20
    assert high.colnames == low.colnames  # an empty table has every column


def test_the_threshold_is_in_units_of_the_filtered_noise():
    image = gaussian_image([], shape=(256, 256), seed=4)
    det = detection_image(image, fwhm=3.0)
    inside = ~det.mask
    assert np.median(det.rms[inside]) == pytest.approx(1.0, rel=0.05)
    measured = np.std(det.filtered[inside])
    assert np.median(det.filtered_rms[inside]) == pytest.approx(measured, rel=0.05)
    assert measured == pytest.approx(np.sqrt((det.kernel**2).sum()), rel=0.1)  # white noise


def test_negated_image_misses_positive_sources():
    image = gaussian_image([(64, 64, 500.0)], noise=0.1)
    assert len(detect(image, fwhm=3.5, threshold=5, box_size=32)) == 1
    assert len(detect(image, fwhm=3.5, threshold=5, box_size=32, negate=True)) == 0


def test_units_magnitudes_and_sky_coordinates():
    image = gaussian_image([(64, 64, 500.0)], noise=0.1)
    wcs = synthetic_wcs(image.shape, scale_arcsec=0.04)
    table = detect(image, fwhm=3.5, threshold=5, zero_point=27.46, wcs=wcs, box_size=32,
                   aperture_diameters=[0.4, 1.2] * u.arcsec)  # fmt: skip
    assert table["x"].unit == u.pix and table["flux_aper_1"].unit == u.nJy
    assert table.meta["aperture_diameters_px"] == pytest.approx([10.0, 30.0])
    flux = table["flux_aper_1"][0].to_value(u.nJy)
    assert flux == pytest.approx(500 * njy_per_unit(27.46), rel=0.02)
    assert table["mag_aper_1"][0].value == pytest.approx(31.4 - 2.5 * np.log10(flux))
    sky = wcs.pixel_to_world(table["x"][0].value, table["y"][0].value)
    assert table["ra"][0].to_value(u.deg) == pytest.approx(sky.ra.deg)


def test_no_data_is_never_detected_and_edges_are_masked():
    image = gaussian_image([(64, 64, 500.0)], noise=0.1)
    image[:, :40] = np.nan
    det = detection_image(image, fwhm=3.5, box_size=32)
    assert det.mask[:, :40].all() and det.mask[:, 40].all()  # the kernel's reach into no-data
    assert len(detect(det, threshold=5)) == 1


def test_bad_input_is_refused_with_a_clear_error():
    image = gaussian_image([])
    with pytest.raises(ConfigError, match="FWHM"):
        detect(image)
    with pytest.raises(ConfigError, match="odd"):
        detect(image, psf=np.ones((4, 4)))
    with pytest.raises(ConfigError, match="threshold"):
        detect(image, fwhm=3, threshold=0)
    with pytest.raises(ConfigError, match="WCS or pixel_scale"):
        detect(image, fwhm=3, aperture_diameters=[0.2] * u.arcsec)
    with pytest.raises(ConfigError, match="2D"):
        detect(np.zeros((2, 8, 8)), fwhm=3)
    with pytest.raises(ConfigError, match="no valid pixel"):
        detect(np.full((32, 32), np.nan), fwhm=3)


def test_kernel_fwhm_and_psf_kernels():
    assert kernel_fwhm(matched_kernel(4.0)) == pytest.approx(4.0, rel=0.03)
    psf = np.outer(*[np.exp(-(np.arange(-7, 8) ** 2) / (2 * 2.0**2))] * 2)
    kernel = matched_kernel(psf=psf)
    assert kernel.sum() == pytest.approx(1.0) and kernel_fwhm(kernel) == pytest.approx(2 * 2.3548, rel=0.02)


def test_empty_aperture_noise_of_white_noise():
    image = gaussian_image([], shape=(256, 256), seed=5)
    det = detection_image(image, fwhm=3.0)
    diameter = 6.0
    expected = np.sqrt(np.pi * (diameter / 2) ** 2)  # unit noise per pixel, independent pixels
    assert empty_aperture_noise(det, diameter, n=1500) == pytest.approx(expected, rel=0.1)


def test_deblending_only_what_can_split_gives_photutils_own_segmentation():
    from photutils.segmentation import deblend_sources, detect_sources

    from asteris.science.detect import _splittable, segment_sources

    rng = np.random.default_rng(3)
    pairs = [(x, y, 60.0) for x, y in rng.uniform(10, 246, (40, 2))]
    pairs += [(x + 3.0, y + 1.0, 40.0) for x, y, _ in pairs[:20]]  # blends to split
    field = gaussian_image(pairs, shape=(256, 256), noise=1.0)
    lone_blend = gaussian_image([(60.0, 60.0, 300.0), (67.0, 61.0, 200.0)], shape=(128, 128), noise=0.02)
    for image, negate, threshold in [(field, False, t) for t in (1.5, 2.0, 3.0, 5.0)] + [
        (field, True, 1.5), (field, True, 2.0), (lone_blend, False, 5.0)
    ]:
        det = detection_image(image, fwhm=3.5, box_size=32, negate=negate)
        mine = segment_sources(det, threshold, 5)
        segments = detect_sources(det.filtered, threshold * det.filtered_rms, 5, mask=det.mask)
        theirs = deblend_sources(det.filtered, segments, 5, progress_bar=False)
        assert np.array_equal(mine.data, theirs.data), (negate, threshold)
        if not negate and threshold < 5:
            assert mine.n_labels > segments.n_labels  # blends were split
    assert segments.n_labels == 1 and mine.n_labels == 2  # the lone blend: one segment of two parts
    # segments that cannot split were not deblended: the deep image's large segments mostly
    det = detection_image(field, fwhm=3.5, box_size=32)
    segments = detect_sources(det.filtered, 2.0 * det.filtered_rms, 5, mask=det.mask)
    assert 0 < len(_splittable(det.filtered, segments, 5)) < np.sum(segments.areas >= 10) / 2


def test_minimal_detection_measures_the_same_positions_and_fluxes():
    image = gaussian_image([(30.3, 40.7, 400.0), (90.0, 100.2, 800.0)], noise=0.05)
    full = detect(image, fwhm=3.5, threshold=5, box_size=32)
    minimal = detect(image, fwhm=3.5, threshold=5, box_size=32, minimal=True)
    assert minimal.colnames == full.colnames
    for name in ("x", "y", "snr", "flux_aper_0", "flux_aper_1_err"):
        assert np.array_equal(minimal[name], full[name]), name
    assert np.all(np.isnan(minimal["kron_flux"])) and np.all(np.isnan(minimal["fwhm"]))
    assert np.all(np.isfinite(full["kron_flux"]))
