"""Artificial sources: where to put them, how to render them, and adding them to every exposure.

An injection catalogue places PSF-convolved point sources and small Sersic
galaxies at random positions away from the real sources, the data edges and
each other, with magnitudes drawn uniformly over a range. `inject` adds the
same sources to every exposure of a stack (rendered with each exposure's
PSF, exactly as the mock universe renders its truth) and returns the
noiseless image of the injected sources beside it, the reference their
measured fluxes and shapes are compared with.

Examples
--------
>>> import numpy as np
>>> renderer = SourceRenderer(pixel_scale=0.04, zero_point=27.46, psf_profile="airy", psf_fwhm=0.066)
>>> avoid = np.zeros((128, 128), bool)
>>> cat = injection_catalog(avoid, n=10, mags=(25.0, 27.0), seed=1)
>>> stack = np.random.default_rng(0).normal(0, 0.01, (4, 128, 128))
>>> injected, model = inject(stack, cat, renderer)
>>> injected.data.shape, bool(np.allclose(injected.data[0] - stack[0], model, atol=1e-6))
((4, 128, 128), True)
"""

from __future__ import annotations

import astropy.units as u
import numpy as np
from astropy.table import QTable
from scipy import ndimage

from ..errors import ConfigError
from ..sky.render import SourceRenderer
from ..stack import Stack, read_stack
from .detect import detection_image, segment_sources

__all__ = ["injection_catalog", "inject", "source_mask", "INJECTION_KINDS"]

INJECTION_KINDS = ("point", "sersic")
_SERSIC_R_E = (0.03, 0.12)  # arcsec: small galaxies, a few NIRCam pixels
_SERSIC_N = (0.8, 1.5)
_SERSIC_Q = (0.5, 1.0)


def source_mask(image: np.ndarray, *, fwhm: float, threshold: float = 2.0, grow: int = 4) -> np.ndarray:
    """Source pixels of ``image`` (detected at ``threshold``) grown by ``grow`` pixels, and no-data."""
    det = detection_image(image, fwhm=fwhm)
    segm = segment_sources(det, threshold, 3, deblend=False)
    occupied = np.zeros(image.shape, bool) if segm is None else segm.data > 0
    if grow:
        occupied = ndimage.binary_dilation(occupied, iterations=grow)
    return occupied | det.mask


def _positions(avoid: np.ndarray, n: int, min_separation: float, edge: int, rng) -> np.ndarray:
    allowed = ~np.asarray(avoid, dtype=bool)
    allowed[:edge], allowed[-edge:], allowed[:, :edge], allowed[:, -edge:] = False, False, False, False
    free = np.flatnonzero(allowed)
    if free.size == 0:
        raise ConfigError("no free pixel to inject into: the field is all sources, edges or no-data")
    chosen: list[np.ndarray] = []
    for candidate in rng.permutation(free)[: 50 * n]:
        yx = np.array(np.unravel_index(candidate, avoid.shape), dtype=float) + rng.uniform(-0.5, 0.5, 2)
        if not chosen or np.min(np.hypot(*(np.array(chosen) - yx).T)) >= min_separation:
            chosen.append(yx)
            if len(chosen) == n:
                return np.array(chosen)
    raise ConfigError(
        f"only {len(chosen)} of {n} sources fit {min_separation} px apart in the free area; "
        "inject fewer per realization or lower min_separation"
    )


def injection_catalog(
    avoid: np.ndarray,
    *,
    n: int,
    mags: tuple[float, float],
    kinds: tuple[str, ...] = INJECTION_KINDS,
    min_separation: float = 16.0,
    edge: int = 16,
    seed: int | np.random.Generator = 0,
) -> QTable:
    """``n`` artificial sources placed away from ``avoid`` (True = occupied), the edges and each other.

    Magnitudes are uniform in ``mags``; kinds alternate over ``kinds``
    (``"point"``: r_e = 0; ``"sersic"``: r_e 0.03-0.12 arcsec log-uniform,
    n 0.8-1.5, axis ratio 0.5-1, random orientation).
    """
    unknown = set(kinds) - set(INJECTION_KINDS)
    if unknown or not kinds:
        raise ConfigError(f"unknown injection kinds {sorted(unknown)}; use {list(INJECTION_KINDS)}")
    if not mags[0] < mags[1]:
        raise ConfigError(f"the magnitude range must be (bright, faint), got {mags}")
    rng = np.random.default_rng(seed)
    yx = _positions(avoid, n, min_separation, edge, rng)
    kind = np.array([kinds[i % len(kinds)] for i in range(n)])
    galaxy = kind == "sersic"
    r_e = np.where(galaxy, np.exp(rng.uniform(*np.log(_SERSIC_R_E), n)), 0.0)
    return QTable(
        {
            "id": np.arange(1, n + 1),
            "x": yx[:, 1],
            "y": yx[:, 0],
            "mag": rng.uniform(*mags, n) * u.mag,
            "kind": kind,
            "r_e": r_e * u.arcsec,
            "sersic_n": np.where(galaxy, rng.uniform(*_SERSIC_N, n), 1.0),
            "axis_ratio": np.where(galaxy, rng.uniform(*_SERSIC_Q, n), 1.0),
            "theta": rng.uniform(0, 180, n) * u.deg,
        }
    )


def inject(data, catalog: QTable, renderer: SourceRenderer) -> tuple[Stack, np.ndarray]:
    """Add ``catalog``'s sources to every exposure of a stack.

    Returns the new `~asteris.stack.Stack` (the input is not changed; voxels
    without data stay without data) and the noiseless image of the injected
    sources with the reference PSF.
    """
    stack = read_stack(data)
    shape = stack.data.shape[1:]
    fwhms = renderer.exposure_fwhm or (renderer.psf_fwhm,) * stack.exposures
    if len(fwhms) != stack.exposures:
        raise ConfigError(f"the renderer has {len(fwhms)} exposure PSFs for {stack.exposures} exposures")
    out, model = np.empty_like(stack.data), None
    for fwhm in dict.fromkeys(fwhms):  # one PSF's image at a time: a band of a large pointing stays small
        image = renderer.image(catalog, shape, fwhm)
        for t in np.flatnonzero(np.asarray(fwhms) == fwhm):
            frame = stack.data[t]
            out[t] = np.where(np.isfinite(frame) & (frame != 0), frame + image, frame)
        model = image if fwhm == renderer.psf_fwhm else model
    if model is None:
        model = renderer.image(catalog, shape)
    sources = [*stack.sources, f"asteris.science.injection: {len(catalog)} artificial sources"]
    return Stack(out, stack.header.copy(), stack.wcs, sources), model.astype(np.float32)
