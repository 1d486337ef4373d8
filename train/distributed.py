"""A training run's processes: one, or several started by torchrun, kept in step by collective operations."""

from __future__ import annotations

import gc
import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass
class Distributed:
    """This process's place in a (possibly single-process) run."""

    rank: int = 0
    world: int = 1

    @property
    def main(self) -> bool:
        """Whether this process writes files and logs."""
        return self.rank == 0


def init_distributed(device: torch.device) -> Distributed:
    """Join the torchrun process group when started by torchrun (``WORLD_SIZE`` > 1)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Distributed()
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return Distributed(dist.get_rank(), dist.get_world_size())


def maximum(values: torch.Tensor, ddp: Distributed) -> torch.Tensor:
    """Each entry of ``values`` ``(K,)``, the largest over the processes (the same result on every process)."""
    if ddp.world > 1:
        dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return values


def agreed(flag: bool, ddp: Distributed, device: torch.device) -> bool:
    """True on every process when it is true on any (so all processes stop together)."""
    if ddp.world == 1:
        return flag
    return bool(maximum(torch.tensor([float(flag)], device=device), ddp).item() > 0)


def mean_over_processes(value: float, ddp: Distributed, device: torch.device) -> float:
    """The mean of ``value`` over the processes, summed in float64 (every process calls it)."""
    if ddp.world == 1:
        return value
    total = torch.tensor([value], device=device, dtype=torch.float64)
    dist.all_reduce(total)
    return float(total.item()) / ddp.world


def gather_latents(latent: torch.Tensor | None, ddp: Distributed) -> torch.Tensor | None:
    """The last step's latents of every process, ``(world * B, 128, 12, 12)``, so that the logged
    statistics describe the global batch whatever the number of processes (every process calls it)."""
    if ddp.world == 1 or latent is None:
        return latent
    parts = [torch.empty_like(latent) for _ in range(ddp.world)]
    dist.all_gather(parts, latent.contiguous())
    return torch.cat(parts)


def close_distributed(finished: bool) -> None:
    """Tear the process group down on every process together: after a finished run a barrier first (no
    process closes its sockets while another still waits on it), and DDP's reducer, which holds the group
    through reference cycles, is freed before the group is destroyed rather than at interpreter exit."""
    if not (dist.is_available() and dist.is_initialized()):
        return
    if finished and dist.get_world_size() > 1:
        dist.barrier()
    gc.collect()
    dist.destroy_process_group()
