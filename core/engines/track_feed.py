"""The range's tracking handed to the engine as it becomes final, while the tracker is still running.

A long range used to be tracked whole before its first frame was planned: ten minutes of face mesh
before the first painted frame, with the painter's core idle all that time. Now the tracker's
observations are final a window at a time (`face.finishing`), so a job can start the tracker on a
thread of its own and plan and paint behind it (`StagedEngine` asks `wait` for the rows it needs).

`TrackFeed` is the meeting point: the tracking thread `add`s each final observation, the job's thread
reads them through `tracked` (a `TrackedRange` whose per-frame arrays fill as rows arrive, and whose
meshes go to a scratch file, so memory does not grow with the range) and blocks in `wait` until the
rows it needs are in. An error or a cancel on the tracking thread is raised in `wait`; a job that
stops early `close`s the feed, which stops the tracker at its next frame.
"""

from __future__ import annotations

import math
import threading
from typing import TYPE_CHECKING

import numpy as np

from mytalk.core.engines.base import EngineJob
from mytalk.core.engines.tracking import TrackedRange, job_tracker_settings
from mytalk.core.face.observation import FaceObservation
from mytalk.core.face.regions import NUM_LANDMARKS
from mytalk.core.face.tracker import STAGE, TrackerSettings
from mytalk.core.frame_arrays import READ_CHUNK, ScratchFrames
from mytalk.core.progress import CancelFn, ProgressFn, check_cancelled, never_cancelled, no_progress
from mytalk.core.userdirs import UserDirs, user_dirs

if TYPE_CHECKING:
    from mytalk.core.face.cache import CachedTrack


class TrackFeed:
    """Rows of a range's tracking, filled in order by one thread and read by another.

    Rows are clip frames [first, last): the range [start, stop) and its handles. `tracked` is valid for
    the rows `wait` has returned for; a row never changes once in.
    """

    def __init__(self, start: int, stop: int, first: int, last: int, settings: TrackerSettings) -> None:
        rows = last - first
        self.first, self.last = first, last
        self._meshes = ScratchFrames(rows, (NUM_LANDMARKS, 3), np.float32, folder=UserDirs.ensure(user_dirs().scratch))
        self._found = np.zeros(rows, bool)
        self._confidence = np.zeros(rows, np.float64)
        self._notes: dict[int, tuple[tuple[str, ...], str]] = {}
        self.tracked = TrackedRange(start, stop, first, self._meshes, self._found, self._confidence, self._notes,
                                    settings)
        self._ready = 0
        self._done = False
        self._error: BaseException | None = None
        self._closed = False
        self._changed = threading.Condition()
        self._progress = (0, rows)
        self.thread: threading.Thread | None = None

    @property
    def ready(self) -> int:
        """Rows final so far."""
        return self._ready

    @property
    def closed(self) -> bool:
        """The job stopped reading: the tracker should stop too."""
        return self._closed

    # --- the tracking thread --------------------------------------------------------------------------

    def add(self, observation: FaceObservation) -> None:
        """The next row's final observation."""
        row = observation.index - self.first
        if row != self._ready:
            raise ValueError(f"frame {observation.index} tracked out of order: expected {self.first + self._ready}")
        if observation.found:
            self._meshes.write(row, np.asarray(observation.landmarks, np.float32)[None])
        self._found[row] = observation.found
        self._confidence[row] = observation.confidence
        if observation.warnings or observation.rejected:
            self._notes[observation.index] = (tuple(str(w) for w in observation.warnings), str(observation.rejected))
        with self._changed:
            self._ready = row + 1
            self._changed.notify_all()

    def note_progress(self, done: int, total: int, stage: str) -> None:
        """The tracker's progress, kept for the job's thread to report (see `wait`)."""
        self._progress = (done, total)

    def add_entry(self, entry: CachedTrack) -> None:
        """Every row of a tracking cache entry, a window of meshes at a time."""
        for begin in range(0, entry.index.size, READ_CHUNK):
            meshes = entry.landmarks.read(begin, begin + READ_CHUNK)
            for k, mesh in enumerate(meshes):
                i = begin + k
                self.add(FaceObservation(int(entry.index[i]), bool(entry.found[i]), mesh, float(entry.confidence[i]),
                                         warnings=[str(w) for w in entry.warnings[i]], rejected=str(entry.rejected[i])))

    def finish(self, error: BaseException | None = None) -> None:
        """The tracker is done (with `error` when it failed): rows it never reached (a source shorter
        than its probed length) stay without a face."""
        with self._changed:
            self._error = error
            self._done = True
            if error is None:
                self._ready = self.last - self.first
            self._changed.notify_all()

    # --- the job's thread -----------------------------------------------------------------------------

    def wait(self, rows: int, is_cancelled: CancelFn = never_cancelled, progress: ProgressFn = no_progress) -> None:
        """Block until the tracking of range frames [0, rows) is final, reporting the tracker's progress.

        `rows` counts range frames (0 = the range's first frame), as the stages do; the handles before
        the range come first. Raises the tracking thread's error, or `JobCancelledError`."""
        needed = min(self.last - self.first, self.tracked.start - self.first + max(0, int(rows)))
        with self._changed:
            while self._ready < needed and not self._done:
                check_cancelled(is_cancelled, STAGE)
                progress(*self._progress, STAGE)
                self._changed.wait(timeout=0.1)
            if self._error is not None and self._ready < needed:
                raise self._error

    def close(self, finished: bool) -> None:
        """The job is done with the feed: `finished`, the tracker completes the range (its last handles,
        then its cache entry) and this waits for it; otherwise (a failed or cancelled job) the tracker
        stops at its next frame and leaves no entry. Returns once the tracking thread has ended."""
        if not finished:
            self._closed = True
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join()
        if finished and self._error is not None:
            raise self._error


def streams(job: EngineJob) -> bool:
    """Whether tracking the job's range on a thread of its own lets painting start before it ends: only
    past one window of the tracker's finishing (`face.finishing`). A shorter range is final only once it
    is tracked to its end, so it is tracked first (and its decoded frames kept, `FrameStash`)."""
    from mytalk.core.face import finishing

    video = job.video.video
    assert video is not None
    lag = math.ceil((finishing.FINISH_WINDOW_S + finishing.FINISH_CONTEXT_S) * float(video.fps))
    return job.stop - job.start + 2 * job.handles > lag


def stream_range(job: EngineJob, is_cancelled: CancelFn) -> TrackFeed:
    """Start tracking the job's range and handles (`video_tracking.track_video_entry`, through the cache) on a
    thread of its own, and return its feed at once. The thread stops when the job cancels or closes
    the feed; its progress is read from the feed by the job's thread (`TrackFeed.wait`), so that one
    thread reports a job's progress."""
    from mytalk.core.face.cache import CachedTrack
    from mytalk.core.face.video_tracking import track_video_entry

    video = job.video.video
    assert video is not None
    settings = job_tracker_settings(job.settings)
    first = max(0, job.start - job.handles)
    last = min(video.frame_count, job.stop + job.handles)
    feed = TrackFeed(job.start, job.stop, first, last, settings)

    def stop() -> bool:
        return feed.closed or is_cancelled()

    def run() -> None:
        try:
            result = track_video_entry(job.video.path, first, last, settings, progress=feed.note_progress,
                                       is_cancelled=stop, on_observation=feed.add, info=job.video)
            if isinstance(result, CachedTrack) and feed.ready == 0:
                feed.add_entry(result)  # another job cached the range just now: nothing was tracked here
        except BaseException as error:  # raised in the job's thread by `wait`
            feed.finish(error)
        else:
            feed.finish()

    feed.thread = threading.Thread(target=run, name=f"track-{job.video.path.name}", daemon=True)
    feed.thread.start()
    return feed
