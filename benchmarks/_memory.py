"""Memory figures of the running process, shared by the benchmark scripts."""

from __future__ import annotations

from pathlib import Path


def status_mb(field: str = "VmHWM") -> float:
    """A memory field of ``/proc/self/status`` in MB: VmHWM (peak RSS), RssAnon, ..."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")
