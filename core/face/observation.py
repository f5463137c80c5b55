"""One frame's tracked face, as the tracker reports it and the tracking cache stores it.

Its own module because both the tracker's frame loop and its windowed finishing
(`mytalk.core.face.finishing`) make observations, and the finishing must not import the tracker.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from mytalk.core.face.regions import NUM_LANDMARKS


@dataclass
class FaceObservation:
    """The tracked face in one frame.

    index: frame number in the clip.
    found: whether the subject's face was tracked in this frame.
    landmarks: (478, 3) float32; x, y in frame pixels, z MediaPipe's depth in the same scale;
        all zeros when not found.
    confidence: 0..1, detector score of the subject × mesh plausibility; 0 when not found.
    pose: (yaw, pitch, roll) in degrees (see `canonical.pose_fit` for signs); zeros when not found.
    box: (x0, y0, x1, y1) integer pixel box of the landmarks; of the last known face (or zeros)
        when not found.
    warnings: human-readable notes about this frame (loss, low confidence, re-acquisition).
    rejected: why a face tracked in this frame was not taken as the subject (`subject.py`: too brief,
        implausible, another face); empty otherwise. Such a frame has found=False.
    """

    index: int
    found: bool
    landmarks: np.ndarray
    confidence: float = 0.0
    pose: tuple[float, float, float] = (0.0, 0.0, 0.0)
    box: tuple[int, int, int, int] = (0, 0, 0, 0)
    warnings: list[str] = field(default_factory=list)
    rejected: str = ""

    @classmethod
    def missing(
        cls, index: int, warning: str, box: tuple[int, int, int, int] = (0, 0, 0, 0)
    ) -> FaceObservation:
        """A frame without the subject's face."""
        return cls(
            index=index,
            found=False,
            landmarks=np.zeros((NUM_LANDMARKS, 3), np.float32),
            box=box,
            warnings=[warning],
        )


def landmark_box(lm: np.ndarray) -> tuple[int, int, int, int]:
    """The integer pixel box (x0, y0, x1, y1) that holds every landmark."""
    x0, y0 = np.floor(lm[:, :2].min(axis=0)).astype(int)
    x1, y1 = np.ceil(lm[:, :2].max(axis=0)).astype(int)
    return int(x0), int(y0), int(x1), int(y1)
