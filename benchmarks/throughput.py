"""Throughput of the published 8-frame ASTERIS configuration.

Prints, and writes to ``benchmarks/results/throughput.json``:
- inference voxels per second and peak memory on 128x128 and 512x512 tiles
  (8 frames, batch 1, float32, inference mode);
- training steps per second for the ``tiny`` and ``paper`` presets.

Each figure is measured in a fresh subprocess so that peak memory is its own.
On CPU the peak is the process's peak resident memory (VmHWM); on CUDA it is
``torch.cuda.max_memory_allocated``.

Usage: ``python benchmarks/throughput.py [--device cuda] [--quick]``
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

RESULTS = Path(__file__).parent / "results" / "throughput.json"


def _peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


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

    return torch.cuda.max_memory_allocated() / 2**20 if device.type == "cuda" else _peak_rss_mb()


def measure_inference(size: int, device_name: str, repeats: int) -> dict:
    import torch

    from asteris import build_network

    device = torch.device(device_name)
    net = build_network(8).to(device).eval()
    x = torch.randn(1, 1, 8, size, size, device=device)
    before = _peak_mb(device)

    def run():
        with torch.inference_mode():
            net(x)

    times = _timed(run, device, repeats, budget_s=60)
    return {
        "tile": f"8x{size}x{size}",
        "seconds_per_tile": statistics.median(times),
        "voxels_per_s": x.numel() / statistics.median(times),
        "peak_memory_mb": _peak_mb(device),
        "memory_before_forward_mb": before,
        "repeats": len(times),
    }


def measure_training(preset: str, device_name: str, repeats: int) -> dict:
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

    def step():
        loss = asteris_loss(net(inp), tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = _timed(step, device, repeats, budget_s=120)
    return {
        "preset": preset,
        "sample": f"{batch}x{cfg.frames}x{cfg.patch_size}x{cfg.patch_size}",
        "seconds_per_step": statistics.median(times),
        "steps_per_s": 1 / statistics.median(times),
        "peak_memory_mb": _peak_mb(device),
        "repeats": len(times),
    }


def _child(args: list[str]) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--quick", action="store_true", help="128 px inference and tiny training only")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, what, device = args.child
        fn = measure_inference if kind == "inference" else measure_training
        value = int(what) if kind == "inference" else what
        print(json.dumps(fn(value, device, repeats=3)))
        return

    import torch

    import asteris

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    sizes = [128] if args.quick else [128, 512]
    presets = ["tiny"] if args.quick else ["tiny", "paper"]
    inference = [_child(["inference", str(s), device]) for s in sizes]
    training = [_child(["training", p, device]) for p in presets]
    result = {
        "device": _device_name(device),
        "torch": torch.__version__,
        "asteris": asteris.__version__,
        "network": "ASTERIS8, f_maps 24, blocks [4, 6, 6, 8], 4 refinement (13.7 M parameters)",
        "inference": inference,
        "training": training,
    }
    print(f"device: {result['device']}  (torch {result['torch']})")
    print(f"{'inference tile':>16} {'s/tile':>9} {'voxels/s':>11} {'peak MB':>9}")
    for r in inference:
        seconds, rate, peak = r["seconds_per_tile"], r["voxels_per_s"], r["peak_memory_mb"]
        print(f"{r['tile']:>16} {seconds:9.3f} {rate:11.0f} {peak:9.0f}")
    print(f"{'training':>16} {'sample':>16} {'s/step':>9} {'steps/s':>9} {'peak MB':>9}")
    for r in training:
        print(
            f"{r['preset']:>16} {r['sample']:>16} {r['seconds_per_step']:9.3f} {r['steps_per_s']:9.3f} "
            f"{r['peak_memory_mb']:9.0f}"
        )
    if not args.quick:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(json.dumps(result, indent=2) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
