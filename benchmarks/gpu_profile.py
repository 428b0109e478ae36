"""Where the published 8-frame network spends its GPU time: the top kernels of one forward pass.

Prints, for float32, bf16 autocast and bf16 autocast with `torch.compile` on
one 8-frame tile, the CUDA kernels and operators that take the most device
time (torch.profiler).

Usage: ``python benchmarks/gpu_profile.py [--size 512] [--rows 25] [--modes fp32,bf16,bf16+compile]``
"""

from __future__ import annotations

import argparse

import torch
from torch.profiler import ProfilerActivity, profile

from asteris import build_network


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--rows", type=int, default=25)
    parser.add_argument("--modes", default="fp32,bf16")
    args = parser.parse_args()
    net = build_network(8).cuda().eval()
    x = torch.randn(1, 1, 8, args.size, args.size, device="cuda")
    for mode in args.modes.split(","):
        bf16 = mode.startswith("bf16")
        forward = torch.compile(net, dynamic=False) if mode.endswith("compile") else net

        def run(bf16=bf16, forward=forward):
            with torch.inference_mode(), torch.autocast("cuda", torch.bfloat16, enabled=bf16):
                forward(x)

        run()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA, ProfilerActivity.CPU]) as prof:
            run()
            torch.cuda.synchronize()
        print(f"=== {mode}, 1x8x{args.size}x{args.size}")
        print(
            prof.key_averages().table(
                sort_by="device_time_total", row_limit=args.rows, max_name_column_width=70
            )
        )


if __name__ == "__main__":
    main()
