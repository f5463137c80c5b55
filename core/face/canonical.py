"""The canonical face frame shared by tracking, the engines and the evaluation.

Every lip-shape comparison in MyTalk is made in one frame of reference, so that head motion,
zoom and shot size drop out and only the mouth's own motion is left (see evaluation.md):

- a similarity transform (rotation, uniform scale, translation) is fitted per frame on the
  `STABLE` points (eye corners and nose bridge), which speech does not move;
- its rotation and translation are the least-squares fit of those points onto the fixed
  reference layout below, and its scale makes the distance between the outer eye corners
  (33 and 263) exactly 1.0, so that "divide by the inter-ocular distance" holds exactly;
- canonical axes: origin at the midpoint of the outer eye corners of the reference, x towards
  the subject's left eye (image right for a frontal face), y down, unit = inter-ocular distance.

Shapes: a single frame is (478, 2) or (478, 3) pixel landmarks; a sequence is (T, 478, 2|3).
Every function here accepts both; z (when present) is ignored except by `head_pose`.

The reference coordinates are our own measurement of MediaPipe's face mesh: the mean of the
refined 478-point mesh over about 1,300 frames of the nine shared talking-head clips, each frame
rotated and scaled so that the outer eye corners sit at (-0.5, 0) and (0.5, 0), then made
left/right symmetric by averaging mirrored point pairs. Because the clips face the camera on
average, the mean is frontal: yaw and roll are zero by symmetry, and pitch zero is the clips'
average head pitch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mytalk.core.face.regions import (
    LEFT_EYE_INNER,
    LEFT_EYE_OUTER,
    LIPS,
    LOWER_LIP_MID,
    NUM_LANDMARKS,
    POSE,
    RIGHT_EYE_INNER,
    RIGHT_EYE_OUTER,
    STABLE,
    UPPER_LIP_MID,
)

_REFERENCE_3D: dict[int, tuple[float, float, float]] = {
    # STABLE: the similarity fit uses x, y of these.
    33: (-0.5000, 0.0000, 0.0000),
    133: (-0.1924, 0.0096, -0.0599),
    362: (0.1924, 0.0096, -0.0599),
    263: (0.5000, 0.0000, 0.0000),
    168: (0.0000, -0.0708, -0.2439),
    6: (0.0000, 0.0094, -0.3014),
    197: (0.0000, 0.0844, -0.3648),
    195: (0.0000, 0.1548, -0.4356),
    # The rest of POSE: midline of the nose and forehead, cheekbones and the face side at ear level.
    1: (0.0000, 0.4027, -0.5246),
    4: (0.0000, 0.3247, -0.5425),
    5: (0.0000, 0.2302, -0.5073),
    9: (0.0000, -0.2538, -0.2450),
    10: (0.0000, -0.6311, -0.1336),
    151: (0.0000, -0.4520, -0.1929),
    127: (-0.8054, 0.0962, 0.5596),
    356: (0.8054, 0.0962, 0.5596),
    234: (-0.7998, 0.2710, 0.5926),
    454: (0.7998, 0.2710, 0.5926),
    116: (-0.7241, 0.2110, 0.1209),
    345: (0.7241, 0.2110, 0.1209),
    98: (-0.1984, 0.4742, -0.2662),
    327: (0.1984, 0.4742, -0.2662),
}
"""Mean MediaPipe mesh in canonical units (x right, y down, z away from the camera)."""

_STABLE_IDX = np.asarray(STABLE, dtype=np.intp)
_LIPS_IDX = np.asarray(LIPS, dtype=np.intp)
_POSE_IDX = np.asarray(POSE, dtype=np.intp)


def reference_stable() -> np.ndarray:
    """Reference layout of the `STABLE` points in canonical units, shape (8, 2), float64."""
    return np.array([_REFERENCE_3D[i][:2] for i in STABLE], dtype=np.float64)


def reference_pose_3d() -> np.ndarray:
    """Frontal reference of the `POSE` points in canonical units, shape (len(POSE), 3), float64."""
    return np.array([_REFERENCE_3D[i] for i in POSE], dtype=np.float64)


def _as_batch(landmarks: np.ndarray) -> tuple[np.ndarray, bool]:
    """(T, 478, 2|3) view of `landmarks`, in its own dtype: callers convert only the points they
    use to float64, so a long tracked range is not copied whole (peak memory of long renders)."""
    arr = np.asarray(landmarks)
    if arr.ndim not in (2, 3) or arr.shape[-1] not in (2, 3) or arr.shape[-2] != NUM_LANDMARKS:
        raise ValueError(f"landmarks must be (478, 2|3) or (T, 478, 2|3), got shape {arr.shape}")
    return (arr[None], True) if arr.ndim == 2 else (arr, False)


def _xy(batch: np.ndarray, index: int | np.ndarray) -> np.ndarray:
    """x, y of the given landmark(s) of every frame of a batch, as float64."""
    return batch[:, index, :2].astype(np.float64)


# Two inter-ocular distances are in use and they differ: on the reference layout the eye centres
# are 0.69 outer-corner distances apart. Each has a name that says what it measures.


def _outer_corners_batch(batch: np.ndarray) -> np.ndarray:
    """(T,) distances between the outer eye corners of a (T, 478, 2|3) batch, px."""
    return np.linalg.norm(_xy(batch, LEFT_EYE_OUTER) - _xy(batch, RIGHT_EYE_OUTER), axis=-1)


def iod_outer_corners(landmarks: np.ndarray) -> np.ndarray | float:
    """Image-plane distance between the outer eye corners (33, 263) in pixels: float or (T,).

    The unit of the canonical frame: every shape measured "in IOD" (apertures, tracking errors,
    smoothing thresholds) is divided by this distance.
    """
    arr, single = _as_batch(landmarks)
    iod = _outer_corners_batch(arr)
    return float(iod[0]) if single else iod


def iod_eye_centres(landmarks: np.ndarray) -> float:
    """Image-plane distance in px between the two eye centres (mid-points of each eye's corners).

    The face-size measure the compositor's masks scale their feather and margins by. The eye
    corners do not move with speech, so it stays put while the mouth talks. Takes (N, 2|3) points
    of a 468- or 478-point mesh (the masks also accept a mesh without the refined irises).
    """
    pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
    right = (pts[RIGHT_EYE_OUTER] + pts[RIGHT_EYE_INNER]) / 2
    left = (pts[LEFT_EYE_OUTER] + pts[LEFT_EYE_INNER]) / 2
    return float(np.linalg.norm(left - right))


def similarity_to_canonical_batch(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Vectorised `similarity_to_canonical` over (T, 478, 2|3) → ((T, 2, 3), (T,)).

    Frames whose eye corners coincide (e.g. the zeros of a frame without a face) get NaN
    transforms and scales instead of raising, so whole sequences can be passed in.
    """
    arr, _ = _as_batch(landmarks)
    src = _xy(arr, _STABLE_IDX)
    ref = reference_stable()
    iod = _outer_corners_batch(arr)
    with np.errstate(divide="ignore", invalid="ignore"):
        scale = np.where(iod > 1e-9, 1.0 / iod, np.nan)
    src_mean = src.mean(axis=1)
    ref_mean = ref.mean(axis=0)
    a = src - src_mean[:, None]
    b = ref - ref_mean
    # Closed-form 2-D Procrustes rotation: maximise sum(b · R a).
    cross = (a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]).sum(axis=1)
    dot = (a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]).sum(axis=1)
    theta = np.arctan2(cross, dot)
    c, s = np.cos(theta) * scale, np.sin(theta) * scale
    transform = np.empty((arr.shape[0], 2, 3), dtype=np.float64)
    transform[:, 0, 0], transform[:, 0, 1] = c, -s
    transform[:, 1, 0], transform[:, 1, 1] = s, c
    transform[:, :, 2] = ref_mean - np.einsum("tij,tj->ti", transform[:, :, :2], src_mean)
    return transform, scale


def similarity_to_canonical(landmarks: np.ndarray) -> tuple[np.ndarray, float]:
    """Fit the pixel → canonical similarity on the `STABLE` points of one frame.

    Args:
        landmarks: (478, 2) or (478, 3) pixel landmarks of one found face.
    Returns:
        (transform, scale): transform is a (2, 3) float64 matrix with
        ``canonical = transform @ [x, y, 1]``; scale is canonical units per pixel
        (1 / inter-ocular distance in pixels).
    Raises:
        ValueError: the eye corners coincide (no face, or all-zero landmarks).
    """
    arr = np.asarray(landmarks)
    if arr.ndim != 2:
        raise ValueError(f"similarity_to_canonical takes one frame (478, 2|3), got shape {arr.shape}")
    transform, scale = similarity_to_canonical_batch(arr)
    if not np.isfinite(scale[0]):
        raise ValueError("landmarks are degenerate (inter-ocular distance 0): pass only found faces")
    return transform[0], float(scale[0])


def apply_transform(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Apply (2, 3) or (T, 2, 3) affine transforms to (N, 2|3) or (T, N, 2|3) points → (…, N, 2)."""
    pts = np.asarray(points, dtype=np.float64)[..., :2]
    m = np.asarray(transform, dtype=np.float64)
    if m.ndim == 2:
        return pts @ m[:, :2].T + m[:, 2]
    return np.einsum("tij,tnj->tni", m[:, :, :2], pts) + m[:, None, :, 2]


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of (2, 3) or (T, 2, 3) affine transforms (same shape)."""
    m = np.asarray(transform, dtype=np.float64)
    lin = m[..., :2]
    inv = np.linalg.inv(lin)
    out = np.empty_like(m)
    out[..., :2] = inv
    out[..., 2] = -np.einsum("...ij,...j->...i", inv, m[..., 2])
    return out


def to_canonical(landmarks: np.ndarray) -> np.ndarray:
    """All landmarks in the canonical frame: (478, 2|3) → (478, 2), or (T, 478, 2|3) → (T, 478, 2).

    Frames without a face (degenerate eye corners) come out as NaN in the batched form.
    """
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.ndim == 2:
        transform, _ = similarity_to_canonical(arr)
        return apply_transform(arr, transform)
    transform, _ = similarity_to_canonical_batch(arr)
    return apply_transform(arr, transform)


def from_canonical(points: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Map canonical points back to pixels with the transform `similarity_to_canonical` returned.

    points (N, 2) with transform (2, 3), or (T, N, 2) with (T, 2, 3) → pixel coordinates, same shape.
    """
    return apply_transform(points, invert_transform(transform))


def lip_points_normalised(landmarks: np.ndarray) -> np.ndarray:
    """The 40 `LIPS` points in the canonical frame: (40, 2), or (T, 40, 2) for a sequence."""
    return to_canonical(landmarks)[..., _LIPS_IDX, :]


def mouth_aperture(landmarks: np.ndarray) -> float | np.ndarray:
    """Inner-lip gap (13 ↔ 14) divided by the inter-ocular distance: float, or (T,) for a sequence.

    Image-plane distances, so the value is unitless and independent of shot size (about 0 when the
    mouth is closed, 0.1-0.35 in speech on the HDTF clips). NaN for a frame without a face
    (all-zero landmarks), so whole tracked sequences can be passed in.
    """
    arr, single = _as_batch(landmarks)
    gap = np.linalg.norm(_xy(arr, LOWER_LIP_MID) - _xy(arr, UPPER_LIP_MID), axis=-1)
    iod = _outer_corners_batch(arr)
    ap = np.full(len(arr), np.nan)
    ok = iod > 1e-9
    ap[ok] = gap[ok] / iod[ok]
    return float(ap[0]) if single else ap


def umeyama_3d(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity dst ≈ s R src + t for (N, 3) point sets (Umeyama 1991)."""
    ms, md = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - ms, dst - md
    u, d, vt = np.linalg.svd(b.T @ a / len(a))
    e = np.ones(3)
    e[2] = 1.0 if np.linalg.det(u @ vt) >= 0 else -1.0
    rot = (u * e) @ vt
    var = float((a**2).sum() / len(a))
    s = float((d * e).sum() / var) if var > 0 else 0.0
    return s, rot, md - s * rot @ ms


def pose_fit(landmarks: np.ndarray) -> tuple[tuple[float, float, float], float]:
    """Head pose and shape residual of one face from its 3-D mesh (x, y px and z scaled to px).

    A rigid fit (Umeyama, with scale) of the frontal `POSE` reference onto the observed points
    takes about 50 µs and is accurate to a few degrees, which is what tracking needs (warnings on
    extreme turns, choosing reference frames); it is not a calibrated camera pose.

    Returns:
        ((yaw, pitch, roll) in degrees, residual): yaw > 0 when the nose turns towards image
        right, pitch > 0 when the face looks up, roll > 0 when the head tilts clockwise in the
        image. residual is the RMS fit error of the `POSE` points in canonical units (inter-ocular
        distances); real faces measure 0.01-0.05, so a large value flags an implausible mesh.
    """
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.shape[-1] != 3:
        raise ValueError(f"pose_fit needs (478, 3) landmarks with z, got shape {arr.shape}")
    ref = reference_pose_3d()
    dst = arr[_POSE_IDX]
    s, rot, t = umeyama_3d(ref, dst)
    if s <= 0:
        return (0.0, 0.0, 0.0), math.inf
    fitted = s * ref @ rot.T + t
    residual = float(np.sqrt(((fitted - dst) ** 2).sum(axis=1).mean()) / s)
    # rot = Rz(roll) @ Ry(-yaw) @ Rx(-pitch) in image axes (x right, y down, z away from camera).
    yaw = math.degrees(math.asin(max(-1.0, min(1.0, rot[2, 0]))))
    pitch = -math.degrees(math.atan2(rot[2, 1], rot[2, 2]))
    roll = math.degrees(math.atan2(rot[1, 0], rot[0, 0]))
    return (yaw, pitch, roll), residual


def umeyama_3d_batch(src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`umeyama_3d` of one (K, 3) `src` onto each of (N, K, 3) `dst`: scales (N,), rotations (N, 3, 3) and
    shifts (N, 3), equal to the one-at-a-time fits to rounding. A tracked frame was fitted four times (the
    tracker, the subject choice twice, the finishing), 45 µs each one at a time, mostly NumPy's per-call
    overhead; a range at a time a fit costs about 9 µs. The classic engine's head poses
    (`geometry.fit_poses`) are these fits too."""
    dst = np.asarray(dst, np.float64)
    ms, md = src.mean(axis=0), dst.mean(axis=1)
    a, b = src - ms, dst - md[:, None, :]
    u, d, vt = np.linalg.svd(np.einsum("nki,kj->nij", b, a) / len(a))
    e = np.ones((len(dst), 3))
    e[:, 2] = np.where(np.linalg.det(u @ vt) >= 0, 1.0, -1.0)
    rot = (u * e[:, None, :]) @ vt
    var = float((a**2).sum() / len(a))
    scale = (d * e).sum(axis=1) / var if var > 0 else np.zeros(len(dst))
    return scale, rot, md - scale[:, None] * np.einsum("nij,j->ni", rot, ms)


@dataclass(frozen=True)
class RigidFits:
    """The frontal `POSE` reference fitted onto each of N meshes (`rigid_fits`): ``points ≈ scale · R @ ref +
    shift``, and each fit's RMS residual in inter-ocular distances (infinite where the fit degenerates,
    `scale` ≤ 0)."""

    scale: np.ndarray
    rotation: np.ndarray
    shift: np.ndarray
    residual: np.ndarray


def rigid_fits(landmarks: np.ndarray) -> RigidFits:
    """The rigid fits behind `pose_fit`, of (N, 478, 3) meshes at once (`umeyama_3d_batch`)."""
    arr = np.asarray(landmarks, dtype=np.float64)
    if arr.ndim != 3 or arr.shape[-1] != 3:
        raise ValueError(f"rigid fits need (N, 478, 3) landmarks with z, got shape {arr.shape}")
    ref = reference_pose_3d()
    dst = arr[:, _POSE_IDX]
    scale, rot, shift = umeyama_3d_batch(ref, dst)
    fitted = scale[:, None, None] * (ref @ rot.transpose(0, 2, 1)) + shift[:, None, :]
    ok = scale > 0
    residual = np.full(len(arr), math.inf)
    residual[ok] = np.sqrt(((fitted - dst) ** 2).sum(axis=2).mean(axis=1))[ok] / scale[ok]
    return RigidFits(scale, rot, shift, residual)


def pose_fits(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`pose_fit` of each of (N, 478, 3) meshes at once: (N, 3) (yaw, pitch, roll) degrees and (N,) residuals,
    equal to the one-at-a-time fits to rounding (a degenerate mesh: a zero pose and an infinite residual)."""
    if len(landmarks) == 0:
        return np.zeros((0, 3)), np.zeros(0)
    fits = rigid_fits(landmarks)
    rot = fits.rotation
    poses = np.stack([np.degrees(np.arcsin(np.clip(rot[:, 2, 0], -1.0, 1.0))),
                      -np.degrees(np.arctan2(rot[:, 2, 1], rot[:, 2, 2])),
                      np.degrees(np.arctan2(rot[:, 1, 0], rot[:, 0, 0]))], axis=1)
    poses[~(fits.scale > 0)] = 0.0
    return poses, fits.residual


def head_pose(landmarks: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of one (478, 3) face; conventions as in `pose_fit`."""
    return pose_fit(landmarks)[0]
