"""Temporal smoothing of tracked landmarks: steady head, lively lips.

The raw mesh jitters by about a pixel from frame to frame. Smoothing every point alike would
either leave the jitter or make the lips lag the speech, so the motion is split in two:

- the head: a similarity transform per frame (`canonical.similarity_to_canonical`), i.e. where
  the face is, how big and how rotated. Smoothed strongly, like the rigid points;
- the face's own shape in the canonical frame (unit = inter-ocular distance): rigid points
  (eyes, nose, forehead, cheeks) smoothed strongly, lips, jaw and the lower face lightly.

Each part goes through a One-Euro filter (Casiez et al., CHI 2012), whose cutoff rises with speed
so fast motion passes and slow drift is cleaned. The filter runs forwards and then backwards over
the sequence (tracking is offline), which cancels its phase delay: the mouth opens on the same
frame as before smoothing. Runs of found frames are smoothed independently and a run is split
where the face jumps (a cut), so nothing is smoothed across a gap or from one shot into another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical_batch
from mytalk.core.face.regions import JAW, LEFT_EYE_OUTER, LIPS, NOSE_TIP, NUM_LANDMARKS, RIGHT_EYE_OUTER

_UPPER_LIP_TOP = 0


@dataclass(frozen=True)
class OneEuro:
    """One-Euro filter parameters.

    min_cutoff: cutoff frequency in Hz when the signal is still; lower = smoother, laggier.
    beta: cutoff increase in Hz per unit/s of speed (units of the filtered signal); higher =
        less lag on fast motion.
    d_cutoff: cutoff in Hz of the speed estimate itself.
    """

    min_cutoff: float
    beta: float
    d_cutoff: float = 1.0


@dataclass(frozen=True)
class SmoothingParams:
    """Filters for the three parts of the motion, in canonical units (inter-ocular distances).

    head: the per-frame similarity transform (translation, scale and rotation).
    stable: the face's rigid points relative to the head.
    lips: lips, jaw and the lower face relative to the head; much lighter so speech is not damped.
    max_jump: a frame-to-frame move of the face centre above this many inter-ocular distances,
        or a scale change above 25 %, starts a new run (a cut): the filters restart there.
    """

    # Chosen on the two HDTF clips (tests/test_face_smoothing.py has the numbers): the head and
    # rigid points lose 55-75 % of their second-difference jitter while staying within about
    # 1.5 px of the raw mesh on average. The lips only lose frame-to-frame noise: a stronger lip
    # filter visibly fills the one-frame lip closures of b/p/m, which lip-sync depends on.
    head: OneEuro = OneEuro(min_cutoff=2.0, beta=10.0)
    stable: OneEuro = OneEuro(min_cutoff=1.0, beta=5.0)
    lips: OneEuro = OneEuro(min_cutoff=20.0, beta=20.0)
    max_jump: float = 0.5


def _one_euro_channels(
    x: np.ndarray,
    fps: float,
    min_cutoff: np.ndarray | float,
    beta: np.ndarray | float,
    d_cutoff: np.ndarray | float,
) -> np.ndarray:
    """Causal One-Euro over axis 0 of x (T, C); each parameter is a scalar or per channel (C,)."""
    data = np.asarray(x, dtype=np.float64)
    out = np.empty_like(data)
    if len(data) == 0:
        return out
    # alpha = 1 / (1 + tau * fps) with tau = 1 / (2 pi cutoff), rewritten to avoid dividing by tau.
    a_d = 1.0 / (1.0 + fps / (2.0 * math.pi * np.asarray(d_cutoff)))
    k = fps / (2.0 * math.pi)
    prev = data[0].copy()
    speed = np.zeros_like(prev)
    out[0] = prev
    for t in range(1, len(data)):
        delta = data[t] - prev
        speed += a_d * (delta * fps - speed)
        prev += delta / (1.0 + k / (min_cutoff + beta * np.abs(speed)))
        out[t] = prev
    return out


def one_euro(x: np.ndarray, fps: float, params: OneEuro) -> np.ndarray:
    """Causal One-Euro filter along axis 0.

    Args:
        x: (T, ...) samples at `fps` Hz; every trailing element is an independent channel.
        fps: sample rate in Hz (the clip's frame rate), so cutoffs mean the same at 24 and 60 fps.
        params: filter parameters; speed is measured in units of x per second.
    Returns:
        float64 array of x's shape.
    """
    data = np.asarray(x, dtype=np.float64)
    flat = data.reshape(len(data), -1)
    return _one_euro_channels(flat, fps, params.min_cutoff, params.beta, params.d_cutoff).reshape(data.shape)


def one_euro_zero_phase(x: np.ndarray, fps: float, params: OneEuro) -> np.ndarray:
    """One-Euro forwards then backwards along axis 0: no delay, the same shape as x.

    The backward pass cancels the forward pass's lag, so peaks stay on their frame; the price is
    that the sequence must be known in full, which tracking results always are.
    """
    fwd = one_euro(x, fps, params)
    return one_euro(fwd[::-1], fps, params)[::-1].copy()


def split_runs(found: np.ndarray, landmarks: np.ndarray, max_jump: float = 0.5) -> list[tuple[int, int]]:
    """Half-open [start, stop) runs of consecutive found frames without a cut inside.

    Args:
        found: (T,) bool.
        landmarks: (T, 478, 2|3) pixels (rows of frames not found are ignored).
        max_jump: a centre move above this many inter-ocular distances between two frames, or a
            scale change above 25 %, splits the run (a cut to another shot, or another face).
    """
    found = np.asarray(found, dtype=bool)
    runs: list[tuple[int, int]] = []
    start: int | None = None
    for t in range(len(found)):
        if not found[t]:
            if start is not None:
                runs.append((start, t))
                start = None
            continue
        if start is None:
            start = t
            continue
        prev, cur = landmarks[t - 1], landmarks[t]
        iod_prev = float(np.linalg.norm(prev[LEFT_EYE_OUTER, :2] - prev[RIGHT_EYE_OUTER, :2]))
        iod_cur = float(np.linalg.norm(cur[LEFT_EYE_OUTER, :2] - cur[RIGHT_EYE_OUTER, :2]))
        move = float(np.linalg.norm(cur[:, :2].mean(axis=0) - prev[:, :2].mean(axis=0)))
        ratio = iod_cur / iod_prev if iod_prev > 0 else math.inf
        if move > max_jump * max(iod_prev, 1e-6) or not 0.8 <= ratio <= 1.25:
            runs.append((start, t))
            start = t
    if start is not None:
        runs.append((start, len(found)))
    return runs


def light_point_mask(canonical_median: np.ndarray) -> np.ndarray:
    """(478,) bool: points smoothed lightly because speech moves them.

    That is `LIPS`, `JAW`, and every point whose median canonical height lies below halfway
    between the nose tip and the top of the upper lip (chin, cheeks beside the mouth). Taking the
    height from the data rather than a fixed list keeps it right for any face shape.
    """
    mask = np.zeros(NUM_LANDMARKS, dtype=bool)
    mask[list(LIPS)] = True
    mask[list(JAW)] = True
    y = canonical_median[:, 1]
    mask |= y >= 0.5 * (y[NOSE_TIP] + y[_UPPER_LIP_TOP])
    return mask


POINT_BLOCK = 64
"""Landmarks smoothed together. The filter's temporaries are (T, 3 × block) rather than (T, 1434):
channels are independent, so the result is identical to filtering them all at once, and smoothing
a 60 s range costs a few MB instead of over 100 MB (the peak-memory bar of long ranges)."""


def _zero_phase(x: np.ndarray, fps: float, min_cutoff: np.ndarray, beta: np.ndarray, d_cutoff: np.ndarray) -> np.ndarray:
    """Forward-then-backward One-Euro of (T, C) `x` with per-channel parameters."""
    fwd = _one_euro_channels(x, fps, min_cutoff, beta, d_cutoff)
    return _one_euro_channels(fwd[::-1], fps, min_cutoff, beta, d_cutoff)[::-1]


def _point_blocks(count: int) -> list[slice]:
    return [slice(first, min(first + POINT_BLOCK, count)) for first in range(0, count, POINT_BLOCK)]


def light_points(landmarks: np.ndarray) -> np.ndarray:
    """`light_point_mask` of the median face of (T, 478, 3) pixel `landmarks` in the canonical frame."""
    lm = np.asarray(landmarks)
    transform, _ = similarity_to_canonical_batch(lm)
    median = np.concatenate([np.median(apply_transform(lm[:, block], transform), axis=0)
                             for block in _point_blocks(lm.shape[1])])
    return light_point_mask(median)


def smooth_run(
    landmarks: np.ndarray, fps: float, params: SmoothingParams, out: np.ndarray | None = None,
    light: np.ndarray | None = None,
) -> np.ndarray:
    """Smooth one run of consecutive found frames without a cut: (T, 478, 3) px → (T, 478, 3) px.

    The head (similarity to the canonical frame) and the face shape within it are filtered
    separately, so a head turn is not mistaken for lip motion. The shape is filtered
    `POINT_BLOCK` landmarks at a time, which keeps memory flat in the run's length. `out`
    (T, 478, 3), when given, receives the result (in its own dtype) and is returned; by default
    a new float64 array is. `light`: the points to smooth lightly (`light_point_mask`), by default
    measured on this run.
    """
    lm = np.asarray(landmarks)
    if out is None:
        out = np.empty(lm.shape, dtype=np.float64)
    if len(lm) < 3:
        out[...] = lm
        return out
    transform, scale = similarity_to_canonical_batch(lm)
    inverse = invert_transform(transform)  # canonical → pixels, (T, 2, 3)
    blocks = _point_blocks(lm.shape[1])

    # Head parameters in inter-ocular distances so one `beta` fits every shot size.
    iod_ref = float(np.median(1.0 / scale))
    head = np.concatenate([inverse[:, :, 2], inverse[:, :, 0]], axis=1) / iod_ref  # tx, ty, a, b
    head = _zero_phase(head, fps, np.full(4, params.head.min_cutoff), np.full(4, params.head.beta),
                       np.full(4, params.head.d_cutoff)) * iod_ref
    a, b = head[:, 2], head[:, 3]
    smoothed_inverse = np.empty_like(inverse)
    smoothed_inverse[:, 0, 0], smoothed_inverse[:, 0, 1], smoothed_inverse[:, 0, 2] = a, -b, head[:, 0]
    smoothed_inverse[:, 1, 0], smoothed_inverse[:, 1, 1], smoothed_inverse[:, 1, 2] = b, a, head[:, 1]
    z_scale = np.hypot(a, b)[:, None]

    if light is None:
        median = np.concatenate([np.median(apply_transform(lm[:, block], transform), axis=0) for block in blocks])
        light = light_point_mask(median)
    for block in blocks:
        local = apply_transform(lm[:, block], transform)  # (T, n, 2) canonical units
        shape = np.concatenate([local, (lm[:, block, 2] * scale[:, None])[..., None]], axis=-1)
        lit = np.repeat(light[block], 3)
        shape = _zero_phase(
            shape.reshape(len(lm), -1), fps,
            np.where(lit, params.lips.min_cutoff, params.stable.min_cutoff),
            np.where(lit, params.lips.beta, params.stable.beta),
            np.where(lit, params.lips.d_cutoff, params.stable.d_cutoff),
        ).reshape(shape.shape)
        out[:, block, :2] = apply_transform(shape[..., :2], smoothed_inverse)
        out[:, block, 2] = shape[..., 2] * z_scale
    return out


def smooth_landmarks(
    landmarks: np.ndarray, found: np.ndarray, fps: float, params: SmoothingParams | None = None,
    light: np.ndarray | None = None,
) -> np.ndarray:
    """Smooth a tracked sequence, restarting at every gap and cut.

    Args:
        landmarks: (T, 478, 3) pixel landmarks; rows where `found` is False are passed through.
        found: (T,) bool, which frames hold a face.
        fps: frame rate in Hz, so cutoffs are in real time whatever the clip's rate.
        params: filter settings; defaults to `SmoothingParams()`.
        light: (478,) bool, the points smoothed lightly in every run; by default each run measures its
            own (`light_point_mask`). A range finished in windows measures them once, so that a point
            near the mask's edge is not smoothed one way in a window and the other way in the next.
    Returns:
        (T, 478, 3) float32 smoothed landmarks.
    """
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    params = params or SmoothingParams()
    lm = np.asarray(landmarks, dtype=np.float32)
    out = lm.copy()
    for start, stop in split_runs(found, lm, params.max_jump):
        smooth_run(lm[start:stop], fps, params, out=out[start:stop], light=light)
    return out
