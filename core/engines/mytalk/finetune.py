"""`mytalk actor build NAME FOOTAGE... --engine mytalk`: fine-tune both stages on one actor's footage.

1. the footage (whole clips or `CLIP:IN-OUT` ranges) becomes a temporary dataset (`dataset.py`);
2. stage 1 and stage 2 train for `finetune.motion_steps` / `finetune.appearance_steps` steps,
   starting from the `base` model when one is installed (its architecture is then kept, whatever
   the config's model sections say: only the training settings apply) or from scratch with the
   config's model sections otherwise (a "tiny" or "small" config trains on a CPU in minutes);
3. a bank of the actor's distinct mouths is kept for the K reference lips and the identity;
4. everything is written to `user_dirs().models / "actors" / NAME` in one rename
   (`mytalk.core.atomic.replace_folder`), replacing an earlier build of that name only once the new
   one is complete. The temporary dataset (crops of the footage) is deleted.

`mytalk sync --engine mytalk --actor NAME` then uses these weights and references.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from mytalk.core.atomic import replace_folder, scratch_folder
from mytalk.core.errors import UsageError
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

if TYPE_CHECKING:
    from mytalk.core.engines.mytalk.trainer import TrainResult


def _base_configs(config: Any) -> tuple[Any, Path | None, Path | None]:
    """The config with the base model's architecture where a base model is installed, and the base files."""
    from mytalk.core.engines.mytalk.checkpoint import read_checkpoint
    from mytalk.core.engines.mytalk.config import (
        appearance_model_from_dict,
        motion_model_from_dict,
        scheduler_from_dict,
    )
    from mytalk.core.engines.mytalk.models import DEFAULT_MODEL, model_folder

    base = model_folder(DEFAULT_MODEL)
    motion, appearance = base / "motion.safetensors", base / "appearance.safetensors"
    init_motion = init_appearance = None
    if motion.is_file():
        _, info = read_checkpoint(motion, "motion")
        config = replace(config, motion_model=motion_model_from_dict(info.config["model"]),
                         scheduler=scheduler_from_dict(info.config["scheduler"]))
        init_motion = motion
    if appearance.is_file():
        _, info = read_checkpoint(appearance, "appearance")
        config = replace(config, appearance_model=appearance_model_from_dict(info.config["model"]))
        init_appearance = appearance
    return config, init_motion, init_appearance


def build_actor(
    name: str,
    footage: Sequence[str],
    *,
    config: str | Path = "small",
    device: str = "auto",
    face: str | None = None,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    out: TextIO = sys.stderr,
) -> Path:
    """Fine-tune the neural engine on `footage` and store it as actor `name`; returns its folder."""
    from mytalk.core.engines.mytalk.config import load_config, validate
    from mytalk.core.engines.mytalk.dataset import Dataset, build_dataset
    from mytalk.core.engines.mytalk.landmarks import CropGeometry
    from mytalk.core.engines.mytalk.models import actor_folder
    from mytalk.core.engines.mytalk.references import ReferenceBank
    from mytalk.core.engines.mytalk.train import train_appearance, train_motion
    from mytalk.core.face.tracker import TrackerSettings
    from mytalk.core.jobs.request import parse_face_point

    if not footage:
        raise UsageError("actor build: give at least one FOOTAGE[:IN-OUT] to learn the actor from")
    folder = actor_folder(name)
    cfg, init_motion, init_appearance = _base_configs(validate(load_config(config)))
    began = time.perf_counter()
    trained: list[TrainResult] = []  # motion, appearance: filled in by `fill`
    # The dataset (crops of the footage) lives in a scratch folder beside the actor's, on the same
    # disk, and is deleted however the build ends; the models are built in `replace_folder`'s
    # temporary folder and put in place in one rename only once complete, replacing any earlier
    # build of that name.
    with scratch_folder(folder) as work:
        a = cfg.appearance_model
        data = work / "data"
        result = build_dataset(footage, data, crop_size=a.image_size, crop_box=a.crop_box,
                               tracker_settings=TrackerSettings(face_point=parse_face_point(face)),
                               phones=cfg.motion_model.phone_features != "none",
                               # One actor, every frame of whose footage counts: no held-out
                               # speaker, and short or silent takes still teach the appearance.
                               val_share=0, min_frames=2, require_audio=False,
                               progress=progress, is_cancelled=is_cancelled)
        if not result.manifest["videos"]:
            reasons = "; ".join(f"{Path(r['path']).name}: {r['reason']}" for r in result.rejected)
            raise UsageError(f"actor build: no usable footage ({reasons})")
        dataset = Dataset(data)

        def fill(model_dir: Path) -> None:
            motion = train_motion(dataset, cfg, model_dir, init=init_motion, steps=cfg.finetune.motion_steps,
                                  device=device, progress=progress, is_cancelled=is_cancelled)
            appearance = train_appearance(dataset, cfg, model_dir, init=init_appearance,
                                          steps=cfg.finetune.appearance_steps, device=device,
                                          progress=progress, is_cancelled=is_cancelled)
            geometry = CropGeometry(a.crop_box, a.image_size)
            banks = [ReferenceBank.from_clip(dataset.clip(i), geometry, cfg.finetune.max_references)
                     for i in range(len(dataset)) if dataset.clip(i).found.any()]
            if not banks:
                raise UsageError("actor build: the footage shows no face to learn the actor from")
            ReferenceBank.concatenate(banks, cfg.finetune.max_references).save(model_dir / "references.npz")
            meta = {
                "format": "mytalk-neural-actor", "name": name,
                "created": datetime.now(UTC).isoformat(timespec="seconds"),
                "preset": cfg.preset,
                "from_base": {"motion": bool(init_motion), "appearance": bool(init_appearance)},
                "footage": result.manifest["videos"], "data_hash": dataset.data_hash,
                "device": motion.device,
                "motion": {"steps": motion.steps, "probe_first": motion.first_eval,
                           "probe_last": motion.last_eval},
                "appearance": {"steps": appearance.steps, "probe_first": appearance.first_eval,
                               "probe_last": appearance.last_eval},
                "seconds": round(time.perf_counter() - began, 1),
            }
            (model_dir / "actor.json").write_text(json.dumps(meta, indent=2))
            trained[:] = [motion, appearance]

        replace_folder(folder, fill)
    motion, appearance = trained
    start = "base model" if init_motion or init_appearance else f"scratch ({cfg.preset} config)"
    out.write(f"built neural actor {name!r} from {start}: motion {motion.steps} steps, appearance "
              f"{appearance.steps} steps on {motion.device}, {len(dataset)} clip(s), in "
              f"{time.perf_counter() - began:.0f} s -> {folder}\n")
    return folder
