"""What ``full`` mode asks of a reader: the files and bytes it downloads, and its time on a GPU.

The times are estimates, not measurements: the rates measured on an H100 for
the published-size network (``benchmarks/results/gpu.json``, written by
``benchmarks/gpu.py``: a bf16 training step of 3 x 8 x 128 x 128 voxels, as
``full`` mode fine-tunes; float32 denoising of one 8 x 512 x 512 tile at a
time, as the chapters denoise), scaled to each card by its peak dense FP32
throughput on NVIDIA's datasheets, and downloads at an assumed rate. The
network runs over 8 frames whatever the exposures (they are binned), over
whole tiles with their overlaps, and over the box that every band covers
(`~asteris.archive.band_stacks` cuts the grid to it). Sizes of archive files
follow from their format (a NIRCam ``_cal`` file holds seven 2048 x 2048
planes of 4-byte pixels); exposure counts are the manifest's
``min_exposures`` until it is resolved. The CPU stages are measured on two
cores: the alignment of the exposures (``benchmarks/results/align_rate.json``)
and the survey's search and injections (``benchmarks/results/scaling.json``).

>>> round(cal_file_bytes() / 1e6)
119
>>> network_voxels(512) == 8 * 512**2  # one tile of 8 frames
True
"""

from __future__ import annotations

from typing import NamedTuple

from ..archive import load_manifest
from ..resources import ShippedFileError
from .chapters import FINE_TUNE_STEPS, committed_result

__all__ = [
    "PEAK_FP32_TFLOPS",
    "DOWNLOAD_MB_PER_S",
    "COLAB_MEMORY_GB",
    "cal_file_bytes",
    "nircam_footprint_px",
    "network_voxels",
    "cpu_stage_minutes",
    "alignment_minutes",
    "full_mode_plan",
]

#: Peak dense FP32 TFLOP/s (NVIDIA datasheets): the card the rates were measured on, and the readers'.
PEAK_FP32_TFLOPS = {"H100": 67.0, "A100": 19.5, "Colab T4": 8.1}
#: The download rate assumed from MAST to a Colab runtime, MB/s.
DOWNLOAD_MB_PER_S = 25.0
#: Host memory of a Colab session, GB.
COLAB_MEMORY_GB = 12.0
_NIRCAM_FRAME = 2048
_GRID_SCALE = 0.04  # arcsec per pixel of the aligned stacks
_DITHER_MARGIN = 60  # grid pixels the dithers add to a detector's footprint


def cal_file_bytes() -> int:
    """Bytes of one NIRCam full-frame ``_cal`` file: SCI, ERR, DQ, three variances and AREA, plus headers."""
    return 7 * _NIRCAM_FRAME**2 * 4 + 1_500_000


def nircam_footprint_px(detector_scale: float) -> float:
    """Side, in pixels of the 0.04-arcsec grid, of a NIRCam detector of ``detector_scale`` arcsec
    pixels with its dithers."""
    return _NIRCAM_FRAME * detector_scale / _GRID_SCALE + _DITHER_MARGIN


def network_voxels(side_px: float, *, frames: int = 8) -> int:
    """Voxels the network computes to denoise a ``side_px``-square image: every tile of the default
    tiling (`~asteris.engine.InferenceOptions`) whole, overlaps included, ``frames`` frames deep."""
    from ..engine import DEFAULT_TILE, InferenceOptions, tile_geometry
    from ..network import PUBLISHED_BLOCKS, NetworkConfig
    from ..tiling import tile_grid

    multiple = NetworkConfig(frames=frames, num_blocks=PUBLISHED_BLOCKS[frames]).multiple
    padded = (-(-round(side_px) // multiple) * multiple,) * 2
    tiles, overlaps = tile_geometry(padded, multiple, DEFAULT_TILE, InferenceOptions().overlap)
    return frames * len(tile_grid(padded, tiles, overlaps)) * tiles[0] * tiles[1]


def _measured_rates() -> tuple[float, float]:
    """(seconds per published-size bf16 training step, voxels per second of float32 denoising in
    tiles of the default size, one at a time) on the H100."""
    from ..engine import DEFAULT_TILE

    gpu = committed_result("gpu")
    step = next(r["seconds_per_step"] for r in gpu["training"] if r.get("mode") == "bf16")
    tile = f"1x8x{DEFAULT_TILE}x{DEFAULT_TILE}"
    voxels = next(r["voxels_per_s"] for r in gpu["inference"] if r["mode"] == "fp32" and r["tile"] == tile)
    return step, voxels


def cpu_stage_minutes(
    area_arcmin2: float, *, searches: int, realizations: int
) -> tuple[float, float, tuple[str, ...]] | None:
    """Minutes of the survey's search and of its injection realizations on a pointing of ``area_arcmin2``,
    on the 2-core machine of ``benchmarks/results/scaling.json`` (its straight-line fits of each stage
    against the area), and the bands of the network's pass left out of them: where that result
    times the pass (``network_pass``), over the detection bands, it is left out, since on a GPU the
    GPU runs it (`full_mode_plan` counts it there); else it is in, run on those CPUs (an upper
    bound), and no bands are given. None where that result is not at hand."""
    try:
        scaling = committed_result("scaling")
        fits = scaling["real_pointing"]["fits"]
    except (ShippedFileError, KeyError):
        return None
    network = fits.get("network_pass", {"a": 0.0, "b_per_arcmin2": 0.0})
    bands = tuple(scaling["runs"][-1]["network_pass"]["bands"]) if "network_pass" in fits else ()

    def minutes(stage: str) -> float:
        fit = {k: fits[stage][k] - network[k] for k in ("a", "b_per_arcmin2")}
        return (fit["a"] + fit["b_per_arcmin2"] * area_arcmin2) / 60

    return searches * minutes("search"), realizations * minutes("injections"), bands


def alignment_minutes(files: int) -> float | None:
    """Minutes to align ``files`` NIRCam ``_cal`` exposures (corrections and drizzle, one CPU core): the
    straight-line fit of ``benchmarks/results/align_rate.json`` at a 2048 x 2048 frame. None where that
    result is not at hand."""
    try:
        seconds = committed_result("align_rate")["fits"]["corrected"]["nircam_frame_seconds"]
    except (ShippedFileError, KeyError):
        return None
    return files * seconds / 60


class _Reads(NamedTuple):
    """What a chapter reads from a manifest's bands, and what the network computes over it."""

    what: str
    files: int
    bytes: float
    voxels: float  #: of one pass of the network over every band
    side: float  #: of the box every band covers, in grid pixels
    stack_bytes: float  #: every band's exposures on the whole grid, before the cut to that box


def _reads(manifest, bands) -> _Reads:
    query = manifest.query
    exposures = int(query.get("min_exposures", 16))
    if manifest.archive == "hsc":
        side = query["size_arcsec"] / 0.168  # HSC warps: 0.168 arcsec pixels; image, mask and variance
        cube, what = exposures * 4 * side**2, f"{manifest.name} (HSC-SSP warps)"
        return _Reads(what, exposures, 3 * cube, network_voxels(side), side, cube)
    long_wave = [b for b in bands if int(b[1:4]) >= 250]
    grid = nircam_footprint_px(0.063 if long_wave else 0.031)
    # the box every band covers: with a short-wave band, the short-wave detector's (inside the long-wave one)
    side = nircam_footprint_px(0.031 if len(long_wave) < len(bands) else 0.063)
    files = exposures * len(bands)
    channels = {"long" if d.endswith("long") else "short": d for d in query.get("detectors", [])}
    wanted = {"long"} if long_wave else set()
    wanted |= {"short"} if len(long_wave) < len(bands) else set()
    used = [detector for channel, detector in channels.items() if channel in wanted]
    what = f"{manifest.name}, {', '.join(bands)}, detector {' and '.join(used)}"
    voxels = len(bands) * network_voxels(side)
    return _Reads(what, files, files * cal_file_bytes(), voxels, side, files * 4 * grid**2)


def _memory_line(reads: _Reads) -> str | None:
    """The chain's memory on the host: the bands on the whole grid while they are aligned, and the
    peak of the search (the line of ``benchmarks/results/scaling.json``, the network run on the CPU)."""
    from ..science.survey.memory import pointing_peak_bytes

    peak = pointing_peak_bytes(int(reads.files * reads.side**2))
    if peak is None:
        return None
    return (f"  memory: {reads.stack_bytes / 1e9:.1f} GB while the bands are aligned on the whole grid, then "
            f"{peak / 1e9:.1f} GB at the search's peak (the line of benchmarks/results/scaling.json), "
            f"against the {COLAB_MEMORY_GB:g} GB of a Colab session")  # fmt: skip


def full_mode_plan(
    manifest: str, *, bands=("F200W",), fine_tunes: int = 1, from_scratch_steps: int = 0,
    denoise_passes: float = 1, searches: int = 0, realizations: int = 0, aligned_by: str | None = None,
) -> str:  # fmt: skip
    """A few lines a chapter prints at its top: what its ``full`` mode downloads, and how long it takes.

    Parameters
    ----------
    manifest : the shipped manifest the chapter reads.
    bands : its bands (MAST manifests).
    fine_tunes : fine-tuning runs of `~asteris.book.chapters.FINE_TUNE_STEPS` published-size steps.
    from_scratch_steps : published-size training steps from random weights.
    denoise_passes : denoising passes over every band's stack (injection-recovery adds one a realization).
    searches, realizations : z > 8.5 searches of the pointing (both methods, each with its negated
        twin) and injection realizations through the whole chain, their CPU parts timed by
        `cpu_stage_minutes` (MAST manifests). A search runs on the chapter's images (counted in
        ``denoise_passes``); each realization adds a pass of the network over the detection bands
        that `cpu_stage_minutes` gives, counted with the denoising (where it could not leave the
        pass out, the pass is in the CPU stages instead).
    aligned_by : the chapter that aligns the same files first (``"chapter 5"``): each card's line then
        gives its time too where that chapter ran first in the same data folder, without the alignment.
    """
    products = load_manifest(manifest)
    reads = _reads(products, bands)
    what, files, size, voxels, side = reads.what, reads.files, reads.bytes, reads.voxels, reads.side
    step_s, voxels_per_s = _measured_rates()
    steps = fine_tunes * FINE_TUNE_STEPS + from_scratch_steps
    download_s = size / (DOWNLOAD_MB_PER_S * 1e6)
    lines = [f"full mode downloads {files}+ files, {size / 1e9:.2f}+ GB: {what}",
             f"estimated time (H100 rates of benchmarks/results/gpu.json scaled by peak FP32 throughput, "
             f"downloads at {DOWNLOAD_MB_PER_S:g} MB/s; an estimate, not a measurement):"]  # fmt: skip
    align_min = alignment_minutes(files) if products.archive == "mast" else None
    if align_min is not None:
        lines.append(f"  alignment of the {files} exposures (corrections, then drizzle): {align_min:.0f} min "
                     f"on one CPU core (benchmarks/results/align_rate.json); kept in the data folder, where "
                     f"a later chapter aligning the same files reads it in seconds")  # fmt: skip
    cpu, cpu_min = None, 0.0
    if searches or realizations:
        area = side**2 * _GRID_SCALE**2 / 3600  # arcmin^2 that every band covers
        cpu = cpu_stage_minutes(area, searches=searches, realizations=realizations)
    if cpu is not None:
        cpu_min = cpu[0] + cpu[1]
        plural = "s" * (realizations != 1)
        network = ("less the network's passes, counted in denoising" if cpu[2] else
                   "the network run on the CPU: an upper bound")  # fmt: skip
        lines.append(f"  the search ({searches}x) and the injections ({realizations} realization{plural}) "
                     f"on the {area:.1f} arcmin^2 every band covers: {cpu[0]:.0f} + {cpu[1]:.0f} min on 2 "
                     f"CPU cores (fits of benchmarks/results/scaling.json, {network})")  # fmt: skip
        if cpu[2]:  # each realization's pass over the detection bands, on the GPU
            denoise_passes += realizations * len(set(cpu[2]) & set(bands)) / len(bands)
    for card in ("Colab T4", "A100"):
        slower = PEAK_FP32_TFLOPS["H100"] / PEAK_FP32_TFLOPS[card]
        train_s, denoise_s = steps * step_s * slower, denoise_passes * voxels / voxels_per_s * slower
        total = (download_s + train_s + denoise_s) / 60 + cpu_min + (align_min or 0.0)
        stages = [s for s, at in (("the alignment", align_min), ("the CPU stages", cpu)) if at is not None]
        after = ""
        if aligned_by and align_min is not None:
            after = f" ({total - align_min:.0f} min where {aligned_by} ran first in the same data folder)"
        lines.append(f"  {card:8s}: download {download_s / 60:.0f} min, training {train_s / 60:.0f} min, "
                     f"denoising {denoise_s / 60:.0f} min{''.join(f' and {s}' for s in stages)}; "
                     f"about {total:.0f} min{after}")  # fmt: skip
    if cpu is not None and (memory := _memory_line(reads)):
        lines.append(memory)
    lines.append("offline, full mode stops within seconds at its first archive request and says what to do")
    return "\n".join(lines)
