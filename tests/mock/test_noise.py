"""The mock's noise components as plain functions: each measured on its own."""

import numpy as np
import pytest

from asteris.errors import ConfigError
from asteris.mock.noise import (
    COMPONENTS,
    NoiseConfig,
    gap_mask,
    hot_pixel_map,
    one_over_f_stripes,
    power_spectrum,
    resample_to_sky,
    sky_and_read_noise,
)


def test_configs_switch_components_and_refuse_unknown_ones():
    assert NoiseConfig.white_only().enabled() == ["sky_poisson", "read_noise"]
    assert set(NoiseConfig.physical_only().enabled()) == {"sky_poisson", "read_noise", "resampling", "gaps"}
    assert set(NoiseConfig().enabled()) == set(COMPONENTS)
    with pytest.raises(ConfigError, match="unknown noise components"):
        NoiseConfig.only("sky_poisson", "meteors")
    with pytest.raises(ConfigError):
        NoiseConfig.from_dict({"cosmic_ray": 3.0})


def test_sky_and_read_noise_have_the_expected_variance():
    rng = np.random.default_rng(0)
    signal = np.zeros((300, 300))
    noisy = sky_and_read_noise(signal, sky=4.0, gain=2.0, read_noise=3.0, rng=rng)
    # Poisson electrons of the sky (sky * gain) and read noise in electrons, back in image units
    expected = np.sqrt(4.0 * 2.0 + 3.0**2) / 2.0
    assert np.std(noisy) == pytest.approx(expected, rel=0.02)


def test_one_over_f_stripes_are_rows_per_amplifier_with_the_asked_rms():
    stripes = one_over_f_stripes((256, 512), 128, 0.5, np.random.default_rng(1))
    assert np.std(stripes) == pytest.approx(0.5, rel=0.05)
    amplifier = stripes[:, :128]
    assert np.all(amplifier == amplifier[:, :1])  # constant along each row of an amplifier
    k, radial, column = power_spectrum(stripes)
    assert column.mean() > 5 * radial.mean()  # the power lies along k_y


def test_hot_pixels_gaps_and_resampling():
    hot = hot_pixel_map((200, 200), 1e-3, 10.0, np.random.default_rng(2))
    assert 10 <= np.count_nonzero(hot) <= 90
    valid = gap_mask((10, 20), 4)
    assert valid[:, 8:12].sum() == 0 and valid.sum() == 10 * 16
    frame = np.arange(36.0).reshape(6, 6)
    moved, ok = resample_to_sky(frame, np.ones_like(frame, bool), 1.0, 0.0)
    np.testing.assert_array_equal(moved[:, 1:], frame[:, :-1])
    assert not ok[:, 0].any() and ok[:, 1:].all()
