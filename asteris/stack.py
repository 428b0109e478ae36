"""Reading, checking and describing stacks of aligned exposures.

A stack is ``(T, H, W)``: T exposures of one pointing on one pixel grid.
It can come from an array, from a FITS cube, or from a list of aligned FITS
images (the science extension ``SCI`` when there is one).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.io import fits
from astropy.utils.exceptions import AstropyUserWarning
from astropy.wcs import WCS

from .errors import EmptyStackError, NotFITSError, StackMismatchError, TooFewExposuresError
from .fileio import atomic_path
from .wcs import celestial_wcs, wcs_pixel_scale

__all__ = [
    "Stack",
    "read_stack",
    "write_stack",
    "open_fits",
    "require_exposures",
    "stack_info",
    "shared_coverage",
    "crop_to_shared_coverage",
    "MIN_EXPOSURES",
]

#: Exposures needed per network frame count: to denoise, and to train.
MIN_EXPOSURES = {"denoise": {8: 8, 4: 4}, "train": {8: 16, 4: 8}}
#: Largest tolerated misalignment between frames, in pixels.
WCS_TOLERANCE_PX = 0.01


@dataclass
class Stack:
    """Aligned exposures with the header and celestial WCS of their grid."""

    data: np.ndarray  #: (T, H, W) float32
    header: fits.Header = field(default_factory=fits.Header)
    wcs: WCS | None = None
    sources: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.data = np.asarray(self.data, dtype=np.float32)
        if self.data.ndim != 3:
            raise StackMismatchError(
                f"a stack must be (T, H, W), got an array of shape {self.data.shape}; "
                "give a 3D cube or a list of 2D images"
            )
        if not np.any(np.isfinite(self.data) & (self.data != 0)):
            raise EmptyStackError("the stack holds no valid pixel (all NaN or zero)")

    @property
    def exposures(self) -> int:
        return self.data.shape[0]


@contextmanager
def open_fits(path: str | os.PathLike, *, what: str = "FITS images or cubes") -> Iterator[fits.HDUList]:
    """Open a FITS file whose data are read at once, refusing a missing, empty or truncated one.

    Every such problem raises `NotFITSError` (or `FileNotFoundError`) with one
    sentence that names the file and the fix; ``what`` says what was expected.
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    if path.is_dir():
        raise NotFITSError(f"{path} is a folder; give {what}")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", AstropyUserWarning)
        try:
            hdul = fits.open(path, memmap=False, lazy_load_hdus=False)  # every header, no data yet
        except (OSError, ValueError, TypeError) as exc:
            if _truncated(caught):
                raise _truncated_error(path) from None
            raise NotFITSError(f"{path} is not a FITS file, or is damaged ({exc}); give {what}") from None
    if _truncated(caught) or _shorter_than_declared(hdul, path):
        hdul.close()
        raise _truncated_error(path)
    with hdul:
        yield hdul


def _truncated(caught: list[warnings.WarningMessage]) -> bool:
    return any("truncated" in str(w.message) for w in caught)


def _shorter_than_declared(hdul: fits.HDUList, path: Path) -> bool:
    """The file ends before the data its last header declares: checked without reading any data."""
    last = len(hdul) - 1
    return path.stat().st_size < hdul.fileinfo(last)["datLoc"] + hdul[last].size


def _truncated_error(path: Path) -> NotFITSError:
    return NotFITSError(f"{path} is truncated (shorter than its header says); download or write it again")


def _open_image(path: Path) -> tuple[np.ndarray, fits.Header]:
    with open_fits(path) as hdul:
        names = [h.name for h in hdul]
        hdus = [hdul["SCI"]] if "SCI" in names else [h for h in hdul if h.data is not None]
        if not hdus or hdus[0].data is None or hdus[0].data.ndim not in (2, 3):
            raise NotFITSError(f"{path} holds no 2D image or 3D cube")
        header = hdul[0].header.copy()
        header.extend(hdus[0].header, unique=True, update=True)
        return np.asarray(hdus[0].data, dtype=np.float32), header


def _check_aligned(wcses: list[WCS | None], shape: tuple[int, int], names: list[str]) -> None:
    ref = wcses[0]
    if ref is None:
        return
    ny, nx = shape
    corners = np.array([[0, 0], [nx - 1, 0], [0, ny - 1], [nx - 1, ny - 1]], dtype=float)
    for wcs, name in zip(wcses[1:], names[1:]):
        if wcs is None:
            raise StackMismatchError(f"{name} has no celestial WCS but {names[0]} has one")
        sky = wcs.pixel_to_world_values(corners[:, 0], corners[:, 1])
        px = np.column_stack(ref.world_to_pixel_values(*sky))
        offset = float(np.max(np.abs(px - corners)))
        if offset > WCS_TOLERANCE_PX:
            raise StackMismatchError(
                f"{name} is offset by {offset:.2f} px from {names[0]}: the exposures are not "
                "on one pixel grid; resample them with `asteris align` first"
            )


def _read_files(paths: Sequence[str | os.PathLike]) -> Stack:
    paths = [Path(p) for p in paths]
    images, headers = zip(*(_open_image(p) for p in paths))
    if len(paths) == 1 and images[0].ndim == 3:
        cube, header = images[0], headers[0]
        return Stack(cube, header, celestial_wcs(header, source=str(paths[0])), [str(paths[0])])
    if len(paths) == 1:
        raise TooFewExposuresError(
            f"{paths[0]} holds one 2D image, not a stack; give a (T, H, W) cube or several aligned exposures"
        )
    shapes = {im.shape for im in images}
    if len(shapes) > 1 or images[0].ndim != 2:
        detail = ", ".join(f"{p.name}: {im.shape}" for p, im in zip(paths, images))
        raise StackMismatchError(
            f"the frames differ in shape or are not 2D images ({detail}); "
            "resample them onto one grid with `asteris align` first"
        )
    wcses = [celestial_wcs(h, source=str(p)) for h, p in zip(headers, paths)]
    _check_aligned(wcses, images[0].shape, [p.name for p in paths])
    return Stack(np.stack(images), headers[0], wcses[0], [str(p) for p in paths])


def read_stack(source, *, wcs: WCS | None = None, header: fits.Header | None = None) -> Stack:
    """Read a stack from an array, a FITS cube, or a list of aligned FITS images.

    Parameters
    ----------
    source : ndarray, `Stack`, path, or sequence of paths
        A ``(T, H, W)`` array; a FITS file holding a cube; or aligned 2D FITS
        images, one exposure each (their ``SCI`` extension where present).
    wcs, header : optional
        Grid description for an array source.

    Returns
    -------
    Stack

    Raises
    ------
    NotFITSError, StackMismatchError, EmptyStackError

    Examples
    --------
    >>> import numpy as np
    >>> read_stack(np.ones((8, 16, 16))).exposures
    8
    """
    if isinstance(source, Stack):
        return source
    if isinstance(source, np.ndarray):
        return Stack(source, header if header is not None else fits.Header(), wcs)
    if isinstance(source, (str, os.PathLike)):
        source = [source]
    return _read_files(list(source))


def require_exposures(exposures: int, frames: int, purpose: str) -> None:
    """Raise `TooFewExposuresError` if ``exposures`` cannot feed a ``frames``-frame model."""
    needed = MIN_EXPOSURES[purpose][frames]
    if exposures < needed:
        hint = "add exposures or use the 4-frame model" if frames == 8 else "add exposures of this pointing"
        raise TooFewExposuresError(
            f"the {frames}-frame model needs at least {needed} exposures to {purpose}, "
            f"this stack has {exposures}; {hint}"
        )


def stack_info(stack: Stack) -> dict:
    """Shape, exposures, WCS summary and valid fraction of a stack."""
    valid = np.isfinite(stack.data) & (stack.data != 0)
    info = {
        "exposures": stack.exposures,
        "shape": tuple(int(n) for n in stack.data.shape[1:]),
        "valid_fraction": float(valid.mean()),
        "valid_in_all_frames": float(valid.all(axis=0).mean()),
        "has_wcs": stack.wcs is not None,
    }
    if stack.wcs is not None:
        ny, nx = info["shape"]
        ra, dec = stack.wcs.pixel_to_world_values((nx - 1) / 2, (ny - 1) / 2)
        info.update(ra_center=float(ra), dec_center=float(dec), pixel_scale_arcsec=wcs_pixel_scale(stack.wcs))
    return info


def shared_coverage(stacks: Mapping[str, Stack]) -> np.ndarray:
    """Pixels where every stack (band) of one grid has an exposure with data (finite, non-zero).

    Examples
    --------
    >>> import numpy as np
    >>> wide, narrow = np.ones((2, 4, 6)), np.zeros((2, 4, 6))
    >>> narrow[0, 1:3, 2:5] = 1
    >>> int(shared_coverage({"F277W": Stack(wide), "F090W": Stack(narrow)}).sum())
    6
    """
    shapes = {s.data.shape[1:] for s in stacks.values()}
    if len(shapes) != 1:
        raise StackMismatchError(f"the stacks are not on one grid: their images are {sorted(shapes)} px")
    covered = [np.any(np.isfinite(s.data) & (s.data != 0), axis=0) for s in stacks.values()]
    return np.logical_and.reduce(covered)


def crop_to_shared_coverage(stacks: Mapping[str, Stack]) -> dict[str, Stack]:
    """Cut stacks of one grid to the bounding box of their `shared_coverage`, each with its WCS.

    A search across bands can use no pixel outside it (a band there has no
    data), so the pixels cut are work saved: on a NIRCam module whose one
    short-wave detector lies inside the long-wave detector's footprint, the
    box is the short-wave detector's, a quarter of the grid. The data are
    copied, so the uncut stacks can be freed; each header's ``HISTORY`` records
    the cut.

    Raises
    ------
    EmptyStackError
        No pixel has data in every band (the bands do not overlap).

    Examples
    --------
    >>> import numpy as np
    >>> wide, narrow = np.ones((2, 4, 6)), np.zeros((2, 4, 6))
    >>> narrow[0, 1:3, 2:5] = 1
    >>> cut = crop_to_shared_coverage({"F277W": Stack(wide), "F090W": Stack(narrow)})
    >>> {band: stack.data.shape for band, stack in cut.items()}
    {'F277W': (2, 2, 3), 'F090W': (2, 2, 3)}
    """
    shared = shared_coverage(stacks)
    rows, cols = np.flatnonzero(shared.any(axis=1)), np.flatnonzero(shared.any(axis=0))
    if not len(rows):
        raise EmptyStackError(f"no pixel has data in every band of {list(stacks)}: the bands do not overlap")
    box = (slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1))
    note = (f"cut to rows {rows[0]}:{rows[-1] + 1}, columns {cols[0]}:{cols[-1] + 1} of a "
            f"{shared.shape[0]} x {shared.shape[1]} grid, where every band has data")  # fmt: skip
    cropped = {}
    for band, stack in stacks.items():
        header = stack.header.copy()
        header.add_history(note)
        wcs = stack.wcs.slice(box) if stack.wcs is not None else None
        data = np.ascontiguousarray(stack.data[(slice(None), *box)])
        cropped[band] = Stack(data, header, wcs, list(stack.sources))
    return cropped


def write_stack(stack: Stack, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
    """Atomically write a stack as a FITS cube (primary HDU) with its header and WCS."""
    header = stack.header.copy()
    if stack.wcs is not None:
        header.update(stack.wcs.to_header(relax=True))
    hdu = fits.PrimaryHDU(stack.data, header)
    with atomic_path(path, overwrite=overwrite) as tmp:
        hdu.writeto(tmp, overwrite=True)
    return Path(path)
