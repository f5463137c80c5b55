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


@contextmanager
def seeded(seed: int) -> Iterator[None]:
    """Run a block (weight initialisation) with torch's global RNG seeded, restoring it afterwards:
    a run is reproducible from its config without leaving the process's RNG changed."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
