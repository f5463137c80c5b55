"""Tracking of a job's range, done once by the job for every engine that paints a face.

Every engine that changes the mouth needs the same thing first: the subject's face mesh over the
range and its handles (through the tracking cache), and, per output frame, the report's face fields
(found, confidence, the tracker's warnings, a rejected detection). Before the engines were built
from stages each one repeated this; now `run_sync` calls `track_range` once and hands the result to
the engine, so a frame's face record means the same whichever engine painted it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from mytalk.core.engines.base import EngineJob, FrameRecord
from mytalk.core.face.tracker import FaceObservation, TrackerSettings, track_video
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

NO_FACE = "no usable face: frame passed through unchanged"
"""The warning of a range frame that an engine left untouched for want of the subject's face."""


@dataclass(frozen=True)
class TrackedRange:
    """The subject's face over a job's range [start, stop) and its handles.

    observations: every tracked frame (handles included) by clip frame index.
    landmarks: (T, 478, 3) float32 of the range frames only (zeros where not found).
    found: (T,) bool, the subject's face was tracked in that range frame.
    settings: the tracker settings used (an actor profile learned on the fly tracks the same way).
    """

    start: int
    stop: int
    observations: Mapping[int, FaceObservation]
    landmarks: np.ndarray
    found: np.ndarray
    settings: TrackerSettings

    @property
    def num_frames(self) -> int:
        return self.stop - self.start

    def observation(self, index: int) -> FaceObservation | None:
        return self.observations.get(index)

    def record(self, index: int) -> FrameRecord:
        """The report record of range frame `index` as tracking sees it: found, confidence, the
        tracker's warnings and a rejected detection. An engine adds what it did to the frame."""
        obs = self.observations.get(index)
        record = FrameRecord(index, face_found=bool(obs is not None and obs.found),
                             confidence=None if obs is None else float(obs.confidence))
        if obs is not None:
            record.warnings.extend(obs.warnings)
            record.rejected_face = obs.rejected or None
        return record


def track_range(job: EngineJob, progress: ProgressFn, is_cancelled: CancelFn) -> TrackedRange:
    """Track frames [start - handles, stop + handles) of the job's clip (cached by file hash)."""
    video = job.video.video
    assert video is not None
    settings = TrackerSettings(face_point=job.settings.face_point)
    first = max(0, job.start - job.handles)
    last = min(video.frame_count, job.stop + job.handles)
    observations = track_video(job.video.path, first, last, settings, progress=progress, is_cancelled=is_cancelled)
    check_cancelled(is_cancelled, "preparation")
    by_index = {o.index: o for o in observations}
    range_obs = [by_index[i] for i in range(job.start, job.stop)]
    landmarks = np.stack([o.landmarks for o in range_obs])
    found = np.array([o.found for o in range_obs], bool)
    return TrackedRange(job.start, job.stop, by_index, landmarks, found, settings)
