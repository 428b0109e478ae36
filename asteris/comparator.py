"""Aligned images of one field in one frame, as astronomers compare them: blink and zoom.

`compare_images` puts two or more images of the same grid (the ivar coadd,
ASTERIS, and on the mock the truth) into one frame of a static HTML page with
a little JavaScript of its own (``comparator.js``, no server, nothing fetched
at view time): it works in Jupyter, on Colab and in the built book offline.

- **Blink**: a button per image, a blink toggle (``b``), the space bar and
  arrow keys to step, ``1``-``9`` to pick.
- **Swipe**: a slider between two chosen images.
- **Pan and zoom**, shared by every image since they are drawn in one frame:
  drag, the wheel, ``+``/``-``, ``0`` to fit; down to 64 screen pixels a pixel.
- **One stretch** for all (linear, asinh, zscale), its limits set on one image (the first).
- **Readout** under the cursor: pixel (0-based, in the full image), RA/Dec
  from a TAN WCS, and every image's value there.

The images travel as float32 (little-endian, base64), so the readout is the
image's own value; the page weighs about 5.4 bytes a pixel per image. A
region (``center``, ``size``) keeps large images within `MAX_PIXELS`.

>>> import numpy as np
>>> a = np.arange(16.0).reshape(4, 4)
>>> view = compare_images({"coadd": a, "ASTERIS": a / 2})
>>> view
ImageComparator(coadd, ASTERIS: 4 x 4 px from x 0, y 0; asinh)
>>> "<canvas" in view.to_html() and "https://" not in view.to_html()
True
"""

from __future__ import annotations

import base64
import hashlib
import html
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib.resources import files
from pathlib import Path

import numpy as np
from astropy.wcs import WCS

from .errors import ConfigError
from .fileio import atomic_path

__all__ = ["ImageComparator", "compare_images", "STRETCHES", "MAX_PIXELS"]

STRETCHES = ("linear", "asinh", "zscale")
#: Pixels per image a comparator carries at most (1024 x 1024: 5.6 MB of page per image).
MAX_PIXELS = 1024 * 1024
DISPLAY_SIDE = 480  #: side of the frame, screen pixels

_STYLE = """
.asteris-comparator{font:13px/1.4 sans-serif;display:inline-block;outline:none;margin:0.5em 0}
.asteris-comparator .astc-bar{display:flex;flex-wrap:wrap;gap:4px;align-items:center;margin-bottom:4px}
.asteris-comparator button{padding:2px 8px;border:1px solid #888;background:#f4f4f4;cursor:pointer}
.asteris-comparator button.astc-on{background:#1f6feb;color:#fff}
.asteris-comparator canvas{border:1px solid #888;cursor:crosshair;max-width:100%;image-rendering:pixelated}
.asteris-comparator .astc-readout{font-family:monospace;font-size:12px;line-height:1.4;height:4.2em;\
overflow:hidden;white-space:pre-wrap}
"""


@dataclass(frozen=True)
class ImageComparator:
    """What the frame shows: the images of a region, their stretch limits, WCS and markers.

    Made by `compare_images`; shown by Jupyter through ``_repr_html_``,
    written as a page of its own by `write`.
    """

    spec: dict

    def __repr__(self) -> str:
        s = self.spec
        return (f"ImageComparator({', '.join(s['names'])}: {s['width']} x {s['height']} px from "
                f"x {s['x0']}, y {s['y0']}; {s['stretch']})")  # fmt: skip

    @property
    def element_id(self) -> str:
        """The HTML id of the frame: the same images give the same page."""
        digest = hashlib.sha1(json.dumps(self.spec, sort_keys=True).encode()).hexdigest()
        return f"astc-{digest[:12]}"

    def to_html(self) -> str:
        """The comparator as an HTML fragment with its style, data and script (no outside resource)."""
        s, ident = self.spec, self.element_id
        names = [html.escape(name) for name in s["names"]]
        buttons = "".join(f'<button class="astc-image" title="key {i + 1}">{name}</button>'
                          for i, name in enumerate(names))  # fmt: skip
        pair = "".join(f'<option value="{i}">{name}</option>' for i, name in enumerate(names))
        second = pair.replace('value="1">', 'value="1" selected>', 1)
        stretch = "".join(
            f"<option{' selected' if k == s['stretch'] else ''}>{k}</option>" for k in STRETCHES
        )
        marks = ('<label><input type="checkbox" class="astc-markers" checked> markers</label>'
                 if s["markers"] else "")  # fmt: skip
        title = f"<div><b>{html.escape(s['title'])}</b></div>" if s.get("title") else ""
        spec = json.dumps(s).replace("<", "\\u003c")
        side = s["display"]
        return (
            f"<style>{_STYLE}</style>"
            f'<div class="asteris-comparator" id="{ident}" tabindex="0">{title}'
            f'<div class="astc-bar">{buttons}<button class="astc-blink" title="key b">blink</button>'
            f'<label><input type="checkbox" class="astc-swipe"> swipe</label><select class="astc-pair">{pair}'
            f'</select><input type="range" class="astc-split" min="0" max="1000" value="500">'
            f'<select class="astc-pair">{second}</select><select class="astc-stretch">{stretch}</select>'
            f'<button class="astc-out" title="key -">&minus;</button><button class="astc-in" title="key +">+'
            f'</button><button class="astc-fit" title="key 0">fit</button>{marks}</div>'
            f'<canvas class="astc-frame" width="{side}" height="{side}"></canvas>'
            f'<div class="astc-readout">move the cursor over the image</div>'
            f'<script type="application/json" class="astc-spec">{spec}</script></div>'
            f"<script>{_script()}\nasterisComparator({json.dumps(ident)});</script>"
        )

    def _repr_html_(self) -> str:
        return self.to_html()

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """A standalone HTML page of the comparator (atomically; an existing file only with ``overwrite``)."""
        title = html.escape(self.spec.get("title") or ", ".join(self.spec["names"]))
        page = (f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>{title}</title></head>'
                f"<body>{self.to_html()}</body></html>")  # fmt: skip
        with atomic_path(path, overwrite=overwrite) as tmp:
            tmp.write_text(page, encoding="utf-8")
        return Path(path)


def _script() -> str:
    return files("asteris").joinpath("comparator.js").read_text(encoding="utf-8")


def compare_images(
    images: Mapping[str, np.ndarray],
    *,
    wcs: WCS | None = None,
    center: Sequence[float] | None = None,
    size: int | Sequence[int] | None = None,
    markers: np.ndarray | Sequence[Sequence[float]] | None = None,
    stretch: str = "asinh",
    reference: str | None = None,
    title: str | None = None,
    unit: str | None = None,
    display_size: int = DISPLAY_SIDE,
) -> ImageComparator:
    """Two or more aligned images of one field in one frame (blink, swipe, pan, zoom, readout).

    Parameters
    ----------
    images : mapping of str to 2D array
        Name -> image, all of one shape on one pixel grid.
    wcs : `~astropy.wcs.WCS`, optional
        The images' celestial WCS (of the full images); a TAN one gives RA/Dec in the readout.
    center, size : optional
        The region shown: ``center`` (x, y) in pixels, ``size`` a side or (ny, nx); default the
        whole image. The readout keeps the full image's pixel coordinates.
    markers : (N, 2) array, optional
        (x, y) pixel positions to circle (for example injected sources); those outside are left out.
    stretch : {'linear', 'asinh', 'zscale'}
        The stretch shown first; the reader can change it.
    reference : str, optional
        The image whose pixels set the stretch's limits, shared by all (default the first).
    title, unit : str, optional
        A title above the frame and the unit of the values in the readout.
    display_size : int
        Side of the frame in screen pixels.

    Raises
    ------
    ConfigError
        Fewer than two images, images of different shapes, an unknown stretch, a region outside
        the image, or a region above `MAX_PIXELS`.
    """
    arrays = {str(name): np.asarray(image, dtype=np.float32) for name, image in images.items()}
    _check_images(arrays, stretch)
    reference = next(iter(arrays)) if reference is None else reference
    if reference not in arrays:
        raise ConfigError(f"the reference {reference!r} is none of the images {list(arrays)}")
    shape = next(iter(arrays.values())).shape
    (y0, y1), (x0, x1) = _region(shape, center, size)
    cut = {name: np.ascontiguousarray(image[y0:y1, x0:x1]) for name, image in arrays.items()}
    if cut[next(iter(cut))].size > MAX_PIXELS:
        raise ConfigError(f"a comparator shows at most {MAX_PIXELS} pixels an image, this region has "
                          f"{(y1 - y0) * (x1 - x0)}; give a center and a smaller size")  # fmt: skip
    spec = {
        "names": list(cut), "width": x1 - x0, "height": y1 - y0, "x0": x0, "y0": y0,
        "data": [base64.b64encode(image.astype("<f4").tobytes()).decode("ascii") for image in cut.values()],
        "limits": stretch_limits(cut[reference]), "stretch": stretch, "wcs": _tan(wcs),
        "markers": _markers(markers, (x0, x1), (y0, y1)), "title": title, "unit": unit,
        "display": int(display_size),
    }  # fmt: skip
    return ImageComparator(spec)


def _check_images(arrays: dict[str, np.ndarray], stretch: str) -> None:
    if len(arrays) < 2:
        raise ConfigError(f"a comparator needs two or more images, got {len(arrays)}")
    shapes = {name: image.shape for name, image in arrays.items()}
    if len(set(shapes.values())) != 1 or len(next(iter(shapes.values()))) != 2:
        raise ConfigError(f"the images must be 2D and of one shape (aligned), got {shapes}")
    if stretch not in STRETCHES:
        raise ConfigError(f"unknown stretch {stretch!r}; choose one of {', '.join(STRETCHES)}")


def _region(shape: tuple[int, int], center, size) -> tuple[tuple[int, int], tuple[int, int]]:
    """(y0, y1), (x0, x1) of the region, clipped to the image."""
    if center is None and size is None:
        return (0, shape[0]), (0, shape[1])
    ny, nx = (size, size) if np.isscalar(size) else (size or shape)
    cx, cy = center if center is not None else (shape[1] / 2, shape[0] / 2)
    x0, y0 = int(round(cx - nx / 2)), int(round(cy - ny / 2))
    bounds = (max(0, y0), min(shape[0], y0 + int(ny))), (max(0, x0), min(shape[1], x0 + int(nx)))
    if bounds[0][0] >= bounds[0][1] or bounds[1][0] >= bounds[1][1]:
        raise ConfigError(f"the region at {tuple(center)} of size {size} lies outside the {shape} image")
    return bounds


def stretch_limits(image: np.ndarray) -> dict[str, list[float]]:
    """The display limits of each stretch, from ``image``'s finite pixels.

    Linear: the 0.5 and 99.5 percentiles; asinh: the 1st and 99.8th (its curve
    brings out the faint end); zscale: IRAF's, as DS9 computes it.
    """
    from astropy.visualization.interval import ZScaleInterval

    finite = image[np.isfinite(image)]
    if finite.size == 0:
        return {name: [0.0, 1.0] for name in STRETCHES}
    limits = {
        "linear": np.percentile(finite, [0.5, 99.5]),
        "asinh": np.percentile(finite, [1.0, 99.8]),
        "zscale": ZScaleInterval().get_limits(finite),
    }
    return {name: _widened(float(lo), float(hi)) for name, (lo, hi) in limits.items()}


def _widened(lo: float, hi: float) -> list[float]:
    return [lo, hi] if hi > lo else [lo - 0.5, lo + 0.5]


def _tan(wcs: WCS | None) -> dict | None:
    """The TAN projection's reference pixel, value and CD matrix, or None for another projection."""
    if wcs is None or not wcs.has_celestial:
        return None
    sky = wcs.celestial
    if not all(str(t).endswith("-TAN") for t in sky.wcs.ctype) or sky.sip is not None:
        return None
    return {"crpix": [float(v) for v in sky.wcs.crpix], "crval": [float(v) for v in sky.wcs.crval],
            "cd": [[float(v) for v in row] for row in sky.pixel_scale_matrix]}  # fmt: skip


def _markers(markers, xs: tuple[int, int], ys: tuple[int, int]) -> list[list[float]]:
    if markers is None:
        return []
    points = np.asarray(markers, dtype=float).reshape(-1, 2)
    inside = (
        (points[:, 0] >= xs[0]) & (points[:, 0] < xs[1]) & (points[:, 1] >= ys[0]) & (points[:, 1] < ys[1])
    )
    return [[round(float(x), 2), round(float(y), 2)] for x, y in points[inside]]
