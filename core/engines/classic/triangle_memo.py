"""Delaunay triangulations remembered on disk, keyed by the exact points they were computed from.

Why: `warp.triangulate` needs scipy.spatial (qhull), whose import costs about 0.35 s, and a classic
job triangulates once, on its range's mean face (`render.MeshTopology`). Rendering the same range
again (a re-render after a settings change, preview then final) triangulates the very same points,
so qhull's answer is kept: the array itself, in qhull's order, since the warp rasterises triangles
in that order and a reordered triangulation would move pixels on shared edges. A remembered answer
is therefore the one qhull gives, bit for bit; any other points are a miss and go to qhull.

An entry is `delaunay_KEY.npy` (int64 (T, 3), no pickles), written atomically beside the tracking
results it is derived from (`UserDirs.tracking_cache`, which the clean-up scans for a killed
writer's temporary file). The key hashes the points' float64 bytes and shape and scipy's version
(a newer qhull may order its output differently, and a cached job must give what a fresh one
gives). An entry that cannot be read or does not fit the points is a miss and is rewritten; a cache
that cannot be written only costs qhull next time.
"""

from __future__ import annotations

import hashlib
import io
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np

from mytalk.core.atomic import write_atomically
from mytalk.core.engines.classic.warp import triangulate
from mytalk.core.userdirs import user_dirs

MEMO_FORMAT = "delaunay-1"
"""Bumped when the key or the entry's layout changes, so older entries are never read."""


def _scipy_version() -> str:
    try:
        return version("scipy")
    except PackageNotFoundError:
        return "unknown"


def memo_key(points: np.ndarray) -> str:
    """Hex key of the triangulation of (N, 2) `points`: their float64 bytes and shape, scipy's version."""
    pts = np.ascontiguousarray(points, dtype=np.float64)
    sha = hashlib.sha256(f"{MEMO_FORMAT}|{_scipy_version()}|{pts.shape}|".encode())
    sha.update(pts.tobytes())
    return sha.hexdigest()[:32]


def _read(path: Path, num_points: int) -> np.ndarray | None:
    """The entry at `path` if it is a plain (T, 3) int64 array of indices below `num_points`, else None."""
    try:
        with open(path, "rb") as handle:
            triangles = np.load(handle, allow_pickle=False)
    except (OSError, ValueError, EOFError):
        return None
    fits = (isinstance(triangles, np.ndarray) and triangles.dtype == np.int64 and triangles.ndim == 2
            and triangles.shape[1] == 3 and bool(((triangles >= 0) & (triangles < num_points)).all()))
    return triangles if fits else None


def _write(path: Path, triangles: np.ndarray) -> None:
    """Store `triangles` at `path` atomically; a cache that cannot be written is left alone."""
    buffer = io.BytesIO()
    np.save(buffer, triangles, allow_pickle=False)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, buffer.getvalue())
    except OSError:
        pass


def memo_path(points: np.ndarray, folder: Path | None = None) -> Path:
    """Where the triangulation of `points` is remembered (default folder: `UserDirs.tracking_cache`)."""
    root = folder if folder is not None else user_dirs().tracking_cache
    return root / f"delaunay_{memo_key(points)}.npy"


def remembered_triangulation(points: np.ndarray, folder: Path | None = None) -> np.ndarray:
    """`warp.triangulate(points)`, read from `folder` (default `UserDirs.tracking_cache`) when these exact
    points were triangulated before, else computed and stored there."""
    pts = np.asarray(points, np.float64)
    path = memo_path(pts, folder)
    remembered = _read(path, pts.shape[0])
    if remembered is not None:
        return remembered
    triangles = triangulate(pts)
    if triangles.size:
        _write(path, triangles)
    return triangles
