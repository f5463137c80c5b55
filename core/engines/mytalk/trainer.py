"""The one training loop both stages run: start or resume, step, log, probe, checkpoint, stop.

A stage describes itself as a `StageRun` (its networks, its optimizers, one optimisation step and
the losses of its probe batch; see `train.train_motion` and `train.train_appearance`), and
`run_stage` does the rest the same way for both:

- start: a fresh run, a run from an initial model (`init`, a fine-tune), or `--resume`, which
  reloads the weights and the optimizer state and continues at the step they were saved at;
- every step: the stage's step, a log line every `log_every` steps and at the end;
- the probe, a fixed batch scored at the start, every `eval_every` steps and at the end: unlike
  the per-step losses it is comparable across steps, and is what the overfitting tests measure;
- checkpoints: the weights and the optimizer state every `checkpoint_every` steps and at the end,
  plus a snapshot of the weights under `checkpoints/step-NNNNNN.safetensors`;
- divergence: a loss that is no longer finite (checked at every log step and before every save)
  stops the run with a UsageError before anything of it is written, so the last good checkpoint stays;
- cancellation: `is_cancelled()` is polled before every step; a cancelled run saves its state
  first, so `--resume` continues from there.

In a distributed run (`distributed.Ranks`) every rank runs this loop in step; rank 0 alone
scores the probe and writes the log, the weights, the state and the snapshots, and the others
wait for it at a barrier after each save. A cancel seen by any rank stops them all at the same
step (`distributed.any_rank`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch

from mytalk.core.engines.devices import autocast
from mytalk.core.engines.mytalk.checkpoint import (
    load_state,
    optimizer_tensors,
    prefixed,
    read_checkpoint,
    restore_optimizer,
    save_checkpoint,
)
from mytalk.core.engines.mytalk.distributed import Ranks, any_rank, barrier
from mytalk.core.engines.mytalk.runlog import RunLog
from mytalk.core.errors import JobCancelledError, UsageError
from mytalk.core.progress import CancelFn, ProgressFn


@dataclass
class TrainResult:
    """A finished (or resumed and finished) run: where the weights are, and the probe losses."""

    stage: str
    weights: Path
    run_dir: Path
    steps: int
    device: str
    first_eval: dict[str, float] = field(default_factory=dict)
    last_eval: dict[str, float] = field(default_factory=dict)
    seconds: float = 0.0


@dataclass(frozen=True)
class StepOutcome:
    """What one optimisation step did: the loss it descended, its named terms, its learning rate."""

    loss: torch.Tensor
    losses: dict[str, torch.Tensor]
    lr: float


class Cadence(Protocol):
    """How often (in steps) a run logs, scores its probe and saves; both stages' train configs fit."""

    @property
    def log_every(self) -> int: ...

    @property
    def eval_every(self) -> int: ...

    @property
    def checkpoint_every(self) -> int: ...


def _nothing() -> None:
    return None


def _quiet(done: int, total: int, stage: str) -> None:
    """The progress of ranks other than 0: they train silently, rank 0 reports for the run."""


@dataclass
class StageRun:
    """One stage's training, as the loop needs it.

    `networks` maps a tensor-name prefix to a network: all of them are saved in the one weights
    file (stage 2 keeps its discriminator beside the generator, so a resume continues the GAN).
    `optimizers` maps the state file's metadata key to an optimizer and its tensor-name prefix.
    `probed` is the network switched to eval mode while `probe()` scores the fixed batch (under
    no_grad and autocast). `step(index)` is one optimisation step. `fresh_start()` runs only for
    a run that neither resumes nor starts from a model (stage 1 fits its normaliser there).
    `on_device()` runs once the networks hold their starting weights on the run's device: where a
    distributed run wraps them for data-parallel training (the files keep the unwrapped names).
    """

    stage: str
    networks: dict[str, torch.nn.Module]
    optimizers: dict[str, tuple[torch.optim.Optimizer, str]]
    checkpoint_config: dict[str, Any]
    extra: dict[str, Any]
    probed: torch.nn.Module
    probe: Callable[[], dict[str, torch.Tensor]]
    step: Callable[[int], StepOutcome]
    fresh_start: Callable[[], None] = _nothing
    on_device: Callable[[], None] = _nothing

    def weights(self) -> dict[str, torch.Tensor]:
        """Every network's tensors under its prefix: the content of the weights file."""
        tensors: dict[str, torch.Tensor] = {}
        for prefix, network in self.networks.items():
            tensors.update(prefixed(network, prefix))
        return tensors


@dataclass(frozen=True)
class StagePaths:
    """Where a stage's run lives under a model folder (see `train`'s module docstring)."""

    weights: Path
    run_dir: Path

    @classmethod
    def of(cls, out_dir: Path, stage: str) -> StagePaths:
        return cls(out_dir / f"{stage}.safetensors", out_dir / "runs" / stage)

    @property
    def state(self) -> Path:
        """The optimizer state that `--resume` needs besides the weights."""
        return self.run_dir / "state.safetensors"

    def snapshot(self, step: int) -> Path:
        return self.run_dir / "checkpoints" / f"step-{step:06d}.safetensors"

    def check_start(self, resume: bool, init: Path | None) -> None:
        """Refuse a start that would overwrite trained weights, or a resume with nothing to resume."""
        if resume:
            if not (self.weights.is_file() and self.state.is_file()):
                raise UsageError(f"--resume: no interrupted run in {self.run_dir.parent.parent}; start without --resume")
            if init is not None:
                raise UsageError("--resume continues a run; it cannot be combined with an initial model")
        elif self.weights.exists():
            raise UsageError(f"{self.weights} exists; pass --resume to continue its training, or --out NAME for a "
                             "new model")


def set_learning_rate(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def descend(optimizer: torch.optim.Optimizer, loss: torch.Tensor,
            clip: tuple[Iterable[torch.nn.Parameter], float] | None = None) -> None:
    """One gradient step on `loss`; `clip` = (parameters, max norm) clips their gradient norm first."""
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if clip is not None:
        torch.nn.utils.clip_grad_norm_(clip[0], clip[1])
    optimizer.step()


def _steps(total: int, start: int, progress: ProgressFn, is_cancelled: Callable[[], bool], stage: str,
           on_cancel: Callable[[int], None]) -> Iterator[int]:
    for step in range(start, total):
        if is_cancelled():
            on_cancel(step)
            raise JobCancelledError(f"training {stage} cancelled at step {step}; its state is saved, continue "
                                    "with --resume")
        yield step
        progress(step + 1, total, f"training {stage}")


def _load(run: StageRun, paths: StagePaths, resume: bool, init: Path | None, device: torch.device) -> int:
    """Weights from the run being resumed or the initial model (else a fresh start), on `device`;
    for a resume also the optimizer state. Returns the step to continue from."""
    source = paths.weights if resume else init
    if source is not None:
        tensors, _ = read_checkpoint(source, run.stage, run.checkpoint_config)
        for prefix, network in run.networks.items():
            load_state(network, tensors, source, prefix)
    else:
        run.fresh_start()
    for network in run.networks.values():
        network.to(device)
    if not resume:
        return 0
    state, info = read_checkpoint(paths.state, f"{run.stage}-state", run.checkpoint_config)
    state = {k: v.to(device) for k, v in state.items()}
    for key, (optimizer, prefix) in run.optimizers.items():
        restore_optimizer(optimizer, state, info.extra[key], prefix)
    return info.step


def run_stage(
    run: StageRun,
    paths: StagePaths,
    *,
    data_hash: str,
    total: int,
    cadence: Cadence,
    device: torch.device,
    title: str,
    resume: bool,
    init: Path | None,
    progress: ProgressFn,
    is_cancelled: CancelFn,
    began: float,
    ranks: Ranks | None = None,
) -> TrainResult:
    """Train `run` up to step `total` (see the module docstring); `began` is the run's perf_counter start."""
    ranks = ranks or Ranks()
    start = _load(run, paths, resume, init, device)
    run.on_device()
    log = RunLog(paths.run_dir, fresh=not resume) if ranks.is_main else None
    if log is not None:
        # How this (re)start trains, e.g. its world size: a resumed run may continue with another.
        log.write({"kind": "start", "step": start, "resumed": resume, "run": run.extra})

    latest: list[torch.Tensor] = []  # the loss of the last step taken
    saved: list[int] = [start] if resume else []

    def check_finite(step: int) -> None:
        """Stop a run whose loss is no longer finite before it writes any of it: hours of training on
        NaN weights, saved over the last good checkpoint, would be worse than stopping."""
        bad = bool(latest) and not bool(torch.isfinite(latest[-1]).item())
        if any_rank(bad, ranks, device):
            kept = (f"the weights and state of step {saved[-1]} are kept (continue from there with --resume)"
                    if saved else "nothing was saved")
            raise UsageError(f"training {run.stage} diverged: the loss is {float(latest[-1]) if latest else 'nan'} at "
                             f"step {step}; {kept}; lower the learning rate (lr) or lengthen the warm-up in the "
                             "config and run again")

    def save(step: int) -> None:
        check_finite(step)
        if ranks.is_main:
            _save(step)
        barrier(ranks)
        saved.append(step)

    def _save(step: int) -> None:
        save_checkpoint(paths.weights, run.stage, run.weights(), run.checkpoint_config, data_hash=data_hash,
                        step=step, extra=run.extra)
        state: dict[str, torch.Tensor] = {}
        groups: dict[str, Any] = {}
        for key, (optimizer, prefix) in run.optimizers.items():
            tensors, groups[key] = optimizer_tensors(optimizer, prefix)
            state.update(tensors)
        save_checkpoint(paths.state, f"{run.stage}-state", state, run.checkpoint_config, data_hash=data_hash,
                        step=step, extra=groups)

    def evaluate(step: int) -> dict[str, float]:
        if log is None:
            return {}
        run.probed.eval()
        with torch.no_grad(), autocast(device):
            losses = run.probe()
        run.probed.train()
        values = {k: float(v) for k, v in losses.items()}
        log.write({"kind": "eval", "step": step, "losses": values})
        return values

    first = evaluate(start)
    last = first
    for network in run.networks.values():
        network.train()
    def stop_now() -> bool:
        return any_rank(is_cancelled(), ranks, device)

    shown = progress if ranks.is_main else _quiet
    for step in _steps(total, start, shown, stop_now, run.stage, save):
        outcome = run.step(step)
        latest[:] = [outcome.loss.detach()]
        done = step + 1
        if done % cadence.log_every == 0 or done == total:
            check_finite(done)
        if log is not None and (done % cadence.log_every == 0 or done == total):
            log.write({"kind": "train", "step": done, "loss": outcome.loss.item(), "lr": outcome.lr,
                       "losses": {k: v.item() for k, v in outcome.losses.items()}})
        if done % cadence.eval_every == 0 and done != total:
            last = evaluate(done)
        if done % cadence.checkpoint_every == 0 and done != total:
            check_finite(done)
            if ranks.is_main:
                save_checkpoint(paths.snapshot(done), run.stage, run.weights(), run.checkpoint_config,
                                data_hash=data_hash, step=done, extra=run.extra)
            save(done)
    if total > start:
        last = evaluate(total)
    save(max(total, start))
    if log is not None:
        log.plot(title)
    return TrainResult(run.stage, paths.weights, paths.run_dir, max(total, start), device.type, first, last,
                       time.perf_counter() - began)
