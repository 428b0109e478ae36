"""Figures of the core: images side by side (before/after) and the training history.

The mock and the science tools keep their figures beside them
(`asteris.mock.plotting`, `asteris.science.plotting`). matplotlib comes with
the ``plot`` extra (and with ``science``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .extras import require_extra
from .fileio import atomic_path

__all__ = ["plot_panels", "plot_before_after", "plot_training_history", "pyplot", "save_figure"]


def pyplot(path):
    """matplotlib's pyplot, on the Agg backend when the figure goes to a file."""
    require_extra("plot", feature="plotting")
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def save_figure(fig, path, overwrite: bool):
    """Write ``fig`` to ``path`` as a PNG atomically (if a path is given) and return it."""
    if path is not None:
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        pyplot(path).close(fig)
    return fig


def plot_panels(
    images: list[np.ndarray],
    titles: list[str],
    path: str | os.PathLike | None = None,
    *,
    reference: int = 0,
    overwrite: bool = False,
):
    """Images side by side with one asinh/zscale stretch, set on ``images[reference]``.

    Each title gets the image's 3-sigma-clipped background RMS. Returns the
    figure; writes a PNG atomically if ``path`` is given.
    """
    from astropy.stats import sigma_clipped_stats

    plt = pyplot(path)
    from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval  # imports matplotlib

    ref = images[reference]
    finite = np.nan_to_num(ref, nan=float(np.nanmedian(ref)))
    norm = ImageNormalize(finite, interval=ZScaleInterval(), stretch=AsinhStretch(0.1))
    fig, axes = plt.subplots(1, len(images), figsize=(5 * len(images), 5), sharex=True, sharey=True,
                             constrained_layout=True, squeeze=False)  # fmt: skip
    for ax, image, title in zip(axes[0], images, titles):
        im = ax.imshow(image, origin="lower", cmap="gray", norm=norm, interpolation="nearest")
        good = image[np.isfinite(image) & (image != 0)]
        rms = sigma_clipped_stats(good, sigma=3)[2] if good.size else np.nan
        ax.set_title(f"{title}\nbackground RMS {rms:.3g} (3-sigma clipped)")
        ax.set_xlabel("x [px]")
    axes[0, 0].set_ylabel("y [px]")
    fig.colorbar(im, ax=axes[0], shrink=0.8, label="surface brightness")
    return save_figure(fig, path, overwrite)


def plot_before_after(
    before: np.ndarray,
    after: np.ndarray,
    path: str | os.PathLike | None = None,
    *,
    titles: tuple[str, str] = ("coadd (mean of exposures)", "ASTERIS"),
    overwrite: bool = False,
):
    """Show a coadd and a denoised image side by side with one stretch (set on ``before``)."""
    return plot_panels([before, after], list(titles), path, overwrite=overwrite)


def plot_training_history(
    history: list[dict], path: str | os.PathLike | None = None, *, overwrite: bool = False
):
    """Validation loss against training step (``TrainResult.history``)."""
    plt = pyplot(path)
    steps = [row["step"] for row in history if row.get("val_loss") is not None]
    losses = [row["val_loss"] for row in history if row.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
    ax.plot(steps, losses, "o-")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss")
    ax.set_title("self-supervised training: predicting held-out exposures")
    return save_figure(fig, path, overwrite)
