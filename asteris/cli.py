"""The ``asteris`` command line: ``info``, ``train``, ``denoise`` and ``synthetic``.

Problems with the input end in one sentence naming the problem and the fix,
never in a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .errors import AsterisError, ConfigError

__all__ = ["main"]

EXAMPLES = """examples:
  asteris info stack.fits
  asteris train stack.fits --run-dir runs/field1 --preset tiny
  asteris denoise stack.fits --model runs/field1/model.pt --out denoised.fits --png before_after.png
  asteris denoise jw*_cal_aligned.fits --model ASTERIS8_nrclong.pth --out field.fits
"""


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _cmd_info(args: argparse.Namespace) -> None:
    from .stack import read_stack, stack_info

    info = stack_info(read_stack(args.stack if len(args.stack) > 1 else args.stack[0]))
    for key, value in info.items():
        print(f"{key:>20}: {value:.6g}" if isinstance(value, float) else f"{key:>20}: {value}")


def _cmd_train(args: argparse.Namespace) -> None:
    from .config import TrainConfig
    from .training import train

    base = (
        TrainConfig.read(args.config).to_dict() if args.config else TrainConfig.preset(args.preset).to_dict()
    )
    bad = [item for item in args.set if "=" not in item]
    if bad:
        raise ConfigError(f"--set takes KEY=VALUE, got {bad[0]!r}")
    overrides = dict(item.split("=", 1) for item in args.set)
    cfg = TrainConfig.from_dict({**base, **{k: _parse_value(v) for k, v in overrides.items()}})
    result = train(
        args.stack if len(args.stack) > 1 else args.stack[0],
        run_dir=args.run_dir,
        config=cfg,
        resume=args.resume,
        overwrite=args.overwrite,
        init_from=args.init_from,
        device=args.device,
        stop_after=args.stop_after,
        progress=not args.quiet,
    )
    print(f"trained {result.step} steps; run in {result.run_dir}")
    if result.model_path.exists():
        print(f"model: {result.model_path}")


def _cmd_denoise(args: argparse.Namespace) -> None:
    from .denoise import denoise
    from .fileio import check_writable
    from .plotting import plot_before_after

    if args.png:
        check_writable(args.png, overwrite=args.overwrite)
    result = denoise(
        args.stack if len(args.stack) > 1 else args.stack[0],
        model=args.model,
        frames=args.frames,
        tile_size=args.tile_size,
        batch_size=args.batch_size,
        device=args.device,
        bf16=args.bf16,
        progress=not args.quiet,
        output=args.out,
        overwrite=args.overwrite,
    )
    print(
        f"wrote {args.out} ({result.image.shape[0]}x{result.image.shape[1]} px, "
        f"{result.mask.mean():.1%} valid)"
    )
    if args.png:
        plot_before_after(result.coadd, result.image, args.png, overwrite=args.overwrite)
        print(f"wrote {args.png}")


def _cmd_synthetic(args: argparse.Namespace) -> None:
    from .stack import write_stack
    from .synthetic import synthetic_stack

    stack, _, _ = synthetic_stack(
        exposures=args.exposures, shape=(args.size, args.size), seed=args.seed, n_sources=args.sources
    )
    write_stack(stack, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out} ({args.exposures} exposures of {args.size}x{args.size} px)")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asteris",
        description="Self-supervised spatiotemporal denoising of image stacks (ASTERIS).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"asteris {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    stack_help = "a FITS cube (T, H, W), or aligned FITS exposures (SCI extension if present)"

    p = sub.add_parser("info", help="describe a stack: shape, exposures, WCS, valid fraction")
    p.add_argument("stack", nargs="+", help=stack_help)
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("train", help="train a model self-supervised on a stack")
    p.add_argument("stack", nargs="+", help=stack_help)
    p.add_argument("--run-dir", required=True, help="folder for config, metrics and checkpoints")
    p.add_argument(
        "--preset", default="tiny", choices=["tiny", "paper"], help="configuration preset (default tiny)"
    )
    p.add_argument("--config", help="a JSON config file (instead of --preset)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", help="override a config field")
    p.add_argument(
        "--resume", action="store_true", help="continue the run in --run-dir from its last checkpoint"
    )
    p.add_argument("--overwrite", action="store_true", help="start afresh in a --run-dir that holds a run")
    p.add_argument("--init-from", help="fine-tune from this checkpoint (e.g. published weights)")
    p.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    p.add_argument("--stop-after", type=int, help="stop after this many steps (resume later)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("denoise", help="denoise a stack with a trained or published model")
    p.add_argument("stack", nargs="+", help=stack_help)
    p.add_argument("--model", required=True, help="checkpoint: published .pth or asteris model.pt")
    p.add_argument("--out", required=True, help="output FITS image (refused if it exists)")
    p.add_argument("--png", help="also write a before/after PNG")
    p.add_argument("--frames", type=int, choices=[4, 8], help="require this model variant")
    p.add_argument("--tile-size", type=int, help="tile side in px (default 1024 on GPU, 512 on CPU)")
    p.add_argument("--batch-size", type=int, default=1, help="tiles per network call")
    p.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CUDA")
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_denoise)

    p = sub.add_parser("synthetic", help="write a small synthetic stack (demo and tests)")
    p.add_argument("--out", required=True, help="output FITS cube")
    p.add_argument("--exposures", type=int, default=16)
    p.add_argument("--size", type=int, default=128, help="side in px")
    p.add_argument("--sources", type=int, default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_synthetic)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asteris`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (AsterisError, FileNotFoundError) as exc:
        print(f"asteris {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"asteris {args.command}: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
