"""The diffusion motion stage: stage 1 of the paper, speech to landmarks.

`SpeechToLandmarkPipeline` turns the line (at the model's rate) into mouth and jaw landmarks for every
frame, with the range's own rigid face points as context and the reference bank as the actor's
identity (seeded: the same line gives the same mouth every time). A phone-fed model
(`phone_features = "visemes"`) also gets the line's phone track (`--transcript` aligned in the
settings' language when given, else recognised), as each frame's viseme coverage. Openness scales the
motion about the actor's mean mouth; smoothing is a temporal Gaussian (0 to 1 frame). The plan is then
taken back to frame pixels, where any appearance stage can paint it.
"""

from __future__ import annotations

import time
from fractions import Fraction
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import EngineJob, EngineSettings
from mytalk.core.engines.controls import check_mask_and_strengths
from mytalk.core.engines.mytalk.job_models import check_models_installed, job_bank, job_models
from mytalk.core.engines.stages import JobResources, MotionPlan
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled


class DiffusionMotion:
    """Speech → mouth and jaw landmarks by the trained diffusion model."""

    name: ClassVar[str] = "diffusion"
    settings_honoured: ClassVar[tuple[str, ...]] = (
        "openness", "smoothing", "mask_mode", "device", "actor", "face_point", "transcript", "language")

    def __init__(self) -> None:
        self._report: dict[str, Any] = {}

    def check_installed(self, settings: EngineSettings) -> None:
        """The trained models, without a job (`StagedEngine.check_installed`)."""
        check_models_installed(settings)

    def check(self, job: EngineJob, resources: JobResources) -> None:
        """The controls, then the trained models: a missing model fails here, before any tracking."""
        check_mask_and_strengths(job)
        job_models(job, resources)

    def report(self) -> dict[str, Any]:
        return self._report

    def plan(self, job: EngineJob, tracked: TrackedRange, resources: JobResources, progress: ProgressFn,
             is_cancelled: CancelFn) -> MotionPlan:
        import torch

        from mytalk.core.engines.mytalk.landmarks import CONTENT_INDEX, NUM_CONTENT, canonical_points
        from mytalk.core.engines.mytalk.pipeline import SpeechToLandmarkPipeline
        from mytalk.core.face.canonical import apply_transform, invert_transform

        began = time.perf_counter()
        s = job.settings
        models, device = job_models(job, resources)
        n = job.num_frames
        lm = tracked.landmarks(0, tracked.num_frames).astype(np.float64)  # the diffusion samples the whole range
        points, transforms = canonical_points(lm)
        found = tracked.found & np.isfinite(points).all(axis=(1, 2))
        bank, _ = job_bank(job, tracked, resources, progress, is_cancelled)
        check_cancelled(is_cancelled, "preparation")

        target = np.full_like(points, np.nan)
        steps = models.sampling.steps
        line_phones = None
        if found.any() and models.motion.uses_phones:
            from mytalk.core.engines.mytalk.phones import time_phones

            line_phones = time_phones(job.line, transcript=s.transcript, language=s.language,
                                      progress=progress, is_cancelled=is_cancelled)
            check_cancelled(is_cancelled, "preparation")
        if found.any():
            pipeline = SpeechToLandmarkPipeline(models.motion, models.scheduler, device)
            audio = job.line.mono_at(models.motion.config.sample_rate).samples[0]
            generator = torch.Generator().manual_seed(models.sampling.seed)
            context = np.where(found[:, None, None], points, np.nan)[:, NUM_CONTENT:]
            visemes = None
            if models.motion.uses_phones:
                from mytalk.core.engines.mytalk.phones import frame_visemes

                visemes = frame_visemes(line_phones, Fraction(job.fps), n)
            out = pipeline(audio, fps=Fraction(job.fps), context=context, references=bank.points,
                           num_inference_steps=steps, guidance_scale=models.sampling.guidance_scale,
                           eta=models.sampling.eta, generator=generator, visemes=visemes)
            target = out.landmarks
            content = target[:, :NUM_CONTENT]
            if s.openness != 1.0:
                rest = bank.points[:, :NUM_CONTENT].astype(np.float64).mean(axis=0)
                content = rest + s.openness * (content - rest)
            if s.smoothing > 0 and n > 1:
                from mytalk.core.ndfilters import gaussian_filter1d

                content = gaussian_filter1d(content, sigma=s.smoothing, axis=0, mode="nearest")
            target = np.concatenate([content, points[:, NUM_CONTENT:]], axis=1)
        progress(1, 1, "speech to landmarks")
        # Mouth and jaw in frame pixels: the frame's own mesh with those points moved.
        pixels = np.full((n, NUM_CONTENT, 2), np.nan)
        if found.any():
            pixels[found] = apply_transform(target[found, :NUM_CONTENT], invert_transform(transforms[found]))
        self._report = {
            "driver": "diffusion (stage 1: speech to landmarks)",
            "models": models.summary(),
            "device": device.type,
            "sampling": {"steps": steps, "guidance_scale": models.sampling.guidance_scale,
                         "seed": models.sampling.seed},
            "ignored_settings": {k: v for k, v in (("motion_driver", s.motion_driver), ("transcript", s.transcript))
                                 if v not in (None, "auto") and not (k == "transcript" and models.motion.uses_phones)},
            "prepare_s": round(time.perf_counter() - began, 3),
        }
        if line_phones is not None:
            self._report["phones"] = line_phones.summary
        return MotionPlan(points=pixels, point_index=np.asarray(CONTENT_INDEX), valid=found,
                          lower_face=np.full(n, s.mask_mode != "mouth"), aperture=np.full(n, np.nan),
                          driver="diffusion", report={})
