"""Denoising stacks larger than memory: the same pipeline, streamed.

The input cube is memory-mapped and read in blocks of rows. Per-pixel steps
(temporal clipping, frame binning, the residual median) are local and run
block by block or tile by tile; the global statistics (the sigma-clipping
bounds, the normalisation median and std, the stack offset and the maximum of
the input mean) are computed exactly in streamed passes. The temporally
clipped cube and the mean image go to scratch files on disk beside the
output; the denoised image is written stripe by stripe. Memory use is set by
the block and tile sizes, not by the image.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from astropy.io import fits
from tqdm.auto import tqdm

from .engine import (
    DEFAULT_TILE,
    InferenceOptions,
    NetworkOnTiles,
    resolve_model,
    select_device,
    tile_geometry,
)
from .errors import EmptyStackError, NotFITSError
from .fileio import atomic_path, check_writable
from .preprocess import (
    Normalization,
    clip_temporal_outliers,
    clip_to_bounds,
    data_mean,
    mask_no_data,
    network_frames,
    quiet_nan_warnings,
    restore_frames,
)
from .result import image_header, provenance_cards
from .stack import require_exposures
from .tiling import tile_grid
from .wcs import celestial_wcs

__all__ = ["denoise_large", "streamed_sigmaclip", "streamed_median"]

HIST_BINS = 1 << 16


def _row_blocks(n: int, size: int) -> Iterator[slice]:
    for start in range(0, n, size):
        yield slice(start, min(n, start + size))


def _open_cube(path: Path) -> tuple[fits.HDUList, np.ndarray, fits.Header]:
    try:
        hdul = fits.open(path, memmap=True)
    except OSError as exc:
        raise NotFITSError(f"{path} is not a FITS file ({exc})") from None
    names = [h.name for h in hdul]
    hdu = hdul["SCI"] if "SCI" in names else next((h for h in hdul if h.data is not None), None)
    if hdu is None or hdu.data.ndim != 3:
        hdul.close()
        raise NotFITSError(f"{path} holds no (T, H, W) cube; streaming needs one cube file")
    header = hdul[0].header.copy()
    header.extend(hdu.header, unique=True, update=True)
    return hdul, hdu.data, header


def streamed_sigmaclip(blocks, sigma: float = 3.0) -> tuple[float, float]:
    """The bounds `scipy.stats.sigmaclip` finds, from a re-iterable of value blocks.

    ``blocks()`` must yield float arrays (NaN = no data) each time it is called.
    Each iteration takes two passes: the mean, then the squared deviations.
    """
    low, high, size = -np.inf, np.inf, None
    while True:
        n, mean, std = _streamed_mean_std(blocks, lambda b, lo=low, hi=high: (b >= lo) & (b <= hi))
        if n == size:
            return low, high
        size, low, high = n, mean - sigma * std, mean + sigma * std


def streamed_median(blocks) -> float:
    """The exact median of the finite values of a re-iterable of blocks, in two streamed passes."""
    lo, hi, n = np.inf, -np.inf, 0
    for b in blocks():
        v = b[np.isfinite(b)]
        if v.size:
            lo, hi, n = min(lo, float(v.min())), max(hi, float(v.max())), n + v.size
    if n == 0:
        raise EmptyStackError("no valid value to take the median of")
    if lo == hi:
        return lo
    scale = HIST_BINS / (hi - lo)
    counts = np.zeros(HIST_BINS, np.int64)
    for b in blocks():
        v = b[np.isfinite(b)].astype(np.float64)
        counts += np.bincount(
            np.minimum(((v - lo) * scale).astype(np.int64), HIST_BINS - 1), minlength=HIST_BINS
        )
    ranks = ((n - 1) // 2, n // 2)
    cum = np.cumsum(counts)
    first, last = (int(np.searchsorted(cum, r, side="right")) for r in ranks)
    chosen = []
    for b in blocks():
        v = b[np.isfinite(b)].astype(np.float64)
        idx = np.minimum(((v - lo) * scale).astype(np.int64), HIST_BINS - 1)
        chosen.append(v[(idx >= first) & (idx <= last)])
    values = np.sort(np.concatenate(chosen))
    before = int(cum[first - 1]) if first else 0
    return float((values[ranks[0] - before] + values[ranks[1] - before]) / 2)


class _Scratch:
    """The temporally clipped cube on disk, its valid bounding box, and streamed views of it."""

    def __init__(self, cube: np.ndarray, folder: Path, block: int, progress: bool) -> None:
        t, h, w = cube.shape
        self.block = block
        self.clipped = np.lib.format.open_memmap(
            folder / "clipped.npy", mode="w+", dtype=np.float32, shape=(t, h, w)
        )
        rows, cols = np.zeros(h, bool), np.zeros(w, bool)
        for rs in tqdm(list(_row_blocks(h, block)), desc="clipping", unit="block", disable=not progress):
            data = mask_no_data(cube[:, rs])
            valid = np.isfinite(data).all(axis=0)
            rows[rs] |= valid.any(axis=1)
            cols |= valid.any(axis=0)
            self.clipped[:, rs] = clip_temporal_outliers(data)
        if not rows.any():
            raise EmptyStackError("no pixel is valid (finite and non-zero) in every exposure")
        r, c = np.flatnonzero(rows), np.flatnonzero(cols)
        self.crop = (slice(r[0], r[-1] + 1), slice(c[0], c[-1] + 1))
        self.cube = self.clipped[:, self.crop[0], self.crop[1]]

    def blocks(self) -> Iterator[np.ndarray]:
        for rs in _row_blocks(self.cube.shape[1], self.block):
            yield np.asarray(self.cube[:, rs])


def _frames(cube: np.ndarray, bounds, norm: Normalization, frames: int):
    """Steps 3-5 on a block or tile: network frames, residual median, input mean."""
    return network_frames(*clip_to_bounds(cube, bounds), norm, frames)


def _streamed_mean_std(blocks, keep) -> tuple[int, float, float]:
    """Count, mean and population std of the values ``keep`` selects, in two streamed passes."""
    n, total = 0, 0.0
    for b in blocks():
        v = b[keep(b)].astype(np.float64)
        n, total = n + v.size, total + v.sum()
    if n == 0:
        raise EmptyStackError("the stack has no valid voxel to compute statistics from")
    mean = total / n
    sq = sum(float(np.sum((b[keep(b)].astype(np.float64) - mean) ** 2)) for b in blocks())
    return n, mean, float(np.sqrt(sq / n))


def _global_statistics(scratch: _Scratch, frames: int, folder: Path):
    bounds = streamed_sigmaclip(scratch.blocks)

    def clipped_blocks():
        for b in scratch.blocks():
            yield clip_to_bounds(b, bounds)[0]

    _, _, std = _streamed_mean_std(clipped_blocks, np.isfinite)
    norm = Normalization(streamed_median(clipped_blocks), std)
    h, w = scratch.cube.shape[1:]
    mean_image = np.lib.format.open_memmap(folder / "mean.npy", mode="w+", dtype=np.float32, shape=(h, w))
    input_max = -np.inf
    for rs, block in zip(_row_blocks(h, scratch.block), scratch.blocks()):
        network_input, _, input_mean = _frames(block, bounds, norm, frames)
        with quiet_nan_warnings():
            input_max = max(input_max, float(np.nanmax(input_mean)))
        mean_image[rs] = data_mean(network_input)  # the stack offset, as denoise_frames takes it
    offset = streamed_median(lambda: (mean_image[rs] for rs in _row_blocks(h, scratch.block)))
    return bounds, norm, offset, input_max


def denoise_large(
    path: str | os.PathLike,
    *,
    model,
    output: str | os.PathLike,
    options: InferenceOptions | None = None,
    block_rows: int | None = None,
    block_pixels: int = 1 << 19,
    progress: bool = True,
    overwrite: bool = False,
    scratch_dir: str | os.PathLike | None = None,
    **overrides,
) -> Path:
    """Denoise a FITS cube of any size with memory set by the block and tile sizes.

    Statistics are streamed over blocks of ``block_pixels`` pixels (all
    exposures; or of ``block_rows`` full rows if given) and the network runs
    on tiles of ``tile_size``.

    The result equals `asteris.denoise` on the same cube to float32 round-off,
    written as FITS (image, then ``MASK``) with the same header, WCS and
    provenance. Scratch files (the clipped cube, the mean image) go to
    ``scratch_dir`` (default: beside the output) and are removed at the end.
    ``options`` and ``overrides``: as `asteris.denoise` (`~asteris.engine.InferenceOptions`).
    """
    opts = InferenceOptions.resolve(options, **overrides)
    output = check_writable(output, overwrite=overwrite)
    net = resolve_model(model, opts.frames)
    dev = select_device(opts.device)
    hdul, cube, header = _open_cube(Path(path))
    folder = Path(tempfile.mkdtemp(prefix=".asteris-scratch-", dir=scratch_dir or output.parent))
    try:
        require_exposures(cube.shape[0], net.config.frames, "denoise")
        # blocks of a fixed number of pixels, whatever the width
        rows = block_rows or max(1, block_pixels // cube.shape[2])
        scratch = _Scratch(cube, folder, rows, progress)
        bounds, norm, offset, input_max = _global_statistics(scratch, net.config.frames, folder)
        wcs = celestial_wcs(header)
        wcs = wcs.slice(scratch.crop) if wcs is not None else None
        cards = provenance_cards(net, cube.shape[0], opts.tile_size)
        run = NetworkOnTiles(net.to(dev).eval(), dev, opts.bf16, opts.compile)
        tile = opts.tile_size or DEFAULT_TILE
        with atomic_path(output, overwrite=overwrite) as tmp:
            _write_streamed(
                tmp,
                scratch,
                run,
                image_header(header, wcs, cards),
                (bounds, norm, offset, input_max),
                tile=tile,
                overlap=opts.overlap,
                batch_size=opts.batch_size,
                progress=progress,
            )
    finally:
        hdul.close()
        shutil.rmtree(folder, ignore_errors=True)
    return Path(output)


def _tile_input(cube: np.ndarray, source, shape) -> np.ndarray:
    """The tile's voxels of ``cube``, zero-filled where the tile runs past the image."""
    (ys, xs), (h, w) = source, shape
    out = np.full((cube.shape[0], ys.stop - ys.start, xs.stop - xs.start), np.nan, np.float32)
    part = np.asarray(cube[:, ys.start : min(ys.stop, h), xs.start : min(xs.stop, w)])
    out[:, : part.shape[1], : part.shape[2]] = part
    return out


def _write_streamed(
    path, scratch: _Scratch, run: NetworkOnTiles, header, stats, *, tile, overlap, batch_size, progress
) -> None:
    bounds, norm, offset, input_max = stats
    frames, multiple = run.model.config.frames, run.model.config.multiple
    h, w = scratch.cube.shape[1:]
    padded = (h + (-h % multiple), w + (-w % multiple))
    tiles, overlaps = tile_geometry(padded, multiple, tile, overlap)
    grid = tile_grid(padded, tiles, overlaps)
    # np.empty allocates lazily: it only gives the header its shape and type
    stream = fits.StreamingHDU(str(path), fits.PrimaryHDU(np.empty((h, w), np.float32), header).header)
    with tqdm(total=len(grid), desc="denoising", unit="tile", disable=not progress) as bar:
        for row in sorted({t.target[0].start for t in grid}):
            band = [t for t in grid if t.target[0].start == row]
            rows = band[0].target[0]
            stripe = np.full((rows.stop - rows.start, padded[1]), np.nan, np.float32)
            for i in range(0, len(band), batch_size):
                batch = band[i : i + batch_size]
                inputs = [
                    _frames(_tile_input(scratch.cube, t.source, (h, w)), bounds, norm, frames) for t in batch
                ]
                network_input = np.stack([f for f, _, _ in inputs])
                out = run(np.where(network_input != 0, network_input - offset, 0).astype(np.float32)) + offset
                for t, (f, residual, _), o in zip(batch, inputs, out):
                    image = restore_frames(o, f, input_max=input_max, norm=norm, residual_median=residual)
                    stripe[:, t.target[1]] = image[t.keep]
                bar.update(len(batch))
            keep = slice(rows.start, min(rows.stop, h))
            if keep.start < keep.stop:
                stream.write(stripe[: keep.stop - keep.start, :w])
    stream.close()
    _append_mask(path, (h, w), block=len(stripe))


def _append_mask(path, shape, *, block: int) -> None:
    """Append the MASK extension (1 = valid), read back from the written image stripe by stripe."""
    header = fits.ImageHDU(np.empty(shape, np.uint8), name="MASK").header
    with fits.open(path, memmap=True) as hdul:
        image = hdul[0].data
        stream = fits.StreamingHDU(str(path), header)  # it does not take pathlib paths
        for rows in _row_blocks(shape[0], block):
            stream.write(np.isfinite(image[rows]).astype(np.uint8))
        stream.close()
