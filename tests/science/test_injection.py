import astropy.units as u
import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.mock.noise import NoiseConfig
from asteris.mock.simulate import simulate_field
from asteris.science.detect import detect
from asteris.science.injection import SourceRenderer, inject, injection_catalog, source_mask
from asteris.stack import Stack

RENDERER = SourceRenderer(pixel_scale=0.04, zero_point=27.46, psf_profile="airy", psf_fwhm=0.145)


@pytest.mark.parametrize("drizzled", [False, True])
def test_render_sources_reproduces_the_mock_truth(drizzled):
    white = ("sky_poisson", "read_noise")
    noise = NoiseConfig.only(*white, "resampling") if drizzled else NoiseConfig.white_only()
    field = simulate_field("nircam", shape=(96, 96), exposures=2, bands=["F444W"], noise=noise, seed=2,
                           progress=False)  # fmt: skip
    band = field.bands["F444W"]
    renderer = SourceRenderer.for_mock(field, "F444W")
    catalog = field.catalog.copy()
    catalog["mag"] = (31.4 - 2.5 * np.log10(catalog["flux_jwst_f444w"].to_value(u.nJy))) * u.mag
    image = renderer.image(catalog[np.isfinite(catalog["mag"])], band.truth.shape)
    inner = (slice(30, -30), slice(30, -30))  # sources beyond the footprint (profiles, PSF) spill in
    scale = np.abs(band.truth[inner]).max()
    assert np.abs(image[inner] - band.truth[inner]).max() < 1e-4 * scale
    assert renderer.exposure_fwhm == (0.145, 0.145)
    # drizzled: the native 0.063" pixel and a drop of the same size widen the PSF
    assert renderer.pixel_widths == ((0.063, 0.063) if drizzled else ())
    assert renderer.fwhm_px > 0.145 / 0.04 + (0.25 if drizzled else -1e-9)


def test_catalog_keeps_clear_of_sources_edges_and_itself():
    avoid = np.zeros((200, 200), bool)
    avoid[50:150, 50:150] = True
    cat = injection_catalog(avoid, n=40, mags=(24, 28), min_separation=12, edge=10, seed=3)
    x, y = np.round(cat["x"]).astype(int), np.round(cat["y"]).astype(int)
    assert len(cat) == 40 and not avoid[y, x].any()
    assert (cat["x"] >= 9.5).all() and (cat["x"] <= 190.5).all()
    d = np.hypot(cat["x"][:, None] - cat["x"][None], cat["y"][:, None] - cat["y"][None])
    assert d[~np.eye(40, dtype=bool)].min() >= 12
    assert set(cat["kind"]) == {"point", "sersic"} and (cat["r_e"][cat["kind"] == "point"] == 0).all()
    assert ((cat["mag"].value >= 24) & (cat["mag"].value <= 28)).all()
    again = injection_catalog(avoid, n=40, mags=(24, 28), min_separation=12, edge=10, seed=3)
    assert np.array_equal(cat["x"], again["x"])


def test_a_survey_pointing_holds_its_160_galaxies_in_one_realization():
    """benchmarks/packing.py packs the survey's 4 x 40 into one realization: they fit 16 px apart."""
    avoid = np.zeros((512, 512), bool)
    avoid[:, :40] = True  # a strip without data, as a pointing's edge has
    cat = injection_catalog(avoid, n=160, mags=(24, 28), seed=1)
    d = np.hypot(cat["x"][:, None] - cat["x"][None], cat["y"][:, None] - cat["y"][None])
    assert len(cat) == 160 and d[~np.eye(160, dtype=bool)].min() >= 16
    assert not avoid[np.round(cat["y"]).astype(int), np.round(cat["x"]).astype(int)].any()


def test_catalog_refuses_what_does_not_fit():
    with pytest.raises(ConfigError, match="fit"):
        injection_catalog(np.zeros((64, 64), bool), n=200, mags=(24, 28), min_separation=16)
    with pytest.raises(ConfigError, match="no free pixel"):
        injection_catalog(np.ones((64, 64), bool), n=1, mags=(24, 28))
    with pytest.raises(ConfigError, match="kinds"):
        injection_catalog(np.zeros((64, 64), bool), n=1, mags=(24, 28), kinds=("star",))
    with pytest.raises(ConfigError, match="bright, faint"):
        injection_catalog(np.zeros((64, 64), bool), n=1, mags=(28, 24))


def test_inject_adds_the_model_to_every_exposure_with_data_only():
    rng = np.random.default_rng(0)
    data = rng.normal(0, 0.01, (4, 96, 96)).astype(np.float32)
    data[1, :, :10] = 0  # no data
    cat = injection_catalog(np.zeros((96, 96), bool), n=6, mags=(24, 25), seed=1)
    before = data.copy()
    injected, model = inject(Stack(data), cat, RENDERER)
    assert np.array_equal(data, before)
    assert (injected.data[1, :, :10] == 0).all()
    assert np.allclose(injected.data[0] - data[0], model, atol=1e-6)
    assert model.sum() == pytest.approx(RENDERER.fluxes(cat["mag"].value).sum(), rel=0.02)
    assert "6 artificial sources" in injected.sources[-1]


def test_each_exposure_gets_its_own_psf():
    renderer = SourceRenderer(0.168, 27.0, "moffat", 0.7, exposure_fwhm=(0.5, 1.0))
    cat = injection_catalog(np.zeros((96, 96), bool), n=1, mags=(20, 20.1), kinds=("point",), seed=1)
    injected, model = inject(np.random.default_rng(0).normal(0, 1e-3, (2, 96, 96)), cat, renderer)
    sharp, broad = injected.data
    assert sharp.max() > 2 * broad.max() and sharp.max() > model.max() > broad.max()
    with pytest.raises(ConfigError, match="exposure PSFs"):
        inject(np.ones((3, 96, 96)), cat, renderer)


def test_injected_fluxes_come_back_unbiased_on_a_noiseless_image():
    shape = (256, 256)  # apertures hold the whole PSF (6 FWHM radius), so the sources stand apart
    cat = injection_catalog(np.zeros(shape, bool), n=12, mags=(22, 24), min_separation=48, edge=24, seed=4)
    image = RENDERER.image(cat, shape) + np.random.default_rng(1).normal(0, 1e-6, shape)
    table = detect(image, fwhm=RENDERER.fwhm_px, threshold=5, aperture_diameters=[46] * u.pix, box_size=64)
    from asteris.science.matching import match_positions

    hit = match_positions(cat["x"], cat["y"], table["x"].value, table["y"].value, 1.0)
    assert (hit >= 0).all()
    ratio = table["flux_aper_0"].value[hit] / RENDERER.fluxes(cat["mag"].value)
    assert np.median(ratio) == pytest.approx(1.0, abs=0.005) and ratio.min() > 0.97


def test_source_mask_covers_sources_and_no_data():
    image = RENDERER.image(
        injection_catalog(np.zeros((96, 96), bool), n=3, mags=(22, 22.5), seed=2), (96, 96)
    )
    image = image + np.random.default_rng(2).normal(0, 1e-4, image.shape)
    image[:, :8] = np.nan
    mask = source_mask(image, fwhm=RENDERER.fwhm_px)
    assert mask[:, :8].all() and 0.01 < mask[:, 20:].mean() < 0.6
    assert mask[image > 1e-2].all()


def test_renderer_from_a_stack_header():
    field = simulate_field("nircam", shape=(32, 32), exposures=1, bands=["F200W"],
                           noise=NoiseConfig.white_only(), seed=1, progress=False)  # fmt: skip
    stack = field.bands["F200W"].stack
    renderer = SourceRenderer.for_stack(stack)
    mock = SourceRenderer.for_mock(field, "F200W")
    assert renderer.pixel_scale == pytest.approx(0.04) and renderer.psf_fwhm == mock.psf_fwhm
    assert renderer.zero_point == pytest.approx(mock.zero_point)
    del stack.header["ABMAGZP"], stack.header["PSFFWHM"]  # a JWST-like header: MJy/sr and FILTER
    again = SourceRenderer.for_stack(stack)
    assert again.zero_point == pytest.approx(mock.zero_point) and again.psf_fwhm == mock.psf_fwhm
    stack.header["BUNIT"] = "DN/s"
    with pytest.raises(ConfigError, match="zero point"):
        SourceRenderer.for_stack(stack)
