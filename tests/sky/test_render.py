"""Sources rendered onto a grid: flux kept, profiles placed where asked, renderers from headers."""

import astropy.units as u
import numpy as np
import pytest
from astropy.io import fits
from astropy.table import QTable

from asteris.errors import ConfigError
from asteris.mock.synthetic import synthetic_wcs
from asteris.sky.render import SourceRenderer, render_sources, sersic_stamp
from asteris.stack import Stack


def sources(r_e) -> QTable:
    shapes = {"sersic_n": [1.0, 1.0], "axis_ratio": [1.0, 0.5], "theta": [0.0, 45.0] * u.deg}
    return QTable({"x": [20.0, 40.3], "y": [24.0, 30.7], "r_e": np.asarray(r_e) * u.arcsec, **shapes})


def test_rendering_keeps_each_source_flux_at_its_position():
    catalog = sources([0.0, 0.1])
    image = render_sources(catalog, (64, 64), fluxes=[2.0, 3.0], pixel_scale=0.04,
                           psf_profile="airy", psf_fwhm=0.08)  # fmt: skip
    assert image.sum() == pytest.approx(5.0, rel=1e-3)
    point = image[14:35, 10:31]
    y, x = np.indices(point.shape)
    assert (x * point).sum() / point.sum() + 10 == pytest.approx(20.0, abs=0.05)
    assert (y * point).sum() / point.sum() + 14 == pytest.approx(24.0, abs=0.05)


def test_a_sersic_stamp_sums_to_one_and_is_round_when_asked():
    y0, x0, patch = sersic_stamp(30.0, 30.0, 4.0, 1.0, 1.0, 0.0, max_radius=100)
    assert patch.sum() == pytest.approx(1.0, rel=1e-6)
    assert np.allclose(patch, patch.T, atol=1e-6)


def test_a_renderer_is_read_from_a_stack_header():
    header = fits.Header({"BUNIT": "MJy/sr", "FILTER": "F200W"})
    stack = Stack(np.ones((2, 16, 16)), header, synthetic_wcs((16, 16)))
    renderer = SourceRenderer.for_stack(stack)
    assert renderer.pixel_scale == pytest.approx(0.04)
    assert renderer.zero_point == pytest.approx(27.46, abs=0.01)
    assert renderer.fluxes([renderer.zero_point]).tolist() == [1.0]
    assert renderer.fwhm_px == pytest.approx(renderer.psf_fwhm / 0.04)
    with pytest.raises(ConfigError, match="no AB zero point"):
        SourceRenderer.for_stack(Stack(np.ones((2, 16, 16)), fits.Header(), synthetic_wcs((16, 16))))
    with pytest.raises(ConfigError, match="no celestial WCS"):
        SourceRenderer.for_stack(Stack(np.ones((2, 16, 16))))
