"""Preprocessing (spec section 3): each step on its own, and the one (torch) implementation against numpy
and scipy, on CPU bit for bit and on CUDA when present.

The reference pipeline below (`numpy_reference`) is written with numpy and scipy alone, step by step as
the published method states it, so that it is an independent oracle rather than a second implementation.
"""

import warnings

import numpy as np
import pytest
import torch
from scipy import stats

from asteris.errors import EmptyStackError
from asteris.mock.synthetic import synthetic_wcs
from asteris.preprocess import (
    bin_frames,
    clip_global,
    clip_temporal_outliers,
    crop_valid,
    data_mean,
    denormalize,
    frame_groups,
    mask_no_data,
    nanmean_frames,
    nanmedian_all,
    nanstd_frames,
    normalization_stats,
    normalize,
    prepare_stack,
    restore_image,
    sigma_clip_bounds,
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


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


def awkward_stack(exposures: int = 11, shape=(40, 52)) -> np.ndarray:
    """Noise with sources, a cosmic ray, NaNs, a no-data border and a partly empty exposure."""
    rng = np.random.default_rng(3)
    stack = rng.normal(0.2, 0.05, (exposures, *shape)).astype(np.float32)
    stack[:, 10:14, 20:24] += 3.0
    stack[2, 30, 30] += 40.0
    stack[4, 5:9, 5:9] = np.nan
    stack[:, :3] = 0
    stack[1, :, -4:] = 0
    stack[6, 20:] = np.inf
    return stack


def numpy_reference(stack: np.ndarray, frames: int, sigma: float = 3.0):
    """Steps 1-5 with numpy and scipy: frames, residual median, input mean, median and std."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        data = np.array(stack, np.float32)
        data[~np.isfinite(data) | (data == 0)] = np.nan
        valid = np.isfinite(data).all(axis=0)
        rows, cols = np.flatnonzero(valid.any(axis=1)), np.flatnonzero(valid.any(axis=0))
        data = data[:, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        outlier = np.abs(data - np.nanmedian(data, axis=0)) > sigma * np.nanstd(data, axis=0)
        data = np.where(outlier, np.float32(np.nan), data)
        _, low, high = stats.sigmaclip(data[np.isfinite(data)].astype(np.float64), sigma, sigma)
        clipped = np.clip(data, np.float32(low), np.float32(high))
        valid = clipped[np.isfinite(clipped)].astype(np.float64)
        median, std = float(np.median(valid)), float(valid.std())
        normalized = ((clipped - median) / (std * 4.0) + 1).astype(np.float32)
        binned = np.stack([np.nanmean(normalized[g], axis=0) for g in frame_groups(len(data), frames)])
        residual_median = np.nan_to_num(np.nanmedian(data - clipped, axis=0)).astype(np.float32)
        return np.nan_to_num(binned, nan=0.0), residual_median, np.nanmean(binned, axis=0), median, std


def assert_same(got: np.ndarray, expected: np.ndarray, exact: bool, name: str = "") -> None:
    assert got.shape == expected.shape and got.dtype == expected.dtype, name
    if exact:
        assert np.array_equal(got, expected, equal_nan=True), name
    else:
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=name)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("frames,exposures", [(8, 11), (4, 11), (8, 40)])
def test_prepare_stack_equals_the_numpy_pipeline(device, frames, exposures):
    stack = awkward_stack(exposures)
    wcs = synthetic_wcs(stack.shape[1:])
    got = prepare_stack(stack, frames, wcs=wcs, device=device)
    ref_frames, ref_residual, ref_mean, median, std = numpy_reference(stack, frames)
    exact = device == "cpu"
    assert_same(got.frames, ref_frames, exact, "frames")
    assert_same(got.residual_median, ref_residual, exact, "residual_median")
    assert_same(got.input_mean, ref_mean, exact, "input_mean")
    assert got.norm.median == median
    assert got.norm.std == pytest.approx(std, rel=1e-12)
    assert got.crop == (slice(3, 20), slice(0, 48)) and got.exposures == exposures
    assert got.wcs.wcs.crpix.tolist() == wcs.slice(got.crop).wcs.crpix.tolist()


@pytest.mark.parametrize("device", DEVICES)
def test_restore_image_equals_numpy(device):
    prepared = prepare_stack(awkward_stack(), 4)
    output = prepared.frames * 0.9 + 0.1  # any network output
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mean = np.nanmean(np.where(prepared.frames != 0, output, np.float32(np.nan)), axis=0)
        mean = np.minimum(mean, np.float32(np.nanmax(prepared.input_mean)))
    norm = prepared.norm
    expected = ((mean - 1) * (norm.scale * norm.std) + norm.median).astype(
        np.float32
    ) + prepared.residual_median
    image, mask = restore_image(output, prepared, device=device)
    assert_same(image, expected, device == "cpu")
    np.testing.assert_array_equal(mask, np.isfinite(expected))


@pytest.mark.parametrize("exposures", [1, 2, 5, 8, 24, 100])
def test_per_pixel_reductions_are_numpy_bit_for_bit(exposures):
    """Means and stds add frame after frame as numpy does (torch's own nanmean differs from 24 frames on)."""
    rng = np.random.default_rng(exposures)
    x = (rng.normal(size=(exposures, 30, 20)) * 10 ** rng.uniform(-3, 3, (exposures, 1, 1))).astype(
        np.float32
    )
    x[rng.random(x.shape) < 0.1] = np.nan
    x[:, 1, 1] = np.nan
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        expected = {
            "mean": np.nanmean(x, axis=0),
            "std": np.nanstd(x, axis=0),
            "median": np.nanmedian(x, axis=0),
            "data_mean": np.nanmean(np.where(x != 0, x, np.nan), axis=0),
        }
    got = {
        "mean": nanmean_frames(x),
        "std": nanstd_frames(x),
        "median": temporal_nanmedian(x),
        "data_mean": data_mean(x),
    }
    for name in expected:
        assert_same(got[name], expected[name], True, name)
    assert nanmedian_all(x).item() == np.nanmedian(x)
    assert nanmedian_all(torch.full((3,), float("nan")), empty=0.0).item() == 0.0


@pytest.mark.parametrize("n", [1, 2, 3, 4, 9, 10, 1000, 1001])
def test_median_of_all_is_numpy_median_with_ties(n):
    rng = np.random.default_rng(n)
    for values in (rng.normal(size=n), rng.integers(0, 3, n).astype(np.float64)):
        assert float(nanmedian_all(torch.from_numpy(values))) == np.median(values)


def test_sigma_clip_bounds_match_scipy():
    values = np.random.default_rng(0).standard_t(3, 50_000).astype(np.float32)
    _, low, high = stats.sigmaclip(values.astype(np.float64), 3, 3)
    assert sigma_clip_bounds(torch.from_numpy(values), 3.0) == pytest.approx((low, high), rel=1e-12)


def test_steps_give_back_what_they_were_given():
    stack = awkward_stack()
    assert isinstance(mask_no_data(stack), np.ndarray)
    tensor = mask_no_data(torch.from_numpy(stack))
    assert isinstance(tensor, torch.Tensor) and isinstance(temporal_nanmedian(tensor), torch.Tensor)
    cropped, _, _ = crop_valid(tensor)
    assert isinstance(cropped, torch.Tensor) and cropped.shape == (11, 17, 48)


def test_fits_arrays_taken_as_they_are():
    """Big-endian (as FITS stores them) and read-only arrays give the native result, without a warning."""
    stack = awkward_stack()
    big_endian = stack.astype(">f4")
    big_endian.flags.writeable = False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = prepare_stack(big_endian, 4)
    assert np.array_equal(got.frames, prepare_stack(stack, 4).frames)
    assert not np.isnan(stack[0, 5, 5]) and big_endian[6, 25, 0] == np.inf  # inputs untouched


def test_prepare_stack_rejects_stacks_without_common_data():
    stack = np.ones((2, 4, 4), np.float32)
    stack[0, :2] = 0
    stack[1, 2:] = 0
    with pytest.raises(EmptyStackError, match="no pixel is valid"):
        prepare_stack(stack, 2)
    with pytest.raises(EmptyStackError, match="constant"):
        prepare_stack(np.ones((2, 4, 4)), 2)
