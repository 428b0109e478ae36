"""Figures: before/after comparison of a coadd and a denoised image."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval

from .fileio import atomic_path

__all__ = ["plot_before_after"]


def plot_before_after(
    before: np.ndarray,
    after: np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    titles: tuple[str, str] = ("coadd (mean of exposures)", "ASTERIS"),
    overwrite: bool = False,
):
    """Show two images side by side with one shared asinh/zscale stretch.

    The stretch is set on ``before`` so that noise levels compare directly;
    each title gives the image's 3-sigma-clipped background RMS.
    Returns the matplotlib figure; writes a PNG atomically if ``path`` is given.
    """
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt
    from astropy.stats import sigma_clipped_stats

    finite = np.nan_to_num(before, nan=float(np.nanmedian(before)))
    norm = ImageNormalize(finite, interval=ZScaleInterval(), stretch=AsinhStretch(0.1))
    fig, axes = plt.subplots(1, 2, figsize=(10, 5), sharex=True, sharey=True, constrained_layout=True)
    for ax, image, title in zip(axes, (before, after), titles):
        im = ax.imshow(image, origin="lower", cmap="gray", norm=norm, interpolation="nearest")
        rms = sigma_clipped_stats(image[np.isfinite(image)], sigma=3)[2]
        ax.set_title(f"{title}\nbackground RMS {rms:.3g} (3-sigma clipped)")
        ax.set_xlabel("x [px]")
    axes[0].set_ylabel("y [px]")
    fig.colorbar(im, ax=axes, shrink=0.8, label="surface brightness")
    if path is not None:
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        plt.close(fig)
    return fig
