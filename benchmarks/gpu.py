"""GPU speed of the published 8-frame ASTERIS configuration, and what bf16 changes.

Sections (each printed, then saved as it finishes to ``benchmarks/results/gpu.json``
or to ``--out``):

- ``ceilings``: the device's measured limits: device-to-device copy bandwidth
  (bytes read + written) and dense matrix-product rates in float32, TF32 and
  bf16 (8192^3, random data).
- ``flops``: floating-point operations per voxel of one forward pass, counted
  by `torch.utils.flop_counter` (matrix products and convolutions).
- ``inference``: voxels/s on 8-frame tiles of 128-1024 px in float32 (PyTorch
  defaults), bf16 autocast, and bf16 autocast compiled block by block
  (`asteris.compile_network`, 512 and 1024 px tiles only); the
  fraction of the bf16 matrix rate and of the copy bandwidth each reaches.
- ``training``: steps/s of `asteris.train` with the ``paper`` preset (batch
  3 x 8 x 128 x 128) on a mock F200W stack, float32 / bf16 / bf16 + compile,
  taken from the run's own per-step timings. The last run goes on to give a
  trained model for the next sections.
- ``bf16_accuracy``: that model denoises the mock stack in float32 and in bf16;
  the RMS of the difference is compared with the coadd's noise and with the
  float32 image's own error against the noiseless truth.
- ``end_to_end``: a 4096 x 4096 x 8 stack (the mock exposures tiled):
  preprocessing on the host CPU and on the GPU (one torch implementation; the
  committed run, made before it, timed numpy on the host), the tiled network
  and restoration, each timed, then one whole `asteris.denoise` call, per
  mode (float32 / bf16 / bf16 + compile).

Usage: ``python benchmarks/gpu.py --stack MOCK_BAND.fits [--out DIR] [--quick]``
(``--quick`` shrinks every size so that the script can be checked on a CPU).
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from _results import write_result
from _timing import median_seconds, seconds_of, sync

from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "gpu.json"


def _reset_peak() -> None:
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()


def _peak_gb() -> float | None:
    return torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None


def ceilings(device: torch.device, quick: bool) -> dict:
    n_bytes = (1 << 22) if quick else (1 << 30)
    src = torch.randn(n_bytes // 4, device=device)
    dst = torch.empty_like(src)
    copy_s = median_seconds(lambda: dst.copy_(src), repeats=20)
    n = 512 if quick else 8192
    out = {"copy_bytes": 2 * n_bytes, "copy_tb_per_s": 2 * n_bytes / copy_s / 1e12}
    for name, dtype, tf32 in [("fp32", torch.float32, False), ("tf32", torch.float32, True),
                              ("bf16", torch.bfloat16, False)]:  # fmt: skip
        torch.backends.cuda.matmul.allow_tf32 = tf32
        a, b = (torch.randn(n, n, device=device, dtype=dtype) for _ in range(2))
        seconds = median_seconds(lambda a=a, b=b: a @ b, repeats=10)
        out[f"matmul_{name}_tflop_per_s"] = 2 * n**3 / seconds / 1e12
    torch.backends.cuda.matmul.allow_tf32 = False
    return out


def flops_per_voxel(device: torch.device) -> dict:
    from torch.utils.flop_counter import FlopCounterMode

    from asteris import build_network

    net = build_network(8).to(device).eval()
    x = torch.randn(1, 1, 8, 128, 128, device=device)
    with torch.inference_mode(), FlopCounterMode(display=False) as counter:
        net(x)
    total = counter.get_total_flops()
    return {
        "parameters": sum(p.numel() for p in net.parameters()),
        "flops_per_voxel": total / x.numel(),
        "counted_on": "8x128x128",
    }


MODES = {"fp32": (False, False), "bf16": (True, False), "bf16+compile": (True, True)}
SELECTED: dict[str, list[str]] = {}  # section -> modes, from the command line


def _modes(device: torch.device, section: str = "") -> list[tuple[str, bool, bool]]:
    if device.type != "cuda":  # bf16 autocast on a CPU: slow, but its accuracy is the same question
        return [("fp32", False, False), ("bf16", True, False)][: 2 if section == "bf16_accuracy" else 1]
    return [(name, *MODES[name]) for name in SELECTED.get(section, list(MODES))]


def inference(device: torch.device, quick: bool, flops: float, ceil: dict) -> list[dict]:
    from asteris import build_network, compile_network

    torch.manual_seed(0)
    net = build_network(8).to(device).eval()
    sizes = [(128, 1)] if quick else [(128, 1), (128, 16), (512, 1), (1024, 1)]
    rows = []
    for name, bf16, compiled in _modes(device):
        forward = compile_network(copy.deepcopy(net)) if compiled else net
        for size, batch in sizes:
            if compiled and size < 512:
                continue  # each new shape compiles anew: only the large tiles
            x = torch.randn(batch, 1, 8, size, size, device=device)
            _reset_peak()

            def run(forward=forward, x=x, bf16=bf16):
                with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
                    forward(x)

            first = seconds_of(run)  # the first call compiles
            seconds = median_seconds(run, warmup=1)
            rate = x.numel() / seconds
            rows.append(
                {
                    "mode": name,
                    "tile": f"{batch}x8x{size}x{size}",
                    "seconds": seconds,
                    "first_call_s": first,
                    "voxels_per_s": rate,
                    "tflop_per_s": rate * flops / 1e12,
                    "fraction_of_bf16_matmul": rate * flops / 1e12 / ceil["matmul_bf16_tflop_per_s"],
                    "peak_memory_gb": _peak_gb(),
                }
            )
            print(
                _row(rows[-1], ["mode", "tile", "seconds", "voxels_per_s", "tflop_per_s", "peak_memory_gb"])
            )
    return rows


def _row(row: dict, keys: list[str]) -> str:
    return "  ".join(f"{k}={row[k]:.4g}" if isinstance(row[k], float) else f"{k}={row[k]}" for k in keys)


def training(
    stack_path: Path, device: torch.device, quick: bool, work: Path, budget_s: float
) -> tuple[list, Path]:
    from asteris import TrainConfig, save_checkpoint, train

    steps = 8 if quick else 60
    cfg = TrainConfig.preset("tiny" if quick else "paper", epochs=200, checkpoint_every=10_000)
    rows = []
    for name, bf16, compiled in _modes(device, "training"):
        cfg = cfg.replace(bf16=bf16, compile=compiled)
        t0 = time.perf_counter()
        run = train(str(stack_path), run_dir=work / name, config=cfg, device=device, stop_after=steps,
                    progress=False, overwrite=True)  # fmt: skip
        seconds = [r["seconds"] for r in run.history if "seconds" in r][5:]
        rows.append(
            {
                "mode": name,
                "preset": "tiny" if quick else "paper",
                "sample": f"{cfg.batch_size}x8x{cfg.patch_size}x{cfg.patch_size}",
                "seconds_per_step": statistics.median(seconds),
                "steps_per_s": 1 / statistics.median(seconds),
                "wall_s_incl_setup": time.perf_counter() - t0,
                "loss_at_end": run.history[-1].get("loss"),
                "peak_memory_gb": _peak_gb(),
            }
        )
        print(_row(rows[-1], ["mode", "sample", "seconds_per_step", "steps_per_s", "loss_at_end"]))
    # the last (fastest) mode goes on for the budget: the trained model of the next sections
    start = time.perf_counter()
    while time.perf_counter() - start < budget_s:
        before = run.step
        run = train(str(stack_path), run_dir=work / name, config=cfg, device=device, resume=True,
                    stop_after=100, progress=False)  # fmt: skip
        if run.step == before:  # the schedule is complete
            break
    rows.append({"trained_model": name, "steps": run.step, "extra_training_s": time.perf_counter() - start})
    print(f"trained {name} to step {run.step}")
    model_path = save_checkpoint(work / f"{name}-trained.pt", run.model, name="gpu-benchmark",
                                 train_config=cfg.to_dict())  # fmt: skip
    return rows, Path(model_path)


def bf16_accuracy(stack_path: Path, model_path: Path, device: torch.device, tile: int | None) -> dict:
    from astropy.io import fits
    from astropy.stats import sigma_clipped_stats

    from asteris import denoise

    images = {
        name: denoise(
            str(stack_path),
            model=model_path,
            device=device,
            bf16=bf16,
            compile=compiled,
            tile_size=tile,
            progress=False,
        )  # fmt: skip
        for name, bf16, compiled in _modes(device, "bf16_accuracy")
    }
    ref = images["fp32"]
    truth = fits.getdata(stack_path, "TRUTH")[ref.crop]
    valid = ref.mask
    noise = sigma_clipped_stats(ref.coadd[valid] - truth[valid])[2]
    error = float(np.sqrt(np.mean((ref.image[valid] - truth[valid]) ** 2)))
    out = {"coadd_noise_rms": float(noise), "fp32_error_rms": error}
    for name, result in images.items():
        if name == "fp32":
            continue
        diff = float(np.sqrt(np.mean((result.image[valid] - ref.image[valid]) ** 2)))
        out[name] = {
            "rms_difference": diff,
            "over_coadd_noise": diff / noise,
            "over_fp32_error": diff / error,
            "max_abs_difference": float(np.abs(result.image[valid] - ref.image[valid]).max()),
        }
        print(
            f"{name}: rms change {diff:.3g} = {diff / noise:.2%} of the coadd noise, "
            f"{diff / error:.2%} of fp32's error"
        )
    return out


def _big_stack(stack_path: Path, side: int) -> np.ndarray:
    """The mock's first 8 exposures tiled to ``side`` x ``side`` px."""
    from asteris import read_stack

    frames = read_stack(str(stack_path)).data[:8]
    reps = -(-side // frames.shape[1])
    return np.tile(frames, (1, reps, reps))[:, :side, :side].copy()


def end_to_end(
    stack_path: Path,
    model_path: Path | None,
    device: torch.device,
    quick: bool,
    tile: int | None,
    cpu_baseline: bool = True,
) -> dict:
    """A 4096^2 x 8 stack: each step timed, then one whole `asteris.denoise` call per mode.

    Preprocessing and restoration run on the host CPU (the baseline) and on the
    GPU (what `denoise` does there): the same torch functions on either device. Without a trained model the
    published-size network keeps its initial weights: the same work, timed alike.
    """
    from asteris import build_network, denoise, load_model
    from asteris.engine import denoise_frames
    from asteris.preprocess import prepare_stack, restore_image

    side = 256 if quick else 4096
    big = _big_stack(stack_path, side)
    model = load_model(model_path) if model_path else build_network(8)
    out = {
        "stack": f"8x{side}x{side}",
        "tile": tile,
        "model": str(model_path.name if model_path else "untrained"),
    }
    if cpu_baseline or device.type != "cuda":
        t0 = time.perf_counter()
        prepared = prepare_stack(big, 8)
        out["preprocess_cpu_s"] = time.perf_counter() - t0
    if device.type == "cuda":
        prepare_stack(big[:, :256, :256], 8, device=device)  # CUDA context and kernels warm
        t0 = time.perf_counter()
        prepared = prepare_stack(big, 8, device=device)
        out["preprocess_gpu_s"] = time.perf_counter() - t0
        print(
            f"preprocess: host CPU {out.get('preprocess_cpu_s', 0):.2f} s, "
            f"GPU {out['preprocess_gpu_s']:.2f} s"
        )
    out["modes"] = []
    for name, bf16, compiled in _modes(device, "end_to_end"):
        options = dict(device=device, bf16=bf16, compile=compiled, progress=False, tile_size=tile)
        t0 = time.perf_counter()
        if compiled:
            denoise_frames(prepared.frames, model, **options)  # the first call compiles
        t1 = time.perf_counter()
        frames_out = denoise_frames(prepared.frames, model, **options)
        t2 = time.perf_counter()
        row = {"mode": name, "network_s": t2 - t1}
        restore_image(frames_out, prepared)
        row["restore_cpu_s"] = time.perf_counter() - t2
        if device.type == "cuda":
            t3 = time.perf_counter()
            restore_image(frames_out, prepared, device=device)
            row["restore_gpu_s"] = time.perf_counter() - t3
        if compiled:
            row["network_first_call_s"] = t1 - t0
        sync()
        t4 = time.perf_counter()
        denoise(big, model=model, **options)
        row["denoise_call_s"] = time.perf_counter() - t4
        out["modes"].append(row)
        print(_row(row, [k for k in row if k != "network_first_call_s"]))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stack", required=True, help="a mock band FITS (cube + TRUTH), e.g. f200w.fits")
    parser.add_argument(
        "--out", help="a JSON file, or a folder for gpu.json (default benchmarks/results/gpu.json)"
    )
    parser.add_argument("--work", default="/tmp/asteris-gpu-bench", help="scratch folder for training runs")
    parser.add_argument("--train-budget", type=float, default=90.0, help="seconds of extra training")
    parser.add_argument("--quick", action="store_true", help="tiny sizes, to check the script on a CPU")
    parser.add_argument("--sections", default="ceilings,flops,inference,training,end_to_end,bf16_accuracy")
    parser.add_argument(
        "--modes",
        action="append",
        default=[],
        metavar="SECTION=MODE,MODE",
        help="modes of one section (default fp32, bf16, bf16+compile)",
    )
    parser.add_argument("--tile", type=int, help="tile side of the denoising sections (default: asteris's)")
    parser.add_argument("--model", help="a trained checkpoint for the denoising sections (no training then)")
    parser.add_argument("--no-cpu-baseline", action="store_true", help="skip preprocessing on the host CPU")
    parser.add_argument("--previous", help="a gpu.json whose other sections are kept")
    args = parser.parse_args()
    for item in args.modes:
        section, names = item.split("=")
        SELECTED[section] = names.split(",")

    import asteris

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    out = Path(args.out or RESULTS)
    out = out / "gpu.json" if out.is_dir() else out
    out.parent.mkdir(parents=True, exist_ok=True)
    result = {
        "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu",
        "torch": torch.__version__,
        "asteris": asteris.__version__,
        "network": "ASTERIS8, f_maps 24, blocks [4, 6, 6, 8], 4 refinement",
        "machine": machine_description(),
    }
    if args.model:
        cfg = asteris.load_model(args.model).config
        blocks = f"blocks {list(cfg.num_blocks)}, {cfg.num_refinement_blocks} refinement"
        result["network"] = (
            f"ASTERIS{cfg.frames}, f_maps {cfg.f_maps}, {blocks} (from {Path(args.model).name})"
        )

    if args.previous:
        previous = json.loads(Path(args.previous).read_text())
        result.update({k: v for k, v in previous.items() if k not in result})
    sections = args.sections.split(",")

    def save(key, value):
        result[key] = value
        write_result(out, result, indent=2)

    stack = Path(args.stack)
    work = Path(args.work)
    if "ceilings" in sections:
        save("ceilings", ceilings(device, args.quick))
        print(result["ceilings"])
    if "flops" in sections:
        save("flops", flops_per_voxel(device))
        print(result["flops"])
    if "inference" in sections:
        save(
            "inference", inference(device, args.quick, result["flops"]["flops_per_voxel"], result["ceilings"])
        )
    model_path = Path(args.model) if args.model else None
    if "training" in sections or ("bf16_accuracy" in sections and model_path is None):
        rows, model_path = training(stack, device, args.quick, work, 5 if args.quick else args.train_budget)
        save("training", rows)
    if "end_to_end" in sections:
        save(
            "end_to_end",
            end_to_end(stack, model_path, device, args.quick, args.tile, not args.no_cpu_baseline),
        )
    if "bf16_accuracy" in sections:
        save("bf16_accuracy", bf16_accuracy(stack, model_path, device, args.tile))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
