"""The inference engine: a network run over a stack's frames in overlapping tiles, on any device.

`denoise_frames` is what `asteris.denoise`, `asteris.streaming.denoise_large`
and the science's ASTERIS method all run; `NetworkOnTiles` is its per-tile
step (offset out, network, offset back) and `resolve_model` turns a path or a
network into the network to run.
"""

from __future__ import annotations

import copy
import os
import warnings
from dataclasses import dataclass, fields, replace

import numpy as np
import torch
from tqdm.auto import tqdm

from .checkpoint import load_model
from .errors import ConfigError
from .network import Asteris, compile_network
from .preprocess import data_mean, nanmedian_all, temporal_nanmedian
from .tiling import apply_tiled, pad_to_multiple, tile_grid
from .tuning import choose_memory_format

__all__ = [
    "InferenceOptions",
    "DEFAULT_TILE",
    "available_devices",
    "select_device",
    "bf16_autocast",
    "warn_bf16_off_cuda",
    "tile_offset",
    "NetworkOnTiles",
    "denoise_frames",
    "tile_geometry",
    "resolve_model",
]

DEFAULT_TILE = 512  #: px on every device: on an H100, 1024 px tiles ran 3-10 times slower per voxel
#: Side of the tiles on which the CPU layout trial runs (`asteris.tuning`): bounded so that the
#: trial costs seconds even for the published network; its result is cached per machine.
TUNING_SIDE = 128


@dataclass(frozen=True)
class InferenceOptions:
    """How a network runs over a stack, checked once and taken by every entry point (`asteris.denoise`,
    `asteris.streaming.denoise_large`, `asteris.survey.denoise_many`, the science's
    `~asteris.science.methods.asteris_method`), as ``options=`` or as keywords of the same names.

    ``tile_size``: tile side in pixels (default `DEFAULT_TILE`; on an H100, 1024 px tiles ran 3-10
    times slower per voxel); ``overlap``: tile overlap as a fraction of the tile; ``batch_size``:
    tiles per network call; ``device``: ``"cuda"``, ``"mps"`` or ``"cpu"`` (default the best
    available); ``bf16``: bfloat16 autocast (for speed on CUDA GPUs; on a CPU only to check its
    effect); ``compile``: `torch.compile` the network first (pays on GPUs for large stacks);
    ``frames``: the variant required (8 or 4), a checkpoint of the other one is refused.

    >>> InferenceOptions.resolve(None, tile_size=256).tile_size
    256
    >>> InferenceOptions.resolve(None, tile=256)
    Traceback (most recent call last):
    ...
    asteris.errors.ConfigError: unknown inference option 'tile'; the options are tile_size, overlap, \
batch_size, device, bf16, compile, frames
    """

    tile_size: int | None = None
    overlap: float = 0.1
    batch_size: int = 1
    device: str | torch.device | None = None
    bf16: bool = False
    compile: bool = False
    frames: int | None = None

    def __post_init__(self) -> None:
        problems = [
            (self.tile_size is not None and not (isinstance(self.tile_size, int) and self.tile_size > 0),
             f"tile_size must be a positive number of pixels, got {self.tile_size!r}"),
            (not 0 <= self.overlap < 1, f"overlap is a fraction of the tile in [0, 1), got {self.overlap!r}"),
            (not (isinstance(self.batch_size, int) and self.batch_size > 0),
             f"batch_size must be a positive number of tiles, got {self.batch_size!r}"),
            (self.frames not in (None, 4, 8), f"frames must be 4 or 8 (the variants), got {self.frames!r}"),
        ]  # fmt: skip
        for bad, message in problems:
            if bad:
                raise ConfigError(message)

    @classmethod
    def resolve(cls, options: InferenceOptions | None = None, **overrides) -> InferenceOptions:
        """``options`` (default all defaults) with the keywords ``overrides`` replacing its fields."""
        names = [f.name for f in fields(cls)]
        for key in overrides:
            if key not in names:
                raise ConfigError(f"unknown inference option {key!r}; the options are {', '.join(names)}")
        options = options if options is not None else cls()
        return replace(options, **overrides) if overrides else options

    def network_options(self) -> dict:
        """What `denoise_frames` takes: every option but ``frames``."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "frames"}


def available_devices() -> list[str]:
    """The devices this machine can run on, best first (``cuda:N`` for each GPU)."""
    gpus = [f"cuda:{i}" for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    mps = ["mps"] if torch.backends.mps.is_available() else []
    return [*(["cuda"] if gpus else []), *gpus, *mps, "cpu"]


def select_device(device: str | torch.device | None = None) -> torch.device:
    """The given device, checked to be on this machine, or the best available one: cuda, mps, cpu.

    >>> select_device("cpu")
    device(type='cpu')
    >>> select_device("tpu")
    Traceback (most recent call last):
    ...
    asteris.errors.ConfigError: device 'tpu' is not on this machine; it has cpu
    """
    here = available_devices()
    if device is None:
        return torch.device(here[0])
    try:
        chosen = torch.device(str(device).lower())
    except RuntimeError:
        chosen = None
    if chosen is None or str(chosen) not in here:
        raise ConfigError(f"device {str(device)!r} is not on this machine; it has {', '.join(here)}")
    return chosen


def bf16_autocast(device: torch.device, enabled: bool) -> torch.autocast:
    """bfloat16 autocast on CUDA and CPU when ``enabled`` (mps has none: float32 there)."""
    return torch.autocast(device.type, torch.bfloat16, enabled=enabled and device.type in ("cuda", "cpu"))


def warn_bf16_off_cuda(device: torch.device) -> None:
    """Say that bf16 off a CUDA GPU is for checking accuracy, not for speed."""
    if device.type != "cuda":
        warnings.warn(
            f"bf16 autocast pays on CUDA GPUs; on {device.type} it is for checking its accuracy "
            "(slow on most CPUs, float32 on mps)",
            stacklevel=3,
        )


def tile_offset(tile: torch.Tensor) -> torch.Tensor:
    """Median over pixels of the per-pixel temporal median, no-data (zero) voxels ignored.

    Equal, bit for bit, to ``np.nanmedian(np.nanmedian(data, axis=0))`` with
    zeros as NaN, computed where the tile already is (on the GPU, when used).
    """
    per_pixel = temporal_nanmedian(torch.where(tile != 0, tile, torch.nan))
    return nanmedian_all(per_pixel, empty=0.0)


class NetworkOnTiles:
    """Callable for `apply_tiled`: per-tile offset, the network on a batch, offset back."""

    def __init__(self, model: Asteris, device: torch.device, bf16: bool, compile: bool = False) -> None:
        self.model = compile_network(copy.deepcopy(model)) if compile else model
        self.device = device
        self.bf16 = bf16

    def __call__(self, batch: np.ndarray | torch.Tensor) -> np.ndarray | torch.Tensor:
        """Denoised tiles, as a tensor on the model's device for a tensor, else as numpy."""
        on_host = not isinstance(batch, torch.Tensor)
        tiles = torch.as_tensor(np.ascontiguousarray(batch) if on_host else batch, dtype=torch.float32,
                                device=self.device)  # fmt: skip
        offsets = torch.stack([tile_offset(t) for t in tiles])[:, None, None, None]
        x = torch.where(tiles != 0, tiles - offsets, 0).unsqueeze(1)
        with torch.inference_mode(), bf16_autocast(self.device, self.bf16):
            y = self.model(x)
        out = y.squeeze(1).float() + offsets
        return out.cpu().numpy() if on_host else out


def denoise_frames(
    frames: np.ndarray,
    model: Asteris,
    *,
    options: InferenceOptions | None = None,
    progress: bool = True,
    **overrides,
) -> np.ndarray:
    """Run the network over normalised frames ``(N, H, W)`` in overlapping tiles.

    Zeros are no data. The stack offset (median of the per-pixel temporal
    mean) and each tile's offset are subtracted before the network and added
    back after it. Returns the network output frames, ``(N, H, W)``. ``options`` and
    ``overrides``: as `InferenceOptions` (its ``frames`` does not apply: the network is given).
    """
    opts = InferenceOptions.resolve(options, **overrides)
    tile_size, overlap, batch_size, bf16 = opts.tile_size, opts.overlap, opts.batch_size, opts.bf16
    dev = select_device(opts.device)
    if bf16:
        warn_bf16_off_cuda(dev)
    model = model.to(dev).eval()
    multiple = model.config.multiple
    if dev.type == "cpu" and model.memory_format is None:
        trial = max(multiple, min(tile_size or DEFAULT_TILE, TUNING_SIDE) // multiple * multiple)
        choose_memory_format(model, (batch_size, 1, model.config.frames, trial, trial))
    # On a GPU the frames go there once: offsets, tiles and stitching are all computed there.
    work = dev if dev.type == "cuda" else torch.device("cpu")
    data = torch.as_tensor(np.asarray(frames, dtype=np.float32), device=work)
    stack_offset = float(nanmedian_all(data_mean(data)))
    shifted = torch.where(data != 0, data - stack_offset, 0)
    padded, (h, w) = pad_to_multiple(shifted, multiple)
    tiles, overlaps = tile_geometry(padded.shape[1:], multiple, tile_size or DEFAULT_TILE, overlap)
    n_tiles = len(tile_grid(padded.shape[1:], tiles, overlaps))
    with tqdm(total=n_tiles, desc="denoising", unit="tile", disable=not progress) as bar:
        out = apply_tiled(
            padded,
            NetworkOnTiles(model, dev, bf16, opts.compile),
            tile=tiles,
            overlap=overlaps,
            batch_size=batch_size,
            progress=bar.update,
        )
    return (out[:, :h, :w] + stack_offset).cpu().numpy()


def tile_geometry(shape, multiple: int, tile: int, overlap: float) -> tuple[tuple[int, int], tuple[int, int]]:
    """Tile size (a multiple of ``multiple``, at most the padded image) and overlap in px, per axis."""
    tile = max(multiple, tile - tile % multiple)
    tiles = (min(tile, shape[0]), min(tile, shape[1]))
    return tiles, tuple(int(round(overlap * t)) for t in tiles)


def resolve_model(model: Asteris | str | os.PathLike, frames: int | None) -> Asteris:
    """``model`` itself (checked to take ``frames``), or the checkpoint at that path loaded."""
    if isinstance(model, Asteris):
        if frames is not None and frames != model.config.frames:
            raise ValueError(f"the model takes {model.config.frames} frames, not {frames}")
        return model
    return load_model(model, frames=frames)
