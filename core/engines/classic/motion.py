"""The classic plan's shapes: per output frame, where the actor's lower face must be.

All drivers end in the same representation (`motion_stage.ClassicMotion` then takes it to frame
pixels, the stages' `MotionPlan`): the `geometry.LOWER_FACE` points (lips, chin, jaw and
cheeks beside the mouth) in the 2-D canonical frame of the *output frame's own head*
(`canonical.similarity_to_canonical` of its tracked stable points), so the renderer maps them to
pixels with that frame's similarity, and the evaluation, which measures lips in the same frame,
sees exactly what was planned. The jaw and chin are part of the plan: lips that move on an
unmoved jaw score poorly and look wrong.

Controls applied here, identically for both drivers:
- openness: the deviation from the actor's closed (rest) mouth, scaled (1.0 = as learned);
- smoothing: a zero-phase Gaussian over time, run separately over each run of frames with a face.
  The speech driver's prediction flickers, so it gets sigma = `SMOOTHING_SIGMA` × smoothing frames.
  The guide driver re-times real, already tracker-smoothed motion, and even sigma 0.6 frames moves
  its lips by half of a typical ADR re-timing error, so it is smoothed only for smoothing above 0.5
  (sigma = `SMOOTHING_SIGMA` × (smoothing - 0.5) × 2);
- a taper towards the nose: points between the nostrils and the upper lip follow the plan less,
  so the nose base never moves (the compositor's mask fades there too).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from mytalk.core.engines.classic.geometry import CHIN_POS, Poses, aperture, lower_face_index, project
from mytalk.core.face.canonical import apply_transform
from mytalk.core.face.regions import LIPS_OUTER, SUBNASALE
from mytalk.core.ndfilters import gaussian_filter1d

SMOOTHING_SIGMA = 1.2
"""Gaussian sigma in frames at smoothing 1.0 (0.6 frames at the default 0.5): enough to remove
prediction flicker, short enough that a one-frame p/b/m closure survives at half depth or more."""

LOWER_FACE_CHIN_IOD = 0.035
LOWER_FACE_APERTURE_IOD = 0.04
LOWER_FACE_HOLD = 3
"""Auto mask: the lower-face mask (jaw and chin follow) where the planned chin moves more than
0.035 IOD from the source's or the mouth opens 0.04 IOD wider; held 3 frames either side so the
mask does not flicker between modes."""


def frontal_to_canonical(shapes: np.ndarray, poses: Poses, transforms: np.ndarray) -> np.ndarray:
    """Frontal shapes (T, P, 3) seen with each frame's head pose, in that frame's 2-D canonical frame (T, P, 2)."""
    return apply_transform(project(shapes, poses), transforms)


def nose_taper(source_canon: np.ndarray, landmarks_canon_subnasale: np.ndarray) -> np.ndarray:
    """Per point weight (P,) from a typical frame: 0 at the subnasale's height, 1 from the top of the upper lip down.

    source_canon: (P, 2) one frame's canonical lower face; landmarks_canon_subnasale: (2,) its subnasale.
    """
    lf = list(lower_face_index())
    top = min(source_canon[lf.index(i), 1] for i in LIPS_OUTER)
    y0 = float(landmarks_canon_subnasale[1])
    span = max(float(top) - y0, 1e-3)
    t = np.clip((source_canon[:, 1] - y0) / span, 0.0, 1.0)
    return t * t * (3 - 2 * t)


def smooth_runs(points: np.ndarray, valid: np.ndarray, sigma: float) -> np.ndarray:
    """Zero-phase Gaussian smoothing over time of (T, ...) values, separately on each run of valid frames."""
    out = points.copy()
    if sigma <= 0:
        return out
    t = 0
    n = valid.size
    while t < n:
        if not valid[t]:
            t += 1
            continue
        end = t
        while end < n and valid[end]:
            end += 1
        if end - t > 1:
            out[t:end] = gaussian_filter1d(points[t:end], sigma, axis=0, mode="nearest")
        t = end
    return out


def finish_plan(
    target: np.ndarray,
    source: np.ndarray,
    closed: np.ndarray,
    valid: np.ndarray,
    taper: np.ndarray,
    *,
    openness: float,
    smoothing: float,
    mask_mode: str,
    driver: str = "speech",
) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Apply openness, smoothing and the nose taper; decide the mask per frame.

    target, source, closed: (T, P, 2) canonical: planned shapes, the frames' own tracked shapes, and
    the actor's closed mouth seen in each frame. valid (T,). taper (P,). driver: "speech" or "guide".
    Returns (points, lower_face, figures).
    """
    points, lower, chin_move = finish_window(target, source, closed, valid, taper, openness=openness,
                                             smoothing=smoothing, mask_mode=mask_mode, driver=driver)
    return points, lower, plan_figures(float(np.where(valid, chin_move, 0.0).sum()), int(valid.sum()),
                                       int(lower.sum()), int((valid & ~lower).sum()))


def smoothing_sigma(smoothing: float, driver: str) -> float:
    """The Gaussian sigma in frames that `finish_window` smooths the plan with."""
    strength = float(smoothing) if driver == "speech" else max(0.0, 2.0 * (float(smoothing) - 0.5))
    return SMOOTHING_SIGMA * strength


def finish_reach(smoothing: float, driver: str) -> int:
    """Frames either side of a frame that its finished plan depends on: the smoothing's kernel radius
    (scipy's 4 sigma) and the mask hold. A window planned with this margin either side gives its inner
    frames exactly what the whole range would."""
    return int(4.0 * smoothing_sigma(smoothing, driver) + 0.5) + LOWER_FACE_HOLD


def finish_window(
    target: np.ndarray,
    source: np.ndarray,
    closed: np.ndarray,
    valid: np.ndarray,
    taper: np.ndarray,
    *,
    openness: float,
    smoothing: float,
    mask_mode: str,
    driver: str = "speech",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`finish_plan` of consecutive frames, without the figures: (points, lower_face, chin_move (T,)).

    A window of a long range gives exact results `finish_reach` frames in from either edge."""
    planned = closed + float(openness) * (target - closed)
    planned = smooth_runs(planned, valid, smoothing_sigma(smoothing, driver))
    points = source + taper[None, :, None] * (planned - source)
    points[~valid] = np.nan
    chin_move = np.linalg.norm(points[:, CHIN_POS] - source[:, CHIN_POS], axis=-1)
    widen = aperture(points) - aperture(source)
    need = valid & ((chin_move > LOWER_FACE_CHIN_IOD) | (widen > LOWER_FACE_APERTURE_IOD))
    if mask_mode == "lower-face":
        lower = valid.copy()
    elif mask_mode == "mouth":
        lower = np.zeros_like(valid)
    else:
        lower = need.copy()
        for shift in range(1, LOWER_FACE_HOLD + 1):
            lower[:-shift] |= need[shift:]
            lower[shift:] |= need[:-shift]
        lower &= valid
    return points, lower, chin_move


def plan_figures(chin_move_sum: float, valid_frames: int, lower_frames: int, mouth_frames: int) -> dict[str, Any]:
    """The plan's figures for the report, from totals over the range."""
    return {
        "mean_chin_move_iod": round(chin_move_sum / valid_frames, 4) if valid_frames else None,
        "lower_face_frames": lower_frames,
        "mouth_frames": mouth_frames,
    }


def subnasale_canonical(landmarks: np.ndarray, transforms: np.ndarray) -> np.ndarray:
    """(T, 2) canonical position of the subnasale of each frame."""
    return apply_transform(landmarks[:, SUBNASALE : SUBNASALE + 1, :2], transforms)[:, 0]
