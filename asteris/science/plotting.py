"""Figures of the science tools: injection-recovery, photometric redshifts, z > 8.5 candidates
and the UV luminosity function."""

from __future__ import annotations

import os

import numpy as np

from ..plotting import pyplot, save_figure

__all__ = [
    "plot_depth_sweep",
    "plot_convergence",
    "plot_scaling",
    "plot_completeness_purity",
    "plot_magnitude_bias",
    "plot_injection_cutouts",
    "compare_injections",
    "plot_point_source_profiles",
    "plot_photoz",
    "plot_candidates",
    "compare_candidates",
    "plot_completeness_map",
    "plot_luminosity_function",
]


def _method_colours(methods: list[str]) -> dict:
    import matplotlib

    cmap = matplotlib.colormaps["tab10"]
    return {m: cmap(i % 10) for i, m in enumerate(methods)}


def plot_completeness_purity(result, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Completeness and purity against magnitude per method, at each method's chosen threshold."""
    plt = pyplot(path)
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
    top.set_title(f"{getattr(result, 'protocol', 'optimal')} protocol", fontsize=10)
    bottom.set_xlabel("AB magnitude")
    return save_figure(fig, path, overwrite)


def plot_depth_sweep(sweep: dict, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """m90 against the strength of the structured noise (``benchmarks/depth.py --sweep``'s ``sweep``).

    Top: the ivar coadd's m90 and each method's (optimal protocol), with the
    limit (scale 0); bottom: each method's dm90 against the headroom, the
    most any method can gain at that strength.
    """
    plt = pyplot(path)
    rows = sweep["rows"]
    scales = np.array([row["scale"] for row in rows])
    methods = [m for m in rows[0]["dm90"] if any(row["dm90"].get(m) is not None for row in rows)]
    colours = _method_colours(["ivar", *methods])
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True, constrained_layout=True)
    coadd = np.array([row["coadd_m90"] for row in rows])
    top.plot(scales, coadd, "o-", color=colours["ivar"], label="ivar coadd")
    top.axhline(coadd[0], color="0.5", ls="--", lw=1, label="limit (scale 0: no structured noise)")
    headroom = np.array([row["headroom"] for row in rows])
    bottom.plot(scales, headroom, "k--", label="headroom (limit - coadd)")
    for method in methods:
        # None where no threshold reaches 90% purity: a gap in the line
        gain = np.array([np.nan if row["dm90"][method] is None else row["dm90"][method] for row in rows])
        error = np.array([row["dm90_err"][method] or 0.0 for row in rows])
        top.plot(scales, coadd + gain, "o-", color=colours[method], label=method)
        bottom.errorbar(scales, gain, error, fmt="o-", color=colours[method], label=method, capsize=2)
    bottom.axhline(0, color="0.5", lw=0.8)
    top.set_ylabel("m90 (AB), optimal protocol")
    bottom.set_ylabel("dm90 vs ivar coadd (mag)")
    bottom.set_xlabel("structured_scale (0: no structured noise, 1: calibrated defaults)")
    top.legend(fontsize=8)
    bottom.legend(fontsize=8)
    return save_figure(fig, path, overwrite)


def plot_convergence(convergence: dict, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """dm90 and validation loss against training steps (``benchmarks/depth.py --convergence``).

    Top: each reference preset's dm90 over the ivar coadd (optimal protocol)
    with its paired-bootstrap error; bottom: the validation loss the run logged
    at the same steps.
    """
    plt = pyplot(path)
    rows = convergence["rows"]
    presets = list(dict.fromkeys(row["preset"] for row in rows))
    colours = _method_colours(presets)
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(6.5, 6), sharex=True, constrained_layout=True)
    for preset in presets:
        mine = sorted((row for row in rows if row["preset"] == preset), key=lambda row: row["step"])
        steps = [row["step"] for row in mine]
        gain = [np.nan if row["dm90"] is None else row["dm90"] for row in mine]
        top.errorbar(steps, gain, [row["dm90_err"] or 0.0 for row in mine], fmt="o-", capsize=2,
                     color=colours[preset], label=preset)  # fmt: skip
        loss = [np.nan if row["val_loss"] is None else row["val_loss"] for row in mine]
        bottom.plot(steps, loss, "o-", color=colours[preset], label=preset)
    top.axhline(0, color="0.5", lw=0.8)
    top.set_ylabel("dm90 vs ivar coadd (mag)")
    bottom.set_ylabel("validation loss")
    bottom.set_xlabel("training steps")
    bottom.set_xscale("log")
    top.legend(fontsize=8)
    return save_figure(fig, path, overwrite)


def plot_scaling(scaling: dict, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """A pointing's time per stage and peak memory against its area (``benchmarks/scaling.py``).

    Left: seconds per stage, with the straight-line fits of ``real_pointing``
    where there are; right: the process's peak resident memory and, where measured, its peak
    anonymous memory (what it holds, without the file cache of its memory-mapped stacks), with
    their fits.
    Both axes logarithmic, so that the extrapolation to a real pointing shows.
    """
    plt = pyplot(path)
    runs = scaling["runs"]
    areas = np.array([r["area_arcmin2"] for r in runs])
    fits = scaling.get("real_pointing", {}).get("fits", {})
    reach = np.geomspace(areas.min(), scaling.get("real_pointing", {}).get("area_arcmin2", areas.max()), 50)
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), constrained_layout=True)
    stages = [s for s in ("train", "search", "injections") if s in runs[0]["seconds"]]
    colours = _method_colours(stages)
    for stage in stages:
        left.plot(areas, [r["seconds"][stage] for r in runs], "o", color=colours[stage], label=stage)
        if stage in fits:
            line = fits[stage]["a"] + fits[stage]["b_per_arcmin2"] * reach
            left.plot(reach, line, "--", color=colours[stage])
    memories = (("peak_rss_mb", "k", "resident set"), ("peak_anonymous_mb", "C3", "anonymous (held)"))
    for key, colour, label in memories:
        if all(key in r for r in runs):
            right.plot(areas, [r[key]["process"] / 1024 for r in runs], "o", color=colour, label=label)
        if key in fits:
            line = (fits[key]["a"] + fits[key]["b_per_arcmin2"] * reach) / 1024
            right.plot(reach, line, "--", color=colour, label=f"{label}: fit, extrapolated")
    for ax, label in ((left, "seconds"), (right, "GB")):
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("pointing area (arcmin$^2$)")
        ax.set_ylabel(label)
        ax.legend(fontsize=8)
    return save_figure(fig, path, overwrite)


def plot_magnitude_bias(result, path: str | os.PathLike | None = None, *, overwrite: bool = False):
    """Measured minus injected aperture magnitude (median and NMAD band) against magnitude, per method."""
    plt = pyplot(path)
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
    return save_figure(fig, path, overwrite)


def plot_injection_cutouts(
    result, path: str | os.PathLike | None = None, *, n: int = 6, size: int = 25, overwrite: bool = False
):
    """Cutouts of injected sources near the limit: one exposure, each method, and the truth."""
    plt = pyplot(path)
    rows = _near_limit(result)[:n]
    names = ["exposure", *result.methods, _truth_name(result)]
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
    return save_figure(fig, path, overwrite)


def _last_realization(result):
    return result.injected[result.injected["realization"] == result.injected["realization"].max()]


def _near_limit(result):
    """The last realization's injected sources, nearest the reference method's m90 first."""
    last = _last_realization(result)
    limit = result.m90(result.reference)
    mags = last["mag"].value
    return last[np.argsort(np.abs(mags - (limit if np.isfinite(limit) else np.median(mags))))]


def _truth_name(result) -> str:
    return "truth" if "truth" in result.images else "injected_model"


def compare_injections(result, *, size: int = 128, wcs=None):
    """Injected sources near the limit in one blinkable frame: each method and the truth (or the
    injected model), every injected source of that realization circled at its true position.

    Returns an `~asteris.comparator.ImageComparator` centred on the source nearest the reference
    method's m90, ``size`` pixels a side, on the zscale stretch (faint sources show).
    """
    from ..comparator import compare_images

    centre, last = _near_limit(result)[0], _last_realization(result)
    names = [*result.methods, _truth_name(result)]
    return compare_images(
        {name: result.images[name] for name in names}, wcs=wcs, center=(centre["x"], centre["y"]), size=size,
        markers=np.column_stack([last["x"], last["y"]]), reference=result.reference, stretch="zscale",
        title=f"injected sources near m90 (circled), {len(last)} in this realization",
    )  # fmt: skip


def compare_candidates(found, images: dict, *, ids=None, n: int = 4, size: int = 41, reference=None) -> list:
    """Per candidate, its stamp in every band in one blinkable frame (an
    `~asteris.comparator.ImageComparator` each), the candidate circled.

    ``found`` and ``ids``/``n`` pick the candidates as in `plot_candidates`; ``images`` maps band to
    image; ``reference`` is the band that sets the shared stretch (default the last, the reddest).
    """
    from ..comparator import compare_images

    reference = reference or list(images)[-1]
    views = []
    for source in _chosen_candidates(found, ids, n):
        x, y = float(np.asarray(source["x"])), float(np.asarray(source["y"]))
        title = f"candidate #{source['id']}: z_phot {source['z_phot']:.2f}, every band on one stretch"
        views.append(compare_images(images, center=(x, y), size=size, markers=[(x, y)], reference=reference,
                                    title=title))  # fmt: skip
    return views


def _chosen_candidates(found, ids, n: int):
    """The rows ``ids``, or the ``n`` selected candidates of highest detection S/N."""
    if ids is None:
        chosen = found[np.asarray(found["selected"])]
        chosen = chosen[np.argsort(-np.asarray(chosen["snr_det"]))][:n]
    else:
        chosen = found[np.isin(found["id"], ids)]
    if len(chosen) == 0:
        raise ValueError("no candidate to plot")
    return chosen


def plot_point_source_profiles(
    result, path: str | os.PathLike | None = None, *, min_snr: float = 20.0, overwrite: bool = False
):
    """Radial profiles of the bright injected point sources stacked, per method and for the truth."""
    from .photometry import stacked_profile

    plt = pyplot(path)
    last = _last_realization(result)
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
    return save_figure(fig, path, overwrite)


def plot_photoz(
    z_true,
    z_phot,
    snr,
    path: str | os.PathLike | None = None,
    *,
    outlier: float = 0.15,
    overwrite: bool = False,
):
    """Photometric against true redshift, coloured by detection S/N, with the outlier bounds."""
    plt = pyplot(path)
    z_true, z_phot = np.asarray(z_true, float), np.asarray(z_phot, float)
    fig, ax = plt.subplots(figsize=(5.5, 5), constrained_layout=True)
    points = ax.scatter(z_true, z_phot, c=np.log10(np.clip(snr, 1, None)), s=10, cmap="viridis")
    line = np.linspace(0, max(z_true.max(), z_phot.max()) + 0.5, 50)
    ax.plot(line, line, "k-", lw=0.8)
    for sign in (-1, 1):
        ax.plot(line, line + sign * outlier * (1 + line), "k:", lw=0.8)
    ax.axhline(8.5, color="tab:red", lw=0.6, ls="--")
    ax.set_xlabel("true redshift")
    ax.set_ylabel("photometric redshift")
    fig.colorbar(points, ax=ax, label="log10 detection S/N")
    return save_figure(fig, path, overwrite)


def plot_candidates(
    found,
    images: dict,
    filters: dict,
    path: str | os.PathLike | None = None,
    *,
    ids=None,
    n: int = 4,
    size: int = 31,
    overwrite: bool = False,
):
    """Per candidate: a cutout in every band, P(z), and the photometry with the best-fit model.

    ``found`` is a `~asteris.science.highz.search_high_z` table; ``ids`` picks the rows
    (default: the ``n`` selected candidates of highest detection S/N).
    """
    from sedpy.observate import load_filters

    plt = pyplot(path)
    chosen = _chosen_candidates(found, ids, n)
    bands = list(filters)
    pivots = np.array([f.wave_pivot for f in load_filters(list(filters.values()))]) / 1e4
    fig, axes = plt.subplots(len(chosen), len(bands) + 2, figsize=(1.3 * len(bands) + 6, 1.6 * len(chosen)),
                             constrained_layout=True, squeeze=False,
                             gridspec_kw={"width_ratios": [1] * len(bands) + [2.2, 2.2]})  # fmt: skip
    for row, source in zip(axes, chosen):
        _candidate_cutouts(row[: len(bands)], images, bands, source, size)
        row[-2].plot(found.meta["z_grid"], source["p_z"], color="k", lw=0.8)
        row[-2].set_xlabel("z", fontsize=7)
        row[-2].set_title(f"#{source['id']}: z = {source['z_phot']:.2f}", fontsize=8)
        flux = np.array([source[f"f_{b}"].value for b in bands])
        error = np.array([source[f"e_{b}"].value for b in bands])
        model = np.array([source[f"model_{b}"].value for b in bands])
        row[-1].errorbar(pivots, flux, error, fmt="o", ms=3, color="k", lw=0.8)
        row[-1].plot(pivots, model, "s", mfc="none", color="tab:red", ms=5)
        row[-1].axhline(0, color="0.6", lw=0.5)
        row[-1].set_xlabel("micron", fontsize=7)
        row[-1].set_title("nJy: data, model", fontsize=8)
        for ax in row[-2:]:
            ax.tick_params(labelsize=6)
    return save_figure(fig, path, overwrite)


def _candidate_cutouts(axes, images: dict, bands: list, source, size: int) -> None:
    half = size // 2
    y0 = int(round(float(np.asarray(source["y"])))) - half
    x0 = int(round(float(np.asarray(source["x"])))) - half
    for ax, band in zip(axes, bands):
        cut = images[band][max(y0, 0) : y0 + size, max(x0, 0) : x0 + size]
        scale = np.nanpercentile(np.abs(images[band][::4, ::4]), 99)
        ax.imshow(cut, origin="lower", cmap="gray", vmin=-0.2 * scale, vmax=scale, interpolation="nearest")
        ax.set_xticks([]), ax.set_yticks([])
        ax.set_title(f"{band} {source[f'f_{band}'].value / source[f'e_{band}'].value:.1f}s", fontsize=7)


def plot_completeness_map(
    completeness, muv_edges, z_edges, path: str | os.PathLike | None = None, *, title: str = "",
    overwrite: bool = False,
):  # fmt: skip
    """Selection completeness per (M_UV, z) cell of the injected galaxies."""
    plt = pyplot(path)
    fig, ax = plt.subplots(figsize=(5.5, 4), constrained_layout=True)
    mesh = ax.pcolormesh(z_edges, muv_edges, np.ma.masked_invalid(completeness), vmin=0, vmax=1, cmap="magma")
    ax.invert_yaxis()
    ax.set_xlabel("redshift")
    ax.set_ylabel("M_UV [mag]")
    ax.set_title(title, fontsize=9)
    fig.colorbar(mesh, ax=ax, label="completeness")
    return save_figure(fig, path, overwrite)


def plot_luminosity_function(
    binned: dict,
    path: str | os.PathLike | None = None,
    *,
    literature=None,
    input_function=None,
    fits: dict | None = None,
    overwrite: bool = False,
):
    """Binned phi(M_UV) per method (Poisson error bars, arrows for empty bins), with the
    literature, the input function of a mock and model fits."""
    plt = pyplot(path)
    fig, ax = plt.subplots(figsize=(6.5, 5), constrained_layout=True)
    grid = np.linspace(-23.0, -17.0, 200)
    if input_function is not None:
        ax.plot(grid, input_function(grid), "k--", lw=1, label="input")
    if literature is not None:
        _plot_literature(ax, literature)
    colours = _method_colours(list(binned))
    for i, (name, table) in enumerate(binned.items()):
        m, phi = table["M_UV"].value + 0.06 * i, table["phi"].value
        lo, hi = table["phi_lo"].value, table["phi_hi"].value
        full = np.asarray(table["n"]) > 0
        ax.errorbar(m[full], phi[full], [phi[full] - lo[full], hi[full] - phi[full]], fmt="o",
                    color=colours[name], label=name, ms=6, zorder=3)  # fmt: skip
        ax.errorbar(m[~full], hi[~full], yerr=0.3 * hi[~full], uplims=True, fmt="none", color=colours[name])
        if fits and name in fits:
            band_lo, band_hi = fits[name].band(grid)
            ax.fill_between(grid, band_lo, band_hi, color=colours[name], alpha=0.2, lw=0)
    ax.set_yscale("log")
    ax.set_xlim(-23, -17)
    ax.invert_xaxis()
    ax.set_xlabel("M_UV [mag]")
    ax.set_ylabel("phi [Mpc^-3 mag^-1]")
    ax.legend(fontsize=7, loc="lower right")
    return save_figure(fig, path, overwrite)


def _plot_literature(ax, table) -> None:
    markers = iter("sDv^<>p")
    for reference in sorted(set(table["reference"])):
        rows = table[table["reference"] == reference]
        limit = np.asarray(rows["upper_limit"], bool)
        m, phi = rows["M_UV"].value, rows["phi"].value
        label = f"{reference} (z = {', '.join(f'{z:g}' for z in sorted(set(rows['z'])))})"
        errors = [rows["phi_err_lo"].value[~limit], rows["phi_err_hi"].value[~limit]]
        ax.errorbar(m[~limit], phi[~limit], errors, fmt=next(markers), color="0.55", mfc="none", ms=5, lw=0.7,
                    label=label)  # fmt: skip
        ax.errorbar(
            m[limit], phi[limit], yerr=0.3 * phi[limit], uplims=True, fmt="none", color="0.55", lw=0.7
        )
