"""Noise and artefacts of the mock exposures, one named component each.

Every component is a plain function on a detector-frame exposure, with its
amplitude in `NoiseConfig` (0 or False switches it off). Amplitudes are in
units of the band's per-pixel white noise of one exposure unless said
otherwise. ``COMPONENTS`` documents each default and the published figure it
is based on.

>>> NoiseConfig.white_only().enabled()
['sky_poisson', 'read_noise']
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import gaussian_filter

from ..errors import ConfigError
from ..sky.render import add_patch

__all__ = [
    "NoiseConfig",
    "COMPONENTS",
    "STRUCTURED",
    "sky_and_read_noise",
    "one_over_f_stripes",
    "cosmic_ray_residuals",
    "snowball_residuals",
    "hot_pixel_map",
    "flat_residual_map",
    "wisp_map",
    "background_gradient",
    "persistence_ghost",
    "gap_mask",
    "resample_to_sky",
    "power_spectrum",
]

#: name -> (default, what it is, what the amplitude is based on)
COMPONENTS: dict[str, tuple[object, str, str]] = {
    "sky_poisson": (True, "Poisson noise of sky and sources, in electrons (drawn in its Gaussian limit)",
                    "sky levels of Rigby et al. 2023, PASP 135, 048001 (NIRCam) and Aihara et al. 2018, "
                    "PASJ 70, S8 (HSC dark sky)"),
    "read_noise": (True, "Gaussian read noise, 8 e (NIRCam multi-group ramp) or 4.5 e (HSC CCDs)",
                   "Rieke et al. 2023, PASP 135, 028001; Miyazaki et al. 2018, PASJ 70, S1"),
    "one_over_f": (0.3, "rms of per-row offsets, new each exposure and each 512-column amplifier, with a 1/f "
                   "spectrum along the read direction", "Schlawin et al. 2020, AJ 160, 231 (1/f noise in "
                   "NIRCam detectors); Rieke et al. 2023. No published per-row amplitude in stage-2 images: "
                   "0.3 sigma leaves stripes visible in one exposure, as in uncorrected _cal files"),
    "resampling": (True, "exposures on native pixels (NIRCam 0.031/0.063 arcsec) with sub-pixel dithers and "
                   "a roll, drizzled onto the 0.04 arcsec grid (pixfrac 1); HSC warps resampled bilinearly; "
                   "either correlates neighbouring pixels. Off: output-sized pixels and integer dithers",
                   "Casertano et al. 2000, AJ 120, 2747; Fruchter & Hook 2002, PASP 114, 144 (noise "
                   "correlation of drizzled images)"),
    "cosmic_rays": (30.0, "residual cosmic-ray hits per megapixel per exposure, 3-30 sigma, 1-3 px tracks",
                    "no published rate of residuals after jump detection; chosen so that a few dozen "
                    "survive per exposure of 1000 s (Rigby et al. 2023 describe the raw rate)"),
    "snowballs": (2.0, "residual snowball halos per megapixel per exposure (NIRCam), 1-5 sigma, "
                  "radius 3-8 px",
                  "Rigby et al. 2023 (snowballs); Bagley et al. 2023, ApJL 946, L12 (CEERS reduction). No "
                  "published rate of halos left after correction; the value is a choice"),
    "hot_pixels": (2e-4, "fraction of hot pixels, 5-200 sigma, fixed in detector coordinates",
                   "Rieke et al. 2023 (hot and warm pixels). Those above 50 sigma are flagged in DQ (the "
                   "bad-pixel mask), fainter ones are not; the unflagged fraction is a choice"),
    "flat_residual": (0.002, "rms of the multiplicative flat-field error left on the sky after background "
                      "subtraction, detector coordinates",
                      "flat-field accuracy of about 1% quoted by Rigby et al. 2023; the residual after "
                      "background subtraction is smaller and no figure for it is published"),
    "wisp": (1.0, "peak of a diffuse wisp in detector coordinates, in sigma, scaled per band (strongest in "
             "F150W/F200W)", "Rieke et al. 2023 and Bagley et al. 2023 (wisp templates); no published "
             "residual level after template subtraction, the value is a choice"),
    "gradient": (1.0, "peak-to-peak of a smooth background gradient, new each exposure, in sigma",
                 "scattered light and background variation, Rigby et al. 2023; no published residual "
                 "after background subtraction, the value is a choice"),
    "persistence": (0.002, "fraction of a bright star's signal left at its previous detector position",
                    "Rieke et al. 2023 (persistence after bright sources); no published fraction for "
                    "imaging sequences, the value is a choice"),
    "gaps": (True, "a 12 px (NIRCam, flagged DO_NOT_USE in DQ) or 8 px (HSC, NO_DATA in the warp mask) "
             "detector gap; the dither edges no exposure covers are zero in the stack",
             "detector layout of NIRCam and HSC"),
}  # fmt: skip


_SCALE = "structured_scale"
#: The components ``structured_scale`` multiplies (sky Poisson and read noise are white; resampling and
#: gaps are on or off).
STRUCTURED = ("one_over_f", "cosmic_rays", "snowballs", "hot_pixels", "flat_residual", "wisp", "gradient",
              "persistence")  # fmt: skip


@dataclass(frozen=True)
class NoiseConfig:
    """Amplitudes of the noise components (see `COMPONENTS`)."""

    sky_poisson: bool = True
    read_noise: bool = True
    one_over_f: float = 0.3
    resampling: bool = True
    cosmic_rays: float = 30.0
    snowballs: float = 2.0
    hot_pixels: float = 2e-4
    flat_residual: float = 0.002
    wisp: float = 1.0
    gradient: float = 1.0
    persistence: float = 0.002
    gaps: bool = True
    structured_scale: float = 1.0

    @classmethod
    def white_only(cls) -> NoiseConfig:
        """Sky Poisson and read noise only, integer dithers, no artefacts."""
        return cls.only("sky_poisson", "read_noise")

    @classmethod
    def physical_only(cls) -> NoiseConfig:
        """Everything physical and no structured artefact: sky Poisson and read noise on native pixels,
        sub-pixel dithers and roll, drizzle, detector gaps. The limit no denoiser can pass."""
        return cls.only("sky_poisson", "read_noise", "resampling", "gaps")

    @classmethod
    def only(cls, *names: str) -> NoiseConfig:
        """Every component off except ``names`` (at their defaults)."""
        unknown = set(names) - set(COMPONENTS)
        if unknown:
            raise ConfigError(f"unknown noise components {sorted(unknown)}; known: {sorted(COMPONENTS)}")
        off = {f.name: type(f.default)(0) for f in dataclasses.fields(cls) if f.name not in (*names, _SCALE)}
        return cls(**off)

    @classmethod
    def from_dict(cls, values: dict) -> NoiseConfig:
        unknown = set(values) - set(COMPONENTS) - {_SCALE}
        if unknown:
            raise ConfigError(f"unknown noise components {sorted(unknown)}; known: {sorted(COMPONENTS)}")
        return cls(**values)

    def enabled(self) -> list[str]:
        return [f.name for f in dataclasses.fields(self) if f.name != _SCALE and getattr(self, f.name)]

    def effective(self) -> NoiseConfig:
        """The amplitudes after ``structured_scale``, with the scale reset to 1.

        Every structured amplitude is multiplied by the scale; sky Poisson and
        read noise, resampling and gaps stay as they are. At 0 no structured
        artefact is left: the same field's physical limit, which keeps native
        pixels, dithers, roll, drizzle and gaps (`physical_only`).

        >>> NoiseConfig(structured_scale=2.0).effective().one_over_f
        0.6
        >>> NoiseConfig(structured_scale=0.0).effective() == NoiseConfig.physical_only()
        True
        """
        if self.structured_scale < 0:
            raise ConfigError(f"structured_scale must be >= 0, got {self.structured_scale}")
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        for name in STRUCTURED:
            values[name] = values[name] * self.structured_scale
        return NoiseConfig(**{**values, _SCALE: 1.0})


def sky_and_read_noise(signal, sky: float, gain: float, read_noise: float, rng, *, poisson=True, read=True):
    """Sky-subtracted exposure from a noiseless ``signal`` (image units) on a sky of ``sky``.

    The photon noise is drawn in its Gaussian limit (the mock's skies hold 40
    to 20,000 electrons a pixel, where Poisson's skewness is below 0.16 and
    read noise dilutes it further), so that the draws are two fixed-size
    fields: the same stream gives the same noise whatever else changes in the
    signal, and fields that differ by one artefact are paired realizations.
    """
    electrons = np.clip((signal + sky) * gain, 0, None)
    photon, readout = rng.standard_normal((2, *np.shape(signal)))
    noisy = electrons + np.sqrt(electrons) * photon if poisson else electrons
    if read:
        noisy = noisy + read_noise * readout
    return noisy / gain - sky


def one_over_f_stripes(shape: tuple[int, int], amplifier_width: int, rms: float, rng) -> np.ndarray:
    """Per-row offsets of each amplifier with a 1/f power spectrum along the rows, of total ``rms``."""
    height, width = shape
    out = np.zeros(shape)
    freqs = np.fft.rfftfreq(height)
    amplitude = np.zeros_like(freqs)
    amplitude[1:] = freqs[1:] ** -0.5
    for start in range(0, width, amplifier_width):
        spectrum = amplitude * (rng.normal(size=freqs.size) + 1j * rng.normal(size=freqs.size))
        rows = np.fft.irfft(spectrum, n=height)
        out[:, start : start + amplifier_width] = (rms * rows / rows.std())[:, None]
    return out


def cosmic_ray_residuals(shape: tuple[int, int], per_mpx: float, sigma: float, rng) -> np.ndarray:
    """Short tracks (1-3 px) of 3-30 sigma left by imperfect cosmic-ray rejection."""
    out = np.zeros(shape)
    for _ in range(rng.poisson(per_mpx * shape[0] * shape[1] / 1e6)):
        length, angle = rng.integers(1, 4), rng.uniform(0, np.pi)
        y, x = rng.integers(shape[0]), rng.integers(shape[1])
        amplitude = sigma * np.exp(rng.uniform(np.log(3), np.log(30)))
        for step in range(length):
            yy, xx = int(y + step * np.sin(angle)), int(x + step * np.cos(angle))
            if 0 <= yy < shape[0] and 0 <= xx < shape[1]:
                out[yy, xx] += amplitude
    return out


def snowball_residuals(
    shape: tuple[int, int], per_mpx: float, sigma: float, rng, *, cores: np.ndarray | None = None
) -> np.ndarray:
    """Round halos (radius 3-8 px, 1-5 sigma, soft edge) left around corrected snowballs.

    ``cores``, a boolean ``shape`` array, gets True inside half of each halo's
    radius: the core the JWST jump step flags (JUMP_DET), whose surroundings
    the halo is.
    """
    out = np.zeros(shape)
    for _ in range(rng.poisson(per_mpx * shape[0] * shape[1] / 1e6)):
        radius = rng.uniform(3, 8)
        half = int(radius) + 3
        yy, xx = np.mgrid[-half : half + 1, -half : half + 1]
        disk = 1.0 / (1.0 + np.exp((np.hypot(yy, xx) - radius) / 0.7))
        y0, x0 = rng.integers(shape[0]) - half, rng.integers(shape[1]) - half
        add_patch(out, y0, x0, sigma * rng.uniform(1, 5) * disk)
        if cores is not None:
            core = np.zeros(shape)
            add_patch(core, y0, x0, (np.hypot(yy, xx) <= radius / 2).astype(float))
            cores |= core > 0
    return out


def hot_pixel_map(shape: tuple[int, int], fraction: float, sigma: float, rng) -> np.ndarray:
    """Hot pixels of 5-200 sigma at fixed detector positions."""
    out = np.zeros(shape)
    count = rng.binomial(shape[0] * shape[1], fraction)
    index = rng.choice(shape[0] * shape[1], size=count, replace=False)
    out.flat[index] = sigma * np.exp(rng.uniform(np.log(5), np.log(200), count))
    return out


def flat_residual_map(shape: tuple[int, int], rms: float, rng) -> np.ndarray:
    """Multiplicative flat-field error: half large-scale (smoothed), half pixel-to-pixel."""
    smooth = gaussian_filter(rng.normal(size=shape), sigma=max(shape) / 16, mode="wrap")
    smooth /= smooth.std()
    return rms * (smooth + rng.normal(size=shape)) / np.sqrt(2)


def wisp_map(shape: tuple[int, int], peak: float, rng) -> np.ndarray:
    """A diffuse arc of overlapping blobs near one detector corner, peaking at ``peak``."""
    height, width = shape
    yy, xx = np.mgrid[:height, :width]
    cy, cx = rng.uniform(0.6, 0.9) * height, rng.uniform(0.1, 0.4) * width
    radius, width_px = 0.35 * min(shape), 0.04 * min(shape) + 2
    out = np.zeros(shape)
    for angle in np.linspace(-0.6, 0.6, 7) + rng.uniform(0, 2 * np.pi):
        by, bx = cy + radius * np.sin(angle), cx + radius * np.cos(angle)
        out += np.exp(-0.5 * ((yy - by) ** 2 + (xx - bx) ** 2) / width_px**2)
    return peak * out / out.max()


def background_gradient(shape: tuple[int, int], peak_to_peak: float, rng) -> np.ndarray:
    """A plane plus a gentle curvature in a random direction, zero mean."""
    yy, xx = np.mgrid[: shape[0], : shape[1]]
    angle = rng.uniform(0, 2 * np.pi)
    u = (np.cos(angle) * xx / shape[1] + np.sin(angle) * yy / shape[0]) - 0.5
    field = u + rng.uniform(-0.5, 0.5) * u**2
    field -= field.mean()
    span = field.max() - field.min()
    return peak_to_peak * field / span if span > 0 else field


def persistence_ghost(previous_signal: np.ndarray, fraction: float, threshold: float) -> np.ndarray:
    """The fraction of the previous exposure's signal left where it exceeded ``threshold``."""
    return np.where(previous_signal > threshold, fraction * previous_signal, 0.0)


def gap_mask(shape: tuple[int, int], gap_width: int) -> np.ndarray:
    """True on valid detector pixels: a vertical gap of ``gap_width`` columns in the middle."""
    valid = np.ones(shape, dtype=bool)
    if gap_width:
        start = shape[1] // 2 - gap_width // 2
        valid[:, start : start + gap_width] = False
    return valid


def resample_to_sky(
    frame: np.ndarray, valid: np.ndarray, dx: float, dy: float
) -> tuple[np.ndarray, np.ndarray]:
    """Move a detector frame offset by (dx, dy) back onto the sky grid.

    Detector pixel (y, x) saw the sky at (y + dy, x + dx). The integer part
    is an exact shift; a fractional part is interpolated bilinearly. Pixels
    that no valid detector pixel covers come out as zero and invalid.
    """
    nx, ny = int(np.floor(dx)), int(np.floor(dy))
    fx, fy = dx - nx, dy - ny
    out = np.zeros_like(frame)
    ok = np.ones(frame.shape, dtype=bool)
    for wy, sy in ((1 - fy, ny), (fy, ny + 1)):
        for wx, sx in ((1 - fx, nx), (fx, nx + 1)):
            if wy * wx == 0:
                continue
            shifted, covered = _shift(frame, valid, sy, sx)
            out += wy * wx * shifted
            ok &= covered
    return np.where(ok, out, 0.0), ok


def _shift(frame: np.ndarray, valid: np.ndarray, sy: int, sx: int) -> tuple[np.ndarray, np.ndarray]:
    """``out[y, x] = frame[y - sy, x - sx]`` with zeros (and invalid) where that falls off."""
    out = np.zeros_like(frame)
    covered = np.zeros(frame.shape, dtype=bool)
    h, w = frame.shape
    dst = (slice(max(sy, 0), h + min(sy, 0)), slice(max(sx, 0), w + min(sx, 0)))
    src = (slice(max(-sy, 0), h + min(-sy, 0)), slice(max(-sx, 0), w + min(-sx, 0)))
    out[dst] = frame[src]
    covered[dst] = valid[src]
    return out, covered


def power_spectrum(image: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(k, radial, column)``: the radially averaged 2D power and the power along k_y at k_x = 0.

    The image's mean is removed first; frequencies are in cycles per pixel.
    The ``column`` spectrum is the one 1/f row offsets raise.
    """
    image = np.asarray(image, dtype=float) - np.mean(image)
    power = np.abs(np.fft.fft2(image)) ** 2 / image.size
    ky, kx = np.meshgrid(np.fft.fftfreq(image.shape[0]), np.fft.fftfreq(image.shape[1]), indexing="ij")
    k = np.hypot(kx, ky)
    edges = np.linspace(0, 0.5, 33)
    index = np.digitize(k.ravel(), edges) - 1
    keep = (index >= 0) & (index < len(edges) - 1) & (k.ravel() > 0)
    sums = np.bincount(index[keep], power.ravel()[keep], minlength=len(edges) - 1)
    counts = np.bincount(index[keep], minlength=len(edges) - 1)
    centres = 0.5 * (edges[1:] + edges[:-1])
    radial = sums / np.maximum(counts, 1)
    column = np.interp(centres, np.abs(ky[1 : image.shape[0] // 2, 0]), power[1 : image.shape[0] // 2, 0])
    return centres, radial, column
