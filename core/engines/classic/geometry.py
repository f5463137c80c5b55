"""Head pose and the pose-free ("frontal") face frame the classic engine plans mouth motion in.

Why 3-D: the evaluation's canonical frame (`mytalk.core.face.canonical`) removes only in-plane
rotation, scale and translation. A nod or a turn still moves the 2-D mouth against the eyes, so
mouth shapes learned from reference frames with one head pose would land in the wrong place on a
frame with another. Here every frame's mesh is rotated back to a frontal head with a 3-D similarity
fitted on the rigid `POSE` points (Umeyama, as `canonical.pose_fit` does for one frame), mouth
motion is planned and compared in that frontal frame, and the result is projected back with the
target frame's own pose.

Units: frontal coordinates are canonical units (1 = inter-ocular distance of the reference head),
x towards the subject's left, y down, z away from the camera. Pixel coordinates are frame pixels.
Shapes: T frames, N points; landmarks (T, 478, 3) with x, y in px and z in MediaPipe's pixel-scaled
depth.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mytalk.core.face.canonical import reference_pose_3d, umeyama_3d_batch
from mytalk.core.face.regions import (
    CHIN,
    LIPS,
    LIPS_INNER,
    LIPS_OUTER,
    LOWER_LIP_MID,
    MOUTH_CORNER_LEFT,
    MOUTH_CORNER_RIGHT,
    POSE,
    UPPER_LIP_MID,
)

_POSE_IDX = np.asarray(POSE, np.intp)

LOWER_FACE: tuple[int, ...] = (
    0, 11, 12, 13, 14, 15, 16, 17, 18, 32, 37, 38, 39, 40, 41, 42, 43, 57, 58, 61, 62, 72, 73, 74,
    76, 77, 78, 80, 81, 82, 83, 84, 85, 86, 87, 88, 89, 90, 91, 92, 95, 96, 106, 132, 135, 136,
    138, 140, 146, 148, 149, 150, 152, 164, 165, 167, 169, 170, 171, 172, 175, 176, 178, 179, 180,
    181, 182, 183, 184, 185, 186, 187, 191, 192, 194, 199, 200, 201, 202, 204, 206, 207, 208, 210,
    211, 212, 213, 214, 215, 216, 262, 267, 268, 269, 270, 271, 272, 273, 287, 288, 291, 292, 302,
    303, 304, 306, 307, 308, 310, 311, 312, 313, 314, 315, 316, 317, 318, 319, 320, 321, 322, 324,
    325, 335, 361, 364, 365, 367, 369, 375, 377, 378, 379, 391, 393, 394, 395, 396, 397, 400, 402,
    403, 404, 405, 406, 407, 408, 409, 410, 411, 415, 416, 418, 421, 422, 424, 426, 427, 428, 430,
    431, 432, 433, 434, 435, 436,
)
"""Mesh points of the lower face: on or inside the loop `LOWER_FACE_JAW` + `LOWER_FACE_TOP` (jaw line
and a line under the nose), within 0.005 units, of the mean frontal mesh of the nine shared clips (166 points). These are the points
that speech moves; the classic engine plans, learns and warps exactly these."""

MOUTH_POINTS = np.asarray(LIPS, np.intp)


@dataclass(frozen=True)
class Poses:
    """Per-frame 3-D similarity ``pixels ≈ scale · R @ frontal + shift`` (x, y px; z pixel-scaled depth).

    scale: (T,) px per canonical unit. rotation: (T, 3, 3). shift: (T, 3) px. ok: (T,) bool, False for
    frames without a face (their entries are an identity placeholder).
    """

    scale: np.ndarray
    rotation: np.ndarray
    shift: np.ndarray
    ok: np.ndarray

    def __len__(self) -> int:
        return int(self.scale.shape[0])

    def take(self, index: np.ndarray | int) -> Poses:
        """The poses of the given frames (an int keeps a length-1 batch)."""
        idx = np.atleast_1d(np.asarray(index, np.intp))
        return Poses(self.scale[idx], self.rotation[idx], self.shift[idx], self.ok[idx])


def fit_poses(landmarks: np.ndarray, found: np.ndarray | None = None) -> Poses:
    """Fit the frontal reference head onto each frame's `POSE` points (batched Umeyama with scale).

    landmarks: (T, 478, 3) px. found: (T,) bool; None means every frame has a face.
    """
    lm = np.asarray(landmarks)
    t = lm.shape[0]
    ok = np.ones(t, bool) if found is None else np.asarray(found, bool).copy()
    scale, rot, shift = umeyama_3d_batch(reference_pose_3d(), lm[:, _POSE_IDX, :])
    bad = ~ok | ~np.isfinite(scale) | (scale <= 1e-6)
    ok &= ~bad
    scale[bad] = 1.0
    rot[bad] = np.eye(3)
    shift[bad] = 0.0
    return Poses(scale, rot, shift, ok)


def frontalise(points: np.ndarray, poses: Poses) -> np.ndarray:
    """Pixel points (T, N, 3) → frontal canonical points (T, N, 3): ``R^T (p - shift) / scale``."""
    p = np.asarray(points, np.float64) - poses.shift[:, None, :]
    return np.einsum("tji,tnj->tni", poses.rotation, p) / poses.scale[:, None, None]


def project(frontal: np.ndarray, poses: Poses) -> np.ndarray:
    """Frontal canonical points (T, N, 3) → pixel x, y (T, N, 2) with each frame's pose."""
    q = np.einsum("tij,tnj->tni", poses.rotation, np.asarray(frontal, np.float64))
    return (q * poses.scale[:, None, None] + poses.shift[:, None, :])[..., :2]


def lower_face_index() -> np.ndarray:
    """`LOWER_FACE` as an index array (P,)."""
    return np.asarray(LOWER_FACE, np.intp)


def _position(index: int) -> int:
    return LOWER_FACE.index(index)


INNER_POS = np.asarray([_position(i) for i in LIPS_INNER], np.intp)
OUTER_POS = np.asarray([_position(i) for i in LIPS_OUTER], np.intp)
LIPS_POS = np.asarray([_position(i) for i in LIPS], np.intp)
UPPER_MID_POS = _position(UPPER_LIP_MID)
LOWER_MID_POS = _position(LOWER_LIP_MID)
CORNER_POS = (_position(MOUTH_CORNER_RIGHT), _position(MOUTH_CORNER_LEFT))
CHIN_POS = _position(CHIN)


def aperture(shape: np.ndarray) -> np.ndarray:
    """Inner-lip gap (13 ↔ 14) of frontal lower-face shapes (..., P, 2|3) in canonical units (...,)."""
    s = np.asarray(shape)
    return np.linalg.norm(s[..., LOWER_MID_POS, :2] - s[..., UPPER_MID_POS, :2], axis=-1)
