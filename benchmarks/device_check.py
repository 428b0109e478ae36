"""The paper-size question on one CUDA GPU in ten minutes: train, evaluate both protocols, time a 4k stack.

Three steps, each bounded in time, the results written as each one finishes
(``results/device_check.json``, or ``--out``):

1. ``train``: the ``paper`` preset (bf16 on CUDA) trained from scratch on the
   reference fields of ``train_reference.py`` (mock F200W, seeds 101, 102, ...)
   for ``--train-seconds``, in chunks of steps that resume exactly where the
   last stopped; the validation losses and the steps reached are kept.
2. ``evaluate``: injection-recovery on the evaluation field (the embedded
   mock, seed 0, every noise component on) with the ivar and mean coadds and
   the trained model, under the optimal protocol (against the ivar coadd) and
   the paper-style one (against the mean coadd): m90, purity, photometric
   bias, and dm90 with its paired-bootstrap error.
3. ``denoise_4k``: an 8 x 4096 x 4096 stack denoised with the trained model in
   float32, bf16 and bf16 compiled (``gpu.py``'s end-to-end section; 8 x 256 x 256 in a dry run).

``--dry-run`` runs the same code on the CPU at toy sizes (the ``tiny``
preset on 128-px fields, seconds of training, a 256-px stack): it checks the
script and measures nothing. `benchmarks/device_check.sh` is the one command
to run on a lent GPU.

Usage: ``python benchmarks/device_check.py [--dry-run] [--train-seconds 240] [--out FILE] [--work DIR]``
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _results import write_result

from asteris import TrainConfig, train
from asteris.checkpoint import save_checkpoint
from asteris.fileio import sha256sum
from asteris.mock.datasets import MOCK_VERSION, mock_field
from asteris.science import SourceRenderer, asteris_method, coadd_method, limiting_magnitude
from asteris.science.recovery import compare_protocols
from asteris.tuning import machine_description

RESULTS = Path(__file__).parent / "results" / "device_check.json"
BAND = "F200W"
FIRST_SEED = 101  # the reference fields of train_reference.py
BASELINES = {"optimal": "ivar", "paper": "mean"}


def sizes(dry_run: bool) -> dict:
    """Every size the check uses: the GPU run's, or toy ones for a CPU dry run."""
    if dry_run:
        return {"preset": "tiny", "overrides": {"patch_size": 32, "batch_size": 1}, "shape": (128, 128),
                "fields": 1, "chunk": 2, "realizations": 1, "per": 12, "small_stack": True}  # fmt: skip
    return {"preset": "paper", "overrides": {"bf16": True}, "shape": None, "fields": 3, "chunk": 100,
            "realizations": 2, "per": 200, "small_stack": False}  # fmt: skip


def train_timeboxed(size: dict, seconds: float, work: Path) -> tuple[Path, dict]:
    """Train until ``seconds`` have passed (checked between chunks); return the weights and a record."""
    seeds = list(range(FIRST_SEED, FIRST_SEED + size["fields"]))
    stacks = [mock_field(bands=[BAND], seed=s, shape=size["shape"], progress=False).bands[BAND].stack
              for s in seeds]  # fmt: skip
    config = TrainConfig.preset(size["preset"], **size["overrides"])
    run_dir, start = work / f"{size['preset']}-{BAND.lower()}", time.perf_counter()
    while True:
        resume = (run_dir / "checkpoint_last.pt").exists()
        result = train(stacks, run_dir=run_dir, config=config, resume=resume, overwrite=not resume,
                       stop_after=size["chunk"], progress=False)  # fmt: skip
        if result.model_path.exists() or time.perf_counter() - start > seconds:
            break
    weights = save_checkpoint(
        work / "device_check_model.pt", result.model, name=run_dir.name, step=result.step
    )
    validation = [(r["step"], r["val_loss"]) for r in result.history if r.get("val_loss") is not None]
    record = {"preset": size["preset"], "config": config.to_dict(), "fields": seeds, "steps": result.step,
              "seconds": round(time.perf_counter() - start, 1), "finished": result.model_path.exists(),
              "validation": validation, "sha256": sha256sum(weights)}  # fmt: skip
    return weights, record


def evaluate(size: dict, weights: Path) -> dict:
    """Both protocols on the same injections into the evaluation field (seed 0)."""
    field = mock_field(bands=[BAND], shape=size["shape"], progress=False)
    stack, truth = field.bands[BAND].stack, field.bands[BAND].truth
    renderer = SourceRenderer.for_mock(field, BAND)
    methods = {"ivar": coadd_method("ivar"), "mean": coadd_method("mean"), "asteris": asteris_method(weights)}
    m5 = limiting_magnitude(methods["ivar"](stack), renderer)
    start = time.perf_counter()
    results = compare_protocols(stack, methods, renderer, mags=(m5 - 3.5, m5 + 1.0), truth=truth,
                                n_per_realization=size["per"], realizations=size["realizations"],
                                reference="ivar", seed=1, progress=False)  # fmt: skip
    out = {"m5_coadd": m5, "injected": len(results["optimal"].injected), "protocols": {}}
    for protocol, result in results.items():
        summaries = {m: _summary(result.summary(m, n_boot=100)) for m in result.methods}
        gain, error = result.depth_gain("asteris", BASELINES[protocol], n_boot=100)
        out["protocols"][protocol] = {"baseline": BASELINES[protocol], "methods": summaries,
                                      "dm90": _float(gain), "dm90_err": _float(error)}  # fmt: skip
    out["seconds"] = round(time.perf_counter() - start, 1)
    return out


def _float(value) -> float | None:
    value = float(value)
    return value if value == value else None  # NaN -> None, for JSON


def _summary(s: dict) -> dict:
    keys = ("threshold", "m90", "m90_err", "purity", "mag_bias_sn10", "mag_bias_sn10_dual", "fwhm_ratio")
    return {k: _float(s[k]) for k in keys if k in s}


def denoise_4k(size: dict, weights: Path, device: torch.device) -> dict:
    """gpu.py's end-to-end timing of one big stack with the trained model."""
    from gpu import end_to_end

    field = mock_field(bands=[BAND], shape=size["shape"], progress=False)
    source = Path(field.params["path"]) / f"{BAND.lower()}.fits"
    start = time.perf_counter()
    out = end_to_end(source, weights, device, size["small_stack"], None, cpu_baseline=False)
    return {**out, "seconds": round(time.perf_counter() - start, 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dry-run", action="store_true", help="toy sizes on the CPU: checks the script")
    parser.add_argument("--train-seconds", type=float, default=240.0)
    parser.add_argument("--work", default="device_check_runs", help="folder of the training run")
    parser.add_argument("--out", default=str(RESULTS))
    args = parser.parse_args()
    if not args.dry_run and not torch.cuda.is_available():
        raise SystemExit("no CUDA GPU here: run with --dry-run to check the script on the CPU")
    device = torch.device("cpu" if args.dry_run else "cuda")
    size, work, out = sizes(args.dry_run), Path(args.work), Path(args.out)
    result = {"command": "bash benchmarks/device_check.sh" + (" --dry-run" if args.dry_run else ""),
              "dry_run": args.dry_run, "machine": machine_description(), "mock_version": MOCK_VERSION,
              "device": torch.cuda.get_device_name() if device.type == "cuda" else "cpu"}  # fmt: skip

    def save(section: str, value: dict) -> None:
        result[section] = value
        write_result(out, result)
        print(f"{section}: {json.dumps(value)[:400]}", flush=True)

    weights, record = train_timeboxed(size, 2.0 if args.dry_run else args.train_seconds, work)
    save("train", record)
    save("evaluate", evaluate(size, weights))
    save("denoise_4k", denoise_4k(size, weights, device))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
