"""Face tracking: one subject's 478-point face mesh through a frame range, smoothed and cached.

Importing this package loads no model: MediaPipe graphs are created by `FaceTracker` on first use.
"""

from mytalk.core.face.canonical import (
    from_canonical,
    head_pose,
    iod_eye_centres,
    iod_outer_corners,
    lip_points_normalised,
    mouth_aperture,
    similarity_to_canonical,
    similarity_to_canonical_batch,
    to_canonical,
)
from mytalk.core.face.smoothing import OneEuro, SmoothingParams, smooth_landmarks
from mytalk.core.face.tracker import (
    TRACKER_VERSION,
    FaceObservation,
    FaceTracker,
    TrackerSettings,
    parse_face_point,
    tracking_summary,
)
from mytalk.core.face.video_tracking import track_video

__all__ = [
    "TRACKER_VERSION",
    "FaceObservation",
    "FaceTracker",
    "OneEuro",
    "SmoothingParams",
    "TrackerSettings",
    "from_canonical",
    "head_pose",
    "iod_eye_centres",
    "iod_outer_corners",
    "lip_points_normalised",
    "mouth_aperture",
    "parse_face_point",
    "similarity_to_canonical",
    "similarity_to_canonical_batch",
    "smooth_landmarks",
    "to_canonical",
    "track_video",
    "tracking_summary",
]
