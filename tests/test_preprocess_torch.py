"""The torch preprocessing (used on GPUs) against the numpy reference, on CPU and on CUDA when present."""

import numpy as np
import pytest
import torch
from scipy import stats

from asteris.errors import EmptyStackError
from asteris.mock.synthetic import synthetic_wcs
from asteris.preprocess import prepare_stack, restore_image
from asteris.preprocess_torch import (
    nanmedian_all,
    nanmedian_frames,
    prepare_stack_torch,
    restore_image_torch,
    sigma_clip_bounds,
)

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


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("frames", [8, 4])
def test_prepare_stack_torch_matches_numpy(device, frames):
    stack = awkward_stack()
    wcs = synthetic_wcs(stack.shape[1:])
    ref = prepare_stack(stack, frames, wcs=wcs)
    got = prepare_stack_torch(stack, frames, wcs=wcs, device=device)
    assert got.crop == ref.crop and got.exposures == ref.exposures
    assert got.wcs.wcs.crpix.tolist() == ref.wcs.wcs.crpix.tolist()
    assert got.norm.median == pytest.approx(ref.norm.median, rel=1e-12)
    assert got.norm.std == pytest.approx(ref.norm.std, rel=1e-9)
    for name in ("frames", "residual_median", "input_mean"):
        a, b = getattr(got, name), getattr(ref, name)
        assert a.dtype == np.float32 and a.shape == b.shape, name
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True, err_msg=name)
    assert (got.frames == 0).sum() == (ref.frames == 0).sum()


@pytest.mark.parametrize("device", DEVICES)
def test_restore_image_torch_matches_numpy(device):
    prepared = prepare_stack(awkward_stack(), 4)
    output = prepared.frames * 0.9 + 0.1  # any network output
    ref, ref_mask = restore_image(output, prepared)
    got, mask = restore_image_torch(output, prepared, device=device)
    np.testing.assert_array_equal(mask, ref_mask)
    np.testing.assert_allclose(got, ref, rtol=1e-6, atol=1e-7, equal_nan=True)


def test_sigma_clip_bounds_match_scipy():
    values = np.random.default_rng(0).standard_t(3, 50_000).astype(np.float32)
    _, low, high = stats.sigmaclip(values.astype(np.float64), 3, 3)
    got = sigma_clip_bounds(torch.from_numpy(values), 3.0)
    assert got == pytest.approx((low, high), rel=1e-12)


@pytest.mark.parametrize("exposures", [1, 2, 5, 8])
def test_medians_are_numpy_medians(exposures):
    x = np.random.default_rng(exposures).normal(size=(exposures, 9, 7)).astype(np.float32)
    x[0, 0] = np.nan
    x[:, 1, 1] = np.nan
    with np.errstate(all="ignore"), pytest.warns(RuntimeWarning):
        expected = np.nanmedian(x, axis=0)
    np.testing.assert_array_equal(nanmedian_frames(torch.from_numpy(x)).numpy(), expected)
    assert nanmedian_all(torch.from_numpy(x)).item() == np.nanmedian(x)
    assert nanmedian_all(torch.full((3,), float("nan")), empty=0.0).item() == 0.0


def test_prepare_stack_torch_rejects_stacks_without_common_data():
    stack = np.ones((2, 4, 4), np.float32)
    stack[0, :2] = 0
    stack[1, 2:] = 0
    with pytest.raises(EmptyStackError, match="no pixel is valid"):
        prepare_stack_torch(stack, 2)
    with pytest.raises(EmptyStackError, match="constant"):
        prepare_stack_torch(np.ones((2, 4, 4)), 2)
