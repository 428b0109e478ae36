"""The ``asteris`` command line: ``info``, ``train``, ``denoise``, ``coadd``, ``fetch``, ``align``,
``weights``, ``mock``, ``survey`` and ``synthetic``.

Problems with the input end in one sentence naming the problem and the fix,
never in a traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
from collections.abc import Sequence

from .errors import AsterisError, ConfigError
from .version import VERSION

__all__ = ["main"]

EXAMPLES = """examples:
  asteris mock --out mock --figures
  asteris info stack.fits
  asteris train stack.fits --run-dir runs/field1 --preset tiny
  asteris denoise stack.fits --model runs/field1/model.pt --out denoised.fits --png before_after.png
  asteris denoise field*.fits --model model.pt --out denoised/ --scheduler local
  asteris fetch smacs0723_nircam --filter F444W --detector nrcalong
  asteris align data/smacs0723_nircam/*_02105_*_nrcalong_cal.fits --out f444w_stack.fits
  asteris weights list
  asteris denoise f444w_stack.fits --model ASTERIS8_nrclong --out f444w_denoised.fits
  asteris survey runs/survey --mock-seeds 1-12 --workers 2 --model model.pt --preset tiny
"""


def _parse_value(text: str):
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _number(kind: type, *, low: float = 0, low_allowed: bool = False, high: float | None = None):
    """An argparse type: a ``kind`` above ``low`` (or at it) and at most ``high``, else one sentence."""
    bounds = f"{'of at least' if low_allowed else 'above'} {low:g}" + (
        f" and at most {high:g}" if high else ""
    )

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            value = None
        inside = value is not None and (value >= low if low_allowed else value > low)
        if not inside or (high is not None and value > high):
            raise argparse.ArgumentTypeError(f"takes {'an integer' if kind is int else 'a number'} {bounds}, "
                                             f"got {text!r}")  # fmt: skip
        return value

    return parse


POSITIVE_INT = _number(int)
POSITIVE = _number(float)


def _check_model(model: str, option: str) -> None:
    """A checkpoint that exists, or a published name (checked where the record's list is cached)."""
    from pathlib import Path

    from .errors import CheckpointError
    from .weights import check_weights_name, is_weights_name

    if Path(model).exists():
        return
    if not is_weights_name(model):
        raise CheckpointError(f"{option}: checkpoint {model} does not exist")
    check_weights_name(model)


def _check_options(args: argparse.Namespace) -> None:
    """Options that name a device or a model, checked before any work or network call."""
    if getattr(args, "device", None):
        from .engine import select_device

        select_device(args.device)
    for option in ("model", "init_from"):
        if getattr(args, option, None):
            _check_model(getattr(args, option), "--" + option.replace("_", "-"))


def _source(paths: list[str]) -> str | list[str]:
    """One path (a cube) or several (aligned exposures), as the library takes them."""
    return paths if len(paths) > 1 else paths[0]


def _cmd_info(args: argparse.Namespace) -> None:
    from .stack import read_stack, stack_info

    info = stack_info(read_stack(_source(args.stack)))
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
        _source(args.stack),
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
    from .extras import require_extra
    from .fileio import check_writable

    if args.scheduler:
        _denoise_survey(args)
        return
    if args.stream or _is_large_cube(args.stack):
        _denoise_streamed(args)
        return
    if args.png:
        require_extra("plot", feature="--png")
        check_writable(args.png, overwrite=args.overwrite)
    result = denoise(
        _source(args.stack),
        model=args.model,
        output=args.out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        **_denoise_options(args),
    )
    print(
        f"wrote {args.out} ({result.image.shape[0]}x{result.image.shape[1]} px, "
        f"{result.mask.mean():.1%} valid)"
    )
    if args.png:
        from .plotting import plot_before_after

        plot_before_after(result.coadd, result.image, args.png, overwrite=args.overwrite)
        print(f"wrote {args.png}")


def _cmd_coadd(args: argparse.Namespace) -> None:
    from .coadd import coadd

    result = coadd(
        _source(args.stack), method=args.method, sigma=args.sigma, output=args.out, overwrite=args.overwrite
    )
    n_exp, valid = result.header["ASTNEXP"], result.mask.mean()
    print(f"wrote {args.out} ({args.method} of {n_exp} exposures, {valid:.1%} valid)")


STREAM_ABOVE_BYTES = 1 << 30
DRIZZLE_KERNELS = ["square", "point", "turbo", "gaussian", "lanczos3"]


def _denoise_options(args: argparse.Namespace) -> dict:
    """The options every denoising path takes, from the command line."""
    return {
        "frames": args.frames,
        "tile_size": args.tile_size,
        "batch_size": args.batch_size,
        "device": args.device,
        "bf16": args.bf16,
        "compile": args.compile,
    }


def _is_large_cube(paths: list[str]) -> bool:
    from pathlib import Path

    return len(paths) == 1 and Path(paths[0]).is_file() and Path(paths[0]).stat().st_size > STREAM_ABOVE_BYTES


def _denoise_streamed(args: argparse.Namespace) -> None:
    from .streaming import denoise_large

    if args.png or len(args.stack) != 1:
        raise AsterisError(
            "streaming takes one FITS cube and makes no --png; drop --png, or give a smaller stack"
        )
    out = denoise_large(
        args.stack[0],
        model=args.model,
        output=args.out,
        overwrite=args.overwrite,
        progress=not args.quiet,
        **_denoise_options(args),
    )
    print(f"wrote {out} (streamed)")


def _denoise_survey(args: argparse.Namespace) -> None:
    from .survey import denoise_many

    report = denoise_many(
        args.stack, args.out, model=args.model, scheduler=args.scheduler, **_denoise_options(args)
    )
    for row in report:
        print(f"{row['status']:>8}  {row['input']} -> {row['output']}  {row['error']}".rstrip())
    counts = {s: int((report["status"] == s).sum()) for s in ("done", "present", "failed")}
    print(f"{counts['done']} denoised, {counts['present']} already there, {counts['failed']} failed")
    if counts["failed"]:
        raise AsterisError(f"{counts['failed']} stack(s) failed; see the lines above, fix them and run again")


def _cmd_fetch(args: argparse.Namespace) -> None:
    from .archive import fetch, hsc_preview, load_manifest
    from .fileio import human_size

    manifest = load_manifest(args.manifest)
    dest = args.dest or f"data/{manifest.name}"
    if args.preview:
        print(f"wrote {hsc_preview(manifest, args.preview, overwrite=args.overwrite)}")
        return
    kwargs = {}
    if manifest.archive == "mast":  # fetch_mast checks them against the manifest before any network call
        kwargs = {"filters": args.filter, "detectors": args.detector, "repin": args.repin}
    summary = fetch(manifest, dest, **kwargs)
    fetched = int((summary["status"] == "fetched").sum()) if "status" in summary.colnames else len(summary)
    print(
        f"{len(summary)} files in {dest} ({fetched} fetched, {len(summary) - fetched} already there); "
        f"total {human_size(sum(int(b) for b in summary['bytes']))}"
    )


def _cmd_align(args: argparse.Namespace) -> None:
    from .archive import align, stack_warps
    from .archive.corrections import CORRECTION_STEPS, CorrectionConfig
    from .fileio import check_writable
    from .stack import write_stack

    check_writable(args.out, overwrite=args.overwrite)
    if args.hsc_warps:
        stack = stack_warps(args.files)
        write_stack(stack, args.out, overwrite=args.overwrite)
    else:
        skipped = set(CORRECTION_STEPS) if "all" in args.skip_correction else set(args.skip_correction)
        stack, _ = align(
            args.files,
            pixel_scale=args.pixel_scale,
            pixfrac=args.pixfrac,
            kernel=args.kernel,
            corrections=dataclasses.replace(
                CorrectionConfig.only(*(set(CORRECTION_STEPS) - skipped)),
                subtract_model=args.subtract_model,
                columns={"on": True, "off": False, "auto": "auto"}[args.columns],
            ),
            output=args.out,
            overwrite=args.overwrite,
        )
    t, h, w = stack.data.shape
    steps = stack.header.get("CORRSTEP", "none")
    print(f"wrote {args.out} ({t} exposures on a {h}x{w} px grid; corrections: {steps})")


def _cmd_weights(args: argparse.Namespace) -> None:
    from .weights import download_weights, list_weights

    if args.action == "list":
        for w in list_weights(refresh=args.refresh):
            here = "downloaded" if w.downloaded else "not downloaded"
            print(f"{w.name:<24} {w.size / 1e6:8.1f} MB  md5 {w.md5}  {here}")
        return
    if not args.name:
        raise ConfigError("name the weights: asteris weights download NAME (the names: asteris weights list)")
    print(f"{args.name}: {download_weights(args.name, progress=not args.quiet)}")


def _cmd_synthetic(args: argparse.Namespace) -> None:
    from .mock.synthetic import synthetic_stack
    from .stack import write_stack

    stack, _, _ = synthetic_stack(
        exposures=args.exposures, shape=(args.size, args.size), seed=args.seed, n_sources=args.sources
    )
    write_stack(stack, args.out, overwrite=args.overwrite)
    print(f"wrote {args.out} ({args.exposures} exposures of {args.size}x{args.size} px)")


def _cmd_mock(args: argparse.Namespace) -> None:
    from .fileio import check_writable, writable_folder
    from .mock.datasets import default_parameters
    from .mock.noise import NoiseConfig
    from .mock.plotting import plot_colour_redshift, plot_mock_band, plot_power_spectra
    from .mock.simulate import band_workers, component_power_spectra, simulate_field
    from .sky.instruments import get_instrument

    for name in args.band or []:  # named before the output folder is made
        get_instrument(args.instrument).band(name)
    check_writable(writable_folder(args.out) / "params.json", overwrite=args.overwrite)  # before the work
    scaled = NoiseConfig(structured_scale=args.structured_scale)
    noise = NoiseConfig.white_only() if args.white_noise else scaled
    params = default_parameters(args.instrument)
    if args.size is not None:
        params["shape"] = (args.size, args.size)
    if args.exposures is not None:
        params["exposures"] = args.exposures
    workers = args.workers or band_workers(params["shape"], params["exposures"])
    field = simulate_field(args.instrument, bands=args.band, noise=noise, seed=args.seed, workers=workers,
                           exposures_dir=args.exposures_dir, progress=not args.quiet, **params)  # fmt: skip
    out = field.write(args.out, overwrite=args.overwrite)
    print(f"wrote {len(field.bands)} bands and {len(field.catalog)} catalogue objects to {out}")
    if args.figures:
        band = field.bands.get("F200W", field.bands.get("i", next(iter(field.bands.values()))))
        plot_mock_band(band, out / "mock_band.png", overwrite=args.overwrite)
        blue, red = ("jwst_f115w", "jwst_f200w") if field.instrument == "nircam" else ("hsc_r", "hsc_i")
        plot_colour_redshift(field.catalog, blue, red, out / "colour_redshift.png", overwrite=args.overwrite)
        spectra = component_power_spectra(field.instrument, band=band.name, seed=args.seed)
        plot_power_spectra(spectra, out / "noise_spectra.png", overwrite=args.overwrite)
        print(f"wrote mock_band.png, colour_redshift.png and noise_spectra.png to {out}")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="asteris",
        description="Self-supervised spatiotemporal denoising of image stacks (ASTERIS).",
        epilog=EXAMPLES,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"asteris {VERSION}")
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
    p.add_argument("--stop-after", type=POSITIVE_INT, help="stop after this many steps (resume later)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("denoise", help="denoise a stack with a trained or published model")
    p.add_argument("stack", nargs="+", help=stack_help)
    p.add_argument("--model", required=True, help="checkpoint: published .pth or asteris model.pt")
    p.add_argument(
        "--out", required=True, help="output FITS image (refused if it exists); a folder with --scheduler"
    )
    p.add_argument("--png", help="also write a before/after PNG")
    p.add_argument("--frames", type=int, choices=[4, 8], help="require this model variant")
    p.add_argument("--tile-size", type=POSITIVE_INT, help="tile side in px (default 512)")
    p.add_argument("--batch-size", type=POSITIVE_INT, default=1, help="tiles per network call")
    p.add_argument("--device", help="cuda, mps or cpu (default: best available)")
    p.add_argument("--bf16", action="store_true", help="bfloat16 autocast on CUDA")
    p.add_argument("--compile", action="store_true", help="compile the network with torch.compile (GPUs)")
    p.add_argument("--scheduler", help="denoise each STACK (a cube) on Dask: 'local' or a scheduler address")
    p.add_argument(
        "--stream",
        action="store_true",
        help="stream a FITS cube through memory (automatic above 1 GiB): memory set by the tile size",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_denoise)

    p = sub.add_parser("coadd", help="combine a stack with a standard method (the baselines)")
    p.add_argument("stack", nargs="+", help=stack_help)
    p.add_argument("--out", required=True, help="output FITS image (refused if it exists)")
    p.add_argument("--method", default="ivar", choices=["mean", "median", "sigma_clip", "ivar"])
    p.add_argument("--sigma", type=POSITIVE, default=3.0, help="rejection threshold (sigma_clip, ivar)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output")
    p.set_defaults(func=_cmd_coadd)

    p = sub.add_parser("fetch", help="download the archive products of a data manifest (resumable, verified)")
    p.add_argument(
        "manifest", help="a manifest name from data_manifests/ (e.g. smacs0723_nircam) or a YAML path"
    )
    p.add_argument("--dest", help="download folder (default data/NAME)")
    p.add_argument("--filter", action="append", help="only this filter (repeatable)")
    p.add_argument("--detector", action="append", help="only this detector (repeatable)")
    p.add_argument(
        "--repin", action="store_true",
        help="MAST: fetch again files that differ from the lock file's checksums and pin what comes",
    )  # fmt: skip
    p.add_argument("--preview", help="HSC only: write a credential-free hips2fits coadd preview here instead")
    p.add_argument("--overwrite", action="store_true", help="replace an existing preview")
    p.set_defaults(func=_cmd_fetch)

    p = sub.add_parser("align", help="resample exposures onto one grid: a (T, H, W) stack for `denoise`")
    p.add_argument("files", nargs="+", help="JWST stage-2 _cal.fits exposures of one filter (or HSC warps)")
    p.add_argument("--out", required=True, help="output FITS cube (with a WEIGHT extension)")
    p.add_argument("--pixel-scale", type=POSITIVE, default=0.04, help="arcsec/px of the grid (default 0.04)")
    p.add_argument(
        "--pixfrac", type=_number(float, high=1.0), default=1.0, help="drizzle pixfrac (default 1.0)"
    )
    p.add_argument(
        "--kernel", default="square", choices=DRIZZLE_KERNELS, type=str.lower, help="drizzle kernel"
    )
    p.add_argument(
        "--hsc-warps", action="store_true", help="the files are HSC-SSP warps: stack them as they are"
    )
    p.add_argument(
        "--skip-correction",
        action="append",
        default=[],
        choices=["events", "one_over_f", "detector_pattern", "background", "all"],
        help="leave out an exposure-level correction (repeatable; 'all': the exposures as they come)",
    )
    p.add_argument(
        "--columns",
        choices=["on", "off", "auto"],
        default="on",
        help="the 1/f column pass: always, never, or where the exposures carry column noise",
    )
    p.add_argument(
        "--subtract-model",
        action="store_true",
        help="take the 1/f and background medians after subtracting a leave-one-out coadd of the sky "
        "(keeps faint galaxies' light out of them)",
    )
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_align)

    p = sub.add_parser("mock", help="simulate a NIRCam-like or HSC-like field with a truth catalogue")
    p.add_argument("--out", required=True, help="output folder: <band>.fits, catalog.ecsv, params.json")
    p.add_argument("--instrument", default="nircam", choices=["nircam", "hsc"])
    p.add_argument("--band", action="append", help="only this band (repeatable; default all)")
    p.add_argument("--size", type=POSITIVE_INT, help="side in px (default: the embedded default field)")
    p.add_argument("--exposures", type=POSITIVE_INT, help="exposures per band (default 16)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--white-noise", action="store_true", help="sky and read noise only, no artefacts")
    p.add_argument(
        "--structured-scale",
        type=_number(float, low_allowed=True),
        default=1.0,
        help="multiply every structured noise component (0: none, native pixels and gaps kept; default 1)",
    )
    p.add_argument("--exposures-dir", help="keep the exposure files here (_cal-like for NIRCam, HSC warps)")
    p.add_argument("--workers", type=POSITIVE_INT,
                   help="processes building bands side by side, the same bytes (default: the usable cores "
                        "for a field whose bands take seconds)")  # fmt: skip
    p.add_argument("--figures", action="store_true", help="also write PNG figures of the field")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_mock)

    p = sub.add_parser("weights", help="the published weights by name: list them, or download one")
    p.add_argument("action", choices=["list", "download"])
    p.add_argument("name", nargs="?", help="with download: e.g. ASTERIS8_nrclong (`asteris weights list`)")
    p.add_argument("--refresh", action="store_true", help="with list: ask Zenodo again, not the cached list")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=_cmd_weights)

    p = sub.add_parser(
        "survey", help="the z > 8.5 search over many pointings on Dask (a resumable run folder)"
    )
    p.add_argument("run_dir", help="run folder: a pointing finished there is never computed again")
    where = p.add_mutually_exclusive_group(required=True)
    where.add_argument("--mock-seeds", help="mock z > 8.5 pointings by seed, e.g. 1-12 or 1,4,7")
    where.add_argument(
        "--manifests", nargs="+", help="archive pointings: data manifests of JWST _cal exposures"
    )
    p.add_argument("--scheduler", help="a Dask scheduler address (default: a local cluster of --workers)")
    p.add_argument(
        "--workers", type=POSITIVE_INT, default=1, help="local worker processes, one pointing each at a time"
    )
    p.add_argument(
        "--model", help="checkpoint fine-tuned on each pointing's F200W (default: the coadd alone)"
    )
    p.add_argument("--preset", default="tiny", choices=["tiny", "small", "paper"], help="the --model's sizes")
    p.add_argument(
        "--steps", type=POSITIVE_INT, default=100, help="fine-tuning steps per pointing (default 100)"
    )
    p.add_argument("--realizations", type=POSITIVE_INT, default=4, help="injection realizations per pointing")
    p.add_argument("--per", type=POSITIVE_INT, default=40, help="galaxies injected per realization")
    p.set_defaults(func=_cmd_survey)

    p = sub.add_parser("synthetic", help="write a small synthetic stack (quick tests)")
    p.add_argument("--out", required=True, help="output FITS cube")
    p.add_argument("--exposures", type=POSITIVE_INT, default=16)
    p.add_argument("--size", type=POSITIVE_INT, default=128, help="side in px")
    p.add_argument("--sources", type=_number(int, low_allowed=True), default=60)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(func=_cmd_synthetic)
    return parser


def _seeds(text: str) -> list[int]:
    """``1-12`` or ``1,4,7`` (or both, comma-separated) as a list of seeds."""
    seeds = []
    for part in text.split(","):
        lo, _, hi = part.partition("-")
        if not lo.strip().isdigit() or (hi and not hi.strip().isdigit()):
            raise ConfigError(f"--mock-seeds takes seeds such as 1-12 or 1,4,7, got {text!r}")
        seeds += list(range(int(lo), int(hi or lo) + 1))
    return seeds


def _cmd_survey(args: argparse.Namespace) -> None:
    from .config import TrainConfig
    from .extras import require_extra

    require_extra("science", feature="asteris survey")
    from .mock import MockPointing
    from .science.survey import ArchivePointing, SurveyConfig, run_survey, survey_candidates

    if args.mock_seeds:
        pointings = [MockPointing(seed) for seed in _seeds(args.mock_seeds)]
    else:
        from .archive import load_manifest

        for name in args.manifests:  # a wrong name is told before a cluster starts
            load_manifest(name)
        pointings = [ArchivePointing(name) for name in args.manifests]
    train = None
    if args.model:
        train = TrainConfig.preset(args.preset).fine_tuning(args.steps).to_dict()
    config = SurveyConfig(train=train, init_from=args.model, realizations=args.realizations,
                          per_realization=args.per)  # fmt: skip
    report = run_survey(
        pointings, args.run_dir, config=config, scheduler=args.scheduler, n_workers=args.workers
    )
    for row in report:
        print(f"{row['status']:>8}  {row['name']}  {row['seconds']:.0f} s  {row['error']}".rstrip())
    failed = int((report["status"] == "failed").sum())
    if failed:
        raise AsterisError(f"{failed} pointing(s) failed; see the lines above, fix them and run again")
    for method in ("coadd", "asteris") if args.model else ("coadd",):
        found = len(survey_candidates(args.run_dir, method))
        print(f"{method}: {found} z > 8.5 candidates in {len(report)} pointings")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``asteris`` command; returns the exit status."""
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        _check_options(args)
        args.func(args)
    except (AsterisError, FileNotFoundError) as exc:
        print(f"asteris {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = "; the last completed step is saved, continue with --resume" if args.command == "train" else ""
        print(f"asteris {args.command}: interrupted{hint}", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
