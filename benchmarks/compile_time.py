"""Compile time of the ASTERIS network: one whole graph against block by block.

`torch.compile` of the published network as one graph took minutes on an
H100, which is why compiled denoising paid only for long runs.
`asteris.compile_network` compiles each transformer block and the output head
on their own, so that one compiled block serves every block of its shape.
This script measures, on whatever device it finds and with an empty inductor
cache, per way of compiling:

- ``first_call_s``: the first forward pass, compilation included;
- ``second_model_first_call_s``: the first pass of a second copy of the
  network, compiled the same way in the same process (what a second
  `asteris.denoise(..., compile=True)` call pays);
- ``seconds``: the median of the following passes, with the eager network's
  time in the same run as the baseline, and the largest output difference
  from it.

Usage: ``python benchmarks/compile_time.py [--frames 8] [--f-maps 24] [--size 64]
[--whole/--no-whole] [--out benchmarks/results/compile_time.json]``.
"""

from __future__ import annotations

import os
import tempfile

# An empty inductor cache, so that compile times are not cache hits of an earlier run.
os.environ["TORCHINDUCTOR_CACHE_DIR"] = tempfile.mkdtemp(prefix="inductor-")

import argparse  # noqa: E402
import copy  # noqa: E402
import platform  # noqa: E402
from pathlib import Path  # noqa: E402

import torch  # noqa: E402
from _results import write_result
from _timing import median_seconds, seconds_of  # noqa: E402

import asteris  # noqa: E402
from asteris import build_network, compile_network  # noqa: E402
from asteris.tuning import machine_description  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _measure(net: torch.nn.Module, x: torch.Tensor, repeats: int) -> tuple[float, float, torch.Tensor]:
    """First-call seconds, median seconds of ``repeats`` more calls, and the output."""
    out: list[torch.Tensor] = []

    def forward() -> None:
        with torch.inference_mode():
            out[:] = [net(x)]

    first = seconds_of(forward)
    return first, median_seconds(forward, warmup=0, repeats=repeats), out[0]


def _whole(net: torch.nn.Module) -> torch.nn.Module:
    return torch.compile(net, dynamic=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--f-maps", type=int, default=24)
    parser.add_argument("--size", type=int, default=64, help="tile side in pixels")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--whole", action=argparse.BooleanOptionalAction, default=True,
                        help="also compile the network as one graph (the slow baseline)")  # fmt: skip
    parser.add_argument("--out", type=Path, default=RESULTS / "compile_time.json")
    args = parser.parse_args()

    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    torch.manual_seed(0)
    net = build_network(args.frames, args.f_maps).to(device).eval()
    x = torch.randn(1, 1, args.frames, args.size, args.size, device=device)
    name = torch.cuda.get_device_name() if device.type == "cuda" else f"{platform.machine()} CPU"
    parameters = sum(p.numel() for p in net.parameters())
    result = {
        "device": f"{name}, {torch.get_num_threads()} threads",
        "torch": torch.__version__,
        "asteris": asteris.__version__,
        "network": f"{args.frames} frames, f_maps {args.f_maps}, {parameters} parameters",
        "tile": f"1x{args.frames}x{args.size}x{args.size}",
        "machine": machine_description(),
        "rows": [],
    }
    _, eager_s, reference = _measure(net, x, args.repeats)
    result["eager_seconds"] = eager_s
    print(f"eager: {eager_s:.3f} s per pass ({result['network']}, tile {result['tile']})")
    ways = {"block by block (compile_network)": compile_network}
    if args.whole:
        ways["whole graph (torch.compile)"] = _whole
    for way, compile_fn in ways.items():
        first, seconds, out = _measure(compile_fn(copy.deepcopy(net)), x, args.repeats)
        second_first, _, _ = _measure(compile_fn(copy.deepcopy(net)), x, 1)
        row = {
            "way": way,
            "first_call_s": first,
            "second_model_first_call_s": second_first,
            "seconds": seconds,
            "speedup_vs_eager": eager_s / seconds,
            "max_abs_diff_vs_eager": float((out - reference).abs().max()),
        }
        result["rows"].append(row)
        print(
            f"{way}: first call {first:.1f} s, a second copy's first call {second_first:.1f} s, "
            f"then {seconds:.3f} s per pass ({row['speedup_vs_eager']:.2f}x eager), "
            f"max |diff| {row['max_abs_diff_vs_eager']:.2e}"
        )
    if len(result["rows"]) == 2:
        block, whole = result["rows"]
        result["first_call_ratio_whole_over_blocks"] = whole["first_call_s"] / block["first_call_s"]
        print(
            f"first call, whole graph / block by block: {result['first_call_ratio_whole_over_blocks']:.1f}x"
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    write_result(args.out, result)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
