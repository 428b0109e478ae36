"""Tiled denoising of a stack with an ASTERIS network (spec sections 3.6-3.7)."""

from __future__ import annotations

import copy
import datetime
import os
import re
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from astropy.io import fits
from astropy.wcs import WCS
from tqdm.auto import tqdm

from .checkpoint import load_model
from .fileio import atomic_path, check_writable
from .network import Asteris, compile_network
from .preprocess import data_mean, prepare_stack, restore_image
from .preprocess_torch import (
    data_mean_torch,
    nanmedian_all,
    nanmedian_frames,
    prepare_stack_torch,
    restore_image_torch,
)
from .stack import Stack, read_stack, require_exposures
from .tiling import apply_tiled, pad_to_multiple, tile_grid
from .tuning import choose_memory_format
from .version import VERSION

__all__ = ["DenoiseResult", "select_device", "denoise_frames", "denoise", "image_header"]

DEFAULT_TILE = 512  #: px on every device: on an H100, 1024 px tiles ran 3-10 times slower per voxel
#: Side of the tiles on which the CPU layout trial runs (`asteris.tuning`): bounded so that the
#: trial costs seconds even for the published network; its result is cached per machine.
TUNING_SIDE = 128
_WCS_KEY = re.compile(
    r"^(WCSAXES|CTYPE|CRVAL|CRPIX|CDELT|CUNIT|CD\d_\d|PC\d_\d|PV\d_\d|PS\d_\d|CROTA|LONPOLE|LATPOLE"
    r"|RADESYS|EQUINOX|A_|B_|AP_|BP_)"
)
_STRUCTURE_KEY = re.compile(
    r"^(SIMPLE|BITPIX|NAXIS|EXTEND|XTENSION|PCOUNT|GCOUNT|EXTNAME|EXTVER|BSCALE|BZERO)"
)


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, or the best available one: cuda, then mps, then cpu."""
    if device is not None:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def bf16_autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast on CUDA and CPU when ``enabled`` (mps has none: float32 there)."""
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled and device.type in ("cuda", "cpu"))


def warn_bf16_off_cuda(device: torch.device) -> None:
    """Say that bf16 off a CUDA GPU is for checking accuracy, not for speed."""
    if device.type != "cuda":
        warnings.warn(
            f"bf16 autocast pays on CUDA GPUs; on {device.type} it is for checking its accuracy "
            "(slow on most CPUs, float32 on mps)",
            stacklevel=3,
        )


def _tile_offset(tile: torch.Tensor) -> torch.Tensor:
    """Median over pixels of the per-pixel temporal median, no-data (zero) voxels ignored.

    Equal, bit for bit, to ``np.nanmedian(np.nanmedian(data, axis=0))`` with
    zeros as NaN, computed where the tile already is (on the GPU, when used).
    """
    per_pixel = nanmedian_frames(torch.where(tile != 0, tile, torch.nan))
    return nanmedian_all(per_pixel, empty=0.0)


class _NetworkOnTiles:
    """Callable for `apply_tiled`: per-tile offset, the network on a batch, offset back."""

    def __init__(self, model: Asteris, device: torch.device, bf16: bool, compile: bool = False) -> None:
        self.model = compile_network(copy.deepcopy(model)) if compile else model
        self.device = device
        self.bf16 = bf16

    def __call__(self, batch: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Denoised tiles, as a tensor on the model's device for a tensor, else as numpy."""
        on_host = not isinstance(batch, torch.Tensor)
        tiles = torch.as_tensor(np.ascontiguousarray(batch) if on_host else batch, dtype=torch.float32,
                                device=self.device)  # fmt: skip
        offsets = torch.stack([_tile_offset(t) for t in tiles])[:, None, None, None]
        x = torch.where(tiles != 0, tiles - offsets, 0).unsqueeze(1)
        with torch.inference_mode(), bf16_autocast(self.device, self.bf16):
            y = self.model(x)
        out = y.squeeze(1).float() + offsets
        return out.cpu().numpy() if on_host else out


def denoise_frames(
    frames: np.ndarray,
    model: Asteris,
    *,
    tile_size: int | None = None,
    overlap: float = 0.1,
    batch_size: int = 1,
    device: str | torch.device | None = None,
    bf16: bool = False,
    compile: bool = False,
    progress: bool = True,
) -> np.ndarray:
    """Run the network over normalised frames ``(N, H, W)`` in overlapping tiles.

    Zeros are no data. The stack offset (median of the per-pixel temporal
    mean) and each tile's offset are subtracted before the network and added
    back after it. Returns the network output frames, ``(N, H, W)``.
    """
    dev = select_device(device)
    if bf16:
        warn_bf16_off_cuda(dev)
    model = model.to(dev).eval()
    multiple = model.config.multiple
    if dev.type == "cpu" and model.memory_format is None:
        trial = max(multiple, min(tile_size or DEFAULT_TILE, TUNING_SIDE) // multiple * multiple)
        choose_memory_format(model, (batch_size, 1, model.config.frames, trial, trial))
    # On a GPU the frames go there once: offsets, tiles and stitching are all computed there.
    work = dev if dev.type == "cuda" else torch.device("cpu")
    data = torch.as_tensor(np.asarray(frames, dtype=np.float32), device=work)
    stack_offset = float(nanmedian_all(data_mean_torch(data)))
    shifted = torch.where(data != 0, data - stack_offset, 0)
    padded, (h, w) = pad_to_multiple(shifted, multiple)
    tiles, overlaps = tile_geometry(padded.shape[1:], multiple, tile_size or DEFAULT_TILE, overlap)
    n_tiles = len(tile_grid(padded.shape[1:], tiles, overlaps))
    with tqdm(total=n_tiles, desc="denoising", unit="tile", disable=not progress) as bar:
        out = apply_tiled(
            padded,
            _NetworkOnTiles(model, dev, bf16, compile),
            tile=tiles,
            overlap=overlaps,
            batch_size=batch_size,
            progress=bar.update,
        )
    return (out[:, :h, :w] + stack_offset).cpu().numpy()


def tile_geometry(shape, multiple: int, tile: int, overlap: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tile size (a multiple of ``multiple``, at most the padded image) and overlap in px, per axis."""
    tile = max(multiple, tile - tile % multiple)
    tiles = (min(tile, shape[0]), min(tile, shape[1]))
    return tiles, tuple(int(round(overlap * t)) for t in tiles)


@dataclass
class DenoiseResult:
    """A denoised image with its validity mask, coadd, header and WCS."""

    image: np.ndarray  #: (H, W) float32, NaN where masked
    mask: np.ndarray  #: (H, W) bool, True where valid
    coadd: np.ndarray  #: (H, W) the plain mean of the exposures on the same grid
    header: fits.Header = field(default_factory=fits.Header)
    wcs: WCS | None = None
    crop: tuple[slice, slice] | None = None  #: where the image lies in the input's (y, x) grid

    def write(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Atomically write the image (primary HDU) and mask (``MASK``) as FITS."""
        hdus = fits.HDUList(
            [
                fits.PrimaryHDU(self.image.astype(np.float32), self.header),
                fits.ImageHDU(self.mask.astype(np.uint8), name="MASK"),
            ]
        )
        with atomic_path(path, overwrite=overwrite) as tmp:
            hdus.writeto(tmp, overwrite=True)
        return Path(path)


def image_header(header: fits.Header, wcs: WCS | None, provenance: dict | None = None) -> fits.Header:
    """A 2D image header: ``header`` less its structure and WCS keys, plus ``wcs`` and provenance."""
    out = fits.Header()
    for card in header.cards:
        if not (_STRUCTURE_KEY.match(card.keyword) or _WCS_KEY.match(card.keyword)):
            if card.keyword not in ("COMMENT", "HISTORY", ""):
                out[card.keyword] = (card.value, card.comment)
    if wcs is not None:
        out.update(wcs.to_header(relax=True))
    for key, (value, comment) in (provenance or {}).items():
        out[key] = (value, comment)
    return out


def provenance_cards(model: Asteris, exposures: int, tile: int | None) -> dict:
    """FITS keywords saying which software, model, checkpoint and inputs made an image."""
    info = getattr(model, "provenance", {})
    return {
        "ASTVERS": (VERSION, "asteris version"),
        "ASTMODEL": (str(info.get("name", "in-memory model"))[:60], "ASTERIS model"),
        "ASTCKSHA": (str(info.get("sha256", "none")), ""),
        "ASTVARNT": (model.config.variant, "network variant"),
        "ASTNEXP": (exposures, "exposures used"),
        "ASTFRAME": (model.config.frames, "network frames"),
        "ASTTILE": (tile or 0, "tile size in px (0: device default)"),
        "ASTDATE": (datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"), "UTC"),
    }


def _resolve_model(model: Asteris | str | os.PathLike, frames: int | None) -> Asteris:
    if isinstance(model, Asteris):
        if frames is not None and frames != model.config.frames:
            raise ValueError(f"the model takes {model.config.frames} frames, not {frames}")
        return model
    return load_model(model, frames=frames)


def denoise(
    data,
    *,
    model: Asteris | str | os.PathLike,
    frames: int | None = None,
    tile_size: int | None = None,
    overlap: float = 0.1,
    batch_size: int = 1,
    device: str | torch.device | None = None,
    bf16: bool = False,
    compile: bool = False,
    progress: bool = True,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> DenoiseResult:
    """Denoise a stack of aligned exposures with an ASTERIS model.

    Parameters
    ----------
    data : ndarray, `~asteris.stack.Stack`, path or list of paths
        A ``(T, H, W)`` array, a FITS cube, or aligned FITS exposures.
    model : `~asteris.network.Asteris` or path
        A network, or a checkpoint (published or asteris) to load.
    frames : int, optional
        The variant required (8 or 4); a checkpoint of the other one is refused.
    tile_size : int, optional
        Tile side in pixels (default 512; on an H100, 1024 px tiles run 3-10 times slower per voxel).
    overlap : float
        Tile overlap as a fraction of the tile size.
    batch_size : int
        Tiles per network call.
    device : str, optional
        ``"cuda"``, ``"mps"``, ``"cpu"``; default the best available.
    bf16 : bool
        Use bfloat16 autocast (for speed on CUDA GPUs; on a CPU only to check its effect).
    compile : bool
        Compile the network with `torch.compile` first (pays on GPUs for
        large stacks; the first tiles wait for the compilation).
    progress : bool
        Show a progress bar.
    output : path, optional
        Also write the result as FITS there (atomically).
    overwrite : bool
        Replace ``output`` if it exists.

    Returns
    -------
    DenoiseResult

    Examples
    --------
    >>> import numpy as np
    >>> from asteris import build_network, denoise
    >>> net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    >>> stack = np.random.default_rng(0).normal(10, 1, (4, 20, 20))
    >>> denoise(stack, model=net, progress=False).image.shape
    (20, 20)
    """
    if output is not None:
        check_writable(output, overwrite=overwrite)
    stack: Stack = read_stack(data)
    net = _resolve_model(model, frames)
    require_exposures(stack.exposures, net.config.frames, "denoise")
    dev = select_device(device)
    gpu = dev.type == "cuda"  # preprocessing and restoration where the network runs
    if gpu:
        prepared = prepare_stack_torch(stack.data, net.config.frames, wcs=stack.wcs, device=dev)
    else:
        prepared = prepare_stack(stack.data, net.config.frames, wcs=stack.wcs)
    out = denoise_frames(
        prepared.frames,
        net,
        tile_size=tile_size,
        overlap=overlap,
        batch_size=batch_size,
        device=dev,
        bf16=bf16,
        compile=compile,
        progress=progress,
    )
    image, mask = restore_image_torch(out, prepared, device=dev) if gpu else restore_image(out, prepared)
    raw = stack.data[(slice(None), *prepared.crop)]
    coadd = data_mean_torch(raw, device=dev).cpu().numpy() if gpu else data_mean(raw)
    header = image_header(stack.header, prepared.wcs, provenance_cards(net, prepared.exposures, tile_size))
    result = DenoiseResult(image, mask, coadd.astype(np.float32), header, prepared.wcs, prepared.crop)
    if output is not None:
        result.write(output, overwrite=overwrite)
    return result
