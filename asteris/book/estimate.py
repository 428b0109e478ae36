"""What ``full`` mode asks of a reader: the files and bytes it downloads, and its time on a GPU.

The times are estimates, not measurements: the rates measured on an H100 for
the published-size network (``benchmarks/results/gpu.json``, written by
``benchmarks/gpu.py``: a bf16 training step of 3 x 8 x 128 x 128 voxels, bf16
denoising of 16 x 8 x 128 x 128 tiles), scaled to each card by its peak dense
FP32 throughput on NVIDIA's datasheets, and downloads at an assumed rate.
Sizes of archive files follow from their format (a NIRCam ``_cal`` file holds
seven 2048 x 2048 planes of 4-byte pixels); exposure counts are the manifest's
``min_exposures`` until it is resolved.

>>> round(cal_file_bytes() / 1e6)
119
"""

from __future__ import annotations

from ..archive import load_manifest
from ..resources import ShippedFileError
from .chapters import FINE_TUNE_STEPS, committed_result

__all__ = [
    "PEAK_FP32_TFLOPS",
    "DOWNLOAD_MB_PER_S",
    "cal_file_bytes",
    "nircam_stack_voxels",
    "cpu_stage_minutes",
    "full_mode_plan",
]

#: Peak dense FP32 TFLOP/s (NVIDIA datasheets): the card the rates were measured on, and the readers'.
PEAK_FP32_TFLOPS = {"H100": 67.0, "A100": 19.5, "Colab T4": 8.1}
#: The download rate assumed from MAST to a Colab runtime, MB/s.
DOWNLOAD_MB_PER_S = 25.0
_NIRCAM_FRAME = 2048
_GRID_SCALE = 0.04  # arcsec per pixel of the aligned stacks
_DITHER_MARGIN = 60  # grid pixels the dithers add to a detector's footprint


def cal_file_bytes() -> int:
    """Bytes of one NIRCam full-frame ``_cal`` file: SCI, ERR, DQ, three variances and AREA, plus headers."""
    return 7 * _NIRCAM_FRAME**2 * 4 + 1_500_000


def nircam_stack_voxels(detector_scale: float, exposures: int) -> float:
    """Voxels of a stack of ``exposures`` full frames of ``detector_scale`` arcsec pixels, on the
    0.04-arcsec grid."""
    side = _NIRCAM_FRAME * detector_scale / _GRID_SCALE + _DITHER_MARGIN
    return exposures * side**2


def _measured_rates() -> tuple[float, float]:
    """(seconds per published-size training step, denoised voxels per second), bf16 on the H100."""
    gpu = committed_result("gpu")
    step = next(r["seconds_per_step"] for r in gpu["training"] if r.get("mode") == "bf16")
    tiles = [r for r in gpu["inference"] if r["mode"] == "bf16" and r["tile"].startswith("16x")]
    voxels = tiles[0]["voxels_per_s"]
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


def _downloads_and_voxels(manifest, bands) -> tuple[str, int, float, float]:
    """(what, files, bytes, voxels of one denoising pass over every band) of a manifest's bands."""
    query = manifest.query
    exposures = int(query.get("min_exposures", 16))
    if manifest.archive == "hsc":
        side = query["size_arcsec"] / 0.168  # HSC warps: 0.168 arcsec pixels; image, mask and variance
        return f"{manifest.name} (HSC-SSP warps)", exposures, exposures * 3 * 4 * side**2, exposures * side**2
    long_wave = [b for b in bands if int(b[1:4]) >= 250]
    # one grid for all bands: the long-wave detector's footprint when there is a long-wave band
    scale = 0.063 if long_wave else 0.031
    files = exposures * len(bands)
    channels = {"long" if d.endswith("long") else "short": d for d in query.get("detectors", [])}
    wanted = {"long"} if long_wave else set()
    wanted |= {"short"} if len(long_wave) < len(bands) else set()
    used = [detector for channel, detector in channels.items() if channel in wanted]
    what = f"{manifest.name}, {', '.join(bands)}, detector {' and '.join(used)}"
    return what, files, files * cal_file_bytes(), len(bands) * nircam_stack_voxels(scale, exposures)


def full_mode_plan(
    manifest: str, *, bands=("F200W",), fine_tunes: int = 1, from_scratch_steps: int = 0,
    denoise_passes: float = 1, searches: int = 0, realizations: int = 0,
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
    """
    what, files, size, voxels = _downloads_and_voxels(load_manifest(manifest), bands)
    step_s, voxels_per_s = _measured_rates()
    steps = fine_tunes * FINE_TUNE_STEPS + from_scratch_steps
    download_s = size / (DOWNLOAD_MB_PER_S * 1e6)
    lines = [f"full mode downloads {files}+ files, {size / 1e9:.2f}+ GB: {what}",
             f"estimated time (H100 rates of benchmarks/results/gpu.json scaled by peak FP32 throughput, "
             f"downloads at {DOWNLOAD_MB_PER_S:g} MB/s; an estimate, not a measurement):"]  # fmt: skip
    cpu = None
    if searches or realizations:
        area = nircam_stack_voxels(0.063, 1) * _GRID_SCALE**2 / 3600  # one long-wave module, in arcmin^2
        cpu = cpu_stage_minutes(area, searches=searches, realizations=realizations)
    if cpu is not None:
        plural = "s" * (realizations != 1)
        network = ("less the network's passes, counted in denoising" if cpu[2] else
                   "the network run on the CPU: an upper bound")  # fmt: skip
        lines.append(f"  the search ({searches}x) and the injections ({realizations} realization{plural}) on "
                     f"{area:.1f} arcmin^2: {cpu[0]:.0f} + {cpu[1]:.0f} min on 2 CPU cores (fits of "
                     f"benchmarks/results/scaling.json, {network})")  # fmt: skip
        if cpu[2]:  # each realization's pass over the detection bands, on the GPU
            denoise_passes += realizations * len(set(cpu[2]) & set(bands)) / len(bands)
    for card in ("Colab T4", "A100"):
        slower = PEAK_FP32_TFLOPS["H100"] / PEAK_FP32_TFLOPS[card]
        train_s, denoise_s = steps * step_s * slower, denoise_passes * voxels / voxels_per_s * slower
        total = (download_s + train_s + denoise_s) / 60 + (cpu[0] + cpu[1] if cpu else 0.0)
        lines.append(f"  {card:8s}: download {download_s / 60:.0f} min, training {train_s / 60:.0f} min, "
                     f"denoising {denoise_s / 60:.0f} min{' and the CPU stages' if cpu else ''}; "
                     f"about {total:.0f} min")  # fmt: skip
    lines.append("offline, full mode stops within seconds at its first archive request and says what to do")
    return "\n".join(lines)
