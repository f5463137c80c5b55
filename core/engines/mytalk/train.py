"""`mytalk train motion|appearance DIR --config FILE.toml`: train either stage on a built dataset.

Output (under the models folder, `user_dirs().models / NAME`):

    motion.safetensors | appearance.safetensors     the weights the engine loads (latest)
    runs/<stage>/log.jsonl                           one JSON object per (re)start, logged step, evaluation
    runs/<stage>/loss.png                            the loss curves of the run (log scale)
    runs/<stage>/state.safetensors                   optimizer state for --resume
    runs/<stage>/checkpoints/step-NNNNNN.safetensors periodic snapshots

This module says what each stage trains (its networks, optimizers, step and probe); the loop
both share (resume, logging, the probe, checkpoints, cancellation) is `trainer.run_stage`.

Device: `auto` takes CUDA when there is one (with bf16 autocast for the forward passes; weights
and optimizer stay float32), else the CPU in float32 (`mytalk.core.engines.devices`). Every
step's randomness comes from generators seeded with (seed, step) (`seeding`), so a resumed run
continues exactly as an uninterrupted one would have, without storing generator state.

Distributed (`distributed`, started by torchrun): each of N ranks draws its share of the step's
batch (`batch_size` is the global batch; `grad_accum` splits a rank's share into micro-batches
whose gradients add up before the step), DistributedDataParallel averages the gradients, and
rank 0 writes the files. The weights and optimizer state are saved unwrapped, so a run resumes
with another number of processes (its batches are then drawn differently, from the same seed),
and its weights load in one process. Batches are drawn ahead by loader processes on CUDA
(`prefetch`), the same batches the step would have drawn itself.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any, TypeVar

import torch

from mytalk.core.engines.devices import autocast, resolve_device
from mytalk.core.engines.mytalk.batches import AppearanceBatches, MotionBatches, to_device
from mytalk.core.engines.mytalk.builders import (
    appearance_checkpoint_config,
    build_discriminator,
    build_generator,
    build_motion,
    motion_checkpoint_config,
)
from mytalk.core.engines.mytalk.config import MyTalkConfig, validate
from mytalk.core.engines.mytalk.dataset import Dataset, ensure_phones
from mytalk.core.engines.mytalk.distributed import (
    Ranks,
    barrier,
    gradients_held,
    process_group,
    ranks_from_env,
    wrap,
)
from mytalk.core.engines.mytalk.losses import discriminator_loss, generator_adversarial_loss
from mytalk.core.engines.mytalk.lr_schedule import learning_rate
from mytalk.core.engines.mytalk.objectives import MotionObjective, appearance_losses, motion_losses
from mytalk.core.engines.mytalk.prefetch import PrefetchedBatches, StepBatches, default_workers
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
from mytalk.core.engines.mytalk.seeding import seeded
from mytalk.core.engines.mytalk.trainer import (
    StagePaths,
    StageRun,
    StepOutcome,
    TrainResult,
    run_stage,
    set_learning_rate,
)
from mytalk.core.errors import UsageError
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

STAGES = ("motion", "appearance")
_B = TypeVar("_B", MotionBatches, AppearanceBatches)


def _shares(batch_size: int, ranks: Ranks, accum: int, section: str) -> tuple[int, tuple[int, ...], int]:
    """(micro-batch size, the shares this rank draws, shares in all) of a step's `batch_size`.

    The config's batch_size is the global batch of one optimizer step: split over the ranks, and
    on each rank over `accum` micro-batches, so the trained model does not depend on how many
    GPUs ran it (`seeding.shard_generators`).
    """
    total = ranks.world * accum
    if batch_size % total:
        raise UsageError(f"{section} batch_size {batch_size} does not divide by {ranks.world} process(es) x grad_accum "
                         f"{accum} = {total}; change --nproc, grad_accum or batch_size")
    first = ranks.rank * accum
    return batch_size // total, tuple(range(first, first + accum)), total


def _feed_workers(loader_workers: int | None, device: torch.device, ranks: Ranks) -> int:
    return default_workers(device, os.cpu_count(), ranks.local_world) if loader_workers is None else loader_workers


def _run_extra(base: dict[str, Any], ranks: Ranks, accum: int) -> dict[str, Any]:
    """What the weights' metadata records of how they were trained, beside the config."""
    return {**base, "world_size": ranks.world, "grad_accum": accum}


def _mean(parts: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {k: torch.stack([p[k].detach().float() for p in parts]).mean() for k in parts[0]}


def train_motion(
    dataset: Dataset,
    config: MyTalkConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    init: Path | None = None,
    steps: int | None = None,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    ranks: Ranks | None = None,
    loader_workers: int | None = None,
    validation: Dataset | None = None,
) -> TrainResult:
    """Train stage 1 on `dataset`; writes `out_dir/motion.safetensors` and the run folder.

    ranks: this process's place in a distributed run (default: a world of one);
    loader_workers: processes drawing batches ahead (default: none on the CPU, some on CUDA);
    validation: clips of speakers never trained on, which the probe scores (default: the probe
    comes from the training clips).
    """
    validate(config)
    began = time.perf_counter()
    ranks = ranks or Ranks()
    mc, tc = config.motion_model, config.motion_train
    total = steps if steps is not None else tc.steps
    micro, shares, all_shares = _shares(tc.batch_size, ranks, tc.grad_accum, "motion.train")
    paths = StagePaths.of(Path(out_dir), "motion")
    paths.check_start(resume, init)
    if mc.phone_features != "none" and ranks.is_main and ensure_phones(dataset, progress=progress,
                                                                       is_cancelled=is_cancelled):
        dataset = dataset.reloaded()
        validation = validation.reloaded() if validation is not None else None
    with process_group(ranks, resolve_device(device)) as dev:
        if ranks.distributed and mc.phone_features != "none":
            barrier(ranks)
            dataset = dataset.reloaded()  # the phones rank 0 just added
            validation = validation.reloaded() if validation is not None else None
        batches = MotionBatches(dataset, mc)
        probe_from = _probe_source(lambda held_out: MotionBatches(held_out, mc), validation, batches)
        with seeded(tc.seed):
            model = build_motion(mc)
        scheduler = DDIMScheduler(config.scheduler)
        optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)
        objective: torch.nn.Module = MotionObjective(model, scheduler)

        # The probe: fixed windows with fixed timesteps (spread over the whole schedule) and noise.
        probe = to_device(probe_from.probe(tc.eval_windows, tc.seed), dev)
        probe_gen = torch.Generator().manual_seed(tc.seed + 7)
        probe_t = torch.linspace(0, scheduler.num_train_timesteps - 1, tc.eval_windows).round().long()
        probe_noise = torch.randn((tc.eval_windows, mc.window, probe["x0"].shape[2], 2), generator=probe_gen)

        def probe_losses() -> dict[str, torch.Tensor]:
            return motion_losses(model, scheduler, probe, probe_t.to(dev), probe_noise.to(dev), None)

        draw = StepBatches(batches, micro, tc.seed, shares, all_shares)
        feed = _Feed(draw, total, _feed_workers(loader_workers, dev, ranks), dev)

        def on_device() -> None:
            nonlocal objective
            objective = wrap(objective, ranks, dev)

        def step(index: int) -> StepOutcome:
            parts = feed.take(index)
            set_learning_rate(optimizer, learning_rate(index, total, tc.lr, tc.warmup))
            optimizer.zero_grad(set_to_none=True)
            terms, losses_seen = [], []
            for k, (share, part) in enumerate(zip(shares, parts, strict=True)):
                gen = draw.torch_generator(index, share)
                batch = to_device(part, dev)
                t = scheduler.sample_timesteps(micro, gen).to(dev)
                noise = torch.randn(batch["x0"].shape, generator=gen).to(dev)
                drop = (torch.rand(micro, generator=gen) < tc.audio_dropout).to(dev)
                if "visemes" in batch:
                    # Drawn after the others, so a model without phones trains exactly as before the option existed.
                    keep = (torch.rand(micro, generator=gen) >= tc.phone_dropout).to(dev)
                    batch["visemes"] = batch["visemes"] * keep.reshape(-1, 1, 1)
                with gradients_held(objective, k < len(parts) - 1):
                    with autocast(dev):
                        losses = objective(batch, t, noise, drop)
                    loss = (tc.w_reconstruction * losses["reconstruction"] + tc.w_velocity * losses["velocity"]
                            + tc.w_identity * losses["identity"])
                    (loss / len(parts)).backward()
                terms.append(loss.detach())
                losses_seen.append(losses)
            torch.nn.utils.clip_grad_norm_(model.parameters(), tc.grad_clip)
            optimizer.step()
            return StepOutcome(torch.stack(terms).mean(), _mean(losses_seen), optimizer.param_groups[0]["lr"])

        run = StageRun(
            stage="motion",
            networks={"": model},
            optimizers={"optimizer": (optimizer, "opt.")},
            checkpoint_config=motion_checkpoint_config(mc, config.scheduler),
            extra=_run_extra({"sampling": asdict(config.sampling), "preset": config.preset,
                              "dataset": str(dataset.folder)}, ranks, tc.grad_accum),
            probed=model,
            probe=probe_losses,
            step=step,
            fresh_start=lambda: model.fit_normaliser(batches.all_points()),
            on_device=on_device,
        )
        with feed:
            return run_stage(run, paths, data_hash=dataset.data_hash, total=total, cadence=tc, device=dev,
                             title=f"MyTalk motion ({config.preset}, {dev.type})", resume=resume, init=init,
                             progress=progress, is_cancelled=is_cancelled, began=began, ranks=ranks)


def _critic(disc: torch.nn.Module, real: torch.Tensor, fake: torch.Tensor, sketch: torch.Tensor,
            together: bool) -> tuple[torch.Tensor, torch.Tensor]:
    """The discriminator's logits on the real and the fake crops.

    `together` scores both in one forward pass: a DistributedDataParallel module must see one
    forward per backward. The discriminator has no batch statistics (spectral norm, no batch
    norm), so the logits are the same either way; one process keeps two passes, as it always did.
    """
    if not together:
        return disc(real, sketch), disc(fake, sketch)
    logits = disc(torch.cat([real, fake]), torch.cat([sketch, sketch]))
    return logits[: len(real)], logits[len(real) :]


def train_appearance(
    dataset: Dataset,
    config: MyTalkConfig,
    out_dir: Path,
    *,
    resume: bool = False,
    init: Path | None = None,
    steps: int | None = None,
    device: str = "auto",
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    ranks: Ranks | None = None,
    loader_workers: int | None = None,
    validation: Dataset | None = None,
) -> TrainResult:
    """Train stage 2 (generator + PatchGAN) on `dataset`; writes `out_dir/appearance.safetensors`.

    validation: as for `train_motion`, the clips the probe scores.

    A step with the adversary first updates the discriminator on every micro-batch's real and
    generated crops, then the generator against the updated discriminator, as one process always
    did. With several micro-batches the crops the discriminator sees are generated again without
    gradients, rather than all micro-batches' graphs being kept until the generator's turn.
    """
    validate(config)
    began = time.perf_counter()
    ranks = ranks or Ranks()
    ac, tc = config.appearance_model, config.appearance_train
    total = steps if steps is not None else tc.steps
    micro, shares, all_shares = _shares(tc.batch_size, ranks, tc.grad_accum, "appearance.train")
    paths = StagePaths.of(Path(out_dir), "appearance")
    paths.check_start(resume, init)
    with process_group(ranks, resolve_device(device)) as dev:
        batches = AppearanceBatches(dataset, ac, tc.exclude_radius)
        with seeded(tc.seed):
            generator = build_generator(ac)
            disc = build_discriminator(ac)
        opt_g = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=(0.5, 0.999))
        opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
        probe_from = _probe_source(lambda held_out: AppearanceBatches(held_out, ac, tc.exclude_radius), validation,
                                   batches)
        probe = to_device(probe_from.probe(tc.eval_frames), dev)
        nets: dict[str, torch.nn.Module] = {"gen": generator, "disc": disc}

        def probe_losses() -> dict[str, torch.Tensor]:
            return appearance_losses(generator, probe)[1]

        draw = StepBatches(batches, micro, tc.seed, shares, all_shares)
        feed = _Feed(draw, total, _feed_workers(loader_workers, dev, ranks), dev)

        def on_device() -> None:
            nets["gen"], nets["disc"] = wrap(generator, ranks, dev), wrap(disc, ranks, dev)

        def step(index: int) -> StepOutcome:
            parts = [to_device(part, dev) for part in feed.take(index)]
            g, d, n = nets["gen"], nets["disc"], len(parts)
            set_learning_rate(opt_g, learning_rate(index, total, tc.lr, min(100, total // 10)))
            # The generator first learns the picture, then the texture: no adversary before adv_start.
            adversarial = tc.w_adversarial > 0 and index >= tc.adv_start
            first: tuple[torch.Tensor, dict[str, torch.Tensor]] | None = None
            if n == 1:
                with autocast(dev):
                    first = appearance_losses(g, parts[0])
            d_terms: list[torch.Tensor] = []
            if adversarial:
                opt_d.zero_grad(set_to_none=True)
                for k, part in enumerate(parts):
                    if first is not None:
                        fake_d = first[0].detach()
                    else:
                        with torch.no_grad(), autocast(dev):
                            fake_d = generator(part["masked"], part["mask"], part["sketch"], part["refs"],
                                               part["ref_sketches"]).float()
                    with gradients_held(d, k < n - 1):
                        with autocast(dev):
                            real_logits, fake_logits = _critic(d, part["target"], fake_d, part["sketch"], ranks.distributed)
                            d_loss = discriminator_loss(real_logits.float(), fake_logits.float(), tc.adv_loss)
                        (d_loss / n).backward()
                    d_terms.append(d_loss.detach())
                opt_d.step()
            opt_g.zero_grad(set_to_none=True)
            terms, losses_seen = [], []
            for k, part in enumerate(parts):
                with gradients_held(g, k < n - 1):
                    if first is not None:
                        fake, losses = first
                    else:
                        with autocast(dev):
                            fake, losses = appearance_losses(g, part)
                    loss = tc.w_l1 * losses["l1"] + tc.w_ssim * losses["ssim"] + tc.w_gradient * losses["gradient"]
                    if adversarial:
                        # The updated critic judges the crops; its own weights take no gradient here.
                        disc.requires_grad_(False)
                        try:
                            with autocast(dev):
                                losses["adversarial"] = generator_adversarial_loss(disc(fake, part["sketch"]).float(),
                                                                                   tc.adv_loss)
                        finally:
                            disc.requires_grad_(True)
                        loss = loss + tc.w_adversarial * losses["adversarial"]
                    (loss / n).backward()
                terms.append(loss.detach())
                losses_seen.append(losses)
            if d_terms:
                for losses in losses_seen:
                    losses["discriminator"] = torch.stack(d_terms).mean()
            torch.nn.utils.clip_grad_norm_(generator.parameters(), 1.0)
            opt_g.step()
            return StepOutcome(torch.stack(terms).mean(), _mean(losses_seen), opt_g.param_groups[0]["lr"])

        run = StageRun(
            stage="appearance",
            networks={"gen.": generator, "disc.": disc},
            optimizers={"opt_g": (opt_g, "g."), "opt_d": (opt_d, "d.")},
            checkpoint_config=appearance_checkpoint_config(ac),
            extra=_run_extra({"preset": config.preset, "dataset": str(dataset.folder)}, ranks, tc.grad_accum),
            probed=generator,
            probe=probe_losses,
            step=step,
            on_device=on_device,
        )
        with feed:
            return run_stage(run, paths, data_hash=dataset.data_hash, total=total, cadence=tc, device=dev,
                             title=f"MyTalk appearance ({config.preset}, {dev.type})", resume=resume, init=init,
                             progress=progress, is_cancelled=is_cancelled, began=began, ranks=ranks)


class _Feed:
    """The run's batches, drawn ahead by loader processes from the first step the run takes
    (known only once `run_stage` has loaded a resumed run's step)."""

    def __init__(self, draw: StepBatches, total: int, workers: int, device: torch.device) -> None:
        self.draw, self.total, self.workers, self.device = draw, total, workers, device
        self.batches: PrefetchedBatches | None = None

    def take(self, step: int) -> list[dict[str, torch.Tensor]]:
        if self.batches is None:
            self.batches = PrefetchedBatches(self.draw, step, self.total, workers=self.workers,
                                             pin_memory=self.device.type == "cuda")
        return self.batches.take(step)

    def __enter__(self) -> _Feed:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.batches is not None:
            self.batches.close()


def train_command(stage: str, data_dir: Path, config_source: str | Path, *, resume: bool = False,
                  out: str = "base", device: str = "auto", steps: int | None = None,
                  loader_workers: int | None = None, progress: ProgressFn = no_progress,
                  is_cancelled: CancelFn = never_cancelled) -> TrainResult:
    """What `mytalk train STAGE DIR --config FILE [--resume] [--out NAME]` does; models go to user_dirs().models/NAME.

    Started by torchrun (`mytalk train --nproc N`, or torchrun by hand), this process is one rank
    of a distributed run (`distributed.ranks_from_env`); otherwise it trains alone.
    """
    config, dataset, folder = _command_inputs(stage, data_dir, config_source, steps, out)
    held_out = Dataset(Path(data_dir), split="val")
    fn = train_motion if stage == "motion" else train_appearance
    return fn(dataset, config, folder, resume=resume, steps=steps, device=device, progress=progress,
              is_cancelled=is_cancelled, ranks=ranks_from_env(), loader_workers=loader_workers,
              validation=held_out if len(held_out) else None)


def check_run(stage: str, data_dir: Path, config_source: str | Path, *, world: int, resume: bool = False,
              out: str = "base", steps: int | None = None) -> None:
    """Refuse, before torchrun starts any rank, what each of `world` ranks would refuse: an unknown
    stage, a config that does not load, a batch that does not split over the ranks, no dataset, a
    start over trained weights or a resume with nothing to resume. One line and exit code 2 then,
    rather than the same line from every rank followed by the launcher's failure report."""
    config, _, folder = _command_inputs(stage, data_dir, config_source, steps, out)
    tc = config.motion_train if stage == "motion" else config.appearance_train
    _shares(tc.batch_size, Ranks(0, world, 0, world), tc.grad_accum, f"{stage}.train")
    StagePaths.of(folder, stage).check_start(resume, None)


def _command_inputs(stage: str, data_dir: Path, config_source: str | Path, steps: int | None,
                    out: str) -> tuple[MyTalkConfig, Dataset, Path]:
    """The config, the training split and the model folder of `mytalk train`, checked."""
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.models import model_folder

    if stage not in STAGES:
        raise UsageError(f"train {stage!r}: choose motion or appearance")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps {steps}: give 1 or more")
    config = validate(load_config(config_source))
    return config, Dataset(Path(data_dir), split="train"), model_folder(out)


def _probe_source(make: Callable[[Dataset], _B], validation: Dataset | None, training: _B) -> _B:
    """Where the probe batch comes from: the validation speakers' clips when they can make one,
    else the training clips (as for a dataset without a split, or validation clips too short)."""
    if validation is None or len(validation) == 0:
        return training
    try:
        return make(validation)
    except UsageError:
        return training
