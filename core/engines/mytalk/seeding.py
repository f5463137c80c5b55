"""Where a training run's randomness comes from: the config's seed, and the step number.

Every step draws from generators seeded with (seed, step), so a resumed run continues exactly as
an uninterrupted one would have, without storing generator state in the checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
import torch


def step_generators(seed: int, step: int) -> tuple[np.random.Generator, torch.Generator]:
    """The NumPy (batch picks) and torch (timesteps, noise, dropout masks) generators of one step."""
    g = torch.Generator().manual_seed((seed * 1_000_003 + step) % (2**63))
    return np.random.default_rng([seed, step]), g


def shard_generators(seed: int, step: int, shard: int, shards: int) -> tuple[np.random.Generator, torch.Generator]:
    """The generators of one share of a step's batch, when the batch is split into `shards` shares
    (ranks of a distributed run times micro-batches of gradient accumulation).

    One share is the whole batch, and then these are exactly `step_generators(seed, step)`: a run
    in one process without accumulation draws what it always drew. Each share's draws depend only on
    (seed, step, shard, shards), so a rank draws its share without hearing from the others, and a
    resumed run (same world size and accumulation) draws the same batches again.
    """
    if shards == 1:
        return step_generators(seed, step)
    g = torch.Generator().manual_seed(((seed * 1_000_003 + step) * 10_007 + shard * 101 + shards) % (2**63))
    return np.random.default_rng([seed, step, shards, shard]), g


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (weight initialisation) with torch's global RNG seeded, restoring it afterwards:
    a run is reproducible from its config without leaving the process's RNG changed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
