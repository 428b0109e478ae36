"""Wall-clock timing that waits for the GPU, shared by the benchmark scripts."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch


def sync() -> None:
    """Wait for queued CUDA work (a no-op without CUDA)."""
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def seconds_of(fn: Callable[[], object]) -> float:
    """Seconds one call of ``fn`` takes, queued GPU work included."""
    sync()
    t0 = time.perf_counter()
    fn()
    sync()
    return time.perf_counter() - t0


def median_seconds(
    fn: Callable[[], object], *, warmup: int = 2, repeats: int = 5, budget_s: float = 30.0
) -> float:
    """Median seconds per call after ``warmup`` calls.

    ``repeats`` calls are timed, fewer (two at least) once ``budget_s`` has passed.
    """
    for _ in range(warmup):
        fn()
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (len(times) < 2 or time.perf_counter() - start < budget_s):
        times.append(seconds_of(fn))
    return statistics.median(times)
