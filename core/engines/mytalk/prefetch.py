"""Training batches drawn ahead of the optimisation step by worker processes.

Measured on an H200 at the `base` preset (benchmarks/bench_training.py), drawing a stage-2 batch
on the CPU (reference crops, 144 rasterised sketches at 256 px) took longer than the GPU's
forward and backward: the real loop ran at 47 samples/s against 128 for the model alone. Moving
the drawing into worker processes overlaps it with the GPU work.

The batches stay exactly those of the single-process loop: a batch depends only on the step's
NumPy generator, and `StepBatches` makes that generator from (seed, step) in the worker just as the
loop would (`seeding.shard_generators`), so prefetching changes neither the numbers a run
computes nor what `--resume` continues with. Worker `w` of `W` draws steps `start + w`,
`start + w + W`, ...; the DataLoader hands workers' items out round-robin, which restores step
order, and `PrefetchedBatches.take` checks it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch.utils.data import DataLoader, IterableDataset, get_worker_info

from mytalk.core.engines.mytalk.seeding import shard_generators

Batch = dict[str, torch.Tensor]


class Sampler(Protocol):
    """What both stages' batch makers offer (`batches.MotionBatches`, `batches.AppearanceBatches`)."""

    def sample(self, batch_size: int, rng: np.random.Generator) -> Batch: ...


@dataclass(frozen=True)
class StepBatches:
    """This rank's batches of a step: one per share it owns (`shares`), each of `batch_size`,
    drawn with that share's NumPy generator (`seeding.shard_generators`).

    A run in one process without accumulation owns the single share 0 of 1, whose generator is
    the step's own (`seeding.step_generators`). A plain class rather than a closure, so it
    pickles into spawned workers.
    """

    sampler: Sampler
    batch_size: int
    seed: int
    shares: tuple[int, ...] = (0,)
    total_shares: int = 1

    def __call__(self, step: int) -> list[Batch]:
        return [self.sampler.sample(self.batch_size, shard_generators(self.seed, step, share, self.total_shares)[0])
                for share in self.shares]

    def torch_generator(self, step: int, share: int) -> torch.Generator:
        """The torch generator (timesteps, noise, dropout masks) of one share of `step`."""
        return shard_generators(self.seed, step, share, self.total_shares)[1]


class _Steps(IterableDataset):  # type: ignore[type-arg]
    """Steps [start, stop), each worker taking every W-th one (see the module docstring)."""

    def __init__(self, draw: StepBatches, start: int, stop: int) -> None:
        self.draw, self.start, self.stop = draw, start, stop

    def __iter__(self) -> Iterator[tuple[int, list[Batch]]]:
        info = get_worker_info()
        first, every = (0, 1) if info is None else (info.id, info.num_workers)
        for step in range(self.start + first, self.stop, every):
            yield step, self.draw(step)


class PrefetchedBatches:
    """`take(step)` returns this rank's batches of `step` (one per share), drawn ahead by `workers`
    processes (none: drawn on the spot).

    Steps must be taken in order, from `start`. `close()` stops the workers early (a cancelled
    or failed run); it is also what leaving a `with` block does.
    """

    def __init__(self, draw: StepBatches, start: int, stop: int, *, workers: int, pin_memory: bool = False,
                 depth: int = 2) -> None:
        self.draw = draw
        self.workers = max(0, workers)
        self._next = start
        self._items: Iterator[tuple[int, list[Batch]]] | None = None
        if self.workers > 0 and stop > start:
            loader = DataLoader(_Steps(draw, start, stop), batch_size=None, num_workers=self.workers,
                                pin_memory=pin_memory, prefetch_factor=depth)
            self._items = iter(loader)

    def take(self, step: int) -> list[Batch]:
        if step != self._next:
            raise RuntimeError(f"batches are taken in step order: expected step {self._next}, asked for {step}")
        self._next += 1
        if self._items is None:
            return self.draw(step)
        drawn, batch = next(self._items)
        if drawn != step:
            raise RuntimeError(f"prefetch out of order: drew step {drawn} for step {step}")
        return batch

    def close(self) -> None:
        """Stop the worker processes (dropping the loader's iterator shuts them down)."""
        self._items = None

    def __enter__(self) -> PrefetchedBatches:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def default_workers(device: torch.device, cpu_count: int | None, ranks_on_node: int = 1) -> int:
    """Loader processes per training rank: none on the CPU (drawing would take cores from the
    step itself), else a share of the node's cores, at most 6, keeping one core per rank free."""
    if device.type != "cuda" or not cpu_count:
        return 0
    return max(0, min(6, cpu_count // max(1, ranks_on_node) - 1))
