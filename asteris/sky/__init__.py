"""The sky both the simulator and the science stand on.

- `instruments`: a NIRCam-like and an HSC-like imager, their bands, PSF widths and AB zero points;
- `psf`: PSF images (Airy, Moffat) and their convolution with pixels and drizzle drops;
- `sed`: stellar-population spectra, dust, the IGM and broad-band fluxes (`Passbands`);
- `luminosity`: UV luminosity-function forms and comoving volumes;
- `galaxies`: z > 8.5 galaxies of given M_UV and z with SEDs and sizes, collected into catalogues;
- `render`: sources rendered into an image or an exposure (`render_sources`, `SourceRenderer`).

Measuring real data needs this layer and never the simulator (`asteris.mock`).
Needs the ``sky`` extra (part of ``mock`` and ``science``): ``pip install 'asteris[sky]'``.

>>> from asteris.sky import NIRCAM, WHITLER25
>>> round(NIRCAM.zero_point, 2), WHITLER25.alpha
(27.46, -2.6)
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("sky", feature="asteris.sky")

from .galaxies import SourceRows, high_z_sources
from .instruments import HSC, NIRCAM, BandSpec, Instrument, get_instrument, mjy_sr_zero_point
from .luminosity import WHITLER25, DoublePowerLaw
from .psf import pixel_response, psf_kernel
from .render import SourceRenderer, render_sources
from .sed import NJY_AB_ZP, Passbands, StellarPopulation, igm_transmission, rest_frame_spectrum

__all__ = [
    "Instrument",
    "BandSpec",
    "NIRCAM",
    "HSC",
    "get_instrument",
    "mjy_sr_zero_point",
    "psf_kernel",
    "pixel_response",
    "NJY_AB_ZP",
    "Passbands",
    "StellarPopulation",
    "rest_frame_spectrum",
    "igm_transmission",
    "DoublePowerLaw",
    "WHITLER25",
    "SourceRows",
    "high_z_sources",
    "SourceRenderer",
    "render_sources",
]
