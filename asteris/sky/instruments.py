"""Instrument models: a NIRCam-like and an HSC-like imager, their bands and AB zero points.

Each band has a filter curve (``astro-sedpy`` name), a PSF, a sky level and a
conversion from image units to detected electrons per exposure. NIRCam-like
images are in MJy/sr on the 0.04 arcsec/px grid of the published models; the
AB zero point of such an image is ``-2.5 log10(1e6 Jy/sr * pixel area / 3631 Jy)``
(27.46 at 0.04 arcsec/px). HSC-like images are calibrated counts with the
zero point 27.0 of the HSC-SSP coadds.

Sources of the default numbers: NIRCam PSF FWHMs as given in the JWST user
documentation (JDox, "NIRCam Point Spread Functions"); sky levels of a
low-background field from Rigby et al. 2023 (PASP 135, 048001, "the science
performance of JWST"); read noise of a multi-group ramp and the 512-column
amplifiers from Rieke et al. 2023 (PASP 135, 028001). HSC sky brightness and
seeing from Aihara et al. 2018 (PASJ 70, S4 and S8: median i-band seeing
0.6 arcsec, dark-sky brightness per band).

>>> round(NIRCAM.zero_point, 2), HSC.zero_point
(27.46, 27.0)
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..errors import ConfigError

__all__ = [
    "BandSpec",
    "Instrument",
    "NIRCAM",
    "HSC",
    "INSTRUMENTS",
    "get_instrument",
    "mjy_sr_zero_point",
]


@dataclass(frozen=True)
class BandSpec:
    """One band: filter, PSF FWHM (arcsec), sky (image units), electrons per image unit, read noise (e)."""

    name: str
    filter: str
    psf_fwhm: float
    sky: float
    gain: float
    read_noise: float
    wisp: float = 0.0  #: relative wisp strength in this band (1 where wisps are strongest)
    detector_scale: float | None = None  #: arcsec per native detector pixel (None: the output grid's)
    detector: str = ""  #: DETECTOR keyword of the band's exposures

    @property
    def white_sigma(self) -> float:
        """Per-pixel noise of one exposure from sky and read noise, in image units, on the output grid
        (what it would be with detector pixels of the output grid's size)."""
        return float(np.sqrt(self.sky * self.gain + self.read_noise**2) / self.gain)

    def on_detector(self, output_scale: float, detector_scale: float | None = None) -> BandSpec:
        """The band seen by pixels of ``detector_scale`` arcsec (default: its own detector's).

        Electrons per arcsec^2 stay the same, so the gain (electrons per image unit
        per pixel) scales with the pixel area; the sky, a surface brightness, does not.
        """
        scale = detector_scale or self.detector_scale or output_scale
        return replace(self, gain=self.gain * (scale / output_scale) ** 2, detector_scale=scale)


@dataclass(frozen=True)
class Instrument:
    """An imager: pixel scale, units, bands and detector layout."""

    name: str
    pixel_scale: float  #: arcsec per pixel of the output grid
    unit: str
    bands: tuple[BandSpec, ...]
    psf_profile: str  #: "airy" (diffraction limited) or "moffat" (seeing limited)
    seeing_range: tuple[float, float] | None = None  #: per-exposure FWHM range (arcsec), seeing-limited only
    amplifier_width: int | None = None  #: columns per readout amplifier (1/f striping)
    gap_width: int = 0  #: columns lost between detectors
    dither_max: int = 8  #: largest integer dither offset, pixels
    has_snowballs: bool = False
    has_persistence: bool = False
    roll_max: float = 0.0  #: largest roll of an exposure about the field centre, degrees
    pixfrac: float = 1.0  #: drizzle pixfrac of the alignment
    warps: bool = False  #: exposures are delivered as warps on the output grid (HSC), not detector frames

    @property
    def zero_point(self) -> float:
        return mjy_sr_zero_point(self.pixel_scale) if self.unit == "MJy/sr" else 27.0

    def band(self, name: str) -> BandSpec:
        for spec in self.bands:
            if spec.name.lower() == name.lower():
                return spec
        raise ConfigError(f"{self.name} has no band {name!r}; it has {[b.name for b in self.bands]}")


def mjy_sr_zero_point(pixel_scale: float) -> float:
    """AB zero point of an image in MJy/sr with pixels of ``pixel_scale`` arcsec.

    >>> round(mjy_sr_zero_point(0.04), 2)
    27.46
    """
    pixel_sr = (pixel_scale / 206264.806) ** 2
    return float(-2.5 * np.log10(1e6 * pixel_sr / 3631.0))


#: NIRCam's native pixels: short-wave (0.6-2.3 um) and long-wave (2.4-5 um) channels (JDox, "NIRCam Detector
#: Overview").
NIRCAM_SW_SCALE, NIRCAM_LW_SCALE = 0.031, 0.063


def _nircam_band(name: str, fwhm: float, sky: float, wisp: float = 0.0) -> BandSpec:
    long_wave = int(name[1:4]) >= 250
    return BandSpec(name, f"jwst_{name.lower()}", fwhm, sky, gain=700.0, read_noise=8.0, wisp=wisp,
                    detector_scale=NIRCAM_LW_SCALE if long_wave else NIRCAM_SW_SCALE,
                    detector="NRCALONG" if long_wave else "NRCA1")  # fmt: skip


NIRCAM = Instrument(
    name="nircam",
    pixel_scale=0.04,
    unit="MJy/sr",
    bands=(
        _nircam_band("F090W", 0.034, 0.10),
        _nircam_band("F115W", 0.040, 0.10, wisp=0.5),
        _nircam_band("F150W", 0.050, 0.12, wisp=1.0),
        _nircam_band("F200W", 0.066, 0.15, wisp=1.0),
        _nircam_band("F277W", 0.091, 0.15),
        _nircam_band("F356W", 0.115, 0.15),
        _nircam_band("F410M", 0.137, 0.25),
        _nircam_band("F444W", 0.145, 0.30),
    ),
    psf_profile="airy",
    amplifier_width=512,
    gap_width=12,
    dither_max=8,
    has_snowballs=True,
    has_persistence=True,
    roll_max=0.3,
)


def _hsc_band(name: str, sky_mag_arcsec2: float, gain: float) -> BandSpec:
    sky_counts = 10 ** (-0.4 * (sky_mag_arcsec2 - 27.0)) * 0.168**2
    return BandSpec(name, f"hsc_{name.lower()}", 0.7, sky_counts, gain=gain, read_noise=4.5)


HSC = Instrument(
    name="hsc",
    pixel_scale=0.168,
    unit="count",
    bands=(
        _hsc_band("g", 22.0, 600.0),
        _hsc_band("r", 21.2, 600.0),
        _hsc_band("i", 20.3, 600.0),
        _hsc_band("z", 19.2, 400.0),
        _hsc_band("y", 18.3, 250.0),
    ),
    psf_profile="moffat",
    seeing_range=(0.5, 1.0),
    gap_width=8,
    dither_max=6,
    warps=True,
)

INSTRUMENTS = {"nircam": NIRCAM, "hsc": HSC}


def get_instrument(name: str | Instrument) -> Instrument:
    """The instrument called ``name`` ("nircam" or "hsc")."""
    if isinstance(name, Instrument):
        return name
    try:
        return INSTRUMENTS[name.lower()]
    except KeyError:
        raise ConfigError(f"unknown instrument {name!r}; choose one of {sorted(INSTRUMENTS)}") from None
