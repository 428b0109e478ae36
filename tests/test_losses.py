"""The two-term self-supervised loss."""

import pytest
import torch

from asteris.losses import asteris_loss


def test_the_loss_is_zero_on_the_target_and_grows_with_the_error():
    torch.manual_seed(0)
    target = torch.rand(2, 1, 4, 8, 8) + 0.5
    assert float(asteris_loss(target, target)) == 0.0
    small = asteris_loss(target + 0.01, target)
    large = asteris_loss(target + 0.1, target)
    assert 0 < float(small) < float(large)


def test_no_data_voxels_are_ignored():
    target = torch.ones(1, 1, 4, 8, 8)
    target[..., :2, :] = 0  # no data
    pred = target.clone()
    pred[..., :2, :] = 100.0  # whatever the network says where there is no data
    assert float(asteris_loss(pred, target)) == pytest.approx(0.0)
    assert float(asteris_loss(pred, target, mask_zeros=False)) > 0


def test_loss_terms():
    target = torch.rand(2, 1, 4, 8, 8) + 1
    assert asteris_loss(target, target).item() == 0
    pred = target - 0.1  # below the clamp
    expected = 0.125e6 * 0.5 * 0.01 + 1e6 * 0.01
    assert asteris_loss(pred, target).item() == pytest.approx(expected, rel=1e-4)
    # zeros in the target are no data: they do not count
    masked = target.clone()
    masked[:, :, :, :2] = 0
    assert asteris_loss(pred, masked).item() == pytest.approx(expected, rel=1e-4)
    # the mean term is clamped from above at the brightest target mean
    big = target.clone()
    big[..., 0, 0] += 100
    assert asteris_loss(big, target, smooth_l1_weight=0).item() < 1e6 * 100**2 / 64
