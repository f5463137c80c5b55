"""Where trained MyTalk models live, and loading them for inference.

    user_dirs().models / NAME / motion.safetensors, appearance.safetensors   `mytalk train … --out NAME`
    user_dirs().models / "actors" / ACTOR / …                                 `mytalk actor build ACTOR … --engine mytalk`
    user_dirs().models / NAME / + installed.json                              `mytalk models install FILE` (model_bundle)

The engine uses `base` unless `--actor` names a fine-tuned actor. Actor models sit in the models
folder rather than in the classic engine's actor profile folder, which that engine replaces
wholesale when a profile is rebuilt.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from mytalk.core.engines.mytalk.appearance import AppearanceGenerator, generator_for
from mytalk.core.engines.mytalk.checkpoint import CheckpointInfo, load_state, read_checkpoint
from mytalk.core.engines.mytalk.config import (
    AppearanceModelConfig,
    SamplingConfig,
    appearance_model_from_dict,
    motion_model_from_dict,
    scheduler_from_dict,
)
from mytalk.core.engines.mytalk.motion import MotionModel
from mytalk.core.engines.mytalk.scheduler import DDIMScheduler
from mytalk.core.errors import CheckpointError, ModelNotFoundError, UsageError

DEFAULT_MODEL = "base"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")

HOW_TO_TRAIN = (
    "train one: 'mytalk dataset build VIDEOS... -o DATA', then 'mytalk train motion DATA --config small' and "
    "'mytalk train appearance DATA --config small' (or 'mytalk actor build NAME FOOTAGE... --engine mytalk'), "
    "or install a published one: 'mytalk models install FILE --name base'"
)


def check_name(name: str) -> str:
    if not _NAME.fullmatch(name or ""):
        raise UsageError(f"model name {name!r}: use 1-64 letters, digits, '_', '.' or '-', starting with a letter or digit")
    return name


def models_root() -> Path:
    from mytalk.core.userdirs import user_dirs

    return user_dirs().models


def model_folder(name: str = DEFAULT_MODEL) -> Path:
    """Folder of a trained model (`mytalk train --out NAME`)."""
    return models_root() / check_name(name)


def actor_folder(name: str) -> Path:
    """Folder of an actor's fine-tuned models and reference lips."""
    from mytalk.core.userdirs import user_dirs

    return user_dirs().neural_actors / check_name(name)


@dataclass
class LoadedModels:
    """Both stages ready for inference, and where they came from."""

    motion: MotionModel
    scheduler: DDIMScheduler
    sampling: SamplingConfig
    generator: AppearanceGenerator
    appearance: AppearanceModelConfig
    motion_info: CheckpointInfo
    appearance_info: CheckpointInfo
    folder: Path

    def summary(self) -> dict[str, Any]:
        return {"folder": str(self.folder),
                "motion": {"step": self.motion_info.step, "config_hash": self.motion_info.config_hash,
                           "data_hash": self.motion_info.data_hash, "code_version": self.motion_info.code_version},
                "appearance": {"step": self.appearance_info.step, "config_hash": self.appearance_info.config_hash,
                               "data_hash": self.appearance_info.data_hash,
                               "image_size": self.appearance.image_size}}


def find_models(actor: str | None) -> Path:
    """The folder to load from: the actor's fine-tune, else `base`; ModelNotFoundError says how to train."""
    candidates = ([actor_folder(actor)] if actor else []) + [model_folder(DEFAULT_MODEL)]
    for folder in candidates:
        if (folder / "motion.safetensors").is_file() and (folder / "appearance.safetensors").is_file():
            return folder
    where = candidates[-1]
    missing = [n for n in ("motion", "appearance") if not (where / f"{n}.safetensors").is_file()]
    whose = f" for actor {actor!r} nor a base model" if actor else ""
    raise ModelNotFoundError(f"no trained MyTalk model{whose} ({' and '.join(missing)} missing in {where}); {HOW_TO_TRAIN}")


def load_motion(path: Path, device: torch.device | str = "cpu") -> tuple[MotionModel, DDIMScheduler, SamplingConfig, CheckpointInfo]:
    """A motion checkpoint → (model in eval mode, its scheduler, its sampling defaults, info)."""
    tensors, info = read_checkpoint(path, "motion")
    try:
        model_cfg = motion_model_from_dict(info.config["model"])
        sched_cfg = scheduler_from_dict(info.config["scheduler"])
        sampling = SamplingConfig(**info.extra.get("sampling", {}))
    except (KeyError, TypeError, UsageError) as error:
        raise CheckpointError(f"{path}: its config cannot be read by this MyTalk ({error}); train it again") from None
    model = MotionModel(model_cfg)
    load_state(model, tensors, path)
    return model.to(device).eval(), DDIMScheduler(sched_cfg), sampling, info


def load_generator(path: Path, device: torch.device | str = "cpu") -> tuple[AppearanceGenerator, AppearanceModelConfig, CheckpointInfo]:
    """An appearance checkpoint → (generator in eval mode, its config, info); the discriminator is not loaded."""
    tensors, info = read_checkpoint(path, "appearance")
    try:
        cfg = appearance_model_from_dict(info.config["model"])
    except (KeyError, UsageError) as error:
        raise CheckpointError(f"{path}: its config cannot be read by this MyTalk ({error}); train it again") from None
    generator = generator_for(cfg)  # the same networks `mytalk train` built, `fusion_norm` included
    load_state(generator, tensors, path, "gen.")
    return generator.to(device).eval(), cfg, info


def load_models(folder: Path, device: torch.device | str = "cpu") -> LoadedModels:
    motion, scheduler, sampling, m_info = load_motion(folder / "motion.safetensors", device)
    generator, a_cfg, a_info = load_generator(folder / "appearance.safetensors", device)
    return LoadedModels(motion, scheduler, sampling, generator, a_cfg, m_info, a_info, folder)
