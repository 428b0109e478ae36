"""asteris: self-supervised spatiotemporal denoising of astronomical image stacks.

An open implementation of ASTERIS (Guo et al. 2026, Science): a 3D transformer
over (exposure, y, x), trained self-supervised on the exposures themselves,
that loads the published checkpoints and reproduces their outputs.
"""

import os

from .fanout import WORKER_ENV

# torch reads it at its first large allocation: set before, here as on the Dask workers (why: WORKER_ENV);
# a setting of the user's own stands (THP_MEM_ALLOC_ENABLE=0 turns it off)
for _name, _value in WORKER_ENV.items():
    os.environ.setdefault(_name, _value)

from .checkpoint import load_model, save_checkpoint  # noqa: E402
from .coadd import coadd  # noqa: E402
from .config import TrainConfig  # noqa: E402
from .denoise import DenoiseResult, denoise  # noqa: E402
from .network import build_network, compile_network  # noqa: E402
from .stack import Stack, read_stack, stack_info  # noqa: E402
from .survey import denoise_many  # noqa: E402
from .training import TrainResult, train  # noqa: E402
from .version import VERSION as __version__  # noqa: E402  (the installed distribution's metadata)

__all__ = [
    "__version__",
    "build_network",
    "compile_network",
    "load_model",
    "save_checkpoint",
    "TrainConfig",
    "train",
    "TrainResult",
    "denoise",
    "DenoiseResult",
    "denoise_many",
    "coadd",
    "Stack",
    "read_stack",
    "stack_info",
]
