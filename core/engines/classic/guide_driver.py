"""The guide driver: re-time the actor's real mouth motion along the new line's alignment to the guide.

In ADR the actor says the same words again with another rhythm. The production audio over the
range (the guide) still plays in sync with the picture, so aligning the new line to the guide (DTW
on speaker-normalised cepstra, `mytalk.core.audio.alignment`) tells, for every output frame t,
which moment map(t) of the real take had the same sound. The target mouth at t is then the tracked
mouth of the range at map(t), interpolated between frames: the actor's own motion, re-timed. The
lips lead the sound by the same amount as in the real take, because the picture and its guide
keep their original relation.

With `--guide auto` (`--motion-driver auto`), the alignment cost decides whether the words match
(`decide_guide`); the decision and the cost go in the report, and a mismatch falls back to the
speech driver.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np

from mytalk.core.audio.activity import voiced_frames
from mytalk.core.audio.alignment import Alignment, align_to_guide
from mytalk.core.audio.features import alignment_features
from mytalk.core.engines.classic.geometry import LIPS_POS, Poses, project
from mytalk.core.face.canonical import apply_transform
from mytalk.core.media.audio import AudioTrack
from mytalk.core.ndfilters import gaussian_filter1d
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress


def align_line(
    line: AudioTrack,
    guide: AudioTrack,
    fps: Fraction,
    num_frames: int,
    *,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
) -> Alignment:
    """Align the placed line to the guide over the same range (both cover exactly `num_frames` frames)."""
    line_voiced = voiced_frames(line, fps, num_frames)
    guide_voiced = voiced_frames(guide, fps, num_frames)
    line_feats = alignment_features(line, fps, num_frames, voiced=line_voiced if line_voiced.sum() >= 10 else None)
    guide_feats = alignment_features(guide, fps, num_frames, voiced=guide_voiced if guide_voiced.sum() >= 10 else None)
    return align_to_guide(line_feats, guide_feats, line_voiced=line_voiced, guide_voiced=guide_voiced,
                          progress=progress, is_cancelled=is_cancelled)


def fill_missing(values: np.ndarray, found: np.ndarray) -> np.ndarray:
    """(T, ...) values with frames where `found` is False linearly interpolated from found neighbours."""
    out = np.array(values, np.float64, copy=True)
    idx = np.flatnonzero(found)
    if idx.size == 0:
        return out
    flat = out.reshape(out.shape[0], -1)
    t = np.arange(out.shape[0])
    for c in range(flat.shape[1]):
        flat[:, c] = np.interp(t, idx, flat[idx, c])
    return flat.reshape(out.shape)


def retime(shapes: np.ndarray, found: np.ndarray, time_map: np.ndarray) -> np.ndarray:
    """Shapes of the range (T, P, C) sampled at fractional frames `time_map` (N,) → (N, P, C).

    Frames of the range without a face are bridged from their neighbours first, so a blink of the
    tracker inside the range does not leave a hole in the motion.
    """
    filled = fill_missing(shapes, found)
    pos = np.clip(np.asarray(time_map, np.float64), 0.0, shapes.shape[0] - 1.0)
    lo = np.floor(pos).astype(np.int64)
    hi = np.minimum(lo + 1, shapes.shape[0] - 1)
    w = (pos - lo)[:, None, None]
    return (1 - w) * filled[lo] + w * filled[hi]


POSE_BLEND_IOD = (0.03, 0.08)
"""Where the 2-D and pose-free targets of the non-lip points differ by more than 0.03 IOD on average
(the head turned or nodded between t and map(t)), the pose-free target is blended in, fully from 0.08:
below 0.03 IOD (2 px on a 224 px face) the outline moves too little to drag the background visibly."""


def retime_mouth(
    canon: np.ndarray,
    frontal: np.ndarray,
    found: np.ndarray,
    time_map: np.ndarray,
    poses: Poses,
    transforms: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Guide targets (N, P, 2) in each output frame's canonical frame, and the pose blend (N,).

    Normally the target is the range's 2-D canonical lower face at map(t): exactly what the real take
    showed at that moment, lips and jaw together (the face mesh couples them: moving the lips alone
    does not read as a mouth). When the head turned between t and map(t), that 2-D shape carries the
    other pose: its jaw line would be dragged across the background. There the pose-free shape at
    map(t) seen with frame t's own pose is used instead, for the whole lower face at once.
    """
    target_2d, target_3d = retime_pair(canon, frontal, found, time_map, poses, transforms)
    blend = pose_blend(pose_gap(target_2d, target_3d))
    return target_2d + blend[:, None, None] * (target_3d - target_2d), blend


def retime_pair(canon: np.ndarray, frontal: np.ndarray, found: np.ndarray, time_map: np.ndarray, poses: Poses,
                transforms: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """`retime_mouth`'s two candidate targets (N, P, 2): the 2-D shape at map(t), and the pose-free shape
    at map(t) seen with frame t's pose."""
    target_2d = retime(canon, found, time_map)
    shapes = retime(frontal, found, time_map)
    return target_2d, apply_transform(project(shapes, poses), transforms)


def pose_gap(target_2d: np.ndarray, target_3d: np.ndarray) -> np.ndarray:
    """(N,) mean distance between the two candidates' non-lip points (NaN without a face)."""
    others = np.setdiff1d(np.arange(target_2d.shape[1]), LIPS_POS)
    return np.linalg.norm(target_2d[:, others] - target_3d[:, others], axis=-1).mean(axis=-1)


def pose_blend(gap: np.ndarray) -> np.ndarray:
    """(N,) share of the pose-free target, from the gap of every frame of the range (smoothed over time)."""
    lo, hi = POSE_BLEND_IOD
    # A frame without a face has no pose and no gap (NaN): it gets no plan anyway, and its blend is taken as
    # 0 so that the smoothing below cannot spread the NaN over the 4 frames either side of a tracker blink.
    blend = np.where(np.isfinite(gap), np.clip((gap - lo) / (hi - lo), 0.0, 1.0), 0.0)
    return gaussian_filter1d(blend, 1.0, mode="nearest") if blend.size > 1 else blend


def alignment_report(alignment: Alignment) -> dict[str, Any]:
    """What the report says about the alignment: cost, decision, and how far the line was moved."""
    shift = alignment.time_map - np.arange(alignment.time_map.size)
    return {**alignment.to_dict(), "mean_shift_frames": round(float(np.abs(shift).mean()), 3),
            "max_shift_frames": round(float(np.abs(shift).max()), 3)}
