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
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

import numpy as np

from mytalk.core.engines.base import ActorFootage, EngineJob, EngineSettings
from mytalk.core.engines.classic import retrieval
from mytalk.core.engines.classic.geometry import lower_face_index
from mytalk.core.engines.classic.job_profile import check_profile_stored, job_profile, learn_footage_profile
from mytalk.core.engines.classic.retrieval import (
    PathSearch,
    Selection,
    shape_change,
    shape_descriptors,
    weight_from_change,
)
from mytalk.core.engines.stages import JobResources, MotionPlan, MouthPatch, PaintRow, PlanStream, WindowSteps
from mytalk.core.engines.tracking import TrackedRange
from mytalk.core.face.canonical import apply_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.progress import CancelFn, ProgressFn

TEMPLATE_FRAMES = 200
"""The warp's mesh topology is made once, on the range's mean face in the canonical frame: 200 frames
spread over the range are plenty, and keep this step's memory flat."""

TEMPLATE_SPAN = 250
"""Frames at the range's start that the template's frames are spread over (10 s at 25 fps): a range
painted while it is tracked needs its topology before its first frame, not after its last."""

WEIGHT_REACH = 4
"""Frames either side that a frame's mouth weight reads (`weight_from_change`'s one-frame gaussian, cut
at four sigma as scipy cuts it)."""

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
        self._template: np.ndarray | None = None
        self._quality = "final"
        self._appearance: Any = None

    def warm_up(self) -> None:
        """Import what a first job's paint would (`StagedEngine.warm_up`): qhull, for the mesh of a range
        whose triangulation is not remembered yet (`triangle_memo`)."""
        from mytalk.core.engines.classic.warp import load_triangulator

        load_triangulator()

    def check_installed(self, settings: EngineSettings) -> None:
        """A stored actor `--actor` names, without a job (`StagedEngine.check_installed`)."""
        check_profile_stored(settings)

    def check(self, job: EngineJob, resources: JobResources) -> None:
        """Nothing to check before tracking: the profile is loaded with the plan."""

    def learn_actor(self, footage: ActorFootage, resources: JobResources, progress: ProgressFn,
                    is_cancelled: CancelFn) -> bool:
        """Learn the actor profile this stage will read, ahead of any job (`StagedEngine.learn_actor`)."""
        return learn_footage_profile(footage, resources, progress, is_cancelled)

    def prepare(self, job: EngineJob, tracked: TrackedRange, plan: MotionPlan, resources: JobResources,
                progress: ProgressFn, is_cancelled: CancelFn) -> None:
        self.prepare_stream(job, tracked, PlanStream(plan), resources, progress, is_cancelled).until(plan.num_frames)

    def prepare_stream(self, job: EngineJob, tracked: TrackedRange, plans: PlanStream, resources: JobResources,
                       progress: ProgressFn, is_cancelled: CancelFn) -> WindowSteps:
        """What painting needs, `WINDOW` frames at a time behind the plan.

        A frame can be painted once its reference mouth is chosen (`retrieval.PathSearch`: its run's
        end or the search's lookahead), its mouth weight is final (the weight's smoothing reads
        `WEIGHT_REACH` frames either side) and the warp's mesh topology is made (from the first
        `TEMPLATE_SPAN` frames). The windows fall on the same frames however the plan came, so a range
        painted as it is planned gets the frames of one planned first.
        """
        profile, from_cache = job_profile(job, tracked, resources, progress, is_cancelled)
        n = tracked.num_frames
        plan = plans.plan
        lf = lower_face_index()
        app = profile.appearance
        self._appearance = app
        self._quality = job.settings.quality
        index_desc = shape_descriptors(profile.frames.canon[app.rows].astype(np.float64))
        search = PathSearch(index_desc, profile.frames.block[app.rows], profile.frames.frame[app.rows], n,
                            window=retrieval.PATH_WINDOW, lookahead=retrieval.PATH_LOOKAHEAD)
        self._selection = search.selection
        self._mouth_weight = np.zeros(n)
        valid = np.zeros(n, bool)
        change = np.zeros(n)
        span = min(n, TEMPLATE_SPAN)

        def windows() -> Iterator[int]:
            canon_picks: list[np.ndarray] = []
            picks = np.zeros(0, np.intp)
            weighted = 0
            for begin in range(0, n, WINDOW):
                end = min(n, begin + WINDOW)
                plans.until(end)
                if begin == 0:
                    plans.until(span)  # the template's frames are spread over the first span
                    first = plan.valid[:span] & tracked.found[:span]
                    picks = np.flatnonzero(first)[:: max(1, int(first.sum()) // TEMPLATE_FRAMES)]
                lm = tracked.landmarks(begin, end)
                ok = valid[begin:end] = plan.valid[begin:end] & tracked.found[begin:end]
                transforms, _ = similarity_to_canonical_batch(lm)
                source = apply_transform(lm[:, lf], transforms)
                planned = np.full_like(source, np.nan)
                if ok.any():
                    planned[ok] = apply_transform(plan.points_of(lf, lm, begin)[ok], transforms[ok])
                points = np.where(ok[:, None, None], planned, source)
                change[begin:end] = shape_change(points, source, ok)
                search.add(shape_descriptors(points), ok)
                inside = picks[(picks >= begin) & (picks < end)] - begin
                if inside.size:
                    canon_picks.append(apply_transform(lm[inside], transforms[inside]))
                if end >= span and self._template is None:
                    self._template = (np.concatenate(canon_picks).mean(axis=0) if canon_picks
                                      else np.zeros((NUM_LANDMARKS, 2)))
                # The weight's smoothing reads WEIGHT_REACH frames either side: final that far behind.
                final = n if end == n else end - WEIGHT_REACH
                if final > weighted:
                    lo, hi = max(0, weighted - WEIGHT_REACH), min(n, final + WEIGHT_REACH)
                    window = weight_from_change(change[lo:hi], valid[lo:hi])
                    self._mouth_weight[weighted:final] = window[weighted - lo : final - lo]
                    weighted = final
                if end < n:
                    yield min(search.decided, weighted) if self._template is not None else 0
            selection = search.finish()
            takes = plan.take_frames()
            self._report = {
                "retrieval": {**selection.stats,
                              "frames_painted": int(((self._mouth_weight > 0.5) & (takes < 0)).sum()),
                              "frames_own_mouth": int((valid & (self._mouth_weight <= 0.5) & (takes < 0)).sum()),
                              "frames_from_take": int((takes >= 0).sum())},
                "profile": {**profile.summary(), "from_cache": from_cache,
                            "appearance_source_frames": profile.appearance_frames()},
            }
            yield n

        self._template = None
        return WindowSteps(n, windows())

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
