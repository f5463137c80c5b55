"""Piecewise-affine image warps over a triangulation of face-mesh points.

A warp is given by corresponding points: `src` in the image to sample and `dst` where those points
must land in the output box. The output box is covered by the Delaunay triangles of `dst`; every
output pixel inside a triangle takes the affine map of that triangle to find where to sample.

Implementation, for speed on the CPU: the triangle of each output pixel is rasterised once into
an index image (one `cv2.fillConvexPoly` per triangle, no per-pixel Python), the per-triangle
affine maps are solved in one batched `np.linalg.solve`, and the sample positions are built with a
gather and sampled by one `cv2.remap`. With ``step`` > 1 the map is computed on a coarser grid and
upsampled bilinearly: a piecewise-affine map is linear inside each triangle, so only pixels next
to a triangle edge move (by a fraction of a pixel), and the map costs step² less.

Coordinates: continuous pixel coordinates as the tracker gives them (pixel i covers [i, i+1), its
centre at i + 0.5); `cv2.remap` samples at pixel centres, hence the half-pixel shifts below.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from scipy.spatial import Delaunay, QhullError

Box = tuple[int, int, int, int]


@dataclass
class WarpMap:
    """Where each pixel of a box samples from: map_x, map_y float32 (h, w) in source pixel indices
    (cv2.remap convention, centre of pixel i = i), and valid (h, w) bool: inside the triangulation."""

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray

    def apply(self, image: np.ndarray, interpolation: int = cv2.INTER_CUBIC) -> np.ndarray:
        """Sample `image` (H, W, C) float32 through the map → (h, w, C); edges replicate."""
        return cv2.remap(image, self.map_x, self.map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) int of (N, 2) points; degenerate input gives (0, 3)."""
    pts = np.asarray(points, np.float64)
    if pts.shape[0] < 3 or not np.isfinite(pts).all():
        return np.zeros((0, 3), np.int64)
    try:
        return np.asarray(Delaunay(pts).simplices, np.int64)
    except (QhullError, ValueError):
        return np.zeros((0, 3), np.int64)


def _affines(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per triangle the (2, 3) map dst → src, and whether it is well defined (non-degenerate)."""
    d = np.concatenate([dst[triangles], np.ones((*triangles.shape, 1))], axis=2)  # (T, 3, 3) rows [x, y, 1]
    s = src[triangles]  # (T, 3, 2)
    det = np.linalg.det(d)
    ok = np.abs(det) > 1e-6
    maps = np.zeros((triangles.shape[0], 2, 3))
    if ok.any():
        # d @ A^T = s  →  A^T = solve(d, s)
        maps[ok] = np.transpose(np.linalg.solve(d[ok], s[ok]), (0, 2, 1))
    return maps, ok


def piecewise_affine(
    src: np.ndarray,
    dst: np.ndarray,
    box: Box,
    *,
    triangles: np.ndarray | None = None,
    step: int = 1,
) -> WarpMap:
    """The map that moves `src` points onto `dst` points, over the output `box` (x0, y0, x1, y1).

    src, dst: (N, 2) continuous pixel coordinates, dst in frame pixels of the output, src in the
    sampled image's pixels. triangles: (T, 3) over the points (default: Delaunay of dst). step:
    map grid spacing in pixels (1 exact; 2-4 for previews). Pixels outside every triangle get an
    identity-like placeholder and valid False.
    """
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    src = np.asarray(src, np.float64)
    dst = np.asarray(dst, np.float64)
    tri = triangulate(dst) if triangles is None else np.asarray(triangles, np.int64)
    step = max(1, int(step))
    pad = 1 if step > 1 else 0  # one extra node all round, so upsampling never clamps at the box edge
    gw, gh = max((w + step - 1) // step, 1) + 2 * pad, max((h + step - 1) // step, 1) + 2 * pad
    # Grid node j sits at the centre of output pixel j*step + (step-1)/2: exactly where cv2.resize
    # puts source pixel j when it upsamples by `step`, so the upsampled map lines up to the pixel.
    centre = 0.5 + (step - 1) / 2.0
    ids = np.full((gh, gw), -1, np.int32)
    if tri.shape[0]:
        maps, ok = _affines(src, dst, tri)
        grid_pts = (dst - np.array([x0 + centre, y0 + centre])) / step + pad
        fixed = np.round(grid_pts * 16).astype(np.int32)
        # Slivers (thinner than 1.5 grid cells: lips about to meet) also get their outline drawn, so they
        # own the pixels they cross and no hole opens between neighbours; on a shared edge both affine
        # maps agree, so which triangle wins there does not matter.
        corners_all = grid_pts[tri]
        edges = np.linalg.norm(corners_all - np.roll(corners_all, 1, axis=1), axis=2).max(axis=1)
        u, v = corners_all[:, 1] - corners_all[:, 0], corners_all[:, 2] - corners_all[:, 0]
        area2 = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        thin = area2 / np.maximum(edges, 1e-9) < 1.5
        for t in np.flatnonzero(ok):
            corners = fixed[tri[t]]
            cv2.fillConvexPoly(ids, corners, int(t), lineType=cv2.LINE_8, shift=4)
            if thin[t]:
                cv2.polylines(ids, [corners], True, int(t), 1, lineType=cv2.LINE_8, shift=4)
    else:
        maps = np.zeros((0, 2, 3))
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float64)
    px = x0 + centre + (gx - pad) * step
    py = y0 + centre + (gy - pad) * step
    valid = ids >= 0
    sx = np.zeros((gh, gw))
    sy = np.zeros((gh, gw))
    if valid.any():
        a = maps[ids[valid]]
        vx, vy = px[valid], py[valid]
        sx[valid] = a[:, 0, 0] * vx + a[:, 0, 1] * vy + a[:, 0, 2]
        sy[valid] = a[:, 1, 0] * vx + a[:, 1, 1] * vy + a[:, 1, 2]
    # Back to cv2.remap's convention (pixel centre i at coordinate i).
    map_x = (sx - 0.5).astype(np.float32)
    map_y = (sy - 0.5).astype(np.float32)
    if step > 1:
        size = (gw * step, gh * step)
        inner = (slice(step, step + h), slice(step, step + w))
        map_x = np.asarray(cv2.resize(map_x, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        map_y = np.asarray(cv2.resize(map_y, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        valid_f = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)[inner]
        valid = valid_f > 0.999
        return WarpMap(np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), valid)
    return WarpMap(map_x[:h, :w], map_y[:h, :w], valid[:h, :w])
