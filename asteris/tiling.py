"""Overlapping tiles over an image and their seamless stitching (spec step 6).

Tiles all have the same size so that they can be batched; the last tile of a
row or column is moved back to end at the image edge. When stitching, each
tile keeps its interior: at an inner edge the overlap is cut in the middle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["Tile", "tile_starts", "keep_ranges", "tile_grid", "pad_to_multiple", "apply_tiled", "Frames"]


@dataclass(frozen=True)
class Tile:
    """One tile: where it reads from and which part of it is kept."""

    source: tuple[slice, slice]  #: the tile in the (padded) image
    keep: tuple[slice, slice]  #: the kept part, in tile coordinates
    target: tuple[slice, slice]  #: the kept part, in image coordinates


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start indices of tiles of size ``tile`` covering ``length`` with at least ``overlap``.

    Examples
    --------
    >>> tile_starts(100, 40, 4)
    [0, 36, 60]
    """
    if tile >= length:
        return [0]
    if not 0 <= overlap < tile:
        raise ValueError(f"overlap must be in [0, {tile}), got {overlap}")
    starts = list(range(0, length - tile, tile - overlap))
    return starts + [length - tile]


def keep_ranges(starts: list[int], tile: int, length: int) -> list[tuple[int, int]]:
    """The ``[start, stop)`` each tile keeps: overlaps are cut in their middle.

    Examples
    --------
    >>> keep_ranges([0, 36, 60], 40, 100)
    [(0, 38), (38, 68), (68, 100)]
    """
    cuts = [(nxt + prev + tile) // 2 for prev, nxt in zip(starts[:-1], starts[1:])]
    edges = [0, *cuts, min(length, starts[-1] + tile)]
    return list(zip(edges[:-1], edges[1:]))


def _axis_tiles(length: int, tile: int, overlap: int) -> list[tuple[slice, slice, slice]]:
    starts = tile_starts(length, tile, overlap)
    return [
        (slice(s, s + tile), slice(a - s, b - s), slice(a, b))
        for s, (a, b) in zip(starts, keep_ranges(starts, tile, length))
    ]


def tile_grid(shape: tuple[int, int], tile: tuple[int, int], overlap: tuple[int, int]) -> list[Tile]:
    """All tiles of a ``shape`` image, row by row."""
    rows = _axis_tiles(shape[0], tile[0], overlap[0])
    cols = _axis_tiles(shape[1], tile[1], overlap[1])
    return [Tile((ry, cx), (ky, kx), (ty, tx)) for ry, ky, ty in rows for cx, kx, tx in cols]


Frames = np.ndarray | torch.Tensor


def pad_to_multiple(frames: Frames, multiple: int) -> tuple[Frames, tuple[int, int]]:
    """Zero-pad the last two axes up to a multiple of ``multiple``; return the old (H, W)."""
    h, w = frames.shape[-2:]
    ph, pw = -h % multiple, -w % multiple
    if isinstance(frames, torch.Tensor):
        return (F.pad(frames, (0, pw, 0, ph)) if ph or pw else frames), (h, w)
    if ph or pw:
        frames = np.pad(frames, [(0, 0)] * (frames.ndim - 2) + [(0, ph), (0, pw)])
    return frames, (h, w)


def _batches(items: list[Tile], size: int) -> Iterator[list[Tile]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


def apply_tiled(
    frames: Frames,
    fn: Callable[[Frames], Frames],
    *,
    tile: tuple[int, int],
    overlap: tuple[int, int],
    batch_size: int = 1,
    progress: Callable[[int], None] | None = None,
) -> Frames:
    """Apply ``fn`` to overlapping tiles of ``frames`` (N, H, W) and stitch the result.

    ``fn`` takes a batch ``(B, N, th, tw)`` and returns an array of the same
    shape. ``frames`` may be a numpy array or a torch tensor (then tiles are
    cut and stitched on its device). ``progress`` is called with the number of
    tiles done in each batch.
    """
    xp = torch if isinstance(frames, torch.Tensor) else np
    out = xp.empty_like(frames)
    tiles = tile_grid(frames.shape[-2:], tile, overlap)
    for batch in _batches(tiles, batch_size):
        result = fn(xp.stack([frames[(slice(None), *t.source)] for t in batch]))
        for t, r in zip(batch, result):
            out[(slice(None), *t.target)] = r[(slice(None), *t.keep)]
        if progress is not None:
            progress(len(batch))
    return out
