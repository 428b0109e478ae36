import numpy as np
import pytest

from asteris.tiling import apply_tiled, keep_ranges, pad_to_multiple, tile_grid, tile_starts


@pytest.mark.parametrize("length,tile,overlap", [(100, 40, 4), (64, 64, 6), (50, 64, 6), (1000, 128, 13)])
def test_keep_ranges_partition_the_axis(length, tile, overlap):
    starts = tile_starts(length, tile, overlap)
    ranges = keep_ranges(starts, tile, length)
    assert ranges[0][0] == 0 and ranges[-1][1] == min(length, starts[-1] + tile)
    assert all(a[1] == b[0] for a, b in zip(ranges[:-1], ranges[1:]))
    assert all(s <= a and b <= s + tile for s, (a, b) in zip(starts, ranges))
    # every inner cut keeps at least half of the overlap on either side
    assert all(b - s >= overlap // 2 for s, (a, b) in zip(starts[1:], ranges[:-1]))


@pytest.mark.parametrize("batch_size", [1, 3])
def test_apply_tiled_identity_is_exact(batch_size):
    frames = np.random.default_rng(0).normal(size=(4, 70, 90)).astype(np.float32)
    calls = []

    def fn(batch):
        calls.append(len(batch))
        return batch.copy()

    out = apply_tiled(frames, fn, tile=(32, 40), overlap=(3, 4), batch_size=batch_size)
    assert np.array_equal(out, frames)
    assert sum(calls) == len(tile_grid((70, 90), (32, 40), (3, 4)))


def test_apply_tiled_places_tiles_correctly():
    """A function that depends on the tile's own content (its mean) shows misplaced tiles."""
    frames = np.random.default_rng(1).normal(size=(2, 64, 64)).astype(np.float32)
    out = apply_tiled(frames, lambda b: b * 2 + 1, tile=(24, 24), overlap=(4, 4), batch_size=2)
    assert np.allclose(out, frames * 2 + 1)


def test_pad_to_multiple():
    padded, shape = pad_to_multiple(np.ones((3, 13, 16)), 8)
    assert padded.shape == (3, 16, 16) and shape == (13, 16)
    assert padded[:, 13:].sum() == 0


def test_apply_tiled_on_tensors_matches_numpy():
    import torch

    frames = np.random.default_rng(0).normal(size=(4, 50, 37)).astype(np.float32)

    def fn(batch):
        return batch * 2 + batch.mean()

    expected = apply_tiled(frames, fn, tile=(16, 16), overlap=(4, 4), batch_size=3)
    padded, shape = pad_to_multiple(torch.from_numpy(frames), 8)
    assert padded.shape == (4, 56, 40) and shape == (50, 37)
    got = apply_tiled(torch.from_numpy(frames), fn, tile=(16, 16), overlap=(4, 4), batch_size=3)
    assert isinstance(got, torch.Tensor)
    np.testing.assert_allclose(got.numpy(), expected, rtol=1e-6, atol=1e-6)
