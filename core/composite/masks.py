"""Feathered mouth and lower-face masks from 478-point face-mesh landmarks.

A mask is a box in frame pixels plus a float alpha inside it. Everything the compositor may change lies
inside the box, and alpha says by how much; alpha is exactly 0 at and beyond the soft edge, so the
preserve check ("nothing changed outside the mask") has a sharp, reproducible answer.

Construction, for both modes:

1. A convex polygon from the landmarks (sub-pixel, anti-aliased fill). MOUTH: the outer lip loop dilated
   by a margin of `MOUTH_MARGIN` x mouth width. LOWER_FACE: the jaw line `LOWER_FACE_JAW` (132 ... chin 152
   ... 361) closed across `LOWER_FACE_TOP` under the nose, plus the MOUTH polygon, so a lower-face mask
   always contains the mouth mask. The chin is pushed out by the feather so its edge is at full strength;
   the jaw ends under the ears are pulled in by it so the ramp stops on the face outline.
2. A Gaussian feather whose kernel is truncated at `feather_px`: alpha is 1 at `feather_px` inside the
   polygon's soft edge and exactly 0 at `feather_px` outside it. `feather_px` defaults to
   `FEATHER_PER_IOD` x the distance between the eye centres (`iod_eye_centres`), so the ramp scales with the face.
3. A nose cap: alpha is multiplied by a smooth ramp that is 0 on the line through the subnasale (parallel to
   the eye line) and 1 from the highest point of the upper lip down, so neither mode bleeds into the
   nostrils while the whole lip stays at full strength.

Every step is continuous in the landmarks (no thresholds), so landmark jitter moves alpha by a little.
The box is aligned outwards to a 2-pixel grid so a 4:2:0 or 4:2:2 chroma sample never straddles its edge.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import StrEnum

import cv2
import numpy as np

from mytalk.core.errors import UsageError
from mytalk.core.face import regions
from mytalk.core.face.canonical import iod_eye_centres

Box = tuple[int, int, int, int]

FEATHER_PER_IOD = 0.10
"""Default soft-edge half-width as a fraction of the inter-ocular distance (about 11 px on a 512 px HDTF face)."""

MOUTH_MARGIN = 0.15
"""Full-strength margin around the outer lip loop, as a fraction of the mouth width (corner to corner)."""

BOX_GRID = 2
"""Mask boxes start and end on even pixels: chroma-safe for 4:2:0 and 4:2:2."""

_AA_SHIFT = 4  # cv2 fixed-point bits: polygon vertices at 1/16 px
_CIRCLE = np.stack(
    [np.cos(np.linspace(0, 2 * np.pi, 24, endpoint=False)), np.sin(np.linspace(0, 2 * np.pi, 24, endpoint=False))],
    axis=1,
)
_ALPHA_EPS = 1e-6  # float32 noise of the normalised blur kernel, not a visual threshold

EDIT_GUARD_PX = 2.0
"""Pixels inside the edit region's edge that are never changed (`Mask.within`): a 4:2:0 chroma sample spans
2 × 2 pixels, and the pixel distance transform is exact to well under a pixel. An interlaced 4:2:0 frame's
samples span rows two apart; the compositor keeps its edits one row further in (`compositor._field_guard`)."""


class MaskMode(StrEnum):
    """Which part of the face the compositor may change."""

    MOUTH = "mouth"
    """Lips plus a margin: for dialogue where the jaw barely moves."""
    LOWER_FACE = "lower-face"
    """Mouth, jaw and chin up to below the nose: for wide openings, where the jaw must follow the lips."""


@dataclass
class Mask:
    """Where and how strongly a frame may change.

    `box` is ``(x0, y0, x1, y1)`` in frame pixels, end exclusive, on the 2-px grid (x1/y1 may equal an odd
    frame size) and covers every nonzero alpha. `alpha` is float32 ``(y1 - y0, x1 - x0)`` in [0, 1].
    `feather_px` is the soft-edge half-width that made it (0 for hand-made masks).
    """

    box: Box
    alpha: np.ndarray
    feather_px: float = 0.0
    mode: MaskMode | None = None
    frame_size: tuple[int, int] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        x0, y0, x1, y1 = (int(v) for v in self.box)
        self.box = (x0, y0, x1, y1)
        self.alpha = np.asarray(self.alpha, dtype=np.float32)
        if self.alpha.shape != (max(y1 - y0, 0), max(x1 - x0, 0)):
            raise UsageError(f"mask alpha has shape {self.alpha.shape}, box {self.box} needs {(y1 - y0, x1 - x0)}")

    @classmethod
    def empty(cls, frame_size: tuple[int, int] | None = None) -> Mask:
        """The mask of a frame without a face: a zero-area box, so the compositor passes the frame through."""
        return cls((0, 0, 0, 0), np.zeros((0, 0), np.float32), frame_size=frame_size)

    @property
    def is_empty(self) -> bool:
        """True when nothing may change (zero-area box or all-zero alpha)."""
        return self.alpha.size == 0 or not bool(self.alpha.max() > 0)

    @property
    def support(self) -> np.ndarray:
        """Bool (h, w): the pixels of the box where alpha > 0, i.e. where the frame may change."""
        return self.alpha > 0

    def full_frame_alpha(self, frame_size: tuple[int, int]) -> np.ndarray:
        """Float32 (height, width) alpha over the whole frame (for reports and evaluation, not the hot path)."""
        w, h = frame_size
        out = np.zeros((h, w), np.float32)
        x0, y0, x1, y1 = self.box
        out[y0:y1, x0:x1] = self.alpha
        return out

    def union(self, other: Mask) -> Mask:
        """Pointwise maximum of two masks, e.g. source-mouth and generated-mouth masks of one frame."""
        if self.is_empty:
            return other
        if other.is_empty:
            return self
        box = (
            min(self.box[0], other.box[0]), min(self.box[1], other.box[1]),
            max(self.box[2], other.box[2]), max(self.box[3], other.box[3]),
        )
        alpha = np.zeros((box[3] - box[1], box[2] - box[0]), np.float32)
        for m in (self, other):
            x0, y0, x1, y1 = m.box
            sub = alpha[y0 - box[1] : y1 - box[1], x0 - box[0] : x1 - box[0]]
            np.maximum(sub, m.alpha, out=sub)
        return Mask(box, alpha, max(self.feather_px, other.feather_px), self.mode, self.frame_size or other.frame_size)

    def within(self, polygon: np.ndarray, guard_px: float = EDIT_GUARD_PX, ramp_px: float = 2.0) -> Mask:
        """This mask bounded by a convex `polygon` ((K, 2) continuous frame px): alpha is multiplied by a ramp
        that is exactly 0 outside the polygon and within `guard_px` of its edge, and reaches 1 `ramp_px`
        further in. The guard keeps the chroma samples (2 × 2 px in 4:2:0) that the compositor rewrites for
        an edited pixel inside the polygon too, so not one decoded pixel outside it changes."""
        if self.is_empty:
            return self
        x0, y0, x1, y1 = self.box
        canvas = np.zeros((y1 - y0 + 2, x1 - x0 + 2), np.uint8)  # a zero border: distances run to the box edge
        pts = np.round((np.asarray(polygon, np.float64)[:, :2] - [x0 - 1 + 0.5, y0 - 1 + 0.5]) * (1 << _AA_SHIFT))
        cv2.fillPoly(canvas, [pts.astype(np.int32)], 1, lineType=cv2.LINE_8, shift=_AA_SHIFT)
        inside = cv2.distanceTransform(canvas, cv2.DIST_L2, cv2.DIST_MASK_PRECISE)[1:-1, 1:-1]
        weight = np.clip((inside - np.float32(guard_px)) / np.float32(max(ramp_px, 1e-3)), 0.0, 1.0)
        alpha = self.alpha * weight.astype(np.float32)
        alpha[alpha < _ALPHA_EPS] = 0.0
        box, alpha = _tighten(self.box, alpha, self.frame_size or (x1, y1))
        if alpha.size == 0:
            return Mask.empty(self.frame_size)
        return Mask(box, np.ascontiguousarray(alpha), self.feather_px, self.mode, self.frame_size)

    def with_box(self, box: Box) -> Mask:
        """The same alpha re-framed in a larger box (zeros around), e.g. to keep a box steady over frames."""
        x0, y0, x1, y1 = box
        bx0, by0, bx1, by1 = self.box
        if not (x0 <= bx0 and y0 <= by0 and bx1 <= x1 and by1 <= y1):
            raise UsageError(f"box {box} does not contain the mask box {self.box}")
        alpha = np.zeros((y1 - y0, x1 - x0), np.float32)
        alpha[by0 - y0 : by1 - y0, bx0 - x0 : bx1 - x0] = self.alpha
        return Mask(box, alpha, self.feather_px, self.mode, self.frame_size)


def _dilate_convex(points: np.ndarray, radius: float) -> np.ndarray:
    """Convex hull of `points` grown by `radius` px (Minkowski sum with a 24-gon): continuous in the points."""
    if radius > 0:
        points = (points[:, None, :] + radius * _CIRCLE[None, :, :]).reshape(-1, 2)
    return cv2.convexHull(points.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _mouth_polygon(pts: np.ndarray, feather: float) -> np.ndarray:
    lips = pts[list(regions.LIPS_OUTER)]
    width = float(np.linalg.norm(pts[regions.MOUTH_CORNER_RIGHT] - pts[regions.MOUTH_CORNER_LEFT]))
    # The polygon edge is the 50 % line of the feather: grow by margin + feather so the lips and the
    # margin stay at full strength whatever the feather.
    return _dilate_convex(lips, MOUTH_MARGIN * width + feather)


def _lower_face_polygon(pts: np.ndarray, feather: float) -> np.ndarray:
    centre = pts[list(regions.LIPS_OUTER)].mean(axis=0)
    jaw = pts[list(regions.LOWER_FACE_JAW)]
    away = jaw - centre
    away /= np.maximum(np.linalg.norm(away, axis=1, keepdims=True), 1e-6)
    # The chin moves with the mouth, the jaw ends under the ears do not, and past them lie hair, ears and
    # earrings that a donor frame will not match. So the chin is pushed out by the feather (its edge at full
    # strength) and the ends pulled in by it (the ramp ends on the face outline), smoothly in between.
    t = np.linspace(0.0, 1.0, len(jaw))[:, None]
    away *= feather * (2.0 * np.sin(np.pi * t) - 1.0)
    top = pts[list(regions.LOWER_FACE_TOP)]
    outline = np.concatenate([jaw + away, top, _mouth_polygon(pts, feather)])
    return cv2.convexHull(outline.astype(np.float32)).reshape(-1, 2).astype(np.float64)


def _nose_cap(pts: np.ndarray, box: Box) -> np.ndarray:
    """Float32 (h, w) ramp: 0 above the subnasale line, 1 below the highest lip point (smoothstep between)."""
    right = (pts[regions.RIGHT_EYE_OUTER] + pts[regions.RIGHT_EYE_INNER]) / 2
    left = (pts[regions.LEFT_EYE_OUTER] + pts[regions.LEFT_EYE_INNER]) / 2
    eye = left - right
    down = np.array([-eye[1], eye[0]]) / max(float(np.linalg.norm(eye)), 1e-6)
    if np.dot(pts[regions.CHIN] - pts[regions.SUBNASALE], down) < 0:
        down = -down
    start = float(np.dot(pts[regions.SUBNASALE], down))
    # Full strength from the highest lip point down (the cupid's bow peaks sit above the midline point 0);
    # a minimum over points is still continuous in them.
    lip_top = float((pts[list(regions.LIPS_OUTER)] @ down).min())
    length = max(lip_top - start, 1.0)
    x0, y0, x1, y1 = box
    xs = np.arange(x0, x1, dtype=np.float64) + 0.5
    ys = np.arange(y0, y1, dtype=np.float64) + 0.5
    t = (xs[None, :] * down[0] + ys[:, None] * down[1] - start) / length
    t = np.clip(t, 0.0, 1.0)
    return (t * t * (3.0 - 2.0 * t)).astype(np.float32)


def _align_box(x0: float, y0: float, x1: float, y1: float, frame_size: tuple[int, int]) -> Box:
    w, h = frame_size
    ax0 = max(int(math.floor(x0 / BOX_GRID)) * BOX_GRID, 0)
    ay0 = max(int(math.floor(y0 / BOX_GRID)) * BOX_GRID, 0)
    ax1 = min(int(math.ceil(x1 / BOX_GRID)) * BOX_GRID, w)
    ay1 = min(int(math.ceil(y1 / BOX_GRID)) * BOX_GRID, h)
    return ax0, ay0, max(ax1, ax0), max(ay1, ay0)


def _feathered_polygon(polygon: np.ndarray, feather: float, frame_size: tuple[int, int]) -> tuple[Box, np.ndarray]:
    """Anti-aliased fill of `polygon` blurred by a Gaussian truncated at `feather` px, in an aligned box."""
    radius = max(int(math.ceil(feather)), 1)
    pad = radius + 2 + 2 * BOX_GRID  # AA edge pixel, kernel reach, then a zero border the tightening keeps
    lo = np.floor(polygon.min(axis=0)) - pad
    hi = np.ceil(polygon.max(axis=0)) + pad
    box = _align_box(lo[0], lo[1], hi[0], hi[1], frame_size)
    if box[2] <= box[0] or box[3] <= box[1]:
        return (0, 0, 0, 0), np.zeros((0, 0), np.float32)
    # Canvas over the unclipped extent, so a face at the frame edge is not faded by the blur's border.
    cx0, cy0 = int(min(lo[0], box[0])), int(min(lo[1], box[1]))
    cx1, cy1 = int(max(hi[0], box[2])), int(max(hi[1], box[3]))
    canvas = np.zeros((cy1 - cy0, cx1 - cx0), np.uint8)
    # Landmarks are continuous coordinates (pixel i spans [i, i+1)); cv2 puts integer coordinates at pixel
    # centres, hence the half-pixel shift.
    fixed = np.round((polygon - [cx0 + 0.5, cy0 + 0.5]) * (1 << _AA_SHIFT)).astype(np.int32)
    cv2.fillPoly(canvas, [fixed], 255, lineType=cv2.LINE_AA, shift=_AA_SHIFT)
    coverage = canvas.astype(np.float32) * np.float32(1.0 / 255.0)
    sigma = radius / 2.5
    blurred = cv2.GaussianBlur(coverage, (2 * radius + 1, 2 * radius + 1), sigma, borderType=cv2.BORDER_CONSTANT)
    return box, np.asarray(blurred[box[1] - cy0 : box[3] - cy0, box[0] - cx0 : box[2] - cx0], dtype=np.float32)


def _tighten(box: Box, alpha: np.ndarray, frame_size: tuple[int, int]) -> tuple[Box, np.ndarray]:
    """Shrink the box to the aligned bounds of nonzero alpha plus a 2-px border (less work downstream)."""
    rows = np.flatnonzero(alpha.any(axis=1))
    cols = np.flatnonzero(alpha.any(axis=0))
    if rows.size == 0:
        return (0, 0, 0, 0), np.zeros((0, 0), np.float32)
    x0, y0 = box[0], box[1]
    # One grid step of zeros all round (where the frame allows): alpha is 0 on the box border, and the
    # blend sees a little untouched context.
    g = BOX_GRID
    nb = _align_box(x0 + cols[0] - g, y0 + rows[0] - g, x0 + cols[-1] + 1 + g, y0 + rows[-1] + 1 + g, frame_size)
    nb = (max(nb[0], box[0]), max(nb[1], box[1]), min(nb[2], box[2]), min(nb[3], box[3]))
    return nb, alpha[nb[1] - y0 : nb[3] - y0, nb[0] - x0 : nb[2] - x0]


def mouth_mask(
    landmarks: np.ndarray | None,
    frame_size: tuple[int, int],
    mode: MaskMode | str = MaskMode.MOUTH,
    feather_px: float | None = None,
) -> Mask:
    """The feathered mask of one frame.

    `landmarks`: (478, 2) or (478, 3) face-mesh points in frame pixels (z ignored; 468 points without the
    irises also work); None, or non-finite
    points, for a frame without a face, which gets `Mask.empty()`. `frame_size`: (width, height) px.
    `feather_px`: soft-edge half-width in px (alpha goes 0 -> 1 over 2 x feather_px); None scales it with
    the face: `FEATHER_PER_IOD` x inter-ocular distance.
    """
    mode = MaskMode(mode)
    w, h = (int(v) for v in frame_size)
    if w <= 0 or h <= 0:
        raise UsageError(f"frame size {frame_size} must be a positive (width, height)")
    if landmarks is None:
        return Mask.empty((w, h))
    pts = np.asarray(landmarks, dtype=np.float64)
    # 468 points (a mesh without the refined irises) carry every index the masks read.
    if pts.ndim != 2 or pts.shape[0] not in (468, regions.NUM_LANDMARKS) or pts.shape[1] not in (2, 3):
        raise UsageError(f"landmarks must be ({regions.NUM_LANDMARKS}, 2 or 3) pixels, got {pts.shape}")
    pts = pts[:, :2]
    if not np.isfinite(pts).all():
        return Mask.empty((w, h))
    iod = iod_eye_centres(pts)
    if iod < 2.0:
        return Mask.empty((w, h))
    feather = FEATHER_PER_IOD * iod if feather_px is None else float(feather_px)
    if feather < 0 or not math.isfinite(feather):
        raise UsageError(f"feather {feather_px} px must be a finite number >= 0")
    feather = max(feather, 1.0)
    polygon = _mouth_polygon(pts, feather) if mode is MaskMode.MOUTH else _lower_face_polygon(pts, feather)
    box, alpha = _feathered_polygon(polygon, feather, (w, h))
    if alpha.size == 0:
        return Mask.empty((w, h))
    alpha *= _nose_cap(pts, box)
    alpha[alpha < _ALPHA_EPS] = 0.0
    alpha[alpha > 1.0 - _ALPHA_EPS] = 1.0
    box, alpha = _tighten(box, alpha, (w, h))
    if alpha.size == 0:
        return Mask.empty((w, h))
    return Mask(box, np.ascontiguousarray(alpha), feather, mode, (w, h))


def edit_region(landmarks: np.ndarray) -> np.ndarray:
    """The documented lower-face region an engine may change at all, as a convex polygon (K, 2) in frame px:
    the hull of `regions.EDIT_REGION_POINTS` (jaw from cheek to cheek below the eyes, nose base, outer lips)
    grown by `regions.EDIT_REGION_MARGIN` × the face width. Every engine bounds its mask with it
    (`edit_mask`), so a warp, a blend or a feather can never reach the eyes, the ears or the background."""
    pts = np.asarray(landmarks, np.float64)[:, :2]
    a, b = regions.FACE_WIDTH_POINTS
    width = float(np.linalg.norm(pts[a] - pts[b]))
    return _dilate_convex(pts[list(regions.EDIT_REGION_POINTS)], regions.EDIT_REGION_MARGIN * width)


def edit_mask(
    source: np.ndarray, target: np.ndarray, frame_size: tuple[int, int], mode: MaskMode | str = MaskMode.MOUTH
) -> Mask:
    """What an engine may change in one frame: the union of the masks of the frame's own landmarks (`source`)
    and of the planned ones (`target`), bounded by the `edit_region` of the frame's own face."""
    mask = mouth_mask(source, frame_size, mode).union(mouth_mask(target, frame_size, mode))
    if mask.is_empty:
        return mask
    return mask.within(edit_region(source))


class MaskStabiliser:
    """Smooths masks over a shot: landmarks by an exponential moving average, the box by hysteresis.

    The mask of each frame is the union of the smoothed-landmark mask and the current one, so the current
    mouth is always covered while the edge does not shimmer with tracker noise. The box starts with half of
    `box_slack_px` of zeros all round, grows to cover each new mask, and is only re-fitted when it exceeds
    the new mask by more than `box_slack_px` on a side, so the crop the generator sees does not jitter in
    2 px steps. Call `reset()` at a cut; a frame without a face resets too.
    """

    def __init__(
        self,
        frame_size: tuple[int, int],
        mode: MaskMode | str = MaskMode.MOUTH,
        feather_px: float | None = None,
        smoothing: float = 0.6,
        box_slack_px: int = 8,
    ) -> None:
        if not 0.0 <= smoothing < 1.0:
            raise UsageError(f"mask smoothing {smoothing} must be in [0, 1)")
        self.frame_size = (int(frame_size[0]), int(frame_size[1]))
        self.mode = MaskMode(mode)
        self.feather_px = feather_px
        self.smoothing = smoothing
        self.box_slack_px = box_slack_px
        self._landmarks: np.ndarray | None = None
        self._box: Box | None = None

    def reset(self) -> None:
        """Forget the history (at a shot cut or after a frame without a face)."""
        self._landmarks = None
        self._box = None

    def update(self, landmarks: np.ndarray | None) -> Mask:
        """The stabilised mask of the next frame; `landmarks` as for `mouth_mask` (None: no face)."""
        if landmarks is None or not np.isfinite(np.asarray(landmarks, dtype=np.float64)[:, :2]).all():
            self.reset()
            return Mask.empty(self.frame_size)
        pts = np.asarray(landmarks, dtype=np.float64)[:, :2]
        if self._landmarks is None:
            self._landmarks = pts.copy()
        else:
            self._landmarks = self.smoothing * self._landmarks + (1.0 - self.smoothing) * pts
        current = mouth_mask(pts, self.frame_size, self.mode, self.feather_px)
        smoothed = mouth_mask(self._landmarks, self.frame_size, self.mode, self.feather_px)
        mask = current.union(smoothed)
        if mask.is_empty:
            self._box = None
            return mask
        x0, y0, x1, y1 = mask.box
        slack = self.box_slack_px
        if self._box is not None:
            # Grow to cover the new mask; keep the box while it is no more than `slack` px too big per side.
            px0, py0, px1, py1 = self._box
            ux0, uy0, ux1, uy1 = min(px0, x0), min(py0, y0), max(px1, x1), max(py1, y1)
            if x0 - ux0 <= slack and y0 - uy0 <= slack and ux1 - x1 <= slack and uy1 - y1 <= slack:
                self._box = (ux0, uy0, ux1, uy1)
                return mask.with_box(self._box)
        # A fresh box with half the slack all round, so tracker noise does not move it at the next frame.
        pad = (slack // 2) // BOX_GRID * BOX_GRID
        w, h = self.frame_size
        self._box = (max(x0 - pad, 0), max(y0 - pad, 0), min(x1 + pad, w), min(y1 + pad, h))
        return mask.with_box(self._box)
