"""Real data: manifests, archive downloads (MAST, HSC) and alignment into stacks (drizzle).

Needs the ``archive`` extra: ``pip install 'asteris[archive]'``.

>>> from asteris import archive
>>> sorted(archive.shipped_manifests())[:2]
['hsc_cosmos_i_warps', 'jades_1210_nircam']
"""

from __future__ import annotations

from ..extras import require_extra

require_extra("archive", feature="asteris.archive")

from .align import align, align_variance, common_grid, read_cal_exposure, stack_warps, write_aligned
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
    "align_variance",
    "common_grid",
    "read_cal_exposure",
    "stack_warps",
    "write_aligned",
]


def shipped_manifests() -> list[str]:
    """Names of the manifests in ``data_manifests/`` (lock files excluded)."""
    return [p.stem for p in manifest_dir().glob("*.yaml") if not p.name.endswith(".lock.yaml")]
