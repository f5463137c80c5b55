"""Tracking of a job's range, done once by the job for every engine that paints a face.

Every engine that changes the mouth needs the same thing first: the subject's face mesh over the
range and its handles (through the tracking cache), and, per output frame, the report's face fields
(found, confidence, the tracker's warnings, a rejected detection). Before the engines were built
from stages each one repeated this; now `run_sync` calls `track_range` once and hands the result to
the engine, so a frame's face record means the same whichever engine painted it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from mytalk.core.engines.base import EngineJob, EngineSettings, FrameRecord, ReferenceRange
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.face.tracker import FaceObservation, TrackerSettings
from mytalk.core.face.video_tracking import track_video_entry
from mytalk.core.frame_arrays import READ_CHUNK, FrameArray, FrameSource, FrameWindow, read_row
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled

if TYPE_CHECKING:
    from mytalk.core.face.cache import CachedTrack
    from mytalk.core.media.reader import SourceFrame

NO_FACE = "no usable face: frame passed through unchanged"
"""The warning of a range frame that an engine left untouched for want of the subject's face."""


@dataclass(frozen=True)
class TrackedRange:
    """The subject's face over a job's range [start, stop) and its handles.

    Per tracked frame (handles included; row r is clip frame `first + r`): `found_rows` (bool),
    `confidence_rows`, and the frame's notes (tracker warnings, a rejected detection) by clip index.
    The meshes (478, 3) float32 stay in `meshes`, a `FrameSource`: the tracking cache's file, read a
    window at a time, so a ten-minute range costs the job a few bytes a frame, not kilobytes.
    settings: the tracker settings used (an actor profile learned on the fly tracks the same way).
    """

    start: int
    stop: int
    first: int
    meshes: FrameSource
    found_rows: np.ndarray
    confidence_rows: np.ndarray
    notes: Mapping[int, tuple[tuple[str, ...], str]]
    settings: TrackerSettings

    @classmethod
    def from_observations(cls, start: int, stop: int, observations: Iterable[FaceObservation],
                          settings: TrackerSettings) -> TrackedRange:
        """A range from observations in memory (consecutive clip frames covering [start, stop))."""
        ordered = sorted(observations, key=lambda o: o.index)
        first = ordered[0].index if ordered else start
        meshes = np.zeros((len(ordered), NUM_LANDMARKS, 3), np.float32)
        for k, o in enumerate(ordered):
            meshes[k] = o.landmarks
        return cls(start, stop, first, FrameArray(meshes),
                   np.array([o.found for o in ordered], bool), np.array([o.confidence for o in ordered], np.float64),
                   _notes([o.index for o in ordered], [o.warnings for o in ordered], [o.rejected for o in ordered]),
                   settings)

    @classmethod
    def from_entry(cls, start: int, stop: int, entry: CachedTrack, settings: TrackerSettings) -> TrackedRange:
        """A range whose meshes stay in the tracking cache's file."""
        index = np.asarray(entry.index, np.int64)
        first = int(index[0]) if index.size else start
        if index.size and not np.array_equal(index, np.arange(first, first + index.size)):
            raise ValueError("a tracking cache entry must hold consecutive frames")
        return cls(start, stop, first, entry.landmarks, np.asarray(entry.found, bool),
                   np.asarray(entry.confidence, np.float64),
                   _notes(index.tolist(), entry.warnings, entry.rejected), settings)

    @classmethod
    def window_of(cls, start: int, stop: int, first: int, last: int, entry: CachedTrack,
                  settings: TrackerSettings) -> TrackedRange:
        """A range and its handles, clip frames [first, last), as rows of a longer cache entry (a reference
        that covers them): the meshes stay in the entry's file."""
        index = np.asarray(entry.index, np.int64)
        if not index.size or not np.array_equal(index, np.arange(int(index[0]), int(index[0]) + index.size)):
            raise ValueError("a tracking cache entry must hold consecutive frames")
        begin, end = first - int(index[0]), last - int(index[0])
        if begin < 0 or end > index.size:
            raise ValueError(f"frames [{first}, {last}) are not inside the entry's {int(index[0])}-{int(index[-1]) + 1}")
        rows = slice(begin, end)
        return cls(start, stop, first, FrameWindow(entry.landmarks, begin, end), np.asarray(entry.found[rows], bool),
                   np.asarray(entry.confidence[rows], np.float64),
                   _notes(index[rows].tolist(), entry.warnings[rows], entry.rejected[rows]), settings)

    @property
    def num_frames(self) -> int:
        return self.stop - self.start

    @property
    def found(self) -> np.ndarray:
        """(T,) bool: the subject's face was tracked in that range frame."""
        return self.found_rows[self.start - self.first : self.stop - self.first]

    def landmarks(self, begin: int, end: int) -> np.ndarray:
        """(end - begin, 478, 3) float32 meshes of range frames [begin, end) (zeros where not found)."""
        return self.meshes.read(self.start - self.first + begin, self.start - self.first + end)

    def points(self, index: np.ndarray, chunk: int = READ_CHUNK) -> np.ndarray:
        """(T, len(index), 3) float32: the mesh points `index` over the whole range, read a window at a time."""
        index = np.asarray(index, np.intp)
        out = np.empty((self.num_frames, index.size, 3), np.float32)
        for begin in range(0, self.num_frames, chunk):
            end = min(self.num_frames, begin + chunk)
            out[begin:end] = self.landmarks(begin, end)[:, index]
        return out

    def mesh_at(self, index: int) -> np.ndarray | None:
        """The (478, 3) mesh of clip frame `index`, or None where it was not tracked or has no face."""
        row = index - self.first
        if not 0 <= row < self.found_rows.size or not self.found_rows[row]:
            return None
        return read_row(self.meshes, row)

    def record(self, index: int) -> FrameRecord:
        """The report record of range frame `index` as tracking sees it: found, confidence, the
        tracker's warnings and a rejected detection. An engine adds what it did to the frame."""
        row = index - self.first
        if not 0 <= row < self.found_rows.size:
            return FrameRecord(index, face_found=False, confidence=None)
        record = FrameRecord(index, face_found=bool(self.found_rows[row]), confidence=float(self.confidence_rows[row]))
        warnings, rejected = self.notes.get(index, ((), ""))
        record.warnings.extend(warnings)
        record.rejected_face = rejected or None
        return record


def _notes(index: Sequence[int], warnings: Sequence[Sequence[str]],
           rejected: Sequence[str]) -> dict[int, tuple[tuple[str, ...], str]]:
    """The frames that have something to say, by clip index: most frames have nothing."""
    return {int(i): (tuple(str(w) for w in warn), str(rej))
            for i, warn, rej in zip(index, warnings, rejected, strict=True) if warn or rej}


def job_tracker_settings(settings: EngineSettings) -> TrackerSettings:
    """How a job with these settings tracks its subject: the one definition shared by the range's tracking
    and by an actor profile learned ahead of the job (`ActorFootage`), whose cache key includes it."""
    return TrackerSettings(face_point=settings.face_point)


def track_range(job: EngineJob, progress: ProgressFn, is_cancelled: CancelFn,
                on_frame: Callable[[SourceFrame], None] | None = None) -> TrackedRange:
    """Track frames [start - handles, stop + handles) of the job's clip (cached by file hash).

    `on_frame` sees each frame decoded to track it (none when the cache answers): see `FrameStash`."""
    settings = job_tracker_settings(job.settings)
    first, last = range_rows(job)
    tracked = track_video_entry(job.video.path, first, last, settings, progress=progress, is_cancelled=is_cancelled,
                                on_frame=on_frame, info=job.video)
    check_cancelled(is_cancelled, "preparation")
    if isinstance(tracked, list):
        return TrackedRange.from_observations(job.start, job.stop, tracked, settings)
    return TrackedRange.from_entry(job.start, job.stop, tracked, settings)


def cached_range(job: EngineJob) -> TrackedRange | None:
    """The job's range and handles from the tracking cache, or None when they were never tracked."""
    from mytalk.core.face.cache import load_track
    from mytalk.core.hashing import cache_key

    settings = job_tracker_settings(job.settings)
    first, last = range_rows(job)
    entry = load_track(cache_key(job.video.path), first, last, settings)
    return None if entry is None else TrackedRange.from_entry(job.start, job.stop, entry, settings)


def range_rows(job: EngineJob) -> tuple[int, int]:
    """Clip frames [first, last) a job tracks: its range and its handles, inside the clip."""
    video = job.video.video
    assert video is not None
    return max(0, job.start - job.handles), min(video.frame_count, job.stop + job.handles)


def covering_reference(job: EngineJob) -> ReferenceRange | None:
    """The first of the job's references on the job's own clip that holds its range and handles, if any.

    An engine that learns the actor from such a reference tracks those frames anyway; the range is then
    read from that tracking (`StagedEngine.reference_tracking`) instead of being tracked a second time."""
    first, last = range_rows(job)
    clip = Path(job.video.path).resolve()
    for ref in job.references:
        if ref.start <= first and ref.stop >= last and Path(ref.path).resolve() == clip:
            return ref
    return None


def tracking_cached(job: EngineJob) -> bool:
    """Whether the job's range and handles, or a reference on its clip that covers them, are in the tracking
    cache: then the job may never run the tracker (nor load its models)."""
    from mytalk.core.face.cache import load_track
    from mytalk.core.hashing import cache_key

    settings = job_tracker_settings(job.settings)
    first, last = range_rows(job)
    digest = cache_key(job.video.path)
    ref = covering_reference(job)
    spans = [(first, last)] + ([(ref.start, ref.stop)] if ref is not None else [])
    return any(load_track(digest, a, b, settings) is not None for a, b in spans)
