"""What a pointing's chain needs of memory at its peak, a refusal, before the chain starts, of a
pointing that would not fit, and its stacks moved out of the process's own memory."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np

from ...errors import ConfigError

__all__ = ["pointing_peak_bytes", "check_pointing_memory", "stacks_on_disk"]


def pointing_peak_bytes(voxels: int, *, scaling: dict | None = None) -> float | None:
    """The memory a pointing of ``voxels`` (its stacks' exposures x pixels, all bands together)
    needs at the chain's peak: the straight line through the peaks that `benchmarks/scaling.py`
    measured (``scaling``, by default ``benchmarks/results/scaling.json``) on pointings of a full
    inference tile or more (smaller ones have smaller tiles, whose activations grow with them);
    None where no such result is at hand. The peaks are of the process's anonymous memory where
    the result has them (its memory-mapped stacks are file cache, given back under pressure),
    else of its resident set.

    >>> round(pointing_peak_bytes(300, scaling={"runs": [
    ...     {"voxels": 100, "peak_rss_mb": {"process": 10.0}},
    ...     {"voxels": 200, "peak_rss_mb": {"process": 20.0}}]}) / 2**20)
    30
    """
    if scaling is None:
        from ...resources import ShippedFileError, shipped_file

        try:
            scaling = json.loads(shipped_file("benchmarks/results/scaling.json").read_text())
        except ShippedFileError:
            return None
    from ...engine import DEFAULT_TILE

    runs = [r for r in scaling.get("runs", []) if "voxels" in r]
    full = [r for r in runs if r.get("side", DEFAULT_TILE) >= DEFAULT_TILE]  # tiles as large as they get
    runs = full if len(full) >= 2 else runs
    # what the process cannot give back, where measured: its memory-mapped stacks are file cache
    key = "peak_anonymous_mb" if all("peak_anonymous_mb" in r for r in runs) else "peak_rss_mb"
    measured = [(r["voxels"], r[key]["process"]) for r in runs]
    if len(measured) < 2:
        return None
    slope, offset = np.polyfit(*np.transpose(np.asarray(measured, float)), 1)
    return float(offset + slope * voxels) * 2**20


def check_pointing_memory(stacks: dict, name: str, *, available: float | None = None, scaling=None) -> None:
    """Refuse, in one sentence with the figures, a pointing whose chain would not fit in memory.

    ``stacks``: the pointing's stacks, band by band. ``available``: the bytes this process may
    use (default: what the machine has free plus what this process already holds, its stacks
    included). ``scaling``: as in `pointing_peak_bytes`.

    Raises
    ------
    ConfigError
        If the chain's peak, extrapolated from the measured ones, exceeds ``available``.
    """
    voxels = sum(int(np.prod(np.shape(s.data))) for s in stacks.values())
    needed = pointing_peak_bytes(voxels, scaling=scaling)
    if needed is None:
        return
    if available is None:
        import psutil

        available = psutil.virtual_memory().available + psutil.Process().memory_info().rss
    if needed > available:
        raise ConfigError(
            f"pointing {name} needs about {needed / 1e9:.1f} GB at its peak ({voxels / 1e6:.0f} million "
            f"voxels, by the peaks benchmarks/scaling.py measured) and this machine has "
            f"{available / 1e9:.1f} GB for it; run it where there is more memory or cut it into "
            "smaller pointings"
        )


def stacks_on_disk(stacks: dict, folder: Path) -> dict:
    """``stacks`` with each band's exposures written to ``folder/<band>.npy`` and memory-mapped, read-only.

    The chain reads a band's exposures when it works on that band; the pages it has read belong
    to the system's file cache, which gives them back under pressure, so the process's own memory
    (anonymous, what cannot be given back) holds images and one band's work at a time, not every
    band's exposures. The values are those of ``stacks``, bit for bit.

    >>> import tempfile, numpy as np
    >>> from asteris.stack import Stack
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     held = stacks_on_disk({"F200W": Stack(np.ones((2, 4, 4)))}, Path(folder))
    ...     print(held["F200W"].data.flags.writeable, float(held["F200W"].data.sum()))
    False 32.0
    """
    folder.mkdir(parents=True, exist_ok=True)
    out = {}
    for band, stack in stacks.items():
        path = folder / f"{band}.npy"
        np.save(path, stack.data)
        out[band] = dataclasses.replace(stack, data=np.load(path, mmap_mode="r"))
    return out
