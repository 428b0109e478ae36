"""The instruments: bands by name, zero points, and a clear refusal of what is not there."""

import pytest

from asteris.errors import ConfigError
from asteris.sky.instruments import HSC, NIRCAM, get_instrument, mjy_sr_zero_point


def test_instruments_and_bands_by_name():
    assert get_instrument("NIRCam") is NIRCAM and get_instrument(HSC) is HSC
    assert NIRCAM.band("f200w").name == "F200W"
    assert NIRCAM.zero_point == pytest.approx(mjy_sr_zero_point(NIRCAM.pixel_scale))
    assert NIRCAM.band("F444W").psf_fwhm > NIRCAM.band("F090W").psf_fwhm
    with pytest.raises(ConfigError, match="unknown instrument"):
        get_instrument("miri")
    with pytest.raises(ConfigError, match="has no band"):
        NIRCAM.band("F999W")
