"""Landmarks → image: the "sketch" that carries the target motion into stage 2.

The paper draws the predicted landmarks as an image for its motion encoder; IP_LAP draws lines.
Three channels, so the network can tell the parts apart without learning it from thin lines:

0. the outer lip loop (anti-aliased polyline);
1. the mouth opening: the inner lip loop filled, so the aperture (teeth or no teeth) is an area,
   not two nearly touching lines;
2. the jaw line and the context points (nose base, cheeks, face outline), for where the chin goes.

Drawn with OpenCV in crop pixel-index coordinates (`CropGeometry.to_crop`) at 1/16 px precision,
so sub-pixel motion still changes the sketch.
"""

from __future__ import annotations

import cv2
import numpy as np

from mytalk.core.engines.mytalk.landmarks import (
    JAW_POS,
    LIPS_INNER_POS,
    LIPS_OUTER_POS,
    NUM_CONTENT,
    CropGeometry,
)

SKETCH_CHANNELS = 3
_SHIFT = 4


def _fixed(points: np.ndarray) -> np.ndarray:
    return np.round(points * (1 << _SHIFT)).astype(np.int32)


def rasterize(points: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """Sketch of one frame: canonical points (P, 2) → float32 (3, size, size) in [0, 1].

    Non-finite points (a frame without a face) give an empty sketch.
    """
    s = geometry.size
    out = np.zeros((SKETCH_CHANNELS, s, s), np.uint8)
    p = np.asarray(points, np.float64)
    if not np.isfinite(p).all():
        return out.astype(np.float32)
    px = geometry.to_crop(p)
    thickness = max(1, s // 96)
    cv2.polylines(out[0], [_fixed(px[LIPS_OUTER_POS])], True, 255, thickness, cv2.LINE_AA, _SHIFT)
    cv2.fillPoly(out[1], [_fixed(px[LIPS_INNER_POS])], 255, cv2.LINE_AA, _SHIFT)
    cv2.polylines(out[2], [_fixed(px[JAW_POS])], False, 255, thickness, cv2.LINE_AA, _SHIFT)
    radius = max(1, s // 128)
    for x, y in _fixed(px[NUM_CONTENT:]):
        cv2.circle(out[2], (int(x), int(y)), radius << _SHIFT, 255, -1, cv2.LINE_AA, _SHIFT)
    return out.astype(np.float32) * np.float32(1.0 / 255.0)


def rasterize_batch(points: np.ndarray, geometry: CropGeometry) -> np.ndarray:
    """Sketches of many frames: (N, P, 2) → float32 (N, 3, size, size)."""
    p = np.asarray(points)
    if p.shape[0] == 0:
        return np.zeros((0, SKETCH_CHANNELS, geometry.size, geometry.size), np.float32)
    return np.stack([rasterize(q, geometry) for q in p])
