"""The trained models and the reference bank of a job, loaded once and shared by its neural stages.

The diffusion motion stage and the generator both need the trained models (found before any
tracking, so a missing model fails at once with one line that says how to train one), and both
read the reference bank: the motion model takes it as the actor's identity, the generator paints
from its crops. A mixed engine uses only one of the two stages; either way each is loaded once per job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.engines.base import EngineJob, EngineSettings
from mytalk.core.engines.stages import JobResources
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.progress import CancelFn, ProgressFn

REFERENCE_LIMIT = 200
"""Most reference frames in a bank: plenty for retrieval, and bounded memory whatever the footage."""


def check_models_installed(settings: EngineSettings) -> None:
    """The model files `job_models` would load are there (ModelNotFoundError, as `job_models` would
    raise at the first shot); nothing is loaded. The device is not asked: where the job runs may not
    be where this is asked (a batch's cluster nodes have GPUs its driver lacks)."""
    from mytalk.core.engines.mytalk.models import find_models

    find_models(settings.actor)


def job_models(job: EngineJob, resources: JobResources) -> tuple[Any, Any]:
    """(LoadedModels, torch.device) for `--actor NAME`'s fine-tune, else the base models."""

    def load() -> tuple[Any, Any]:
        from mytalk.core.engines.devices import resolve_device
        from mytalk.core.engines.mytalk.models import find_models, load_models

        folder = find_models(job.settings.actor)
        device = resolve_device(job.settings.device)
        return load_models(folder, device), device

    models, device = resources.get("mytalk-models", load)
    return models, device


def job_bank(job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
             is_cancelled: CancelFn) -> tuple[Any, str]:
    """The reference bank at the generator's size, and a note on where it came from: the fine-tuned
    actor's bank, a classic actor profile's appearance index, the `--reference` ranges, or else the
    range's own pictures."""
    models, _ = job_models(job, resources)
    return resources.get("mytalk-bank", lambda: _load_bank(job, tracked, models, progress, is_cancelled))


def _load_bank(job: EngineJob, tracked: TrackedRange, models: Any, progress: ProgressFn,
               is_cancelled: CancelFn) -> tuple[Any, str]:
    from mytalk.core.engines.mytalk.landmarks import CropGeometry
    from mytalk.core.engines.mytalk.models import actor_folder
    from mytalk.core.engines.mytalk.references import ReferenceBank, bank_from_range

    cfg = models.appearance
    geometry = CropGeometry(cfg.crop_box, cfg.image_size)
    actor = job.settings.actor
    if actor:
        stored = actor_folder(actor) / "references.npz"
        if stored.is_file():
            return ReferenceBank.load(stored).at_size(cfg.image_size), f"actor {actor!r} (fine-tuned)"
        from mytalk.core.engines.actors import load_appearance

        return (ReferenceBank.from_classic_index(load_appearance(actor), geometry, REFERENCE_LIMIT),
                f"actor {actor!r} (classic profile)")
    banks = []
    for ref in job.references:
        bank = bank_from_range(Path(ref.path), ref.start, ref.stop, geometry, REFERENCE_LIMIT, tracked.settings,
                               progress, is_cancelled)
        if bank is not None:
            banks.append(bank)
    if banks:
        names = ", ".join(f"{Path(r.path).name}:{r.start}-{r.stop}" for r in job.references)
        return ReferenceBank.concatenate(banks, REFERENCE_LIMIT), f"reference footage {names}"
    if not tracked.found.any():
        # Nothing will be generated; a single blank entry keeps the shapes simple.
        from mytalk.core.engines.mytalk.landmarks import NUM_POINTS

        return ReferenceBank(np.zeros((1, cfg.image_size, cfg.image_size, 3), np.uint8),
                             np.zeros((1, NUM_POINTS, 2), np.float32), geometry, "none"), "none (no face)"
    bank = bank_from_range(Path(job.video.path), job.start, job.stop, geometry, REFERENCE_LIMIT, tracked.settings,
                           progress, is_cancelled)
    assert bank is not None
    return bank, "the range's own pictures (the references show no face)"
