"""The vectorised `piecewise_affine` against the plain per-pixel formulation it replaced, bit for bit.

`_reference_piecewise_affine` below is the earlier implementation: per valid pixel it gathers the owner
triangle's (2, 3) map and (3, 3) barycentric matrix, tests containment with `np.einsum` and finds the
nearest boundary point with (N, 2) arrays. The fast one must produce the same float32 maps and the same
validity on meshes that fold, leave holes, carry slivers and degenerate triangles, at every grid step.
"""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from mytalk.core.engines.classic import warp as W
from mytalk.core.engines.classic.render import _nonzero_span


def _reference_nearest(points: np.ndarray, corners: np.ndarray) -> np.ndarray:
    best = np.zeros_like(points)
    best_d = np.full(points.shape[0], np.inf)
    for i in range(3):
        a, b = corners[:, i], corners[:, (i + 1) % 3]
        ab = b - a
        length2 = np.maximum((ab * ab).sum(axis=1), 1e-18)
        u = np.clip(((points - a) * ab).sum(axis=1) / length2, 0.0, 1.0)
        q = a + u[:, None] * ab
        d = ((points - q) ** 2).sum(axis=1)
        closer = d < best_d
        best[closer], best_d[closer] = q[closer], d[closer]
    return best


def _reference_piecewise_affine(src: np.ndarray, dst: np.ndarray, box: W.Box, *, triangles: np.ndarray | None = None,
                                step: int = 1, fill_holes: bool = False,
                                keep_holes_in: np.ndarray | None = None) -> W.WarpMap:
    x0, y0, x1, y1 = box
    w, h = x1 - x0, y1 - y0
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    tri = W.triangulate(dst) if triangles is None else np.asarray(triangles, np.int64)
    step = max(1, int(step))
    pad = 1 if step > 1 else 0
    gw, gh = max((w + step - 1) // step, 1) + 2 * pad, max((h + step - 1) // step, 1) + 2 * pad
    centre = 0.5 + (step - 1) / 2.0
    ids = np.full((gh, gw), -1, np.int32)
    maps, bary = np.zeros((tri.shape[0], 2, 3)), np.zeros((tri.shape[0], 3, 3))
    if tri.shape[0]:
        d = np.concatenate([dst[tri], np.ones((*tri.shape, 1))], axis=2)
        ok = np.abs(np.linalg.det(d)) > 1e-6
        if ok.any():
            maps[ok] = np.transpose(np.linalg.solve(d[ok], src[tri][ok]), (0, 2, 1))
            bary[ok] = np.linalg.inv(d[ok])
        grid_pts = (dst - np.array([x0 + centre, y0 + centre])) / step + pad
        fixed = np.round(grid_pts * 16).astype(np.int32)
        corners_all = grid_pts[tri]
        edges = np.linalg.norm(corners_all - np.roll(corners_all, 1, axis=1), axis=2).max(axis=1)
        u, v = corners_all[:, 1] - corners_all[:, 0], corners_all[:, 2] - corners_all[:, 0]
        thin = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]) / np.maximum(edges, 1e-9) < 1.5
        for t in np.flatnonzero(ok):
            corners = fixed[tri[t]]
            cv2.fillConvexPoly(ids, corners, int(t), lineType=cv2.LINE_8, shift=4)
            if thin[t] and not fill_holes:
                cv2.polylines(ids, [corners], True, int(t), 1, lineType=cv2.LINE_8, shift=4)
    if fill_holes and tri.shape[0] and (ids >= 0).any() and (ids < 0).any():
        keep = None if keep_holes_in is None else (np.asarray(keep_holes_in, np.float64)
                                                    - np.array([x0 + centre, y0 + centre])) / step + pad
        W._fill_holes(ids, grid_pts[np.unique(tri)], keep, step)
    gy, gx = np.mgrid[0:gh, 0:gw].astype(np.float64)
    px, py = x0 + centre + (gx - pad) * step, y0 + centre + (gy - pad) * step
    valid = ids >= 0
    sx, sy = np.zeros((gh, gw)), np.zeros((gh, gw))
    if valid.any():
        owner = ids[valid]
        a = maps[owner]
        vx, vy = px[valid], py[valid]
        mx = a[:, 0, 0] * vx + a[:, 0, 1] * vy + a[:, 0, 2]
        my = a[:, 1, 0] * vx + a[:, 1, 1] * vy + a[:, 1, 2]
        point = np.stack([vx, vy, np.ones(vx.size)], axis=1)
        outside = np.flatnonzero((np.einsum("nj,njk->nk", point, bary[owner]) < -1e-9).any(axis=1))
        if outside.size:
            near = _reference_nearest(point[outside, :2], dst[tri[owner[outside]]])
            ao = a[outside]
            nx = ao[:, 0, 0] * near[:, 0] + ao[:, 0, 1] * near[:, 1] + ao[:, 0, 2]
            ny = ao[:, 1, 0] * near[:, 0] + ao[:, 1, 1] * near[:, 1] + ao[:, 1, 2]
            off = np.hypot(point[outside, 0] - near[:, 0], point[outside, 1] - near[:, 1])
            far = np.hypot(mx[outside] - nx, my[outside] - ny) > np.maximum(W.EXTRAPOLATE_PX, W.EXTRAPOLATE_GAIN * off)
            mx[outside[far]], my[outside[far]] = nx[far], ny[far]
        sx[valid], sy[valid] = mx, my
    map_x, map_y = (sx - 0.5).astype(np.float32), (sy - 0.5).astype(np.float32)
    if step > 1:
        size = (gw * step, gh * step)
        inner = (slice(step, step + h), slice(step, step + w))
        map_x = np.asarray(cv2.resize(map_x, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        map_y = np.asarray(cv2.resize(map_y, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        valid = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)[inner] > 0.999
        return W.WarpMap(np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), valid)
    return W.WarpMap(map_x[:h, :w], map_y[:h, :w], valid[:h, :w])


def _assert_same(fast: W.WarpMap, ref: W.WarpMap) -> None:
    assert fast.map_x.dtype == ref.map_x.dtype == np.float32 and fast.map_x.shape == ref.map_x.shape
    # Compared as bit patterns: equal floats with different bits (a sign of zero) would count as a change too.
    assert np.array_equal(fast.map_x.view(np.uint32), ref.map_x.view(np.uint32))
    assert np.array_equal(fast.map_y.view(np.uint32), ref.map_y.view(np.uint32))
    assert fast.valid.dtype == ref.valid.dtype and np.array_equal(fast.valid, ref.valid)


def _mesh(rng: np.random.Generator, n: int = 9, size: float = 120.0) -> tuple[np.ndarray, np.ndarray]:
    """A jittered n × n grid of points over [0, size]² and its Delaunay triangles."""
    g = np.stack(np.meshgrid(np.linspace(0, size, n), np.linspace(0, size, n)), axis=-1).reshape(-1, 2)
    pts = g + rng.normal(0, size / n / 6, g.shape)
    return pts, W.triangulate(pts)


def _cases() -> list[tuple[str, int]]:
    return [(kind, seed) for kind in ("smooth", "folded", "slivers", "degenerate", "delaunay") for seed in range(3)]


@pytest.mark.parametrize(("kind", "seed"), _cases())
@pytest.mark.parametrize("step", [1, 2, 3])
def test_fast_warp_matches_the_per_pixel_reference_bit_for_bit(kind: str, seed: int, step: int) -> None:
    rng = np.random.default_rng(seed)
    dst, tri = _mesh(rng)
    src = dst * 1.1 + rng.normal(0, 1.5, dst.shape) + [7.0, -4.0]
    if kind == "folded":
        # Move inner points far enough that triangles flip and overlap: holes, and pixels outside their owner.
        inner = np.flatnonzero((dst > 20).all(axis=1) & (dst < 100).all(axis=1))
        dst = dst.copy()
        dst[inner] += rng.normal(0, 9.0, (inner.size, 2))
    elif kind == "slivers":
        # Squash a band of rows onto nearly one line: thin triangles (outlined without fill_holes).
        band = np.flatnonzero(np.abs(dst[:, 1] - 60) < 20)
        dst = dst.copy()
        dst[band, 1] = 60 + (dst[band, 1] - 60) * 0.02
    elif kind == "degenerate":
        dst = dst.copy()
        dst[10] = dst[11]  # zero-area triangles: not ok, never drawn
        dst[30] = (dst[29] + dst[31]) / 2
    triangles = None if kind == "delaunay" else tri
    keep = np.array([[50.0, 50.0], [70.0, 52.0], [72.0, 70.0], [52.0, 68.0]])
    box = (int(rng.integers(-5, 15)), int(rng.integers(-5, 15)), int(rng.integers(100, 130)), int(rng.integers(95, 130)))
    for fill_holes, keep_in in ((False, None), (True, None), (True, keep)):
        fast = W.piecewise_affine(src, dst, box, triangles=triangles, step=step, fill_holes=fill_holes,
                                  keep_holes_in=keep_in)
        _assert_same(fast, _reference_piecewise_affine(src, dst, box, triangles=triangles, step=step,
                                                       fill_holes=fill_holes, keep_holes_in=keep_in))


def test_fast_warp_matches_the_reference_without_triangles() -> None:
    pts = np.array([[0.0, 0.0], [1.0, 1.0]])
    for step in (1, 2):
        _assert_same(W.piecewise_affine(pts, pts, (0, 0, 20, 10), step=step),
                     _reference_piecewise_affine(pts, pts, (0, 0, 20, 10), step=step))


def test_apply_over_a_span_is_that_part_of_the_full_remap() -> None:
    rng = np.random.default_rng(4)
    dst, tri = _mesh(rng)
    src = dst + rng.normal(0, 2.0, dst.shape)
    warp = W.piecewise_affine(src, dst, (3, 5, 117, 110), triangles=tri, fill_holes=True)
    image = rng.random((130, 140, 3)).astype(np.float32)
    span = (slice(17, 64), slice(9, 101))
    for interpolation in (cv2.INTER_LINEAR, cv2.INTER_CUBIC, cv2.INTER_LANCZOS4):
        full = warp.apply(image, interpolation)
        part = warp.apply(image, interpolation, span)
        assert np.array_equal(part.view(np.uint32), full[span].view(np.uint32))


def test_nonzero_span_is_the_bounding_rectangle() -> None:
    weight = np.zeros((20, 30), np.float32)
    assert _nonzero_span(weight) is None
    weight[4, 7] = 0.5
    weight[12, 21] = 1.0
    assert _nonzero_span(weight) == (slice(4, 13), slice(7, 22))
