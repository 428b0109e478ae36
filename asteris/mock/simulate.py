"""The mock universe: seeded multi-band exposure stacks with a known truth.

`simulate_field` draws a sky (`asteris.mock.population`), renders it with the
PSF of each band on a canvas oversampled 4x, bins it onto the detector of
every dithered exposure, adds the noise components of `asteris.mock.noise` in
detector coordinates, and resamples each exposure back onto the sky grid.
The result, a `MockField`, holds per band an aligned ``(T, H, W)`` stack, the
noiseless truth image and a table of the exposures (dither, PSF FWHM, sky,
weight), plus the truth catalogue of every object in the footprint.

Sub-pixel dither phases are multiples of 1/4 pixel, so each phase is
rendered exactly once; the integer part of a dither is a free shift.

Examples
--------
>>> from asteris.mock.simulate import simulate_field
>>> field = simulate_field("nircam", shape=(64, 64), exposures=4, bands=["F200W"], progress=False)
>>> field.bands["F200W"].stack.data.shape
(4, 64, 64)
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from scipy.signal import oaconvolve
from tqdm import tqdm

from .. import __version__
from ..errors import ConfigError
from ..fileio import atomic_path, check_writable, writable_folder
from ..stack import Stack, read_stack
from . import noise as nz
from .instruments import BandSpec, Instrument, get_instrument, psf_kernel
from .population import ALL_BANDS, PopulationConfig, sky_catalog
from .sed import NJY_AB_ZP, SPECTRAL_GRIDS
from .synthetic import synthetic_wcs

__all__ = [
    "MockBand",
    "MockField",
    "simulate_field",
    "read_mock_field",
    "sersic_stamp",
    "render_sources",
    "component_power_spectra",
    "SPECTRUM_COMPONENTS",
]

_STRIPE_ROWS = 256  # output rows rendered at a time: bounds the canvas memory on big fields
_PERSISTENCE_THRESHOLD = 100.0  # in units of the white noise: where a previous exposure leaves a ghost


@dataclass
class MockBand:
    """One band of a mock field."""

    name: str
    stack: Stack  #: aligned, sky-subtracted exposures (T, H, W)
    truth: np.ndarray  #: noiseless image on the same grid and in the same units
    exposures: QTable  #: per exposure: dx, dy (pixels), psf_fwhm (arcsec), sky, weight, valid_fraction


@dataclass
class MockField:
    """A simulated field: bands, the truth catalogue and everything needed to rebuild it."""

    instrument: str
    bands: dict[str, MockBand]
    catalog: QTable
    params: dict

    def write(self, directory: str | Path, *, overwrite: bool = False) -> Path:
        """Write ``<band>.fits`` per band, ``catalog.ecsv`` and ``params.json`` into ``directory``."""
        directory = writable_folder(directory)
        names = [f"{b.lower()}.fits" for b in self.bands] + ["catalog.ecsv", "params.json"]
        for name in names:
            check_writable(directory / name, overwrite=overwrite)
        for band in self.bands.values():
            with atomic_path(directory / f"{band.name.lower()}.fits", overwrite=overwrite) as tmp:
                _band_hdulist(band).writeto(tmp)
        with atomic_path(directory / "catalog.ecsv", overwrite=overwrite) as tmp:
            self.catalog.write(tmp, format="ascii.ecsv", overwrite=True)
        with atomic_path(directory / "params.json", overwrite=overwrite) as tmp:
            tmp.write_text(json.dumps(self.params, indent=2, sort_keys=True) + "\n")
        return directory


def _band_hdulist(band: MockBand) -> fits.HDUList:
    primary = fits.PrimaryHDU(band.stack.data, header=band.stack.header)
    truth = fits.ImageHDU(band.truth.astype(np.float32), header=band.stack.wcs.to_header(), name="TRUTH")
    truth.header["BUNIT"] = band.stack.header["BUNIT"]
    return fits.HDUList([primary, truth, fits.table_to_hdu(band.exposures)])


def read_mock_field(directory: str | Path) -> MockField:
    """Read a field written by `MockField.write`."""
    directory = Path(directory)
    params = json.loads((directory / "params.json").read_text())
    bands = {}
    for name in params["bands"]:
        path = directory / f"{name.lower()}.fits"
        stack = read_stack(path)
        with fits.open(path) as hdul:
            truth = np.asarray(hdul["TRUTH"].data, dtype=np.float32)
            exposures = QTable.read(hdul["EXPOSURES"])
        bands[name] = MockBand(name, stack, truth, exposures)
    catalog = QTable.read(directory / "catalog.ecsv", format="ascii.ecsv")
    return MockField(params["instrument"], bands, catalog, params)


def _sersic_b(n: float) -> float:
    """b_n of Ciotti & Bertin (1999), good to 1e-6 for n > 0.36."""
    return 2 * n - 1 / 3 + 4 / (405 * n) + 46 / (25515 * n**2) + 131 / (1148175 * n**3)


def sersic_stamp(
    cx: float, cy: float, r_e: float, n: float, q: float, theta_deg: float, *, max_radius: float
) -> tuple[int, int, np.ndarray]:
    """A unit-sum Sersic image around (cx, cy), all lengths in canvas pixels.

    Returns ``(y0, x0, patch)``: the patch's lower corner on the canvas. The
    profile is tapered to zero between 0.8 and 1 times ``min(8 r_e, max_radius)``
    along the major axis and normalised inside the patch, so the patch holds
    the source's whole flux.
    """
    radius = float(np.clip(8 * r_e, 3, max_radius))
    half = int(np.ceil(radius))
    x0, y0 = int(np.floor(cx)) - half, int(np.floor(cy)) - half
    sub = 3 if r_e < 6 else 1  # sub-sample small sources, whose cores a pixel does not resolve
    offsets = (np.arange(sub) + 0.5) / sub - 0.5
    grid = np.arange(2 * half + 2)
    ys = (y0 + grid)[:, None, None, None] + offsets[None, :, None, None] - cy
    xs = (x0 + grid)[None, None, :, None] + offsets[None, None, None, :] - cx
    c, s = np.cos(np.radians(theta_deg)), np.sin(np.radians(theta_deg))
    r = np.hypot(c * xs + s * ys, (-s * xs + c * ys) / q)
    taper = np.clip((radius - r) / (0.2 * radius), 0, 1)
    patch = (np.exp(-_sersic_b(n) * ((r / r_e) ** (1 / n) - 1)) * taper).mean(axis=(1, 3))
    return y0, x0, (patch / patch.sum()).astype(np.float32)


def _point_stamp(cx: float, cy: float) -> tuple[int, int, np.ndarray]:
    x0, y0 = int(np.floor(cx)), int(np.floor(cy))
    fx, fy = cx - x0, cy - y0
    patch = np.array([[(1 - fy) * (1 - fx), (1 - fy) * fx], [fy * (1 - fx), fy * fx]], dtype=np.float32)
    return y0, x0, patch


@dataclass
class _Geometry:
    shape: tuple[int, int]  #: output grid (H, W)
    margin: int  #: padding on each side, pixels
    oversample: int

    @property
    def padded(self) -> tuple[int, int]:
        return self.shape[0] + 2 * self.margin, self.shape[1] + 2 * self.margin

    def canvas_coord(self, pixel: np.ndarray) -> np.ndarray:
        """Canvas pixel coordinate of an output-grid pixel coordinate."""
        return (np.asarray(pixel) + self.margin + 0.5) * self.oversample - 0.5


def _render_stamps(catalog: QTable, geom: _Geometry, pixel_scale: float) -> list[tuple[int, int, np.ndarray]]:
    cx, cy = geom.canvas_coord(catalog["x"]), geom.canvas_coord(catalog["y"])
    r_e = catalog["r_e"].to_value(u.arcsec) / pixel_scale * geom.oversample
    stamps = []
    for i, row in enumerate(catalog):
        if r_e[i] <= 0:
            stamps.append(_point_stamp(cx[i], cy[i]))
        else:
            stamps.append(
                sersic_stamp(
                    cx[i],
                    cy[i],
                    r_e[i],
                    row["sersic_n"],
                    row["axis_ratio"],
                    row["theta"].to_value(u.deg),
                    max_radius=100 * geom.oversample,
                )  # fmt: skip
            )
    return stamps


def _sky_images(
    stamps: list, fluxes: np.ndarray, kernel: np.ndarray, geom: _Geometry, phases: set[tuple[int, int]]
) -> dict[tuple[int, int], np.ndarray]:
    """PSF-convolved sky binned to pixels at each sub-pixel phase (py, px), on the padded grid less one."""
    os_, (hp, wp) = geom.oversample, geom.padded
    halo = kernel.shape[0] // 2
    out = {p: np.zeros((hp - 1, wp - 1), dtype=np.float32) for p in phases}
    tops = np.array([s[0] for s in stamps])
    bottoms = tops + np.array([s[2].shape[0] for s in stamps])
    for r0 in range(0, hp - 1, _STRIPE_ROWS):
        r1 = min(r0 + _STRIPE_ROWS, hp - 1)
        c0, c1 = r0 * os_ - halo, (r1 + 1) * os_ + halo
        canvas = np.zeros((c1 - c0, wp * os_))
        for i in np.flatnonzero((bottoms > c0) & (tops < c1) & (fluxes != 0)):
            y0, x0, patch = stamps[i]
            nz.add_patch(canvas, y0 - c0, x0, fluxes[i] * patch)
        sharp = oaconvolve(canvas, kernel, mode="same")[halo : halo + (r1 - r0 + 1) * os_]
        for py, px in phases:
            block = sharp[py : py + (r1 - r0) * os_, px : px + (wp - 1) * os_]
            out[py, px][r0:r1] = block.reshape(r1 - r0, os_, wp - 1, os_).sum(axis=(1, 3))
    return out


def render_sources(
    catalog: QTable,
    shape: tuple[int, int],
    *,
    fluxes: np.ndarray,
    pixel_scale: float,
    psf_profile: str,
    psf_fwhm: float,
    oversample: int = 4,
) -> np.ndarray:
    """Noiseless image of ``catalog`` on an ``(H, W)`` grid, rendered exactly as the mock's truth images.

    ``catalog`` needs ``x``, ``y`` (zero-based pixels), ``r_e`` (angle; 0 for
    a point source), ``sersic_n``, ``axis_ratio`` and ``theta``; ``fluxes``
    are the total fluxes in image units; the PSF is ``psf_profile`` with FWHM
    ``psf_fwhm`` arcsec. Sources up to a PSF radius outside the grid still
    spill in.
    """
    kernel = psf_kernel(psf_profile, psf_fwhm / pixel_scale * oversample)
    margin = int(np.ceil(kernel.shape[0] / (2 * oversample))) + 2
    geom = _Geometry(tuple(shape), margin, oversample)
    stamps = _render_stamps(catalog, geom, pixel_scale)
    image = _sky_images(stamps, np.asarray(fluxes, dtype=float), kernel, geom, {(0, 0)})[0, 0]
    return image[margin : margin + shape[0], margin : margin + shape[1]]


def _dithers(exposures: int, instrument: Instrument, geom: _Geometry, resampling: bool, rng) -> np.ndarray:
    """(T, 4): integer and phase offsets (ny, nx, py, px); phases cycle through a shuffled pattern."""
    os_ = geom.oversample
    phases = [(py, px) for py in range(os_) for px in range(os_)] if resampling else [(0, 0)]
    order = rng.permutation(len(phases))
    integer = rng.integers(-instrument.dither_max, instrument.dither_max + 1, size=(exposures, 2))
    phase = np.array([phases[order[t % len(phases)]] for t in range(exposures)])
    return np.hstack([integer, phase])


def _fixed_patterns(spec: BandSpec, instrument: Instrument, shape, noise: nz.NoiseConfig, rng) -> dict:
    sigma = spec.white_sigma
    return {
        "hot": nz.hot_pixel_map(shape, noise.hot_pixels, sigma, rng) if noise.hot_pixels else 0.0,
        "flat": nz.flat_residual_map(shape, noise.flat_residual, rng) if noise.flat_residual else 0.0,
        "wisp": nz.wisp_map(shape, noise.wisp * spec.wisp * sigma, rng) if noise.wisp * spec.wisp else 0.0,
        "valid": nz.gap_mask(shape, instrument.gap_width if noise.gaps else 0),
    }


def _expose(
    signal, previous, spec: BandSpec, instrument: Instrument, fixed: dict, noise: nz.NoiseConfig, rng
):
    """One detector-frame exposure (sky-subtracted, image units) from its noiseless ``signal``."""
    sigma, shape = spec.white_sigma, signal.shape
    seen = signal * (1 + fixed["flat"]) + spec.sky * fixed["flat"]
    frame = nz.sky_and_read_noise(seen, spec.sky, spec.gain, spec.read_noise, rng,
                                  poisson=noise.sky_poisson, read=noise.read_noise)  # fmt: skip
    frame += fixed["hot"] + fixed["wisp"] * rng.uniform(0.7, 1.3)
    if noise.one_over_f and instrument.amplifier_width:
        frame += nz.one_over_f_stripes(shape, instrument.amplifier_width, noise.one_over_f * sigma, rng)
    if noise.cosmic_rays:
        frame += nz.cosmic_ray_residuals(shape, noise.cosmic_rays, sigma, rng)
    if noise.snowballs and instrument.has_snowballs:
        frame += nz.snowball_residuals(shape, noise.snowballs, sigma, rng)
    if noise.gradient:
        frame += nz.background_gradient(shape, noise.gradient * sigma, rng)
    if noise.persistence and instrument.has_persistence and previous is not None:
        frame += nz.persistence_ghost(previous, noise.persistence, _PERSISTENCE_THRESHOLD * sigma)
    return np.where(fixed["valid"], frame, 0.0)


def _band_fwhms(spec: BandSpec, instrument: Instrument, exposures: int, rng) -> np.ndarray:
    if instrument.seeing_range is None:
        return np.full(exposures, spec.psf_fwhm)
    return np.round(rng.uniform(*instrument.seeing_range, exposures), 3)


def _simulate_band(spec, instrument, geom, stamps, catalog, dithers, noise, rng, progress):
    """``(cube, truth, exposures)`` of one band: aligned exposures, noiseless image, exposure table."""
    h, w = geom.shape
    m, os_ = geom.margin, geom.oversample
    scale = 10 ** (-0.4 * (NJY_AB_ZP - instrument.zero_point))  # image units per nJy per pixel
    fluxes = np.asarray(catalog[f"flux_{spec.filter}"].to_value(u.nJy)) * scale
    fwhms = _band_fwhms(spec, instrument, len(dithers), rng)
    kernel = lambda fwhm: psf_kernel(instrument.psf_profile, fwhm / instrument.pixel_scale * os_)  # noqa: E731
    fixed = _fixed_patterns(spec, instrument, geom.shape, noise, rng)
    cube = np.zeros((len(dithers), h, w), dtype=np.float32)
    valid_fraction = np.zeros(len(dithers))
    images, previous = {}, None
    for fwhm in tqdm(np.unique(np.append(fwhms, spec.psf_fwhm)), desc=f"render {spec.name}",
                     disable=not progress, leave=False):  # fmt: skip
        phases = {tuple(d[2:]) for d, f in zip(dithers, fwhms) if f == fwhm}
        images[fwhm] = _sky_images(stamps, fluxes, kernel(fwhm), geom, phases | {(0, 0)})
    truth = images[spec.psf_fwhm][0, 0][m : m + h, m : m + w]
    for t, (ny, nx, py, px) in enumerate(dithers):
        signal = images[fwhms[t]][py, px][ny + m : ny + m + h, nx + m : nx + m + w].astype(np.float64)
        frame = _expose(signal, previous, spec, instrument, fixed, noise, rng)
        aligned, ok = nz.resample_to_sky(frame, fixed["valid"], nx + px / os_, ny + py / os_)
        cube[t], valid_fraction[t], previous = aligned, ok.mean(), signal
    exposures = QTable(
        {
            "dx": (dithers[:, 1] + dithers[:, 3] / os_) * u.pix,
            "dy": (dithers[:, 0] + dithers[:, 2] / os_) * u.pix,
            "psf_fwhm": fwhms * u.arcsec,
            "sky": np.full(len(dithers), spec.sky),
            "weight": np.full(len(dithers), 1 / spec.white_sigma**2),
            "valid_fraction": valid_fraction,
        }
    )
    exposures.meta["EXTNAME"] = "EXPOSURES"
    return cube, truth.astype(np.float32), exposures


def _header(spec: BandSpec, instrument: Instrument, wcs, seed: int) -> fits.Header:
    header = fits.Header()
    header["BUNIT"] = instrument.unit
    header["ABMAGZP"] = (round(instrument.zero_point, 5), "AB magnitude of one image unit per pixel")
    header["INSTRUME"] = (f"{instrument.name.upper()}-LIKE", "simulated by asteris.mock.simulate")
    header["FILTER"] = spec.name
    header["PSFFWHM"] = (spec.psf_fwhm, "[arcsec] PSF FWHM of the truth image")
    header["PIXSCALE"] = (instrument.pixel_scale, "[arcsec/px]")
    header["ORIGIN"] = ("asteris.mock.simulate", f"asteris {__version__}")
    header["SEED"] = (seed, "random seed; params.json rebuilds the field")
    header.update(wcs.to_header())
    return header


def _finish_catalog(catalog: QTable, geom: _Geometry, wcs, pixel_scale: float, seed: int) -> QTable:
    h, w = geom.shape
    inside = (
        (catalog["x"] >= -0.5) & (catalog["x"] < w - 0.5) & (catalog["y"] >= -0.5) & (catalog["y"] < h - 0.5)
    )
    out = catalog[inside]
    sky = wcs.pixel_to_world(out["x"], out["y"])
    out["ra"], out["dec"] = sky.ra.to(u.deg), sky.dec.to(u.deg)
    first = ["id", "ra", "dec", "x", "y", "type", "z", "M_UV", "r_e", "sersic_n", "axis_ratio", "theta"]
    out = out[first + [c for c in out.colnames if c not in first and not c.endswith("_arcsec")]]
    out.meta["AREA"] = h * w * pixel_scale**2 / 3600.0
    out.meta["SEED"] = seed
    out.meta["comments"] = ["x, y: zero-based pixel coordinates on the output grid; AREA in arcmin^2"]
    return out


def simulate_field(
    instrument: str | Instrument = "nircam",
    *,
    shape: tuple[int, int] = (768, 768),
    exposures: int = 16,
    bands: list[str] | None = None,
    noise: nz.NoiseConfig | None = None,
    population: PopulationConfig | None = None,
    seed: int = 0,
    ra: float = 53.16,
    dec: float = -27.78,
    oversample: int = 4,
    progress: bool = True,
) -> MockField:
    """Simulate a dithered multi-band field; see the module docstring.

    Parameters
    ----------
    instrument : "nircam" or "hsc"
    shape : (H, W) of the output grid, pixels.
    exposures : exposures per band.
    bands : band names (default: all of the instrument's).
    noise, population : component amplitudes and sky content (defaults: all on, see `asteris.mock.noise`).
    seed : everything random follows from it; the same seed gives the same bytes.
    """
    inst = get_instrument(instrument)
    noise, population = noise or nz.NoiseConfig(), population or PopulationConfig()
    if exposures < 1 or min(shape) < 16:
        raise ConfigError(f"need at least one exposure and a 16x16 field, got {exposures} and {shape}")
    specs = [inst.band(b) for b in bands] if bands else list(inst.bands)
    geom = _Geometry(tuple(shape), inst.dither_max + 2, oversample)
    seeds = np.random.SeedSequence(seed).spawn(2 + len(specs))
    extent = (geom.padded[1] * inst.pixel_scale, geom.padded[0] * inst.pixel_scale)
    catalog = sky_catalog(extent, bands=ALL_BANDS, config=population, seed=int(seeds[0].generate_state(1)[0]))
    catalog["x"] = catalog["x_arcsec"].to_value(u.arcsec) / inst.pixel_scale - geom.margin - 0.5
    catalog["y"] = catalog["y_arcsec"].to_value(u.arcsec) / inst.pixel_scale - geom.margin - 0.5
    stamps = _render_stamps(catalog, geom, inst.pixel_scale)
    dithers = _dithers(exposures, inst, geom, noise.resampling, np.random.default_rng(seeds[1]))
    wcs = synthetic_wcs(geom.shape, ra=ra, dec=dec, scale_arcsec=inst.pixel_scale)
    out = {}
    for spec, band_seed in zip(tqdm(specs, desc=f"mock {inst.name}", disable=not progress), seeds[2:]):
        rng = np.random.default_rng(band_seed)
        cube, truth, exposure_table = _simulate_band(
            spec, inst, geom, stamps, catalog, dithers, noise, rng, progress
        )
        stack = Stack(cube, _header(spec, inst, wcs, seed), wcs, [f"asteris.mock.simulate seed {seed}"])
        out[spec.name] = MockBand(spec.name, stack, truth, exposure_table)
    params = {
        "instrument": inst.name, "shape": list(shape), "exposures": exposures,
        "bands": [s.name for s in specs], "seed": seed, "ra": ra, "dec": dec, "oversample": oversample,
        "noise": asdict(noise),
        "population": asdict(population), "spectral_grids": SPECTRAL_GRIDS, "asteris_version": __version__,
    }  # fmt: skip
    return MockField(inst.name, out, _finish_catalog(catalog, geom, wcs, inst.pixel_scale, seed), params)


#: Components whose noise power spectra `component_power_spectra` measures (persistence needs
#: stars and gaps only zero pixels, so they are left out).
SPECTRUM_COMPONENTS = ("one_over_f", "resampling", "cosmic_rays", "snowballs", "hot_pixels", "flat_residual",
                       "wisp", "gradient")  # fmt: skip


def component_power_spectra(
    instrument: str = "nircam", *, band: str = "F200W", shape=(256, 256), exposures: int = 4, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Noise power spectra of source-free stacks, white noise alone and plus each component.

    Returns ``{name: (k, radial, column)}`` (see `asteris.mock.noise.power_spectrum`),
    averaged over exposures and divided by the mean white-noise power.
    """
    inst = get_instrument(instrument)
    crop = inst.dither_max + 2
    out = {}
    for name in ("white",) + SPECTRUM_COMPONENTS:
        extra = () if name == "white" else (name,)
        noise = nz.NoiseConfig.only("sky_poisson", "read_noise", *extra)
        field = simulate_field(inst, shape=shape, exposures=exposures, bands=[band], noise=noise,
                               population=PopulationConfig.empty(), seed=seed, progress=False)  # fmt: skip
        data = field.bands[inst.band(band).name].stack.data[:, crop:-crop, crop:-crop]
        spectra = [nz.power_spectrum(frame) for frame in data]
        out[name] = tuple(np.mean([s[i] for s in spectra], axis=0) for i in range(3))
    white = out["white"][1].mean()
    return {name: (k, radial / white, column / white) for name, (k, radial, column) in out.items()}
