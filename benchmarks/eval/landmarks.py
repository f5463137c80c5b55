"""Face landmarks of sources and outputs, tracked through `mytalk.core.face` and cached on disk.

The suite decodes frames itself (`mediaio.iter_frames`) and hands them to the product's
`FaceTracker` with its default settings, so every clip and every output is measured by the same
tracker. The tracker is deterministic (same pixels in, same landmarks out), but its temporal
smoothing depends on where a range starts; protocols therefore compare an output with a source
track of exactly the same range wherever a do-nothing baseline is involved.

Tracks are cached as .npz under the suite's cache folder, keyed by the file's sha256, the range
and the tracker's settings key, so re-running a report does not track again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from benchmarks.eval.mediaio import iter_frames, to_rgb
from benchmarks.eval.metrics import mouth_width
from mytalk.core.face.canonical import lip_points_normalised, mouth_aperture
from mytalk.core.face.regions import LEFT_EYE_OUTER, LIPS, RIGHT_EYE_OUTER
from mytalk.core.face.tracker import FaceTracker, TrackerSettings

_LIPS = np.asarray(LIPS, np.intp)

CACHE_VERSION = "2"
"""Bumped whenever frame numbering or the stored arrays change, so stale tracks are never reused."""


@dataclass(frozen=True)
class Track:
    """Landmarks of frames [start, start + len) of one file.

    found: (T,) bool. landmarks: (T, 478, 3) float32 pixels, NaN where no face was found.
    """

    start: int
    found: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return int(self.found.size)

    @property
    def stop(self) -> int:
        return self.start + len(self)

    def lips(self) -> np.ndarray:
        """(T, 40, 2) lip points in the canonical frame (IOD units), NaN without a face."""
        return np.asarray(lip_points_normalised(self.landmarks), np.float64)

    def aperture(self) -> np.ndarray:
        """(T,) inner-lip gap ÷ inter-ocular distance, NaN without a face."""
        return np.asarray(mouth_aperture(self.landmarks), np.float64)

    def mouth_width(self) -> np.ndarray:
        """(T,) lip-corner distance (points 61 ↔ 291) ÷ inter-ocular distance, NaN without a face."""
        return mouth_width(self.landmarks)

    def slice(self, start: int, stop: int) -> Track:
        """Frames [start, stop) in the file's numbering; must lie inside this track."""
        if start < self.start or stop > self.stop or stop < start:
            raise ValueError(f"frames {start}-{stop} are outside the track {self.start}-{self.stop}")
        a, b = start - self.start, stop - self.start
        return Track(start, self.found[a:b], self.landmarks[a:b])

    def mouth_box(self, index: int, scale: float = 1.0) -> tuple[int, int, int, int] | None:
        """Square (x0, y0, x1, y1) px around the lips of frame `index` (file numbering), or None.

        The side is `scale` × max(lip width, 0.9 × inter-ocular distance): `scale` 1.6 frames the
        mouth with chin and philtrum for contact sheets; 1.0 is about the lips alone.
        """
        i = index - self.start
        if not (0 <= i < len(self)) or not self.found[i]:
            return None
        lm = self.landmarks[i]
        lips = lm[_LIPS, :2]
        (x0, y0), (x1, y1) = lips.min(axis=0), lips.max(axis=0)
        iod = float(np.linalg.norm(lm[LEFT_EYE_OUTER, :2] - lm[RIGHT_EYE_OUTER, :2]))
        side = scale * max(float(x1 - x0), 0.9 * iod)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        half = side / 2
        return int(round(cx - half)), int(round(cy - half)), int(round(cx + half)), int(round(cy + half))


class LandmarkStore:
    """Tracks files through the product's tracker, with an optional on-disk cache.

    cache_dir: folder for .npz tracks, or None to track every time (used to measure the spread
    between repeated runs).
    """

    def __init__(self, cache_dir: Path | None, settings: TrackerSettings | None = None) -> None:
        self.cache_dir = cache_dir
        self.settings = settings or TrackerSettings()
        self._memory: dict[tuple[str, int, int], Track] = {}

    def track(self, path: Path, start: int, stop: int, fps: Fraction) -> Track:
        """Landmarks of frames [start, stop) of `path` (fps in Hz, for the tracker's smoothing)."""
        digest = _sha256(path)
        key = (digest, start, stop)
        if key in self._memory:
            return self._memory[key]
        cached = self._cache_file(digest, start, stop)
        if cached is not None and cached.is_file():
            with np.load(cached) as data:
                track = Track(int(data["start"]), data["found"].astype(bool), data["landmarks"])
        else:
            track = self._run(path, start, stop, fps)
            if cached is not None:
                cached.parent.mkdir(parents=True, exist_ok=True)
                temp = cached.with_suffix(".partial.npz")
                np.savez_compressed(temp, start=track.start, found=track.found, landmarks=track.landmarks)
                temp.replace(cached)
        self._memory[key] = track
        return track

    def _cache_file(self, digest: str, start: int, stop: int) -> Path | None:
        if self.cache_dir is None:
            return None
        return self.cache_dir / f"{digest[:24]}-{start}-{stop}-{self.settings.key()}-v{CACHE_VERSION}.npz"

    def _run(self, path: Path, start: int, stop: int, fps: Fraction) -> Track:
        frames = ((index, to_rgb(frame)) for index, frame in iter_frames(path, start, stop))
        with FaceTracker(self.settings) as tracker:
            observations = tracker.track(frames, total=stop - start, fps=float(fps))
        found = np.array([o.found for o in observations], bool)
        landmarks = np.stack([o.landmarks for o in observations]).astype(np.float32) if observations else np.zeros((0, 478, 3), np.float32)
        landmarks[~found] = np.nan
        if observations and observations[0].index != start:
            raise RuntimeError(f"{path}: tracking started at frame {observations[0].index}, expected {start}")
        return Track(start, found, landmarks)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(4 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()
