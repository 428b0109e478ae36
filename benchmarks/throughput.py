"""Throughput of the published 8-frame ASTERIS configuration.

Prints, and writes to ``benchmarks/results/throughput.json``:
- inference voxels per second and peak memory on 128x128 and 512x512 tiles
  (8 frames, batch 1, float32, inference mode);
- training steps per second (forward, backward, AdamW) for the ``tiny``,
  ``small`` (the CPU reference models' preset) and ``paper`` presets;
- the same inference (128 px) and tiny training with each kernel choice forced
  (channels-last, contiguous; for training also oneDNN's own depthwise input
  gradient), beside the per-machine choice that `asteris.tuning` measures and
  caches, with a plain eager forward pass (`eager_baseline.py`, same weights,
  none of the speed-ups) and, given ``--authors-code``, the authors' own
  ``ASTERIS8`` class (same weights, same inputs), all in the same run, with the
  speed-up ratios against both and the eager baseline's time against the
  authors' (it should be within 10%);
- the machine (CPU model, vector extensions, threads, torch build), its float32
  matrix-product rate and the fraction of it each row reaches (matrix-product
  and convolution operations of a forward pass counted by
  `torch.utils.flop_counter`; a training step counted as three forward passes,
  the usual convention, since the counter overcounts the backward pass of
  grouped convolutions about 28-fold).

The authors' class is not shipped with asteris: ``--authors-code DIR`` names a
checkout of their repository (``DIR/asteris/ASTERIS_net_8.py``, or the file
itself); it imports ``einops``.

Another CPU's kernels can be emulated on this one: ``ATEN_CPU_CAPABILITY=avx2
ONEDNN_MAX_CPU_ISA=AVX2 MKL_ENABLE_INSTRUCTIONS=AVX2`` restricts PyTorch, oneDNN
and MKL to their AVX2 code paths (recorded in the machine description).

Each figure is measured in a fresh subprocess so that peak memory is its own.
On CPU the peak is the process's peak resident memory (VmHWM); on CUDA it is
``torch.cuda.max_memory_allocated``.

Usage: ``python benchmarks/throughput.py [--device cuda] [--quick] [--authors-code DIR] [--out FILE]``
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from _memory import status_mb
from _results import write_result

from asteris.tuning import emulated_isa, machine_description

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


#: Ways to run the network: the measured per-machine choice, each choice forced, and the two baselines.
INFERENCE_IMPLEMENTATIONS = ("asteris", "asteris:channels_last", "asteris:contiguous", "eager", "authors")
TRAINING_IMPLEMENTATIONS = ("asteris", "asteris:channels_last", "asteris:contiguous", "asteris:autograd",
                            "eager", "authors")  # fmt: skip
#: The baselines timed against the per-machine choice on these samples, and the speed-up the issue targets.
COMPARED = {"inference_8x128x128": ("inference", "8x128x128"), "training_tiny": ("training", "tiny"),
            "training_small": ("training", "small")}  # fmt: skip
TARGET_SPEEDUP = 2.0
EAGER_TOLERANCE = 0.10


def authors_source(path: str | Path) -> Path:
    """The file of the authors' ``ASTERIS8`` class in a checkout of their repository (or the file itself)."""
    path = Path(path)
    return path if path.is_file() else path / "asteris" / "ASTERIS_net_8.py"


def load_authors_class(path: str | Path):
    """The authors' ``ASTERIS8`` class, imported from a checkout of their repository.

    Their package is also called ``asteris``, so the file is loaded under another module name.
    """
    import importlib.util

    source = authors_source(path)
    if not source.exists():
        raise FileNotFoundError(f"{source} not found: --authors-code takes a checkout of the authors' "
                                "repository, or their ASTERIS_net_8.py")  # fmt: skip
    spec = importlib.util.spec_from_file_location("authors_asteris_net_8", source)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ASTERIS8


def _network(impl: str, net, shape: tuple[int, ...], training: bool, authors_code: str | None):
    """The module to run for ``impl`` and its forward function; kernel choices are made (or forced) first."""
    from asteris.engine import TUNING_SIDE
    from asteris.tuning import LAYOUTS, choose_kernels

    if impl == "asteris":
        if next(net.parameters()).device.type == "cpu":  # the trial `denoise` and `train` make
            side = shape[-1] if training else min(shape[-1], TUNING_SIDE)
            choose_kernels(net, (*shape[:-2], side, side), training=training)
        return net, lambda x: net(x)
    if impl.startswith("asteris:"):
        choice = impl.split(":")[1]
        net.memory_format = LAYOUTS.get(choice, LAYOUTS["channels_last"])
        net.depthwise_gradient = "autograd" if choice == "autograd" else "transposed"
        return net, lambda x: net(x)
    if impl == "authors":
        if authors_code is None:
            raise ValueError("the authors' class needs --authors-code")
        cfg = net.config
        authors = load_authors_class(authors_code)(
            f_maps=cfg.f_maps,
            num_blocks=list(cfg.num_blocks),
            num_refinement_blocks=cfg.num_refinement_blocks,
        )
        authors.load_state_dict(net.state_dict(), strict=True)  # the same weights
        authors.to(next(net.parameters()).device).train(net.training)
        return authors, authors
    sys.path.insert(0, str(Path(__file__).parent))
    from eager_baseline import eager_forward

    return net, lambda x: eager_forward(net, x)


def _layout_name(impl: str, net) -> str:
    return "eager" if impl in ("eager", "authors") else str(net.memory_format).split(".")[-1]


def _flops(fn) -> float:
    """Matrix-product and convolution operations of one call of ``fn``."""
    from torch.utils.flop_counter import FlopCounterMode

    with FlopCounterMode(display=False) as counter:
        fn()
    return float(counter.get_total_flops())


def _no_grad(forward, x):
    import torch

    with torch.no_grad():
        return forward(x)


def _flops_per_tile(forward, size: int, device) -> float:
    """Operations of one tile; counted on 128 px and scaled by the voxels beyond (the pass is slow there,
    and all but the one-voxel padding borders of the 1x1x1 convolutions scale with the voxels)."""
    import torch

    side = min(size, 128)
    x = torch.randn(1, 1, 8, side, side, device=device)
    return _flops(lambda: _no_grad(forward, x)) * (size / side) ** 2


def measure_inference(size: int, device_name: str, repeats: int, impl: str = "asteris",
                      authors_code: str | None = None) -> dict:  # fmt: skip
    import torch

    from asteris import build_network

    device = torch.device(device_name)
    torch.manual_seed(0)
    net = build_network(8).to(device).eval()
    x = torch.randn(1, 1, 8, size, size, device=device)
    _, forward = _network(impl, net, tuple(x.shape), False, authors_code)
    before = _peak_mb(device)

    def run():
        with torch.inference_mode():
            forward(x)

    times = _timed(run, device, repeats, budget_s=60)
    return {
        "implementation": impl,
        "layout": _layout_name(impl, net),
        "tile": f"8x{size}x{size}",
        "seconds_per_tile": statistics.median(times),
        "voxels_per_s": x.numel() / statistics.median(times),
        "flop_per_tile": _flops_per_tile(forward, size, device),
        "peak_memory_mb": _peak_mb(device),
        "memory_before_forward_mb": before,
        "repeats": len(times),
    }


def measure_training(preset: str, device_name: str, repeats: int, impl: str = "asteris",
                     authors_code: str | None = None) -> dict:  # fmt: skip
    import torch

    from asteris import TrainConfig
    from asteris.losses import asteris_loss
    from asteris.network import Asteris

    device = torch.device(device_name)
    cfg = TrainConfig.preset(preset)
    batch = cfg.batch_size if device.type == "cuda" or preset != "paper" else 1
    torch.manual_seed(0)
    net = Asteris(cfg.network_config()).to(device).train()
    shape = (batch, 1, cfg.frames, cfg.patch_size, cfg.patch_size)
    inp, tgt = torch.randn(shape, device=device), torch.randn(shape, device=device)
    module, forward = _network(impl, net, shape, True, authors_code)
    opt = torch.optim.AdamW(module.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step():
        loss = asteris_loss(forward(inp), tgt)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    times = _timed(step, device, repeats, budget_s=120)
    return {
        "implementation": impl,
        "preset": preset,
        "layout": _layout_name(impl, net),
        "depthwise_gradient": None if impl in ("eager", "authors") else net.depthwise_gradient,
        "sample": f"{batch}x{cfg.frames}x{cfg.patch_size}x{cfg.patch_size}",
        "seconds_per_step": statistics.median(times),
        "steps_per_s": 1 / statistics.median(times),
        "flop_per_step": 3 * _flops(lambda: _no_grad(forward, inp)),
        "peak_memory_mb": _peak_mb(device),
        "repeats": len(times),
    }


def check_agreement(impl: str = "eager", authors_code: str | None = None) -> float:
    """max|asteris - impl| / max|impl| on one 8x64x64 input with random weights."""
    import torch

    from asteris import build_network

    torch.manual_seed(1)
    net = build_network(8).eval()
    x = torch.randn(1, 1, 8, 64, 64)
    _, other = _network(impl, net, tuple(x.shape), False, authors_code)
    with torch.inference_mode():
        fast, plain = net(x), other(x)
    return float((fast - plain).abs().max() / plain.abs().max())


def matmul_gflops(repeats: int = 5, n: int = 2048) -> float:
    """This machine's float32 matrix-product rate with torch's threads: the arithmetic ceiling."""
    import torch

    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b, torch.device("cpu"), repeats, budget_s=30))
    return 2 * n**3 / best / 1e9


def _child(args: list[str], authors_code: str | None) -> dict:
    extra = ["--authors-code", str(authors_code)] if authors_code else []
    out = subprocess.run([sys.executable, __file__, "--child", *args, *extra], capture_output=True, text=True)
    if out.returncode:
        raise RuntimeError(out.stderr)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _seconds(rows: list[dict], kind: str, sample: str, impl: str) -> float | None:
    key, seconds = ("tile", "seconds_per_tile") if kind == "inference" else ("preset", "seconds_per_step")
    found = [r[seconds] for r in rows if r[key] == sample and r["implementation"] == impl]
    return found[0] if found else None


def comparisons(inference: list[dict], training: list[dict]) -> dict:
    """Speed-ups of the per-machine choice over the eager baseline and the authors' class, and the
    eager baseline's time against the authors' (1.0: the same speed), per compared sample."""
    rows = {"inference": inference, "training": training}
    out: dict = {"speedup_vs_eager": {}, "speedup_vs_authors": {}, "eager_vs_authors": {}}
    for name, (kind, sample) in COMPARED.items():
        ours, eager, authors = (
            _seconds(rows[kind], kind, sample, i) for i in ("asteris", "eager", "authors")
        )
        if ours and eager:
            out["speedup_vs_eager"][name] = eager / ours
        if ours and authors:
            out["speedup_vs_authors"][name] = authors / ours
            out["eager_vs_authors"][name] = eager / authors if eager else None
    ratios = [r for r in out["eager_vs_authors"].values() if r is not None]
    out["eager_within_10pct_of_authors"] = (
        all(abs(r - 1) <= EAGER_TOLERANCE for r in ratios) if ratios else None
    )
    against = "authors" if out["speedup_vs_authors"] else "eager"
    met = {k: v >= TARGET_SPEEDUP for k, v in out[f"speedup_vs_{against}"].items()}
    out["target"] = {"speedup": TARGET_SPEEDUP, "against": against, "met": met}
    return out


def report(result: dict) -> None:
    """Print the figures of one benchmark run as tables."""
    print(f"device: {result['device']}  (torch {result['torch']}, asteris {result['asteris']})")
    machine = result.get("machine", {})
    if machine:
        flags = ", ".join(machine["vector_extensions"])
        print(f"machine: {machine['cpu_model']} ({flags}), {machine['torch_threads']} threads, "
              f"torch {machine['torch']} (ATen kernels: {machine['cpu_capability']}, "
              f"oneDNN limit: {machine.get('onednn_max_cpu_isa')}, MKL limit: "
              f"{machine.get('mkl_enable_instructions')})")  # fmt: skip
    if result.get("emulated_isa"):
        print(f"{result['emulated_isa']} kernels on a wider CPU: an emulation of their kernels, not of an "
              f"{result['emulated_isa']} machine's caches, clock or memory")  # fmt: skip
    peak = result.get("matmul_fp32_gflop_per_s")
    if peak:
        print(f"float32 matmul peak: {peak:.1f} GFLOP/s")
    print(f"{'inference':>22} {'tile':>12} {'s/tile':>9} {'voxels/s':>10} {'peak MB':>8} {'of peak':>8}")
    for r in result["inference"]:
        seconds, rate, mem = r["seconds_per_tile"], r["voxels_per_s"], r["peak_memory_mb"]
        share = f"{r['fraction_of_matmul_peak']:.1%}" if r.get("fraction_of_matmul_peak") else ""
        print(f"{r['implementation']:>22} {r['tile']:>12} {seconds:9.3f} {rate:10.0f} {mem:8.0f} {share:>8}")
    head = f"{'preset':>6} {'sample':>12} {'s/step':>9} {'steps/s':>8} {'peak MB':>8} {'of peak':>8}"
    print(f"{'training':>22} {head}")
    for r in result["training"]:
        seconds, rate, mem = r["seconds_per_step"], r["steps_per_s"], r["peak_memory_mb"]
        share = f"{r['fraction_of_matmul_peak']:.1%}" if r.get("fraction_of_matmul_peak") else ""
        name = f"{r['implementation']:>22} {r['preset']:>6}"
        print(f"{name} {r['sample']:>12} {seconds:9.3f} {rate:8.3f} {mem:8.0f} {share:>8}")
    for against in ("authors", "eager"):
        for key, ratio in result.get(f"speedup_vs_{against}", {}).items():
            print(f"speed-up over the {against}' class, {key}: {ratio:.2f}x" if against == "authors"
                  else f"speed-up over the eager baseline, {key}: {ratio:.2f}x")  # fmt: skip
    for key, ratio in result.get("eager_vs_authors", {}).items():
        print(f"eager baseline time / authors' class time, {key}: {ratio:.3f}")
    if not result.get("speedup_vs_authors"):
        print("authors' class: not measured (give --authors-code)")
    target = result.get("target")
    if target:
        met = ", ".join(f"{k} {'met' if ok else 'MISSED'}" for k, ok in target["met"].items())
        print(f"target {target['speedup']:.0f}x against the {target['against']}: {met}")
    print(f"max |asteris - eager| / max |eager| = {result['max_rel_diff_vs_eager']:.1e}")
    if result.get("max_rel_diff_vs_authors") is not None:
        print(f"max |asteris - authors| / max |authors| = {result['max_rel_diff_vs_authors']:.1e}")


def _authors_provenance(path: str | None) -> str:
    if not path:
        return "not measured: give --authors-code (the authors' class is not installed with asteris)"
    digest = hashlib.sha256(authors_source(path).read_bytes()).hexdigest()
    return f"the authors' ASTERIS8 class (ASTERIS_net_8.py, SHA-256 {digest}), timed in the same run"


def _device_name(device: str) -> str:
    import torch

    if device == "cuda":
        return torch.cuda.get_device_name()
    return f"{platform.processor() or platform.machine()} CPU, {torch.get_num_threads()} threads"


def _with_peak_fraction(rows: list[dict], seconds_key: str, flop_key: str, peak: float | None) -> None:
    for r in rows:
        r["gflop_per_s"] = r[flop_key] / r[seconds_key] / 1e9
        r["fraction_of_matmul_peak"] = r["gflop_per_s"] / peak if peak else None


def run_all(device: str, quick: bool, authors_code: str | None) -> tuple[list[dict], list[dict]]:
    """Every measurement, each in a subprocess of its own."""
    inference_impls = [i for i in INFERENCE_IMPLEMENTATIONS if i != "authors" or authors_code]
    training_impls = [i for i in TRAINING_IMPLEMENTATIONS if i != "authors" or authors_code]
    sizes = [128] if quick else [128, 512]
    inference = [_child(["inference", str(s), device, "asteris"], None) for s in sizes]
    inference += [_child(["inference", "128", device, impl], authors_code) for impl in inference_impls[1:]]
    training = []
    for preset in ["tiny", "small"] if quick else ["tiny", "small", "paper"]:
        impls = {"tiny": training_impls, "small": ["asteris", "eager", "authors"]}.get(preset, ["asteris"])
        training += [
            _child(["training", preset, device, i], authors_code) for i in impls if i in training_impls
        ]
    return inference, training


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--quick", action="store_true", help="128 px inference, tiny and small training only")
    parser.add_argument("--authors-code", help="a checkout of the authors' repository, to time their class")
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
        print(json.dumps(fn(value, device, repeats=3, impl=impl, authors_code=args.authors_code)))
        return

    import torch

    import asteris

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    inference, training = run_all(device, args.quick, args.authors_code)
    peak = matmul_gflops() if device == "cpu" else None
    _with_peak_fraction(inference, "seconds_per_tile", "flop_per_tile", peak)
    _with_peak_fraction(training, "seconds_per_step", "flop_per_step", peak)
    machine = machine_description()
    result = {
        "device": _device_name(device),
        "torch": torch.__version__,
        "asteris": asteris.__version__,
        "network": "ASTERIS8, f_maps 24, blocks [4, 6, 6, 8], 4 refinement (13.7 M parameters)",
        "machine": machine,
        "emulated_isa": emulated_isa(machine),
        "matmul_fp32_gflop_per_s": peak,
        "inference": inference,
        "training": training,
        **comparisons(inference, training),
        "max_rel_diff_vs_eager": check_agreement(),
        "max_rel_diff_vs_authors": args.authors_code and check_agreement("authors", args.authors_code),
        "authors_code": _authors_provenance(args.authors_code),
    }  # fmt: skip
    report(result)
    out = Path(args.out) if args.out else None if args.quick else RESULTS
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_result(out, result, indent=2)
        print(f"wrote {out}")


if __name__ == "__main__":
    main()
