"""Data-parallel training under ``torchrun``: one small object that knows the world.

Outside ``torchrun`` (no ``WORLD_SIZE`` > 1 in the environment) every method
is the single-process no-op, so the training loop is the same code either way.
Under ``torchrun --nproc_per_node N`` the process group is NCCL on GPUs and
Gloo on CPUs, each rank takes its share of every global batch, gradients are
averaged by DistributedDataParallel, and only rank 0 writes files.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

__all__ = ["World"]


@dataclass(frozen=True)
class World:
    """Rank and size of the training job (``World()`` is a single process)."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    owns_group: bool = False  #: this object started the process group, so it ends it

    @classmethod
    def from_env(cls) -> World:
        """The world ``torchrun`` describes in the environment; starts the process group."""
        size = int(os.environ.get("WORLD_SIZE", "1"))
        if size <= 1:
            return cls()
        owns = not dist.is_initialized()
        if owns:
            dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
        return cls(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", "0")), owns)

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def device(self, requested: torch.device) -> torch.device:
        """Each rank's GPU under torchrun on CUDA; otherwise what was requested."""
        if self.size > 1 and requested.type == "cuda":
            return torch.device("cuda", self.local_rank)
        return requested

    def barrier(self) -> None:
        if self.size > 1:
            dist.barrier()

    def mean(self, value: float) -> float:
        """The mean of ``value`` over all ranks."""
        if self.size == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t)
        return float(t.item()) / self.size

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        """The model wrapped in DistributedDataParallel when there is more than one rank."""
        if self.size == 1:
            return model
        device_ids = [self.local_rank] if next(model.parameters()).is_cuda else None
        # Every attention block holds weights for both frame regimes and uses one of them.
        return torch.nn.parallel.DistributedDataParallel(
            model, device_ids=device_ids, find_unused_parameters=True
        )

    def shard(self, items: list) -> list:
        """This rank's contiguous share of a global batch (its length must divide evenly)."""
        per = len(items) // self.size
        return items[self.rank * per : (self.rank + 1) * per]

    def close(self) -> None:
        """End the process group if this object started it."""
        if self.owns_group and dist.is_initialized():
            dist.destroy_process_group()
