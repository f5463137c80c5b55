"""Worst-frame figures of the painted mouth (issue #12): the blur tail, specks and in-mouth flicker.

A mean sharpness ratio hides the frames that matter: one soft frame in ten reads as a glitch even
when the mean matches the shot. So the dub protocol also measures, per clip:

- **sharpness p10 (open frames)**: the 10th percentile of the per-frame ratio output ÷ source of
  the Laplacian variance in the lip box, over the frames whose output mouth is at least as open as
  the source's (`OPEN_SLACK_IOD`). A mouth closed over an open one legitimately loses the teeth's
  edges; that is not blur, so those frames are left out.
- **speck ratio**: isolated pixels inside the lips' outline (the outer lip loop, grown by
  `SPECK_MARGIN_IOD`) whose grey level differs by more than `SPECK_LEVELS` from all eight
  neighbours, all in the same direction: single bright or dark dots that no real mouth has at
  this scale. Counted over the window in output and source; the ratio is (output + 1) ÷ (source + 1),
  so a clean source (0 specks) still gives a ratio, and one speck more over a whole window reads 2.
- **flicker ratio**: the mean absolute second temporal difference of grey levels in a
  face-aligned mouth crop, output ÷ source. Each frame is resampled into the canonical face frame
  (`core.face.canonical`) with the *source* frame's transform, so head motion cancels in both
  series alike; a second difference is near 0 for smooth motion and large for a frame that jumps
  and comes back (a retrieval switch, a speck that blinks).

Every figure compares the output with the source over the same frames, so a clip's noise, grain
and codec drop out of the ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from mytalk.core.face.canonical import apply_transform, invert_transform, similarity_to_canonical
from mytalk.core.face.regions import LIPS_OUTER

OPEN_SLACK_IOD = 0.005
"""A frame counts as "output at least as open" when its aperture is no more than this (IOD) under the
source's: the tracker's own frame-to-frame noise on a still mouth."""

SPECK_LEVELS = 24.0
"""8-bit grey levels by which a speck differs from every neighbour; source grain on the shared clips
rarely makes a single pixel stand this far from all eight around it."""

SPECK_MARGIN_IOD = 0.05
"""The speck search covers the lips and this margin around them (lip line and corners included)."""

FLICKER_CROP = (-0.55, 0.55, 0.45, 1.25)
"""(x0, x1, y0, y1) of the face-aligned mouth crop in canonical units (IOD; eyes at y = 0): from cheek
to cheek, nose base to chin, which covers the lips at any opening."""

FLICKER_PX_PER_IOD = 80
"""Resolution of the flicker crop; faces smaller than this are upsampled, which only smooths both series alike."""

P10 = 10.0


def lip_outline_mask(landmarks: np.ndarray, box: tuple[int, int, int, int], margin_px: float) -> np.ndarray:
    """Bool (h, w) over `box`: inside the outer lip loop grown by `margin_px` (convex hull)."""
    x0, y0, x1, y1 = box
    pts = np.asarray(landmarks, np.float64)[list(LIPS_OUTER), :2] - [x0, y0]
    if margin_px > 0:
        circle = np.stack([np.cos(np.linspace(0, 2 * np.pi, 16, endpoint=False)),
                           np.sin(np.linspace(0, 2 * np.pi, 16, endpoint=False))], axis=1)
        pts = (pts[:, None, :] + margin_px * circle[None]).reshape(-1, 2)
    hull = cv2.convexHull(pts.astype(np.float32)).reshape(-1, 2)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    cv2.fillPoly(canvas, [np.round(hull - 0.5).astype(np.int32)], 1)
    return canvas.astype(bool)


def speck_count(gray: np.ndarray, mask: np.ndarray, threshold: float = SPECK_LEVELS) -> int:
    """Pixels under `mask` (not on the image border) brighter than all 8 neighbours by more than
    `threshold`, or darker than all of them by more than it."""
    g = np.asarray(gray, np.float32)
    if g.shape[0] < 3 or g.shape[1] < 3:
        return 0
    c = g[1:-1, 1:-1]
    lo = np.full(c.shape, np.inf, np.float32)
    hi = np.full(c.shape, -np.inf, np.float32)
    for dy in (0, 1, 2):
        for dx in (0, 1, 2):
            if dy == 1 and dx == 1:
                continue
            n = g[dy : dy + c.shape[0], dx : dx + c.shape[1]]
            lo = np.minimum(lo, n)
            hi = np.maximum(hi, n)
    specks = ((c - hi) > threshold) | ((lo - c) > threshold)
    return int(np.count_nonzero(specks & np.asarray(mask, bool)[1:-1, 1:-1]))


def canonical_mouth_crop(gray: np.ndarray, landmarks: np.ndarray, px_per_iod: int = FLICKER_PX_PER_IOD) -> np.ndarray:
    """Float32 grey crop `FLICKER_CROP` of the canonical face frame, resampled from `gray` with the face's
    similarity transform (bilinear)."""
    transform, _ = similarity_to_canonical(np.asarray(landmarks, np.float64)[:, :2])
    x0, x1, y0, y1 = FLICKER_CROP
    w, h = int(round((x1 - x0) * px_per_iod)), int(round((y1 - y0) * px_per_iod))
    # Output pixel (i, j) centre sits at canonical (x0 + (i + 0.5) / k, y0 + (j + 0.5) / k).
    k = float(px_per_iod)
    corners = np.array([[x0 + 0.5 / k, y0 + 0.5 / k], [x0 + 1.5 / k, y0 + 0.5 / k], [x0 + 0.5 / k, y0 + 1.5 / k]])
    src = apply_transform(corners, invert_transform(transform)) - 0.5  # cv2 pixel-centre convention
    dst = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    m = cv2.getAffineTransform(dst.astype(np.float32), src.astype(np.float32))
    return cv2.warpAffine(np.asarray(gray, np.float32), m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                          borderMode=cv2.BORDER_REPLICATE)


def _laplacian_variance(gray: np.ndarray) -> float:
    img = np.asarray(gray, np.float32)
    return float(cv2.Laplacian(img, cv2.CV_32F, ksize=1).var()) if img.size else float("nan")


@dataclass
class MouthDetail:
    """Accumulates the worst-frame figures over a window, one frame pair at a time (memory: two crops)."""

    frames: list[int] = field(default_factory=list)
    sharp_out: list[float] = field(default_factory=list)
    sharp_src: list[float] = field(default_factory=list)
    open_enough: list[bool] = field(default_factory=list)
    specks_out: int = 0
    specks_src: int = 0
    _crops: list[tuple[np.ndarray, np.ndarray] | None] = field(default_factory=list)
    _flicker_out: float = 0.0
    _flicker_src: float = 0.0
    _flicker_n: int = 0

    def add(self, index: int, out_gray: np.ndarray, src_gray: np.ndarray, landmarks: np.ndarray | None,
            box: tuple[int, int, int, int] | None, out_aperture: float, src_aperture: float) -> None:
        """Frame `index`: grey images (full frame, 8-bit scale), the source's landmarks (None: no face),
        its lip box (x0, y0, x1, y1) and the tracked apertures (IOD; NaN when not tracked)."""
        if landmarks is None or box is None:
            self._push(None)
            return
        h, w = src_gray.shape
        x0, y0, x1, y1 = max(box[0], 0), max(box[1], 0), min(box[2], w), min(box[3], h)
        if x1 - x0 < 3 or y1 - y0 < 3:
            self._push(None)
            return
        self.frames.append(int(index))
        self.sharp_out.append(_laplacian_variance(out_gray[y0:y1, x0:x1]))
        self.sharp_src.append(_laplacian_variance(src_gray[y0:y1, x0:x1]))
        self.open_enough.append(bool(np.isfinite(out_aperture) and np.isfinite(src_aperture)
                                     and out_aperture >= src_aperture - OPEN_SLACK_IOD))
        iod = float(np.linalg.norm(landmarks[263, :2] - landmarks[33, :2]))
        lips = lip_outline_mask(landmarks, (x0, y0, x1, y1), SPECK_MARGIN_IOD * iod)
        self.specks_out += speck_count(out_gray[y0:y1, x0:x1], lips)
        self.specks_src += speck_count(src_gray[y0:y1, x0:x1], lips)
        self._push((canonical_mouth_crop(out_gray, landmarks), canonical_mouth_crop(src_gray, landmarks)))

    def _push(self, crops: tuple[np.ndarray, np.ndarray] | None) -> None:
        self._crops.append(crops)
        if len(self._crops) > 3:
            self._crops.pop(0)
        if len(self._crops) == 3 and all(c is not None for c in self._crops):
            (o0, s0), (o1, s1), (o2, s2) = self._crops  # type: ignore[misc]
            self._flicker_out += float(np.abs(o2 - 2 * o1 + o0).mean())
            self._flicker_src += float(np.abs(s2 - 2 * s1 + s0).mean())
            self._flicker_n += 1

    def figures(self) -> dict[str, float | int | None]:
        """sharpness_p10_open, open_frames, speck counts and ratio, flicker values and ratio (None: not measurable)."""
        out, src = np.asarray(self.sharp_out), np.asarray(self.sharp_src)
        ok = np.isfinite(out) & np.isfinite(src) & (src > 0) & np.asarray(self.open_enough, bool)
        p10 = float(np.percentile(out[ok] / src[ok], P10)) if ok.sum() >= 5 else None
        speck_ratio = (self.specks_out + 1) / (self.specks_src + 1)
        flicker_ratio = (self._flicker_out / self._flicker_src
                         if self._flicker_n and self._flicker_src > 0 else None)
        return {
            "sharpness_p10_open": p10,
            "open_frames": int(ok.sum()),
            "specks_output": self.specks_out,
            "specks_source": self.specks_src,
            "speck_ratio": speck_ratio,
            "flicker_output": self._flicker_out / self._flicker_n if self._flicker_n else None,
            "flicker_source": self._flicker_src / self._flicker_n if self._flicker_n else None,
            "flicker_ratio": flicker_ratio,
        }

    def worst_open_frames(self, count: int = 4) -> list[int]:
        """The `count` frame indices with the lowest open-frame sharpness ratio: what the worst-frame
        contact sheet shows."""
        out, src = np.asarray(self.sharp_out), np.asarray(self.sharp_src)
        ok = np.isfinite(out) & np.isfinite(src) & (src > 0) & np.asarray(self.open_enough, bool)
        ratio = np.where(ok, out / np.where(src > 0, src, 1.0), np.inf)
        order = [int(i) for i in np.argsort(ratio, kind="stable") if np.isfinite(ratio[i])]
        return [self.frames[i] for i in order[:count]]
