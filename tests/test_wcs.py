"""Celestial WCS helpers."""

import pytest
from astropy.io import fits

from asteris.mock.synthetic import synthetic_wcs
from asteris.wcs import celestial_wcs, wcs_pixel_scale


def test_a_header_without_a_celestial_wcs_gives_none():
    assert celestial_wcs(fits.Header({"FILTER": "F200W"})) is None
    assert celestial_wcs(fits.Header({"CTYPE1": "WAVE", "CTYPE2": "TIME"})) is None


def test_the_pixel_scale_of_a_grid():
    wcs = celestial_wcs(synthetic_wcs((32, 32)).to_header())
    assert wcs_pixel_scale(wcs) == pytest.approx(0.04, rel=1e-9)
