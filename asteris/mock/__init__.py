"""The mock universe: NIRCam- and HSC-like exposure stacks with a truth image and catalogue.

`simulate_field` draws a sky (`population`, with spectra from `asteris.sky.sed`),
renders it through each band's PSF (`asteris.sky`) into every dithered exposure on
the detector's own pixels (`detector`: WCS and ``_cal``/warp files), adds the
detector and sky noise of `noise`, and aligns the exposures with
`asteris.archive.align`; `calibration` measures each noise component on them. `datasets` builds the embedded
default fields once and caches them; `synthetic` makes small quick stacks for
tests. Needs the ``mock`` extra (the science does not):
``pip install 'asteris[mock]'``.

>>> from asteris.mock import NoiseConfig
>>> NoiseConfig.white_only().one_over_f
0.0
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("mock", feature="asteris.mock")

from .calibration import calibration_table, casertano_r, correlated_noise_factor
from .datasets import HIGH_Z_FIELD, MOCK_VERSION, default_parameters, high_z_field, mock_field
from .detector import exposure_wcs, row_median_correction, write_cal, write_warp
from .noise import COMPONENTS, STRUCTURED, NoiseConfig
from .plotting import plot_colour_redshift, plot_mock_band, plot_power_spectra
from .pointing import MockPointing
from .population import PopulationConfig, high_z_galaxies, sky_catalog
from .simulate import (
    MockBand,
    MockField,
    band_workers,
    component_power_spectra,
    read_mock_field,
    simulate_field,
)
from .synthetic import synthetic_stack, synthetic_wcs

__all__ = [
    "simulate_field",
    "band_workers",
    "read_mock_field",
    "MockField",
    "MockBand",
    "component_power_spectra",
    "mock_field",
    "high_z_field",
    "default_parameters",
    "HIGH_Z_FIELD",
    "MockPointing",
    "MOCK_VERSION",
    "NoiseConfig",
    "COMPONENTS",
    "STRUCTURED",
    "calibration_table",
    "casertano_r",
    "correlated_noise_factor",
    "exposure_wcs",
    "write_cal",
    "write_warp",
    "row_median_correction",
    "PopulationConfig",
    "sky_catalog",
    "high_z_galaxies",
    "synthetic_stack",
    "synthetic_wcs",
    "plot_mock_band",
    "plot_power_spectra",
    "plot_colour_redshift",
]
