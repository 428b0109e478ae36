"""Measurements at given positions: shapes, profiles, aperture fluxes and limiting magnitudes."""

import numpy as np
import pytest

from asteris.science.photometry import moment_shape, stacked_profile


def test_moment_shape_measures_gaussians_and_the_noise_averages_out():
    yy, xx = np.mgrid[:64, :64]
    sigma = 1.2
    g = 100 * np.exp(-((xx - 31.3) ** 2 + (yy - 32.6) ** 2) / (2 * sigma**2))
    fwhm, e = moment_shape(g, [31.3], [32.6], radius=6)
    assert fwhm[0] == pytest.approx(2.3548 * sigma, rel=0.02) and e[0] < 0.01
    noisy = [moment_shape(g + np.random.default_rng(s).normal(0, 1, g.shape), [31.3], [32.6], radius=6)[0][0]
             for s in range(30)]  # fmt: skip
    assert np.median(noisy) == pytest.approx(2.3548 * sigma, rel=0.05)
    assert np.isnan(moment_shape(g, [1.0], [1.0], radius=6)[0][0])  # too close to the edge


def test_stacked_profile_is_normalised_and_peaks_at_the_centre():
    yy, xx = np.mgrid[:64, :64]
    image = np.exp(-((xx - 20) ** 2 + (yy - 20) ** 2) / 4) + np.exp(-((xx - 44) ** 2 + (yy - 40) ** 2) / 4)
    r, profile = stacked_profile(image, [20, 44], [20, 40], radius=10)
    area = np.pi * ((r + 0.25) ** 2 - (r - 0.25) ** 2)
    assert np.nansum(profile * area) == pytest.approx(1.0) and np.nanargmax(profile) == 0
