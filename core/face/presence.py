"""Is a face on screen in a shot? A quick look, for planning a batch before anything is tracked.

A batch over a cut must leave out the shots with nobody speaking to camera (cutaways, landscapes,
titles) without tracking every frame of every shot first: a reel has hundreds. So a few frames of
the shot are each tracked on their own, and a frame counts when the tracker finds a face there whose
mesh is a plausible face: its rigid-fit residual is within `subject.MAX_RESIDUAL`, the test the
job's own subject decision applies. The detector alone is not enough: it fires on the shared
cutaway's spinning-text graphic, whose mesh fits at 0.05-0.075 IOD against 0.015-0.033 for real
faces. One plausible face in any sampled frame makes the shot worth a job; the job's own tracking
then decides frame by frame, and frames without the subject pass through untouched as always.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from mytalk.core.face.canonical import pose_fit
from mytalk.core.face.display import DisplayGeometry
from mytalk.core.face.field_picture import tracking_picture
from mytalk.core.face.subject import MAX_RESIDUAL
from mytalk.core.face.tracker import FaceTracker, TrackerSettings
from mytalk.core.media.probe import probe
from mytalk.core.media.reader import FrameReader


def plausible_faces(video: Path | str, frames: Sequence[int], settings: TrackerSettings | None = None) -> list[bool]:
    """For each of `frames` (clip-relative, in the order given), whether a plausible face is on screen."""
    path = Path(video)
    info = probe(path)
    fps = float(info.video.fps) if info.video is not None else 25.0
    found: dict[int, bool] = {}
    geometry = DisplayGeometry.of(info.video) if info.video is not None else None
    with FaceTracker(settings or TrackerSettings(smooth=False), geometry) as tracker, \
            FrameReader(path, info) as reader:
        for frame in sorted(set(frames)):
            pictures = [(source.index, tracking_picture(source)) for source in reader.frames(frame, frame + 1)]
            observation = tracker.track(pictures, total=1, fps=fps)[0]
            found[frame] = bool(observation.found) and _residual_as_shown(observation.landmarks, geometry) <= MAX_RESIDUAL
    return [found[frame] for frame in frames]


def _residual_as_shown(landmarks: np.ndarray, geometry: DisplayGeometry | None) -> float:
    """The rigid fit's residual of the face as shown: squeezed pixels would spoil a fit to a real face."""
    if geometry is not None and geometry.sample_aspect != 1:
        landmarks = landmarks.copy()
        landmarks[:, 0] *= float(geometry.sample_aspect)
    return float(pose_fit(landmarks)[1])


def face_on_screen(video: Path | str, frames: Sequence[int], settings: TrackerSettings | None = None) -> bool:
    """True when a plausible face is on screen in any of `frames` of `video`."""
    return any(plausible_faces(video, frames, settings))
