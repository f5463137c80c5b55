"""Which tracked faces are the subject: keep the actor, reject graphics, posters and other people.

The tracker follows one face from frame to frame, but after a loss (a cut, a cutaway, an occlusion)
it has to take a detection for the subject again, and a face detector fires on anything face-like:
a spinning title graphic, a portrait on the wall, another person standing where the actor was.
Editing any of those paints a mouth where there is none. So, once a range is tracked, its found
frames are grouped into *appearances*: runs of found frames, bridged over gaps of up to
`BRIDGE_FRAMES` but never across a shot cut (`shots.py`; the mesh itself would follow a face-like
thing across a cut without a blink). An appearance is the subject only when all of these hold:

1. it is a plausible face: the median rigid-fit residual of its mesh (`canonical.pose_fit`) is at
   most `MAX_RESIDUAL`. Real faces on the nine shared clips measure 0.015-0.033 (worst frame
   0.040); the face MediaPipe's mesh fits onto the cutaway's text graphic measures 0.050-0.075;
2. it has the subject's face shape: the median over its frames of the face's own 3-D shape (eyes,
   brows, nose and face outline; not the lips or jaw, which speech moves), taken into the canonical
   frame, lies within `SHAPE_TOLERANCE` (IOD) of the subject's. The subject's shape is that of the
   longest plausible appearance (with a face point, the first one: the face the editor
   pointed at). Measured: the same actor before and after a cutaway 0.005-0.015, the first 8 frames
   of a shot against the rest 0.008-0.022; different people 0.015-0.046; a drawn cartoon face
   0.032-0.035 and the cutaway's text graphic 0.041-0.068 from every real face. The tolerance
   leans towards rejecting: a wrongly rejected appearance passes through untouched with a warning,
   a wrongly accepted one gets a mouth painted on it. Two people of very similar build can still
   pass, which is why position and size continuity (the tracker's re-acquisition gate) come first;
3. the subject lasts: its appearances together hold at least `MIN_RUN_FRAMES` found frames (or every
   frame of a shorter range). A graphic that happens to look like a face does so for a handful of
   frames as it moves; an actor hidden for a moment by a passing hand comes back as the same face.

Rejected frames become "not found" (the frame passes through untouched) and each rejected
appearance is described by a `RejectedDetection` for the report.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

import numpy as np

from mytalk.core.face.canonical import reference_pose_3d, rigid_fits, umeyama_3d
from mytalk.core.face.regions import JAW, LIPS, POSE

MIN_RUN_FRAMES = 8
"""A subject seen for fewer frames than this in a range is not edited: about a third of a second."""

BRIDGE_FRAMES = 3
"""Runs of found frames this close (frames between them) belong to one appearance: a blink of the
tracker inside a shot is not a new face."""

MAX_RESIDUAL = 0.045
"""Median rigid-fit residual (IOD) above which an appearance is not a plausible face."""

SHAPE_TOLERANCE = 0.025
"""RMS distance (IOD) between median face shapes above which an appearance is another face."""

_SHAPE_POINTS = np.array(sorted(set(range(468)) - set(LIPS) - set(JAW)), np.intp)
_POSE_IDX = np.asarray(POSE, np.intp)


@dataclass(frozen=True)
class RejectedDetection:
    """A run of frames where a face was tracked but not taken as the subject.

    first, last: inclusive frame indices. frames: how many of them had the face. reason: why, in words.
    """

    first: int
    last: int
    frames: int
    reason: str

    def to_dict(self) -> dict[str, object]:
        return {"first": self.first, "last": self.last, "frames": self.frames, "reason": self.reason}


@dataclass
class Appearance:
    """Positions (into the observation list) of one appearance's found frames, and its measures."""

    positions: list[int]
    residual: float = 0.0
    shape: np.ndarray | None = None


def face_shape(landmarks: np.ndarray) -> np.ndarray:
    """(K, 3) identity points of one (478, 3) mesh in canonical units: the rigid 3-D similarity that fits the
    frontal `POSE` reference onto the face, inverted, so pose and size drop out and only shape is left."""
    pts = np.asarray(landmarks, np.float64)
    scale, rot, shift = umeyama_3d(reference_pose_3d(), pts[_POSE_IDX])
    if scale <= 0:
        return np.full((_SHAPE_POINTS.size, 3), np.nan)
    return ((pts[_SHAPE_POINTS] - shift) @ rot) / scale


def _fits(landmarks: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The `pose_fit` residuals (N,) and `face_shape`s (N, K, 3) of (N, 478, 3) meshes, from one rigid fit
    of each (`canonical.rigid_fits`), where one at a time fitted every mesh twice."""
    pts = np.asarray(landmarks, np.float64)
    fits = rigid_fits(pts)
    ok = fits.scale > 0
    shapes = np.full((len(pts), _SHAPE_POINTS.size, 3), np.nan)
    shapes[ok] = np.einsum("nki,nij->nkj", pts[ok][:, _SHAPE_POINTS] - fits.shift[ok][:, None, :],
                           fits.rotation[ok]) / fits.scale[ok][:, None, None]
    return fits.residual, shapes


def shape_distance(a: np.ndarray, b: np.ndarray) -> float:
    """RMS distance (IOD) between two `face_shape`s, in the image plane of the canonical frame."""
    return float(np.sqrt(((a[:, :2] - b[:, :2]) ** 2).sum(axis=1).mean()))


def appearances(found: list[bool], cuts: Collection[int] = (), bridge: int = BRIDGE_FRAMES) -> list[Appearance]:
    """Group found positions into appearances: runs joined across gaps of at most `bridge` frames, and
    never across a shot cut (`cuts`: positions where a new shot starts)."""
    groups: list[Appearance] = []
    last = -10**9
    cut_after = sorted(cuts)
    for pos, ok in enumerate(found):
        if not ok:
            continue
        crossed = any(last < c <= pos for c in cut_after)
        if groups and pos - last - 1 <= bridge and not crossed:
            groups[-1].positions.append(pos)
        else:
            groups.append(Appearance([pos]))
        last = pos
    return groups


@dataclass(frozen=True)
class SubjectDecision:
    """Which appearances of a stretch of frames are the subject, and against what it was judged.

    rejected: the appearances that are not the subject, in frame order.
    reference_shape: the subject's face shape (`face_shape`, median over the reference appearance) the
        candidates were compared with; None when no appearance was a plausible face.
    established: the subject was seen for at least `MIN_RUN_FRAMES` found frames (or every frame of a
        shorter stretch), so its shape may judge the stretches that follow.
    """

    rejected: list[RejectedDetection]
    reference_shape: np.ndarray | None
    established: bool


def decide_subject(
    landmarks: list[np.ndarray], found: list[bool], indices: list[int], *, first_is_subject: bool,
    cuts: Collection[int] = (), reference_shape: np.ndarray | None = None,
) -> SubjectDecision:
    """Decide which appearances are the subject: the rejected ones (in frame order), and what they were
    judged against.

    landmarks: per observation (478, 3) raw tracked points. found: whether the tracker has a face there.
    indices: the frame numbers. first_is_subject: the editor pointed at a face (`--face`), so the first
    plausible, lasting appearance is the reference shape; otherwise the longest one is. cuts: positions
    where a new shot starts (`shots.py`); an appearance never spans one.

    reference_shape: the subject's shape as an earlier stretch of the same range established it. A long
    range is judged a window at a time (`finishing.WindowedFinish`): the first window finds the subject,
    and every later one compares its faces with that shape instead of picking its own longest face, so
    a window that holds only a cutaway or another person does not take them for the subject. The
    subject being established already, a brief appearance of it is then not rejected as too brief.
    """
    groups = appearances(found, cuts)
    rejected: dict[int, str] = {}
    for k, group in enumerate(groups):
        residuals, shapes = _fits(np.stack([landmarks[p] for p in group.positions]))
        group.residual = float(np.median(residuals))
        group.shape = np.median(shapes, axis=0)
        if not group.residual <= MAX_RESIDUAL:
            rejected[k] = f"not a plausible face (mesh fit residual {group.residual:.3f} IOD, above {MAX_RESIDUAL})"
    candidates = [k for k in range(len(groups)) if k not in rejected]
    ref_shape = reference_shape
    established = reference_shape is not None
    if candidates:
        if ref_shape is None:
            ref = candidates[0] if first_is_subject else max(candidates, key=lambda k: len(groups[k].positions))
            ref_shape = groups[ref].shape
        assert ref_shape is not None
        subject = []
        for k in candidates:
            shape = groups[k].shape
            assert shape is not None
            distance = shape_distance(shape, ref_shape)
            if distance <= SHAPE_TOLERANCE:
                subject.append(k)
            else:
                rejected[k] = (f"a different face (shape {distance:.3f} IOD from the subject's, "
                               f"above {SHAPE_TOLERANCE})")
        seen = sum(len(groups[k].positions) for k in subject)
        min_run = min(MIN_RUN_FRAMES, len(found))
        if not established:
            if seen < min_run:
                for k in subject:
                    rejected[k] = f"seen for only {seen} frame(s), fewer than {min_run}"
            else:
                established = True
    out = []
    for k in sorted(rejected):
        pos = groups[k].positions
        out.append(RejectedDetection(indices[pos[0]], indices[pos[-1]], len(pos), rejected[k]))
    return SubjectDecision(out, ref_shape if established else None, established)
