"""Every speed and memory figure in one table and one file, ``benchmarks/results/speed.json``.

Gathers what the measuring scripts wrote (it measures nothing itself):

- ``throughput.json`` (`throughput.py`): CPU inference and training, against the eager baseline;
- ``streaming.json`` (`streaming_memory.py`): peak memory of streamed denoising, 2k-8k squares;
- ``gpu.json`` (`gpu.py`, run on a GPU): device ceilings, inference, training, end to end;
- ``bf16_accuracy_cpu.json`` (`gpu.py --sections bf16_accuracy` on a CPU): what bf16 changes;
- ``compile_time.json`` (`compile_time.py`): compile time, whole graph against block by block.

Usage: ``python benchmarks/speed.py``
"""

from __future__ import annotations

import json
from pathlib import Path

from _results import write_result

from asteris.tuning import machine_line

RESULTS = Path(__file__).parent / "results"
SOURCES = ["throughput", "streaming", "gpu", "bf16_accuracy_cpu", "compile_time"]


def _load() -> dict:
    return {name: json.loads(p.read_text()) for name in SOURCES if (p := RESULTS / f"{name}.json").exists()}


def _machine(result: dict) -> str:
    return "  machine: " + machine_line(result)


def _cpu_lines(t: dict) -> list[str]:
    lines = [f"CPU ({t['device']}, torch {t['torch']})", _machine(t)]
    for r in t["inference"]:
        lines.append(
            f"  inference {r['implementation']:>8} {r['tile']:>12}: {r['voxels_per_s']:>12,.0f} voxels/s"
        )
    for r in t["training"]:
        name = f"{r['implementation']:>8} {r['preset']:>6} {r['sample']}"
        lines.append(f"  training  {name}: {r['seconds_per_step']:.3g} s/step")
    lines += [f"  speed-up over eager, {k}: {v:.2f}x" for k, v in t["speedup_vs_eager"].items()]
    lines += [
        f"  speed-up over the authors' class, {k}: {v:.2f}x"
        for k, v in t.get("speedup_vs_authors", {}).items()
    ]
    return lines


def _streaming_lines(s: dict) -> list[str]:
    return ["streamed denoising (network replaced by the identity)", _machine(s)] + [
        f"  {r['size']}^2 x {r['exposures']} {r['mode']:>9}: {r['seconds']:.0f} s, "
        f"peak anonymous {r['peak_anon_mb']:.0f} MB"
        for r in s["results"]
    ]


def _gpu_lines(g: dict) -> list[str]:
    c = g["ceilings"]
    lines = [
        f"GPU ({g['device']}, torch {g['torch']}): copy {c['copy_tb_per_s']:.2f} TB/s, matmul "
        f"fp32 {c['matmul_fp32_tflop_per_s']:.0f} / tf32 {c['matmul_tf32_tflop_per_s']:.0f} / "
        f"bf16 {c['matmul_bf16_tflop_per_s']:.0f} TFLOP/s; "
        f"network {g['flops']['flops_per_voxel'] / 1e6:.2f} MFLOP/voxel",
        _machine(g),
    ]
    for r in g.get("inference", []):
        lines.append(
            f"  inference {r['mode']:>12} {r['tile']:>15}: {r['voxels_per_s']:>12,.0f} voxels/s "
            f"({r['fraction_of_bf16_matmul']:.2%} of the bf16 matmul rate), {r['peak_memory_gb']:.1f} GB"
        )
    if "inference_note" in g:
        lines.append(f"  ({g['inference_note']})")
    for r in g.get("training", []):
        if "mode" in r:
            lines.append(f"  training  {r['mode']:>12} {r['sample']:>15}: {r['steps_per_s']:.2f} steps/s")
    e = g.get("end_to_end")
    if e:
        # runs before one preprocessing implementation timed numpy on the host
        host = "cpu" if "preprocess_cpu_s" in e else "numpy"
        lines.append(
            f"  preprocessing {e['stack']}: host CPU ({host}) "
            f"{e.get(f'preprocess_{host}_s', float('nan')):.2f} s, "
            f"on the GPU {e.get('preprocess_gpu_s', float('nan')):.2f} s"
        )
        for r in e["modes"]:
            lines.append(
                f"  end to end {e['stack']} ({r['mode']}, tile {e['tile'] or 'default'}): "
                f"denoise() {r['denoise_call_s']:.1f} s; network {r['network_s']:.1f} s, restore "
                f"{r.get('restore_gpu_s', float('nan')):.2f} s (host {r[f'restore_{host}_s']:.2f} s)"
            )
    return lines


def _accuracy_lines(name: str, a: dict) -> list[str]:
    return [
        f"  {name} {mode}: RMS change {v['rms_difference']:.3g} = "
        f"{v['over_coadd_noise']:.2%} of the coadd noise, "
        f"{v['over_fp32_error']:.2%} of the float32 image's error against the truth"
        for mode, v in a.items()
        if isinstance(v, dict)
    ]


def _compile_lines(c: dict) -> list[str]:
    lines = [
        f"torch.compile on {c['device']}, {c['network']}, tile {c['tile']} "
        f"(eager {c['eager_seconds']:.3f} s)",
        _machine(c),
    ]
    for r in c["rows"]:
        lines.append(
            f"  {r['way']}: first call {r['first_call_s']:.1f} s, "
            f"second copy {r['second_model_first_call_s']:.1f} s, "
            f"{r['seconds']:.3f} s per pass ({r['speedup_vs_eager']:.2f}x eager)"
        )
    return lines


def main() -> None:
    found = _load()
    lines: list[str] = []
    if "throughput" in found:
        lines += _cpu_lines(found["throughput"])
    if "streaming" in found:
        lines += _streaming_lines(found["streaming"])
    if "gpu" in found:
        lines += _gpu_lines(found["gpu"])
        lines += _accuracy_lines("GPU", found["gpu"].get("bf16_accuracy", {}))
    if "bf16_accuracy_cpu" in found:
        lines += ["bf16 autocast on a CPU (same number format, another machine)"]
        lines.append(_machine(found["bf16_accuracy_cpu"]))
        lines += _accuracy_lines("CPU", found["bf16_accuracy_cpu"].get("bf16_accuracy", {}))
    if "compile_time" in found:
        lines += _compile_lines(found["compile_time"])
    print("\n".join(lines))
    write_result(RESULTS / "speed.json", found, indent=2)
    print(f"wrote {RESULTS / 'speed.json'} from {', '.join(found)}")


if __name__ == "__main__":
    main()
