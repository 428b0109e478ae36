"""Sources rendered into an image or an exposure: Sersic and point profiles on an oversampled
canvas, convolved with the PSF (and pixel boxes), binned to pixels or sampled at detector pixels.

The mock's truth images and exposures and the science's injected sources are
rendered by the same functions, so an injected galaxy looks like a mock one.
`SourceRenderer` carries what a stack's grid needs (pixel scale, AB zero
point, PSF) and renders a catalogue onto it.

Examples
--------
>>> import astropy.units as u
>>> from astropy.table import QTable
>>> source = QTable({"x": [16.0], "y": [16.0], "r_e": [0.1] * u.arcsec, "sersic_n": [1.0],
...                  "axis_ratio": [0.7], "theta": [30.0] * u.deg})
>>> image = render_sources(source, (32, 32), fluxes=[1.0], pixel_scale=0.04, psf_profile="airy", psf_fwhm=0.1)
>>> round(float(image.sum()), 2)
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

import astropy.units as u
import numpy as np
from astropy.table import QTable
from scipy.ndimage import map_coordinates, spline_filter
from scipy.signal import oaconvolve

from ..errors import ConfigError
from ..stack import Stack
from ..wcs import wcs_pixel_scale
from .instruments import NIRCAM, get_instrument, mjy_sr_zero_point
from .psf import pixel_response, psf_kernel

__all__ = [
    "SourceRenderer",
    "render_sources",
    "sersic_stamp",
    "point_stamp",
    "CanvasGeometry",
    "canvas_kernel",
    "render_stamps",
    "sky_images",
    "sample_on_detectors",
    "add_patch",
]

_STRIPE_ROWS = 256  # output rows rendered at a time: bounds the canvas memory on big fields
_SPLINE_PAD = 16  # canvas rows beyond a stripe for the spline prefilter: its edge error falls 0.27x a row


def add_patch(image: np.ndarray, y0: int, x0: int, patch: np.ndarray) -> None:
    """Add ``patch`` with its lower corner at (y0, x0), clipped to the image, in place."""
    ys = slice(max(y0, 0), min(y0 + patch.shape[0], image.shape[0]))
    xs = slice(max(x0, 0), min(x0 + patch.shape[1], image.shape[1]))
    image[ys, xs] += patch[ys.start - y0 : ys.stop - y0, xs.start - x0 : xs.stop - x0]



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


def point_stamp(cx: float, cy: float) -> tuple[int, int, np.ndarray]:
    """A point source at (cx, cy) shared bilinearly among its four canvas pixels: ``(y0, x0, patch)``."""
    x0, y0 = int(np.floor(cx)), int(np.floor(cy))
    fx, fy = cx - x0, cy - y0
    patch = np.array([[(1 - fy) * (1 - fx), (1 - fy) * fx], [fy * (1 - fx), fy * fx]], dtype=np.float32)
    return y0, x0, patch


@dataclass
class CanvasGeometry:
    """An output grid padded by ``margin`` pixels and oversampled ``oversample`` times on the canvas."""

    shape: tuple[int, int]  #: output grid (H, W)
    margin: int  #: padding on each side, pixels
    oversample: int

    @property
    def padded(self) -> tuple[int, int]:
        return self.shape[0] + 2 * self.margin, self.shape[1] + 2 * self.margin

    def canvas_coord(self, pixel: np.ndarray) -> np.ndarray:
        """Canvas pixel coordinate of an output-grid pixel coordinate."""
        return (np.asarray(pixel) + self.margin + 0.5) * self.oversample - 0.5


def render_stamps(
    catalog: QTable, geom: CanvasGeometry, pixel_scale: float
) -> list[tuple[int, int, np.ndarray]]:
    """Each source's unit-sum stamp on the canvas (Sersic, or a point where ``r_e`` is 0)."""
    cx, cy = geom.canvas_coord(catalog["x"]), geom.canvas_coord(catalog["y"])
    r_e = catalog["r_e"].to_value(u.arcsec) / pixel_scale * geom.oversample
    stamps = []
    for i, row in enumerate(catalog):
        if r_e[i] <= 0:
            stamps.append(point_stamp(cx[i], cy[i]))
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


def _convolved_rows(stamps, tops, bottoms, fluxes, kernel, width: int, start: int, stop: int) -> np.ndarray:
    """Canvas rows ``[start, stop)`` of the sky convolved with ``kernel`` (canvas ``width`` columns wide)."""
    halo = kernel.shape[0] // 2
    c0, c1 = start - halo, stop + halo
    canvas = np.zeros((c1 - c0, width))
    for i in np.flatnonzero((bottoms > c0) & (tops < c1) & (fluxes != 0)):
        y0, x0, patch = stamps[i]
        add_patch(canvas, y0 - c0, x0, fluxes[i] * patch)
    return oaconvolve(canvas, kernel, mode="same")[halo : halo + stop - start]


def _stamp_rows(stamps) -> tuple[np.ndarray, np.ndarray]:
    tops = np.array([s[0] for s in stamps], dtype=int)
    return tops, tops + np.array([s[2].shape[0] for s in stamps], dtype=int)


def sky_images(
    stamps: list, fluxes: np.ndarray, kernel: np.ndarray, geom: CanvasGeometry, phases: set[tuple[int, int]]
) -> dict[tuple[int, int], np.ndarray]:
    """PSF-convolved sky binned to pixels at each sub-pixel phase (py, px), on the padded grid less one."""
    os_, (hp, wp) = geom.oversample, geom.padded
    out = {p: np.zeros((hp - 1, wp - 1), dtype=np.float32) for p in phases}
    tops, bottoms = _stamp_rows(stamps)
    for r0 in range(0, hp - 1, _STRIPE_ROWS):
        r1 = min(r0 + _STRIPE_ROWS, hp - 1)
        sharp = _convolved_rows(stamps, tops, bottoms, fluxes, kernel, wp * os_, r0 * os_, (r1 + 1) * os_)
        for py, px in phases:
            block = sharp[py : py + (r1 - r0) * os_, px : px + (wp - 1) * os_]
            out[py, px][r0:r1] = block.reshape(r1 - r0, os_, wp - 1, os_).sum(axis=(1, 3))
    return out


def sample_on_detectors(
    stamps: list, fluxes: np.ndarray, kernel: np.ndarray, geom: CanvasGeometry, coords: list
) -> list[np.ndarray]:
    """The sky convolved with ``kernel`` (PSF and detector pixel) at each detector pixel centre.

    ``coords`` holds per exposure the output-grid (x, y) of its pixel centres.
    The convolved canvas is built a stripe of rows at a time (bounded memory)
    and interpolated with cubic splines; values are surface brightness in
    image units (a canvas pixel holds 1/oversample^2 of an output pixel).
    """
    os_, (hp, wp) = geom.oversample, geom.padded
    total, step = hp * os_, _STRIPE_ROWS * os_
    tops, bottoms = _stamp_rows(stamps)
    canvas_yx = [(geom.canvas_coord(y), geom.canvas_coord(x)) for x, y in coords]
    out = [np.zeros(x.shape) for x, _ in coords]
    for start in range(0, total, step):
        stop = min(start + step, total)
        lo, hi = max(start - _SPLINE_PAD, 0), min(stop + _SPLINE_PAD, total)
        rows = _convolved_rows(stamps, tops, bottoms, fluxes, kernel, wp * os_, lo, hi)
        rows = spline_filter(rows, order=3, mode="mirror")
        for image, (cy, cx) in zip(out, canvas_yx):
            inside = (cy >= start - 0.5) & (cy < stop - 0.5)
            image[inside] = map_coordinates(rows, [cy[inside] - lo, cx[inside]], order=3, prefilter=False,
                                            mode="mirror")  # fmt: skip
    return [image * os_**2 for image in out]


def render_sources(
    catalog: QTable,
    shape: tuple[int, int],
    *,
    fluxes: np.ndarray,
    pixel_scale: float,
    psf_profile: str,
    psf_fwhm: float,
    pixel_widths: tuple[float, ...] = (),
    oversample: int = 4,
) -> np.ndarray:
    """Noiseless image of ``catalog`` on an ``(H, W)`` grid, rendered exactly as the mock's truth images.

    ``catalog`` needs ``x``, ``y`` (zero-based pixels), ``r_e`` (angle; 0 for
    a point source), ``sersic_n``, ``axis_ratio`` and ``theta``; ``fluxes``
    are the total fluxes in image units; the PSF is ``psf_profile`` with FWHM
    ``psf_fwhm`` arcsec, convolved with square boxes of ``pixel_widths``
    arcsec (the native detector pixel and drizzle drop of a drizzled image).
    Sources up to a PSF radius outside the grid still spill in.
    """
    kernel = canvas_kernel(psf_profile, psf_fwhm, pixel_scale, oversample, pixel_widths)
    margin = int(np.ceil(kernel.shape[0] / (2 * oversample))) + 2
    geom = CanvasGeometry(tuple(shape), margin, oversample)
    stamps = render_stamps(catalog, geom, pixel_scale)
    image = sky_images(stamps, np.asarray(fluxes, dtype=float), kernel, geom, {(0, 0)})[0, 0]
    return image[margin : margin + shape[0], margin : margin + shape[1]]


def canvas_kernel(profile: str, fwhm: float, pixel_scale: float, oversample: int, widths=()) -> np.ndarray:
    """The PSF on the canvas (``oversample`` x the output grid), convolved with boxes of ``widths`` arcsec."""
    canvas_scale = pixel_scale / oversample
    kernel = psf_kernel(profile, fwhm / canvas_scale)
    return pixel_response(kernel, tuple(w / canvas_scale for w in widths)) if widths else kernel


@dataclass(frozen=True)
class SourceRenderer:
    """How sources look on a stack's grid: pixel scale, AB zero point and PSF.

    ``exposure_fwhm`` (arcsec, one per exposure) renders each exposure with
    its own seeing; ``psf_fwhm`` is the PSF of the reference (truth) image.
    """

    pixel_scale: float
    zero_point: float
    psf_profile: str
    psf_fwhm: float
    exposure_fwhm: tuple[float, ...] | None = None
    #: arcsec: square boxes the PSF is convolved with (a drizzled image's native pixel and drop)
    pixel_widths: tuple[float, ...] = ()

    @classmethod
    def for_mock(cls, field, band: str) -> SourceRenderer:
        """The renderer of one band of a `~asteris.mock.simulate.MockField` (any object with its
        ``instrument`` and ``bands``).

        Its sources look like the field's truth: for drizzled detector-frame
        exposures the PSF carries the native pixel and drizzle drop (``PIXRESP``).
        """
        inst = get_instrument(field.instrument)
        spec, mock_band = inst.band(band), field.bands[inst.band(band).name]
        fwhms = tuple(float(f) for f in mock_band.exposures["psf_fwhm"].to_value(u.arcsec))
        response = str(mock_band.stack.header.get("PIXRESP", "none"))
        widths = () if response == "none" else tuple(float(w) for w in response.split(","))
        return cls(inst.pixel_scale, inst.zero_point, inst.psf_profile, spec.psf_fwhm, fwhms, widths)

    @classmethod
    def for_stack(cls, stack: Stack, *, psf_profile: str = "airy") -> SourceRenderer:
        """The renderer a stack's header describes: pixel scale from its WCS, AB zero point
        (``ABMAGZP``, or from ``BUNIT`` = MJy/sr) and PSF FWHM (``PSFFWHM``, or the NIRCam
        band of ``FILTER``)."""
        if stack.wcs is None:
            raise ConfigError("the stack has no celestial WCS to give its pixel scale")
        scale = wcs_pixel_scale(stack.wcs)
        header = stack.header
        if "ABMAGZP" in header:
            zero_point = float(header["ABMAGZP"])
        elif str(header.get("BUNIT", "")).strip().lower() == "mjy/sr":
            zero_point = mjy_sr_zero_point(scale)
        else:
            raise ConfigError(
                "the header gives no AB zero point (ABMAGZP, or BUNIT MJy/sr); build a SourceRenderer"
            )
        fwhm = header.get("PSFFWHM") or NIRCAM.band(str(header.get("FILTER", "none"))).psf_fwhm
        return cls(scale, zero_point, psf_profile, float(fwhm))

    @property
    def fwhm_px(self) -> float:
        """FWHM of the sources on the grid, pixels: the PSF's, widened by the pixel boxes (each adds the
        FWHM of a Gaussian of its variance, 0.68 of its width, in quadrature)."""
        boxes = sum((0.68 * w) ** 2 for w in self.pixel_widths)
        return float(np.sqrt(self.psf_fwhm**2 + boxes)) / self.pixel_scale

    def fluxes(self, mags) -> np.ndarray:
        """Total fluxes in image units of AB magnitudes ``mags``."""
        return 10 ** (-0.4 * (np.asarray(mags, dtype=float) - self.zero_point))

    def image(self, catalog: QTable, shape: tuple[int, int], fwhm: float | None = None) -> np.ndarray:
        """Noiseless image of ``catalog`` (columns of `injection_catalog`) with PSF FWHM ``fwhm`` arcsec."""
        return render_sources(
            catalog,
            shape,
            fluxes=self.fluxes(catalog["mag"].value),
            pixel_scale=self.pixel_scale,
            psf_profile=self.psf_profile,
            psf_fwhm=self.psf_fwhm if fwhm is None else fwhm,
            pixel_widths=self.pixel_widths,
        )
