"""Tiled denoising of a stack with an ASTERIS network (spec sections 3.6-3.7)."""

from __future__ import annotations

import os

import numpy as np
import torch

from .engine import denoise_frames, resolve_model, select_device
from .fileio import check_writable
from .network import Asteris
from .preprocess import data_mean, prepare_stack, restore_image
from .preprocess_torch import data_mean_torch, prepare_stack_torch, restore_image_torch
from .result import DenoiseResult, image_header, provenance_cards
from .stack import Stack, read_stack, require_exposures

__all__ = ["DenoiseResult", "select_device", "denoise_frames", "denoise", "image_header"]

def denoise(
    data,
    *,
    model: Asteris | str | os.PathLike,
    frames: int | None = None,
    tile_size: int | None = None,
    overlap: float = 0.1,
    batch_size: int = 1,
    device: str | torch.device | None = None,
    bf16: bool = False,
    compile: bool = False,
    progress: bool = True,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
) -> DenoiseResult:
    """Denoise a stack of aligned exposures with an ASTERIS model.

    Parameters
    ----------
    data : ndarray, `~asteris.stack.Stack`, path or list of paths
        A ``(T, H, W)`` array, a FITS cube, or aligned FITS exposures.
    model : `~asteris.network.Asteris` or path
        A network, or a checkpoint (published or asteris) to load.
    frames : int, optional
        The variant required (8 or 4); a checkpoint of the other one is refused.
    tile_size : int, optional
        Tile side in pixels (default 512; on an H100, 1024 px tiles run 3-10 times slower per voxel).
    overlap : float
        Tile overlap as a fraction of the tile size.
    batch_size : int
        Tiles per network call.
    device : str, optional
        ``"cuda"``, ``"mps"``, ``"cpu"``; default the best available.
    bf16 : bool
        Use bfloat16 autocast (for speed on CUDA GPUs; on a CPU only to check its effect).
    compile : bool
        Compile the network with `torch.compile` first (pays on GPUs for
        large stacks; the first tiles wait for the compilation).
    progress : bool
        Show a progress bar.
    output : path, optional
        Also write the result as FITS there (atomically).
    overwrite : bool
        Replace ``output`` if it exists.

    Returns
    -------
    DenoiseResult

    Examples
    --------
    >>> import numpy as np
    >>> from asteris import build_network, denoise
    >>> net = build_network(frames=4, f_maps=8, num_blocks=[1, 1, 1], num_refinement_blocks=1)
    >>> stack = np.random.default_rng(0).normal(10, 1, (4, 20, 20))
    >>> denoise(stack, model=net, progress=False).image.shape
    (20, 20)
    """
    if output is not None:
        check_writable(output, overwrite=overwrite)
    stack: Stack = read_stack(data)
    net = resolve_model(model, frames)
    require_exposures(stack.exposures, net.config.frames, "denoise")
    dev = select_device(device)
    gpu = dev.type == "cuda"  # preprocessing and restoration where the network runs
    if gpu:
        prepared = prepare_stack_torch(stack.data, net.config.frames, wcs=stack.wcs, device=dev)
    else:
        prepared = prepare_stack(stack.data, net.config.frames, wcs=stack.wcs)
    out = denoise_frames(
        prepared.frames,
        net,
        tile_size=tile_size,
        overlap=overlap,
        batch_size=batch_size,
        device=dev,
        bf16=bf16,
        compile=compile,
        progress=progress,
    )
    image, mask = restore_image_torch(out, prepared, device=dev) if gpu else restore_image(out, prepared)
    raw = stack.data[(slice(None), *prepared.crop)]
    coadd = data_mean_torch(raw, device=dev).cpu().numpy() if gpu else data_mean(raw)
    header = image_header(stack.header, prepared.wcs, provenance_cards(net, prepared.exposures, tile_size))
    result = DenoiseResult(image, mask, coadd.astype(np.float32), header, prepared.wcs, prepared.crop)
    if output is not None:
        result.write(output, overwrite=overwrite)
    return result
