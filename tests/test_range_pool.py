"""Several ranges tracked at once (`face.range_pool`): the same meshes as one after the other, one
progress count from the calling thread, a cancel or a failure that stops every range."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import media_path
from mytalk.core.engines.base import ReferenceRange
from mytalk.core.errors import JobCancelledError, RangeError
from mytalk.core.face import FaceObservation, track_video
from mytalk.core.face.range_pool import MAX_TRACKING_THREADS, track_ranges, tracking_threads

CLIP = "hdtf_wda_katiehill_512.mp4"


def _same(a: list[FaceObservation], b: list[FaceObservation]) -> None:
    assert [o.index for o in a] == [o.index for o in b]
    for x, y in zip(a, b, strict=True):
        assert x.found == y.found
        assert x.confidence == y.confidence
        if x.found:
            np.testing.assert_array_equal(x.landmarks, y.landmarks)


def _pool_threads() -> int:
    return sum(t.name.startswith("track-range") for t in threading.enumerate())


def test_threads_follow_ranges_cores_and_the_cap() -> None:
    assert tracking_threads(1, cores=16) == 1
    assert tracking_threads(5, cores=2) == 2
    assert tracking_threads(5, cores=1) == 1
    assert tracking_threads(5, cores=64) == MAX_TRACKING_THREADS
    assert tracking_threads(0, cores=8) == 1


def test_ranges_tracked_at_once_match_each_tracked_alone() -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 150, 190), ReferenceRange(path, 0, 40), ReferenceRange(path, 80, 120)]
    alone = [track_video(r.path, r.start, r.stop, use_cache=False) for r in ranges]
    seen: list[tuple[int, int, int, int]] = []
    caller = threading.get_ident()

    def progress(done: int, total: int, stage: str) -> None:
        assert threading.get_ident() == caller, "progress must come from the calling thread"
        assert stage == "face tracking"
        seen.append((done, total, _pool_threads(), threading.active_count()))

    together = track_ranges(ranges, progress=progress, use_cache=False, threads=2)
    for a, b in zip(alone, together, strict=True):
        _same(a, b)
    dones = [d for d, _, _, _ in seen]
    assert dones == sorted(dones), "one count that never goes back"
    assert seen[-1][:2] == (120, 120)
    assert max(n for _, _, n, _ in seen) == 2, "two ranges were tracked at the same time"
    assert _pool_threads() == 0


def test_cache_entries_written_at_once_read_back_as_tracked() -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 10, 35), ReferenceRange(path, 60, 85)]
    first = track_ranges(ranges, threads=2)
    again = track_ranges(ranges, threads=2)
    for a, b, r in zip(first, again, ranges, strict=True):
        _same(a, b)
        _same(a, track_video(r.path, r.start, r.stop, use_cache=False))


def test_a_cancel_stops_every_range() -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 0, 200), ReferenceRange(path, 0, 200)]
    frames: list[int] = []

    def progress(done: int, total: int, stage: str) -> None:
        frames.append(done)

    with pytest.raises(JobCancelledError):
        track_ranges(ranges, progress=progress, is_cancelled=lambda: bool(frames) and frames[-1] >= 20,
                     use_cache=False, threads=2)
    assert frames[-1] < 200, "the ranges stopped long before their ends"
    assert _pool_threads() == 0


def test_a_range_that_fails_stops_the_others_and_its_error_is_raised(tmp_path: Path) -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 0, 200), ReferenceRange(path, 10_000, 10_040)]
    frames: list[int] = []
    with pytest.raises(RangeError):
        track_ranges(ranges, progress=lambda done, total, stage: frames.append(done), use_cache=False, threads=2)
    assert not frames or frames[-1] < 200
    assert _pool_threads() == 0


def test_one_thread_counts_the_ranges_one_after_another() -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 0, 20), ReferenceRange(path, 100, 120)]
    seen: list[tuple[int, int]] = []
    result = track_ranges(ranges, progress=lambda done, total, stage: seen.append((done, total)),
                          use_cache=False, threads=1)
    assert [len(r) for r in result] == [20, 20]
    assert [d for d, _ in seen] == list(range(1, 41))
    assert {t for _, t in seen} == {40}


def test_a_missing_file_is_reported_as_track_video_reports_it(tmp_path: Path) -> None:
    from mytalk.core.errors import MediaNotFoundError

    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 0, 50), ReferenceRange(tmp_path / "gone.mp4", 0, 50)]
    with pytest.raises(MediaNotFoundError):
        track_ranges(ranges, threads=2)
    assert _pool_threads() == 0


def test_an_error_in_the_calling_thread_stops_the_threads_at_once() -> None:
    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 0, 200), ReferenceRange(path, 0, 200)]
    seen: list[int] = []

    class Stop(Exception):
        pass

    def progress(done: int, total: int, stage: str) -> None:
        seen.append(done)
        if done >= 20:
            raise Stop

    counted: list[int] = []
    with pytest.raises(Stop):
        track_ranges(ranges, progress=progress, is_cancelled=lambda: bool(counted.append(1)), use_cache=False,
                     threads=2)
    assert _pool_threads() == 0
    assert len(counted) < 300, "the threads stopped within a few frames of the error, not at their ranges' ends"


@pytest.mark.parametrize("threads", [1, 2])
def test_a_file_the_caller_probed_is_not_probed_again_for_each_range(threads: int,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """A long clip's sample is five ranges of one file, and probing a ten-minute camera original reads an index
    of 15 000 frames (0.1-0.25 s each time): the ranges read it from what the caller probed. The meshes are the
    ones a fresh probe gives."""
    from mytalk.core.media import reader
    from mytalk.core.media.probe import probe

    path = media_path("video", CLIP)
    ranges = [ReferenceRange(path, 10, 22), ReferenceRange(path, 60, 72)]
    fresh = track_ranges(ranges, use_cache=False, threads=threads)
    probed: list[Path] = []

    def counted(target: Path) -> object:
        probed.append(Path(target))
        return probe(target)

    monkeypatch.setattr(reader, "probe", counted)
    known = track_ranges(ranges, use_cache=False, threads=threads, infos={path: probe(path)})
    assert probed == []
    for a, b in zip(fresh, known, strict=True):
        _same(a, b)
    track_ranges(ranges, use_cache=False, threads=threads)
    assert probed == [path, path]  # without `infos`, each range's reader probes the file itself


@pytest.mark.media
def test_an_actor_learned_from_ranges_of_one_file_probes_it_once(monkeypatch: pytest.MonkeyPatch) -> None:
    from mytalk.core.engines.classic import profile_builder
    from mytalk.core.media import reader
    from mytalk.core.media.probe import probe

    probed: list[Path] = []

    def counted(target: Path) -> object:
        probed.append(Path(target))
        return probe(target)

    monkeypatch.setattr(reader, "probe", counted)
    monkeypatch.setattr(profile_builder, "probe", counted)
    path = media_path("video", CLIP)
    profile_builder.build_profile([ReferenceRange(path, 0, 40), ReferenceRange(path, 100, 140)], use_cache=False)
    assert probed == [path]
