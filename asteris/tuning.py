"""Choices that depend on the machine, made by measuring on it, and the description of the machine.

Which memory layout runs the network fastest on a CPU depends on the CPU (its
vector extensions, oneDNN's kernels for it) and on the torch build: channels-last
activations pay several times over on one machine and not on another.
`choose_memory_format` times one forward pass in each layout on the network's
own input shape, keeps the faster, and caches the choice per machine, torch
build, network and shape in ``<data folder>/tuning.json``, so a machine pays for
the trial once. The layouts compute the same arithmetic: outputs agree to float32
round-off (the golden tests run in both).

>>> sorted(machine_description())[1:4]
['cpu_capability', 'cpu_model', 'gpu']
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import time
from pathlib import Path

import torch

from .errors import ConfigError
from .fileio import atomic_write, data_dir

__all__ = ["machine_description", "choose_memory_format", "LAYOUTS", "LAYOUT_ENV", "TUNING_FILE"]

TUNING_FILE = "tuning.json"
#: Set to ``channels_last`` or ``contiguous`` to skip the trial and use that layout.
LAYOUT_ENV = "ASTERIS_LAYOUT"
LAYOUTS = {"channels_last": torch.channels_last_3d, "contiguous": torch.contiguous_format}
#: The incumbent (channels-last, chosen on the first measured machine) is kept unless the other layout
#: is faster by more than this fraction: timing noise must not flip the choice from run to run.
MARGIN = 0.10
_VECTOR_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx512_bf16",
                 "amx_tile", "amx_bf16", "neon", "asimd", "sve")  # fmt: skip


def _cpu_model_and_flags() -> tuple[str, list[str]]:
    info = Path("/proc/cpuinfo")
    if info.exists():
        text = info.read_text(errors="replace")
        model = re.search(r"^(model name|Hardware|cpu model)\s*:\s*(.+)$", text, re.M)
        flags = re.search(r"^(flags|Features)\s*:\s*(.+)$", text, re.M)
        found = set(flags.group(2).split()) if flags else set()
        name = model.group(2).strip() if model else platform.processor()
        return name, [f for f in _VECTOR_FLAGS if f in found]
    return platform.processor() or platform.machine(), []


def machine_description() -> dict:
    """CPU model and vector extensions, cores and threads, torch build and GPU, as one dict.

    Every benchmark result carries it: a speed figure is a property of a machine.
    """
    model, flags = _cpu_model_and_flags()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else None
    return {
        "cpu_model": model,
        "vector_extensions": flags,
        "logical_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "onednn_max_cpu_isa": os.environ.get("ONEDNN_MAX_CPU_ISA"),
        "aten_cpu_capability": os.environ.get("ATEN_CPU_CAPABILITY"),
        "platform": platform.platform(),
        "gpu": gpu,
    }


def _key(model, shape: tuple[int, ...]) -> str:
    machine = {k: v for k, v in machine_description().items() if k != "platform"}
    text = json.dumps([machine, model.config.to_dict(), list(shape)], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _seconds_per_forward(model, x: torch.Tensor, fmt: torch.memory_format) -> float:
    model.memory_format = fmt
    with torch.inference_mode():
        model(x)  # warm-up: oneDNN picks and caches its kernels
        start = time.perf_counter()
        model(x)
    return time.perf_counter() - start


def choose_memory_format(model, shape: tuple[int, ...], *, cache: bool = True) -> torch.memory_format:
    """The faster activation layout for ``model`` on this CPU and an input of ``shape``, and set it.

    Parameters
    ----------
    model : `asteris.network.Asteris`
        On the CPU; its ``memory_format`` is set to the choice.
    shape : tuple of int
        The input shape ``(B, 1, frames, H, W)`` the trial runs on.
    cache : bool
        Read and record the choice in ``<data folder>/tuning.json``.
    """
    pinned = os.environ.get(LAYOUT_ENV)
    if pinned:  # reproducible runs (the book's nbval check) must not depend on a timing
        if pinned not in LAYOUTS:
            raise ConfigError(f"${LAYOUT_ENV}={pinned!r}: choose one of {sorted(LAYOUTS)}, or unset it")
        model.memory_format = LAYOUTS[pinned]
        return model.memory_format
    path, key = data_dir() / TUNING_FILE, _key(model, shape)
    table = json.loads(path.read_text()) if cache and path.exists() else {}
    if key not in table:
        x = torch.randn(shape)
        seconds = {name: _seconds_per_forward(model, x, fmt) for name, fmt in LAYOUTS.items()}
        faster = seconds["contiguous"] < (1 - MARGIN) * seconds["channels_last"]
        table[key] = {"layout": "contiguous" if faster else "channels_last", "seconds": seconds,
                      "shape": list(shape), "machine": machine_description()}  # fmt: skip
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda p: p.write_text(json.dumps(table, indent=1)), overwrite=True)
    model.memory_format = LAYOUTS[table[key]["layout"]]
    return model.memory_format
