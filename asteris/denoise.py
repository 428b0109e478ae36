"""Tiled denoising of a stack with an ASTERIS network (spec sections 3.6-3.7)."""

from __future__ import annotations

import os

import numpy as np

from .engine import InferenceOptions, denoise_frames, resolve_model, select_device
from .fileio import check_writable
from .network import Asteris
from .preprocess import as_tensor, data_mean, prepare_stack, restore_image
from .result import DenoiseResult, image_header, provenance_cards
from .stack import Stack, read_stack, require_exposures

__all__ = ["DenoiseResult", "select_device", "denoise_frames", "denoise", "image_header"]


def denoise(
    data,
    *,
    model: Asteris | str | os.PathLike,
    options: InferenceOptions | None = None,
    progress: bool = True,
    output: str | os.PathLike | None = None,
    overwrite: bool = False,
    **overrides,
) -> DenoiseResult:
    """Denoise a stack of aligned exposures with an ASTERIS model.

    Parameters
    ----------
    data : ndarray, `~asteris.stack.Stack`, path or list of paths
        A ``(T, H, W)`` array, a FITS cube, or aligned FITS exposures.
    model : `~asteris.network.Asteris` or path
        A network, or a checkpoint (published or asteris) to load.
    options : `~asteris.engine.InferenceOptions`, optional
        Tile size, overlap, batch, device, bf16, compile and the frames policy.
    **overrides
        Any field of `~asteris.engine.InferenceOptions` (``tile_size=256``, ``device="cuda"``...),
        replacing the one of ``options``; an unknown name is refused.
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
    opts = InferenceOptions.resolve(options, **overrides)
    if output is not None:
        check_writable(output, overwrite=overwrite)
    stack: Stack = read_stack(data)
    net = resolve_model(model, opts.frames)
    require_exposures(stack.exposures, net.config.frames, "denoise")
    dev = select_device(opts.device)
    # preprocessing and restoration on the network's CUDA GPU; elsewhere on the CPU (mps has no float64)
    work = dev if dev.type == "cuda" else "cpu"
    prepared = prepare_stack(stack.data, net.config.frames, wcs=stack.wcs, device=work)
    out = denoise_frames(prepared.frames, net, options=opts, device=dev, progress=progress)
    image, mask = restore_image(out, prepared, device=work)
    raw = as_tensor(stack.data[(slice(None), *prepared.crop)], device=work)
    coadd = data_mean(raw).cpu().numpy()
    cards = provenance_cards(net, prepared.exposures, opts.tile_size)
    header = image_header(stack.header, prepared.wcs, cards)
    result = DenoiseResult(image, mask, coadd.astype(np.float32), header, prepared.wcs, prepared.crop)
    if output is not None:
        result.write(output, overwrite=overwrite)
    return result
