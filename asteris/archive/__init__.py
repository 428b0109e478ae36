"""Real data: manifests, archive downloads (MAST, HSC) and alignment into stacks (drizzle).

Needs the ``archive`` extra: ``pip install 'asteris[archive]'``.

>>> from asteris import archive
>>> sorted(archive.shipped_manifests())[:2]
['hsc_cosmos_i_warps', 'jades_1210_nircam']
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from ..extras import require_extra
from ..fileio import exclusive_lock
from ..stack import crop_to_shared_coverage

require_extra("archive", feature="asteris.archive")

from .align import align, align_variance, common_grid, read_cal_exposure, stack_warps, write_aligned
from .corrections import CorrectionConfig
from .download import ArchiveUnreachableError, DownloadError, check_online, fetch, hsc_preview, resolve_mast
from .manifests import Manifest, Product, load_manifest, manifest_dir, write_lock

__all__ = [
    "Manifest",
    "Product",
    "load_manifest",
    "write_lock",
    "shipped_manifests",
    "fetch",
    "resolve_mast",
    "hsc_preview",
    "check_online",
    "ArchiveUnreachableError",
    "DownloadError",
    "align",
    "CorrectionConfig",
    "align_variance",
    "common_grid",
    "read_cal_exposure",
    "stack_warps",
    "write_aligned",
    "band_stacks",
    "aligned_band_stacks",
]


def shipped_manifests() -> list[str]:
    """Names of the manifests in ``data_manifests/`` (lock files excluded)."""
    return [p.stem for p in manifest_dir().glob("*.yaml") if not p.name.endswith(".lock.yaml")]


def band_stacks(
    manifest: str | Manifest,
    *,
    bands: Sequence[str],
    dest: str | os.PathLike | None = None,
    detectors: Sequence[str] | None = None,
    shared_only: bool = True,
    progress: bool = True,
) -> dict:
    """Fetch a MAST manifest's ``_cal`` exposures of ``bands`` and drizzle each band onto one grid.

    The grid covers the exposures of every band (`common_grid`), so the stacks
    line up pixel for pixel. ``shared_only`` then cuts it to the box where
    every band has data (`~asteris.stack.crop_to_shared_coverage`): all that a
    search across bands can use, and on a module whose one short-wave detector
    lies inside the long-wave footprint a quarter of the pixels to denoise and
    search (each band is aligned on the whole grid first). Downloads go to
    ``dest`` (default: the data folder / the manifest's name), resume where
    they stopped and are verified against their checksums; offline,
    `ArchiveUnreachableError` says what to do.

    The stacks are kept in ``dest/aligned`` (`aligned_band_stacks`): a second
    call with the same files, from another chapter or session, reads them
    instead of aligning again (a 2048 x 2048 exposure takes about 6 s on one
    core, ``benchmarks/results/align_rate.json``).

    Returns
    -------
    dict
        ``{band: Stack}`` in the order of ``bands``.
    """
    from ..errors import ConfigError
    from ..fileio import data_dir

    manifest = load_manifest(manifest) if isinstance(manifest, str) else manifest
    if manifest.archive != "mast":
        raise ConfigError(f"manifest {manifest.name} holds no JWST _cal exposures; use fetch and stack_warps")
    folder = Path(dest) if dest is not None else Path(data_dir()) / manifest.name
    chips = None if detectors is None else list(detectors)
    table = fetch(manifest, folder, filters=list(bands), detectors=chips, progress=progress)
    rows = list(zip(table["filename"], table["filter"]))
    files = {b: [folder / name for name, band in rows if band == b] for b in bands}
    if missing := [b for b, paths in files.items() if not paths]:
        raise ConfigError(f"manifest {manifest.name} holds no exposures in {missing}")
    return aligned_band_stacks(files, cache=folder / "aligned", shared_only=shared_only)


def aligned_band_stacks(
    files: Mapping[str, Sequence[str | os.PathLike]], *, cache: str | os.PathLike | None = None,
    shared_only: bool = True,
) -> dict:  # fmt: skip
    """Each band's ``_cal`` exposures (``{band: paths}``) drizzled onto one grid that covers them all.

    ``shared_only`` cuts the grid to the box where every band has data. With
    ``cache`` (a folder), the stacks are kept in ``cache/<key>``, one FITS cube
    a band, the key a hash of the files (names and sizes), ``shared_only`` and
    the asteris version: a later call with the same files, from another
    chapter or session, reads them instead of aligning again. A process asking
    while another aligns them waits for it.
    """
    if cache is None:
        return _align_bands(files, shared_only)
    key = _aligned_key(files, shared_only=shared_only)
    kept = Path(cache) / key
    with exclusive_lock(Path(cache) / f".{key}.lock"):
        if (stacks := _read_aligned(kept, list(files))) is None:
            _write_aligned_stacks(_align_bands(files, shared_only), kept)
            stacks = _read_aligned(kept, list(files))  # the first call returns what every later one reads
    return stacks


def _align_bands(files: Mapping[str, Sequence], shared_only: bool) -> dict:
    exposures = [read_cal_exposure(f)[:2] for paths in files.values() for f in paths]
    grid = common_grid([w for _, w in exposures], [d.shape for d, _ in exposures])
    stacks = {b: align(paths, grid=grid)[0] for b, paths in files.items()}
    return crop_to_shared_coverage(stacks) if shared_only else stacks


def _aligned_key(files: Mapping[str, Sequence], **choices) -> str:
    import hashlib
    import json

    from ..version import VERSION

    named = {b: sorted((Path(f).name, Path(f).stat().st_size) for f in paths) for b, paths in files.items()}
    record = json.dumps({"files": named, "version": VERSION, **choices}, sort_keys=True)
    return hashlib.sha256(record.encode()).hexdigest()[:24]


def _write_aligned_stacks(stacks: dict, folder: Path) -> None:
    """Each band's cube, then the list of their sources, which marks the folder complete."""
    import json

    from ..fileio import atomic_write
    from ..stack import write_stack

    for band, stack in stacks.items():
        write_stack(stack, folder / f"{band}.fits", overwrite=True)
    sources = json.dumps({band: list(stack.sources) for band, stack in stacks.items()})
    atomic_write(folder / "sources.json", lambda path: path.write_text(sources), overwrite=True)


def _read_aligned(folder: Path, bands) -> dict | None:
    """The stacks `_write_aligned_stacks` kept in ``folder``, or None where it did not finish."""
    import json

    from ..stack import read_stack

    if not (folder / "sources.json").exists():
        return None
    sources = json.loads((folder / "sources.json").read_text())
    stacks = {}
    for band in bands:
        stacks[band] = read_stack(folder / f"{band}.fits")
        stacks[band].sources = sources[band]
    return stacks
