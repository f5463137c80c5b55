"""A long range is painted while it is still being tracked (`engines.track_feed`), with the frames of a job
that tracked it first.

The windows are made small here (a 1 s finishing window, 32-frame plan windows, a 30-frame path window)
so that a 6 s range of a shared clip streams; the job's code paths are the ones a ten-minute take runs.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from conftest import media_path
from mytalk.core.engines import track_feed
from mytalk.core.engines.classic import appearance_stage, motion_stage, retrieval
from mytalk.core.errors import JobCancelledError
from mytalk.core.face import finishing
from mytalk.core.jobs.request import SyncRequest
from mytalk.core.jobs.sync import run_sync
from mytalk.core.media.reader import FrameReader
from mytalk.core.userdirs import user_dirs

pytestmark = pytest.mark.media


@pytest.fixture
def small_windows(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(finishing, "FINISH_WINDOW_S", 1.0)
    monkeypatch.setattr(finishing, "FINISH_CONTEXT_S", 0.5)
    monkeypatch.setattr(motion_stage, "PLAN_WINDOW", 32)
    monkeypatch.setattr(appearance_stage, "WINDOW", 32)
    monkeypatch.setattr(appearance_stage, "TEMPLATE_SPAN", 40)
    monkeypatch.setattr(retrieval, "PATH_WINDOW", 30)
    monkeypatch.setattr(retrieval, "PATH_LOOKAHEAD", 20)


def _request(out: Path, **extra: Any) -> SyncRequest:
    # The actor is learned from frames 0-100, which do not hold the range: a range inside its reference
    # is read from the reference's tracking (`StagedEngine.reference_tracking`) and never streamed.
    fields: dict[str, Any] = {"in_point": "20", "out_point": "170", "engine": "classic", "codec": "ffv1",
                              "references": ["0-100"], **extra}
    return SyncRequest(video=media_path("video", "hdtf_wda_katiehill_512.mp4"),
                       audio=media_path("audio", "jfk_inaugural_en_16k.wav"), output=out, **fields)


def _digests(path: Path) -> list[str]:
    with FrameReader(path) as reader:
        return [hashlib.sha256(b"".join(bytes(p) for p in f.frame.planes)).hexdigest()
                for f in reader.frames(0, reader.frame_count)]


def _tracking_entries() -> list[str]:
    """The tracking cache's entries and temporary files (the warp's remembered triangulations aside)."""
    return sorted(p.name for p in user_dirs().tracking_cache.iterdir() if not p.name.startswith("delaunay_"))


def _tracking_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("track-")]


@pytest.mark.usefixtures("small_windows")
def test_painting_starts_before_tracking_ends_with_the_frames_of_a_tracked_range(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run_sync(_request(tmp_path / "profile.mkv", in_point="0", out_point="2"))  # the actor's profile, cached
    # What the engine waited for before its first frame, in range frames: not how long (a timed
    # assertion fails on a loaded machine), but how much of the range's tracking it needed.
    asked: list[int] = []
    written: list[int] = []
    wait = track_feed.TrackFeed.wait

    def counted(self: track_feed.TrackFeed, rows: int, *args: Any, **kwargs: Any) -> None:
        if not written:
            asked.append(rows)
        wait(self, rows, *args, **kwargs)

    monkeypatch.setattr(track_feed.TrackFeed, "wait", counted)
    streamed = run_sync(_request(tmp_path / "streamed.mkv"), on_frame=lambda offset, frame: written.append(offset))
    assert streamed.report["range_reads"] == 2  # tracked on its thread, painted from a second decode
    assert len(written) == 150
    # The first frame needs the tracker's finishing window, the template's span and the path's window and
    # lookahead of the range, not all of its 150 frames.
    assert asked and max(asked) < 150, asked
    assert _tracking_threads() == []

    tracked_first = run_sync(_request(tmp_path / "tracked.mkv"))  # the range now comes from the cache
    assert tracked_first.report["range_reads"] == 1
    assert _digests(tmp_path / "streamed.mkv") == _digests(tmp_path / "tracked.mkv")
    assert streamed.report["frames"] == tracked_first.report["frames"]
    assert streamed.report["engine_report"]["retrieval"] == tracked_first.report["engine_report"]["retrieval"]
    assert streamed.report["engine_report"]["motion"] == tracked_first.report["engine_report"]["motion"]


@pytest.mark.usefixtures("small_windows")
def test_a_cancelled_streamed_job_stops_its_tracker_and_leaves_nothing(tmp_path: Path) -> None:
    run_sync(_request(tmp_path / "profile.mkv", in_point="0", out_point="2"))  # the profile, cached first
    written: list[int] = []
    before = _tracking_entries()
    with pytest.raises(JobCancelledError):
        run_sync(_request(tmp_path / "cancelled.mkv"), on_frame=lambda offset, frame: written.append(offset),
                 is_cancelled=lambda: len(written) >= 10)
    assert 10 <= len(written) < 150
    assert not (tmp_path / "cancelled.mkv").exists()
    assert _tracking_threads() == []
    # Nothing half-written. The tracker may have outrun the painter and finished the range before the
    # cancel came: then its entry is complete, and only then is it there.
    added = sorted(set(_tracking_entries()) - set(before))
    assert not [name for name in added if name.startswith(".")], added
    assert added == [] or (len(added) == 2 and any(n.endswith(".landmarks.npy") for n in added)), added


def test_only_a_range_longer_than_the_trackers_window_streams() -> None:
    from mytalk.core.engines.base import EngineJob
    from mytalk.core.jobs.request import resolve_request

    resolved = resolve_request(_request(Path("unused.mkv"), in_point="0", out_point="200"))
    fps = float(resolved.fps)

    def job(frames: int) -> EngineJob:
        return EngineJob(video=resolved.info, start=0, stop=frames, handles=0, line=None,  # type: ignore[arg-type]
                         guide=None, guide_mode="none", references=(), settings=resolved.settings)

    lag = round((finishing.FINISH_WINDOW_S + finishing.FINISH_CONTEXT_S) * fps)
    assert not track_feed.streams(job(lag)) and track_feed.streams(job(lag + 1))


def _feed() -> track_feed.TrackFeed:
    from mytalk.core.face.tracker import TrackerSettings

    return track_feed.TrackFeed(start=2, stop=8, first=0, last=10, settings=TrackerSettings())


def _observation(index: int, found: bool = True) -> Any:
    import numpy as np

    from mytalk.core.face.observation import FaceObservation

    return FaceObservation(index, found, np.full((478, 3), index, np.float32), 0.5 if found else 0.0,
                           warnings=[f"note {index}"] if index == 3 else [])


def test_a_feed_hands_rows_over_in_order_and_raises_the_trackers_error() -> None:
    feed = _feed()
    for index in range(5):
        feed.add(_observation(index, found=index != 4))
    feed.wait(3)  # range frames [0, 3) are clip frames 2-4: in
    tracked = feed.tracked
    assert tracked.found.tolist()[:3] == [True, True, False]
    assert tracked.landmarks(0, 2)[:, 0, 0].tolist() == [2.0, 3.0] and tracked.mesh_at(4) is None
    assert tracked.record(3).warnings == ["note 3"]
    with pytest.raises(ValueError, match="out of order"):
        feed.add(_observation(7))
    failed = threading.Thread(target=lambda: (time.sleep(0.2), feed.finish(OSError("the disk went away"))))
    failed.start()
    with pytest.raises(OSError, match="disk went away"):
        feed.wait(6)
    failed.join()


def test_a_feed_that_ends_early_leaves_the_rest_without_a_face() -> None:
    feed = _feed()
    for index in range(6):
        feed.add(_observation(index))
    feed.finish()  # the source ran short of its probed length
    feed.wait(6)
    assert feed.ready == 10 and feed.tracked.found.tolist() == [True] * 4 + [False] * 2
    with pytest.raises(JobCancelledError):
        _feed().wait(1, is_cancelled=lambda: True)
