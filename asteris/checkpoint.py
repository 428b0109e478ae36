"""Loading and saving network checkpoints: the published ones and our own.

A published checkpoint is a dict with ``model_state_dict``; ours add
``config`` (the network configuration), the training state and provenance.
The network variant is inferred from the state-dict keys, so any of them loads
with ``load_model(path)``.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import torch

from .errors import CheckpointError
from .fileio import atomic_path, sha256sum
from .network import Asteris, NetworkConfig
from .version import VERSION
from .weights import resolve_weights

__all__ = ["infer_network_config", "load_model", "save_checkpoint", "read_checkpoint"]

CHECKPOINT_SCHEMA = 1


def _count_blocks(state_dict: dict, stage: str) -> int:
    pattern = re.compile(rf"^{stage}\.(\d+)\.")
    indices = {int(m.group(1)) for k in state_dict if (m := pattern.match(k))}
    return max(indices) + 1 if indices else 0


def infer_network_config(state_dict: dict) -> NetworkConfig:
    """The `NetworkConfig` that produced ``state_dict``, read from its keys and shapes."""
    if "patch_embed.proj.weight" not in state_dict:
        raise CheckpointError("this is not an ASTERIS state dict (no patch_embed.proj.weight)")
    frames = 8 if "down3_4.body.0.weight" in state_dict else 4
    stages = ["encoder_level1", "encoder_level2"] + (["encoder_level3"] if frames == 8 else []) + ["latent"]
    return NetworkConfig(
        frames=frames,
        f_maps=int(state_dict["patch_embed.proj.weight"].shape[0]),
        num_blocks=tuple(_count_blocks(state_dict, s) for s in stages),
        num_refinement_blocks=_count_blocks(state_dict, "refinement"),
    )


def read_checkpoint(path: str | os.PathLike) -> dict:
    """Read a checkpoint file into a dict holding at least ``model_state_dict``."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file
        raise CheckpointError(f"{path} is not a readable PyTorch checkpoint ({type(exc).__name__})") from None
    if isinstance(ckpt, dict) and "model_state_dict" not in ckpt and "patch_embed.proj.weight" in ckpt:
        ckpt = {"model_state_dict": ckpt}
    if not isinstance(ckpt, dict) or "model_state_dict" not in ckpt:
        raise CheckpointError(f"{path} holds no ASTERIS model (no model_state_dict)")
    return ckpt


def load_model(path: str | os.PathLike, *, frames: int | None = None) -> Asteris:
    """Load a published or asteris checkpoint into a network in eval mode.

    Parameters
    ----------
    path : path or str
        A ``.pth``/``.pt`` file with ``model_state_dict`` (or a bare state dict),
        or the name of published weights (``"ASTERIS8_nrclong"``, see
        `asteris.weights`), downloaded on first use.
    frames : int, optional
        The variant the caller needs (8 or 4); a checkpoint of the other variant
        raises `CheckpointError`.

    Returns
    -------
    Asteris
        With ``model.provenance`` holding the checkpoint's name and SHA-256.
    """
    path = resolve_weights(path)
    ckpt = read_checkpoint(path)
    state = ckpt["model_state_dict"]
    config = infer_network_config(state)
    if frames is not None and frames != config.frames:
        raise CheckpointError(
            f"{Path(path).name} is a {config.frames}-frame model but {frames} frames were asked "
            f"for; use a checkpoint of the {frames}-frame network or frames={config.frames}"
        )
    model = Asteris(config)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{Path(path).name} does not match the ASTERIS layout: {exc}") from None
    model.provenance = {
        "name": ckpt.get("name", Path(path).stem),
        "sha256": sha256sum(path),
        "variant": config.variant,
    }
    return model.eval()


def save_checkpoint(path: str | os.PathLike, model: Asteris, *, overwrite: bool = True, **extra) -> Path:
    """Atomically save ``model`` (and ``extra`` entries) in the published layout."""
    ckpt = {
        "model_state_dict": model.state_dict(),
        "config": model.config.to_dict(),
        "schema_version": CHECKPOINT_SCHEMA,
        "asteris_version": VERSION,
        **extra,
    }
    with atomic_path(path, overwrite=overwrite) as tmp:
        torch.save(ckpt, tmp)
    return Path(path)
