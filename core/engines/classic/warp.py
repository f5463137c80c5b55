"""Piecewise-affine image warps over a triangulation of face-mesh points.

A warp is given by corresponding points: `src` in the image to sample and `dst` where those points
must land in the output box. The output box is covered by the Delaunay triangles of `dst`; every
output pixel inside a triangle takes the affine map of that triangle to find where to sample.

Implementation, for speed on the CPU: the triangle of each output pixel is rasterised once into
an index image (one `cv2.fillConvexPoly` per triangle, no per-pixel Python), the per-triangle
affine maps are solved in one batched `np.linalg.solve`, and the sample positions are built with one
gather of per-triangle coefficients over the whole grid (`_sample_positions`) and sampled by one
`cv2.remap`. With ``step`` > 1 the map is computed on a coarser grid and
upsampled bilinearly: a piecewise-affine map is linear inside each triangle, so only pixels next
to a triangle edge move (by a fraction of a pixel), and the map costs step² less.

Coordinates: continuous pixel coordinates as the tracker gives them (pixel i covers [i, i+1), its
centre at i + 0.5); `cv2.remap` samples at pixel centres, hence the half-pixel shifts below.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

Box = tuple[int, int, int, int]

EXTRAPOLATE_PX, EXTRAPOLATE_GAIN = 1.0, 3.0
"""A pixel a triangle claims from outside it keeps that triangle's extrapolated map unless the map carries
it more than 1 source px and more than 3 × its own distance beyond the triangle's source: a stretch of
up to 3 is a mouth opening, more is a sliver whose map fetches pixels from far away."""

INSIDE_RAMP_PX = 2.0
"""`WarpMap.inside` falls from 1 to 0 over the last 2 px before an image's border: a cubic sample reads the
pixels up to 2 px around it, so only samples this far inside see real pixels alone."""


@dataclass
class WarpMap:
    """Where each pixel of a box samples from: map_x, map_y float32 (h, w) in source pixel indices
    (cv2.remap convention, centre of pixel i = i), and valid (h, w) bool: inside the triangulation."""

    map_x: np.ndarray
    map_y: np.ndarray
    valid: np.ndarray

    def apply(self, image: np.ndarray, interpolation: int = cv2.INTER_CUBIC,
              span: tuple[slice, slice] | None = None) -> np.ndarray:
        """Sample `image` (H, W, C) float32 through the map → (h, w, C); edges replicate (see `inside`).

        span: (rows, cols) slices of the box: sample only that rectangle. `cv2.remap` computes each pixel
        from its own map entry alone, so this is exactly that part of the full result, for less work."""
        map_x, map_y = (self.map_x, self.map_y) if span is None else (self.map_x[span], self.map_y[span])
        return cv2.remap(image, map_x, map_y, interpolation, borderMode=cv2.BORDER_REPLICATE)

    def inside(self, shape: tuple[int, ...], ramp_px: float = INSIDE_RAMP_PX) -> np.ndarray:
        """Float32 (h, w) weight: 1 where the sample and its interpolation taps lie inside an image of
        `shape` (H, W, ...), falling to 0 over `ramp_px` towards its border and 0 outside it.

        Past the border `apply` replicates the last row or column, which is not picture: where a face
        leaves the frame (a chin cut by the bottom edge) that replicated row, stretched over the lips,
        is a smear. Callers use this weight to show their own pixels there instead.
        """
        h, w = int(shape[0]), int(shape[1])
        # Distance (px) of each sample from the last pixel centre it may use on every side.
        d = np.minimum(np.minimum(self.map_x, (w - 1) - self.map_x), np.minimum(self.map_y, (h - 1) - self.map_y))
        return np.clip(d / np.float32(max(ramp_px, 1e-3)), 0.0, 1.0).astype(np.float32)


def load_triangulator() -> None:
    """Import qhull now (`triangulate`'s first call would): a runtime does it while idle (`warm_up`)."""
    import scipy.spatial  # noqa: F401 - the import is the point


def triangulate(points: np.ndarray) -> np.ndarray:
    """Delaunay triangles (T, 3) int of (N, 2) points; degenerate input gives (0, 3).

    scipy.spatial is imported here, not with the module: it costs about 0.35 s, and a job whose
    triangulation is remembered (`triangle_memo`) never needs it."""
    pts = np.asarray(points, np.float64)
    if pts.shape[0] < 3 or not np.isfinite(pts).all():
        return np.zeros((0, 3), np.int64)
    from scipy.spatial import Delaunay, QhullError

    try:
        return np.asarray(Delaunay(pts).simplices, np.int64)
    except (QhullError, ValueError):
        return np.zeros((0, 3), np.int64)


def signed_areas(points: np.ndarray, triangles: np.ndarray) -> np.ndarray:
    """Twice the signed area of each triangle (T,) of (N, 2) `points`; the sign gives its orientation."""
    p = np.asarray(points, np.float64)[np.asarray(triangles, np.int64)]
    u, v = p[:, 1] - p[:, 0], p[:, 2] - p[:, 0]
    return u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0]


def _fill_holes(ids: np.ndarray, points: np.ndarray, keep: np.ndarray | None, step: int) -> None:
    """In place: unmapped grid cells (-1) inside the convex hull of the triangulated `points` take the triangle
    id of the nearest mapped cell, except inside the polygon `keep` (grown by 2 px) where holes are wanted.
    Everything in grid coordinates."""
    hull = np.zeros(ids.shape, np.uint8)
    outline = cv2.convexHull(np.round(points * 16).astype(np.int32).reshape(-1, 1, 2))
    cv2.fillPoly(hull, [outline], 1, lineType=cv2.LINE_8, shift=4)
    holes = (ids < 0) & (hull > 0)
    if keep is not None and len(keep) >= 3:
        wanted = np.zeros(ids.shape, np.uint8)
        cv2.fillPoly(wanted, [np.round(keep * 16).astype(np.int32)], 1, lineType=cv2.LINE_8, shift=4)
        grow = 2 * max(1, int(np.ceil(2.0 / step))) + 1
        grown = cv2.dilate(wanted, np.ones((grow, grow), np.uint8))
        holes &= grown == 0
    if not holes.any():
        return
    # Labels of the nearest mapped cell; with DIST_LABEL_PIXEL they number the zero (mapped) cells in scan order.
    _, labels = cv2.distanceTransformWithLabels((ids < 0).astype(np.uint8), cv2.DIST_L2, 5,
                                                labelType=cv2.DIST_LABEL_PIXEL)
    mapped_ids = ids[ids >= 0]
    ids[holes] = mapped_ids[labels[holes] - 1]


def _nearest_on_triangles(x: np.ndarray, y: np.ndarray, corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nearest point (x, y), each (N,), to each of the points `x`, `y` (N,) on the boundary of its triangle
    `corners` (N, 3, 2); used for points known to lie outside, where the boundary is the nearest part of the
    triangle.

    Works on the x and y components as separate 1-D arrays: the same arithmetic per point as the (N, 2)
    form (two-term sums are exact in either order) without its small-axis reductions and masked stores."""
    best_x, best_y = np.zeros_like(x), np.zeros_like(y)
    best_d = np.full(x.shape[0], np.inf)
    for i in range(3):
        ax, ay = corners[:, i, 0], corners[:, i, 1]
        abx, aby = corners[:, (i + 1) % 3, 0] - ax, corners[:, (i + 1) % 3, 1] - ay
        length2 = np.maximum(abx * abx + aby * aby, 1e-18)
        u = np.clip(((x - ax) * abx + (y - ay) * aby) / length2, 0.0, 1.0)
        qx, qy = ax + u * abx, ay + u * aby
        d = (x - qx) ** 2 + (y - qy) ** 2
        closer = d < best_d
        best_x, best_y, best_d = np.where(closer, qx, best_x), np.where(closer, qy, best_y), np.where(closer, d, best_d)
    return best_x, best_y


def _triangle_solves(src: np.ndarray, dst: np.ndarray, triangles: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per triangle the (2, 3) affine map dst → src, the (3, 3) matrix B with [x, y, 1] @ B = barycentric
    coordinates of (x, y) in its `dst` corners, and whether it is well defined (non-degenerate); both
    zero where it is not. One (T, 3, 3) system and one determinant serve both."""
    d = np.concatenate([dst[triangles], np.ones((*triangles.shape, 1))], axis=2)  # (T, 3, 3) rows [x, y, 1]
    ok = np.abs(np.linalg.det(d)) > 1e-6
    maps = np.zeros((triangles.shape[0], 2, 3))
    bary = np.zeros((triangles.shape[0], 3, 3))
    if ok.any():
        # d @ A^T = s  →  A^T = solve(d, s)
        maps[ok] = np.transpose(np.linalg.solve(d[ok], src[triangles][ok]), (0, 2, 1))
        bary[ok] = np.linalg.inv(d[ok])
    return maps, bary, ok


def _rasterise(ids: np.ndarray, corners: np.ndarray, ok: np.ndarray, outline: np.ndarray) -> None:
    """In place: every well-defined triangle (`ok`) writes its index into the cells of `ids` it covers, in
    index order (a later triangle overwrites an earlier one's cells); those marked `outline` also draw
    their edges. corners: (T, 3, 2) int32 grid coordinates in 1/16 px (cv2 shift 4).

    The loop body is one OpenCV call per triangle: indices and flags are turned into Python values up
    front, since per-triangle numpy indexing cost as much as the drawing."""
    flags = outline.tolist()
    for t in np.flatnonzero(ok).tolist():
        cv2.fillConvexPoly(ids, corners[t], t, lineType=cv2.LINE_8, shift=4)
        if flags[t]:
            cv2.polylines(ids, [corners[t]], True, t, 1, lineType=cv2.LINE_8, shift=4)


def _coefficients(maps: np.ndarray, bary: np.ndarray) -> np.ndarray:
    """(15, T + 1) table: per triangle (a column) its map (a00 a01 a02 a10 a11 a12) then its barycentric
    matrix (B00 B01 B02 B10 ... B22), row-major; the last column is zeros, so that an index of -1 (an
    unmapped cell) taken with ``mode="wrap"`` reads a zero map and a zero barycentric matrix.

    Coefficient-major, so a gather over the grid gives each coefficient as its own contiguous (gh, gw)
    plane: the arithmetic on the grid then runs on contiguous arrays, about nine times faster than on
    every 15th element of a (gh, gw, 15) gather, with the same numbers."""
    table = np.zeros((15, maps.shape[0] + 1))
    table[:6, :-1] = maps.reshape(-1, 6).T
    table[6:, :-1] = bary.reshape(-1, 9).T
    return table


def _affine_on_grid(c0: np.ndarray, c1: np.ndarray, c2: np.ndarray, px: np.ndarray, py: np.ndarray,
                    scratch: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """(c0 * px + c1 * py) + c2 per cell (c0, c1, c2 (gh, gw); px (gw,), py (gh, 1)): in that order, so bit
    for bit the plain expression, with the sums made in place. `scratch`, a (gh, gw) float64 buffer, is
    clobbered; the result goes to `out` when given (a new array otherwise)."""
    out = np.multiply(c0, px, out=out)
    out += np.multiply(c1, py, out=scratch)
    out += c2
    return out


def _sample_positions(ids: np.ndarray, px: np.ndarray, py: np.ndarray, maps: np.ndarray, bary: np.ndarray,
                      corners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Source position (sx, sy), each (gh, gw) float64, of every grid cell: its owner triangle's map
    (`ids`, -1 for none: 0), except where a cell lies outside its owner and extrapolating carries it far
    (`EXTRAPOLATE_PX`, `EXTRAPOLATE_GAIN`). px (gw,), py (gh, 1): the cells' centres in output pixels;
    corners: (T, 3, 2) the triangles' `dst` corners.

    The per-triangle coefficients are fetched for every cell by gathers from a small table
    (`_coefficients`) as contiguous planes, three at a time, and the map and the barycentric test are
    evaluated on the whole grid with the cell centres broadcast along rows and columns: the same
    float64 operations per cell as gathering (N, 2, 3) and (N, 3, 3) blocks for the valid cells and
    testing with `np.einsum`, at a fraction of the memory traffic. A barycentric coordinate is (x B0k + y B1k) + B2k, the order in which
    ``np.einsum("nj,njk->nk", [x, y, 1], B)`` sums, so the test agrees with the einsum form bit for bit.
    Cells of no triangle read zeros: map 0 and never outside.
    """
    table = _coefficients(maps, bary)
    scratch, coordinate = np.empty(ids.shape), np.empty(ids.shape)

    def on_grid(k0: int, k1: int, k2: int, out: np.ndarray | None = None) -> np.ndarray:
        # Three coefficient planes at a time: 1.3 MB for a 190 x 290 mouth box instead of all 15 at once.
        c = np.take(table[[k0, k1, k2]], ids, axis=1, mode="wrap")
        return _affine_on_grid(c[0], c[1], c[2], px, py, scratch, out=out)

    mx, my = on_grid(0, 1, 2), on_grid(3, 4, 5)
    outside = np.zeros(ids.shape, bool)
    below = np.empty(ids.shape, bool)
    for k in range(3):  # B_jk sits at 6 + 3 j + k
        outside |= np.less(on_grid(6 + k, 9 + k, 12 + k, out=coordinate), -1e-9, out=below)
    rows, cols = np.nonzero(outside)
    if rows.size:
        # The nearest point of the triangle (Euclidean, in output pixels), mapped exactly. Used only where
        # extrapolating carries the pixel far beyond the triangle's source (`EXTRAPOLATE_PX`,
        # `EXTRAPOLATE_GAIN`): a well-shaped triangle extrapolates to what its neighbour maps it to anyway.
        ox, oy = px[cols], py[rows, 0]
        owner = ids[rows, cols]  # never -1: a cell of no triangle reads zeros and is never outside
        near_x, near_y = _nearest_on_triangles(ox, oy, corners[owner])
        a = table[:6, owner]  # (6, n)
        nx = a[0] * near_x + a[1] * near_y + a[2]
        ny = a[3] * near_x + a[4] * near_y + a[5]
        off = np.hypot(ox - near_x, oy - near_y)
        far = np.hypot(mx[rows, cols] - nx, my[rows, cols] - ny) > np.maximum(EXTRAPOLATE_PX, EXTRAPOLATE_GAIN * off)
        mx[rows[far], cols[far]] = nx[far]
        my[rows[far], cols[far]] = ny[far]
    return mx, my


def piecewise_affine(
    src: np.ndarray,
    dst: np.ndarray,
    box: Box,
    *,
    triangles: np.ndarray | None = None,
    step: int = 1,
    fill_holes: bool = False,
    keep_holes_in: np.ndarray | None = None,
) -> WarpMap:
    """The map that moves `src` points onto `dst` points, over the output `box` (x0, y0, x1, y1).

    src, dst: (N, 2) continuous pixel coordinates, dst in frame pixels of the output, src in the
    sampled image's pixels. triangles: (T, 3) over the points (default: Delaunay of dst). step:
    map grid spacing in pixels (1 exact; 2-4 for previews). Pixels outside every triangle get an
    identity-like placeholder and valid False.

    fill_holes: give pixels outside every triangle the affine map of the nearest triangle instead
    (valid True), except inside the polygon `keep_holes_in` ((K, 2) in dst coordinates, grown by 2 px).
    A face mesh with fixed topology is not a partition of the plane for every target: where the plan
    moves a lip contour against the skin points around it (or a mesh is extrapolated past the frame's
    edge) slivers of the skin are covered by no triangle, and the placeholder there showed as dark or
    coloured splinters below the lip. The nearest triangle's map, extended, continues the skin across
    the sliver. The opening between the lips is where the caller wants the holes (a shut mouth's seam).
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
        maps, bary, ok = _triangle_solves(src, dst, tri)
        grid_pts = (dst - np.array([x0 + centre, y0 + centre])) / step + pad
        # Slivers (thinner than 1.5 grid cells: lips about to meet) also get their outline drawn, so they
        # own the pixels they cross and no hole opens between neighbours. But the outline claims pixels up
        # to a pixel off the sliver, where its ill-conditioned map, extrapolated, samples far away (lip red
        # dotted on the skin above a mouth corner); with fill_holes those pixels take the nearest
        # well-shaped triangle's map instead, so the outline is left out.
        corners_all = grid_pts[tri]
        edges = np.linalg.norm(corners_all - np.roll(corners_all, 1, axis=1), axis=2).max(axis=1)
        u, v = corners_all[:, 1] - corners_all[:, 0], corners_all[:, 2] - corners_all[:, 0]
        area2 = np.abs(u[:, 0] * v[:, 1] - u[:, 1] * v[:, 0])
        thin = area2 / np.maximum(edges, 1e-9) < 1.5
        _rasterise(ids, np.round(grid_pts * 16).astype(np.int32)[tri], ok, thin & (not fill_holes))
    else:
        maps = np.zeros((0, 2, 3))
        bary = np.zeros((0, 3, 3))
    if fill_holes and tri.shape[0] and (ids >= 0).any() and (ids < 0).any():
        keep = None if keep_holes_in is None else (np.asarray(keep_holes_in, np.float64)
                                                    - np.array([x0 + centre, y0 + centre])) / step + pad
        _fill_holes(ids, grid_pts[np.unique(tri)], keep, step)
    # Cell centres in output pixels, as a row and a column that broadcast over the grid.
    px = x0 + centre + (np.arange(gw, dtype=np.float64) - pad) * step
    py = (y0 + centre + (np.arange(gh, dtype=np.float64) - pad) * step)[:, None]
    valid = ids >= 0
    # Barycentric coordinates of each pixel in its triangle; a pixel that a triangle claims from outside
    # it (rasterised edges, filled holes) takes the nearest point of the triangle instead of extrapolating
    # its map, which for a sliver (huge gradient) fetched pixels far away: dotted lip-red lines on the
    # skin above a mouth corner. Unmapped cells get 0 (sampling at -0.5 after the shift below).
    sx, sy = _sample_positions(ids, px, py, maps, bary, dst[tri])
    # Back to cv2.remap's convention (pixel centre i at coordinate i).
    map_x = np.subtract(sx, 0.5, out=sx).astype(np.float32)
    map_y = np.subtract(sy, 0.5, out=sy).astype(np.float32)
    if step > 1:
        size = (gw * step, gh * step)
        inner = (slice(step, step + h), slice(step, step + w))
        map_x = np.asarray(cv2.resize(map_x, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        map_y = np.asarray(cv2.resize(map_y, size, interpolation=cv2.INTER_LINEAR)[inner], np.float32)
        valid_f = cv2.resize(valid.astype(np.float32), size, interpolation=cv2.INTER_LINEAR)[inner]
        valid = valid_f > 0.999
        return WarpMap(np.ascontiguousarray(map_x), np.ascontiguousarray(map_y), valid)
    return WarpMap(map_x[:h, :w], map_y[:h, :w], valid[:h, :w])
