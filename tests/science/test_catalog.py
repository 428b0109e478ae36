import astropy.units as u
import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.science.catalog import aperture_correction, combined_detection_image, multiband_catalog
from asteris.science.injection import SourceRenderer, injection_catalog
from asteris.science.matching import match_positions

SHAPE = (200, 200)
RENDERERS = {  # a sharp and a twice broader PSF, 0.04 arcsec/px, AB zero point 28
    "blue": SourceRenderer(0.04, 28.0, "airy", 0.07),
    "red": SourceRenderer(0.04, 28.0, "airy", 0.14),
}
NOISE = 0.02  # image units per pixel: sources of 25-26.5 AB have S/N ~ 20-100 in the apertures


@pytest.fixture(scope="module")
def two_bands():
    truth = injection_catalog(np.zeros(SHAPE, bool), n=30, mags=(25.0, 26.5), kinds=("point",), seed=4)
    truth["mag_red"] = truth["mag"] - 0.5 * u.mag  # red sources: brighter in the red band
    rng = np.random.default_rng(0)
    images = {}
    for band, renderer in RENDERERS.items():
        sources = truth.copy()
        sources["mag"] = truth["mag_red"] if band == "red" else truth["mag"]
        images[band] = renderer.image(sources, SHAPE) + rng.normal(0.0, NOISE, SHAPE) + 0.3  # + sky
    return images, truth


def test_aperture_correction_grows_as_the_aperture_shrinks_and_for_broader_psfs():
    blue, red = RENDERERS["blue"], RENDERERS["red"]
    assert aperture_correction(blue, 30.0) == pytest.approx(1.0, abs=0.03)
    assert 1.0 < aperture_correction(blue, 7.0) < aperture_correction(red, 7.0)


def test_forced_photometry_recovers_total_fluxes_with_honest_errors(two_bands):
    images, truth = two_bands
    table = multiband_catalog(images, RENDERERS)
    idx = match_positions(truth["x"], truth["y"], table["x"].value, table["y"].value, radius=2.0)
    assert (idx >= 0).mean() > 0.95  # every injected source is found, and little else
    assert len(table) <= len(truth) + 2
    found = table[idx[idx >= 0]]
    for band, column in (("blue", "mag"), ("red", "mag_red")):
        expected = 10 ** (-0.4 * (truth[column][idx >= 0].value - 31.4)) * u.nJy  # AB: 31.4 = 1 nJy
        ratio = (found[f"f_{band}"] / expected).decompose().value
        pull = ((found[f"f_{band}"] - expected) / found[f"e_{band}"]).decompose().value
        assert np.median(ratio) == pytest.approx(1.0, abs=0.03), band  # aperture-corrected totals
        assert abs(np.median(pull)) < 1.0, (
            band
        )  # the bias (1-2% low: source wings in the background) is below the errors
        assert 0.6 < np.std(pull) < 1.5, band  # errors from empty apertures match the scatter
    assert table["f_red"].unit == u.nJy and table.meta["apcorr_red"] > table.meta["apcorr_blue"]


def test_detection_image_is_in_units_of_its_noise(two_bands):
    images, _ = two_bands
    empty = {band: np.random.default_rng(i).normal(0.3, NOISE, SHAPE) for i, band in enumerate(images)}
    combined = combined_detection_image(empty, RENDERERS)
    assert np.nanstd(combined) == pytest.approx(1.0, abs=0.05)


def test_bad_inputs_are_refused(two_bands):
    images, _ = two_bands
    with pytest.raises(ConfigError, match="SourceRenderer"):
        multiband_catalog(images, {"blue": RENDERERS["blue"]})
    with pytest.raises(ConfigError, match="one pixel grid"):
        multiband_catalog({"blue": images["blue"], "red": images["red"][:100]}, RENDERERS)
    with pytest.raises(ConfigError, match="detection bands"):
        multiband_catalog(images, RENDERERS, detection_bands=["green"])


def test_dual_image_mode_detects_on_one_image_and_measures_on_another(two_bands):
    images, _ = two_bands
    direct = multiband_catalog(images, RENDERERS)
    # a "denoised" image: less noise, and every source at 60% of its flux (what shrinkage does)
    rng = np.random.default_rng(1)
    shrunk = {
        band: 0.3 + 0.6 * (image - 0.3) + rng.normal(0.0, NOISE / 4, SHAPE) for band, image in images.items()
    }
    on_shrunk = multiband_catalog(shrunk, RENDERERS)
    dual = multiband_catalog(shrunk, RENDERERS, measure_images=images)
    np.testing.assert_allclose(dual["x"].value, on_shrunk["x"].value)  # detected on the denoised image
    for band in RENDERERS:
        both = match_positions(dual["x"].value, dual["y"].value, direct["x"].value, direct["y"].value, 1.0)
        ok = both >= 0
        measured, reference = dual[f"f_{band}"][ok], direct[f"f_{band}"][both[ok]]
        assert np.median((measured / reference).value) == pytest.approx(1.0, abs=0.02), band
        assert np.median((on_shrunk[f"f_{band}"][ok] / reference).value) == pytest.approx(0.6, abs=0.05)
        np.testing.assert_allclose(dual[f"e_{band}"].value, direct[f"e_{band}"].value[0], rtol=0.05)
    with pytest.raises(ValueError, match="lacks bands"):
        multiband_catalog(shrunk, RENDERERS, measure_images={"blue": images["blue"]})


def test_dual_image_mode_needs_only_the_detection_bands_of_the_detecting_images(two_bands):
    """What the injections reuse: in dual-image mode the detecting images' other bands are never read,
    so a method's images of them need not be made; the table is the same, column for column."""
    images, _ = two_bands
    shrunk = {band: 0.3 + 0.6 * (image - 0.3) for band, image in images.items()}
    full = multiband_catalog(shrunk, RENDERERS, detection_bands=["red"], measure_images=images)
    red = {"red": shrunk["red"]}
    red_only = multiband_catalog(red, RENDERERS, detection_bands=["red"], measure_images=images)
    assert full.colnames == red_only.colnames and len(full) > 10
    for name in full.colnames:
        np.testing.assert_array_equal(np.asarray(full[name]), np.asarray(red_only[name]), err_msg=name)
    with pytest.raises(ConfigError, match="no SourceRenderer"):
        multiband_catalog({"red": shrunk["red"]}, {"red": RENDERERS["red"]}, measure_images=images)
