"""The evaluation's own lower-face region, and which decoded pixels of an output differ from the source.

The product bounds every edit by a documented region (`mytalk.core.composite.masks.edit_region`). The
suite checks that bound with its own geometry, from the tracked landmarks alone, never from the engine's
reported mask box: the hull of the jaw from cheek to cheek below the eyes (234 ... chin 152 ... 454), the
nose base (98, 2, 327) and the outer lips, grown by a true disc of 10 % of the face width (234 ↔ 454).
A sample that differs counts against every pixel it covers (a 4:2:0 chroma sample covers 2 × 2 pixels).
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from benchmarks.eval.mediaio import frame_planes

JAW = (234, 93, 132, 58, 172, 136, 150, 149, 176, 148, 152, 377, 400, 378, 379, 365, 397, 288, 361, 323, 454)
NOSE_BASE = (98, 2, 327)
OUTER_LIPS = (61, 146, 91, 181, 84, 17, 314, 405, 321, 375, 291, 409, 270, 269, 267, 0, 37, 39, 40, 185)
FACE_SIDES = (234, 454)
MARGIN = 0.10


def region_mask(landmarks: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Bool (height, width): pixel centres within 10 % of the face width of the lower-face hull."""
    w, h = size
    pts = np.asarray(landmarks, np.float64)[:, :2]
    hull = cv2.convexHull(pts[list(JAW + NOSE_BASE + OUTER_LIPS)].astype(np.float32)).reshape(-1, 2)
    canvas = np.zeros((h, w), np.uint8)
    cv2.fillPoly(canvas, [np.round((hull - 0.5) * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
    radius = MARGIN * float(np.linalg.norm(pts[FACE_SIDES[0]] - pts[FACE_SIDES[1]]))
    # The exact distance of every pixel centre from the hull: a disc, not a polygon approximation of one.
    distance = cv2.distanceTransform((1 - canvas).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance <= radius


def changed_pixels(source: av.VideoFrame, output: av.VideoFrame) -> np.ndarray:
    """Bool (height, width): True where any plane's sample covering the pixel differs, in the source's format."""
    src, out = frame_planes(source), frame_planes(output)
    h, w = src[0].shape
    changed = np.zeros((h, w), bool)
    for a, b in zip(src, out, strict=True):
        diff = a != b
        if diff.shape != (h, w):
            diff = cv2.resize(diff.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST).astype(bool)
        changed |= diff
    return changed
