"""Training configuration: a dataclass with presets, strict loading and a schema version."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

from .errors import ConfigError
from .network import PUBLISHED_BLOCKS, NetworkConfig

__all__ = ["SCHEMA_VERSION", "TrainConfig", "PRESETS", "reject_unknown_keys"]

SCHEMA_VERSION = 1


def reject_unknown_keys(data: dict, cls, what: str, *, where: str = "") -> None:
    """Raise `ConfigError` if ``data`` has keys that are not fields of the dataclass ``cls``."""
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        prefix = f"{where}: " if where else ""
        raise ConfigError(f"{prefix}unknown {what} key(s) {unknown}; known keys are {sorted(known)}")


_KINDS = {
    bool: ((bool,), "true or false"),
    int: ((int,), "a whole number"),
    float: ((int, float), "a number"),
    tuple: ((list, tuple), "a list"),
    str: ((str,), "text"),
}


def _check_types(config) -> None:
    """Refuse values whose type differs from the field default's (a whole number passes as a number)."""
    for f in fields(config):
        value, default = getattr(config, f.name), f.default
        if value is None or default is None:
            continue
        accepted, words = _KINDS[type(default)]
        if not isinstance(value, accepted) or (isinstance(value, bool) and not isinstance(default, bool)):
            raise ConfigError(f"config field {f.name} must be {words}, got {value!r}")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a self-supervised training run (spec section 4).

    Use a preset (``TrainConfig.preset("tiny")``, ``"paper"``) and override
    fields with `dataclasses.replace` or keyword arguments to `preset`.
    Unknown keys and other schema versions are refused by `from_dict`.
    """

    schema_version: int = SCHEMA_VERSION
    # network
    frames: int = 8
    f_maps: int = 24
    num_blocks: tuple[int, ...] | None = None
    num_refinement_blocks: int = 4
    # samples
    patch_size: int = 128
    patch_overlap: float = 0.1
    max_zero_fraction: float = 0.2
    val_fraction: float = 0.1
    mask_target_zeros: bool = True
    # optimisation
    batch_size: int = 3
    epochs: int = 10
    max_steps_per_epoch: int | None = None
    lr: float = 1e-4
    lr_min: float = 1e-6
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = 1e-4
    smooth_l1_weight: float = 0.125e6
    mean_mse_weight: float = 1e6
    # stop when the validation loss has not improved by plateau_min_delta (relative) over the last
    # plateau_patience validations (one per epoch); None trains for every epoch
    plateau_patience: int | None = None
    plateau_min_delta: float = 0.002
    # execution (results change only by round-off)
    bf16: bool = False
    compile: bool = False
    # bookkeeping
    checkpoint_every: int = 100
    seed: int = 0

    def __post_init__(self) -> None:
        if self.schema_version != SCHEMA_VERSION:
            raise ConfigError(
                f"config schema version {self.schema_version} is not {SCHEMA_VERSION}, "
                "the one this asteris reads; rewrite the config for this version"
            )
        _check_types(self)
        if self.num_blocks is not None:
            object.__setattr__(self, "num_blocks", tuple(int(b) for b in self.num_blocks))
        object.__setattr__(self, "betas", tuple(float(b) for b in self.betas))
        try:
            net = self.network_config()
        except ValueError as exc:
            raise ConfigError(str(exc)) from None
        checks = [
            (self.patch_size % net.multiple == 0, f"patch_size must be a multiple of {net.multiple}"),
            (0 <= self.patch_overlap < 1, "patch_overlap must be in [0, 1)"),
            (0 < self.max_zero_fraction <= 1, "max_zero_fraction must be in (0, 1]"),
            (0 <= self.val_fraction < 1, "val_fraction must be in [0, 1)"),
            (self.batch_size >= 1 and self.epochs >= 1, "batch_size and epochs must be >= 1"),
            (0 < self.lr_min <= self.lr, "need 0 < lr_min <= lr"),
            (self.checkpoint_every >= 1, "checkpoint_every must be >= 1"),
            (self.plateau_patience is None or self.plateau_patience >= 1, "plateau_patience must be >= 1"),
            (self.plateau_min_delta >= 0, "plateau_min_delta must be >= 0"),
            (
                self.max_steps_per_epoch is None or self.max_steps_per_epoch >= 1,
                "max_steps_per_epoch must be >= 1",
            ),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)

    def network_config(self) -> NetworkConfig:
        blocks = self.num_blocks if self.num_blocks is not None else PUBLISHED_BLOCKS.get(self.frames, ())
        return NetworkConfig(self.frames, self.f_maps, blocks, self.num_refinement_blocks)

    @classmethod
    def preset(cls, name: str, **overrides) -> TrainConfig:
        """A named preset (``tiny``, ``small`` or ``paper``), with fields overridden."""
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r}; choose one of {sorted(PRESETS)}")
        return cls.from_dict({**PRESETS[name], **overrides})

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """Build from a dict; unknown keys raise `ConfigError`."""
        reject_unknown_keys(data, cls, "config")
        return cls(**data)

    def to_dict(self) -> dict:
        out = asdict(self)
        out["betas"] = list(self.betas)
        out["num_blocks"] = list(self.num_blocks) if self.num_blocks is not None else None
        return out

    @classmethod
    def read(cls, path: str | os.PathLike) -> TrainConfig:
        """Read a JSON config file."""
        try:
            data = json.loads(Path(path).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ConfigError(f"cannot read config {path}: {exc}") from None
        return cls.from_dict(data)

    def replace(self, **changes) -> TrainConfig:
        return replace(self, **changes)

    def fine_tuning(self, steps: int) -> TrainConfig:
        """This config as the package fine-tunes a trained model: one epoch of ``steps`` steps at a
        tenth of its learning rate, decaying to a hundredth.

        >>> tuned = TrainConfig.preset("tiny").fine_tuning(100)
        >>> tuned.max_steps_per_epoch, tuned.lr, tuned.lr_min
        (100, 0.0001, 1e-05)
        """
        return replace(self, epochs=1, max_steps_per_epoch=steps, lr=self.lr / 10, lr_min=self.lr / 100)


PRESETS: dict[str, dict] = {
    # A CPU step in well under a second: tests, CI and the demo. The small network
    # needs a higher learning rate than the published one to converge in a few hundred steps.
    "tiny": dict(
        frames=8,
        f_maps=8,
        num_blocks=(1, 1, 1, 1),
        num_refinement_blocks=1,
        patch_size=32,
        batch_size=2,
        epochs=16,
        max_steps_per_epoch=50,
        lr=1e-3,
        lr_min=1e-5,
        checkpoint_every=25,
    ),
    # Between the two, trainable to a plateau on a CPU (1,200 steps at most, about 35 min on 2 cores):
    # twice the width and depth of tiny, 64 px patches;
    # stops when the validation loss flattens (benchmarks/train_reference.py trains the reference models).
    "small": dict(
        frames=8,
        f_maps=16,
        num_blocks=(2, 2, 2, 2),
        num_refinement_blocks=2,
        patch_size=64,
        batch_size=2,
        epochs=24,
        max_steps_per_epoch=50,
        lr=5e-4,
        lr_min=1e-5,
        checkpoint_every=50,
        plateau_patience=6,
    ),
    # The published sizes (f_maps 24, blocks [4, 6, 6, 8], 128 px patches, batch 3).
    "paper": dict(frames=8, f_maps=24, patch_size=128, batch_size=3, epochs=10, lr=1e-4),
}
