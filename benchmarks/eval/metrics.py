"""Every figure the suite reports, as pure functions of landmarks, audio samples and pixels.

Definitions follow `../shared/docs/evaluation.md`. Units:
- lip points are the 40 `LIPS` points in the canonical face frame (similarity-aligned on the
  eye corners and nose bridge, unit = inter-ocular distance, "IOD"), shape (T, 40, 2), NaN in
  frames without a face;
- aperture is the inner-lip gap ÷ IOD, shape (T,), NaN without a face;
- audio is mono float32 at `rate` Hz, sample 0 at the first frame of the sequence;
- lags are in frames; a positive lag means the sound comes that many frames after the mouth
  movement it goes with (the audio envelope is delayed against the aperture).

Nothing here reads files; the protocols do the I/O and call these. Phones are any objects with
`label`, `start_s` and `end_s` (`mytalk.core.audio.phonemes.Phone`): times in seconds of the line,
whose sample 0 is shown with frame 0.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Protocol

import cv2
import numpy as np

from mytalk.core.face.regions import LEFT_EYE_OUTER, MOUTH_CORNER_LEFT, MOUTH_CORNER_RIGHT, RIGHT_EYE_OUTER
from mytalk.core.quality.av_sync import (  # noqa: F401 - the suite's figures; defined where QC shares them
    CLOSED_APERTURE,
    ENVELOPE_BAND_HZ,
    ENVELOPE_RANGE_DB,
    MAX_LAG_FRAMES,
    SILENCE_DROP_DB,
    SILENCE_MIN_RUN,
    AvSync,
    audio_envelope,
    av_lag,
    closed_share,
    loudness_db,
    pearson,
    silent_frames,
    true_runs,
)

RELIABLE_MIN_PEAK = 0.3
RELIABLE_MIN_SECONDS = 4.0
"""AV figures need a real-footage peak ≥ 0.3 and a range ≥ 4 s; below that, speech rhythm makes
side peaks 6-9 frames away (evaluation.md)."""


# --- audio -----------------------------------------------------------------------------------


# --- AV lag -----------------------------------------------------------------------------------


def av_reliable(real: AvSync, range_frames: int, fps: Fraction) -> bool:
    """evaluation.md: trust AV figures only with a real-footage peak ≥ 0.3 over ≥ 4 s.

    A real-footage peak at the edge of the search is not trusted either: the curve is still
    rising there, so the real lag is unknown and nothing can be compared with it.
    """
    return (
        real.peak is not None
        and real.peak >= RELIABLE_MIN_PEAK
        and float(range_frames / fps) >= RELIABLE_MIN_SECONDS
        and not real.at_edge
    )


# --- lip shape ----------------------------------------------------------------------------------


def sample_points(points: np.ndarray, times: np.ndarray) -> np.ndarray:
    """Points at fractional frame positions by linear interpolation: (T, P, 2) at (M,) → (M, P, 2).

    A time that is not within [0, T-1], or whose neighbouring frames lack a face, gives NaN.
    Integer times return the frame itself exactly.
    """
    pts = np.asarray(points, np.float64)
    t = np.asarray(times, np.float64)
    out = np.full((t.size, *pts.shape[1:]), np.nan)
    ok = np.isfinite(t) & (t >= 0) & (t <= pts.shape[0] - 1)
    if not ok.any():
        return out
    lo = np.floor(t[ok]).astype(np.int64)
    hi = np.minimum(lo + 1, pts.shape[0] - 1)
    w = (t[ok] - lo)[:, None, None]
    low, high = pts[lo], pts[hi]
    # Exactly on a frame: do not let a faceless neighbour poison it.
    high = np.where(w == 0, low, high)
    out[ok] = low * (1 - w) + high * w
    return out


def lip_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame mean distance (IOD) between corresponding lip points: (T,), NaN without a face."""
    return np.linalg.norm(np.asarray(pred, np.float64) - np.asarray(truth, np.float64), axis=-1).mean(axis=-1)


def rigid_align(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Rotate and translate each frame's `pred` points onto `truth` (2-D Kabsch, no scaling).

    What is left after this is lip shape alone: jaw placement (where the mouth sits against the
    stable points) is taken out. Scale is kept, because mouth size is part of the shape.
    Shapes (T, P, 2) → (T, P, 2); NaN frames stay NaN.
    """
    p = np.asarray(pred, np.float64)
    q = np.asarray(truth, np.float64)
    pc, qc = p.mean(axis=1, keepdims=True), q.mean(axis=1, keepdims=True)
    a, b = p - pc, q - qc
    cross = (a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]).sum(axis=1)
    dot = (a[..., 0] * b[..., 0] + a[..., 1] * b[..., 1]).sum(axis=1)
    theta = np.arctan2(cross, dot)
    c, s = np.cos(theta)[:, None], np.sin(theta)[:, None]
    rotated = np.stack([c * a[..., 0] - s * a[..., 1], s * a[..., 0] + c * a[..., 1]], axis=-1)
    return rotated + qc


def shape_error(pred: np.ndarray, truth: np.ndarray) -> np.ndarray:
    """Per-frame lip error after `rigid_align`: the shape-only variant, (T,) in IOD."""
    return lip_error(rigid_align(pred, truth), truth)


@dataclass(frozen=True)
class ErrorRatio:
    """A tool's mean lip error against ground truth, over do-nothing's, on the same frames.

    tool, baseline: mean per-frame error in IOD; ratio = tool / baseline (1.0 = no better than
    leaving the frames alone, 0 = perfect); frames: frames with a face in output, source and truth.
    """

    tool: float | None
    baseline: float | None
    ratio: float | None
    frames: int

    def to_dict(self) -> dict[str, object]:
        r = (lambda v: None if v is None else round(v, 4))  # noqa: E731 - local formatting helper
        return {"tool": r(self.tool), "do_nothing": r(self.baseline), "ratio": r(self.ratio), "frames": self.frames}


def error_ratio(tool_err: np.ndarray, base_err: np.ndarray, mask: np.ndarray | None = None) -> ErrorRatio:
    """Mean errors over the frames where both are finite (and `mask`), and their ratio."""
    tool_err, base_err = np.asarray(tool_err, np.float64), np.asarray(base_err, np.float64)
    ok = np.isfinite(tool_err) & np.isfinite(base_err)
    if mask is not None:
        ok &= mask
    if not ok.any():
        return ErrorRatio(None, None, None, 0)
    tool, base = float(tool_err[ok].mean()), float(base_err[ok].mean())
    return ErrorRatio(tool, base, tool / base if base > 0 else None, int(ok.sum()))


# --- motion quality -----------------------------------------------------------------------------


def lip_jitter(points: np.ndarray) -> float | None:
    """Mean absolute second difference of the lip points (IOD per frame²).

    Per frame triple (t-1, t, t+1) with a face in all three: the mean over points of
    |p(t+1) - 2 p(t) + p(t-1)|. Speech moves lips smoothly; flicker and tracking noise show here.
    """
    p = np.asarray(points, np.float64)
    if p.shape[0] < 3:
        return None
    d2 = np.linalg.norm(p[2:] - 2 * p[1:-1] + p[:-2], axis=-1).mean(axis=-1)
    d2 = d2[np.isfinite(d2)]
    return float(d2.mean()) if d2.size else None


def laplacian_variance(gray: np.ndarray) -> float:
    """Variance of the 3×3 Laplacian of a grey image (8-bit scale): the classic focus measure."""
    img = np.asarray(gray, np.float32)
    if img.size == 0:
        return float("nan")
    return float(cv2.Laplacian(img, cv2.CV_32F, ksize=1).var())


# --- pixels outside the mask -------------------------------------------------------------------


@dataclass
class OutsideDiff:
    """Accumulated comparison of output and source samples outside the edit box.

    changed: samples that differ (all planes); compared: samples compared; sse: sum of squared
    differences; max_abs: largest difference (in the format's own levels); frames_changed:
    frames with at least one changed sample; peak: the format's maximum level (255 at 8 bits).
    """

    changed: int = 0
    compared: int = 0
    sse: float = 0.0
    max_abs: int = 0
    frames_changed: int = 0
    changed_inside: int = 0
    peak: int = 255

    def add(self, source_planes: list[np.ndarray], output_planes: list[np.ndarray], box: tuple[int, int, int, int] | None) -> int:
        """Compare one frame; `box` is (x0, y0, x1, y1) in luma pixels, end exclusive, or None.

        Chroma planes use the box scaled by their subsampling, rounded outwards, so a chroma
        sample that covers any edited pixel counts as inside. Returns the frame's changed count
        outside the box; changes inside are tallied in `changed_inside` (what the tool edited).
        """
        if len(source_planes) != len(output_planes):
            raise ValueError(f"plane count differs: source {len(source_planes)}, output {len(output_planes)}")
        full_h, full_w = source_planes[0].shape
        frame_changed = 0
        for src, out in zip(source_planes, output_planes, strict=True):
            if src.shape != out.shape:
                raise ValueError(f"plane shape differs: source {src.shape}, output {out.shape}")
            outside = np.ones(src.shape, bool)
            if box is not None and box[2] > box[0] and box[3] > box[1]:
                sy, sx = full_h / src.shape[0], full_w / src.shape[1]
                y0, y1 = math.floor(box[1] / sy), math.ceil(box[3] / sy)
                x0, x1 = math.floor(box[0] / sx), math.ceil(box[2] / sx)
                outside[max(y0, 0) : max(y1, 0), max(x0, 0) : max(x1, 0)] = False
            compared = int(np.count_nonzero(outside))
            self.compared += compared
            if np.array_equal(src, out):
                continue  # the common case for a well-behaved tool: skip the arithmetic
            diff = np.abs(src.astype(np.int32) - out.astype(np.int32))
            d = diff[outside]
            changed = int(np.count_nonzero(d))
            self.changed_inside += int(np.count_nonzero(diff)) - changed
            frame_changed += changed
            self.sse += float((d.astype(np.float64) ** 2).sum())
            if d.size:
                self.max_abs = max(self.max_abs, int(d.max()))
        self.changed += frame_changed
        self.frames_changed += int(frame_changed > 0)
        return frame_changed

    @property
    def psnr_db(self) -> float:
        """PSNR outside the mask in dB; +inf when nothing changed."""
        if self.compared == 0 or self.sse == 0:
            return math.inf
        mse = self.sse / self.compared
        return 10 * math.log10(self.peak**2 / mse)


# --- summaries --------------------------------------------------------------------------------------


def median(values: list[float | None]) -> float | None:
    """Median of the non-None, finite values; None when there are none."""
    clean = [v for v in values if v is not None and math.isfinite(v)]
    return float(np.median(clean)) if clean else None


def safe_ratio(a: float | None, b: float | None) -> float | None:
    """a ÷ b, None when either is missing or b is not positive."""
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b <= 0:
        return None
    return a / b


# --- plans, phones and mouth shapes (issue #11) --------------------------------------------------

SHUT_APERTURE = 0.02
"""Lips count as shut under 2 % of the IOD (evaluation.md, closures), or under the actor's own
closed-mouth gap (`shut_threshold`), whichever is larger: some actors never read exactly 0."""

ACTOR_CLOSED_PERCENTILE = 10.0
"""The actor's own closed-mouth gap: this percentile of the source's aperture over the window."""

LIP_TEETH_APERTURE = 0.06
"""f/v: the lower lip tucked under the upper teeth leaves an inner-lip gap under 6 % of the IOD."""

PHONE_SHARE = 0.5
"""A frame is inside a phone (set) when the phone covers at least half of [n/fps, (n+1)/fps)."""

MIN_PLAN_FRAMES = 10
"""Plan fidelity needs at least this many frames with both a plan and a tracked output face."""


def pearson_r(a: np.ndarray, b: np.ndarray, min_frames: int = 3) -> float | None:
    """Pearson r over the frames where both are finite; None with fewer than `min_frames` such
    frames or when either series is constant there (r is undefined, not 0)."""
    x, y = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    n = min(x.size, y.size)
    x, y = x[:n], y[:n]
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < min_frames or np.ptp(x[ok]) == 0 or np.ptp(y[ok]) == 0:
        return None
    r = pearson(x[ok], y[ok])
    return r if math.isfinite(r) else None


def sample_series(values: np.ndarray, times: np.ndarray) -> np.ndarray:
    """A per-frame series (T,) at fractional frame positions (M,), linearly interpolated exactly
    like `sample_points` (NaN outside [0, T-1] or next to a faceless frame): (M,)."""
    v = np.asarray(values, np.float64)
    return sample_points(v[:, None, None], times)[:, 0, 0]


@dataclass(frozen=True)
class PlanFidelity:
    """How faithfully the rendered mouth follows the engine's own plan, over `frames` frames.

    r: Pearson r of output aperture against planned aperture (target ≥ 0.9).
    amplitude: std(output) ÷ std(planned) (target 0.9-1.1: the plan's range is rendered, neither
    squashed nor exaggerated). slope: least-squares slope of output on planned (1 = same scale;
    unlike amplitude it discounts the part of the output that does not follow the plan).
    """

    r: float | None
    amplitude: float | None
    slope: float | None
    frames: int

    def to_dict(self) -> dict[str, object]:
        f = (lambda v: None if v is None else round(v, 4))  # noqa: E731 - local formatting helper
        return {"r": f(self.r), "amplitude": f(self.amplitude), "slope": f(self.slope), "frames": self.frames}


def plan_fidelity(planned: np.ndarray, output: np.ndarray, min_frames: int = MIN_PLAN_FRAMES) -> PlanFidelity:
    """`PlanFidelity` of output apertures (T,) against planned ones (T,), both inner-lip gap ÷ IOD
    in the image plane, over the frames where both are finite."""
    p, o = np.asarray(planned, np.float64).ravel(), np.asarray(output, np.float64).ravel()
    n = min(p.size, o.size)
    p, o = p[:n], o[:n]
    ok = np.isfinite(p) & np.isfinite(o)
    count = int(ok.sum())
    if count < min_frames:
        return PlanFidelity(None, None, None, count)
    p, o = p[ok], o[ok]
    sp, so = float(p.std()), float(o.std())
    if sp <= 0:
        return PlanFidelity(None, None, None, count)
    slope = float(((p - p.mean()) * (o - o.mean())).mean() / sp**2)
    return PlanFidelity(pearson_r(p, o), so / sp, slope, count)


class _Timed(Protocol):
    label: str
    start_s: float
    end_s: float


def phone_coverage(phones: Sequence[_Timed], labels: Collection[str], fps: Fraction, num_frames: int) -> np.ndarray:
    """Share (0-1) of each frame's interval [n/fps, (n+1)/fps) covered by phones whose label is in
    `labels` (ARPAbet without stress, as `mytalk.core.audio.phonemes.Phone`): (num_frames,)."""
    fps = Fraction(fps)
    edges = np.arange(num_frames + 1, dtype=np.float64) * (fps.denominator / fps.numerator)
    cover = np.zeros(num_frames)
    for phone in phones:
        if phone.label not in labels or phone.end_s <= phone.start_s:
            continue
        overlap = np.minimum(edges[1:], phone.end_s) - np.maximum(edges[:-1], phone.start_s)
        cover += np.clip(overlap, 0.0, None)
    return np.minimum(cover / np.diff(edges), 1.0) if num_frames else cover


def phone_frames(
    phones: Sequence[_Timed], labels: Collection[str], fps: Fraction, num_frames: int, min_share: float = PHONE_SHARE
) -> np.ndarray:
    """Frames inside the phones `labels`: bool (num_frames,), coverage ≥ `min_share` of the frame
    (a 1e-9 tolerance keeps a phone that covers exactly half a frame inside)."""
    return phone_coverage(phones, labels, fps, num_frames) >= min_share - 1e-9


def shut_threshold(source_aperture: np.ndarray, floor: float = SHUT_APERTURE) -> float:
    """Aperture under which lips count as shut: max(2 % IOD, the actor's own closed-mouth gap =
    the 10th percentile of the source's aperture over the frames with a face)."""
    ap = np.asarray(source_aperture, np.float64)
    ap = ap[np.isfinite(ap)]
    if ap.size == 0:
        return floor
    return max(floor, float(np.percentile(ap, ACTOR_CLOSED_PERCENTILE)))


def share_below(values: np.ndarray, frames: np.ndarray, threshold: float) -> float | None:
    """Share of the `frames` (bool) with a finite value that is under `threshold`; None without any."""
    v = np.asarray(values, np.float64)
    n = min(v.size, frames.size)
    ok = np.asarray(frames[:n], bool) & np.isfinite(v[:n])
    if not ok.any():
        return None
    return float((v[:n][ok] < threshold).mean())


def mouth_width(landmarks: np.ndarray) -> np.ndarray:
    """Lip-corner distance (mesh points 61 ↔ 291) ÷ IOD in the image plane: (T,) for (T, 478, ≥2)
    landmarks, NaN without a face. Rounding ("oo") narrows it, spreading ("ee") widens it."""
    lm = np.asarray(landmarks, np.float64)
    width = np.linalg.norm(lm[:, MOUTH_CORNER_LEFT, :2] - lm[:, MOUTH_CORNER_RIGHT, :2], axis=-1)
    iod = np.linalg.norm(lm[:, LEFT_EYE_OUTER, :2] - lm[:, RIGHT_EYE_OUTER, :2], axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(iod > 1e-9, width / iod, np.nan)


def mean_ratio(values: np.ndarray, numerator: np.ndarray, denominator: np.ndarray) -> float | None:
    """mean(values[numerator]) ÷ mean(values[denominator]) over finite values (bool masks);
    None when either set is empty. The rounded ÷ spread mouth-width ratio (under 1 = distinct)."""
    v = np.asarray(values, np.float64)
    n = min(v.size, numerator.size, denominator.size)
    v = v[:n]
    a, b = v[numerator[:n] & np.isfinite(v)], v[denominator[:n] & np.isfinite(v)]
    if a.size == 0 or b.size == 0:
        return None
    return safe_ratio(float(a.mean()), float(b.mean()))
