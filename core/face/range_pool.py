"""Tracking several ranges of footage at once, one thread each, with one progress count.

An actor is learned from reference ranges (a long clip's default sample is four 5 s windows,
`mytalk.core.engines.default_reference`), and each range is tracked on its own: a tracker starts every
range with a detection and follows the face inside it, so a range's meshes never depend on another
range. Tracked one after the other, they kept one core busy while the other cores waited: the phone
processes time the footage's sound beside the tracking, but they finish before it on a long clip, and
a machine with more cores than two had nothing else to give them. The face mesh's graph and OpenCV and
PyAV release the GIL while they work, so threads are enough: on two idle cores two 100-frame ranges
took 0.69 s where one after the other took 1.11 s, with the same meshes bit for bit.

Progress is reported from the calling thread only (a job reports its progress from one thread, as
`engines.track_feed` does): the threads count their frames, and the caller sums the counts every
`PROGRESS_POLL_S`.
"""

from __future__ import annotations

import functools
import os
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.tracker import STAGE, TrackerSettings
from mytalk.core.face.video_tracking import track_video
from mytalk.core.progress import CancelFn, ProgressFn, never_cancelled, no_progress

if TYPE_CHECKING:
    from mytalk.core.media.probe import MediaInfo
    from mytalk.core.media.reader import SourceFrame

MAX_TRACKING_THREADS = 4
"""More trackers at once than this gain little: each frame's Python work (the pose fit, the crop, the
finishing) holds the GIL, and each tracker holds its own face-mesh graph and decoder."""

PROGRESS_POLL_S = 0.05
"""How often the calling thread sums the threads' frame counts into one progress event."""


class FootageRange(Protocol):
    """Frames [start, stop) of one video file (clip-relative indices, `stop` exclusive): an engine's
    `ReferenceRange` is one, passed as it is."""

    @property
    def path(self) -> Path: ...

    @property
    def start(self) -> int: ...

    @property
    def stop(self) -> int: ...


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity where the platform says, as under `taskset` or a
    container's CPU set), else every core the machine has."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def tracking_threads(ranges: int, cores: int | None = None) -> int:
    """How many ranges to track at once: one per range, at most one per usable core and
    `MAX_TRACKING_THREADS`."""
    return max(1, min(ranges, cores if cores is not None else usable_cores(), MAX_TRACKING_THREADS))


class _Counts:
    """The frames each thread has tracked so far, and the first error any of them raised."""

    def __init__(self, ranges: Sequence[FootageRange]) -> None:
        self._lock = threading.Lock()
        self._done = [0] * len(ranges)
        self._totals = [r.stop - r.start for r in ranges]
        self.failed = threading.Event()
        self.first_error: BaseException | None = None

    def note(self, index: int) -> ProgressFn:
        def record(done: int, total: int, stage: str) -> None:
            del stage  # every range is "face tracking"; the caller names the sum
            with self._lock:
                self._done[index] = done
                self._totals[index] = max(total, done)

        return record

    def fail(self, error: BaseException) -> None:
        with self._lock:
            if self.first_error is None:
                self.first_error = error
        self.failed.set()

    def sum(self) -> tuple[int, int]:
        with self._lock:
            return sum(self._done), sum(self._totals)


def track_ranges(
    ranges: Sequence[FootageRange],
    settings: TrackerSettings | None = None,
    *,
    progress: ProgressFn = no_progress,
    is_cancelled: CancelFn = never_cancelled,
    use_cache: bool = True,
    threads: int | None = None,
    on_tracked: Callable[[int, SourceFrame, FaceObservation], None] | None = None,
    infos: Mapping[Path, MediaInfo] | None = None,
) -> list[list[FaceObservation]]:
    """Track every range (`video_tracking.track_video`, through the tracking cache), several at once; the
    observations come back in the order of `ranges`, each list exactly what `track_video` gives for that
    range alone.

    `progress` gets one count over all the ranges' frames, under the tracker's stage name, from this
    thread. A cancel stops every range within a frame; a range that fails stops the others, and its error
    is the one raised (theirs are only the stop it asked for).

    `on_tracked(i, frame, observation)` sees each frame of range `i` decoded and tracked (`track_video`'s
    `on_tracked`), on that range's thread.

    `infos`: what the caller already probed of the files (`probe`), by path, so that the ranges of one file
    do not each probe it again (a long clip's index takes 0.1-0.25 s to read, and its sample is five ranges).

    Raises what `track_video` raises.
    """
    if not ranges:
        return []
    count = tracking_threads(len(ranges)) if threads is None else max(1, min(threads, len(ranges)))
    if count == 1:
        return _one_after_another(ranges, settings, progress, is_cancelled, use_cache, on_tracked, infos)
    if use_cache:
        # Each file's cache key found once, here: a never-seen clip small enough to be keyed by its hash
        # would otherwise be read whole by every thread at the same moment (`file_sha256` remembers a digest
        # only once it is computed).
        from mytalk.core.hashing import cache_key

        for path in dict.fromkeys(r.path for r in ranges):
            try:
                cache_key(path)
            except OSError:
                pass  # a missing or unreadable file: its range's `track_video` says so in its own words
    counts = _Counts(ranges)

    def stopped() -> bool:
        return counts.failed.is_set() or is_cancelled()

    def track(index: int) -> list[FaceObservation]:
        r = ranges[index]
        try:
            return track_video(r.path, r.start, r.stop, settings, progress=counts.note(index),
                               is_cancelled=stopped, use_cache=use_cache, on_tracked=_of_range(on_tracked, index),
                               info=_known(infos, r.path))
        except BaseException as error:
            counts.fail(error)
            raise

    with ThreadPoolExecutor(max_workers=count, thread_name_prefix="track-range") as pool:
        futures = [pool.submit(track, i) for i in range(len(ranges))]
        try:
            _report_until_done(futures, counts, progress)
        except BaseException:
            # Raised here, not in a thread (a stop signal, a progress callback that failed): the threads stop
            # within a frame, so leaving the pool does not wait for the rest of their ranges.
            counts.failed.set()
            raise
    if counts.first_error is not None:
        raise counts.first_error
    done, total = counts.sum()
    progress(done, total, STAGE)
    return [f.result() for f in futures]


def _report_until_done(futures: list[Future[list[FaceObservation]]], counts: _Counts, progress: ProgressFn) -> None:
    """Sum the threads' counts into `progress` until every future is done (a failure stops the rest, so
    they end within a frame of it)."""
    last = (-1, -1)
    pending: set[Future[list[FaceObservation]]] = set(futures)
    while pending:
        _, pending = wait(pending, timeout=PROGRESS_POLL_S, return_when=FIRST_EXCEPTION)
        now = counts.sum()
        if now != last and pending:
            progress(now[0], now[1], STAGE)
            last = now


def _of_range(on_tracked: Callable[[int, SourceFrame, FaceObservation], None] | None,
              index: int) -> Callable[[SourceFrame, FaceObservation], None] | None:
    """`track_ranges`' `on_tracked` for range `index` alone, as `track_video` calls it."""
    return None if on_tracked is None else functools.partial(on_tracked, index)


def _known(infos: Mapping[Path, MediaInfo] | None, path: Path) -> MediaInfo | None:
    """What the caller probed of `path`, if anything."""
    return None if infos is None else infos.get(Path(path))


def _one_after_another(
    ranges: Sequence[FootageRange], settings: TrackerSettings | None, progress: ProgressFn,
    is_cancelled: CancelFn, use_cache: bool,
    on_tracked: Callable[[int, SourceFrame, FaceObservation], None] | None,
    infos: Mapping[Path, MediaInfo] | None = None,
) -> list[list[FaceObservation]]:
    """One core, or one range: no threads, each range's progress counted after the ranges before it."""
    total = sum(r.stop - r.start for r in ranges)
    results: list[list[FaceObservation]] = []
    before = 0
    for index, r in enumerate(ranges):

        def tracked(done: int, count: int, stage: str, _before: int = before) -> None:
            progress(_before + done, max(total, _before + count), stage)

        results.append(track_video(r.path, r.start, r.stop, settings, progress=tracked,
                                   is_cancelled=is_cancelled, use_cache=use_cache,
                                   on_tracked=_of_range(on_tracked, index), info=_known(infos, r.path)))
        before += r.stop - r.start
    return results

