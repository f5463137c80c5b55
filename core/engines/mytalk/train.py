"""`mytalk train motion|appearance DIR --config FILE.toml`: train either stage on a built dataset.

Output (under the models folder, `user_dirs().models / NAME`):

    motion.safetensors | appearance.safetensors     the weights the engine loads (latest)
    runs/<stage>/log.jsonl                           one JSON object per logged step / evaluation
    runs/<stage>/loss.png                            the loss curves of the run (log scale)
    runs/<stage>/state.safetensors                   optimizer state for --resume
    runs/<stage>/checkpoints/step-NNNNNN.safetensors periodic snapshots

This module says what each stage trains (its networks, optimizers, step and probe); the loop
both share (resume, logging, the probe, checkpoints, cancellation) is `trainer.run_stage`.

Device: `auto` takes CUDA when there is one (with bf16 autocast for the forward passes; weights
and optimizer stay float32), else the CPU in float32 (`mytalk.core.engines.devices`). Every
step's randomness comes from generators seeded with (seed, step) (`seeding`), so a resumed run
continues exactly as an uninterrupted one would have, without storing generator state.
"""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

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
from mytalk.core.engines.mytalk.losses import discriminator_loss, generator_adversarial_loss
from mytalk.core.engines.mytalk.lr_schedule import learning_rate
from mytalk.core.engines.mytalk.objectives import appearance_losses, motion_losses
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
from mytalk.core.engines.mytalk.seeding import seeded, step_generators
from mytalk.core.engines.mytalk.trainer import (
    StagePaths,
    StageRun,
    StepOutcome,
    TrainResult,
    descend,
    run_stage,
    set_learning_rate,
)
from mytalk.core.errors import UsageError
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

STAGES = ("motion", "appearance")


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
) -> TrainResult:
    """Train stage 1 on `dataset`; writes `out_dir/motion.safetensors` and the run folder."""
    validate(config)
    began = time.perf_counter()
    dev = resolve_device(device)
    mc, tc = config.motion_model, config.motion_train
    total = steps if steps is not None else tc.steps
    paths = StagePaths.of(Path(out_dir), "motion")
    paths.check_start(resume, init)
    if mc.phone_features != "none":
        ensure_phones(dataset, progress=progress, is_cancelled=is_cancelled)
    batches = MotionBatches(dataset, mc)
    with seeded(tc.seed):
        model = build_motion(mc)
    scheduler = DDIMScheduler(config.scheduler)
    optimizer = torch.optim.AdamW(model.parameters(), lr=tc.lr, weight_decay=tc.weight_decay)

    # The probe: fixed windows with fixed timesteps (spread over the whole schedule) and noise.
    probe = to_device(batches.probe(tc.eval_windows, tc.seed), dev)
    probe_gen = torch.Generator().manual_seed(tc.seed + 7)
    probe_t = torch.linspace(0, scheduler.num_train_timesteps - 1, tc.eval_windows).round().long()
    probe_noise = torch.randn((tc.eval_windows, mc.window, probe["x0"].shape[2], 2), generator=probe_gen)

    def probe_losses() -> dict[str, torch.Tensor]:
        return motion_losses(model, scheduler, probe, probe_t.to(dev), probe_noise.to(dev), None)

    def step(index: int) -> StepOutcome:
        rng, gen = step_generators(tc.seed, index)
        batch = to_device(batches.sample(tc.batch_size, rng), dev)
        t = scheduler.sample_timesteps(tc.batch_size, gen).to(dev)
        noise = torch.randn(batch["x0"].shape, generator=gen).to(dev)
        drop = (torch.rand(tc.batch_size, generator=gen) < tc.audio_dropout).to(dev)
        if "visemes" in batch:
            # Drawn after the others, so a model without phones trains exactly as before the option existed.
            keep = (torch.rand(tc.batch_size, generator=gen) >= tc.phone_dropout).to(dev)
            batch["visemes"] = batch["visemes"] * keep.reshape(-1, 1, 1)
        set_learning_rate(optimizer, learning_rate(index, total, tc.lr, tc.warmup))
        with autocast(dev):
            losses = motion_losses(model, scheduler, batch, t, noise, drop)
        loss = (tc.w_reconstruction * losses["reconstruction"] + tc.w_velocity * losses["velocity"]
                + tc.w_identity * losses["identity"])
        descend(optimizer, loss, (model.parameters(), tc.grad_clip))
        return StepOutcome(loss, losses, optimizer.param_groups[0]["lr"])

    run = StageRun(
        stage="motion",
        networks={"": model},
        optimizers={"optimizer": (optimizer, "opt.")},
        checkpoint_config=motion_checkpoint_config(mc, config.scheduler),
        extra={"sampling": asdict(config.sampling), "preset": config.preset, "dataset": str(dataset.folder)},
        probed=model,
        probe=probe_losses,
        step=step,
        fresh_start=lambda: model.fit_normaliser(batches.all_points()),
    )
    return run_stage(run, paths, data_hash=dataset.data_hash, total=total, cadence=tc, device=dev,
                     title=f"MyTalk motion ({config.preset}, {dev.type})", resume=resume, init=init,
                     progress=progress, is_cancelled=is_cancelled, began=began)


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
) -> TrainResult:
    """Train stage 2 (generator + PatchGAN) on `dataset`; writes `out_dir/appearance.safetensors`."""
    validate(config)
    began = time.perf_counter()
    dev = resolve_device(device)
    ac, tc = config.appearance_model, config.appearance_train
    total = steps if steps is not None else tc.steps
    paths = StagePaths.of(Path(out_dir), "appearance")
    paths.check_start(resume, init)
    batches = AppearanceBatches(dataset, ac, tc.exclude_radius)
    with seeded(tc.seed):
        generator = build_generator(ac)
        disc = build_discriminator(ac)
    opt_g = torch.optim.Adam(generator.parameters(), lr=tc.lr, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(disc.parameters(), lr=tc.lr_disc, betas=(0.5, 0.999))
    probe = to_device(batches.probe(tc.eval_frames), dev)

    def probe_losses() -> dict[str, torch.Tensor]:
        return appearance_losses(generator, probe)[1]

    def step(index: int) -> StepOutcome:
        rng, _ = step_generators(tc.seed, index)
        batch = to_device(batches.sample(tc.batch_size, rng), dev)
        set_learning_rate(opt_g, learning_rate(index, total, tc.lr, min(100, total // 10)))
        # The generator first learns the picture, then the texture: no adversary before adv_start.
        adversarial = tc.w_adversarial > 0 and index >= tc.adv_start
        with autocast(dev):
            fake, losses = appearance_losses(generator, batch)
        if adversarial:
            with autocast(dev):
                d_loss = discriminator_loss(disc(batch["target"], batch["sketch"]).float(),
                                            disc(fake.detach(), batch["sketch"]).float(), tc.adv_loss)
            descend(opt_d, d_loss)
            with autocast(dev):
                losses["adversarial"] = generator_adversarial_loss(disc(fake, batch["sketch"]).float(), tc.adv_loss)
            losses["discriminator"] = d_loss.detach()
        loss = tc.w_l1 * losses["l1"] + tc.w_ssim * losses["ssim"] + tc.w_gradient * losses["gradient"]
        if adversarial:
            loss = loss + tc.w_adversarial * losses["adversarial"]
        descend(opt_g, loss, (generator.parameters(), 1.0))
        return StepOutcome(loss, losses, opt_g.param_groups[0]["lr"])

    run = StageRun(
        stage="appearance",
        networks={"gen.": generator, "disc.": disc},
        optimizers={"opt_g": (opt_g, "g."), "opt_d": (opt_d, "d.")},
        checkpoint_config=appearance_checkpoint_config(ac),
        extra={"preset": config.preset, "dataset": str(dataset.folder)},
        probed=generator,
        probe=probe_losses,
        step=step,
    )
    return run_stage(run, paths, data_hash=dataset.data_hash, total=total, cadence=tc, device=dev,
                     title=f"MyTalk appearance ({config.preset}, {dev.type})", resume=resume, init=init,
                     progress=progress, is_cancelled=is_cancelled, began=began)


def train_command(stage: str, data_dir: Path, config_source: str | Path, *, resume: bool = False,
                  out: str = "base", device: str = "auto", steps: int | None = None,
                  progress: ProgressFn = no_progress, is_cancelled: CancelFn = never_cancelled) -> TrainResult:
    """What `mytalk train STAGE DIR --config FILE [--resume] [--out NAME]` does; models go to user_dirs().models/NAME."""
    from mytalk.core.engines.mytalk.config import load_config
    from mytalk.core.engines.mytalk.models import model_folder

    if stage not in STAGES:
        raise UsageError(f"train {stage!r}: choose motion or appearance")
    if steps is not None and steps < 1:
        raise UsageError(f"--steps {steps}: give 1 or more")
    config = load_config(config_source)
    dataset = Dataset(Path(data_dir))
    folder = model_folder(out)
    fn = train_motion if stage == "motion" else train_appearance
    return fn(dataset, config, folder, resume=resume, steps=steps, device=device, progress=progress,
              is_cancelled=is_cancelled)
