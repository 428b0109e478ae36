"""Figures: before/after, mock-field views, noise power spectra, colour-redshift, injection-recovery."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from astropy.visualization import AsinhStretch, ImageNormalize, ZScaleInterval

from .fileio import atomic_path

__all__ = [
    "plot_panels",
    "plot_before_after",
    "plot_mock_band",
    "plot_power_spectra",
    "plot_colour_redshift",
    "plot_completeness_purity",
    "plot_magnitude_bias",
    "plot_injection_cutouts",
    "plot_point_source_profiles",
    "plot_training_history",
]


def _pyplot(path):
    import matplotlib

    if path is not None:
        matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path, overwrite: bool):
    if path is not None:
        with atomic_path(Path(path), overwrite=overwrite) as tmp:
            fig.savefig(tmp, dpi=110, format="png")
        _pyplot(path).close(fig)
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

    plt = _pyplot(path)
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
    return _save(fig, path, overwrite)


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


def plot_mock_band(
    band, path: str | os.PathLike | None = None, *, exposure: int = 0, overwrite: bool = False
):
    """One exposure, the mean coadd and the noiseless truth of a `asteris.simulate.MockBand`."""
    from .preprocess import data_mean

    data = band.stack.data
    coadd = np.nan_to_num(data_mean(data), nan=0.0)
    titles = [f"{band.name}: exposure {exposure}", f"{band.name}: mean of {len(data)} exposures",
              f"{band.name}: noiseless truth"]  # fmt: skip
    return plot_panels([data[exposure], coadd, band.truth], titles, path, reference=1, overwrite=overwrite)


def plot_power_spectra(spectra: dict, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Radially averaged noise power spectra, one line per component: ``{name: (k, power)}``."""
    plt = _pyplot(path)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), constrained_layout=True)
    for name, (k, radial, row) in spectra.items():
        axes[0].loglog(k, radial, label=name)
        axes[1].loglog(k, row, label=name)
    axes[0].set_title("radially averaged power")
    axes[1].set_title("power along columns at k_x = 0 (row offsets)")
    for ax in axes:
        ax.set_xlabel("spatial frequency [1/px]")
        ax.set_ylabel("power / white-noise power")
    axes[0].legend(fontsize=8)
    return _save(fig, path, overwrite)


def plot_colour_redshift(
    catalog, blue: str, red: str, path: str | os.PathLike | None = None, *, overwrite: bool = False
):
    """Colour ``mag_blue - mag_red`` against redshift, one colour per population type."""
    if len(catalog) == 0:
        raise ValueError("the catalogue is empty: nothing to plot")
    plt = _pyplot(path)
    fig, ax = plt.subplots(figsize=(7, 5), constrained_layout=True)
    with np.errstate(invalid="ignore"):  # inf - inf: no flux in either band, plotted as a full dropout
        colour = np.asarray(catalog[f"mag_{blue}"].value - catalog[f"mag_{red}"].value, dtype=float)
    colour = np.clip(np.nan_to_num(colour, nan=6.0, posinf=6.0), -1.5, 6.0)
    for kind in sorted(set(catalog["type"])):
        sel = np.asarray(catalog["type"] == kind)
        ax.scatter(np.asarray(catalog["z"])[sel], colour[sel], s=8, label=f"{kind} ({sel.sum()})")
    ax.set_xlabel("redshift")
    ax.set_ylabel(f"{blue} - {red} [AB mag] (clipped at 6)")
    ax.legend(fontsize=8)
    return _save(fig, path, overwrite)


def _method_colours(methods: list[str]) -> dict:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def plot_completeness_purity(result, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Completeness and purity against magnitude per method, at each method's chosen threshold."""
    plt = _pyplot(path)
    colours = _method_colours(result.methods)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7, 7), sharex=True, constrained_layout=True)
    for method in result.methods:
        threshold = result.best_threshold(method)
        if not np.isfinite(threshold):
            continue
        centres, fraction, _ = result.completeness(method, threshold)
        m90 = result.m90(method)
        top.plot(
            centres, fraction, "o-", color=colours[method], label=f"{method} ({threshold:g}σ): m90 {m90:.2f}"
        )
        top.axvline(m90, color=colours[method], ls=":", lw=1)
        if result.negatives is None:
            centres, purity, _ = result.purity_curve(method, threshold)
            bottom.plot(centres, purity, "o-", color=colours[method], label=method)
    for ax, label in ((top, "completeness"), (bottom, "purity (detected mag)")):
        ax.axhline(0.9, color="0.5", lw=0.8)
        ax.set_ylim(-0.02, 1.05)
        ax.set_ylabel(label)
    top.legend(fontsize=8)
    bottom.set_xlabel("AB magnitude")
    return _save(fig, path, overwrite)


def plot_magnitude_bias(result, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Measured minus injected aperture magnitude (median and NMAD band) against magnitude, per method."""
    plt = _pyplot(path)
    colours = _method_colours(result.methods)
    fig, ax = plt.subplots(figsize=(7, 4), constrained_layout=True)
    for method in result.methods:
        centres, median, scatter = result.photometry(method)
        ax.plot(centres, median, "o-", color=colours[method], label=method)
        ax.fill_between(centres, median - scatter, median + scatter, color=colours[method], alpha=0.15)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.set_xlabel("injected AB magnitude")
    ax.set_ylabel("measured - injected [mag]")
    ax.legend(fontsize=8)
    return _save(fig, path, overwrite)


def plot_injection_cutouts(
    result, path: str | os.PathLike | None = None, *, n: int = 6, size: int = 25, overwrite: bool = False
):
    """Cutouts of injected sources near the limit: one exposure, each method, and the truth."""
    plt = _pyplot(path)
    last = result.injected[result.injected["realization"] == result.injected["realization"].max()]
    limit = result.m90(result.reference)
    order = np.argsort(
        np.abs(last["mag"].value - (limit if np.isfinite(limit) else np.median(last["mag"].value)))
    )
    rows = last[order[:n]]
    names = ["exposure", *result.methods, "truth" if "truth" in result.images else "injected_model"]
    fig, axes = plt.subplots(n, len(names), figsize=(1.6 * len(names), 1.6 * n), constrained_layout=True,
                             squeeze=False)  # fmt: skip
    half = size // 2
    for i, row in enumerate(rows):
        y0, x0 = int(round(row["y"])) - half, int(round(row["x"])) - half
        ref = result.images[result.reference][y0 : y0 + size, x0 : x0 + size]
        vmin, vmax = np.nanpercentile(ref, [1, 99.5])
        for j, name in enumerate(names):
            ax = axes[i, j]
            ax.imshow(result.images[name][y0 : y0 + size, x0 : x0 + size], origin="lower", cmap="gray",
                      vmin=vmin, vmax=vmax, interpolation="nearest")  # fmt: skip
            ax.set_xticks([]), ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
        axes[i, 0].set_ylabel(f"{row['mag'].value:.2f} {row['kind']}", fontsize=8)
    return _save(fig, path, overwrite)


def plot_point_source_profiles(
    result, path: str | os.PathLike | None = None, *, min_snr: float = 20.0, overwrite: bool = False
):
    """Radial profiles of the bright injected point sources stacked, per method and for the truth."""
    from .recovery import stacked_profile

    plt = _pyplot(path)
    last = result.injected[result.injected["realization"] == result.injected["realization"].max()]
    bright = last[(last["kind"] == "point") & (last["ref_snr"] >= min_snr)]
    radius = 3 * result.aperture_diameter
    colours = _method_colours(result.methods)
    fig, ax = plt.subplots(figsize=(6, 4), constrained_layout=True)
    for name in [*result.methods, "injected_model"]:
        r, profile = stacked_profile(result.images[name], bright["x"], bright["y"], radius=radius)
        style = {"color": "k", "ls": "--"} if name == "injected_model" else {"color": colours[name]}
        ax.plot(r, profile, label="truth" if name == "injected_model" else name, **style)
    ax.set_yscale("log")
    ax.set_xlabel("radius [px]")
    ax.set_ylabel("stacked profile (unit flux)")
    ax.set_title(f"{len(bright)} point sources with reference S/N >= {min_snr:g}")
    ax.legend(fontsize=8)
    return _save(fig, path, overwrite)


def plot_training_history(
    history: list[dict], path: str | os.PathLike | None = None, *, overwrite: bool = False
):
    """Validation loss against training step (``TrainResult.history``)."""
    plt = _pyplot(path)
    steps = [row["step"] for row in history if row.get("val_loss") is not None]
    losses = [row["val_loss"] for row in history if row.get("val_loss") is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5), constrained_layout=True)
    ax.plot(steps, losses, "o-")
    ax.set_xlabel("training step")
    ax.set_ylabel("validation loss")
    ax.set_title("self-supervised training: predicting held-out exposures")
    return _save(fig, path, overwrite)
