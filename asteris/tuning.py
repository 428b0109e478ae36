"""Choices that depend on the machine, made by measuring on it, and the description of the machine.

Which kernels run the network fastest on a CPU depends on the CPU (its vector
extensions, oneDNN's kernels for it) and on the torch build: channels-last
activations pay several times over on one machine and not on another, and so
may a depthwise convolution's input gradient computed as a forward convolution.
`choose_memory_format` (inference) and `choose_kernels` (inference or training)
time the candidates on the network's own input shape, keep the fastest, and
cache the choice per machine, torch build, network, shape and mode in
``<data folder>/tuning.json``, so a machine pays for the trial once. The
candidates compute the same arithmetic: outputs and gradients agree to float32
round-off (the golden tests run in both layouts).

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
from .network import DEPTHWISE_GRADIENTS

__all__ = [
    "machine_description",
    "emulated_isa",
    "machine_line",
    "choose_memory_format",
    "choose_kernels",
    "LAYOUTS",
    "LAYOUT_ENV",
    "TUNING_FILE",
]

TUNING_FILE = "tuning.json"
#: Set to ``channels_last`` or ``contiguous`` to skip the trials: that layout, the default gradients.
LAYOUT_ENV = "ASTERIS_LAYOUT"
LAYOUTS = {"channels_last": torch.channels_last_3d, "contiguous": torch.contiguous_format}
#: The incumbent (channels-last and transposed gradients, chosen on the first measured machines) is kept
#: unless another candidate is faster by more than this fraction: timing noise must not flip the choice.
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
        "mkl_enable_instructions": os.environ.get("MKL_ENABLE_INSTRUCTIONS"),
        "platform": platform.platform(),
        "gpu": gpu,
    }


def emulated_isa(machine: dict) -> str | None:
    """The narrower instruction set whose kernels a run forced on a wider CPU, else None.

    Kernels restricted to AVX2 on a CPU with AVX-512 (``ATEN_CPU_CAPABILITY=avx2``,
    ``ONEDNN_MAX_CPU_ISA=AVX2``) emulate an AVX2 machine's kernels, not its
    caches, clock or memory: a figure measured so must say it.

    >>> emulated_isa({"aten_cpu_capability": "avx2", "vector_extensions": ["avx2", "avx512f"]})
    'AVX2'
    >>> emulated_isa({"cpu_capability": "AVX2", "vector_extensions": ["avx2"]}) is None
    True
    """
    forced = machine.get("aten_cpu_capability") or machine.get("onednn_max_cpu_isa")
    if forced and forced.lower() == "avx2" and "avx512f" in (machine.get("vector_extensions") or []):
        return "AVX2"
    return None


def machine_line(result: dict) -> str:
    """The machine a result was measured on, in one line (every figure belongs to one).

    >>> machine_line({"machine": {"cpu_model": "AMD EPYC", "logical_cores": 2, "torch_threads": 2,
    ...     "cpu_capability": "AVX512", "torch": "2.13.0+cpu"}})
    '2-core AMD EPYC (AVX512 kernels), 2 threads, torch 2.13.0+cpu'
    """
    m = result.get("machine") or {}
    if m.get("cpu_model"):
        isa = m.get("aten_cpu_capability") or m.get("cpu_capability") or "default"
        emulated = emulated_isa(m)
        kernels = f"{isa.upper()} kernels" + (" on an AVX-512 CPU: emulated" if emulated else "")
        gpu = f", GPU {m['gpu']}" if m.get("gpu") else ""
        return (
            f"{m.get('logical_cores', '?')}-core {m['cpu_model']} ({kernels}), "
            f"{m.get('torch_threads')} threads, torch {m.get('torch')}{gpu}"
        )
    if m.get("gpu"):
        return f"GPU {m['gpu']}, torch {m.get('torch')}"
    return "machine not recorded"


def _key(model, shape: tuple[int, ...], training: bool) -> str:
    machine = {k: v for k, v in machine_description().items() if k != "platform"}
    text = json.dumps([machine, model.config.to_dict(), list(shape), training], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _candidates(training: bool) -> list[dict]:
    """Kernel choices to try, the incumbent first; gradients matter only when training."""
    gradients = DEPTHWISE_GRADIENTS if training else DEPTHWISE_GRADIENTS[:1]
    return [{"layout": name, "depthwise_gradient": g} for name in LAYOUTS for g in gradients]


def _apply(model, choice: dict) -> None:
    model.memory_format = LAYOUTS[choice["layout"]]
    model.depthwise_gradient = choice["depthwise_gradient"]


def _seconds_per_run(model, x: torch.Tensor, choice: dict, training: bool) -> float:
    """Seconds of one forward pass (or forward and backward), after a warm-up run in which oneDNN
    picks and caches its kernels. The parameters' ``.grad`` are left untouched."""
    _apply(model, choice)
    params = [p for p in model.parameters() if p.requires_grad]

    def run() -> None:
        if training:
            torch.autograd.grad(model(x).square().mean(), params, allow_unused=True)
        else:
            with torch.inference_mode():
                model(x)

    run()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def _fastest(seconds: list[float]) -> int:
    best = min(range(len(seconds)), key=seconds.__getitem__)
    return best if seconds[best] < (1 - MARGIN) * seconds[0] else 0


def choose_kernels(model, shape: tuple[int, ...], *, training: bool = False, cache: bool = True) -> dict:
    """Measure and set the fastest kernels for ``model`` on this CPU and inputs of ``shape``.

    Parameters
    ----------
    model : `asteris.network.Asteris`
        On the CPU; its ``memory_format`` and ``depthwise_gradient`` are set to the choice.
    shape : tuple of int
        The input shape ``(B, 1, frames, H, W)`` the trial runs on.
    training : bool
        Time forward and backward passes, and try both depthwise gradients
        (`asteris.network.DEPTHWISE_GRADIENTS`); otherwise forward passes only.
    cache : bool
        Read and record the choice in ``<data folder>/tuning.json``.

    Returns
    -------
    dict
        ``{"layout": ..., "depthwise_gradient": ...}``, the choice made.
    """
    pinned = os.environ.get(LAYOUT_ENV)
    if pinned:  # reproducible runs (the book's nbval check) must not depend on a timing
        if pinned not in LAYOUTS:
            raise ConfigError(f"${LAYOUT_ENV}={pinned!r}: choose one of {sorted(LAYOUTS)}, or unset it")
        choice = {"layout": pinned, "depthwise_gradient": DEPTHWISE_GRADIENTS[0]}
        _apply(model, choice)
        return choice
    path, key = data_dir() / TUNING_FILE, _key(model, shape, training)
    table = json.loads(path.read_text()) if cache and path.exists() else {}
    if key not in table:
        x = torch.randn(shape, generator=torch.Generator().manual_seed(0))  # the global stream untouched
        candidates = _candidates(training)
        seconds = [_seconds_per_run(model, x, choice, training) for choice in candidates]
        table[key] = {**candidates[_fastest(seconds)], "training": training, "shape": list(shape),
                      "seconds": {json.dumps(c): t for c, t in zip(candidates, seconds)},
                      "machine": machine_description()}  # fmt: skip
        if cache:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda p: p.write_text(json.dumps(table, indent=1)), overwrite=True)
    choice = {name: table[key][name] for name in ("layout", "depthwise_gradient")}
    _apply(model, choice)
    return choice


def choose_memory_format(model, shape: tuple[int, ...], *, cache: bool = True) -> torch.memory_format:
    """The faster activation layout for ``model``'s inference on this CPU and inputs of ``shape``, and set it.

    `choose_kernels` without gradients; returns the layout chosen.
    """
    choose_kernels(model, shape, training=False, cache=cache)
    return model.memory_format
