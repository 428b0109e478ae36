"""Methods: what turns a stack into one image (a coadd, an ASTERIS model, one retrained per stack).

>>> import numpy as np
>>> coadd_method("mean")(np.ones((4, 8, 8))).shape
(8, 8)
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..coadd import coadd
from ..stack import Stack

__all__ = ["Method", "coadd_method", "asteris_method", "retrained_asteris_method", "on_input_grid", "no_data"]

#: A method turns a stack into one image on the stack's grid (NaN = no data).
Method = Callable[[Stack], np.ndarray]


def on_input_grid(result, shape: tuple[int, int]) -> np.ndarray:
    """A `~asteris.result.DenoiseResult` image placed on the input grid, NaN outside ``crop`` and mask."""
    full = np.full(shape, np.nan, dtype=np.float32)
    full[result.crop] = np.where(result.mask, result.image, np.nan)
    return full


def coadd_method(method: str = "ivar", **options) -> Method:
    """A method that coadds the stack with `asteris.coadd.coadd`."""
    return lambda stack: coadd(stack, method=method, **options).image


def asteris_method(model, *, options=None, **overrides) -> Method:
    """A method that denoises the stack with ``model`` (a network or checkpoint), loaded once;
    ``options`` and ``overrides`` as `asteris.denoise` (`~asteris.engine.InferenceOptions`), checked here."""
    from ..denoise import denoise
    from ..engine import InferenceOptions, resolve_model

    progress = overrides.pop("progress", False)
    opts = InferenceOptions.resolve(options, **overrides)
    net = resolve_model(model, opts.frames)

    def method(stack: Stack) -> np.ndarray:
        return on_input_grid(denoise(stack, model=net, options=opts, progress=progress), stack.data.shape[1:])

    method.no_data = lambda stack: _denoised_no_data(stack, net.config.frames)
    return method


def _denoised_no_data(stack: Stack, frames: int) -> np.ndarray:
    """Where a denoised image of ``stack`` is NaN, without running the network: outside the crop, and
    where no prepared frame has data (`~asteris.preprocess.restore_image` masks exactly those)."""
    from ..preprocess import prepare_stack, restore_image

    prepared = prepare_stack(stack.data, frames, wcs=stack.wcs)
    _, valid = restore_image(prepared.frames, prepared)  # the frames stand in for the network's output
    out = np.ones(stack.data.shape[1:], dtype=bool)
    out[prepared.crop] = ~valid
    return out


def no_data(method: Method, stack: Stack) -> np.ndarray:
    """Where ``method``'s image of ``stack`` has no data (True), as a boolean image.

    From the method's own ``no_data`` where it has one (`asteris_method`'s needs
    no pass of the network), else from the NaN of its image.

    >>> import numpy as np
    >>> stack = np.ones((4, 3, 3)); stack[:, 0, 0] = np.nan
    >>> int(no_data(coadd_method("mean"), Stack(stack)).sum())
    1
    """
    if callable(getattr(method, "no_data", None)):
        return method.no_data(stack)
    return ~np.isfinite(method(stack))


def retrained_asteris_method(config, run_root, *, init_from=None, **options) -> Method:
    """A method that trains a fresh model self-supervised on each stack it is given, then denoises it.

    Each call trains in a new folder under ``run_root`` (``config``: a
    `~asteris.config.TrainConfig` or preset name; ``init_from``: fine-tune
    from a checkpoint), so injected stacks are denoised by a model that has
    seen their injections, as a user retraining on their own data would.
    """
    from pathlib import Path

    from ..denoise import denoise
    from ..training import train

    root, calls = Path(run_root), iter(range(1_000_000))
    options.setdefault("progress", False)

    def run(stack: Stack) -> np.ndarray:
        run_dir = root / f"stack_{next(calls):03d}"
        trained = train(
            stack, run_dir=run_dir, config=config, init_from=init_from, overwrite=True, progress=False
        )
        return on_input_grid(denoise(stack, model=trained.model, **options), stack.data.shape[1:])

    return run
