"""The retrieval appearance stage: the planned mouth painted with the actor's own reference mouths.

prepare picks, for every range frame, the reference mouth whose shape is nearest the plan along a
smooth path (`retrieval.select_path`, a Viterbi over the profile's appearance index) and how much of
it to show (`retrieval_weight`: a small change keeps the frame's own mouth, warped). render then
warps each frame's lower face onto the plan (or the guide's real take), paints the retrieved opening
and hands the box to the shared compositor (`render.MouthRenderer`).

It works with any motion stage: the plan arrives in frame pixels, and this stage takes it into the
canonical face frame it retrieves in.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import EngineJob
from mytalk.core.engines.classic.geometry import lower_face_index
from mytalk.core.engines.classic.job_profile import job_profile
from mytalk.core.engines.classic.retrieval import (
    DESCRIPTOR_SIZE,
    Selection,
    select_path,
    shape_change,
    shape_descriptors,
    weight_from_change,
)
from mytalk.core.engines.stages import JobResources, MotionPlan, MouthPatch, PaintRow
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.face.canonical import apply_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.progress import CancelFn, ProgressFn

TEMPLATE_FRAMES = 200
"""The warp's mesh topology is made once, on the range's mean face in the canonical frame: 200 frames
spread over the range are plenty, and keep this step's memory flat."""

WINDOW = 256
"""Frames of meshes and plan read at once while preparing (a few MB, whatever the range's length)."""

class RetrievalAppearance:
    """The frame's own lower face warped onto the plan, with the actor's real opening where it changes."""

    name: ClassVar[str] = "retrieval"
    settings_honoured: ClassVar[tuple[str, ...]] = ("quality", "actor")
    batch_size = 1
    concurrent = True
    """Each frame is painted from its own row alone; the crop cache and the renderer are made under a lock."""

    def __init__(self) -> None:
        self._report: dict[str, Any] = {}
        self._renderer: Any = None
        self._renderer_lock = threading.Lock()
        self._selection: Selection | None = None
        self._mouth_weight = np.zeros(0)
        self._template = np.zeros((478, 2))
        self._quality = "final"
        self._appearance: Any = None

    def check(self, job: EngineJob, resources: JobResources) -> None:
        """Nothing to check before tracking: the profile is loaded with the plan."""

    def prepare(self, job: EngineJob, tracked: TrackedRange, plan: MotionPlan, resources: JobResources,
                progress: ProgressFn, is_cancelled: CancelFn) -> None:
        profile, from_cache = job_profile(job, tracked, resources, progress, is_cancelled)
        n = tracked.num_frames
        valid = plan.valid & tracked.found
        lf = lower_face_index()
        picks = np.flatnonzero(valid)[:: max(1, int(valid.sum()) // TEMPLATE_FRAMES)]
        canon_picks = []
        descriptors = np.zeros((n, DESCRIPTOR_SIZE))
        change = np.zeros(n)
        # A window at a time: the plan and the meshes of a long range are never held whole.
        for begin in range(0, n, WINDOW):
            end = min(n, begin + WINDOW)
            lm = tracked.landmarks(begin, end)
            ok = valid[begin:end]
            transforms, _ = similarity_to_canonical_batch(lm)
            source = apply_transform(lm[:, lf], transforms)
            planned = np.full_like(source, np.nan)
            if ok.any():
                planned[ok] = apply_transform(plan.points_of(lf, lm, begin)[ok], transforms[ok])
            points = np.where(ok[:, None, None], planned, source)
            descriptors[begin:end] = shape_descriptors(points)
            change[begin:end] = shape_change(points, source, ok)
            inside = picks[(picks >= begin) & (picks < end)] - begin
            if inside.size:
                canon_picks.append(apply_transform(lm[inside], transforms[inside]))
        self._template = (np.concatenate(canon_picks).mean(axis=0) if canon_picks
                          else np.zeros((NUM_LANDMARKS, 2)))
        app = profile.appearance
        self._appearance = app
        self._quality = job.settings.quality
        index_desc = shape_descriptors(profile.frames.canon[app.rows].astype(np.float64))
        self._mouth_weight = weight_from_change(change, valid)
        self._selection = select_path(index_desc, profile.frames.block[app.rows], profile.frames.frame[app.rows],
                                      descriptors, valid)
        takes = plan.take_frames()
        self._report = {
            "retrieval": {**self._selection.stats,
                          "frames_painted": int(((self._mouth_weight > 0.5) & (takes < 0)).sum()),
                          "frames_own_mouth": int((valid & (self._mouth_weight <= 0.5) & (takes < 0)).sum()),
                          "frames_from_take": int((takes >= 0).sum())},
            "profile": {**profile.summary(), "from_cache": from_cache,
                        "appearance_source_frames": profile.appearance_frames()},
        }

    def render(self, rows: Sequence[PaintRow]) -> list[MouthPatch]:
        from mytalk.core.engines.classic.render import MeshTopology, MouthRenderer

        selection = self._selection
        if selection is None:
            raise RuntimeError("RetrievalAppearance.render called before prepare")
        with self._renderer_lock:
            if self._renderer is None:
                # Made on the first frame with a face: a cutaway-only range needs none.
                self._renderer = MouthRenderer(self._appearance, self._quality,
                                               MeshTopology.from_template(self._template))
        lf = lower_face_index()
        patches = []
        for row in rows:
            i = row.offset
            mask, generated = self._renderer.paint(
                row.source.frame, row.landmarks, row.target[lf], int(selection.choice[i]), int(selection.fade_from[i]),
                float(selection.fade_weight[i]), row.lower_face, float(self._mouth_weight[i]), take=row.take)
            patches.append(MouthPatch(mask, generated))
        return patches

    def report(self) -> dict[str, Any]:
        return self._report
