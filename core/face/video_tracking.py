"""A clip's frames tracked through the tracking cache: the file-level driver of `tracker.FaceTracker`.

`track_video_entry` reads frames [start, stop) of a file, decodes and prepares them a few frames ahead on a
thread of their own, runs the tracker's frame loop over them and writes each final observation into the
tracking cache (`face.cache`) as soon as it is final, so a long range's meshes are never all in memory and a
second job over the same frames tracks nothing. The tracker itself (`tracker.py`) knows frames, not files.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from mytalk.core.face.display import DisplayGeometry
from mytalk.core.face.field_picture import tracking_picture
from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.tracker import STAGE, FaceTracker, PreparedFrame, TrackerSettings
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

if TYPE_CHECKING:
    from mytalk.core.face.cache import CachedTrack
    from mytalk.core.media.probe import MediaInfo
    from mytalk.core.media.reader import SourceFrame

TRACKING_DECODE_AHEAD = 2
"""Frames `track_video_entry` decodes and prepares ahead of the mesh, on a thread of its own."""


def _prepared(tracker: FaceTracker, source: SourceFrame) -> PreparedFrame:
    """`tracker.prepare` of a decoded frame, holding on to that frame (for `on_tracked`; the queue ahead of
    the mesh is two frames long, so that costs little). An interlaced frame is seen as its upper field
    (`field_picture`)."""
    return replace(tracker.prepare(source.index, tracking_picture(source)), source=source)


def _seen(source: SourceFrame, on_frame: Callable[[SourceFrame], None] | None) -> SourceFrame:
    """The frame, after showing it to `on_frame`."""
    if on_frame is not None:
        on_frame(source)
    return source


def track_video(
    path: str | Path,
    start: int,
    stop: int,
    settings: TrackerSettings | None = None,
    *,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    use_cache: bool = True,
    on_tracked: Callable[[SourceFrame, FaceObservation], None] | None = None,
    info: MediaInfo | None = None,
) -> list[FaceObservation]:
    """Track the subject in frames [start, stop) of a video file, through the tracking cache.

    Frames are read with `FrameReader` (clip-relative indices, `stop` exclusive; a `stop` past the
    end yields the frames up to the end). The file's cache key is found once per call
    (`hashing.cache_key`: its SHA-256, or for a large file its identity) and a cached result for the
    same key, range, settings and tracker version is returned without decoding anything.

    `on_tracked` sees each decoded frame with its observation as tracked (`FaceTracker.track_stream`), on
    the tracking thread; none on a cache hit. `info`: the file's `probe`, when the caller has it (the reader
    then does not probe it again).

    Raises:
        MediaNotFoundError, MediaFormatError: from the reader, for a missing or undecodable file.
        RangeError: an empty, reversed or negative range, or one starting past the end.
        JobCancelledError: `is_cancelled()` returned True; nothing is cached.
    """
    tracked = track_video_entry(path, start, stop, settings, progress=progress, is_cancelled=is_cancelled,
                                use_cache=use_cache, on_tracked=on_tracked, info=info)
    return tracked if isinstance(tracked, list) else tracked.observations()


def track_video_entry(
    path: str | Path,
    start: int,
    stop: int,
    settings: TrackerSettings | None = None,
    *,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    use_cache: bool = True,
    on_frame: Callable[[SourceFrame], None] | None = None,
    on_observation: Callable[[FaceObservation], None] | None = None,
    on_tracked: Callable[[SourceFrame, FaceObservation], None] | None = None,
    info: MediaInfo | None = None,
) -> CachedTrack | list[FaceObservation]:
    """`track_video`, answering with the cache entry itself (meshes left on disk, read by windows) when
    there is one: a long range's meshes are then never all in memory once tracked. Without the cache
    (`use_cache=False`) the observations come back in memory.

    `on_frame` sees every frame this call decodes, in order (none on a cache hit), on the thread that
    decodes them (below), all before this returns: a job keeps a short range's frames that way and paints
    them without decoding the range again.
    `on_observation` sees every final observation as soon as it is final, in order (none on a cache
    hit): a job plans and paints behind the tracker that way (`engines.track_feed`).
    `on_tracked`, `info`: as `track_video`'s."""
    from mytalk.core.face.cache import TrackWriter, load_track
    from mytalk.core.hashing import cache_key
    from mytalk.core.media.prefetch import prefetched
    from mytalk.core.media.reader import FrameReader

    settings = settings or TrackerSettings()
    with FrameReader(path, info) as reader:
        if start < 0 or stop <= start or start >= reader.frame_count:
            # The reader would say the same, but only once decoding starts, after the hashing.
            list(reader.frames(start, stop))
        digest = cache_key(path) if use_cache else ""
        if use_cache:
            cached = load_track(digest, start, stop, settings)
            if cached is not None:
                progress(cached.index.size, cached.index.size, STAGE)
                return cached
        total = min(stop, reader.frame_count) - start
        # Each observation goes into the cache entry as soon as it is final, so the meshes of a long
        # range are never all in memory (`TrackWriter`, `finishing.WindowedFinish`).
        writer = TrackWriter(digest, start, stop, settings, total) if use_cache else None
        observations: list[FaceObservation] = []
        try:
            with FaceTracker(settings, DisplayGeometry.of(reader.video)) as tracker:
                # Decoded, converted and prepared (`PreparedFrame`) a few frames ahead on a thread of their own
                # (`prefetch`; FFmpeg and OpenCV release the GIL): a 720p or 1080p frame's decode and conversion
                # then overlap the mesh, 9-15 % of tracking one range at those sizes; the same at 512 px.
                # Two ahead are enough for the overlap, and bound the memory: four trackers at once on 4K footage
                # hold about 25 MB per RGB frame queued.
                frames = prefetched((_prepared(tracker, _seen(sf, on_frame)) for sf in reader.frames(start, stop)),
                                    depth=TRACKING_DECODE_AHEAD,
                                    name="tracking-decode")

                def tracked(frame: PreparedFrame, observation: FaceObservation) -> None:
                    assert on_tracked is not None and frame.source is not None
                    on_tracked(frame.source, observation)

                try:
                    for observation in tracker.track_stream(frames, total=total, fps=float(reader.video.fps),
                                                            progress=progress, is_cancelled=is_cancelled,
                                                            on_tracked=tracked if on_tracked is not None else None):
                        if writer is not None:
                            writer.add(observation)
                        else:
                            observations.append(observation)
                        if on_observation is not None:
                            on_observation(observation)
                finally:
                    frames.close()  # a cancel or an error: the decoding thread stops before the reader closes
            if writer is None:
                return observations
            writer.commit()
            return writer.entry()
        except BaseException:
            if writer is not None:
                writer.discard()
            raise
