"""Throughput of the published 8-frame ASTERIS configuration.

Prints, and writes to ``benchmarks/results/throughput.json``:
- inference voxels per second and peak memory on 128x128 and 512x512 tiles
  (8 frames, batch 1, float32, inference mode);
- training steps per second for the ``tiny`` and ``paper`` presets;
- the same inference (128 px) and tiny training in each activation layout
  forced (channels-last, contiguous), beside the per-machine choice that
  `asteris.tuning` measures and caches, and with a plain eager forward pass
  (`eager_baseline.py`, same weights, none of the speed-ups), all in the same
  run, with the speed-up ratios;
- the machine (CPU model, vector extensions, threads, torch build), its float32
  matrix-product rate and the fraction of it each inference row reaches.

Another CPU's kernels can be emulated on this one: ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2`` restricts PyTorch to its AVX2 code paths (recorded in
the machine description).

Each figure is measured in a fresh subprocess so that peak memory is its own.
On CPU the peak is the process's peak resident memory (VmHWM); on CUDA it is
``torch.cuda.max_memory_allocated``.

Usage: ``python benchmarks/throughput.py [--device cuda] [--quick] [--out FILE]``
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _memory import status_mb

from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "throughput.json"


def _sync(device) -> None:
    import torch

    if device.type == "cuda":
        torch.cuda.synchronize()


def _timed(fn, device, repeats: int, budget_s: float) -> list[float]:
    fn()  # warm-up
    times: list[float] = []
    start = time.perf_counter()
    while len(times) < repeats and (not times or time.perf_counter() - start < budget_s):
        _sync(device)
        t0 = time.perf_counter()
        fn()
        _sync(device)
        times.append(time.perf_counter() - t0)
    return times


def _peak_mb(device) -> float:
    import torch

    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else status_mb()


#: Ways to run the network: the measured per-machine choice, each layout forced, and the eager baseline.
IMPLEMENTATIONS = ("asteris", "asteris:channels_last", "asteris:contiguous", "eager")


def _forward(impl: str, net, shape: tuple[int, ...]):
    """The forward function of ``impl``; sets the network's layout (measured, or forced) first."""
    from asteris.denoise import TUNING_SIDE
    from asteris.tuning import LAYOUTS, choose_memory_format

    if impl == "asteris":
        if next(net.parameters()).device.type == "cpu":  # the trial `denoise` makes, on at most 128 px
            side = min(shape[-1], TUNING_SIDE)
            choose_memory_format(net, (*shape[:-2], side, side))
        return lambda net, x: net(x)
    if impl.startswith("asteris:"):
        net.memory_format = LAYOUTS[impl.split(":")[1]]
        return lambda net, x: net(x)
    sys.path.insert(0, str(Path(__file__).parent))
    from eager_baseline import eager_forward

    return eager_forward


def measure_inference(size: int, device_name: str, repeats: int, impl: str = "asteris") -> dict:
    import torch

    from asteris import build_network

    device = torch.device(device_name)
    torch.manual_seed(0)
    net = build_network(8).to(device).eval()
    x = torch.randn(1, 1, 8, size, size, device=device)
    forward = _forward(impl, net, tuple(x.shape))
    before = _peak_mb(device)

    def run():
        with torch.inference_mode():
            forward(net, x)

    times = _timed(run, device, repeats, budget_s=60)
    return {
        "implementation": impl,
        "layout": "eager" if impl == "eager" else str(net.memory_format).split(".")[-1],
        "tile": f"8x{size}x{size}",
        "seconds_per_tile": statistics.median(times),
        "voxels_per_s": x.numel() / statistics.median(times),
        "peak_memory_mb": _peak_mb(device),
        "memory_before_forward_mb": before,
        "repeats": len(times),
    }


def measure_training(preset: str, device_name: str, repeats: int, impl: str = "asteris") -> dict:
    import torch

    from asteris import TrainConfig
    from asteris.losses import asteris_loss
    from asteris.network import Asteris

    device = torch.device(device_name)
    cfg = TrainConfig.preset(preset)
    batch = cfg.batch_size if device.type == "cuda" or preset == "tiny" else 1
    net = Asteris(cfg.network_config()).to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    shape = (batch, 1, cfg.frames, cfg.patch_size, cfg.patch_size)
    inp, tgt = torch.randn(shape, device=device), torch.randn(shape, device=device)
    forward = _forward(impl, net, shape)

    def step():
        loss = asteris_loss(forward(net, inp), tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = _timed(step, device, repeats, budget_s=120)
    return {
        "implementation": impl,
        "preset": preset,
        "sample": f"{batch}x{cfg.frames}x{cfg.patch_size}x{cfg.patch_size}",
        "seconds_per_step": statistics.median(times),
        "steps_per_s": 1 / statistics.median(times),
        "peak_memory_mb": _peak_mb(device),
        "repeats": len(times),
    }


def check_agreement() -> float:
    """max|fast - eager| / max|eager| on one 8x64x64 input with random weights."""
    import torch

    from asteris import build_network

    torch.manual_seed(1)
    net = build_network(8).eval()
    x = torch.randn(1, 1, 8, 64, 64)
    with torch.inference_mode():
        fast, plain = net(x), _forward("eager", net, tuple(x.shape))(net, x)
    return float((fast - plain).abs().max() / plain.abs().max())


def matmul_gflops(repeats: int = 5, n: int = 2048) -> float:
    """This machine's float32 matrix-product rate with torch's threads: the arithmetic ceiling."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b, torch.device("cpu"), repeats, budget_s=30))
    return 2 * n**3 / best / 1e9


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def report(result: dict) -> None:
    """Print the figures of one benchmark run as tables."""
    print(f"device: {result['device']}  (torch {result['torch']}, asteris {result['asteris']})")
    print(f"{'inference':>22} {'tile':>12} {'s/tile':>9} {'voxels/s':>10} {'peak MB':>8}")
    for r in result["inference"]:
        seconds, rate, peak = r["seconds_per_tile"], r["voxels_per_s"], r["peak_memory_mb"]
        print(f"{r['implementation']:>22} {r['tile']:>12} {seconds:9.3f} {rate:10.0f} {peak:8.0f}")
    print(f"{'training':>22} {'preset':>6} {'sample':>12} {'s/step':>9} {'steps/s':>8} {'peak MB':>8}")
    for r in result["training"]:
        seconds, rate, peak = r["seconds_per_step"], r["steps_per_s"], r["peak_memory_mb"]
        name = f"{r['implementation']:>22} {r['preset']:>6}"
        print(f"{name} {r['sample']:>12} {seconds:9.3f} {rate:8.3f} {peak:8.0f}")
    if result.get("matmul_fp32_gflop_per_s"):
        print(f"float32 matmul peak: {result['matmul_fp32_gflop_per_s']:.1f} GFLOP/s; network "
              f"{result['flops_per_voxel'] / 1e6:.2f} MFLOP/voxel")  # fmt: skip
        for r in result["inference"]:
            share = r["fraction_of_matmul_peak"]
            print(f"  {r['implementation']:>22} {r['tile']:>10}: {share:.1%} of the peak")
    machine = result.get("machine", {})
    if machine:
        flags = ", ".join(machine["vector_extensions"])
        print(f"machine: {machine['cpu_model']} ({flags}), {machine['torch_threads']} threads, "
              f"torch {machine['torch']} (ATen kernels: {machine['cpu_capability']})")  # fmt: skip
    for key, ratio in result["speedup_vs_eager"].items():
        print(f"speed-up over the eager baseline, {key}: {ratio:.2f}x")
    print(f"max |asteris - eager| / max |eager| = {result['max_rel_diff_vs_eager']:.1e}")


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--quick", action="store_true", help="128 px inference and tiny training only")
    parser.add_argument("--report", action="store_true", help="print the saved results and exit")
    parser.add_argument("--out", help="results file (default: results/throughput.json; none with --quick)")
    parser.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.report:
        report(json.loads(Path(args.out or RESULTS).read_text()))
        return
    if args.child:
        kind, what, device, impl = args.child
        fn = measure_inference if kind == "inference" else measure_training
        value = int(what) if kind == "inference" else what
        print(json.dumps(fn(value, device, repeats=3, impl=impl)))
        return

    import torch

    import asteris

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = [128] if args.quick else [128, 512]
    presets = ["tiny"] if args.quick else ["tiny", "paper"]
    inference = [_child(["inference", str(s), device, "asteris"]) for s in sizes]
    inference += [_child(["inference", "128", device, impl]) for impl in IMPLEMENTATIONS[1:]]
    training = [_child(["training", p, device, "asteris"]) for p in presets]
    training += [_child(["training", "tiny", device, impl]) for impl in IMPLEMENTATIONS[1:]]
    eager_inf = next(r for r in inference if r["implementation"] == "eager")
    eager_train = next(r for r in training if r["implementation"] == "eager")
    speedup = {
        "inference_8x128x128": eager_inf["seconds_per_tile"] / inference[0]["seconds_per_tile"],
        "training_tiny": eager_train["seconds_per_step"] / training[0]["seconds_per_step"],
    }
    sys.path.insert(0, str(Path(__file__).parent))
    from gpu import flops_per_voxel

    flops = flops_per_voxel(torch.device("cpu"))["flops_per_voxel"]
    peak = matmul_gflops() if device == "cpu" else None
    for r in inference:
        r["gflop_per_s"] = r["voxels_per_s"] * flops / 1e9
        r["fraction_of_matmul_peak"] = r["gflop_per_s"] / peak if peak else None
    result = {
        "device": _device_name(device),
        "torch": torch.__version__,
        "asteris": asteris.__version__,
        "network": "ASTERIS8, f_maps 24, blocks [4, 6, 6, 8], 4 refinement (13.7 M parameters)",
        "machine": machine_description(),
        "flops_per_voxel": flops,
        "matmul_fp32_gflop_per_s": peak,
        "inference": inference,
        "training": training,
        "speedup_vs_eager": speedup,
        "max_rel_diff_vs_eager": check_agreement(),
        "eager_vs_authors_class": (
            "not measured: the authors' ASTERIS8 class is not installed with asteris, so the eager baseline "
            "(written from the method description) could not be timed against it in the same process"
        ),
    }
    report(result)
    out = Path(args.out) if args.out else None if args.quick else RESULTS
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
