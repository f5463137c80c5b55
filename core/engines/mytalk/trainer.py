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
- cancellation: `is_cancelled()` is polled before every step; a cancelled run saves its state
  first, so `--resume` continues from there.
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


@dataclass
class StageRun:
    """One stage's training, as the loop needs it.

    `networks` maps a tensor-name prefix to a network: all of them are saved in the one weights
    file (stage 2 keeps its discriminator beside the generator, so a resume continues the GAN).
    `optimizers` maps the state file's metadata key to an optimizer and its tensor-name prefix.
    `probed` is the network switched to eval mode while `probe()` scores the fixed batch (under
    no_grad and autocast). `step(index)` is one optimisation step. `fresh_start()` runs only for
    a run that neither resumes nor starts from a model (stage 1 fits its normaliser there).
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


def _steps(total: int, start: int, progress: ProgressFn, is_cancelled: CancelFn, stage: str,
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
) -> TrainResult:
    """Train `run` up to step `total` (see the module docstring); `began` is the run's perf_counter start."""
    start = _load(run, paths, resume, init, device)
    log = RunLog(paths.run_dir, fresh=not resume)

    def save(step: int) -> None:
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
    for step in _steps(total, start, progress, is_cancelled, run.stage, save):
        outcome = run.step(step)
        done = step + 1
        if done % cadence.log_every == 0 or done == total:
            log.write({"kind": "train", "step": done, "loss": outcome.loss.item(), "lr": outcome.lr,
                       "losses": {k: v.item() for k, v in outcome.losses.items()}})
        if done % cadence.eval_every == 0 and done != total:
            last = evaluate(done)
        if done % cadence.checkpoint_every == 0 and done != total:
            save(done)
            save_checkpoint(paths.snapshot(done), run.stage, run.weights(), run.checkpoint_config,
                            data_hash=data_hash, step=done, extra=run.extra)
    if total > start:
        last = evaluate(total)
    save(max(total, start))
    log.plot(title)
    return TrainResult(run.stage, paths.weights, paths.run_dir, max(total, start), device.type, first, last,
                       time.perf_counter() - began)
