"""On-disk cache of tracking results, so a clip is tracked once however often it is edited.

An entry is keyed by the file's cache key (`hashing.cache_key`: its sha256, or for a file over 256 MB
its identity, which changes with every write; never its name or mtime alone: a re-rendered clip with
the same name must miss), the frame range, `TrackerSettings.key()` and the tracker version. It is two
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
from typing import Any, BinaryIO

import numpy as np

from mytalk.core.atomic import AtomicFile
from mytalk.core.cache_budget import touch
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


class TrackWriter:
    """A cache entry written as the tracker hands out observations, so a long range's meshes are never
    all in memory: each mesh goes straight into the entry's temporary .npy, and only the few numbers a
    frame of everything else are kept until `commit`.

    expected: the number of frames the range should have (the .npy's header is written for it first;
    if the source runs short, the rows are copied into a file with the right header at `commit`).
    The entry appears complete on `commit` or not at all (`discard`, or the writer dropped unused).
    """

    def __init__(self, digest: str, start: int, stop: int, settings: TrackerSettings, expected: int,
                 folder: Path | None = None) -> None:
        self.target = cache_path(digest, start, stop, settings, folder)
        self.meta = {"sha256": digest, "start": start, "stop": stop, "settings": settings.key(),
                     "version": TRACKER_VERSION}
        UserDirs.ensure(self.target.parent)
        self._expected = max(0, int(expected))
        self._meshes = AtomicFile(landmarks_path(self.target))
        self._handle: BinaryIO | None = open(self._meshes.temp, "wb")  # noqa: SIM115 - closed by commit/discard
        np.lib.format.write_array_header_1_0(self._handle, _mesh_header(self._expected))
        self._offset = self._handle.tell()
        self._arrays: dict[str, Any] = {}
        self._rows: dict[str, list[Any]] = {name: [] for name in
                                             ("index", "found", "confidence", "pose", "box", "warnings", "rejected")}

    def __len__(self) -> int:
        return len(self._rows["index"])

    def add(self, observation: FaceObservation) -> None:
        """The next frame's observation, in range order."""
        assert self._handle is not None, "TrackWriter used after commit or discard"
        mesh = np.ascontiguousarray(observation.landmarks, np.float32)
        if mesh.shape != (NUM_LANDMARKS, 3):
            raise ValueError(f"frame {observation.index}: a mesh of shape {mesh.shape}, not ({NUM_LANDMARKS}, 3)")
        self._handle.write(mesh.tobytes())
        rows = self._rows
        rows["index"].append(observation.index)
        rows["found"].append(observation.found)
        rows["confidence"].append(observation.confidence)
        rows["pose"].append(observation.pose)
        rows["box"].append(observation.box)
        rows["warnings"].append(observation.warnings)
        rows["rejected"].append(observation.rejected)

    def commit(self) -> Path:
        """Put the entry in place (meshes first: the .npz is what makes an entry exist); returns its path."""
        assert self._handle is not None, "TrackWriter committed twice"
        handle, self._handle = self._handle, None
        n = len(self)
        try:
            if n != self._expected:
                handle.close()
                fixed = AtomicFile(landmarks_path(self.target))
                try:
                    _copy_rows(self._meshes.temp, self._offset, fixed.temp, n)
                except BaseException:
                    fixed.discard()
                    raise
                finally:
                    self._meshes.discard()
                self._meshes = fixed
            else:
                # Flushed to disk before the rename: the rename makes the name atomic, not the data.
                handle.flush()
                os.fsync(handle.fileno())
                handle.close()
            self._meshes.commit()
            rows = self._rows
            arrays: dict[str, Any] = {
                "index": np.array(rows["index"], dtype=np.int64),
                "found": np.array(rows["found"], dtype=bool),
                "confidence": np.array(rows["confidence"], dtype=np.float64),
                "pose": np.array(rows["pose"], dtype=np.float64).reshape(n, 3),
                "box": np.array(rows["box"], dtype=np.int64).reshape(n, 4),
                "warnings": np.array(json.dumps(rows["warnings"])),
                "rejected": np.array(json.dumps(rows["rejected"])),
                "meta": np.array(json.dumps(self.meta)),
            }
            with AtomicFile(self.target) as temp, open(temp, "wb") as out:
                np.savez_compressed(out, **arrays)
                out.flush()
                os.fsync(out.fileno())
        except BaseException:
            self._meshes.discard()
            raise
        self._arrays = arrays
        return self.target

    def entry(self) -> CachedTrack:
        """The committed entry, as `load_track` would read it (its meshes left on disk)."""
        arrays = self._arrays
        return CachedTrack(arrays["index"], arrays["found"], arrays["confidence"], arrays["pose"], arrays["box"],
                           [list(w) for w in self._rows["warnings"]], list(self._rows["rejected"]),
                           NpyFrames(landmarks_path(self.target)))

    def discard(self) -> None:
        """Leave no entry behind (a failed or cancelled tracking); never raises."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
        self._meshes.discard()

    def __del__(self) -> None:
        if getattr(self, "_handle", None) is not None:
            self.discard()


def _mesh_header(rows: int) -> dict[str, Any]:
    return {"descr": np.lib.format.dtype_to_descr(np.dtype(np.float32)), "fortran_order": False,
            "shape": (rows, NUM_LANDMARKS, 3)}


def _copy_rows(source: Path, offset: int, target: Path, rows: int) -> None:
    """Write `rows` meshes of the .npy being written at `source` (data from `offset`) into a new .npy at
    `target`, under the header of that count, a chunk at a time. Only for a source that ran short of its
    probed length: the header's length may change with the count, so the rows cannot stay in place."""
    row_bytes = NUM_LANDMARKS * 3 * 4
    with open(source, "rb") as old, open(target, "wb") as new:
        np.lib.format.write_array_header_1_0(new, _mesh_header(rows))
        old.seek(offset)
        left = rows * row_bytes
        while left:
            chunk = old.read(min(left, 256 * row_bytes))
            if not chunk:
                raise OSError(f"{source.name}: fewer mesh rows on disk than written")
            new.write(chunk)
            left -= len(chunk)
        new.flush()
        os.fsync(new.fileno())


def save_observations(
    observations: Sequence[FaceObservation],
    digest: str,
    start: int,
    stop: int,
    settings: TrackerSettings,
    folder: Path | None = None,
) -> Path:
    """Write the observations as a cache entry, atomically (`TrackWriter`); returns the entry's path."""
    writer = TrackWriter(digest, start, stop, settings, len(observations), folder)
    try:
        for observation in observations:
            writer.add(observation)
        writer.commit()
    except BaseException:
        writer.discard()
        raise
    return writer.target


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
    touch(path)  # used now: the cache's trim (`mytalk.core.cache_budget`) removes entries used longest ago
    return CachedTrack(index, found, confidence, pose, box, warnings, rejected, landmarks)


def load_observations(
    digest: str, start: int, stop: int, settings: TrackerSettings, folder: Path | None = None
) -> list[FaceObservation] | None:
    """The cached observations, or None when there is no readable entry for exactly this key."""
    track = load_track(digest, start, stop, settings, folder)
    return None if track is None else track.observations()
