"""Training samples: patches, the interlaced Noise2Noise split and augmentations.

Every random choice is drawn from a generator seeded by ``(seed, epoch)`` or
``(seed, epoch, sample)``, so that a run resumed at any step sees exactly the
samples it would have seen without stopping.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .preprocess import (
    clip_global,
    clip_temporal_outliers,
    crop_valid,
    mask_no_data,
    normalization_stats,
    normalize,
    quiet_nan_warnings,
)
from .tiling import tile_starts

__all__ = [
    "prepare_training_stack",
    "patch_positions",
    "interlaced_split",
    "subtract_half_median",
    "dihedral",
    "SampleIndex",
    "epoch_samples",
    "make_sample",
]


def prepare_training_stack(stack: np.ndarray, *, sigma: float = 3.0) -> np.ndarray:
    """Steps 1-4 of the pipeline for training: crop, clip, normalise; no data -> 0."""
    data, _, _ = crop_valid(mask_no_data(stack))
    clipped, _, _ = clip_global(clip_temporal_outliers(data, sigma=sigma), sigma=sigma)
    return np.nan_to_num(normalize(clipped, normalization_stats(clipped)), nan=0.0)


def patch_positions(shape: tuple[int, int], patch: int, overlap: float) -> list[tuple[int, int]]:
    """Top-left corners of ``patch``-px patches covering ``shape`` with ``overlap`` (fraction)."""
    if min(shape) < patch:
        raise ValueError(f"the stack ({shape[0]}x{shape[1]} px) is smaller than one {patch} px patch")
    step_overlap = int(round(overlap * patch))
    ys, xs = (tile_starts(n, patch, step_overlap) for n in shape)
    return [(y, x) for y in ys for x in xs]


def interlaced_split(patch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Even-indexed frames (input) and odd-indexed frames (target) of a ``(2T, h, w)`` patch."""
    return patch[0::2], patch[1::2]


def subtract_half_median(half: np.ndarray) -> np.ndarray:
    """Subtract the median of the per-pixel temporal mean; no-data zeros stay zero."""
    data = np.where(half != 0, half, np.nan)
    with quiet_nan_warnings():
        offset = np.nanmedian(np.nanmean(data, axis=0))
    offset = offset if np.isfinite(offset) else 0.0
    return np.where(half != 0, half - offset, 0).astype(np.float32)


def dihedral(array: np.ndarray, k: int) -> np.ndarray:
    """One of the 8 dihedral transforms of the last two axes: rot90 ``k % 4``, flipped if ``k >= 4``."""
    out = np.rot90(array, k % 4, axes=(-2, -1))
    return np.ascontiguousarray(out[..., ::-1] if k >= 4 else out)


@dataclass(frozen=True)
class SampleIndex:
    stack: int
    frames: tuple[int, ...]  #: 2T exposure indices, in shuffled order
    y: int
    x: int


def _frame_groups(n_exposures: int, group: int, rng: np.random.Generator | None) -> list[tuple[int, ...]]:
    order = rng.permutation(n_exposures) if rng is not None else np.arange(n_exposures)
    usable = (n_exposures // group) * group
    return [tuple(int(i) for i in g) for g in order[:usable].reshape(-1, group)]


def epoch_samples(
    stacks: list[np.ndarray],
    positions: list[tuple[int, int]],
    *,
    frames: int,
    patch: int,
    max_zero_fraction: float,
    seed: int | None,
    epoch: int,
) -> list[SampleIndex]:
    """The samples of one epoch, in order; ``seed=None`` gives a fixed, unshuffled set.

    Frame order is reshuffled per stack and epoch; patches whose input half is
    more than ``max_zero_fraction`` no-data are dropped.
    """
    rng = np.random.default_rng([seed, epoch]) if seed is not None else None
    samples = []
    for s, stack in enumerate(stacks):
        for group in _frame_groups(len(stack), 2 * frames, rng):
            inputs = stack[list(group[0::2])]
            for y, x in positions:
                if np.mean(inputs[:, y : y + patch, x : x + patch] == 0) <= max_zero_fraction:
                    samples.append(SampleIndex(s, group, y, x))
    if rng is not None:
        samples = [samples[i] for i in rng.permutation(len(samples))]
    return samples


def make_sample(
    stacks: list[np.ndarray], index: SampleIndex, *, patch: int, rng: np.random.Generator | None
) -> tuple[np.ndarray, np.ndarray]:
    """Input and target halves ``(T, patch, patch)`` of one sample, augmented if ``rng`` is given."""
    cube = stacks[index.stack][list(index.frames), index.y : index.y + patch, index.x : index.x + patch]
    inp, tgt = (subtract_half_median(h) for h in interlaced_split(cube))
    if rng is not None:
        if rng.random() < 0.5:
            inp, tgt = tgt, inp
        k = int(rng.integers(8))
        inp, tgt = dihedral(inp, k), dihedral(tgt, k)
    return inp, tgt
