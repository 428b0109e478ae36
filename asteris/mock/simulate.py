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
import os
import tempfile
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import astropy.units as u
import numpy as np
from astropy.io import fits
from astropy.table import QTable
from tqdm import tqdm

from ..errors import ConfigError
from ..fileio import atomic_path, check_writable, writable_folder
from ..sky.instruments import BandSpec, Instrument, get_instrument
from ..sky.render import (
    CanvasGeometry,
    canvas_kernel,
    render_stamps,
    sample_on_detectors,
    sky_images,
)
from ..sky.sed import NJY_AB_ZP, SPECTRAL_GRIDS
from ..stack import Stack, read_stack
from ..version import VERSION
from . import noise as nz
from .detector import (
    DQ_DO_NOT_USE,
    DQ_HOT,
    DQ_JUMP_DET,
    EXPOSURE_TIME,
    HSC_NO_DATA,
    detector_shape,
    detector_sky_coords,
    exposure_wcs,
    write_cal,
    write_warp,
)
from .population import ALL_BANDS, PopulationConfig, sky_catalog
from .synthetic import synthetic_wcs

__all__ = [
    "MockBand",
    "MockField",
    "simulate_field",
    "band_workers",
    "read_mock_field",
    "component_power_spectra",
    "SPECTRUM_COMPONENTS",
]

_PERSISTENCE_THRESHOLD = 100.0  # in units of the white noise: where a previous exposure leaves a ghost
_HOT_FLAGGED = 50.0  # hot pixels above this many sigma are in the bad-pixel mask (DQ), fainter ones are not
_GROUP_BYTES = 3 << 30  # bound on the pixel coordinates and images of exposures rendered together


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


@dataclass(frozen=True)
class _Pointing:
    dx: float  #: offset of the exposure's centre from the field's, output pixels
    dy: float
    roll: float  #: degrees

    def phase(self, oversample: int) -> tuple[int, int, int, int]:
        """(ny, nx, py, px): integer pixels and sub-pixel phase in 1/oversample (warps only)."""
        ny, nx = int(np.floor(self.dy)), int(np.floor(self.dx))
        return ny, nx, round((self.dy - ny) * oversample), round((self.dx - nx) * oversample)


def _pointings(exposures: int, instrument: Instrument, oversample: int, resampling: bool, rng) -> list:
    """Dither offsets and rolls: detector frames get any offset and a roll; warps quarter-pixel phases."""
    limit = instrument.dither_max
    integer = rng.integers(-limit, limit + 1, size=(exposures, 2)).astype(float)
    if not resampling:
        return [_Pointing(dx, dy, 0.0) for dy, dx in integer]
    if instrument.warps:
        phases = [(py, px) for py in range(oversample) for px in range(oversample)]
        order = rng.permutation(len(phases))
        fraction = np.array([phases[order[t % len(phases)]] for t in range(exposures)]) / oversample
        return [_Pointing(dx, dy, 0.0) for dy, dx in integer + fraction]
    offsets = rng.uniform(-limit, limit, size=(exposures, 2))
    rolls = rng.uniform(-instrument.roll_max, instrument.roll_max, exposures)
    return [_Pointing(dx, dy, roll) for (dy, dx), roll in zip(offsets, rolls)]


#: The random streams of a band, one per noise component: switching one component off leaves the draws
#: of every other (and of the white noise) as they were, so that fields differing by one component are
#: paired realizations.
STREAMS = ("white", "hot_pixels", "flat_residual", "wisp", "one_over_f", "cosmic_rays", "snowballs",
           "gradient", "seeing")  # fmt: skip


def _streams(seed: np.random.SeedSequence) -> dict[str, np.random.Generator]:
    return {name: np.random.default_rng(child) for name, child in zip(STREAMS, seed.spawn(len(STREAMS)))}


def _fixed_patterns(spec: BandSpec, instrument: Instrument, shape, noise: nz.NoiseConfig, rng: dict) -> dict:
    """The patterns fixed on the detector (hot pixels, flat residual, wisp) and its valid pixels."""
    sigma, wisp = spec.white_sigma, noise.wisp * spec.wisp
    out = {"hot": np.zeros(shape), "flat": 0.0, "wisp": 0.0,
           "valid": nz.gap_mask(shape, instrument.gap_width if noise.gaps else 0)}  # fmt: skip
    if noise.hot_pixels:
        out["hot"] = nz.hot_pixel_map(shape, noise.hot_pixels, sigma, rng["hot_pixels"])
    if noise.flat_residual:
        out["flat"] = nz.flat_residual_map(shape, noise.flat_residual, rng["flat_residual"])
    if wisp:
        out["wisp"] = nz.wisp_map(shape, wisp * sigma, rng["wisp"])
    return out


def _expose(
    signal,
    previous,
    spec: BandSpec,
    instrument: Instrument,
    fixed: dict,
    noise: nz.NoiseConfig,
    rng,
    jumps: np.ndarray | None = None,
):
    """One detector-frame exposure (sky-subtracted, image units) from its noiseless ``signal``.

    ``jumps`` (boolean, the frame's shape) gets the snowball cores the jump step would flag.
    """
    sigma, shape = spec.white_sigma, signal.shape
    seen = signal * (1 + fixed["flat"]) + spec.sky * fixed["flat"]
    frame = nz.sky_and_read_noise(seen, spec.sky, spec.gain, spec.read_noise, rng["white"],
                                  poisson=noise.sky_poisson, read=noise.read_noise)  # fmt: skip
    frame += fixed["hot"] + fixed["wisp"] * rng["wisp"].uniform(0.7, 1.3)
    if noise.one_over_f and instrument.amplifier_width:
        frame += nz.one_over_f_stripes(
            shape, instrument.amplifier_width, noise.one_over_f * sigma, rng["one_over_f"]
        )
    if noise.cosmic_rays:
        frame += nz.cosmic_ray_residuals(shape, noise.cosmic_rays, sigma, rng["cosmic_rays"])
    if noise.snowballs and instrument.has_snowballs:
        frame += nz.snowball_residuals(shape, noise.snowballs, sigma, rng["snowballs"], cores=jumps)
    if noise.gradient:
        frame += nz.background_gradient(shape, noise.gradient * sigma, rng["gradient"])
    if noise.persistence and instrument.has_persistence and previous is not None:
        frame += nz.persistence_ghost(previous, noise.persistence, _PERSISTENCE_THRESHOLD * sigma)
    return np.where(fixed["valid"], frame, 0.0)


def _error(signal: np.ndarray, spec: BandSpec) -> np.ndarray:
    """The ERR a ramp fit reports: Poisson noise of sky and source, and read noise, in image units."""
    return np.sqrt(np.clip(signal + spec.sky, 0, None) * spec.gain + spec.read_noise**2) / spec.gain


def _band_fwhms(spec: BandSpec, instrument: Instrument, exposures: int, rng) -> np.ndarray:
    if instrument.seeing_range is None:
        return np.full(exposures, spec.psf_fwhm)
    return np.round(rng["seeing"].uniform(*instrument.seeing_range, exposures), 3)


@dataclass
class _Scene:
    """What every band of a field shares: the grid, the sources and the pointings."""

    instrument: Instrument
    geom: CanvasGeometry
    wcs: object
    stamps: list
    catalog: QTable
    pointings: list
    noise: nz.NoiseConfig
    seed: int
    corrections: object = None  #: asteris.archive.corrections.CorrectionConfig of the alignment

    def __getstate__(self) -> dict:
        # a WCS is pickled as header text, which rounds its numbers in the last bit; the bands that
        # `_simulate_bands` sends to other processes must see the same grid to the bit
        exact = {name: np.array(getattr(self.wcs.wcs, name)) for name in ("crval", "crpix", "cdelt")}
        if self.wcs.wcs.has_pc():
            exact["pc"] = np.array(self.wcs.wcs.pc)
        return {**self.__dict__, "wcs_numbers": exact}

    def __setstate__(self, state: dict) -> None:
        exact = state.pop("wcs_numbers")
        self.__dict__.update(state)
        for name, value in exact.items():
            setattr(self.wcs.wcs, name, value)
        self.wcs.wcs.set()

    def fluxes(self, spec: BandSpec) -> np.ndarray:
        """Total fluxes in output-grid image units (per output pixel) of every source."""
        scale = 10 ** (-0.4 * (NJY_AB_ZP - self.instrument.zero_point))  # image units per nJy per pixel
        return np.asarray(self.catalog[f"flux_{spec.filter}"].to_value(u.nJy)) * scale


def _signals(scene: _Scene, fluxes: np.ndarray, kernel: np.ndarray, wcses: list, shape: tuple[int, int]):
    """Yield (noiseless detector image, WCS) per exposure, rendered a few exposures at a time.

    Each group shares one pass over the sky canvas; its size keeps the pixel
    coordinates and images of a group within `_GROUP_BYTES`.
    """
    per_exposure = 24 * shape[0] * shape[1]  # x, y and the image, float64
    size = max(1, _GROUP_BYTES // per_exposure)
    for start in range(0, len(wcses), size):
        group = wcses[start : start + size]
        coords = [detector_sky_coords(w, scene.wcs, shape) for w in group]
        yield from zip(sample_on_detectors(scene.stamps, fluxes, kernel, scene.geom, coords), group)


def _detector_frames(scene: _Scene, spec: BandSpec, folder: Path, rng, progress: bool) -> tuple[list, QTable]:
    """Render, expose and write one band's detector-frame ``_cal`` files; their paths and exposure table."""
    inst, geom = scene.instrument, scene.geom
    resampled = scene.noise.resampling
    native = spec.on_detector(inst.pixel_scale, None if resampled else inst.pixel_scale)
    shape = detector_shape(geom.shape, inst.pixel_scale, native.detector_scale)
    wcses = [exposure_wcs(scene.wcs, geom.shape, offset=(p.dx, p.dy), roll_deg=p.roll,
                          scale=native.detector_scale, shape=shape) for p in scene.pointings]  # fmt: skip
    pixel = (native.detector_scale,)
    kernel = canvas_kernel(inst.psf_profile, spec.psf_fwhm, inst.pixel_scale, geom.oversample, pixel)
    fixed = _fixed_patterns(native, inst, shape, scene.noise, rng)
    hot = fixed["hot"] > _HOT_FLAGGED * native.white_sigma
    files, previous = [], None
    signals = _signals(scene, scene.fluxes(spec), kernel, wcses, shape)
    for t, (signal, wcs) in enumerate(tqdm(signals, total=len(wcses),
                                           desc=f"expose {spec.name}", disable=not progress,
                                           leave=False)):  # fmt: skip
        jumps = np.zeros(shape, bool)
        frame = _expose(signal, previous, native, inst, fixed, scene.noise, rng, jumps)
        dq = np.where(fixed["valid"], 0, DQ_DO_NOT_USE) | np.where(hot, DQ_DO_NOT_USE | DQ_HOT, 0)
        dq |= np.where(jumps & fixed["valid"], DQ_JUMP_DET, 0)
        keywords = {"INSTRUME": "NIRCAM", "DETECTOR": spec.detector, "FILTER": spec.name,
                    "PROGRAM": "mock", "EXPSTART": 60000.0 + t / 24, "EFFEXPTM": EXPOSURE_TIME,
                    "SEED": scene.seed}  # fmt: skip
        path = folder / f"mock_{spec.name.lower()}_{t:03d}_cal.fits"
        files.append(write_cal(path, frame, _error(signal, native), dq, wcs, keywords=keywords))
        previous = signal
    table = _exposure_table(scene.pointings, np.full(len(files), spec.psf_fwhm), native)
    table["detector_scale"] = np.full(len(files), native.detector_scale) * u.arcsec
    return files, table


def _warp_frames(scene: _Scene, spec: BandSpec, folder: Path, rng, progress: bool) -> tuple[list, QTable]:
    """Render, expose, warp (bilinear) and write one band's warps on the output grid (HSC-like)."""
    inst, geom = scene.instrument, scene.geom
    h, w = geom.shape
    m, os_ = geom.margin, geom.oversample
    fwhms = _band_fwhms(spec, inst, len(scene.pointings), rng)
    phases = [p.phase(os_) for p in scene.pointings]
    images, fluxes = {}, scene.fluxes(spec)
    for fwhm in np.unique(fwhms):
        wanted = {ph[2:] for ph, f in zip(phases, fwhms) if f == fwhm}
        kernel = canvas_kernel(inst.psf_profile, fwhm, inst.pixel_scale, os_)
        images[fwhm] = sky_images(scene.stamps, fluxes, kernel, geom, wanted)
    fixed = _fixed_patterns(spec, inst, geom.shape, scene.noise, rng)
    files, previous = [], None
    for t, (ny, nx, py, px) in enumerate(tqdm(phases, desc=f"expose {spec.name}", disable=not progress,
                                              leave=False)):  # fmt: skip
        signal = images[fwhms[t]][py, px][ny + m : ny + m + h, nx + m : nx + m + w].astype(np.float64)
        frame = _expose(signal, previous, spec, inst, fixed, scene.noise, rng)
        shift = (nx + px / os_, ny + py / os_)
        warp, ok = nz.resample_to_sky(frame, fixed["valid"], *shift)
        variance, _ = nz.resample_to_sky(_error(signal, spec) ** 2, fixed["valid"], *shift)
        path = folder / f"mock_warp_{spec.name.lower()}_{t:03d}.fits"
        keywords = {"INSTRUME": "HSC", "FILTER": spec.name, "SEEING": fwhms[t], "SEED": scene.seed}
        files.append(write_warp(path, warp, np.where(ok, 0, HSC_NO_DATA), variance, scene.wcs,
                                keywords=keywords))  # fmt: skip
        previous = signal
    return files, _exposure_table(scene.pointings, fwhms, spec)


def _exposure_table(pointings: list, fwhms: np.ndarray, spec: BandSpec) -> QTable:
    table = QTable(
        {
            "dx": np.array([p.dx for p in pointings]) * u.pix,
            "dy": np.array([p.dy for p in pointings]) * u.pix,
            "roll": np.array([p.roll for p in pointings]) * u.deg,
            "psf_fwhm": np.asarray(fwhms, dtype=float) * u.arcsec,
            "sky": np.full(len(pointings), spec.sky),
            "weight": np.full(len(pointings), 1 / spec.white_sigma**2),
        }
    )
    table.meta["EXTNAME"] = "EXPOSURES"
    return table


def _simulate_band(scene: _Scene, spec: BandSpec, rng, folder: Path, progress: bool) -> MockBand:
    """One band: exposures written to ``folder`` and aligned by the archive's own path, truth, table."""
    from ..archive.align import align, stack_warps

    inst, geom = scene.instrument, scene.geom
    h, w, m = *geom.shape, geom.margin
    if inst.warps:
        files, table = _warp_frames(scene, spec, folder, rng, progress)
        stack, widths = stack_warps(files), ()
        weights = (stack.data != 0).astype(np.float32)
    else:
        files, table = _detector_frames(scene, spec, folder, rng, progress)
        stack, weights = align(files, grid=(scene.wcs, geom.shape), pixfrac=inst.pixfrac,
                               corrections=scene.corrections)  # fmt: skip
        native = table["detector_scale"][0].to_value(u.arcsec)
        widths = (native, inst.pixfrac * native) if scene.noise.resampling else ()
    table["valid_fraction"] = (weights > 0).mean(axis=(1, 2))
    table["file"] = [Path(f).name for f in files]
    kernel = canvas_kernel(inst.psf_profile, spec.psf_fwhm, inst.pixel_scale, geom.oversample, widths)
    truth = sky_images(scene.stamps, scene.fluxes(spec), kernel, geom, {(0, 0)})[0, 0][m : m + h, m : m + w]
    header = _header(spec, inst, scene.wcs, scene.seed)
    header["PIXRESP"] = (",".join(f"{v:g}" for v in widths) or "none",
                         "[arcsec] boxes the truth PSF is convolved with")  # fmt: skip
    for key in (
        "PIXFRAC",
        "DRIZKERN",
        "ALIGNPIX",
        "CORRSTEP",
        "OUTLFRAC",
        "PATSMOOT",
        "DITHSPAN",
        "PATSCMIN",
        "PATSCMAX",
        "CORRMODL",
        "COLEXCES",
        "CORRCOLS",
    ):
        if key in stack.header:
            header[key] = stack.header[key]
    provenance = [f"asteris.mock.simulate seed {scene.seed}"] + [Path(f).name for f in files]
    cube = Stack(np.asarray(stack.data, dtype=np.float32), header, scene.wcs, provenance)
    return MockBand(spec.name, cube, truth.astype(np.float32), table)


def _header(spec: BandSpec, instrument: Instrument, wcs, seed: int) -> fits.Header:
    header = fits.Header()
    header["BUNIT"] = instrument.unit
    header["ABMAGZP"] = (round(instrument.zero_point, 5), "AB magnitude of one image unit per pixel")
    header["INSTRUME"] = (f"{instrument.name.upper()}-LIKE", "simulated by asteris.mock.simulate")
    header["FILTER"] = spec.name
    header["PSFFWHM"] = (spec.psf_fwhm, "[arcsec] PSF FWHM of the truth image")
    header["PIXSCALE"] = (instrument.pixel_scale, "[arcsec/px]")
    header["ORIGIN"] = ("asteris.mock.simulate", f"asteris {VERSION}")
    header["SEED"] = (seed, "random seed; params.json rebuilds the field")
    header.update(wcs.to_header())
    return header


def _finish_catalog(catalog: QTable, geom: CanvasGeometry, wcs, pixel_scale: float, seed: int) -> QTable:
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
    exposures_dir: str | os.PathLike | None = None,
    corrections=None,
    workers: int = 1,
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
    exposures_dir : folder to keep the exposure files in (``_cal``-like files for NIRCam,
        warps for HSC); by default they are written to a temporary folder, aligned and removed.
    corrections : `asteris.archive.corrections.CorrectionConfig`, optional
        The exposure-level corrections of the NIRCam alignment (default: every
        step, with the instrument's amplifier width; ``CorrectionConfig.none()``
        stacks the exposures as they come). HSC warps are stacked as delivered.
    workers : processes that simulate bands side by side (each band has its own
        random streams, so the bytes do not depend on it); 1 simulates them here
        in turn (`band_workers` gives a default).
    """
    from ..archive.corrections import CorrectionConfig

    inst = get_instrument(instrument)
    if corrections is None:
        corrections = CorrectionConfig(amplifier_width=inst.amplifier_width)
    noise, population = (noise or nz.NoiseConfig()).effective(), population or PopulationConfig()
    if exposures < 1 or min(shape) < 16:
        raise ConfigError(f"need at least one exposure and a 16x16 field, got {exposures} and {shape}")
    specs = [inst.band(b) for b in bands] if bands else list(inst.bands)
    roll_reach = np.hypot(*shape) / 2 * np.sin(np.radians(inst.roll_max))
    geom = CanvasGeometry(tuple(shape), inst.dither_max + 4 + int(np.ceil(roll_reach)), oversample)
    seeds = np.random.SeedSequence(seed).spawn(2 + len(specs))
    extent = (geom.padded[1] * inst.pixel_scale, geom.padded[0] * inst.pixel_scale)
    catalog = sky_catalog(extent, bands=ALL_BANDS, config=population, seed=int(seeds[0].generate_state(1)[0]))
    catalog["x"] = catalog["x_arcsec"].to_value(u.arcsec) / inst.pixel_scale - geom.margin - 0.5
    catalog["y"] = catalog["y_arcsec"].to_value(u.arcsec) / inst.pixel_scale - geom.margin - 0.5
    wcs = synthetic_wcs(geom.shape, ra=ra, dec=dec, scale_arcsec=inst.pixel_scale)
    pointings = _pointings(exposures, inst, oversample, noise.resampling, np.random.default_rng(seeds[1]))
    scene = _Scene(inst, geom, wcs, render_stamps(catalog, geom, inst.pixel_scale), catalog, pointings,
                   noise, seed, corrections)  # fmt: skip
    with _exposure_folder(exposures_dir) as folder:
        out = _simulate_bands(scene, specs, seeds[2:], folder, workers=workers, progress=progress)
    params = {
        "instrument": inst.name, "shape": list(shape), "exposures": exposures,
        "bands": [s.name for s in specs], "seed": seed, "ra": ra, "dec": dec, "oversample": oversample,
        "noise": asdict(noise), "corrections": corrections.to_dict(),
        "population": asdict(population), "spectral_grids": SPECTRAL_GRIDS, "asteris_version": VERSION,
    }  # fmt: skip
    return MockField(inst.name, out, _finish_catalog(catalog, geom, wcs, inst.pixel_scale, seed), params)


#: Pixels of a band's exposures (exposures times area) from which `band_workers` builds bands side by
#: side: the default HSC field's 2.4 million take 6 s a band, starting a process about 3 s.
PARALLEL_BAND_PIXELS = 2**21


def band_workers(shape: tuple[int, int], exposures: int) -> int:
    """Processes worth building a field's bands on: every usable core where a band takes seconds.

    1 below `PARALLEL_BAND_PIXELS` pixels of exposures a band, where starting
    a process costs more than it saves.

    >>> band_workers((64, 64), 4)
    1
    """
    if shape[0] * shape[1] * exposures < PARALLEL_BAND_PIXELS:
        return 1
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _simulate_bands(scene: _Scene, specs: list, seeds: list, folder: Path, *, workers: int,
                    progress: bool) -> dict[str, MockBand]:  # fmt: skip
    """Every band, in turn here or on ``workers`` Python processes, each simulating every workers-th band.

    The processes are started as commands, not by `multiprocessing`, so that a
    script calling this needs no ``if __name__ == "__main__"`` guard and a Dask
    worker (a daemon process) can start them too. They read the scene from one
    pickle in ``folder`` and write each band to another; all of these files go.
    """
    workers = min(workers, len(specs))
    if workers <= 1:
        bar = tqdm(specs, desc=f"mock {scene.instrument.name}", disable=not progress)
        return {spec.name: _simulate_band(scene, spec, _streams(seed), folder, progress)
                for spec, seed in zip(bar, seeds)}  # fmt: skip
    processes = []
    try:
        return _band_processes(scene, list(zip(specs, seeds)), folder, workers, processes, progress)
    finally:
        for process in processes:  # an interrupted build stops its processes
            if process.poll() is None:
                process.kill()
            process.wait()
        for path in [folder / "scene.pickle", *folder.glob("band*.pickle*"), *folder.glob("bands_*.log")]:
            path.unlink(missing_ok=True)


def _band_processes(scene: _Scene, jobs: list, folder: Path, workers: int, processes: list,
                    progress: bool) -> dict[str, MockBand]:  # fmt: skip
    import pickle
    import subprocess
    import sys
    import time

    (folder / "scene.pickle").write_bytes(pickle.dumps(scene, protocol=pickle.HIGHEST_PROTOCOL))
    results = {spec.name: folder / f"band_{spec.name}.pickle" for spec, _ in jobs}
    run = "import sys; from asteris.mock.simulate import _run_band_jobs; _run_band_jobs(*sys.argv[1:])"
    for first in range(workers):
        mine = folder / f"bands_{first}.pickle"
        share = [(spec, seed, results[spec.name]) for spec, seed in jobs[first::workers]]
        mine.write_bytes(pickle.dumps(share, protocol=pickle.HIGHEST_PROTOCOL))
        command = [sys.executable, "-c", run, str(folder / "scene.pickle"), str(mine)]
        with open(folder / f"bands_{first}.log", "w") as log:  # a file, not a pipe that could fill up
            processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log))
    with tqdm(total=len(jobs), desc=f"mock {scene.instrument.name}", disable=not progress) as bar:
        while any(process.poll() is None for process in processes):
            time.sleep(0.2)
            bar.update(sum(path.exists() for path in results.values()) - bar.n)
    for first, process in enumerate(processes):
        if process.returncode != 0:
            log = (folder / f"bands_{first}.log").read_text()[-3000:]
            raise RuntimeError(f"simulating bands in another process failed:\n{log}")
    bands = {name: pickle.loads(path.read_bytes()) for name, path in results.items()}
    for band in bands.values():
        band.stack.wcs = scene.wcs  # this process's WCS, not one rebuilt from header text
    return bands


def _run_band_jobs(scene_file: str, jobs: str) -> None:
    """The bands of one process of `_simulate_bands`, each written where it is asked for."""
    import pickle

    scene = pickle.loads(Path(scene_file).read_bytes())
    for spec, seed, result in pickle.loads(Path(jobs).read_bytes()):
        band = _simulate_band(scene, spec, _streams(seed), result.parent, progress=False)
        partial = result.with_name(result.name + ".partial")
        partial.write_bytes(pickle.dumps(band, protocol=pickle.HIGHEST_PROTOCOL))
        partial.rename(result)  # whole when it appears: the progress bar counts it


@contextmanager
def _exposure_folder(path):
    if path is not None:
        yield writable_folder(path)
        return
    with tempfile.TemporaryDirectory(prefix="asteris-mock-") as tmp:
        yield Path(tmp)


#: Components whose noise power spectra `component_power_spectra` measures (persistence needs
#: stars and gaps only zero pixels, so they are left out).
SPECTRUM_COMPONENTS = ("one_over_f", "resampling", "cosmic_rays", "snowballs", "hot_pixels", "flat_residual",
                       "wisp", "gradient")  # fmt: skip


def component_power_spectra(
    instrument: str = "nircam", *, band: str = "F200W", shape=(256, 256), exposures: int = 4, seed: int = 0
) -> dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Noise power spectra of source-free stacks, white noise alone and plus each component.

    The exposures are stacked as they come (no `asteris.archive.corrections`):
    the spectra show what each component adds.

    Returns ``{name: (k, radial, column)}`` (see `asteris.mock.noise.power_spectrum`),
    averaged over exposures and divided by the mean white-noise power.
    """
    from ..archive.corrections import CorrectionConfig

    inst = get_instrument(instrument)
    crop = inst.dither_max + 4  # beyond the dither and roll edges, which no exposure covers
    out = {}
    for name in ("white",) + SPECTRUM_COMPONENTS:
        extra = () if name == "white" else (name,)
        noise = nz.NoiseConfig.only("sky_poisson", "read_noise", *extra)
        field = simulate_field(inst, shape=shape, exposures=exposures, bands=[band], noise=noise,
                               population=PopulationConfig.empty(), seed=seed, progress=False,
                               corrections=CorrectionConfig.none())  # fmt: skip
        data = field.bands[inst.band(band).name].stack.data[:, crop:-crop, crop:-crop]
        spectra = [nz.power_spectrum(frame) for frame in data]
        out[name] = tuple(np.mean([s[i] for s in spectra], axis=0) for i in range(3))
    white = out["white"][1].mean()
    return {name: (k, radial / white, column / white) for name, (k, radial, column) in out.items()}
