"""Contact sheets: mouth crops of the source and of an output side by side, 2× enlarged.

A number that looks good over a sheet that looks wrong means the number is wrong, so every output
gets one. All crops of a row use the same box (the source's mouth box at that row's frame), so a
mouth that moved or a seam that shows is visible by comparison; pixels are doubled with nearest
neighbour, never smoothed, so compression and blending artefacts stay visible.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from benchmarks.eval.mediaio import iter_frames, to_rgb

ENLARGE = 2
MAX_CROP_PX = 200
"""Native crop side cap (px): a 4K close-up still gives a sheet that opens in a browser."""

LABEL_PX = 22


@dataclass(frozen=True)
class Panel:
    """One crop: frame `index` (that file's numbering) of `path`, titled `title`."""

    title: str
    path: Path
    index: int


@dataclass(frozen=True)
class SheetRow:
    """Panels shown side by side, all cropped to `box` = (x0, y0, x1, y1) px."""

    label: str
    box: tuple[int, int, int, int]
    panels: tuple[Panel, ...]


def _decode_needed(rows: list[SheetRow]) -> dict[tuple[Path, int], np.ndarray]:
    needed: dict[Path, set[int]] = defaultdict(set)
    for row in rows:
        for panel in row.panels:
            needed[panel.path].add(panel.index)
    images: dict[tuple[Path, int], np.ndarray] = {}
    for path, indices in needed.items():
        for index, frame in iter_frames(path, min(indices), max(indices) + 1):
            if index in indices:
                images[(path, index)] = to_rgb(frame)
    return images


def _crop(image: np.ndarray, box: tuple[int, int, int, int]) -> np.ndarray:
    """The box, padded with grey where it leaves the frame, capped at MAX_CROP_PX, then 2×."""
    x0, y0, x1, y1 = box
    side = max(x1 - x0, y1 - y0)
    if side > MAX_CROP_PX:
        cx, cy = (x0 + x1) // 2, (y0 + y1) // 2
        x0, y0, x1, y1 = cx - MAX_CROP_PX // 2, cy - MAX_CROP_PX // 2, cx + MAX_CROP_PX // 2, cy + MAX_CROP_PX // 2
    h, w = image.shape[:2]
    out = np.full((y1 - y0, x1 - x0, 3), 96, np.uint8)
    sx0, sy0, sx1, sy1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
    if sx1 > sx0 and sy1 > sy0:
        out[sy0 - y0 : sy1 - y0, sx0 - x0 : sx1 - x0] = image[sy0:sy1, sx0:sx1]
    return cv2.resize(out, None, fx=ENLARGE, fy=ENLARGE, interpolation=cv2.INTER_NEAREST)


def _titled(tile: np.ndarray, text: str) -> np.ndarray:
    bar = np.full((LABEL_PX, tile.shape[1], 3), 255, np.uint8)
    cv2.putText(bar, text[:48], (4, LABEL_PX - 7), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 1, cv2.LINE_AA)
    return np.vstack([bar, tile])


def write_sheet(path: Path, title: str, rows: list[SheetRow], columns: int = 2) -> Path | None:
    """Render `rows` into a PNG at `path`; rows are laid out in `columns` side-by-side groups.

    Returns the path, or None when there is nothing to show (no frame with a face).
    """
    if not rows:
        return None
    images = _decode_needed(rows)
    tiles = []
    for row in rows:
        crops = [
            _titled(_crop(images[(p.path, p.index)], row.box), f"{row.label} {p.title}")
            for p in row.panels
            if (p.path, p.index) in images
        ]
        if not crops:
            continue
        height = max(c.shape[0] for c in crops)
        crops = [np.pad(c, ((0, height - c.shape[0]), (0, 0), (0, 0)), constant_values=255) for c in crops]
        gap = np.full((height, 6, 3), 255, np.uint8)
        parts: list[np.ndarray] = []
        for c in crops:
            parts += [c, gap]
        tiles.append(np.hstack(parts[:-1]))
    if not tiles:
        return None
    width = max(t.shape[1] for t in tiles)
    tiles = [np.pad(t, ((0, 8), (0, width - t.shape[1] + 12), (0, 0)), constant_values=255) for t in tiles]
    per_column = -(-len(tiles) // columns)
    groups = [np.vstack(tiles[i : i + per_column]) for i in range(0, len(tiles), per_column)]
    tall = max(g.shape[0] for g in groups)
    groups = [np.pad(g, ((0, tall - g.shape[0]), (0, 0), (0, 0)), constant_values=255) for g in groups]
    body = np.hstack(groups)
    header = np.full((30, body.shape[1], 3), 255, np.uint8)
    cv2.putText(header, title[:120], (6, 21), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1, cv2.LINE_AA)
    sheet = np.vstack([header, body])
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    return path


def pick_frames(found: np.ndarray, count: int = 6) -> list[int]:
    """`count` evenly spaced offsets among the frames with a face (offsets into `found`)."""
    with_face = np.flatnonzero(found)
    if with_face.size == 0:
        return []
    picks = np.linspace(0, with_face.size - 1, min(count, with_face.size)).round().astype(int)
    return sorted({int(with_face[i]) for i in picks})
