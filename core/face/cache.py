"""On-disk cache of tracking results, so a clip is tracked once however often it is edited.

An entry is keyed by the file's sha256 (contents, not name or mtime: a re-rendered clip with the
same name must miss), the frame range, `TrackerSettings.key()` and the tracker version. It is one
.npz of plain arrays (no pickles: loaded with allow_pickle=False) written atomically, so a crash
or a concurrent writer never leaves a half-written entry under the final name. An entry that
cannot be read is treated as a miss and rewritten.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from mytalk.core.atomic import AtomicFile
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.face.tracker import TRACKER_VERSION, FaceObservation, TrackerSettings
from mytalk.core.userdirs import UserDirs, user_dirs


def cache_path(digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None) -> Path:
    """Where the entry for this (file hash, range, settings, tracker version) lives."""
    root = folder if folder is not None else user_dirs().tracking_cache
    name = f"{digest[:32]}_{start}-{stop}_{settings.key()}_v{TRACKER_VERSION}.npz"
    return root / name


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
        "landmarks": (
            np.stack([o.landmarks for o in observations]).astype(np.float32)
            if n
            else np.zeros((0, NUM_LANDMARKS, 3), np.float32)
        ),
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
    # Flushed to disk before the rename: the rename makes the name atomic, not the data, and after a
    # power cut the new name could otherwise point at blocks that never reached the disk.
    with AtomicFile(target) as temp, open(temp, "wb") as handle:
        np.savez_compressed(handle, **arrays)
        handle.flush()
        os.fsync(handle.fileno())
    return target


def load_observations(
    digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None
) -> list[FaceObservation] | None:
    """The cached observations, or None when there is no readable entry for exactly this key."""
    path = cache_path(digest, start, stop, settings, folder)
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta != {"sha256": digest, "start": start, "stop": stop, "settings": settings.key(),
                        "version": TRACKER_VERSION}:
                return None
            index, found, landmarks = data["index"], data["found"], data["landmarks"]
            confidence, pose, box = data["confidence"], data["pose"], data["box"]
            warnings = json.loads(str(data["warnings"]))
            rejected = json.loads(str(data["rejected"]))
        n = len(index)
        if not (
            len(found) == len(confidence) == len(warnings) == len(rejected) == n
            and landmarks.shape == (n, NUM_LANDMARKS, 3)
            and pose.shape == (n, 3)
            and box.shape == (n, 4)
        ):
            return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, json.JSONDecodeError):
        # Truncated, corrupt or foreign file: a miss; the caller's fresh result overwrites it.
        return None
    return [
        FaceObservation(
            index=int(index[i]),
            found=bool(found[i]),
            landmarks=landmarks[i].astype(np.float32),
            confidence=float(confidence[i]),
            pose=(float(pose[i, 0]), float(pose[i, 1]), float(pose[i, 2])),
            box=(int(box[i, 0]), int(box[i, 1]), int(box[i, 2]), int(box[i, 3])),
            warnings=[str(w) for w in warnings[i]],
            rejected=str(rejected[i]),
        )
        for i in range(n)
    ]
