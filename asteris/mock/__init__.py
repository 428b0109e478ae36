"""The mock universe: NIRCam- and HSC-like exposure stacks with a truth image and catalogue.

`simulate_field` draws a sky (`population`, with spectra from `sed`), renders
it through each band's PSF (`instruments`) into every dithered exposure and
adds the detector and sky noise of `noise`. `datasets` builds the embedded
default fields once and caches them; `synthetic` makes small quick stacks for
tests. Needs the ``mock`` extra (also part of ``science``):
``pip install 'asteris[mock]'``.

>>> from asteris.mock import NoiseConfig
>>> NoiseConfig.white_only().one_over_f
0.0
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("mock", feature="asteris.mock")

from .datasets import HIGH_Z_FIELD, default_parameters, high_z_field, mock_field
from .instruments import HSC, NIRCAM, BandSpec, Instrument, get_instrument, mjy_sr_zero_point, psf_kernel
from .noise import COMPONENTS, NoiseConfig
from .plotting import plot_colour_redshift, plot_mock_band, plot_power_spectra
from .population import (
    WHITLER25,
    DoublePowerLaw,
    PopulationConfig,
    high_z_galaxies,
    high_z_sources,
    sky_catalog,
)
from .sed import NJY_AB_ZP, Passbands, StellarPopulation, igm_transmission, rest_frame_spectrum
from .simulate import (
    MockBand,
    MockField,
    component_power_spectra,
    read_mock_field,
    render_sources,
    simulate_field,
)
from .synthetic import synthetic_stack, synthetic_wcs

__all__ = [
    "simulate_field",
    "read_mock_field",
    "MockField",
    "MockBand",
    "render_sources",
    "component_power_spectra",
    "mock_field",
    "high_z_field",
    "default_parameters",
    "HIGH_Z_FIELD",
    "NoiseConfig",
    "COMPONENTS",
    "PopulationConfig",
    "DoublePowerLaw",
    "WHITLER25",
    "sky_catalog",
    "high_z_galaxies",
    "high_z_sources",
    "Passbands",
    "StellarPopulation",
    "rest_frame_spectrum",
    "igm_transmission",
    "NJY_AB_ZP",
    "Instrument",
    "BandSpec",
    "NIRCAM",
    "HSC",
    "get_instrument",
    "psf_kernel",
    "mjy_sr_zero_point",
    "synthetic_stack",
    "synthetic_wcs",
    "plot_mock_band",
    "plot_power_spectra",
    "plot_colour_redshift",
]
