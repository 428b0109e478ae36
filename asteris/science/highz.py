"""The z > 8.5 search as one chain, and mock high-z galaxies injected through all of it.

`search_high_z` runs the chain on one set of images (a coadd or denoised
images of every band): multi-band catalogue (`asteris.science.catalog`), photometric
redshifts (`asteris.science.photoz`), selection (`asteris.science.select`) and M_UV
(`asteris.science.uvlf`). `high_z_recovery` measures what that chain finds: it adds
mock z > 8.5 galaxies with full SEDs (`asteris.sky.galaxies.high_z_sources`)
to every exposure of every band, turns each band's injected stack into an
image with each method, runs the chain and records, per injected galaxy and
method, whether it was detected and selected, and its photometric redshift
and M_UV. Its completeness, binned in intrinsic M_UV and z, is what the
effective volumes of the luminosity function are built from.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial

import astropy.units as u
import numpy as np
from astropy.table import QTable, vstack
from tqdm import tqdm

from ..errors import ConfigError
from ..sky.galaxies import high_z_sources
from ..sky.sed import NJY_AB_ZP, Passbands
from ..stack import Stack, shared_coverage
from ..stats import nmad
from .catalog import combined_detection_image, multiband_catalog
from .injection import SourceRenderer, inject, injection_catalog, source_mask
from .matching import match_positions
from .photoz import photometric_redshifts
from .select import HighZCriteria, select_high_z
from .uvlf import absolute_uv_magnitude, population_weights

__all__ = [
    "search_high_z",
    "high_z_injection_catalog",
    "inject_high_z",
    "high_z_recovery",
    "match_to_truth",
    "with_truth",
    "photoz_accuracy",
    "selection_against_truth",
    "recovered_columns",
    "footprint",
    "on_footprint",
]

OUTLIER = 0.15  #: |dz| / (1 + z) beyond which a photometric redshift is an outlier

#: A method turns a stack into one image on the stack's grid (see `asteris.science.recovery`).
Method = Callable[[Stack], np.ndarray]


def search_high_z(
    images: Mapping[str, np.ndarray],
    renderers: Mapping[str, SourceRenderer],
    filters: Mapping[str, str],
    *,
    detection_bands: Sequence[str] | None = None,
    threshold: float = 5.0,
    criteria: HighZCriteria | None = None,
    wcs=None,
    photoz_options: Mapping | None = None,
    measure_images: Mapping[str, np.ndarray] | None = None,
    around: tuple | None = None,
    around_radius: float = 2.0,
) -> QTable:
    """Catalogue, photo-z, z > 8.5 selection and M_UV for one set of band images.

    ``measure_images``: dual-image mode, as in `~asteris.science.catalog.multiband_catalog`
    (detect on ``images``, which then need hold only the detection bands, and measure the
    fluxes that photo-z and M_UV use on these).
    ``around``: positions ``(x, y)`` in pixels; only the detections within ``around_radius``
    pixels of one of them are kept and fitted (what injection-recovery needs of a search:
    each object's photo-z and selection depend on its own fluxes alone, so these rows are
    those of the whole search).

    Returns the catalogue of `~asteris.science.catalog.multiband_catalog` with, per
    object, ``z_phot``, ``z_16``, ``z_84``, ``chi2_min``, ``p_z`` (grid in
    ``meta["z_grid"]``), the best-fit model fluxes ``model_<band>``, the selection columns of
    `~asteris.science.select.select_high_z` (``selected``, ``reasons``, ...), and
    ``M_UV`` and ``beta`` at ``z_phot``.
    """
    catalog = multiband_catalog(images, renderers, detection_bands=detection_bands, threshold=threshold,
                                wcs=wcs, measure_images=measure_images)  # fmt: skip
    if around is not None:
        catalog = catalog[_near(catalog, *around, radius=around_radius)]
    if len(catalog) == 0:  # a blank or negated sky: no photo-z to fit, no candidate
        out = catalog.copy()
        out["z_phot"], out["selected"], out["M_UV"] = np.zeros(0), np.zeros(0, bool), np.zeros(0) * u.mag
        return out
    photoz = photometric_redshifts(catalog, filters, **dict(photoz_options or {}))
    selection = select_high_z(catalog, photoz, filters, criteria=criteria)
    out = catalog.copy()
    models = [f"model_{band}" for band in filters]
    for name in ("z_phot", "z_16", "z_84", "chi2_min", "p_z", *models):
        out[name] = photoz[name]
    for name in selection.colnames[2:]:
        out[name] = selection[name]
    uv = absolute_uv_magnitude(catalog, photoz["z_phot"], filters)
    out["M_UV"], out["beta"] = uv["M_UV"], uv["beta"]
    out.meta.update(z_grid=photoz.meta["z_grid"], criteria=selection.meta["criteria"])
    return out


def _near(catalog: QTable, x, y, *, radius: float) -> np.ndarray:
    """Which rows of ``catalog`` lie within ``radius`` pixels of one of the positions ``x``, ``y``."""
    from scipy.spatial import cKDTree

    if len(catalog) == 0 or len(x) == 0:
        return np.zeros(len(catalog), bool)
    tree = cKDTree(np.column_stack([np.asarray(x, float), np.asarray(y, float)]))
    rows = np.column_stack([np.asarray(catalog["x"], float), np.asarray(catalog["y"], float)])
    distance, _ = tree.query(rows, distance_upper_bound=radius)
    return distance <= radius


def match_to_truth(found: QTable, truth: QTable, *, radius: float = 2.0) -> np.ndarray:
    """For each row of ``found``, the index of its truth row within ``radius`` pixels, else -1."""
    return match_positions(found["x"], found["y"], truth["x"], truth["y"], radius)


def with_truth(
    found: QTable,
    truth: QTable,
    *,
    radius: float = 2.0,
    brightest: str = "mag_jwst_f356w",
    fallback_radius: float | None = None,
) -> QTable:
    """``found`` with ``true_type`` ("spurious" when nothing matches), ``true_z`` and ``true_M_UV``.

    Each detection is matched to the brightest truth object (smallest
    ``brightest`` magnitude, when ``truth`` has that column; else the
    closest) within ``radius`` pixels: a faint neighbour that happens to lie
    closer is not what was detected. A detection with nothing that close
    takes the closest object within ``fallback_radius``, if given: faint
    galaxies blended with a neighbour are found that far from their centres.
    """
    from scipy.spatial import cKDTree

    tree = cKDTree(np.column_stack([np.asarray(truth["x"], float), np.asarray(truth["y"], float)]))
    positions = np.column_stack([np.asarray(found["x"], float), np.asarray(found["y"], float)])
    rank = None
    if brightest in truth.colnames:  # AB magnitudes are a logarithmic unit: take the plain values
        rank = np.asarray(getattr(truth[brightest], "value", truth[brightest]), float)
    index = np.full(len(found), -1)
    for i, near in enumerate(tree.query_ball_point(positions, r=radius)):
        if near:
            near = np.asarray(near)
            if rank is None:
                index[i] = near[np.argmin(np.hypot(*(positions[i] - tree.data[near]).T))]
            else:
                index[i] = near[np.argmin(np.nan_to_num(rank[near], nan=np.inf))]
    if fallback_radius is not None and np.any(index < 0):
        distance, closest = tree.query(positions[index < 0], distance_upper_bound=fallback_radius)
        index[index < 0] = np.where(np.isfinite(distance), closest, -1)
    hit, row = index >= 0, np.maximum(index, 0)
    out = found.copy()
    out["true_index"] = index
    out["true_type"] = np.where(hit, np.asarray(truth["type"])[row], "spurious")
    out["true_z"] = np.where(hit, np.asarray(truth["z"], float)[row], np.nan)
    out["true_M_UV"] = np.where(hit, u.Quantity(truth["M_UV"], u.mag).value[row], np.nan) * u.mag
    return out


def photoz_accuracy(matched: QTable, *, snr_bins: Sequence[float] = (5.0, 10.0, 20.0, np.inf)) -> QTable:
    """sigma_NMAD of dz / (1 + z) and the outlier fraction of the galaxies of a `with_truth` table.

    One row for all galaxies (stars and spurious detections left out), then one
    per bin of detection S/N.
    """
    galaxy = ~np.isin(np.asarray(matched["true_type"]), ["star", "spurious"])
    z_true = np.asarray(matched["true_z"], float)
    dz = (np.asarray(matched["z_phot"], float) - z_true) / (1 + z_true)
    snr = np.asarray(matched["snr_det"], float)
    bins = [(0.0, np.inf), *zip(snr_bins[:-1], snr_bins[1:])]
    rows = []
    for lo, hi in bins:
        d = dz[galaxy & (snr >= lo) & (snr < hi)]
        rows.append((lo, hi, d.size, nmad(d), np.mean(np.abs(d) > OUTLIER) if d.size else np.nan))
    return QTable(rows=rows, names=("snr_min", "snr_max", "n", "sigma_nmad", "outlier_fraction"))


def selection_against_truth(
    matched: QTable, truth: QTable, *, shape: tuple[int, int] | None = None, z_min: float = 8.5
) -> dict:
    """Candidates, completeness and contamination of the selection of a `with_truth` table.

    Completeness is given among the detected z > ``z_min`` galaxies and among
    all those of ``truth`` inside the image (of ``shape`` (H, W), when given);
    contamination is the fraction of candidates that are not z > ``z_min`` galaxies.
    """
    if shape is not None:
        x, y = np.asarray(truth["x"], float), np.asarray(truth["y"], float)
        truth = truth[(x >= 0) & (x < shape[1]) & (y >= 0) & (y < shape[0])]
    real = (np.asarray(matched["true_type"]) == "high_z") & (np.asarray(matched["true_z"]) > z_min)
    selected = np.asarray(matched["selected"], bool)
    n_true = int(np.sum((np.asarray(truth["type"]) == "high_z") & (np.asarray(truth["z"]) > z_min)))
    return {
        "n_candidates": int(selected.sum()),
        "n_true_high_z_in_field": n_true,
        "n_true_high_z_detected": int(real.sum()),
        "highz_completeness": float(np.sum(selected & real) / max(real.sum(), 1)),
        "highz_completeness_all": float(np.sum(selected & real) / max(n_true, 1)),
        "highz_contamination": float(np.sum(selected & ~real) / max(selected.sum(), 1)),
        "contaminant_types": sorted(str(t) for t in np.asarray(matched["true_type"])[selected & ~real]),
    }


#: Of galaxies drawn like the population (``muv_slope``), the share still drawn uniformly in M_UV and
#: z, so that the bright end, where the population is sparse, keeps injections of its own.
UNIFORM_SHARE = 0.25


def _population_draws(rng, n: int, muv_range, z_range, muv_slope: float) -> tuple[np.ndarray, np.ndarray]:
    """M_UV from a luminosity function of faint-end slope ``muv_slope`` (density ~ L^(slope + 1))
    and z from the comoving volume, each galaxy with probability `UNIFORM_SHARE` uniform instead."""
    k = -0.4 * np.log(10) * (muv_slope + 1)  # the density ~ exp(k M)
    lo, hi = muv_range
    share = rng.random(n)
    if abs(k) < 1e-9:
        steep = lo + share * (hi - lo)
    else:
        steep = np.log(np.exp(k * lo) + share * (np.exp(k * hi) - np.exp(k * lo))) / k
    grid = np.linspace(*z_range, 400)
    cdf = np.cumsum(population_weights(grid, z_range=z_range))
    volume_z = np.interp(rng.random(n) * cdf[-1], cdf, grid)
    uniform = rng.random(n) < UNIFORM_SHARE
    muvs = np.where(uniform, rng.uniform(lo, hi, n), steep)
    return muvs, np.where(uniform, rng.uniform(*z_range, n), volume_z)


def high_z_injection_catalog(
    avoid: np.ndarray,
    bands: Mapping[str, str],
    *,
    n: int,
    muv_range: tuple[float, float] = (-22.0, -18.0),
    z_range: tuple[float, float] = (8.5, 13.0),
    muv_slope: float | None = None,
    min_separation: float = 16.0,
    seed: int | np.random.Generator = 0,
) -> QTable:
    """``n`` mock z > 8.5 galaxies placed away from ``avoid`` (True = occupied).

    M_UV and z are uniform over their ranges by default. With ``muv_slope``
    they are drawn as a population is distributed, so that the faint end,
    where most galaxies and most of the migration into brighter bins come
    from, is sampled as densely as it is populated: M_UV from a luminosity
    function of that faint-end slope and z from the comoving volume, with a
    share (`UNIFORM_SHARE`) still uniform for the bright end; ``z_weight`` then
    gives each galaxy the weight that turns the z's drawn into the comoving
    volume's (`~asteris.science.uvlf.population_weights` for uniform draws).

    Sizes, Sersic indices and SEDs are those of the mock universe's high-z
    population; every band of ``bands`` (band -> sedpy filter) gets a
    ``mag_<filter>`` column (AB; inf where the galaxy has no flux), named as
    in the mock's truth catalogue (``mag_jwst_f356w``), so that either can be injected.
    """
    rng = np.random.default_rng(seed)
    placed = injection_catalog(
        avoid, n=n, mags=(20.0, 21.0), kinds=("sersic",), min_separation=min_separation, seed=rng
    )
    if muv_slope is None:
        muvs, redshifts = rng.uniform(*muv_range, n), rng.uniform(*z_range, n)
    else:
        muvs, redshifts = _population_draws(rng, n, muv_range, z_range, muv_slope)
    rows = high_z_sources(rng, Passbands(list(bands.values())), muvs, redshifts)
    out = QTable({"id": placed["id"], "x": placed["x"], "y": placed["y"]})
    out["M_UV"], out["z"] = muvs * u.mag, redshifts
    if muv_slope is not None:  # the drawn z's density is the mixture; the weight brings it to dV/dz
        volume = population_weights(redshifts, z_range=z_range)
        out["z_weight"] = volume / (UNIFORM_SHARE + (1 - UNIFORM_SHARE) * volume)
    out["r_e"] = np.array(rows.r_e) * u.arcsec
    out["sersic_n"], out["axis_ratio"], out["theta"] = rows.n, rows.q, placed["theta"]
    flux = np.reshape(rows.flux, (n, len(bands)))
    for i, band in enumerate(bands):
        positive = np.maximum(flux[:, i], 1e-30)
        mags = np.where(flux[:, i] > 0, NJY_AB_ZP - 2.5 * np.log10(positive), np.inf)
        out[f"mag_{bands[band]}"] = mags * u.ABmag
    return out


def inject_high_z(
    stacks: Mapping[str, Stack],
    catalog: QTable,
    renderers: Mapping[str, SourceRenderer],
    filters: Mapping[str, str],
) -> dict[str, Stack]:
    """Every band's stack with the galaxies of ``catalog`` added.

    ``catalog``: `high_z_injection_catalog`, or rows of a mock truth catalogue
    (the same columns: ``x``, ``y``, ``r_e``, ``sersic_n``, ``axis_ratio``,
    ``theta`` and ``mag_<filter>`` of each band's filter in ``filters``).
    """
    _check_magnitudes(catalog, [filters[b] for b in stacks])
    return {b: _injected_band(stack, catalog, renderers[b], filters[b]) for b, stack in stacks.items()}


def _check_magnitudes(catalog: QTable, band_filters) -> None:
    missing = [f"mag_{f}" for f in band_filters if f"mag_{f}" not in catalog.colnames]
    if missing:
        raise ConfigError(f"the catalogue to inject has no columns {missing}")


def _injected_band(stack: Stack, catalog: QTable, renderer: SourceRenderer, band_filter: str) -> Stack:
    band_catalog = catalog.copy()
    band_catalog["mag"] = np.asarray(catalog[f"mag_{band_filter}"].value, float) * u.mag
    return inject(stack, band_catalog, renderer)[0]


def high_z_recovery(
    stacks: Mapping[str, Stack],
    renderers: Mapping[str, SourceRenderer],
    methods: Mapping[str, Method],
    filters: Mapping[str, str],
    *,
    n_per_realization: int = 40,
    realizations: int = 2,
    muv_range: tuple[float, float] = (-22.0, -18.0),
    z_range: tuple[float, float] = (8.5, 13.0),
    detection_bands: Sequence[str] | None = None,
    criteria: HighZCriteria | None = None,
    match_radius: float = 2.0,
    avoid_sources: bool = False,
    measure_with: Method | None = None,
    sources: QTable | None = None,
    muv_slope: float | None = None,
    seed: int = 0,
    reuse: bool = True,
    mapper: Callable | None = None,
    progress: bool = True,
) -> QTable:
    """Inject mock z > 8.5 galaxies into every band and run the whole chain with each method.

    ``sources``: inject these galaxies instead of drawing them (for example
    copies of a mock field's own z > 8.5 galaxies, `asteris.science.closure`):
    rows with ``M_UV``, ``z``, ``r_e``, ``sersic_n``, ``axis_ratio``,
    ``theta`` and ``mag_<filter>`` per band, placed at random as drawn
    galaxies are, ``n_per_realization`` at a time, in as many realizations as
    they need (``realizations``, ``muv_range`` and ``z_range`` are then unused);
    each row of the result gives its row of ``sources`` in ``source``.
    ``muv_slope``: draw the galaxies as a population is distributed
    (`high_z_injection_catalog`); each row then carries its ``z_weight``.

    ``measure_with``: dual-image mode: every method detects on its own images
    and measures fluxes on this method's images of the same injected stacks
    (for example the ivar coadd), as `search_high_z` with ``measure_images``.

    ``reuse``: compute only what the injections can change; with ``measure_with``, the other
    methods' images of the detection bands alone (the fluxes are measured on the measuring
    method's images), and photo-z and selection only for the detections within
    ``match_radius`` of an injected galaxy. The rows are those of the full chain
    (``reuse=False``: every image of every band, every detection fitted), at about half its cost.

    ``mapper``: how the realizations run, ``mapper(function, items)`` giving ``function(item)``
    per item in order (``None``: one after the other, here); `asteris.fanout.cluster_map` spreads
    them over a Dask cluster: first each band of each realization, injected and imaged by every
    method, then each realization's search, parts of a size that spread evenly over a few workers
    (with a realization as one part, one of two workers stood idle for the last 191 s of a 669-s
    pointing). The draws come first, from one generator, so any ``mapper`` gives the same rows.

    Galaxies are placed at random wherever every band has data (``avoid_sources``:
    also away from the field's own sources), so that the completeness includes
    the losses to blending that the field's own galaxies suffer.

    Returns one row per injected galaxy: ``realization``, ``M_UV`` and ``z``
    (intrinsic), its position ``x``, ``y``, and per method ``<method>_detected``, ``<method>_selected``,
    ``<method>_z_phot`` and ``<method>_M_UV`` (NaN when not detected).
    """
    _check_bands(stacks, renderers, filters)
    avoid = _occupied(stacks, renderers, methods, detection_bands) if avoid_sources else _no_data(stacks)
    rng = np.random.default_rng(seed)
    if sources is not None:
        realizations = -(-len(sources) // n_per_realization)
    catalogs = []  # drawn in turn from one generator: the same draws however the realizations then run
    for realization in range(realizations):
        if sources is None:
            drawn = {"muv_range": muv_range, "z_range": z_range, "muv_slope": muv_slope}
            catalogs.append(high_z_injection_catalog(avoid, filters, n=n_per_realization, seed=rng, **drawn))
        else:
            first = realization * n_per_realization
            rows = np.arange(first, min(len(sources), first + n_per_realization))
            catalogs.append(_placed(sources, rows, avoid, rng))
    needed = list(detection_bands or stacks) if reuse and measure_with is not None else list(stacks)
    for catalog in catalogs:
        _check_magnitudes(catalog, [filters[b] for b in stacks])
    searched = partial(_searched_realization, renderers=renderers, names=list(methods), filters=filters,
                       detection_bands=detection_bands, criteria=criteria, match_radius=match_radius,
                       reuse=reuse)  # fmt: skip
    imaged = partial(_injected_band_images, stacks=stacks, renderers=renderers, filters=filters,
                     methods=methods, measure_with=measure_with, needed=needed)  # fmt: skip
    items = list(enumerate(catalogs))
    if mapper is None:  # one injected stack held at a time
        tables = []
        for item in tqdm(items, desc="high-z injections", disable=not progress):
            by_band = {band: imaged((item[1], band)) for band in stacks}
            tables.append(searched((item, _gathered_images(by_band, methods, measure_with))))
        return vstack(tables)
    # each realization's bands as parts of their own, the network's the longest, then its search: parts
    # of a size that spreads evenly over a few workers
    bands = [(catalog, band) for _, catalog in items for band in stacks]
    made = iter(mapper(imaged, bands))
    images = [_gathered_images({band: next(made) for band in stacks}, methods, measure_with) for _ in items]
    return vstack(list(mapper(searched, list(zip(items, images)))))


def _searched_realization(part: tuple, *, renderers, names, filters, detection_bands, criteria, match_radius,
                          reuse) -> QTable:  # fmt: skip
    """One realization of `high_z_recovery`, ``part``: its number and catalogue, and the catalogue
    injected and imaged (as `_gathered_images`), searched by every method (of ``names``)."""
    (realization, injected_catalog), (measure, images) = part
    row = QTable({"realization": np.full(len(injected_catalog), realization)})
    if "source" in injected_catalog.colnames:
        row["source"] = injected_catalog["source"]
    row["M_UV"], row["z"] = u.Quantity(injected_catalog["M_UV"], u.mag), injected_catalog["z"]
    row["x"], row["y"] = injected_catalog["x"], injected_catalog["y"]  # to study blends with the field
    if "z_weight" in injected_catalog.colnames:
        row["z_weight"] = injected_catalog["z_weight"]
    around = (injected_catalog["x"], injected_catalog["y"]) if reuse else None
    for name in names:
        found = search_high_z(images[name], renderers, filters, detection_bands=detection_bands,
                              criteria=criteria, measure_images=measure, around=around,
                              around_radius=match_radius)  # fmt: skip
        row.update(recovered_columns(injected_catalog, found, name, radius=match_radius))
    return row


def _injected_band_images(part: tuple[QTable, str], *, stacks, renderers, filters, methods, measure_with,
                          needed) -> dict:  # fmt: skip
    """Each method's image of ``part``'s catalogue injected into its band, by method name (the
    measuring method, ``measure_with``, under None; a method's only where its band is ``needed``)."""
    catalog, band = part
    injected = _injected_band(stacks[band], catalog, renderers[band], filters[band])
    made = {} if measure_with is None else {None: measure_with(injected)}
    for name, method in methods.items():
        if method is measure_with:  # its images are already made
            made[name] = made[None]
        elif band in needed:  # in dual-image mode only the detection bands are searched on them
            made[name] = method(injected)
    return made


def _gathered_images(by_band: dict, methods, measure_with) -> tuple:
    """A realization's band images (`_injected_band_images`) as the measuring method's images of every
    band (None without one) and each method's images by band."""
    measure = None if measure_with is None else {band: made[None] for band, made in by_band.items()}
    images = {name: {band: made[name] for band, made in by_band.items() if name in made} for name in methods}
    return measure, images


def _placed(sources: QTable, rows: np.ndarray, avoid: np.ndarray, rng) -> QTable:
    """Rows ``rows`` of ``sources`` at random free positions, placed as `high_z_injection_catalog` does."""
    positions = injection_catalog(avoid, n=len(rows), mags=(20.0, 21.0), kinds=("sersic",), seed=rng)
    placed = QTable(sources[rows], copy=True)
    placed["source"] = rows
    placed["x"], placed["y"] = positions["x"], positions["y"]
    return placed


def recovered_columns(sources: QTable, found: QTable, name: str, *, radius: float = 2.0) -> dict:
    """What a search (`search_high_z`) made of each row of ``sources``: its closest detection within
    ``radius`` pixels gives ``<name>_detected``, ``<name>_selected``, ``<name>_z_phot`` and
    ``<name>_M_UV`` (NaN when not detected). Injected and field galaxies are matched alike."""
    if len(found) == 0:  # nothing detected near any of them
        nothing, missed = np.full(len(sources), np.nan), np.zeros(len(sources), bool)
        return {f"{name}_detected": missed, f"{name}_selected": missed.copy(), f"{name}_z_phot": nothing,
                f"{name}_M_UV": nothing * u.mag}  # fmt: skip
    index = match_positions(sources["x"], sources["y"], found["x"], found["y"], radius)
    hit, row = index >= 0, np.maximum(index, 0)
    measured = u.Quantity(found["M_UV"], u.mag).value
    return {
        f"{name}_detected": hit,
        f"{name}_selected": hit & np.asarray(found["selected"], bool)[row],
        f"{name}_z_phot": np.where(hit, np.asarray(found["z_phot"], float)[row], np.nan),
        f"{name}_M_UV": np.where(hit, measured[row], np.nan) * u.mag,
    }


def on_footprint(inside: np.ndarray, table: QTable) -> np.ndarray:
    """Whether each row's position (``x``, ``y``, pixels) lies on the map ``inside`` (`footprint`)."""
    inside = np.asarray(inside, bool)
    row = np.clip(np.round(np.asarray(table["y"], float)).astype(int), 0, inside.shape[0] - 1)
    col = np.clip(np.round(np.asarray(table["x"], float)).astype(int), 0, inside.shape[1] - 1)
    return inside[row, col] if len(table) else np.zeros(0, bool)


def footprint(stacks: Mapping[str, Stack], *, edge: int = 16) -> np.ndarray:
    """Pixels where every band has data and that lie ``edge`` pixels or more inside the image: where
    injected galaxies are placed, and so the area that their completeness describes."""
    inside = ~_no_data(stacks)
    inside[:edge], inside[-edge:], inside[:, :edge], inside[:, -edge:] = False, False, False, False
    return inside


def _check_bands(stacks, renderers, filters) -> None:
    missing = [b for b in filters if b not in stacks or b not in renderers]
    if missing:
        raise ConfigError(f"bands {missing} have a filter but no stack or renderer")


def _no_data(stacks) -> np.ndarray:
    """Pixels where some band has no exposure with data."""
    return ~shared_coverage(stacks)


def _occupied(stacks, renderers, methods, detection_bands) -> np.ndarray:
    """Pixels of the field's own sources (detected on the first method's images) and no-data."""
    first = next(iter(methods.values()))
    bands = list(detection_bands or stacks)
    images = {b: first(stacks[b]) for b in bands}
    snr = combined_detection_image(images, {b: renderers[b] for b in bands})
    return source_mask(snr, fwhm=max(renderers[b].fwhm_px for b in bands))
