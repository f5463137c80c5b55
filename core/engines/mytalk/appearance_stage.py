"""The generator appearance stage: stage 2 of the paper, landmarks to mouth pixels.

prepare takes the plan into the generator's canonical face frame and picks, per frame, the K
reference lips nearest to the planned mouth (`ReferenceBank.retrieve`). render generates in batches
of `BATCH_SIZE` frames (`MouthGenerationPipeline`): the aligned crop of each frame is cut, the lip,
non-lip and motion encoders and the FusionNet render its mouth region, and the crop is warped back
onto the frame inside the generator's own mask. The patch goes to the shared compositor under the
union of the source's and the target's masks (`composite.masks.edit_mask`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import EngineJob, EngineSettings
from mytalk.core.engines.mytalk.job_models import check_models_installed, job_bank, job_models
from mytalk.core.engines.stages import JobResources, MotionPlan, MouthPatch, PaintRow
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.progress import CancelFn, ProgressFn

BATCH_SIZE = 8
"""Frames generated per forward pass: large enough to amortise the call, small enough to stream."""


class GeneratorAppearance:
    """Mouth pixels from the trained FusionNet generator, conditioned on the planned landmarks."""

    name: ClassVar[str] = "generator"
    settings_honoured: ClassVar[tuple[str, ...]] = ("quality", "device", "actor")
    batch_size = BATCH_SIZE
    concurrent = False
    """One batch at a time: torch spreads each forward pass over the cores itself."""

    def __init__(self) -> None:
        self._report: dict[str, Any] = {}
        self._pipeline: Any = None
        self._transforms = np.zeros((0, 2, 3))
        self._target = np.zeros(0)
        self._choice = np.zeros(0, np.int64)

    def check_installed(self, settings: EngineSettings) -> None:
        """The trained models, without a job (`StagedEngine.check_installed`)."""
        check_models_installed(settings)

    def check(self, job: EngineJob, resources: JobResources) -> None:
        """The trained models are found before any tracking, so a missing one fails at once."""
        job_models(job, resources)

    def prepare(self, job: EngineJob, tracked: TrackedRange, plan: MotionPlan, resources: JobResources,
                progress: ProgressFn, is_cancelled: CancelFn) -> None:
        from mytalk.core.engines.mytalk.generation import MouthGenerationPipeline
        from mytalk.core.engines.mytalk.landmarks import CONTENT_INDEX, NUM_CONTENT, canonical_points
        from mytalk.core.face.canonical import apply_transform

        models, device = job_models(job, resources)
        bank, bank_note = job_bank(job, tracked, resources, progress, is_cancelled)
        lm = tracked.landmarks(0, tracked.num_frames).astype(np.float64)  # the diffusion samples the whole range
        points, transforms = canonical_points(lm)
        found = plan.valid & tracked.found & np.isfinite(points).all(axis=(1, 2))
        # The plan's mouth and jaw in the generator's canonical frame; the rigid points stay tracked.
        target = np.full_like(points, np.nan)
        if found.any():
            target[found] = points[found]
            target[found, :NUM_CONTENT] = apply_transform(plan.points_of(CONTENT_INDEX, lm)[found], transforms[found])
        cfg = models.appearance
        self._choice = bank.retrieve(np.where(found[:, None, None], target, bank.points[:1]), cfg.num_refs)
        self._target, self._transforms = target, transforms
        self._pipeline = MouthGenerationPipeline(models.generator, bank, cfg, device)
        self._report = {
            "models": models.summary(),
            "device": device.type,
            "references": {"source": bank_note, "frames": len(bank), "per_frame": cfg.num_refs},
            "crop_px": cfg.image_size,
            "render_batches": 0,
            "generate_s": 0.0,
        }

    def render(self, rows: Sequence[PaintRow]) -> list[MouthPatch]:
        pipeline = self._pipeline
        if pipeline is None:
            raise RuntimeError("GeneratorAppearance.render called before prepare")
        indices = [row.offset for row in rows]
        crops = pipeline.generate([row.source.frame for row in rows], self._transforms[indices],
                                  self._target[indices], self._choice[indices])
        patches = []
        for row, crop in zip(rows, crops, strict=True):
            mask, generated = pipeline.paste(row.source.frame, row.landmarks, row.target, row.lower_face, crop,
                                             self._transforms[row.offset])
            patches.append(MouthPatch(mask, generated))
        self._report["render_batches"] = pipeline.batches
        self._report["generate_s"] = round(pipeline.seconds, 3)
        return patches

    def report(self) -> dict[str, Any]:
        return self._report
