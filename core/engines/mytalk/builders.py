"""The networks of both stages, built from their config sections, and the config a checkpoint keeps.

A network's constructor arguments are its config (diffusers-style): what a checkpoint stores as
its config is exactly what rebuilds the network, and its hash is what a resume or a fine-tune
checks before loading weights into it.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from mytalk.core.engines.mytalk.appearance import AppearanceGenerator, generator_for
from mytalk.core.engines.mytalk.config import AppearanceModelConfig, MotionModelConfig, SchedulerConfig
from mytalk.core.engines.mytalk.discriminator import PatchDiscriminator
from mytalk.core.engines.mytalk.motion import MotionModel


def motion_checkpoint_config(model: MotionModelConfig, scheduler: SchedulerConfig) -> dict[str, Any]:
    """What a motion checkpoint's config (and its hash) covers: the networks and the noise schedule.

    The model part is `MotionModelConfig.stored_dict`: a model without phone input stores exactly
    what it stored before the key existed, so older checkpoints resume and fine-tune unchanged.
    """
    return {"model": model.stored_dict(), "scheduler": asdict(scheduler)}


def appearance_checkpoint_config(model: AppearanceModelConfig) -> dict[str, Any]:
    """What an appearance checkpoint's config covers: generator and discriminator, one section.

    `fusion_norm` is written only when on: a checkpoint trained before it existed has no such key, and
    a run of the same networks must still match its config hash (to resume, or to start from it)."""
    fields = asdict(model)
    if not fields["fusion_norm"]:
        del fields["fusion_norm"]
    return {"model": fields}


def build_motion(config: MotionModelConfig) -> MotionModel:
    """Stage 1 with freshly initialised weights (seed the global RNG around it: `seeding.seeded`)."""
    return MotionModel(config)


def build_generator(config: AppearanceModelConfig) -> AppearanceGenerator:
    """Stage 2's generator with freshly initialised weights."""
    return generator_for(config)


def build_discriminator(config: AppearanceModelConfig) -> PatchDiscriminator:
    """Stage 2's PatchGAN discriminator (training only: inference never loads it)."""
    return PatchDiscriminator(config.disc_channels, config.disc_layers)
