"""Where a training process sits in a distributed run, and the few collective steps the loop needs.

`torchrun` (`torch.distributed.run`, started by `mytalk train --nproc N` or by hand) gives every
worker process its place in the environment: WORLD_SIZE, RANK, LOCAL_RANK and the rendezvous
address. A process started without them is a world of one: the same code trains in one process
with no process group and no wrapping, exactly as before distributed training existed.

Why these choices:
- NCCL between GPUs, gloo on the CPU (the CI test runs two CPU processes with gloo);
- each rank drives the GPU of its LOCAL_RANK, so one node's ranks never share a card;
- the networks are wrapped in `DistributedDataParallel`, which averages gradients across ranks
  during the backward pass; the unwrapped network (`unwrap`) is what is saved, so a checkpoint
  has the same tensor names whatever the world size, and loads in one process;
- a decision that every rank must take together (stop on a cancel, a failure) is agreed by an
  all-reduce, so no rank is left waiting in a collective its peers never join.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

from mytalk.core.errors import UsageError


@dataclass(frozen=True)
class Ranks:
    """This process's place: `rank` of `world` processes, `local_rank` on its node of `local_world`."""

    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def is_main(self) -> bool:
        """Rank 0 alone writes files (weights, state, the log, the plot) and prints."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world > 1


def ranks_from_env(env: Mapping[str, str] | None = None) -> Ranks:
    """The place torchrun gave this process, or a world of one when it was not started by torchrun."""
    env = os.environ if env is None else env
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        rank = int(env.get("RANK", "0"))
        local_rank = int(env.get("LOCAL_RANK", "0"))
        local_world = int(env.get("LOCAL_WORLD_SIZE", str(world)))
    except ValueError as error:
        raise UsageError(f"distributed training: bad WORLD_SIZE/RANK/LOCAL_RANK in the environment ({error})") from None
    if not (world >= 1 and 0 <= rank < world and 0 <= local_rank < max(local_world, 1)):
        raise UsageError(f"distributed training: rank {rank} of {world} (local {local_rank}) does not add up")
    return Ranks(rank, world, local_rank, local_world)


@contextmanager
def process_group(ranks: Ranks, device: torch.device, timeout_s: float = 1800.0) -> Iterator[torch.device]:
    """Join the run's process group (a world of one joins nothing) and yield this rank's device.

    On CUDA each rank takes `cuda:LOCAL_RANK`. The group is always destroyed on the way out,
    also after an error, so a failed rank frees its peers' collectives rather than hanging them
    until the timeout.
    """
    if not ranks.distributed:
        yield device
        return
    if device.type == "cuda":
        if ranks.local_rank >= torch.cuda.device_count():
            raise UsageError(f"rank {ranks.rank}: local rank {ranks.local_rank} but only {torch.cuda.device_count()} "
                             "GPU(s) here; use --nproc at most the number of GPUs per node")
        device = torch.device("cuda", ranks.local_rank)
        torch.cuda.set_device(device)
    backend = "nccl" if device.type == "cuda" else "gloo"
    dist.init_process_group(backend, rank=ranks.rank, world_size=ranks.world, timeout=timedelta(seconds=timeout_s))
    try:
        yield device
    finally:
        dist.destroy_process_group()


def wrap(network: torch.nn.Module, ranks: Ranks, device: torch.device) -> torch.nn.Module:
    """`network` wrapped for data-parallel training (a world of one gets it back unwrapped)."""
    if not ranks.distributed:
        return network
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(network, device_ids=ids)


def unwrap(network: torch.nn.Module) -> torch.nn.Module:
    """The network inside a DistributedDataParallel wrapper (or the network itself)."""
    return network.module if isinstance(network, DistributedDataParallel) else network


@contextmanager
def gradients_held(network: torch.nn.Module, hold: bool) -> Iterator[None]:
    """While `hold`, a wrapped network's backward keeps its gradients local (no all-reduce): the
    micro-batches of gradient accumulation before the last one."""
    if hold and isinstance(network, DistributedDataParallel):
        with network.no_sync():
            yield
    else:
        yield


def any_rank(flag: bool, ranks: Ranks, device: torch.device) -> bool:
    """True on every rank when `flag` is true on at least one (a cancel seen by rank 0 stops all)."""
    if not ranks.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def barrier(ranks: Ranks) -> None:
    """Wait for every rank (after rank 0 has written a checkpoint the others may read)."""
    if ranks.distributed:
        dist.barrier()
