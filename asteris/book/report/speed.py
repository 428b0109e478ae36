"""Speed and cost tables: throughput, streaming, GPU, compilation, bf16 and the chapters' times."""

from __future__ import annotations

from collections.abc import Sequence

from ...tuning import machine_line
from ..chapters import committed_result
from .cells import markdown_table

__all__ = [
    "throughput_table",
    "streaming_table",
    "gpu_table",
    "compile_table",
    "bf16_table",
    "book_times_table",
    "align_rate_table",
]


def _speed_cell(row: dict, unit: str) -> str:
    value = (
        f"{row['voxels_per_s']:,.0f} voxels/s"
        if unit == "voxels"
        else f"{row['seconds_per_step']:.3f} s/step"
    )
    return f"{value} ({row['fraction_of_matmul_peak']:.0%})"


def _speed_label(row: dict) -> str:
    name, _, forced = row["implementation"].partition(":")
    label = {"eager": "eager baseline", "authors": "authors' `ASTERIS8`"}.get(name, "asteris")
    forced = {"autograd": "oneDNN's depthwise gradient"}.get(forced, forced)
    return label + (f", {forced} forced" if forced else "")


def throughput_table(*, results: Sequence[dict] | None = None) -> str:
    """CPU inference and training: asteris, its forced kernel choices, the eager baseline and the
    authors' class, one column per committed run (``throughput.json``, ``throughput_avx2.json``)."""
    results = results or [committed_result("throughput"), committed_result("throughput_avx2")]
    cells: dict[tuple[str, str], list[str]] = {}
    for column, result in enumerate(results):
        for kind, unit in (("inference", "voxels"), ("training", "seconds")):
            for row in result[kind]:
                what = f"{kind} {('`' + row['preset'] + '`, ') if 'preset' in row else ''}{_speed_label(row)}"
                key = (what, row.get("tile") or row.get("sample"))
                cells.setdefault(key, [""] * len(results))[column] = _speed_cell(row, unit)
    rows = [[what, sample, *values] for (what, sample), values in cells.items()]
    for name in ("speedup_vs_authors", "speedup_vs_eager"):
        for key in results[0].get(name, {}):
            rows.append(
                [
                    f"**{name.replace('_', ' ')}**, {key}",
                    "",
                    *(f"**{r.get(name, {}).get(key, float('nan')):.2f}x**" for r in results),
                ]
            )
    header = ["measurement", "sample"] + [machine_line(r) for r in results]
    return markdown_table(header, rows)


def streaming_table(*, result: dict | None = None) -> str:
    """Peak memory and time of denoising a cube in memory and streamed (``streaming.json``)."""
    rows = [
        [
            f"{r['size']} x {r['size']}, {r['mode']}",
            f"{r['cube_mb']:,.0f} MB",
            f"{r['peak_anon_mb']:,.0f} MB",
            f"{r['peak_rss_mb']:,.0f} MB",
            f"{r['seconds']:.0f} s",
        ]
        for r in (result or committed_result("streaming"))["results"]
    ]
    header = ["cube (16 exposures)", "file", "peak anonymous memory", "peak RSS incl. mapped files", "time"]
    return markdown_table(header, rows)


def gpu_table(*, result: dict | None = None) -> str:
    """Inference and training rates on the GPU of ``gpu.json``, per mode."""
    g = result or committed_result("gpu")
    rows = [
        [
            f"inference, {r['mode']}",
            r["tile"],
            f"{r['voxels_per_s'] / 1e6:.2f} M voxels/s",
            f"{r['fraction_of_bf16_matmul']:.1%}",
            f"{r['peak_memory_gb']:.1f} GB",
        ]
        for r in g.get("inference", [])
    ]
    rows += [
        [f"training `paper`, {r['mode']}", r["sample"], f"{r['steps_per_s']:.2f} steps/s", "", ""]
        for r in g.get("training", [])
        if "mode" in r
    ]
    e = g.get("end_to_end") or {}
    rows += [
        [f"`asteris.denoise`, {r['mode']}", e["stack"], f"{r['denoise_call_s']:.1f} s", "", ""]
        for r in e.get("modes", [])
    ]
    c = g["ceilings"]
    caption = (
        f"{g['device']}, torch {g['torch']}: copy {c['copy_tb_per_s']:.2f} TB/s; matrix products "
        f"{c['matmul_fp32_tflop_per_s']:.0f} / {c['matmul_tf32_tflop_per_s']:.0f} / "
        f"{c['matmul_bf16_tflop_per_s']:.0f} TFLOP/s (float32 / TF32 / bf16); the network does "
        f"{g['flops']['flops_per_voxel'] / 1e6:.2f} MFLOP per voxel."
    )
    header = ["measurement", "sample", "rate or time", "of the bf16 matrix rate", "peak memory"]
    return caption + "\n\n" + markdown_table(header, rows)


def compile_table(*, result: dict | None = None) -> str:
    """Compile time of the network block by block against one graph (``compile_time.json``)."""
    c = result or committed_result("compile_time")
    rows = [
        [
            r["way"],
            f"{r['first_call_s']:.1f} s",
            f"{r['second_model_first_call_s']:.1f} s",
            f"{r['seconds']:.3f} s",
            f"{r['speedup_vs_eager']:.2f}x",
            f"{r['max_abs_diff_vs_eager']:.1e}",
        ]
        for r in c["rows"]
    ]
    header = [
        "compiled",
        "first call",
        "first call of a second copy",
        "per pass",
        "speed vs eager",
        "largest difference from eager",
    ]
    return (
        f"{c['network']}, tile {c['tile']}, eager {c['eager_seconds']:.3f} s per pass.\n\n"
        + markdown_table(header, rows)
    )


def bf16_table(*, results: Sequence[dict] | None = None) -> str:
    """What bf16 changes in a denoised image on a GPU and a CPU (``gpu.json``, ``bf16_accuracy_cpu.json``)."""
    results = results or [committed_result("gpu"), committed_result("bf16_accuracy_cpu")]
    rows = []
    for r in results:
        a = r["bf16_accuracy"]
        model = a.get("model") or r.get("network", "")
        rows.append(
            [
                r.get("device") if r.get("device") != "cpu" else machine_line(r),
                model,
                f"{a['bf16']['rms_difference']:.2e}",
                f"{a['bf16']['over_coadd_noise']:.1%}",
                f"{a['bf16']['max_abs_difference']:.1e}",
            ]
        )
    header = ["device", "model", "RMS change (MJy/sr)", "of the coadd's noise", "largest change"]
    return markdown_table(header, rows)


def book_times_table(*, results: Sequence[dict] | None = None) -> str:
    """Each chapter's time from a lone copy in a fresh kernel, one column per committed run
    (``book_times.json`` and, with AVX2 kernels forced, ``book_times_avx2.json``)."""
    results = results or [committed_result("book_times"), committed_result("book_times_avx2")]
    chapters = [r["chapter"] for r in results[0]["chapters"]]
    seconds = [{r["chapter"]: r["seconds"] for r in t["chapters"]} for t in results]
    rows = [[c, *(f"{s[c]:.0f} s" if c in s else "-" for s in seconds)] for c in chapters]
    rows.append(["**all chapters**", *(f"**{t['total_seconds'] / 60:.1f} min**" for t in results)])
    header = ["chapter", *(f"run {i + 1}" for i in range(len(results)))]
    captions = [f"- run {i + 1}: `{t['command']}` on a {machine_line(t)}; data folder {t['data_folder']}."
                for i, t in enumerate(results)]  # fmt: skip
    return "\n".join(captions) + "\n\n" + markdown_table(header, rows)


def align_rate_table(*, result: dict | None = None) -> str:
    """Seconds to align one ``_cal`` exposure against its pixels, with the corrections and without,
    and the straight lines through them at a NIRCam detector's frame (``align_rate.json``)."""
    rate = result or committed_result("align_rate")
    rows = [[f"{r['grid']} x {r['grid']}", r["band"], f"{r['frame'][0]} x {r['frame'][1]}",
             f"{r['megapixels']:.2f}", f"{r['seconds_per_exposure']['corrected']:.2f}",
             f"{r['seconds_per_exposure']['drizzle_only']:.2f}"] for r in rate["rows"]]  # fmt: skip
    fits = rate["fits"]
    at_frame = (f"{fits[k]['nircam_frame_seconds']:.2f}" for k in ("corrected", "drizzle_only"))
    rows.append(["**fit: 2048 x 2048**", "", "2048 x 2048", f"{2048**2 / 1e6:.2f}", *at_frame])
    header = ["mock grid (px)", "band", "exposure (px)", "megapixels", "corrected and drizzled (s)",
              "drizzled only (s)"]  # fmt: skip
    lines = "; ".join(f"{k.replace('_', ' ')}: {f['a']:.3f} s + {f['b_per_megapixel']:.3f} s/Mpx"
                      for k, f in fits.items())  # fmt: skip
    text = f"`{rate['command']}` on a {machine_line(rate)}.\n\n" + markdown_table(header, rows)
    return text + f"\n\n{lines}."
