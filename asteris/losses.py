"""The two-term self-supervised ASTERIS loss (spec section 4)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = ["asteris_loss"]


def asteris_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    *,
    smooth_l1_weight: float = 0.125e6,
    mean_mse_weight: float = 1e6,
    mask_zeros: bool = True,
) -> torch.Tensor:
    """``w1 * SmoothL1(pred, target) + w2 * MSE(min(mean_t pred, max mean_t target), nanmean_t target)``.

    Parameters
    ----------
    pred, target : Tensor, shape (B, 1, T, H, W)
        Network output for the input half and the other (target) half.
    mask_zeros : bool
        Ignore target voxels that are zero (no data) in both terms.

    Examples
    --------
    >>> import torch
    >>> t = torch.rand(2, 1, 4, 8, 8) + 0.5
    >>> float(asteris_loss(t, t))
    0.0
    """
    valid = target != 0 if mask_zeros else torch.ones_like(target, dtype=torch.bool)
    smooth = F.smooth_l1_loss(pred[valid], target[valid])
    target_mean = torch.nanmean(torch.where(valid, target, torch.nan), dim=2)
    cap = torch.nan_to_num(target_mean, nan=-torch.inf).amax(dim=(-2, -1), keepdim=True)
    pred_mean = torch.minimum(pred.mean(dim=2), cap)
    finite = torch.isfinite(target_mean)
    mse = F.mse_loss(pred_mean[finite], target_mean[finite])
    return smooth_l1_weight * smooth + mean_mse_weight * mse
