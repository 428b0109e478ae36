import numpy as np
import pytest
from scipy import stats

from asteris.errors import EmptyStackError
from asteris.mock.synthetic import synthetic_wcs
from asteris.preprocess import (
    bin_frames,
    clip_global,
    clip_temporal_outliers,
    crop_valid,
    denormalize,
    frame_groups,
    mask_no_data,
    normalization_stats,
    normalize,
    prepare_stack,
    restore_image,
    temporal_nanmedian,
)


def test_crop_valid_updates_wcs():
    stack = np.ones((3, 30, 40), np.float32)
    stack[:, :5] = 0
    stack[1, :, 33:] = np.nan
    wcs = synthetic_wcs((30, 40))
    cropped, new_wcs, (sy, sx) = crop_valid(stack, wcs)
    assert cropped.shape == (3, 25, 33)
    assert (sy.start, sx.start) == (5, 0)
    # the same sky position sits at the shifted pixel
    ra, dec = wcs.pixel_to_world_values(7.0, 12.0)
    x, y = new_wcs.world_to_pixel_values(ra, dec)
    assert np.allclose([x, y], [7.0, 7.0], atol=1e-8)


def test_crop_valid_empty():
    stack = np.ones((2, 4, 4))
    stack[0, :2] = 0
    stack[1, 2:] = 0
    with pytest.raises(EmptyStackError):
        crop_valid(stack)


def test_temporal_clipping_removes_cosmic_ray_only():
    rng = np.random.default_rng(0)
    stack = rng.normal(0, 1, (12, 20, 20)).astype(np.float32)
    stack[4, 10, 10] += 100
    out = clip_temporal_outliers(stack)
    assert np.isnan(out[4, 10, 10])
    assert np.isnan(out).sum() < 0.01 * out.size  # a 3-sigma clip of Gaussian noise is rare
    assert not np.isnan(stack).any()  # the input is untouched


def test_global_clip_matches_scipy_and_keeps_residual():
    rng = np.random.default_rng(1)
    stack = rng.normal(0, 1, (4, 30, 30)).astype(np.float32)
    stack[:, 5, 5] = 50
    stack[0, 0, 0] = np.nan
    clipped, residual, (low, high) = clip_global(stack)
    _, ref_low, ref_high = stats.sigmaclip(stack[np.isfinite(stack)].astype(np.float64), 3, 3)
    assert (low, high) == pytest.approx((ref_low, ref_high))
    assert np.nanmax(clipped) <= np.float32(high)
    assert np.allclose(np.nan_to_num(clipped + residual), np.nan_to_num(stack))
    assert residual[0, 5, 5] == pytest.approx(50 - np.float32(high), rel=1e-6)


def test_normalize_inverse():
    stack = np.random.default_rng(2).normal(3, 2, (4, 8, 8)).astype(np.float32)
    norm = normalization_stats(stack)
    z = normalize(stack, norm)
    assert np.median(z) == pytest.approx(1.0, abs=1e-6)
    assert z.std() == pytest.approx(0.25, rel=1e-5)
    assert np.allclose(denormalize(z, norm), stack, atol=1e-5)


@pytest.mark.parametrize(
    "exposures,frames,sizes",
    [(16, 8, [2] * 8), (9, 8, [1, 1, 1, 2, 1, 1, 1, 1]), (10, 4, [2, 3, 3, 2]), (4, 4, [1, 1, 1, 1])],
)
def test_frame_groups(exposures, frames, sizes):
    groups = frame_groups(exposures, frames)
    assert [g.stop - g.start for g in groups] == sizes
    assert groups[0].start == 0 and groups[-1].stop == exposures


def test_bin_frames_nan_aware():
    stack = np.arange(8, dtype=np.float32)[:, None, None] * np.ones((8, 2, 2), np.float32)
    stack[0, 0, 0] = np.nan
    stack[2:4, 1, 1] = np.nan
    binned = bin_frames(stack, 4)
    assert binned[:, 0, 1].tolist() == [0.5, 2.5, 4.5, 6.5]
    assert binned[0, 0, 0] == 1.0
    assert np.isnan(binned[1, 1, 1])


def test_round_trip_with_identity_network():
    """normalise -> identity -> restore gives the input mean image where nothing was clipped."""
    rng = np.random.default_rng(3)
    stack = rng.normal(10, 1, (16, 32, 32)).astype(np.float32)
    stack[:, 10:13, 10:13] += 40  # a bright source: clipped globally, restored from the residual
    prepared = prepare_stack(stack, 8)
    image, mask = restore_image(prepared.frames, prepared)
    data = mask_no_data(stack)
    untouched = ~np.isnan(clip_temporal_outliers(data)).any(axis=0)
    clipped, _, _ = clip_global(data)
    untouched &= (clipped == data).all(axis=0)
    assert mask.all() and untouched.sum() > 500
    np.testing.assert_allclose(image[untouched], stack.mean(axis=0)[untouched], rtol=0, atol=2e-5 * 10)


@pytest.mark.parametrize("exposures", [1, 2, 7, 8, 16])
def test_temporal_nanmedian_is_numpy_bit_for_bit(exposures):
    rng = np.random.default_rng(exposures)
    stack = rng.normal(0.2, 0.01, (exposures, 64, 48)).astype(np.float32)
    stack[rng.random(stack.shape) < 0.2] = np.nan
    stack[:, :3, :3] = np.nan  # pixels with no data at all
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(stack, axis=0)
    got = temporal_nanmedian(stack)
    assert got.dtype == expected.dtype
    assert np.array_equal(got, expected, equal_nan=True)
    assert np.isnan(got[:3, :3]).all()
