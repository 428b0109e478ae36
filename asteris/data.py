"""Real data in one place: manifests, archive downloads and alignment into stacks.

>>> from asteris import data
>>> sorted(data.shipped_manifests())[:2]
['hsc_cosmos_i_warps', 'jades_1210_nircam']
"""

from __future__ import annotations

from .align import align, read_cal_exposure, stack_warps, write_aligned
from .archive import ArchiveUnreachableError, DownloadError, check_online, fetch, hsc_preview, resolve_mast
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
    "read_cal_exposure",
    "stack_warps",
    "write_aligned",
]


def shipped_manifests() -> list[str]:
    """Names of the manifests in ``data_manifests/`` (lock files excluded)."""
    return [p.stem for p in manifest_dir().glob("*.yaml") if not p.name.endswith(".lock.yaml")]
