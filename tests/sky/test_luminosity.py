"""Luminosity-function forms and the volumes they are integrated over."""

import numpy as np
import pytest

from asteris.sky.luminosity import WHITLER25, DoublePowerLaw, comoving_volume


def test_the_double_power_law_has_its_slopes_on_either_side_of_the_knee():
    lf = DoublePowerLaw(m_star=-20.0, alpha=-2.0, beta=-4.0, phi_star=1e-4)
    assert float(lf(-20.0)) == pytest.approx(0.5e-4)
    faint = np.log10(lf(-15.0) / lf(-16.0)) / 0.4  # phi ~ 10**(-0.4 (slope + 1) M) far from the knee
    bright = np.log10(lf(-24.0) / lf(-25.0)) / 0.4
    assert faint == pytest.approx(-(-2.0 + 1), abs=0.01) and bright == pytest.approx(-(-4.0 + 1), abs=0.01)


def test_expected_numbers_scale_with_area_and_boost_and_volumes_grow_with_z():
    edges = np.array([-22.0, -21.0, -20.0])
    one = WHITLER25.expected_number(edges, z_range=(8.5, 9.5), area_arcmin2=10.0)
    assert WHITLER25.expected_number(edges, z_range=(8.5, 9.5), area_arcmin2=20.0, boost=3.0) == (
        pytest.approx(6 * one))
    assert comoving_volume((8.5, 9.5), 10.0) > 0
    assert comoving_volume((8.5, 10.5), 10.0) > comoving_volume((8.5, 9.5), 10.0)
