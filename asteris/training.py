"""The self-supervised training loop (spec section 4), thin by design.

A run lives in a folder: ``config.json``, ``metrics.jsonl`` (one JSON object
per step and per validation), ``checkpoint_last.pt`` (the full training state,
written atomically every ``checkpoint_every`` steps and at the end) and
``model.pt`` (the final weights in the published layout).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import load_model, read_checkpoint, save_checkpoint
from .config import TrainConfig
from .distributed import World
from .engine import bf16_autocast, select_device, warn_bf16_off_cuda
from .errors import ConfigError, OutputExistsError
from .fileio import atomic_write, writable_folder
from .losses import asteris_loss
from .network import Asteris, compile_network
from .sampling import SampleIndex, epoch_samples, make_sample, patch_positions, prepare_training_stack
from .stack import Stack, read_stack, require_exposures
from .tuning import choose_kernels

__all__ = ["TrainResult", "train", "plateaued"]

LAST = "checkpoint_last.pt"
FINAL = "model.pt"


@dataclass
class TrainResult:
    """What a training run returns: the model, its folder and its metrics."""

    model: Asteris
    run_dir: Path
    step: int
    history: list[dict] = field(default_factory=list)

    @property
    def model_path(self) -> Path:
        return self.run_dir / FINAL


class _Data:
    """Prepared stacks, train/validation patch positions and the epoch length."""

    def __init__(self, stacks: list[np.ndarray], cfg: TrainConfig) -> None:
        self.stacks, self.cfg = stacks, cfg
        shape = min(s.shape[1] for s in stacks), min(s.shape[2] for s in stacks)
        positions = patch_positions(shape, cfg.patch_size, cfg.patch_overlap)
        order = np.random.default_rng([cfg.seed, 2**31]).permutation(len(positions))
        n_val = int(round(cfg.val_fraction * len(positions))) if len(positions) > 1 else 0
        self.val_positions = [positions[i] for i in sorted(order[:n_val])]
        self.train_positions = [positions[i] for i in sorted(order[n_val:])]
        groups = sum(len(s) // (2 * cfg.frames) for s in stacks)
        steps = max(1, groups * len(self.train_positions) // cfg.batch_size)
        self.steps_per_epoch = min(steps, cfg.max_steps_per_epoch or steps)
        self._epoch: tuple[int, list[SampleIndex]] | None = None

    def _samples(self, epoch: int | None) -> list[SampleIndex]:
        cfg = self.cfg
        positions = self.train_positions if epoch is not None else self.val_positions
        return epoch_samples(
            self.stacks,
            positions,
            frames=cfg.frames,
            patch=cfg.patch_size,
            max_zero_fraction=cfg.max_zero_fraction,
            seed=cfg.seed if epoch is not None else None,
            epoch=epoch or 0,
        )

    def batch(self, step: int, world: World) -> tuple[torch.Tensor, torch.Tensor]:
        """This rank's share of the global batch of ``step`` (the whole batch in one process)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        if self._epoch is None or self._epoch[0] != epoch:
            samples = self._samples(epoch)
            if not samples:
                raise ConfigError("every patch is more than max_zero_fraction no-data; check the stack")
            self._epoch = (epoch, samples)
        samples = self._epoch[1]
        picks = [(within * self.cfg.batch_size + j) % len(samples) for j in range(self.cfg.batch_size)]
        picks = world.shard(picks)
        pairs = [
            make_sample(
                self.stacks,
                samples[i],
                patch=self.cfg.patch_size,
                rng=np.random.default_rng([self.cfg.seed, epoch, i]),
            )
            for i in picks
        ]
        return _to_tensors(pairs)

    def validation_batches(self) -> list[tuple[torch.Tensor, torch.Tensor]]:
        samples = self._samples(None)
        pairs = [make_sample(self.stacks, s, patch=self.cfg.patch_size, rng=None) for s in samples]
        size = self.cfg.batch_size
        return [_to_tensors(pairs[i : i + size]) for i in range(0, len(pairs), size)]


def _to_tensors(pairs: list[tuple[np.ndarray, np.ndarray]]) -> tuple[torch.Tensor, torch.Tensor]:
    inp = torch.from_numpy(np.stack([p[0] for p in pairs])).unsqueeze(1)
    tgt = torch.from_numpy(np.stack([p[1] for p in pairs])).unsqueeze(1)
    return inp, tgt


def _as_stacks(data) -> list[Stack]:
    if isinstance(data, (list, tuple)) and data and all(isinstance(d, (Stack, np.ndarray)) for d in data):
        return [read_stack(d) for d in data]
    return [read_stack(data)]


def _prepare_run_dir(run_dir: Path, cfg: TrainConfig, *, resume: bool, overwrite: bool) -> None:
    config_path = run_dir / "config.json"
    if resume:
        if not (run_dir / LAST).exists():
            raise ConfigError(f"cannot resume: {run_dir / LAST} does not exist")
        saved = TrainConfig.read(config_path)
        if saved != cfg:
            raise ConfigError(f"cannot resume {run_dir} with a different config; saved: {saved}")
        return
    if (run_dir / LAST).exists() and not overwrite:
        raise OutputExistsError(f"{run_dir} holds a training run; resume it (--resume) or pass --overwrite")
    writable_folder(run_dir)
    for name in (LAST, FINAL, "metrics.jsonl"):
        (run_dir / name).unlink(missing_ok=True)
    atomic_write(config_path, lambda p: p.write_text(json.dumps(cfg.to_dict(), indent=2)), overwrite=True)


def _read_metrics(path: Path, up_to_step: int) -> list[dict]:
    """Metrics logged up to ``up_to_step``: what a resumed run keeps."""
    if not path.exists():
        return []
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    return [r for r in rows if r["step"] <= up_to_step]


def _build_model(cfg: TrainConfig, init_from: str | os.PathLike | None) -> Asteris:
    torch.manual_seed(cfg.seed)
    if init_from is None:
        return Asteris(cfg.network_config())
    model = load_model(init_from, frames=cfg.frames)
    if model.config != cfg.network_config():
        raise ConfigError(
            f"{init_from} has architecture {model.config}, the config asks for "
            f"{cfg.network_config()}; use the 'paper' preset to fine-tune published weights"
        )
    return model


@torch.no_grad()
def _validate(model: Asteris, batches, cfg: TrainConfig, device: torch.device) -> float | None:
    if not batches:
        return None
    model.eval()
    losses = [_loss(model, inp, tgt, cfg, device).item() for inp, tgt in batches]
    model.train()
    return float(np.mean(losses))


def _loss(model: Asteris, inp: torch.Tensor, tgt: torch.Tensor, cfg: TrainConfig, device: torch.device):
    with bf16_autocast(device, cfg.bf16):
        pred = model(inp.to(device))
    return asteris_loss(
        pred.float(),
        tgt.to(device),
        smooth_l1_weight=cfg.smooth_l1_weight,
        mean_mse_weight=cfg.mean_mse_weight,
        mask_zeros=cfg.mask_target_zeros,
    )


def train(
    data,
    *,
    run_dir: str | os.PathLike,
    config: TrainConfig | str | dict = "tiny",
    resume: bool = False,
    overwrite: bool = False,
    init_from: str | os.PathLike | None = None,
    device: str | torch.device | None = None,
    stop_after: int | None = None,
    progress: bool = True,
) -> TrainResult:
    """Train an ASTERIS network self-supervised on one or more stacks.

    Parameters
    ----------
    data : stack source, or list of `~asteris.stack.Stack` / arrays
        One stack (array, FITS cube, aligned FITS files) or several pointings.
    run_dir : path
        Folder of the run (config, metrics, checkpoints).
    config : TrainConfig, preset name or dict
        ``"tiny"`` (CPU-friendly) or ``"paper"`` (published sizes).
    resume : bool
        Continue from ``run_dir/checkpoint_last.pt``, exactly where it stopped.
    overwrite : bool
        Start afresh in a ``run_dir`` that already holds a run.
    init_from : path, optional
        Fine-tune from this checkpoint (published or ours).
    device : str, optional
        Default: cuda, then mps, then cpu.
    stop_after : int, optional
        Stop after this many steps in this call (the schedule is unchanged).
    progress : bool
        Show a progress bar with the loss and ETA.

    Returns
    -------
    TrainResult
    """
    cfg = _as_config(config)
    world = World.from_env()
    if cfg.batch_size % world.size:
        raise ConfigError(f"batch_size {cfg.batch_size} does not split over {world.size} processes")
    run_dir = Path(run_dir)
    stacks = _as_stacks(data)
    for s in stacks:
        require_exposures(s.exposures, cfg.frames, "train")
    model = _build_model(cfg, init_from)  # a bad --init-from is refused before the run folder is made
    if world.is_main:
        _prepare_run_dir(run_dir, cfg, resume=resume, overwrite=overwrite)
    world.barrier()
    prepared = _Data([prepare_training_stack(s.data) for s in stacks], cfg)
    dev = world.device(select_device(device))
    if cfg.bf16:
        warn_bf16_off_cuda(dev)
    run = _Run.start(cfg, run_dir, model.to(dev), world, prepared, resume=resume)
    if plateaued(run.history, cfg):  # a resumed run that had already stopped on its plateau
        run.total = run.step
    end = run.total if stop_after is None else min(run.total, run.step + stop_after)
    validation = prepared.validation_batches()
    with tqdm(
        total=run.total,
        initial=run.step,
        desc="training",
        unit="step",
        disable=not (progress and world.is_main),
    ) as bar:
        try:
            while run.step < end:
                row = run.train_step(*prepared.batch(run.step, world), dev)
                bar.update(1)
                bar.set_postfix(loss=f"{row['loss']:.4g}")
                if run.step % prepared.steps_per_epoch == 0 or run.step == run.total:
                    val = _validate(run.model, validation, cfg, dev)
                    run.history.append({"step": run.step, "epoch": row["epoch"], "val_loss": val})
                    if plateaued(run.history, cfg):
                        run.total = end = run.step  # the run is complete: model.pt is written below
                if run.step % cfg.checkpoint_every == 0 or run.step == end:
                    run.save()
        except KeyboardInterrupt:
            run.save()  # a completed step is never lost: --resume continues from here
            raise
    if run.step == run.total and world.is_main:
        save_checkpoint(run_dir / FINAL, run.model, name=run_dir.name, train_config=cfg.to_dict())
    world.barrier()
    world.close()
    return TrainResult(run.model.eval(), run_dir, run.step, run.history)


def plateaued(history: list[dict], cfg: TrainConfig) -> bool:
    """Whether the validation loss has stopped improving: no value in the last ``plateau_patience``
    validations beats the best before them by more than ``plateau_min_delta`` (relative).

    >>> cfg = TrainConfig.preset("tiny", plateau_patience=2)
    >>> plateaued([{"val_loss": v} for v in (5.0, 3.0, 2.0, 2.0, 2.0)], cfg)
    True
    >>> plateaued([{"val_loss": v} for v in (5.0, 3.0, 2.0, 1.5, 2.0)], cfg)
    False
    """
    if not cfg.plateau_patience:
        return False
    losses = [row["val_loss"] for row in history if row.get("val_loss") is not None]
    if len(losses) <= cfg.plateau_patience:
        return False
    best_before = min(losses[: -cfg.plateau_patience])
    return min(losses[-cfg.plateau_patience :]) > best_before * (1 - cfg.plateau_min_delta)


def _as_config(config: TrainConfig | str | dict) -> TrainConfig:
    if isinstance(config, TrainConfig):
        return config
    return TrainConfig.preset(config) if isinstance(config, str) else TrainConfig.from_dict(config)


@dataclass
class _Run:
    """The state of a run (model, optimiser, schedule, step, metrics) and how to save it."""

    cfg: TrainConfig
    run_dir: Path
    model: Asteris
    net: torch.nn.Module  #: the model as trained: wrapped for data parallelism when needed
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LRScheduler
    world: World
    steps_per_epoch: int
    total: int
    step: int = 0
    history: list[dict] = field(default_factory=list)

    @classmethod
    def start(cls, cfg, run_dir, model, world, prepared, *, resume: bool) -> _Run:
        total = prepared.steps_per_epoch * cfg.epochs
        optimizer = torch.optim.AdamW(
            model.parameters(), lr=cfg.lr, betas=cfg.betas, weight_decay=cfg.weight_decay
        )
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=total, eta_min=cfg.lr_min)
        run = cls(cfg, run_dir, model, None, optimizer, scheduler, world, prepared.steps_per_epoch, total)
        if resume:
            state = read_checkpoint(run_dir / LAST)
            model.load_state_dict(state["model_state_dict"])
            optimizer.load_state_dict(state["optimizer_state_dict"])
            scheduler.load_state_dict(state["scheduler_state_dict"])
            run.step = int(state["step"])
        run.history = _read_metrics(run_dir / "metrics.jsonl", run.step)
        if next(model.parameters()).device.type == "cpu" and not cfg.compile:
            patch = cfg.patch_size
            choose_kernels(model, (cfg.batch_size, 1, cfg.frames, patch, patch), training=True)
        run.net = world.wrap(compile_network(model.train()) if cfg.compile else model.train())
        return run

    def train_step(self, inp: torch.Tensor, tgt: torch.Tensor, device: torch.device) -> dict:
        """One optimisation step; returns its metrics row (loss averaged over ranks)."""
        t0 = time.perf_counter()
        loss = _loss(self.net, inp, tgt, self.cfg, device)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        row = {
            "step": self.step,
            "epoch": (self.step - 1) // self.steps_per_epoch,
            "loss": self.world.mean(loss.item()),
            "lr": self.scheduler.get_last_lr()[0],
            "seconds": time.perf_counter() - t0,
        }
        self.history.append(row)
        return row

    def save(self) -> None:
        """Write the full training state and the metrics (rank 0 only), atomically."""
        if not self.world.is_main:
            return
        save_checkpoint(
            self.run_dir / LAST,
            self.model,
            optimizer_state_dict=self.optimizer.state_dict(),
            scheduler_state_dict=self.scheduler.state_dict(),
            step=self.step,
            train_config=self.cfg.to_dict(),
        )
        _write_metrics(self.run_dir / "metrics.jsonl", self.history)


def _write_metrics(path: Path, history: list[dict]) -> None:
    text = "".join(json.dumps(row) + "\n" for row in history)
    atomic_write(path, lambda p: p.write_text(text), overwrite=True)
