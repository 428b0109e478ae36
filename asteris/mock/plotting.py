"""Figures of the mock universe: one band, the noise power spectra and colour against redshift."""

from __future__ import annotations

import os

import numpy as np

from ..plotting import plot_panels, pyplot, save_figure

__all__ = ["plot_mock_band", "plot_power_spectra", "plot_colour_redshift"]


def plot_mock_band(
    band, path: str | os.PathLike | None = None, *, exposure: int = 0, overwrite: bool = False
):
    """One exposure, the mean coadd and the noiseless truth of a `asteris.mock.simulate.MockBand`."""
    from ..preprocess import data_mean

    data = band.stack.data
    coadd = np.nan_to_num(data_mean(data), nan=0.0)
    titles = [f"{band.name}: exposure {exposure}", f"{band.name}: mean of {len(data)} exposures",
              f"{band.name}: noiseless truth"]  # fmt: skip
    return plot_panels([data[exposure], coadd, band.truth], titles, path, reference=1, overwrite=overwrite)


def plot_power_spectra(spectra: dict, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Radially averaged noise power spectra, one line per component: ``{name: (k, power)}``."""
    plt = pyplot(path)
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
    return save_figure(fig, path, overwrite)


def plot_colour_redshift(
    catalog, blue: str, red: str, path: str | os.PathLike | None = None, *, overwrite: bool = False
):
    """Colour ``mag_blue - mag_red`` against redshift, one colour per population type."""
    if len(catalog) == 0:
        raise ValueError("the catalogue is empty: nothing to plot")
    plt = pyplot(path)
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
    return save_figure(fig, path, overwrite)
