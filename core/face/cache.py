"""On-disk cache of tracking results, so a clip is tracked once however often it is edited.

An entry is keyed by the file's sha256 (contents, not name or mtime: a re-rendered clip with the
same name must miss), the frame range, `TrackerSettings.key()` and the tracker version. It is two
files of plain arrays (no pickles: loaded with allow_pickle=False), each written atomically, so a
crash or a concurrent writer never leaves a half-written file under the final name:
- `NAME.landmarks.npy`: the meshes (N, 478, 3) float32, uncompressed, so that a job reads them a
  window at a time (`frame_arrays.NpyFrames`) instead of holding a long range's meshes whole;
- `NAME.npz`: everything else per frame, written second: an entry exists once its .npz does.
An entry that cannot be read is treated as a miss and rewritten.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.atomic import AtomicFile
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.face.tracker import TRACKER_VERSION, FaceObservation, TrackerSettings
from mytalk.core.frame_arrays import NpyFrames
from mytalk.core.userdirs import UserDirs, user_dirs


def cache_path(digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None) -> Path:
    """Where the entry for this (file hash, range, settings, tracker version) lives."""
    root = folder if folder is not None else user_dirs().tracking_cache
    name = f"{digest[:32]}_{start}-{stop}_{settings.key()}_v{TRACKER_VERSION}_{ENTRY_FORMAT}.npz"
    return root / name


ENTRY_FORMAT = "f2"
"""Layout of an entry: f2 keeps the meshes in their own .npy beside the .npz (f1 had them inside)."""


def landmarks_path(entry: Path) -> Path:
    """The .npy of an entry's meshes, beside its .npz."""
    return entry.with_suffix(".landmarks.npy")


@dataclass(frozen=True)
class CachedTrack:
    """A cache entry as read: the meshes stay on disk (`landmarks`, rows in `index` order)."""

    index: np.ndarray
    found: np.ndarray
    confidence: np.ndarray
    pose: np.ndarray
    box: np.ndarray
    warnings: list[list[str]]
    rejected: list[str]
    landmarks: NpyFrames

    def observations(self) -> list[FaceObservation]:
        """Every frame as a `FaceObservation`, meshes read into memory."""
        landmarks = self.landmarks.read(0, len(self.landmarks))
        return [
            FaceObservation(
                index=int(self.index[i]),
                found=bool(self.found[i]),
                landmarks=landmarks[i],
                confidence=float(self.confidence[i]),
                pose=(float(self.pose[i, 0]), float(self.pose[i, 1]), float(self.pose[i, 2])),
                box=(int(self.box[i, 0]), int(self.box[i, 1]), int(self.box[i, 2]), int(self.box[i, 3])),
                warnings=[str(w) for w in self.warnings[i]],
                rejected=str(self.rejected[i]),
            )
            for i in range(self.index.size)
        ]


def save_observations(
    observations: Sequence[FaceObservation],
    digest: str,
    start: int,
    stop: int,
    settings: TrackerSettings,
    folder: Path | None = None,
) -> Path:
    """Write the observations atomically (`AtomicFile`: a temporary name, then one rename); returns
    the entry's path."""
    target = cache_path(digest, start, stop, settings, folder)
    UserDirs.ensure(target.parent)
    n = len(observations)
    arrays: dict[str, Any] = {
        "index": np.array([o.index for o in observations], dtype=np.int64),
        "found": np.array([o.found for o in observations], dtype=bool),
        "confidence": np.array([o.confidence for o in observations], dtype=np.float64),
        "pose": np.array([o.pose for o in observations], dtype=np.float64).reshape(n, 3),
        "box": np.array([o.box for o in observations], dtype=np.int64).reshape(n, 4),
        "warnings": np.array(json.dumps([o.warnings for o in observations])),
        "rejected": np.array(json.dumps([o.rejected for o in observations])),
        "meta": np.array(
            json.dumps({"sha256": digest, "start": start, "stop": stop, "settings": settings.key(),
                        "version": TRACKER_VERSION})
        ),
    }
    landmarks = np.zeros((n, NUM_LANDMARKS, 3), np.float32)
    for i, o in enumerate(observations):
        landmarks[i] = o.landmarks
    # Flushed to disk before the rename: the rename makes the name atomic, not the data, and after a
    # power cut the new name could otherwise point at blocks that never reached the disk. The meshes
    # go first: the .npz is what makes the entry exist.
    with AtomicFile(landmarks_path(target)) as temp, open(temp, "wb") as handle:
        np.save(handle, landmarks, allow_pickle=False)
        handle.flush()
        os.fsync(handle.fileno())
    del landmarks
    with AtomicFile(target) as temp, open(temp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def load_track(
    digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None
) -> CachedTrack | None:
    """The cached entry with its meshes left on disk, or None when there is no readable entry for exactly this key."""
    path = cache_path(digest, start, stop, settings, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta != {"sha256": digest, "start": start, "stop": stop, "settings": settings.key(),
                        "version": TRACKER_VERSION}:
                return None
            index, found = data["index"], data["found"]
            confidence, pose, box = data["confidence"], data["pose"], data["box"]
            warnings = json.loads(str(data["warnings"]))
            rejected = json.loads(str(data["rejected"]))
        landmarks = NpyFrames(landmarks_path(path))
        n = len(index)
        if not (
            len(found) == len(confidence) == len(warnings) == len(rejected) == len(landmarks) == n
            and landmarks.row_shape == (NUM_LANDMARKS, 3)
            and landmarks.dtype == np.float32
            and pose.shape == (n, 3)
            and box.shape == (n, 4)
        ):
            return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        # Truncated, corrupt or foreign file: a miss; the caller's fresh result overwrites it.
        return None
    return CachedTrack(index, found, confidence, pose, box, warnings, rejected, landmarks)


def load_observations(
    digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None
) -> list[FaceObservation] | None:
    """The cached observations, or None when there is no readable entry for exactly this key."""
    track = load_track(digest, start, stop, settings, folder)
    return None if track is None else track.observations()
